"""`sealbox ca inspect --json`, for scripts: every name a certificate holds (URIs such as
SPIFFE IDs too) and a name-constrained CA's subtrees, typed as the text output and
`openssl x509 -text` type them, the excluded ones included."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sealbox.tls.ca import CertificateAuthority
from sealbox.tls.certinfo import CertificateInfo


def test_json_of_a_constrained_ca_types_its_subtrees_and_lists_the_excluded(tmp_path, cli):
    CertificateAuthority.init(tmp_path / "ca", name="Typed CA", permitted_dns=["corp.test"])
    result = cli(["ca", "inspect", tmp_path / "ca" / "ca.crt", "--json"])
    assert result.code == 0, result.stderr
    doc = json.loads(result.stdout)
    # A DNS domain and a mailbox subtree of the same domain read alike untyped.
    assert doc["permitted_subtrees"] == ["DNS:corp.test", "email:corp.test", "email:.corp.test"]
    # With DNS names only, every address is shut: a script must be able to see it.
    assert doc["excluded_subtrees"] == ["IP:0.0.0.0/0", "IP:::/0"]
    text = cli(["ca", "inspect", tmp_path / "ca" / "ca.crt"]).out
    assert "DNS:corp.test, email:corp.test, email:.corp.test" in text
    assert "IP:0.0.0.0/0, IP:::/0" in text


def test_json_of_a_certificate_lists_its_uri_names(tmp_path, cli):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "worker")])
    now = datetime.now(UTC)
    spiffe = "spiffe://corp.test/ns/billing/sa/worker"
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("worker.corp.test"), x509.UniformResourceIdentifier(spiffe)]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    assert CertificateInfo.from_certificate(cert).uris == (spiffe,)
    path = tmp_path / "worker.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    result = cli(["ca", "inspect", path, "--json"])
    assert result.code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["uris"] == [spiffe]
    assert doc["dns_names"] == ["worker.corp.test"]
    text = cli(["ca", "inspect", path]).out
    assert f"DNS:worker.corp.test, URI:{spiffe}" in text
