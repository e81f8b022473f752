"""A token without ``kid``, checked against a remote JWK Set while a fetch of that set is
under way: it is answered from the set at hand, as a token with a known ``kid`` is, not
after the fetch (which a slow issuer may hold for the whole ``timeout``).

The issuer is a real HTTP server on 127.0.0.1 whose answers this test holds back.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import threading
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from sealbox.exceptions import TokenError
from sealbox.jwt import AsyncRemoteJWKSet, RemoteJWKSet, TokenVerifier, VerificationKey

T0 = 1_700_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class HeldIssuer(http.server.ThreadingHTTPServer):
    """Answers the first GET at once; each later one only once ``release`` is set
    (``held`` is set when one is being held back)."""

    daemon_threads = True

    def __init__(self, body: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.body = body
        self.hits = 0
        self.held = threading.Event()
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/jwks.json"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: HeldIssuer

    def do_GET(self) -> None:
        srv = self.server
        srv.hits += 1
        if srv.hits > 1:
            srv.held.set()
            srv.release.wait(60)
        self.send_response(200)
        self.send_header("Content-Type", "application/jwk-set+json")
        self.send_header("Content-Length", str(len(srv.body)))
        self.end_headers()
        # A fetch held past its timeout has gone: nobody reads this answer.
        with contextlib.suppress(OSError):
            self.wfile.write(srv.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def signer() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def issuer(signer) -> Iterator[HeldIssuer]:
    public = VerificationKey.from_public_key(signer.public_key(), alg="ES256", kid="only")
    srv = HeldIssuer(json.dumps({"keys": [public.to_jwk()]}).encode())
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


def _kidless_token(signer: ec.EllipticCurvePrivateKey) -> str:
    claims = {"sub": "u", "exp": T0 + 60, "iat": T0}
    token = jwt.encode(claims, signer, algorithm="ES256", headers={"typ": "at+jwt"})
    assert "kid" not in jwt.get_unverified_header(token)
    return token


@pytest.mark.parametrize("expired", [False, True], ids=["fresh-set", "expired-set"])
def test_a_token_without_kid_is_verified_from_the_set_at_hand_while_a_fetch_is_held(
    issuer, signer, expired
):
    clock = Clock()
    source = RemoteJWKSet(
        issuer.url, allow_http=True, clock=clock, cache_ttl=60, min_refresh_interval=0
    )
    source.refresh()  # the one key the token fits is now at hand
    if expired:
        clock.now += 61
    verifier = TokenVerifier(source, require_kid=False)
    token = _kidless_token(signer)

    def fetch_again() -> None:
        # An unknown kid (fresh set) or any lookup (expired set) fetches the set again.
        with pytest.raises(TokenError):
            source.find("rotated-in")

    fetcher = threading.Thread(target=fetch_again, daemon=True)
    verified: list[str] = []
    done = threading.Event()

    def verify() -> None:
        verified.append(verifier.verify(token, now=T0)["sub"])
        done.set()

    checker = threading.Thread(target=verify, daemon=True)
    try:
        fetcher.start()
        assert issuer.held.wait(30)  # the second fetch is under way, and held
        checker.start()
        # The verification ends while the issuer still holds the fetch back.
        assert done.wait(30)
        assert verified == ["u"]
        # Not after the fetch ended (it would have, at its 5 s timeout).
        assert fetcher.is_alive(), "a token without kid waited for the fetch under way"
    finally:
        issuer.release.set()
        fetcher.join(30)
        checker.join(30)
        source.close()
    assert source.fetches == 2


def test_the_async_source_answers_a_token_without_kid_while_a_fetch_is_held(issuer, signer):
    token = _kidless_token(signer)

    async def scenario() -> None:
        source = AsyncRemoteJWKSet(
            issuer.url, allow_http=True, clock=Clock(), min_refresh_interval=0
        )
        async with source:
            await source.refresh()
            fetch = asyncio.create_task(source.ensure("rotated-in"))
            while not issuer.held.is_set():
                await asyncio.sleep(0.01)
            await source.ensure(None)  # answers at once: the set at hand fits
            verifier = TokenVerifier(source, require_kid=False)
            assert verifier.verify(token, now=T0)["sub"] == "u"
            assert not fetch.done()
            issuer.release.set()
            await fetch

    asyncio.run(asyncio.wait_for(scenario(), 60))
