"""Disabling a client, deleting it and rotating its secret with the tokens ended, when the
commit fails after the tokens were refused: the client stays as it was, its live token stays
refused (fail-closed), and the ``not_committed`` record that follows the change's record
says so (``…; the tokens of version N stay refused until they expire``), over HTTP
(``/clients…``) and from ``sealbox clients …``.

The commit fails for real: a deferred foreign key, which SQLite checks at ``COMMIT``, on a
table the test adds beside the service's; a row there names the client (its deletion
breaks the key), and a trigger adds one naming no client on each change of the client's
row. The service in a thread over real TLS on 127.0.0.1, real SQLite, the command line
beside it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from sealbox.accounts.audit import NOT_COMMITTED
from sealbox.accounts.revocation import WATCH_INTERVAL
from tests.service._oauth import (
    AuthServer,
    audit_records,
    auth_server,
    client_change_command,
    clients_admin,
    live,
    robot_with_token,
    send_client_change,
    shown_robot,
)

# Each change: its /clients request's path and body, its command line, its event.
CHANGES = {
    "disable": ("disable", "client_disable"),
    "delete": ("delete", "client_delete"),
    "rotate": ("rotate-secret", "client_rotate"),
}
GUARD = """
CREATE TABLE commit_guard (
    client INTEGER REFERENCES oauth_clients(id) DEFERRABLE INITIALLY DEFERRED
);
INSERT INTO commit_guard SELECT id FROM oauth_clients WHERE name = 'robot';
CREATE TRIGGER commit_guard_update AFTER UPDATE ON oauth_clients
BEGIN
    INSERT INTO commit_guard VALUES (-1);
END;
"""


def _failing_commits(authz: AuthServer) -> int:
    """Make every later commit of a change of client robot fail; its session version."""
    url = authz.svc.settings.resolved_database_url()
    with sqlite3.connect(url.removeprefix("sqlite+aiosqlite:///")) as db:
        db.executescript(GUARD)
        (version,) = db.execute(
            "SELECT session_version FROM oauth_clients WHERE name = 'robot'"
        ).fetchone()
    return int(version)


def _not_committed(version: int) -> tuple[str, str]:
    kept = f"the tokens of version {version} stay refused until they expire"
    return ("not_committed", f"{NOT_COMMITTED}; {kept}")


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_failed_commit_after_a_clients_tokens_were_refused_says_they_stay_refused(
    tmp_path: Path, change: str
) -> None:
    _command, event = CHANGES[change]
    with auth_server(tmp_path) as authz:
        settings = authz.svc.settings
        _robot, token = robot_with_token(authz)
        with authz.client() as c:
            admin = clients_admin(authz, c)
            before = c.get("/clients/robot", headers=admin).json()
            version = _failing_commits(authz)
            failed = send_client_change(c, change, admin)
            assert failed.status_code >= 500, failed.text
            # The client as it was (its secret still takes tokens), its live token refused.
            assert c.get("/clients/robot", headers=admin).json() == before
        assert not live(authz, token)
        records = audit_records(settings.data_dir / "audit.log", event)
    detail = "robot" if change == "delete" else "robot; tokens ended"
    assert records == [("success", detail), _not_committed(version)]


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_failed_commit_of_the_command_line_after_the_tokens_were_refused_says_so(
    tmp_path: Path, cli, change: str
) -> None:
    command, event = CHANGES[change]
    with auth_server(tmp_path) as authz:
        data = authz.svc.settings.data_dir
        robot, token = robot_with_token(authz)
        args = client_change_command(command, change, data)
        before = shown_robot(cli, data)
        version = _failing_commits(authz)
        r = cli(args)
        assert r.code == 1, r.out
        asyncio.run(asyncio.sleep(WATCH_INTERVAL))
        assert shown_robot(cli, data) == before
        assert not live(authz, token)
        records = audit_records(data / "audit.log", event)
    noted = "" if change == "delete" else "; tokens ended"
    assert records == [
        ("success", f"robot ({robot.client_id}); command line{noted}"),
        _not_committed(version),
    ]
