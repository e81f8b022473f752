"""The bearer dependency's 503 ``keys_unavailable`` tells the client to come back when the
remote key set may be fetched again (the source's ``retry_after``, in whole seconds, 1 to
300), not a fixed 30 s; 30 s when the source does not say. The issuer's JWKS server is a
real HTTPS server on 127.0.0.1 that fails or goes away; the app is served by uvicorn over
real TLS there; the source's clock is injected."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.

from pathlib import Path

import pytest

from sealbox.exceptions import TokenError
from sealbox.integrations.fastapi import RemoteJWKS
from sealbox.integrations.fastapi.bearer import token_refused
from sealbox.jwt import SigningKeySet
from tests.service.conftest import bearer
from tests.service.test_jwks_outage_bearer import (
    AUDIENCE,
    ISSUER,
    UNAVAILABLE,
    app_of,
    jwks_server,
    tls,
)
from tests.unit.test_jwt_remote import Clock, JWKSServer, url

__all__ = ["jwks_server", "tls"]  # the fixtures, used by name


def _go_down(srv: JWKSServer, how: str) -> None:
    if how == "5xx":
        srv.status = 503
    else:  # nothing listens on the port any more
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("how", ["5xx", "closed"])
def test_keys_unavailable_retry_after_counts_down_to_the_next_fetch(
    jwks_server: JWKSServer, tls: tuple[Path, Path], how: str
) -> None:
    keys = SigningKeySet.generate("EdDSA")
    jwks_server.publish(keys)
    clock = Clock()
    source = RemoteJWKS(
        url(jwks_server),
        issuer=ISSUER,
        audience=AUDIENCE,
        ca=tls[0],
        clock=clock,
        min_refresh_interval=45,
    )
    old = keys.issue("alice", audience=AUDIENCE, issuer=ISSUER)
    with app_of(source, tls) as served, served.client() as c:
        assert c.get("/me", headers=bearer(old)).status_code == 200
        # A key rotated in while the issuer is down: its tokens cannot be checked.
        keys.rotate()
        new = keys.issue("bob", audience=AUDIENCE, issuer=ISSUER)
        _go_down(jwks_server, how)
        clock.now += 46
        waits = []
        for step in (0, 12.5, 32):  # the failed fetch; then 12.5 s, 44.5 s after it
            clock.now += step
            answer = c.get("/me", headers=bearer(new))
            assert answer.status_code == 503, answer.text
            assert answer.json() == UNAVAILABLE
            waits.append(answer.headers["retry-after"])
        assert c.get("/me", headers=bearer(old)).status_code == 200
    # Rounded up: 0.5 s left is 1 s, never 0 (a client told 0 would come straight back).
    assert waits == ["45", "33", "1"]
    assert source.keys.fetches == 2


def test_keys_unavailable_retry_after_is_at_most_300_seconds(
    jwks_server: JWKSServer, tls: tuple[Path, Path]
) -> None:
    keys = SigningKeySet.generate("EdDSA")
    jwks_server.publish(keys)
    clock = Clock()
    hour = 3600
    source = RemoteJWKS(
        url(jwks_server),
        issuer=ISSUER,
        audience=AUDIENCE,
        ca=tls[0],
        clock=clock,
        cache_ttl=hour,
        min_refresh_interval=hour,
    )
    with app_of(source, tls) as served, served.client() as c:
        alice = keys.issue("alice", audience=AUDIENCE, issuer=ISSUER)
        assert c.get("/me", headers=bearer(alice)).status_code == 200
        keys.rotate()
        jwks_server.status = 503
        clock.now += hour + 1
        answer = c.get("/me", headers=bearer(keys.issue("bob", audience=AUDIENCE, issuer=ISSUER)))
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "300"


def test_keys_unavailable_without_a_set_fetched_yet_says_30_seconds(
    jwks_server: JWKSServer, tls: tuple[Path, Path]
) -> None:
    # No set to fall back on: the source's error says no retry_after.
    jwks_server.status = 503
    keys = SigningKeySet.generate("EdDSA")
    source = RemoteJWKS(
        url(jwks_server),
        issuer=ISSUER,
        audience=AUDIENCE,
        ca=tls[0],
        clock=Clock(),
        min_refresh_interval=45,
    )
    token = keys.issue("alice", audience=AUDIENCE, issuer=ISSUER)
    with app_of(source, tls) as served, served.client() as c:
        answers = [c.get("/me", headers=bearer(token)) for _ in range(2)]
    assert [a.status_code for a in answers] == [503, 503]
    assert [a.headers["retry-after"] for a in answers] == ["30", "30"]


@pytest.mark.parametrize(
    ("said", "told"),
    [("0", "1"), ("2", "2"), ("299", "299"), ("86400", "300"), ("soon", "30"), ("nan", "30")],
)
def test_keys_unavailable_retry_after_from_a_sources_fact(said: str, told: str) -> None:
    # A source of the app's own may say anything: a number is bounded, the rest ignored.
    refused = TokenError("down", code="jwks_unreachable", facts={"retry_after": said})
    answer = token_refused(refused)
    assert (answer.status, answer.code) == (503, "keys_unavailable")
    assert answer.headers == {"Retry-After": told}
