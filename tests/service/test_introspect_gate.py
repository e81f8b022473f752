"""A refused introspection answers the same whether the token is genuine or forged, also
when its audit record cannot be written: a client without ``tokens:introspect`` learns
nothing of which tokens sealbox issued, not even from a ``503``. Over real HTTPS, with
the audit log turned into ``/dev/full`` (a full disk) while the service runs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service._oauth import AuthServer, Registered, access_token, auth_server

FORGED = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


@pytest.fixture
def authz(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path, audit_log=tmp_path / "audit.log") as server:
        yield server


def _introspect(authz: AuthServer, client: Registered, token: str) -> tuple[int, object]:
    with authz.client() as c:
        answer = c.post("/auth/introspect", data={"token": token}, headers=client.basic)
    return answer.status_code, answer.json()


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_forged_token_is_refused_and_audited_as_another_clients_token_is(
    authz: AuthServer, tmp_path: Path
) -> None:
    owner = authz.register("owner-g", "users:me")
    other = authz.register("other-g", "users:me")
    genuine = access_token(authz, owner)
    assert _introspect(authz, other, genuine) == (200, {"active": False})
    assert _introspect(authz, other, FORGED) == (200, {"active": False})
    assert _introspect(authz, other, "sbr_" + "A" * 43) == (200, {"active": False})
    refused = [r for r in _records(tmp_path / "audit.log") if r["event"] == "introspect"]
    assert [(r["outcome"], r["user"]) for r in refused] == [("refused", other.client_id)] * 3
    assert all(genuine not in json.dumps(r) for r in refused)


def test_an_unwritable_audit_log_answers_genuine_and_forged_tokens_alike(
    authz: AuthServer, tmp_path: Path
) -> None:
    owner = authz.register("owner-h", "users:me")
    other = authz.register("other-h", "users:me")
    genuine = access_token(authz, owner)
    log = tmp_path / "audit.log"
    log.rename(tmp_path / "audit.log.1")
    os.symlink("/dev/full", log)  # reopened at the next record: every write fails
    forged = _introspect(authz, other, FORGED)
    real = _introspect(authz, other, genuine)
    unknown_refresh = _introspect(authz, other, "sbr_" + "B" * 43)
    assert forged[0] == 503
    assert real == forged == unknown_refresh
    # Its own token is no secret to the caller: answered without the audit log.
    assert _introspect(authz, owner, genuine)[1]["active"] is True  # type: ignore[index]
