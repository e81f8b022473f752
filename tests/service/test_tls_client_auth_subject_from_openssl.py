"""A ``tls_client_auth`` client registered over HTTP with its certificate's subject as
``openssl x509 -noout -subject -nameopt RFC2253`` prints it authenticates with that
certificate over mutual TLS, and its token is bound to it (RFC 8705 §2.1.2, §3), also when
the subject has attributes OpenSSL names its own way or prints as ``#`` hex."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from sealbox.service.admin import create_user
from tests.conftest import require_tool
from tests.service._oauth import auth_server
from tests.service.conftest import PASSWORD, bearer, login

TEAM = ObjectIdentifier("1.3.6.1.4.1.99999.1")  # a private attribute OpenSSL has no name for


def _client_certificate(tls_dir: Path, folder: Path) -> tuple[Path, Path]:
    """A client certificate from the data folder's CA with a subject beyond a CN."""
    ca_cert = x509.load_pem_x509_certificate((tls_dir / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((tls_dir / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, "VATDE-123456789"),
            x509.NameAttribute(TEAM, "payments"),
            x509.NameAttribute(NameOID.COMMON_NAME, "billing.test"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("billing.test")]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = folder / "billing.crt", folder / "billing.key"
    paths[0].write_bytes(cert.public_bytes(pem))
    paths[1].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def _openssl(*args: str) -> bytes:
    return subprocess.run(["openssl", *args], capture_output=True, check=True, timeout=30).stdout


def test_a_subject_copied_from_openssl_authenticates_its_certificate(tmp_path: Path) -> None:
    require_tool("openssl")
    with auth_server(tmp_path) as authz:
        cert = _client_certificate(Path(authz.svc.settings.data_dir) / "tls", tmp_path)
        printed = _openssl("x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", str(cert[0]))
        subject = printed.decode().strip().removeprefix("subject=")
        assert "organizationIdentifier=" in subject and "=#" in subject  # OpenSSL's own forms
        create_user(authz.svc.settings, "root", lambda _n: PASSWORD, ["clients:admin", "users:me"])
        with authz.client() as c:
            admin = login(c, "root").json()["access_token"]
            made = c.post(
                "/clients",
                json={
                    "name": "billing",
                    "scopes": ["users:me"],
                    "secret": False,
                    "tls_client_auth_subject_dn": subject,
                },
                headers=bearer(admin),
            )
        assert made.status_code == 201, made.text
        form = {"grant_type": "client_credentials", "client_id": made.json()["client_id"]}
        with authz.client(cert=cert) as c:
            issued = c.post("/auth/token", data=form)
        with authz.client(cert=authz.cert_a) as c:
            other = c.post("/auth/token", data=form)
    assert issued.status_code == 200, issued.text
    assert other.status_code == 401
    payload = issued.json()["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    der = _openssl("x509", "-outform", "DER", "-in", str(cert[0]))
    expected = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert claims["cnf"] == {"x5t#S256": expected}
