"""ClientIdentity reads a client certificate as OpenSSL prints it."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from sealbox.service.server import ClientIdentity
from sealbox.tls.ca import CertificateAuthority
from tests.conftest import require_tool


def test_identity_fields_match_what_openssl_prints(tmp_path: Path) -> None:
    ca = CertificateAuthority.generate(name="identity test CA")
    for i in range(8):  # serials of every length parity
        cert_file, _ = ca.issue_client(f"svc-{i}").write(tmp_path / f"c{i}")
        leaf = x509.load_pem_x509_certificates(cert_file.read_bytes())[0]
        single = tmp_path / f"leaf{i}.pem"
        single.write_bytes(leaf.public_bytes(Encoding.PEM))
        printed = subprocess.run(
            [require_tool("openssl"), "x509", "-noout", "-serial", "-enddate", "-in", single],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        fields = dict(line.split("=", 1) for line in printed.splitlines())
        ident = ClientIdentity.from_certificate(leaf)
        assert ident.serial == fields["serial"]
        assert ident.not_after == fields["notAfter"]
        assert ident.common_name == f"svc-{i}"
        assert ident.dns_names == (f"svc-{i}",)
        assert ident.issuer == "identity test CA"
        assert ident.fingerprint == hashlib.sha256(leaf.public_bytes(Encoding.DER)).hexdigest()
