"""A ``tls_client_auth`` subject copied from ``openssl x509 -noout -subject -nameopt
RFC2253`` (as docs/clients.md says to) names the certificate's subject as the TLS layer
prints it (cryptography's ``rfc4514_string``), whatever attributes it has; and a value
written as RFC 4514's ``#`` hex (the BER of the value) is that value, never the text."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier

from sealbox.accounts.subject_dn import subject_dn_key

A = x509.NameAttribute
KEY = ec.generate_private_key(ec.SECP256R1())
TEAM = ObjectIdentifier("1.3.6.1.4.1.99999.1")  # a private attribute OpenSSL has no name for


def _openssl_subject(name: x509.Name) -> str:
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(KEY.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(KEY, hashes.SHA256())
    )
    printed = subprocess.run(
        ["openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253"],
        input=cert.public_bytes(serialization.Encoding.PEM),
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    return printed.removesuffix("\n").removeprefix("subject=")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize(
    "attributes",
    [
        [  # types OpenSSL prints by names of its own
            A(NameOID.PSEUDONYM, "p"),
            A(NameOID.ORGANIZATION_IDENTIFIER, "VATDE-123"),
            A(NameOID.BUSINESS_CATEGORY, "Private Organization"),
            A(NameOID.JURISDICTION_COUNTRY_NAME, "DE"),
            A(NameOID.INITIALS, "JD"),
            A(NameOID.DN_QUALIFIER, "q"),
            A(NameOID.GENERATION_QUALIFIER, "III"),
            A(NameOID.COMMON_NAME, "worker"),
        ],
        [A(TEAM, "team-7"), A(NameOID.COMMON_NAME, "worker")],  # printed as #BER by OpenSSL
        [A(TEAM, "team", _ASN1Type.PrintableString)],
        [A(TEAM, "tëam", _ASN1Type.BMPString)],
        [A(TEAM, "tëam", _ASN1Type.UniversalString)],
    ],
)
def test_the_subject_openssl_prints_names_the_certificate(attributes: list[A]) -> None:
    name = x509.Name(attributes)
    assert subject_dn_key(_openssl_subject(name)) == subject_dn_key(name.rfc4514_string())


def test_a_hex_value_is_the_string_its_ber_encodes_not_that_text() -> None:
    utf8_a = "#0C0161"  # UTF8String "a"
    assert subject_dn_key(f"CN={utf8_a}") == subject_dn_key("CN=a")
    assert subject_dn_key("CN=#130161") == subject_dn_key("CN=A")  # PrintableString
    assert subject_dn_key(f"CN={utf8_a}") != subject_dn_key(rf"CN=\{utf8_a}")
    # Not a string's BER: a value of its own, equal to no string, not even its spelling.
    assert subject_dn_key("UID=#0301ff") != subject_dn_key(r"UID=\#0301ff")
    assert subject_dn_key("UID=#0301FF") == subject_dn_key("uid=#0301ff")


@pytest.mark.parametrize("text", ["CN=#0C02", "CN=#0C016161", "CN=#0Cff61", "CN=#0C01ff"])
def test_a_hex_value_whose_ber_does_not_hold_together_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="distinguished name"):
        subject_dn_key(text)


def test_a_value_that_is_no_strings_ber_equals_no_string_value() -> None:
    assert subject_dn_key("UID=#0301ff") != subject_dn_key(r"UID=\00#0301ff")
    assert subject_dn_key("UID=#0301ff") != subject_dn_key(r"UID=\00\#0301ff")
