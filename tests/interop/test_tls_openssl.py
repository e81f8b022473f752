"""sealbox's CA, contexts and pins against the real OpenSSL and curl command-line tools."""

from __future__ import annotations

import subprocess

import httpx2
import pytest

from sealbox.tls.ca import CertificateAuthority
from sealbox.tls.client import secure_client
from sealbox.tls.context import server_context
from sealbox.tls.pinning import pin_from_file
from tests._tls import TLSServer, make_pki, openssl_client, openssl_server
from tests.conftest import require_tool, run_sealbox

pytestmark = pytest.mark.interop

HTTP_OK = "HTTP/1.0 200 ok"  # what `openssl s_server -www` answers


@pytest.fixture(scope="module")
def openssl():
    return require_tool("openssl")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("pki")
    pki = make_pki(root)
    pki.ca.issue_server(["*.api.test", "api.test", "10.0.0.7", "fd00::7"]).write(root / "wild")
    pki.ca.issue_client("worker.corp.test").write(root / "worker")
    pki.ca.issue_client("bob@corp.test").write(root / "bob")
    pki.ca.issue_client("localhost").write(root / "client-localhost")
    constrained = CertificateAuthority.init(
        root / "cca", permitted_dns=["corp.test"], permitted_ips=["127.0.0.0/8"]
    )
    constrained.issue_server(["api.corp.test", "127.0.0.1"]).write(root / "capi")
    constrained.issue_client("svc.corp.test").write(root / "csvc")
    return pki


def run(*argv: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, input=input, capture_output=True, timeout=30, check=False)


def openssl_verify(pki, ca: str, purpose: str, cert: str) -> subprocess.CompletedProcess[bytes]:
    return run(
        "openssl", "verify", "-x509_strict", "-purpose", purpose,
        "-CAfile", pki.path(ca), pki.path(cert),
    )  # fmt: skip


# -- openssl verify -------------------------------------------------------------------

SERVERS = [("ca/ca.crt", "server.crt"), ("ca/ca.crt", "wild.crt"), ("cca/ca.crt", "capi.crt")]
CLIENTS = [
    ("ca/ca.crt", "alice.crt"),
    ("ca/ca.crt", "worker.crt"),
    ("ca/ca.crt", "bob.crt"),
    ("cca/ca.crt", "csvc.crt"),
]


@pytest.mark.parametrize(("ca", "cert"), SERVERS)
def test_openssl_verifies_server_chains_for_server_purpose_only(openssl, pki, ca, cert):
    ok = openssl_verify(pki, ca, "sslserver", cert)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.decode().strip().endswith(": OK")
    wrong = openssl_verify(pki, ca, "sslclient", cert)
    assert wrong.returncode != 0
    assert b"unsuitable certificate purpose" in wrong.stderr


@pytest.mark.parametrize(("ca", "cert"), CLIENTS)
def test_openssl_verifies_client_chains_for_client_purpose_only(openssl, pki, ca, cert):
    ok = openssl_verify(pki, ca, "sslclient", cert)
    assert ok.returncode == 0, ok.stderr
    wrong = openssl_verify(pki, ca, "sslserver", cert)
    assert wrong.returncode != 0
    assert b"unsuitable certificate purpose" in wrong.stderr


def test_openssl_refuses_another_ca(openssl, pki):
    result = openssl_verify(pki, "ca/ca.crt", "sslserver", "foreign.crt")
    assert result.returncode != 0
    assert b"unable to get local issuer certificate" in result.stderr


def test_openssl_verify_uses_the_bundled_chain(openssl, pki):
    # PREFIX.crt holds the leaf then the CA: as an untrusted chain it still needs a trusted root.
    ok = run("openssl", "verify", "-CAfile", pki.ca_file, "-untrusted", pki.path("server.crt"),
             pki.path("server.crt"))  # fmt: skip
    assert ok.returncode == 0, ok.stderr


def test_openssl_reads_the_encrypted_ca_key(openssl, tmp_path):
    CertificateAuthority.init(tmp_path / "enc", passphrase="openssl can read this")
    key = str(tmp_path / "enc" / "ca.key")
    ok = run("openssl", "pkey", "-in", key, "-passin", "pass:openssl can read this", "-noout")
    assert ok.returncode == 0, ok.stderr
    bad = run("openssl", "pkey", "-in", key, "-passin", "pass:wrong", "-noout")
    assert bad.returncode != 0
    parsed = run("openssl", "asn1parse", "-in", key).stdout.decode()
    assert "PBES2" in parsed
    assert ":scrypt" in parsed
    assert "aes-256-cbc" in parsed
    assert ":4000" in parsed  # N = 2^14


# -- s_server / s_client --------------------------------------------------------------


def test_s_client_accepts_a_server_certificate(openssl, pki):
    with openssl_server(
        "-cert", pki.path("server.crt"), "-key", pki.path("server.key"), "-www"
    ) as port:
        result = openssl_client(port, "-CAfile", pki.ca_file, "-verify_hostname", "localhost")
    assert "Verify return code: 0 (ok)" in result.stdout
    assert HTTP_OK in result.stdout


def test_s_client_refuses_a_client_certificate_as_server(openssl, pki):
    with openssl_server(
        "-cert", pki.path("client-localhost.crt"), "-key", pki.path("client-localhost.key"), "-www"
    ) as port:
        result = openssl_client(port, "-CAfile", pki.ca_file, "-verify_hostname", "localhost")
    assert result.returncode != 0
    assert "unsuitable certificate purpose" in result.stdout + result.stderr
    assert HTTP_OK not in result.stdout


@pytest.mark.parametrize(
    ("client", "accepted"),
    [("alice", True), ("worker", True), (None, False), ("mallory", False), ("server", False)],
)
def test_s_server_requiring_client_certificates(openssl, pki, client, accepted):
    cert_args = (
        []
        if client is None
        else ["-cert", pki.path(f"{client}.crt"), "-key", pki.path(f"{client}.key")]
    )
    with openssl_server(
        "-cert", pki.path("server.crt"), "-key", pki.path("server.key"), "-www",
        "-CAfile", pki.ca_file, "-Verify", "1", "-verify_return_error",
    ) as port:  # fmt: skip
        result = openssl_client(port, "-CAfile", pki.ca_file, *cert_args)
    assert (HTTP_OK in result.stdout) is accepted, result.stdout[-2000:]


def test_s_client_with_sealbox_mtls_server(openssl, pki):
    ctx = server_context(
        pki.path("server.crt"),
        pki.path("server.key"),
        client_ca=pki.ca_file,
        require_client_cert=True,
    )
    with TLSServer(ctx) as srv:
        trust = ["-CAfile", pki.ca_file, "-verify_hostname", "localhost"]
        good = openssl_client(
            srv.port, *trust, "-cert", pki.path("alice.crt"), "-key", pki.path("alice.key")
        )
        bad = openssl_client(
            srv.port, *trust, "-cert", pki.path("server.crt"), "-key", pki.path("server.key")
        )
        records = srv.wait(2)
    assert "HTTP/1.1 200 OK" in good.stdout
    assert records[0].received > 0
    assert "HTTP/1.1 200 OK" not in bad.stdout
    assert not records[1].handshake_ok
    assert "unsuitable certificate purpose" in (records[1].error or "")


@pytest.mark.parametrize(("flag", "name"), [("-tls1", "TLSv1"), ("-tls1_1", "TLSv1.1")])
def test_secure_client_refuses_old_protocols_from_openssl(openssl, pki, flag, name):
    with openssl_server(
        "-cert", pki.path("server.crt"), "-key", pki.path("server.key"), "-www",
        flag, "-cipher", "DEFAULT@SECLEVEL=0",
    ) as port:  # fmt: skip
        # Control: this server really speaks the old protocol.
        control = openssl_client(
            port, flag, "-cipher", "DEFAULT@SECLEVEL=0", "-CAfile", pki.ca_file
        )
        assert f"Protocol  : {name}" in control.stdout, control.stdout[-1500:]
        with (
            secure_client(ca=pki.ca_file) as client,
            pytest.raises(httpx2.ConnectError, match=r"protocol version|unsupported protocol"),
        ):
            client.get(f"https://localhost:{port}/")


# -- pins -----------------------------------------------------------------------------


def openssl_pin_from_cert(cert: str) -> str:
    pub = run("openssl", "x509", "-in", cert, "-pubkey", "-noout").stdout
    der = run("openssl", "pkey", "-pubin", "-outform", "der", input=pub).stdout
    digest = run("openssl", "dgst", "-sha256", "-binary", input=der).stdout
    return "sha256//" + run("openssl", "enc", "-base64", "-A", input=digest).stdout.decode().strip()


def openssl_pin_from_key(key: str) -> str:
    der = run("openssl", "pkey", "-in", key, "-pubout", "-outform", "der").stdout
    digest = run("openssl", "dgst", "-sha256", "-binary", input=der).stdout
    return "sha256//" + run("openssl", "enc", "-base64", "-A", input=digest).stdout.decode().strip()


@pytest.mark.parametrize("name", ["server", "alice", "wild", "ca/ca"])
def test_sealbox_pin_agrees_with_openssl(openssl, pki, name):
    expected = openssl_pin_from_key(pki.path(f"{name}.key"))
    assert expected == openssl_pin_from_cert(pki.path(f"{name}.crt"))
    result = run_sealbox(["ca", "pin", pki.path(f"{name}.crt")])
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == expected
    assert pin_from_file(pki.path(f"{name}.crt")) == expected


def test_sealbox_pin_agrees_with_curl_pinnedpubkey(openssl, pki):
    curl = require_tool("curl")
    pin = pin_from_file(pki.path("server.crt"))
    backup = pin_from_file(pki.path("backup.crt"))
    with openssl_server(
        "-cert", pki.path("server.crt"), "-key", pki.path("server.key"), "-www"
    ) as port:
        url = f"https://localhost:{port}/"
        live = run_sealbox(["ca", "pin", f"127.0.0.1:{port}", "--ca", pki.ca_file])
        base = [curl, "-sS", "--max-time", "10", "--cacert", pki.ca_file, url]
        ok = run(*base, "--pinnedpubkey", pin)
        ok_backup = run(*base, "--pinnedpubkey", f"{backup};{pin}")
        bad = run(*base, "--pinnedpubkey", backup)
    assert live.returncode == 0, live.stderr
    assert live.stdout.decode().strip() == pin
    assert ok.returncode == 0, ok.stderr
    assert ok_backup.returncode == 0, ok_backup.stderr
    assert bad.returncode == 90  # CURLE_SSL_PINNEDPUBKEYNOTMATCH
