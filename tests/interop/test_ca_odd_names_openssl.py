"""Certificates for unusual names from ``sealbox ca``, checked by the real OpenSSL.

Names as users type them (uppercase, a final dot, IDNA A-labels, wildcards, the longest
DNS name, IPv6 in brackets) must come out in the form OpenSSL matches connections
against; names no connection can match are refused (tests/cli/test_cli_ca.py).
"""

from __future__ import annotations

import subprocess

import pytest
from cryptography import x509

from sealbox.tls.certinfo import load_certificates
from sealbox.tls.context import server_context
from tests._tls import TLSServer, openssl_client
from tests.conftest import require_tool, run_sealbox

pytestmark = pytest.mark.interop

LONGEST = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253 characters

# (what is typed, how OpenSSL checks a connection to it, the reference identifier)
ODD_NAMES = [
    ("API.Example.TEST.", "-verify_hostname", "api.example.test"),
    ("*.Wild.Example.test", "-verify_hostname", "node-1.wild.example.test"),
    ("xn--bcher-kva.example", "-verify_hostname", "xn--bcher-kva.example"),
    ("1.2.3.4.example", "-verify_hostname", "1.2.3.4.example"),
    (LONGEST, "-verify_hostname", LONGEST),
    ("[::1]", "-verify_ip", "::1"),
    ("fd00::7", "-verify_ip", "fd00:0:0:0:0:0:0:7"),
    ("10.0.0.5", "-verify_ip", "10.0.0.5"),
]


@pytest.fixture(scope="module")
def openssl():
    return require_tool("openssl")


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("odd") / "ca"
    result = run_sealbox(["ca", "init", str(folder)])
    assert result.returncode == 0, result.stderr
    return folder


def verify(ca_dir, cert, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "verify", "-x509_strict", "-CAfile", str(ca_dir / "ca.crt"), *args, str(cert)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(("typed", "check", "reference"), ODD_NAMES, ids=lambda v: str(v)[:24])
def test_openssl_matches_a_server_certificate_for_an_unusual_name(
    openssl, ca_dir, tmp_path, cli, typed, check, reference
):
    prefix = tmp_path / "srv"
    result = cli(["ca", "issue", "server", ca_dir, "--san", typed, "-o", prefix])
    assert result.code == 0, result.stderr
    ok = verify(ca_dir, f"{prefix}.crt", "-purpose", "sslserver", check, reference)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # The same certificate is refused as a client's, and for another name.
    assert verify(ca_dir, f"{prefix}.crt", "-purpose", "sslclient").returncode != 0
    other = "other.test" if check == "-verify_hostname" else "10.9.9.9"
    assert verify(ca_dir, f"{prefix}.crt", check, other).returncode != 0


def test_every_certificate_has_a_positive_random_serial_of_at_most_20_bytes(ca_dir, tmp_path, cli):
    serials = []
    for n in range(8):
        prefix = tmp_path / f"s{n}"
        assert cli(["ca", "issue", "server", ca_dir, "--san", "a.test", "-o", prefix]).code == 0
        serials.append(load_certificates(f"{prefix}.crt")[0].serial_number)
    serials.append(load_certificates(ca_dir / "ca.crt")[0].serial_number)
    assert len(set(serials)) == len(serials)
    # RFC 5280 section 4.1.2.2: positive, at most 20 octets in DER (sign bit included).
    assert all(0 < s < 2**159 for s in serials)


def test_s_client_handshakes_with_a_wildcard_certificate_typed_in_uppercase(
    openssl, ca_dir, tmp_path, cli
):
    prefix = tmp_path / "wild"
    assert cli(["ca", "issue", "server", ca_dir, "--san", "*.API.test.", "-o", prefix]).code == 0
    cert = load_certificates(f"{prefix}.crt")[0]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["*.api.test"]
    context = server_context(f"{prefix}.crt", f"{prefix}.key")
    with TLSServer(context) as server:
        good = openssl_client(
            server.port, "-CAfile", str(ca_dir / "ca.crt"), "-verify_hostname", "eu.api.test"
        )
        deep = openssl_client(
            server.port, "-CAfile", str(ca_dir / "ca.crt"), "-verify_hostname", "a.eu.api.test"
        )
    assert "Verify return code: 0 (ok)" in good.stdout, good.stdout[-1500:]
    # A wildcard covers one label only (RFC 6125 section 6.4.3).
    assert "Verify return code: 62 (hostname mismatch)" in deep.stdout, deep.stdout[-1500:]


# (what is typed, the client's name as OpenSSL prints the subject and matches the SAN)
ODD_CLIENT_NAMES = [
    ("Worker.Corp.TEST.", "worker.corp.test", "-verify_hostname"),
    ("XN--BCHER-KVA.example", "xn--bcher-kva.example", "-verify_hostname"),
    ("Alice@Corp.Test.", "Alice@corp.test", "-verify_email"),
]


@pytest.mark.parametrize(("typed", "name", "check"), ODD_CLIENT_NAMES, ids=lambda v: str(v)[:24])
def test_openssl_sees_one_spelling_of_a_client_name_in_subject_and_san(
    openssl, ca_dir, tmp_path, cli, typed, name, check
):
    prefix = tmp_path / "client"
    result = cli(["ca", "issue", "client", ca_dir, "--san", typed, "-o", prefix])
    assert result.code == 0, result.stderr
    assert result.out.startswith(f"issued client certificate for {name}: ")
    shown = subprocess.run(
        ["openssl", "x509", "-in", f"{prefix}.crt", "-noout", "-subject", "-nameopt", "RFC2253",
         "-ext", "subjectAltName"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    assert shown.splitlines()[0] == f"subject=CN={name}"
    kind = "email" if check == "-verify_email" else "DNS"
    assert shown.splitlines()[-1].strip() == f"{kind}:{name}"
    ok = verify(ca_dir, f"{prefix}.crt", "-purpose", "sslclient", check, name)
    assert ok.returncode == 0, ok.stdout + ok.stderr
