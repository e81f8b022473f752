"""sealbox.jwt.remote: a JWK Set fetched from a real HTTPS server on 127.0.0.1.

The server is Python's http.server behind a TLS context made from a test CA; the
client is the real httpx2 client RemoteJWKSet builds. The clock is injected.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import inspect
import ipaddress
import json
import logging
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sealbox.exceptions import ConfigError, PinMismatchError, TokenError
from sealbox.jwt import RemoteJWKSet, SigningKeySet, TokenVerifier
from sealbox.jwt.remote import RemoteJWKSet as RemoteJWKSetDirect
from sealbox.tls import spki_pin

T0 = 1_700_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_tls(tmp: Path) -> tuple[ssl.SSLContext, Path]:
    """A CA and a server certificate for 127.0.0.1; returns the server context and CA file."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("sealbox test CA"))
        .issuer_name(_name("sealbox test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = tmp / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = tmp / "server.pem"
    chain.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return context, ca_file


class JWKSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.body = b'{"keys": []}'
        self.status = 200
        self.cache_control: str | None = None
        self.location: str | None = None
        self.content_encoding: str | None = None
        self.accept_encoding: list[str | None] = []
        self.hits = 0

    def publish(self, keys: SigningKeySet) -> None:
        self.body = json.dumps(keys.public_jwks()).encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: JWKSServer

    def do_GET(self) -> None:
        srv = self.server
        srv.hits += 1
        srv.accept_encoding.append(self.headers.get("Accept-Encoding"))
        self.send_response(srv.status)
        self.send_header("Content-Type", "application/jwk-set+json")
        self.send_header("Content-Length", str(len(srv.body)))
        if srv.cache_control:
            self.send_header("Cache-Control", srv.cache_control)
        if srv.location:
            self.send_header("Location", srv.location)
        if srv.content_encoding:
            self.send_header("Content-Encoding", srv.content_encoding)
        self.end_headers()
        self.wfile.write(srv.body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def tls(tmp_path) -> tuple[ssl.SSLContext, Path]:
    return make_tls(tmp_path)


@contextlib.contextmanager
def serving(context: ssl.SSLContext | None = None) -> Iterator[JWKSServer]:
    """A :class:`JWKSServer`, over TLS with ``context`` (else plain http), served in a
    thread for the block."""
    srv = JWKSServer()
    if context is not None:
        srv.socket = context.wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def https_jwks_server(
    chain: Path, context: ssl.SSLContext | None = None
) -> contextlib.AbstractContextManager[JWKSServer]:
    """:func:`serving` over TLS with the certificate chain and key in ``chain``
    (``context``: a server context set up otherwise)."""
    context = context or ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return serving(context)


@pytest.fixture
def server(tls) -> Iterator[JWKSServer]:
    with serving(tls[0]) as srv:
        yield srv


@pytest.fixture
def plain_server() -> Iterator[JWKSServer]:
    with serving() as srv:
        yield srv


def url(srv: JWKSServer, scheme: str = "https") -> str:
    return f"{scheme}://127.0.0.1:{srv.server_address[1]}/.well-known/jwks.json"


@pytest.fixture
def client_context(tls) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls[1]))


def remote(srv, client_context, clock, **kwargs) -> RemoteJWKSet:
    return RemoteJWKSet(url(srv), ssl_context=client_context, clock=clock, **kwargs)


def test_lazy_export():
    assert RemoteJWKSet is RemoteJWKSetDirect


def test_verify_over_https_and_cache(server, client_context):
    keys = SigningKeySet.generate()
    server.publish(keys)
    clock = Clock()
    with remote(server, client_context, clock) as source:
        verifier = TokenVerifier(source, audience="api")
        for _ in range(3):
            assert verifier.verify(keys.issue("u", audience="api", now=T0), now=T0)["sub"] == "u"
        assert server.hits == 1
        assert source.fetches == 1
        clock.now += 299
        verifier.verify(keys.issue("u", audience="api", now=T0), now=T0)
        assert server.hits == 1
        clock.now += 1  # cache_ttl (300 s) reached
        verifier.verify(keys.issue("u", audience="api", now=T0), now=T0)
        assert server.hits == 2
        assert repr(source) == f"RemoteJWKSet(url={url(server)!r})"


def test_rotation_is_picked_up_on_an_unknown_kid(server, client_context):
    keys = SigningKeySet.generate()
    server.publish(keys)
    clock = Clock()
    source = remote(server, client_context, clock, min_refresh_interval=30)
    verifier = TokenVerifier(source)
    verifier.verify(keys.issue("u", now=T0), now=T0)
    keys.rotate()
    server.publish(keys)
    new = keys.issue("u", now=T0)
    # Within min_refresh_interval of the last fetch: not fetched again.
    clock.now += 10
    with pytest.raises(TokenError, match="no key with id"):
        verifier.verify(new, now=T0)
    assert server.hits == 1
    clock.now += 20
    assert verifier.verify(new, now=T0)["sub"] == "u"
    assert server.hits == 2


def test_unknown_kids_cannot_hammer_the_issuer(server, client_context):
    keys = SigningKeySet.generate()
    server.publish(keys)
    clock = Clock()
    source = remote(server, client_context, clock, min_refresh_interval=30)
    source.refresh()
    clock.now += 31
    for i in range(20):
        with pytest.raises(TokenError, match="no key with id"):
            source.find(f"made-up-{i}")
    assert server.hits == 2  # one refresh for the first unknown kid, then none


def test_an_unknown_kid_in_an_expired_set_is_fetched_once_per_lookup(server, client_context):
    # Without a rate limit too: the set the expiry fetched is the issuer's latest already.
    server.publish(SigningKeySet.generate())
    clock = Clock()
    source = remote(server, client_context, clock, cache_ttl=60, min_refresh_interval=0)
    source.refresh()
    clock.now += 60  # expired
    with pytest.raises(TokenError, match="no key with id"):
        source.find("made-up")
    assert server.hits == 2
    assert source.fetches == 2


def test_cache_control_max_age_is_honoured_within_bounds(server, client_context):
    server.publish(SigningKeySet.generate())
    clock = Clock()
    source = remote(server, client_context, clock, max_ttl=3600, min_refresh_interval=30)
    server.cache_control = "public, max-age=60"
    source.refresh()
    clock.now += 59
    source.find(None)
    assert server.hits == 1
    clock.now += 1
    source.find(None)
    assert server.hits == 2
    server.cache_control = "max-age=999999"
    clock.now += 60
    source.find(None)
    assert server.hits == 3
    clock.now += 3599
    source.find(None)
    assert server.hits == 3
    clock.now += 1
    source.find(None)
    assert server.hits == 4
    server.cache_control = "no-store"
    clock.now += 3600
    source.find(None)
    clock.now += 30
    source.find(None)
    assert server.hits == 6


def test_stale_keys_are_used_while_the_issuer_is_down(server, client_context, caplog):
    keys = SigningKeySet.generate()
    server.publish(keys)
    clock = Clock()
    source = remote(server, client_context, clock, max_stale=3600)
    verifier = TokenVerifier(source)
    verifier.verify(keys.issue("u", now=T0), now=T0)
    server.status = 503
    clock.now += 301
    with caplog.at_level(logging.WARNING, logger="sealbox.jwt"):
        assert verifier.verify(keys.issue("u", now=T0), now=T0)["sub"] == "u"
    assert "keeping the cached key set" in caplog.text
    assert "HTTP status 503" in caplog.text
    clock.now += 3600
    with pytest.raises(TokenError, match=r"cannot fetch the key set.*HTTP status 503") as exc:
        verifier.verify(keys.issue("u", now=T0), now=T0)
    assert exc.value.hint is not None


def test_failed_fetches_are_rate_limited(server, client_context):
    server.status = 500
    clock = Clock()
    source = remote(server, client_context, clock)
    for _ in range(3):
        with pytest.raises(TokenError, match="cannot fetch"):
            source.find("k")
    # No keys to fall back on: the failure answers each call until min_refresh_interval.
    assert server.hits == 1
    server.status = 200
    server.publish(SigningKeySet.generate())
    clock.now += 30
    assert source.find(None) is not None
    assert server.hits == 2


def test_untrusted_certificate_is_refused(server):
    source = RemoteJWKSet(url(server), clock=Clock())  # the system trust store
    with pytest.raises(TokenError, match=r"cannot fetch the key set.*not trusted") as exc:
        source.find("k")
    assert exc.value.code == "jwks_unverified"
    assert exc.value.facts == {"url": url(server)}


def test_a_certificate_for_another_host_says_so_not_that_the_ca_is_untrusted(server, tls):
    # The CA is given and trusted; only the name differs (the certificate is for 127.0.0.1).
    where = url(server).replace("127.0.0.1", "localhost")
    with (
        RemoteJWKSet(where, ca=tls[1], clock=Clock()) as source,
        pytest.raises(TokenError) as exc,
    ):
        source.find("k")
    assert "not valid for 'localhost'" in str(exc.value)
    assert "not trusted" not in str(exc.value)
    assert "CA" not in (exc.value.hint or "")
    assert exc.value.code == "jwks_unverified"
    assert server.hits == 0


def test_an_untrusted_certificate_names_the_openssl_reason(server):
    with RemoteJWKSet(url(server), clock=Clock()) as source, pytest.raises(TokenError) as exc:
        source.find("k")
    assert str(exc.value).endswith(
        "its certificate is not trusted: unable to get local issuer certificate"
    )


def test_a_failed_tls_handshake_names_the_alert_not_the_exception_class(tls):
    # A TLS 1.2 server with only a CBC suite, which RFC 9325 has the client refuse.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-ECDSA-AES128-SHA")
    with (
        https_jwks_server(tls[1].parent / "server.pem", context) as srv,
        RemoteJWKSet(url(srv), ca=tls[1], clock=Clock()) as source,
        pytest.raises(TokenError) as exc,
    ):
        source.find("k")
    assert "the TLS handshake failed: " in str(exc.value)
    assert "ConnectError" not in str(exc.value)
    assert exc.value.code == "jwks_unreachable"


def test_the_default_trust_store_context_has_sealboxs_tls_policy(tls, monkeypatch):
    # Without ca=/pins=, the system's trust store (here: SSL_CERT_FILE, which OpenSSL
    # reads for it) is used with the same policy as every sealbox client context: a
    # CBC suite (RFC 9325 section 4.2) is refused as it is with ca=.
    monkeypatch.setenv("SSL_CERT_FILE", str(tls[1]))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-ECDSA-AES128-SHA256")
    with https_jwks_server(tls[1].parent / "server.pem", context) as srv:
        srv.publish(SigningKeySet.generate())
        with (
            RemoteJWKSet(url(srv), clock=Clock()) as source,
            pytest.raises(TokenError, match="the TLS handshake failed"),
        ):
            source.refresh()
    assert srv.hits == 0


def _server_pin(tls) -> str:
    """The pin of the server's key (server.pem holds its certificate first)."""
    return spki_pin(x509.load_pem_x509_certificate((tls[1].parent / "server.pem").read_bytes()))


def test_a_pin_that_matches_the_issuers_key_is_accepted(server, tls):
    keys = SigningKeySet.generate()
    server.publish(keys)
    pin = _server_pin(tls)
    with RemoteJWKSet(url(server), ca=tls[1], pins=[pin], clock=Clock()) as source:
        verifier = TokenVerifier(source, audience="api")
        assert verifier.verify(keys.issue("u", audience="api", now=T0), now=T0)["sub"] == "u"


def test_a_pin_that_does_not_match_refuses_the_issuer_before_any_request(server, tls):
    server.publish(SigningKeySet.generate())
    other = spki_pin(ec.generate_private_key(ec.SECP256R1()).public_key())
    with (
        RemoteJWKSet(url(server), ca=tls[1], pins=other, clock=Clock()) as source,
        pytest.raises(PinMismatchError, match="matches no configured pin"),
    ):
        source.find("k")
    assert server.hits == 0


def test_a_pin_narrows_the_trust_store_and_never_widens_it(server, tls):
    pin = _server_pin(tls)
    with (
        RemoteJWKSet(url(server), pins=[pin], clock=Clock()) as source,
        pytest.raises(TokenError, match="not trusted"),
    ):
        source.find("k")


def test_a_ca_file_is_trusted_instead_of_the_system_store(server, tls):
    keys = SigningKeySet.generate()
    server.publish(keys)
    with RemoteJWKSet(url(server), ca=tls[1], clock=Clock()) as source:
        verifier = TokenVerifier(source, audience="api")
        assert verifier.verify(keys.issue("u", audience="api", now=T0), now=T0)["sub"] == "u"


def test_ca_excludes_ssl_context_and_client(tls, client_context):
    with pytest.raises(ConfigError, match="not more than one"):
        RemoteJWKSet("https://127.0.0.1/jwks", ca=tls[1], ssl_context=client_context)
    with httpx2.Client() as client, pytest.raises(ConfigError, match="not more than one"):
        RemoteJWKSet("https://127.0.0.1/jwks", ca=tls[1], client=client)


def test_an_ssl_context_beside_a_client_is_refused_not_ignored(client_context):
    # The client's own TLS settings would apply: the context would be silently dropped.
    with httpx2.Client() as client, pytest.raises(ConfigError, match="not more than one"):
        RemoteJWKSet("https://127.0.0.1/jwks", ssl_context=client_context, client=client)


def test_redirects_are_not_followed(server, client_context):
    server.status = 302
    server.location = "https://127.0.0.1:1/elsewhere"
    with pytest.raises(TokenError, match="HTTP status 302"):
        remote(server, client_context, Clock()).find("k")


def test_oversized_and_invalid_key_sets(server, client_context):
    server.body = b'{"keys": [' + b" " * (600 * 1024) + b"]}"
    with pytest.raises(TokenError, match="larger than"):
        remote(server, client_context, Clock()).find("k")
    server.body = b"<html>"
    with pytest.raises(TokenError, match="not valid JSON"):
        remote(server, client_context, Clock()).find("k")
    server.body = json.dumps({"keys": [{"kty": "oct", "k": "a" * 43}]}).encode()
    with pytest.raises(TokenError, match="symmetric"):
        remote(server, client_context, Clock()).find("k")


def test_a_key_set_fetched_but_refused_says_so_in_its_hint(server, client_context):
    # The hint was "check the issuer's JWKS URL and that it is reachable", of a server
    # that answered with a set sealbox refuses (here: a member given twice).
    server.body = b'{"keys": [], "keys": []}'
    with pytest.raises(TokenError) as exc:
        remote(server, client_context, Clock()).find("k")
    assert str(exc.value).endswith(": the JWK Set has a duplicate member 'keys'")
    assert exc.value.hint == (
        "the issuer's server answered with a key set sealbox refuses: the issuer must correct it"
    )
    # Still no keys to check tokens with, as for an unreachable server (a service's 503).
    assert exc.value.code == "jwks_unreachable"


def test_a_compressed_key_set_is_refused_not_inflated(server, client_context):
    import gzip

    # 64 MiB of JSON whitespace in 64 KiB of gzip: inflated, one chunk of it would take
    # megabytes before the size limit saw it.
    server.body = gzip.compress(b'{"keys": [' + b" " * (64 << 20) + b"]}", compresslevel=9)
    server.content_encoding = "gzip"
    with pytest.raises(TokenError, match="came compressed"):
        remote(server, client_context, Clock()).find("k")
    assert server.accept_encoding == ["identity"]
    # The same set uncompressed, or marked identity, is read.
    keys = SigningKeySet.generate()
    server.publish(keys)
    server.content_encoding = "identity"
    verifier = TokenVerifier(remote(server, client_context, Clock()), audience="api")
    assert verifier.verify(keys.issue("u", audience="api", now=T0), now=T0)["sub"] == "u"


def test_http_only_when_allowed(plain_server):
    keys = SigningKeySet.generate()
    plain_server.publish(keys)
    with pytest.raises(ConfigError, match="must be https, not http") as exc:
        RemoteJWKSet(url(plain_server, "http"))
    assert exc.value.hint
    source = RemoteJWKSet(url(plain_server, "http"), allow_http=True)
    assert source.find(keys.primary.kid).kid == keys.primary.kid
    source.close()


def test_a_caller_supplied_client(server, client_context):
    keys = SigningKeySet.generate()
    server.publish(keys)
    with httpx2.Client(verify=client_context) as client:
        source = RemoteJWKSet(url(server), client=client)
        assert source.find(keys.primary.kid).kid == keys.primary.kid
        source.close()  # not ours: left open
        assert not client.is_closed


def test_timeout(tmp_path):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        source = RemoteJWKSet(
            f"https://127.0.0.1:{listener.getsockname()[1]}/jwks", timeout=0.3, clock=Clock()
        )
        with pytest.raises(TokenError, match="timed out"):
            source.find("k")
    finally:
        listener.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_refresh_interval": 400},
        {"cache_ttl": 100_000},
        {"max_stale": -1},
        # NaN compares false with everything: it passed every range check.
        {"max_stale": float("nan")},
        {"cache_ttl": float("nan")},
        {"timeout": 0},
        {"timeout": -1},
        {"timeout": float("nan")},
        {"timeout": float("inf")},
    ],
)
def test_configuration_errors(kwargs):
    with pytest.raises(ConfigError):
        RemoteJWKSet("https://127.0.0.1/jwks", **kwargs)


def test_credentials_in_the_url_are_not_logged(server, client_context, caplog):
    server.publish(SigningKeySet.generate())
    port = server.server_address[1]
    clock = Clock()
    source = RemoteJWKSet(
        f"https://user:hunter2@127.0.0.1:{port}/jwks?token=abc",
        ssl_context=client_context,
        clock=clock,
    )
    source.refresh()
    server.status = 500
    clock.now += 1000
    with caplog.at_level(logging.WARNING, logger="sealbox.jwt"):
        source.find(None)
    assert "hunter2" not in caplog.text
    assert "token=abc" not in caplog.text
    assert "hunter2" not in repr(source)


def test_a_slow_fetch_does_not_hold_up_lookups_of_known_keys(server, client_context):
    keys = SigningKeySet.generate()
    server.publish(keys)
    clock = Clock()
    source = remote(server, client_context, clock, min_refresh_interval=0)
    known = keys.primary.kid
    source.refresh()
    release, entered = threading.Event(), threading.Event()

    def unknown_kid() -> None:
        with pytest.raises(TokenError):
            source.find("new")

    original = _stall_gets(release, entered)
    stalled = threading.Thread(target=unknown_kid)
    try:
        # One thread asks for an unknown kid: it fetches, and the server stalls.
        stalled.start()
        assert entered.wait(10)
        # Meanwhile a known key is found without waiting for that fetch.
        found = []
        lookup = threading.Thread(target=lambda: found.append(source.find(known)))
        lookup.start()
        lookup.join(timeout=4)
        assert found
        assert found[0].kid == known
        assert stalled.is_alive()
    finally:
        release.set()
        _Handler.do_GET = original
        stalled.join(timeout=10)


def _stall_gets(release: threading.Event, entered: threading.Event):
    """Make the test server wait for ``release`` before answering each GET."""
    original = _Handler.do_GET

    def slow_get(handler) -> None:
        entered.set()
        release.wait(30)
        original(handler)

    _Handler.do_GET = slow_get
    return original


def test_threads_waiting_on_a_failing_fetch_share_its_failure_instead_of_each_fetching(
    server, client_context
):
    server.status = 503  # the issuer is down, and there is no set to fall back on
    source = remote(server, client_context, Clock())
    release, entered = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def lookup() -> None:
        try:
            source.find("k")
        except BaseException as exc:  # noqa: BLE001 - collected and checked below
            errors.append(exc)

    original = _stall_gets(release, entered)
    threads = [threading.Thread(target=lookup) for _ in range(8)]
    try:
        threads[0].start()
        assert entered.wait(10)  # the first thread's fetch is under way
        for thread in threads[1:]:
            thread.start()
        # The others now wait for it: each has taken note of the fetches ended so far
        # and waits for the lock the fetch holds (a thread late to that point would find
        # the fetch ended and fetch on its own).
        _wait_until_waiting_for_the_lock(threads[1:])
    finally:
        release.set()
        _Handler.do_GET = original
        for thread in threads:
            thread.join(timeout=10)
    assert len(errors) == 8
    assert {type(e) for e in errors} == {TokenError}
    assert {e.code for e in errors} == {"jwks_unreachable"}
    assert len({id(e) for e in errors}) == 8  # one exception object per thread
    assert source.fetches == 1
    assert server.hits == 1


def _wait_until_waiting_for_the_lock(threads: list[threading.Thread]) -> None:
    """Return once each thread waits, in ``RemoteJWKSet.find``, to take the source's lock."""
    code = RemoteJWKSetDirect.find.__code__
    lines, first = inspect.getsourcelines(RemoteJWKSetDirect.find)
    at = [first + i for i, line in enumerate(lines) if line.strip() == "with self._lock:"]
    assert len(at) == 1, "find() no longer takes its lock where this test expects"
    deadline = time.monotonic() + 30
    while True:
        frames = sys._current_frames()
        waiting = [
            (frame := frames.get(thread.ident or 0)) is not None
            and frame.f_code is code
            and frame.f_lineno == at[0]
            for thread in threads
        ]
        if all(waiting):
            return
        assert time.monotonic() < deadline, f"{waiting.count(False)} threads never waited"
        time.sleep(0.01)


def test_an_expired_set_serves_its_keys_while_another_thread_fetches_it_again(
    server, client_context
):
    keys = SigningKeySet.generate()
    server.publish(keys)
    clock = Clock()
    source = remote(server, client_context, clock, cache_ttl=60)
    known = keys.primary.kid
    source.refresh()
    clock.now += 61  # the set has expired
    release, entered = threading.Event(), threading.Event()
    original = _stall_gets(release, entered)
    refetch = threading.Thread(target=source.find, args=(known,))
    try:
        refetch.start()  # finds the set expired and fetches; the issuer stalls
        assert entered.wait(10)
        found = []
        lookup = threading.Thread(target=lambda: found.append(source.find(known)))
        lookup.start()
        lookup.join(timeout=4)
        assert [k.kid for k in found] == [known]
        assert refetch.is_alive()
    finally:
        release.set()
        _Handler.do_GET = original
        refetch.join(timeout=10)
    assert source.fetches == 2
