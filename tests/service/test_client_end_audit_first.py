"""Disabling a client, deleting it and rotating its secret with the tokens ended, refused 503
``audit_unavailable`` (over HTTP) or ``did not …`` (``sealbox clients``), have changed
nothing: the record is written in the change's transaction before the tokens are ended,
so the client is as it was (enabled, there, its secret taking tokens) and its live access
token still passes. Sent again once the log takes records, the change is made and the
token refused. The audit log turns unwritable mid-test (``/dev/full``, which refuses
every write with ENOSPC); the service in a thread over real TLS on 127.0.0.1, real
SQLite, the command line beside it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sealbox.accounts.audit import AuditLog
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

FULL = Path("/dev/full")
pytestmark = pytest.mark.skipif(not FULL.is_char_device(), reason="needs /dev/full")

# Each change: its /clients request, its command line, its event, its record's detail and
# what the command line says when the record is refused.
CHANGES = {
    "disable": ("disable", "client_disable", "robot; tokens ended", "disable"),
    "delete": ("delete", "client_delete", "robot", "delete"),
    "rotate": ("rotate-secret", "client_rotate", "robot; tokens ended", "rotate the secret of"),
}


def _log_to(authz: AuthServer, path: Path) -> None:
    runtime: Any = authz.svc.server.config.app.state.runtime
    log = AuditLog(path)
    runtime.audit = log
    runtime.accounts.audit = log


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_ending_a_clients_tokens_refused_for_its_record_leaves_the_client_and_token(
    tmp_path: Path, change: str
) -> None:
    _command, event, detail, _said = CHANGES[change]
    later = tmp_path / "audit-later.log"
    with auth_server(tmp_path) as authz:
        robot, token = robot_with_token(authz)
        with authz.client() as c:
            admin = clients_admin(authz, c)
            before = c.get("/clients/robot", headers=admin).json()
            _log_to(authz, FULL)
            refused = send_client_change(c, change, admin)
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"] == "audit_unavailable"
            _log_to(authz, later)
            # Nothing changed: the client as it was, its secret and its live token taken.
            assert c.get("/clients/robot", headers=admin).json() == before
            assert live(authz, token)
            assert authz.client_token(robot).status_code == 200
            # Sent again, it is served, and the token is refused.
            served = send_client_change(c, change, admin)
            assert served.status_code in {200, 204}, served.text
        assert not live(authz, token)
        assert authz.client_token(robot).status_code == 401
    assert audit_records(later, event) == [("success", detail)]


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_the_command_line_refused_for_a_record_of_a_change_ending_tokens_changes_nothing(
    tmp_path: Path, cli, change: str
) -> None:
    command, event, _detail, said = CHANGES[change]
    with auth_server(tmp_path) as authz:
        data = authz.svc.settings.data_dir
        robot, token = robot_with_token(authz)
        args = client_change_command(command, change, data)
        before = shown_robot(cli, data)
        r = cli(args, env={"SEALBOX_AUDIT_LOG": str(FULL)})
        assert r.code == 1
        assert r.out == ""
        assert r.stderr.startswith(
            f"sealbox: error: did not {said} client 'robot': the audit log cannot be written "
            "(no space left on device)\n"
        )
        asyncio.run(asyncio.sleep(WATCH_INTERVAL))
        # Nothing changed: the client as it was, its secret and its live token taken.
        assert shown_robot(cli, data) == before
        assert live(authz, token)
        assert authz.client_token(robot).status_code == 200
        again = cli(args)
        assert again.code == 0, again.stderr
        asyncio.run(asyncio.sleep(WATCH_INTERVAL))
        assert not live(authz, token)
        assert authz.client_token(robot).status_code == 401
        records = audit_records(data / "audit.log", event)
    noted = "" if change == "delete" else "; tokens ended"
    assert records == [("success", f"robot ({robot.client_id}); command line{noted}")]
