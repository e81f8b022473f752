"""The Python administration API called inside a process that serves the data folder's
SQLite database, then ``sealbox users`` beside it: both keep seeing one database.

A process that opened the database file and closed it again outside SQLite used to drop
SQLite's locks of the whole process (POSIX locks belong to the process, and any close of
the file releases them): the next command then took itself for the database's last user,
folded the WAL into the file and deleted it under the service, which went on reading
and writing the deleted one (disabled accounts kept working; its own writes were lost).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sealbox import service
from tests.conftest import run_sealbox
from tests.service._oauth import AuthServer, auth_server
from tests.service.conftest import bearer, login, register


def _register_a_client(server: AuthServer) -> None:
    server.register("reporter", "users:me")


def _list_accounts(server: AuthServer) -> None:
    service.administer_accounts(server.svc.settings, lambda admin: admin.list_accounts())


@pytest.mark.parametrize("in_process", [_register_a_client, _list_accounts])
def test_users_disable_beside_a_service_that_administered_in_process_ends_its_sessions(
    tmp_path: Path, in_process: Callable[[AuthServer], None]
) -> None:
    with auth_server(tmp_path) as server:
        data = server.svc.settings.data_dir
        # Made by a command, not in this process: only the call under test runs here.
        create = ["clients", "create", "introspector", "--scope", "tokens:introspect", "--json"]
        made = run_sealbox([*create, "--data-dir", data])
        assert made.returncode == 0, made.stderr.decode()
        document = json.loads(made.stdout)
        pair = f"{document['client_id']}:{document['client_secret']}".encode()
        introspector = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        in_process(server)
        with server.client() as c:
            assert register(c, "bob").status_code == 201
            tokens = login(c, "bob").json()
        r = run_sealbox(["users", "disable", "bob", "--data-dir", data])
        assert r.returncode == 0, r.stderr.decode()
        with server.client() as c:
            assert c.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
            seen = c.post(
                "/auth/introspect", data={"token": tokens["refresh_token"]}, headers=introspector
            )
            assert seen.json() == {"active": False}
            refreshed = c.post(
                "/auth/token",
                data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            )
            assert refreshed.status_code == 400
            # What the service writes afterwards reaches the next command too.
            assert register(c, "carol").status_code == 201
        listed = run_sealbox(["users", "list", "--json", "--data-dir", data])
        assert listed.returncode == 0, listed.stderr.decode()
        states = {a["name"]: a["disabled"] for a in json.loads(listed.stdout)}
        assert states == {"bob": True, "carol": False}
