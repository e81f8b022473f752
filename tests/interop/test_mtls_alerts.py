"""Refused mutual-TLS clients learn why: a TLS alert (not a reset), and a log line on the server.

Driven by the real curl and openssl s_client.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from sealbox.service.serve import prepare
from sealbox.tls.ca import CertificateAuthority
from tests.conftest import require_tool
from tests.service.conftest import make_settings, run_service


@pytest.fixture
def mtls(tmp_path: Path):
    data = tmp_path / "data"
    settings = make_settings(data, mtls=True, client_ca=data / "tls" / "ca.crt")
    prepare(settings)
    ca = CertificateAuthority.load(data / "tls")
    good = ca.issue_client("billing-service").write(tmp_path / "good")
    server_only = ca.issue_server(["not-a-client.test"]).write(tmp_path / "server-only")
    stranger = CertificateAuthority.generate(name="another CA").issue_client("x")
    stranger_files = stranger.write(tmp_path / "stranger")
    too_deep = _below_a_sub_ca(data / "tls", tmp_path / "too-deep")
    with run_service(settings) as svc:
        yield (
            svc,
            {
                "good": good,
                "server-only": server_only,
                "stranger": stranger_files,
                "too-deep": too_deep,
            },
        )


def _below_a_sub_ca(ca_dir: Path, prefix: Path) -> tuple[Path, Path]:
    """A client certificate issued by a sub-CA the development CA signed: its
    ``pathLenConstraint`` of 0 allows no such sub-CA."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    root_cert = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
    root_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), None)
    now = datetime.datetime.now(datetime.UTC)

    def issue(subject: str, key, issuer, signer, *, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
                critical=False,
            )
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        if not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    sub_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    sub = issue("a sub-CA", sub_key, root_cert.subject, root_key, ca=True)
    leaf = issue("too-deep", leaf_key, sub.subject, sub_key, ca=False)
    cert, key = prefix.with_suffix(".crt"), prefix.with_suffix(".key")
    cert.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM) + sub.public_bytes(serialization.Encoding.PEM)
    )
    key.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


def _curl(svc, cert: tuple[Path, Path] | None) -> subprocess.CompletedProcess[str]:
    args = [require_tool("curl"), "-sS", "--cacert", str(svc.ca), f"{svc.url}/health"]
    if cert is not None:
        args += ["--cert", str(cert[0]), "--key", str(cert[1])]
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.interop
@pytest.mark.parametrize(
    ("who", "alert", "logged"),
    [
        (None, "alert certificate required", "no client certificate"),
        (
            "stranger",
            "alert unknown ca",
            "client certificate refused: self-signed certificate in certificate chain",
        ),
        (
            "server-only",
            "alert unsupported certificate",
            "client certificate refused: unsuitable certificate purpose",
        ),
        (
            "too-deep",
            "alert",
            "client certificate refused: path length constraint exceeded",
        ),
    ],
)
def test_curl_is_told_why_by_a_tls_alert(mtls, caplog, who, alert, logged) -> None:
    svc, certs = mtls
    r = _curl(svc, certs[who] if who else None)
    assert r.returncode != 0
    assert alert in r.stderr.lower(), r.stderr
    assert "reset by peer" not in r.stderr.lower()
    deadline = time.monotonic() + 5  # the server thread logs as it answers
    while logged not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "refused a TLS handshake from 127.0.0.1" in caplog.text
    assert logged in caplog.text


@pytest.mark.interop
def test_curl_with_the_right_certificate_gets_through(mtls) -> None:
    svc, certs = mtls
    r = _curl(svc, certs["good"])
    assert r.returncode == 0, r.stderr
    assert '"status":"ok"' in r.stdout


def _s_client(svc, *extra: str) -> str:
    r = subprocess.run(
        [
            require_tool("openssl"),
            "s_client",
            "-connect",
            f"127.0.0.1:{svc.settings.port}",
            "-servername",
            "localhost",
            "-CAfile",
            str(svc.ca),
            "-ign_eof",  # keep reading after the request is sent: the alert comes then
            *extra,
        ],
        # The server closes after answering, so s_client ends then, not at the keep-alive timeout.
        input="GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return r.stdout + r.stderr


@pytest.mark.interop
@pytest.mark.parametrize(
    ("version", "alert"),
    # TLS 1.2 has no certificate_required alert (RFC 8446 added it): handshake_failure.
    [("-tls1_3", "alert certificate required"), ("-tls1_2", "alert handshake failure")],
)
def test_openssl_s_client_sees_the_alert_and_the_acceptable_ca_names(
    mtls, version: str, alert: str
) -> None:
    svc, _ = mtls
    output = _s_client(svc, version)
    assert alert in output.lower(), output[-2000:]
    # The certificate request names the CA whose client certificates are accepted.
    names = output.split("Acceptable client certificate CA names\n", 1)
    assert len(names) == 2, output[-3000:]
    assert names[1].splitlines()[0] == "CN = sealbox development CA"
    assert "No client certificate CA names sent" not in output


@pytest.mark.interop
def test_openssl_s_client_with_the_right_certificate_is_served(mtls) -> None:
    svc, certs = mtls
    cert, key = certs["good"]
    output = _s_client(svc, "-cert", str(cert), "-key", str(key))
    assert "HTTP/1.1 200 OK" in output, output[-2000:]
