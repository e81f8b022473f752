"""The blocking JWKS fetcher against an issuer that sends its status line and headers a
byte at a time: ``timeout`` bounds the whole fetch, not each read.

A raw socket server on 127.0.0.1 (tests/_slow_server.py), over plain http and over TLS
(the test CA of test_jwt_remote); the client is the real httpx2 client RemoteJWKSet makes.
"""

from __future__ import annotations

import json
import logging

import pytest

from sealbox.exceptions import TokenError
from sealbox.jwt import RemoteJWKSet, SigningKeySet
from tests._slow_server import RawServer, Send
from tests.unit.test_jwt_remote import Clock, make_tls

KEYS = SigningKeySet.generate()
BODY = json.dumps(KEYS.public_jwks()).encode()


def _trickled_head(send: Send) -> bool:
    # A byte every 50 ms: each read gets one long before the 0.5 s timeout (5 s in all),
    # then the connection is closed.
    send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 100, 0.05)
    return False


def _answer(send: Send) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    send(head % len(BODY) + BODY)


@pytest.fixture(params=["http", "https"])
def serve(request, tmp_path):
    """``serve(answer)``: a server and the fetcher's arguments for it."""
    tls = make_tls(tmp_path) if request.param == "https" else None

    def start(answer, **server):
        srv = RawServer(answer, tls[0] if tls else None, **server)
        kwargs = {"ca": tls[1]} if tls else {"allow_http": True}
        return srv, kwargs

    return start


def test_a_jwks_server_trickling_its_headers_cannot_hold_a_fetch_past_its_timeout(serve):
    srv, kwargs = serve(_trickled_head)
    with (
        srv,
        RemoteJWKSet(f"{srv.url}/jwks", timeout=0.5, clock=Clock(), **kwargs) as source,
        pytest.raises(TokenError, match="timed out") as info,
    ):
        source.find("k")
        # The fetch ended the connection, rather than running out the server's 5 s.
        assert srv.client_left.wait(5)
    assert info.value.code == "jwks_unreachable"


def test_a_fetch_after_a_good_one_is_bounded_too(serve, caplog):
    # The first answer could keep its connection open; the second trickles: the fetcher
    # must still be able to end it (a connection of its own for each fetch).
    def answer(send: Send) -> bool:
        if len(srv.requests) == 1:
            _answer(send)
            return True
        return _trickled_head(send)

    clock = Clock()
    srv, kwargs = serve(answer, keep_alive=True)
    with srv, RemoteJWKSet(f"{srv.url}/jwks", timeout=0.5, clock=clock, **kwargs) as source:
        assert source.find(KEYS.primary.kid).kid == KEYS.primary.kid
        clock.now += 10_000
        with caplog.at_level(logging.WARNING, logger="sealbox.jwt"):
            source.refresh()  # fails, and keeps the set it has
        assert srv.client_left.wait(5)
    assert len(srv.requests) == 2
    assert "failed: timed out" in caplog.text
