"""Failed client authentication is throttled per client address, as failed logins are, on
a count of its own.

The real service over HTTPS on 127.0.0.1, allowing 3 client authentications and 3 failed
logins per address (and 1000 per username, out of the way): the token endpoint's client
credentials grant, revocation and introspection all count a client authentication against
the address before the secret is checked, and past the limit answer 429 with
``Retry-After`` without checking it. Another loopback address (127.0.0.2) has its own count.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sealbox.accounts.clients import ClientInfo, ClientStore
from sealbox.tls.context import client_context
from tests.service._oauth import AuthServer, Registered, auth_server
from tests.service.conftest import login, private_shared_state

LIMIT = 3


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.redis])]
)
def authz(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuthServer]:
    """The service on SQLite (counts in memory), or on PostgreSQL and Redis (counts in Redis)."""
    limits = {
        "throttle_client_attempts": LIMIT,
        "throttle_address_attempts": LIMIT,
        "throttle_user_attempts": 1000,
    }
    if request.param == "sqlite":
        with auth_server(tmp_path, **limits) as server:
            yield server
        return
    with (
        private_shared_state("client_throttle") as shared,
        auth_server(tmp_path, **shared, **limits) as server,
    ):
        yield server


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The client ids whose secret the service checked (the service runs in this process)."""
    seen: list[str] = []
    original = ClientStore.authenticate_secret

    async def counted(self: ClientStore, client_id: str, secret: str) -> ClientInfo | None:
        seen.append(client_id)
        return await original(self, client_id, secret)

    monkeypatch.setattr(ClientStore, "authenticate_secret", counted)
    return seen


def wrong(client: Registered) -> Registered:
    return Registered(client.name, client.client_id, "sbs_not-the-secret")


def token(c: httpx2.Client, client: Registered) -> httpx2.Response:
    return c.post("/auth/token", data={"grant_type": "client_credentials"}, headers=client.basic)


def from_address(authz: AuthServer, address: str) -> httpx2.Client:
    """A client whose connections come from ``address`` (any 127.0.0.0/8 one is loopback)."""
    context = client_context(authz.svc.ca)
    return httpx2.Client(
        base_url=authz.svc.url,
        timeout=20,
        verify=context,
        transport=httpx2.HTTPTransport(verify=context, local_address=address),
    )


def audit_records(authz: AuthServer, event: str) -> list[dict[str, Any]]:
    lines = authz.svc.audit().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == event]


def assert_throttled(answer: httpx2.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert int(answer.headers["Retry-After"]) >= 1
    said = "too many attempts; try again later"
    assert answer.json() == {
        "error": "too_many_requests",
        "message": said,
        "error_description": said,
    }
    assert answer.headers["Cache-Control"] == "no-store"


def test_past_the_address_limit_a_right_secret_gets_429_without_being_checked(
    authz: AuthServer, checks: list[str]
) -> None:
    client = authz.register("reporting", "transit:admin")
    with authz.client() as c:
        for _ in range(LIMIT):
            assert token(c, wrong(client)).status_code == 401
        assert len(checks) == LIMIT
        throttled = token(c, client)
    assert_throttled(throttled)
    assert len(checks) == LIMIT  # the right secret was never hashed nor looked up
    outcomes = [r["outcome"] for r in audit_records(authz, "client_auth")]
    assert outcomes == ["failure"] * LIMIT + ["throttled"]
    assert audit_records(authz, "client_auth")[-1]["user"] == client.client_id
    assert audit_records(authz, "client_token") == []


def test_a_right_secret_does_not_wipe_the_wrong_guesses_at_another_client(
    authz: AuthServer,
) -> None:
    mine = authz.register("mine", "transit:admin")
    theirs = authz.register("theirs", "transit:admin")
    with authz.client() as c:
        # Each right secret gives back its own count only: the guesses add up.
        for _ in range(LIMIT):
            assert token(c, wrong(theirs)).status_code == 401
            assert token(c, mine).status_code in {200, 429}
        assert_throttled(token(c, theirs))
        assert_throttled(token(c, mine))


def test_right_secrets_do_not_use_up_the_address_limit(authz: AuthServer) -> None:
    client = authz.register("busy", "transit:admin")
    with authz.client() as c:
        for _ in range(4 * LIMIT):
            assert token(c, client).status_code == 200
        assert token(c, wrong(client)).status_code == 401


def test_revocation_and_introspection_count_against_the_same_address_limit(
    authz: AuthServer, checks: list[str]
) -> None:
    client = authz.register("resource-server", "transit:admin")
    with authz.client() as c:
        assert token(c, wrong(client)).status_code == 401
        data = {"token": "anything"}
        assert c.post("/auth/revoke", data=data, headers=wrong(client).basic).status_code == 401
        answer = c.post("/auth/introspect", data=data, headers=wrong(client).basic)
        assert answer.status_code == 401
        assert_throttled(c.post("/auth/introspect", data=data, headers=client.basic))
        assert_throttled(c.post("/auth/revoke", data=data, headers=client.basic))
        form = {"client_id": client.client_id, "client_secret": client.secret or "", **data}
        assert_throttled(c.post("/auth/introspect", data=form))
    assert len(checks) == LIMIT


def test_failed_logins_and_client_authentications_count_apart(authz: AuthServer) -> None:
    client = authz.register("apart", "transit:admin")
    with authz.client() as c:
        for i in range(LIMIT):
            assert login(c, f"nobody{i}", "wrong-password-4b1d").status_code == 400
        throttled_login = login(c, "nobody", "wrong-password-4b1d")
        assert throttled_login.status_code == 429
        # The address's failed logins leave its clients their own count, and the other way.
        assert token(c, client).status_code == 200
        for _ in range(LIMIT):
            assert token(c, wrong(client)).status_code == 401
        throttled = token(c, client)
    assert_throttled(throttled)
    # The same answer as a throttled login's, headers included.
    assert throttled.json() == throttled_login.json()
    for header in ("Cache-Control", "Pragma", "Content-Type"):
        assert throttled.headers[header] == throttled_login.headers[header]


def test_a_burst_of_right_secrets_past_the_sign_in_limit_is_served(tmp_path: Path) -> None:
    # The defaults: 20 failed logins per address, 100 client authentications. A resource
    # server introspecting 32 tokens at once authenticates 32 times at the same instant.
    with auth_server(tmp_path) as server:
        client = server.register("resource-server", "users:me")
        with server.client() as c:

            def introspect(_: int) -> int:
                form = {"token": "anything"}
                return c.post("/auth/introspect", data=form, headers=client.basic).status_code

            with ThreadPoolExecutor(max_workers=32) as pool:
                answers = list(pool.map(introspect, range(64)))
    assert answers == [200] * 64


def test_another_address_keeps_its_own_count(authz: AuthServer) -> None:
    client = authz.register("elsewhere", "transit:admin")
    with authz.client() as c:
        for _ in range(LIMIT):
            assert token(c, wrong(client)).status_code == 401
        assert_throttled(token(c, client))
    with from_address(authz, "127.0.0.2") as other:
        answer = token(other, client)
        assert answer.status_code == 200, answer.text
    addresses = {r["address"] for r in audit_records(authz, "client_token")}
    assert addresses == {"127.0.0.2"}
