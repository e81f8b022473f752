"""secure_client and secure_async_client over real TLS sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import ssl

import httpx2
import pytest
from cryptography import x509

from sealbox.exceptions import ConfigError, PinMismatchError, TLSConfigError
from sealbox.tls.client import secure_async_client, secure_client
from sealbox.tls.context import client_context, load_server_certificate, server_context
from sealbox.tls.pinning import spki_pin
from tests._tls import TLSServer, make_pki, plain_server_context


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    pki.ca.issue_server(["other.test"]).write(pki.root / "othername")
    # A client certificate whose name matches the host: only its purpose is wrong.
    pki.ca.issue_client("localhost").write(pki.root / "client-localhost")
    return pki


@pytest.fixture
def server(pki):
    with TLSServer(server_context(pki.path("server.crt"), pki.path("server.key"))) as srv:
        yield srv


def pin_of(pki, name):
    return spki_pin(x509.load_pem_x509_certificate((pki.root / f"{name}.crt").read_bytes()))


def test_get_over_tls(pki, server):
    with secure_client(ca=pki.ca_file) as client:
        for host in ("localhost", "127.0.0.1"):
            response = client.get(server.url(host))
            assert response.status_code == 200
            assert response.text == "ok"
    conns = server.wait(2)
    assert all(c.handshake_ok and c.received > 0 for c in conns)


def test_options_are_passed_to_httpx(pki, server):
    with secure_client(ca=pki.ca_file, base_url=server.url(), timeout=3) as client:
        assert client.get("/").text == "ok"
        assert client.timeout.connect == 3
    with pytest.raises(TypeError, match="verify"):
        secure_client(ca=pki.ca_file, verify=False)
    with pytest.raises(TypeError, match="verify"):
        secure_async_client(ca=pki.ca_file, verify=True)


def test_unknown_ca_is_refused(pki):
    with (
        TLSServer(server_context(pki.path("foreign.crt"), pki.path("foreign.key"))) as srv,
        secure_client(ca=pki.ca_file) as client,
        pytest.raises(httpx2.ConnectError, match="certificate verify failed"),
    ):
        client.get(srv.url())
    assert srv.wait()[0].received == 0


def test_system_store_refuses_a_private_ca(server):
    with secure_client() as client, pytest.raises(httpx2.ConnectError, match="verify failed"):
        client.get(server.url())


def test_wrong_host_name_is_refused(pki):
    with (
        TLSServer(server_context(pki.path("othername.crt"), pki.path("othername.key"))) as srv,
        secure_client(ca=pki.ca_file) as client,
        pytest.raises(httpx2.ConnectError, match=r"Hostname mismatch"),
    ):
        client.get(srv.url("localhost"))
    assert srv.wait()[0].received == 0


def test_expired_certificate_is_refused(pki):
    ctx = plain_server_context(pki.path("expired.crt"), pki.path("expired.key"))
    with (
        TLSServer(ctx) as srv,
        secure_client(ca=pki.ca_file) as client,
        pytest.raises(httpx2.ConnectError, match="certificate has expired"),
    ):
        client.get(srv.url())


def test_client_certificate_as_server_certificate_is_refused(pki):
    ctx = plain_server_context(pki.path("client-localhost.crt"), pki.path("client-localhost.key"))
    with (
        TLSServer(ctx) as srv,
        secure_client(ca=pki.ca_file) as client,
        pytest.raises(httpx2.ConnectError, match="unsuitable certificate purpose"),
    ):
        client.get(srv.url())
    assert srv.wait()[0].received == 0


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_old_protocol_versions_are_refused_by_python_peer(pki, version):
    ctx = plain_server_context(pki.path("server.crt"), pki.path("server.key"))
    ctx.minimum_version = ctx.maximum_version = version
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with TLSServer(ctx) as srv:
        # Control: the server does speak the old version to a client that allows it.
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(pki.ca_file)
        old.minimum_version = version
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
        with (
            socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw,
            old.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert tls.version() == version.name.replace("v1_1", "v1.1")
        # The server's alert usually reaches the client first; when the server has closed
        # before the client's next write, the client sees the closed pipe instead. Either
        # way nothing was exchanged, and the server's record below says why.
        with (
            secure_client(ca=pki.ca_file) as client,
            pytest.raises(
                httpx2.ConnectError, match=r"protocol version|Broken pipe|Connection reset"
            ),
        ):
            client.get(srv.url())
        record = srv.wait(2)[1]
    assert not record.handshake_ok
    assert record.received == 0
    assert "unsupported protocol" in (record.error or "")


# -- mutual TLS -----------------------------------------------------------------------


@pytest.fixture
def mtls_server(pki):
    ctx = server_context(
        pki.path("server.crt"),
        pki.path("server.key"),
        client_ca=pki.ca_file,
        require_client_cert=True,
    )
    with TLSServer(ctx) as srv:
        yield srv


def test_mtls_accepts_the_right_client(pki, mtls_server):
    with secure_client(pki.ca_file, pki.path("alice.crt"), pki.path("alice.key")) as client:
        assert client.get(mtls_server.url()).text == "ok"
    record = mtls_server.wait()[0]
    assert record.handshake_ok
    assert record.received > 0
    seen = x509.load_der_x509_certificate(record.peer_cert)
    assert seen.subject.rfc4514_string() == "CN=alice"


def test_mtls_refuses_a_client_without_certificate(pki, mtls_server):
    with secure_client(pki.ca_file) as client, pytest.raises(httpx2.TransportError):
        client.get(mtls_server.url())
    record = mtls_server.wait()[0]
    assert not record.handshake_ok
    assert record.received == 0
    assert "CERTIFICATE" in (record.error or "").upper()


def test_mtls_refuses_a_client_from_another_ca(pki, mtls_server):
    # The client's context trusts the server, but its certificate comes from another CA.
    with (
        secure_client(pki.ca_file, pki.path("mallory.crt"), pki.path("mallory.key")) as client,
        pytest.raises(httpx2.TransportError),
    ):
        client.get(mtls_server.url())
    record = mtls_server.wait()[0]
    assert not record.handshake_ok
    assert record.received == 0
    assert "certificate verify failed" in (record.error or "")


def test_mtls_refuses_a_server_certificate_used_by_a_client(pki, mtls_server):
    # sealbox will not even load it as a client certificate ...
    with pytest.raises(TLSConfigError, match="not a client certificate"):
        client_context(pki.ca_file, pki.path("server.crt"), pki.path("server.key"))
    # ... and a plain context that does is refused by the server.
    ctx = ssl.create_default_context(cafile=pki.ca_file)
    ctx.load_cert_chain(pki.path("server.crt"), pki.path("server.key"))
    with httpx2.Client(verify=ctx) as client, pytest.raises(httpx2.TransportError):
        client.get(mtls_server.url())
    record = mtls_server.wait()[0]
    assert not record.handshake_ok
    assert record.received == 0
    assert "unsuitable certificate purpose" in (record.error or "")


# -- pinning --------------------------------------------------------------------------


def test_pin_mismatch_sends_no_request_bytes(pki, server):
    wrong = pin_of(pki, "backup")
    with (
        secure_client(ca=pki.ca_file, pins=[wrong]) as client,
        pytest.raises(PinMismatchError) as info,
    ):
        client.get(server.url(), headers={"X-Canary": "must-never-leave"})
    assert info.value.seen == pin_of(pki, "server")
    assert pin_of(pki, "server") in str(info.value)
    record = server.wait()[0]
    assert record.handshake_ok  # the TLS handshake itself completed ...
    assert record.received == 0  # ... and not one byte of HTTP followed


def test_matching_backup_pin_passes(pki, server):
    pins = [pin_of(pki, "backup"), pin_of(pki, "server")]
    with secure_client(ca=pki.ca_file, pins=pins) as client:
        assert client.get(server.url()).text == "ok"
        assert client.get(server.url("127.0.0.1")).text == "ok"
    with secure_client(ca=pki.ca_file, pins=";".join(pins)) as client:
        assert client.get(server.url()).text == "ok"
    assert [c.received > 0 for c in server.wait(3)] == [True, True, True]


def test_pins_never_widen_trust(pki):
    # The pin matches, but the certificate is from an untrusted CA: still refused.
    with (
        TLSServer(server_context(pki.path("foreign.crt"), pki.path("foreign.key"))) as srv,
        secure_client(ca=pki.ca_file, pins=[pin_of(pki, "foreign")]) as client,
        pytest.raises(httpx2.ConnectError, match="verify failed"),
    ):
        client.get(srv.url())


def test_async_pin_mismatch_sends_no_request_bytes(pki, server):
    async def main():
        async with secure_async_client(ca=pki.ca_file, pins=[pin_of(pki, "backup")]) as client:
            with pytest.raises(PinMismatchError) as info:
                await client.get(server.url())
            return info.value

    error = asyncio.run(main())
    assert error.seen == pin_of(pki, "server")
    record = server.wait()[0]
    assert record.received == 0


def test_async_matching_pin_and_mtls(pki, mtls_server):
    async def main():
        async with secure_async_client(
            pki.ca_file, pki.path("alice.crt"), pki.path("alice.key"), pins=[pin_of(pki, "server")]
        ) as client:
            return (await client.get(mtls_server.url())).text

    assert asyncio.run(main()) == "ok"


def test_pinned_context_checks_even_without_explicit_handshake(pki, server):
    # A caller that skips do_handshake() (OpenSSL would handshake inside write) is checked too.
    ctx = client_context(ca=pki.ca_file, pins=[pin_of(pki, "backup")])
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    tls = ctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
    with pytest.raises(PinMismatchError):
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    tls.close()
    assert server.wait()[0].received == 0


def test_pinned_context_with_asyncio_streams(pki, server):
    ctx = client_context(ca=pki.ca_file, pins=[pin_of(pki, "backup")])

    async def main():
        await asyncio.open_connection(
            "127.0.0.1", server.port, ssl=ctx, server_hostname="localhost"
        )

    with pytest.raises(PinMismatchError):
        asyncio.run(main())
    assert server.wait()[0].received == 0


def test_certificate_reload_without_restart(pki):
    ctx = server_context(pki.path("server.crt"), pki.path("server.key"))
    with TLSServer(ctx) as srv, secure_client(ca=pki.ca_file, pins=[pin_of(pki, "server")]) as c:
        assert c.get(srv.url()).text == "ok"
        load_server_certificate(ctx, pki.path("backup.crt"), pki.path("backup.key"))
        with pytest.raises(PinMismatchError) as info:
            c.get(srv.url(), headers={"Connection": "close"})
        assert info.value.seen == pin_of(pki, "backup")


def test_no_secret_reaches_logs_errors_or_reprs(pki, mtls_server, caplog, tmp_path):
    from sealbox.hazmat.kdf import ScryptParams
    from sealbox.keys import pkcs8 as _pkcs8
    from sealbox.secret import Secret

    passphrase = "canary-passphrase-5d1e9b"
    issued = pki.ca.issue_client("canary")
    issued.write(tmp_path / "canary")
    key_body = "".join(issued.private_key_pem().decode().splitlines()[1:-1])
    (tmp_path / "canary.key").write_bytes(
        _pkcs8.encrypt_pem(issued.private_key, passphrase.encode(), ScryptParams(log_n=10))
    )
    crt, key = tmp_path / "canary.crt", tmp_path / "canary.key"
    texts = []
    with caplog.at_level("DEBUG"):
        with secure_client(pki.ca_file, crt, key, password=Secret(passphrase)) as client:
            texts.append(repr(client))
            assert client.get(mtls_server.url()).text == "ok"
        with (
            secure_client(
                pki.ca_file, crt, key, password=passphrase, pins=[pin_of(pki, "backup")]
            ) as client,
            pytest.raises(PinMismatchError) as mismatch,
        ):
            client.get(mtls_server.url())
        texts.append(str(mismatch.value))
        for wrong in ("not-the-passphrase", None):
            with pytest.raises(TLSConfigError) as info:
                secure_client(pki.ca_file, crt, key, password=wrong)
            texts += [str(info.value), repr(info.value), info.value.hint or ""]
    texts += [r.getMessage() for r in caplog.records]
    assert any("canary" in t or "pin" in t for t in texts)
    for text in texts:
        assert passphrase not in text
        assert "not-the-passphrase" not in text
        assert key_body[:24] not in text


@pytest.mark.parametrize("pins", [[" "], ";", " ", [""], [";", " "]])
def test_pins_that_name_no_pin_are_refused_not_ignored(pki, pins):
    # `pins=[os.environ.get("PIN", "")]` must not turn pinning off without a word.
    with pytest.raises(ConfigError, match="at least one pin"):
        client_context(ca=pki.ca_file, pins=pins)
    with pytest.raises(ConfigError, match="at least one pin"):
        secure_client(ca=pki.ca_file, pins=pins)


def test_the_subject_common_name_is_never_taken_as_the_host_name(pki, tmp_path):
    # RFC 9525: only the subjectAltName names the server. A certificate of the trusted CA
    # with CN=localhost and no SAN is refused for localhost.
    import datetime as dt

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(pki.ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.ca.certificate.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(pki.ca._key, hashes.SHA256())
    )
    (tmp_path / "cn.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "cn.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = plain_server_context(str(tmp_path / "cn.crt"), str(tmp_path / "cn.key"))
    with (
        TLSServer(context) as srv,
        secure_client(ca=pki.ca_file) as client,
        pytest.raises(httpx2.ConnectError, match=r"(?i)hostname|match"),
    ):
        client.get(srv.url("localhost"))


@pytest.mark.parametrize(
    "option",
    [
        {"transport": httpx2.HTTPTransport(verify=False)},
        {"mounts": {"https://": httpx2.HTTPTransport(verify=False)}},
    ],
    ids=["transport", "mounts"],
)
def test_an_own_transport_is_refused_as_it_would_drop_pins_and_host_checks(pki, option):
    # httpx hands every request to the given transport, whose TLS is its own: the pins,
    # the CA and the host name check of the secure context would be dropped silently.
    with pytest.raises(TypeError, match=next(iter(option))):
        secure_client(ca=pki.ca_file, pins=[pin_of(pki, "backup")], **option)


def test_an_own_async_transport_is_refused(pki):
    with pytest.raises(TypeError, match="transport"):
        secure_async_client(ca=pki.ca_file, transport=httpx2.AsyncHTTPTransport(verify=False))
