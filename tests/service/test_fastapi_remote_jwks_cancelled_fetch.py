"""A ``RemoteJWKS`` fetch whose request was cancelled (a timeout around the request that
made it, say) is no fetch for the requests that waited on it: they fetch the key set
themselves, and a good token passes, rather than being refused as not valid for want of
a set. The issuer's JWKS server is a real HTTPS server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sealbox.integrations.fastapi import RemoteJWKS
from sealbox.jwt import SigningKeySet
from tests.unit.test_jwt_remote import JWKSServer, _Handler, https_jwks_server, make_tls, url

ISSUER = "https://issuer.test"
AUDIENCE = "orders-api"


@pytest.fixture
def jwks_server(tmp_path: Path) -> Iterator[tuple[JWKSServer, Path]]:
    _context, ca = make_tls(tmp_path)
    with https_jwks_server(tmp_path / "server.pem") as srv:
        yield srv, ca


def test_requests_that_waited_on_a_cancelled_first_fetch_fetch_the_set_themselves(
    jwks_server: tuple[JWKSServer, Path],
) -> None:
    srv, ca = jwks_server
    keys = SigningKeySet.generate("EdDSA")
    srv.publish(keys)
    entered, release = threading.Event(), threading.Event()
    original = _Handler.do_GET

    def stalled_get(handler: _Handler) -> None:
        entered.set()
        release.wait(30)
        original(handler)

    async def run() -> str:
        source = RemoteJWKS(url(srv), issuer=ISSUER, audience=AUDIENCE, ca=ca)
        token = keys.issue("alice", audience=AUDIENCE, issuer=ISSUER)
        first = asyncio.ensure_future(source.authenticate(token))
        assert await asyncio.to_thread(entered.wait, 10)
        waiting = asyncio.ensure_future(source.authenticate(token))
        # The second request is waiting for the first one's fetch when that is cancelled.
        while not source.keys._lock._waiters:
            await asyncio.sleep(0)
        first.cancel()
        release.set()
        try:
            return (await waiting).username
        finally:
            await source.aclose()

    _Handler.do_GET = stalled_get  # type: ignore[method-assign]
    try:
        assert asyncio.run(run()) == "alice"
    finally:
        release.set()
        _Handler.do_GET = original  # type: ignore[method-assign]
    assert srv.hits == 2
