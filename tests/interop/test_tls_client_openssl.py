"""sealbox's client contexts, pins and TLS error reports against `openssl s_server`.

Each server is a real OpenSSL on 127.0.0.1 set up to be wrong in one way (a protocol, a
cipher suite, a chain, a name, a date, a key); the client must refuse it and say why.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sealbox.exceptions import ConfigError, PinMismatchError
from sealbox.tls.client import secure_client, tls_failure
from sealbox.tls.context import client_context
from sealbox.tls.pinning import fetch_certificate, spki_pin
from tests._tls import TLSServer, make_pki, openssl_server, plain_server_context
from tests.conftest import require_tool

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def openssl():
    return require_tool("openssl")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    pki.ca.issue_server(["other.test", "10.9.9.9"]).write(pki.root / "othername")
    _write_chain(pki.root / "chain")
    return pki


def _certificate(subject, issuer, issuer_key, *, ca, names=()):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    signer = issuer_key or key
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    else:
        usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        ).add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address(n)) if n[0].isdigit() else x509.DNSName(n)
                    for n in names
                ]
            ),
            critical=False,
        )
    builder = builder.add_extension(usage, critical=True)
    return builder.sign(signer, hashes.SHA256()), key


def _write_chain(folder: Path) -> None:
    """root -> intermediate -> leaf (localhost, 127.0.0.1)."""
    folder.mkdir()
    root, root_key = _certificate("Chain Root", "Chain Root", None, ca=True)
    inter, inter_key = _certificate("Chain Intermediate", "Chain Root", root_key, ca=True)
    leaf, leaf_key = _certificate(
        "leaf", "Chain Intermediate", inter_key, ca=False, names=["localhost", "127.0.0.1"]
    )

    def pem(cert):
        return cert.public_bytes(serialization.Encoding.PEM)

    (folder / "root.crt").write_bytes(pem(root))
    (folder / "inter.crt").write_bytes(pem(inter))
    (folder / "leaf.crt").write_bytes(pem(leaf))
    selfsigned, self_key = _certificate(
        "localhost", "localhost", None, ca=False, names=["localhost"]
    )
    (folder / "self.crt").write_bytes(pem(selfsigned))
    for name, key in (("leaf", leaf_key), ("self", self_key)):
        (folder / f"{name}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


def _serve(pki, name="server", *args):
    return openssl_server(
        "-cert", pki.path(f"{name}.crt"), "-key", pki.path(f"{name}.key"), "-www", *args
    )  # fmt: skip


def _chain_server(pki, *chain):
    bundle = pki.root / "chain" / ("-".join(chain) + ".pem")
    bundle.write_bytes(b"".join((pki.root / "chain" / f"{c}.crt").read_bytes() for c in chain))
    return openssl_server(
        "-cert", pki.path("chain/leaf.crt"), "-key", pki.path("chain/leaf.key"),
        "-cert_chain", str(bundle), "-www",
    )  # fmt: skip


def _pin_by_openssl(cert: str) -> str:
    """The pipeline curl's documentation gives for --pinnedpubkey."""

    def run(*argv, data=None):
        return subprocess.run(argv, input=data, capture_output=True, check=True).stdout

    pub = run("openssl", "x509", "-in", cert, "-pubkey", "-noout")
    der = run("openssl", "pkey", "-pubin", "-outform", "der", data=pub)
    digest = run("openssl", "dgst", "-sha256", "-binary", data=der)
    return "sha256//" + run("openssl", "base64", "-A", data=digest).decode().strip()


def _get(url: str, **tls) -> httpx2.Response:
    with secure_client(**tls) as client:
        return client.get(url)


def _failure(url: str, **tls):
    with pytest.raises(httpx2.HTTPError) as info:
        _get(url, **tls)
    failure = tls_failure(info.value)
    assert failure is not None, info.value
    return failure


# -- policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"],
        ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"],
        ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-CCM"],
        ["-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_8_SHA256"],
    ],
    ids=["tls12-cbc-sha256", "tls12-cbc-sha1", "tls12-ccm", "tls13-ccm8"],
)
def test_a_server_offering_only_suites_outside_the_policy_is_refused(openssl, pki, args):
    with _serve(pki, "server", *args) as port:
        failure = _failure(f"https://localhost:{port}/", ca=pki.ca_file)
    assert not failure.certificate
    assert "handshake failure" in failure.reason
    assert "AEAD" in failure.hint


@pytest.mark.parametrize(
    "args",
    [
        ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"],
        ["-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"],
        ["-tls1_3"],
    ],
    ids=["tls12-gcm", "tls12-chacha20", "tls13"],
)
def test_tls12_with_an_aead_suite_and_tls13_are_accepted(openssl, pki, args):
    with _serve(pki, "server", *args) as port:
        assert _get(f"https://localhost:{port}/", ca=pki.ca_file).status_code == 200


def test_the_client_context_refuses_renegotiation_and_compression():
    context = client_context()
    assert context.options & ssl.OP_NO_RENEGOTIATION
    assert context.options & ssl.OP_NO_COMPRESSION
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize(("host", "sni"), [("localhost", "localhost"), ("127.0.0.1", None)])
def test_sni_carries_a_host_name_and_never_an_address(pki, host, sni):
    seen: list[str | None] = []
    context = plain_server_context(pki.path("server.crt"), pki.path("server.key"))
    context.sni_callback = lambda _sock, name, _ctx: seen.append(name)
    with TLSServer(context) as srv:
        assert _get(srv.url(host), ca=pki.ca_file).text == "ok"
    assert seen == [sni]


# -- chains ---------------------------------------------------------------------------


def test_a_chain_missing_its_intermediate_is_an_unknown_issuer(openssl, pki):
    with _chain_server(pki, "leaf") as port:
        failure = _failure(f"https://localhost:{port}/", ca=pki.path("chain/root.crt"))
    assert failure.unknown_issuer
    assert "unable to get local issuer certificate" in failure.reason


def test_a_chain_with_an_extra_root_still_verifies(openssl, pki):
    # A server that also sends its root (or a cross-signed one) is accepted all the same.
    with _chain_server(pki, "leaf", "inter", "root") as port:
        url = f"https://localhost:{port}/"
        assert _get(url, ca=pki.path("chain/root.crt")).status_code == 200
        assert _get(url.replace("localhost", "127.0.0.1"), ca=pki.path("chain/root.crt"))


def test_a_self_signed_server_is_an_unknown_issuer(openssl, pki):
    with _serve(pki, "chain/self") as port:
        failure = _failure(f"https://localhost:{port}/", ca=pki.ca_file)
    assert failure.unknown_issuer
    assert "self-signed certificate" in failure.reason


# -- pins -----------------------------------------------------------------------------


def test_pins_computed_by_the_openssl_pipeline_are_accepted_alone_or_in_curl_lists(openssl, pki):
    pin = _pin_by_openssl(pki.path("server.crt"))
    backup = _pin_by_openssl(pki.path("backup.crt"))
    with _serve(pki) as port:
        url = f"https://localhost:{port}/"
        assert _get(url, ca=pki.ca_file, pins=pin).status_code == 200
        assert _get(url, ca=pki.ca_file, pins=f"{backup};{pin}").status_code == 200
        assert _get(url, ca=pki.ca_file, pins=[backup, pin]).status_code == 200


@pytest.mark.parametrize("which", ["inter", "root"])
def test_a_pin_of_a_ca_in_the_chain_does_not_match_as_pins_name_the_leaf_key(openssl, pki, which):
    leaf_pin = _pin_by_openssl(pki.path("chain/leaf.crt"))
    ca_pin = _pin_by_openssl(pki.path(f"chain/{which}.crt"))
    with _chain_server(pki, "leaf", "inter") as port:
        url = f"https://localhost:{port}/"
        with pytest.raises(PinMismatchError) as info:
            _get(url, ca=pki.path("chain/root.crt"), pins=[ca_pin])
        assert _get(url, ca=pki.path("chain/root.crt"), pins=[ca_pin, leaf_pin])
    assert info.value.seen == leaf_pin


@pytest.mark.parametrize(
    ("server", "host", "reason"),
    [
        ("othername", "localhost", "Hostname mismatch"),
        ("othername", "127.0.0.1", "IP address mismatch"),
        ("expired", "localhost", "certificate has expired"),
    ],
)
def test_a_matching_pin_never_skips_the_name_and_date_checks(openssl, pki, server, host, reason):
    pin = _pin_by_openssl(pki.path(f"{server}.crt"))
    with _serve(pki, server) as port:
        failure = _failure(f"https://{host}:{port}/", ca=pki.ca_file, pins=[pin])
    assert failure.certificate
    assert reason in failure.reason


@pytest.mark.parametrize(
    "pin",
    ["sha256/abc", 'pin-sha256="abc"', "sha256//not base64!", "sha256//" + "A" * 22 + "=="],
)
def test_a_malformed_pin_is_refused_when_configured_not_when_connecting(pki, pin):
    with pytest.raises(ConfigError) as info:
        secure_client(ca=pki.ca_file, pins=[pin])
    assert info.value.code == "bad_pin"
    assert repr(pin) in str(info.value)


def test_a_pin_mismatch_names_the_server_and_the_key_it_presented(openssl, pki):
    wrong = _pin_by_openssl(pki.path("backup.crt"))
    with _serve(pki) as port, pytest.raises(PinMismatchError) as info:
        _get(f"https://localhost:{port}/", ca=pki.ca_file, pins=[wrong])
    seen = _pin_by_openssl(pki.path("server.crt"))
    assert info.value.seen == seen
    assert seen in str(info.value)
    assert info.value.facts["server"] == "localhost"
    assert "localhost" in (info.value.hint or "")


# -- what a failure says --------------------------------------------------------------


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_a_server_refusing_the_client_certificate_gets_a_client_certificate_hint(
    openssl, pki, version
):
    # The server trusts another CA than alice's: it refuses her certificate with an
    # alert. Nothing about cipher suites can fix that.
    args = ["-Verify", "1", "-verify_return_error", "-CAfile", pki.other_ca_file, version]
    with _serve(pki, "server", *args) as port:
        failure = _failure(
            f"https://localhost:{port}/",
            ca=pki.ca_file,
            cert=pki.path("alice.crt"),
            key=pki.path("alice.key"),
        )
    assert not failure.certificate
    assert "unknown ca" in failure.reason
    assert "client certificate" in failure.hint
    assert "cipher" not in failure.hint


@pytest.fixture
def plain_http_port():
    """A server that answers plain HTTP: what a https:// URL meets on an http port."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()
    thread.join(timeout=5)


def test_a_port_that_speaks_plain_http_is_named_as_not_tls(plain_http_port):
    failure = _failure(f"https://127.0.0.1:{plain_http_port}/")
    assert "wrong version number" in failure.reason
    assert "does not speak TLS" in failure.hint
    assert "cipher" not in failure.hint


def test_fetch_certificate_of_a_plain_http_port_says_it_is_not_tls(pki, plain_http_port):
    with pytest.raises(Exception) as info:
        fetch_certificate("127.0.0.1", plain_http_port, context=client_context(ca=pki.ca_file))
    assert "does not speak TLS" in (info.value.hint or "")


def test_spki_pin_of_the_chain_leaf_is_what_openssl_computes(openssl, pki):
    cert = x509.load_pem_x509_certificate((pki.root / "chain" / "leaf.crt").read_bytes())
    assert spki_pin(cert) == _pin_by_openssl(pki.path("chain/leaf.crt"))
