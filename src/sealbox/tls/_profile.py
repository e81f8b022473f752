"""The RFC 5280 profile of the certificates a sealbox CA makes: their extensions, signed.

The root is a CA with path length 0 that signs certificates and CRLs; leaves are not
CAs, sign with their key only, and name one purpose (serverAuth or clientAuth). Both
carry subject and authority key identifiers. Validity starts :data:`BACKDATE` early,
so that a peer whose clock is a little behind accepts a certificate issued just now.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from sealbox.exceptions import ConfigError

__all__ = ["BACKDATE", "ca_problem", "check_days", "leaf_certificate", "root_certificate"]

BACKDATE: Final = timedelta(minutes=5)


def check_days(days: int, maximum: int, what: str) -> None:
    """Refuse a lifetime (in days) outside 1 to ``maximum``."""
    if not isinstance(days, int) or isinstance(days, bool):
        raise TypeError("days must be an int")
    if not 1 <= days <= maximum:
        raise ConfigError(f"the lifetime of {what} must be 1 to {maximum} days, not {days}")


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def root_certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    moment: datetime,
    days: int,
    constraints: x509.NameConstraints | None,
) -> x509.Certificate:
    """A self-signed root for ``key``, valid from ``moment`` for ``days``."""
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - BACKDATE)
        .not_valid_after(moment + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    if constraints is not None:
        # RFC 5280 section 4.2.1.10: conforming CAs MUST mark this extension critical.
        builder = builder.add_extension(constraints, critical=True)
    return builder.sign(key, hashes.SHA256())


def leaf_certificate(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    key: ec.EllipticCurvePrivateKey,
    *,
    subject: x509.Name,
    purpose: x509.ObjectIdentifier,
    moment: datetime,
    not_after: datetime,
    san: tuple[x509.SubjectAlternativeName, bool] | None,
) -> x509.Certificate:
    """A leaf for ``key`` with one extended key usage, signed by ``ca_key``."""
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(max(moment - BACKDATE, ca.not_valid_before_utc))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
    )
    if san is not None:
        builder = builder.add_extension(san[0], critical=san[1])
    return builder.sign(ca_key, hashes.SHA256())


def ca_problem(ca: x509.Certificate) -> str | None:
    """What keeps ``ca`` from issuing leaves that verify (None: nothing).

    A CA made elsewhere (``openssl req -x509``) may lack what this profile needs: without
    a subject key identifier its leaves get no authority key identifier, and without
    keyCertSign it may not sign them; strict verifiers (OpenSSL's X509_STRICT, which
    sealbox's contexts set) refuse both.
    """
    extensions = ca.extensions
    try:
        is_ca = extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        return "is not a CA certificate (it has no basicConstraints with CA true)"
    try:
        extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return "has no subjectKeyIdentifier: strict verifiers refuse the CA and its leaves"
    try:
        signs = extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    except x509.ExtensionNotFound:
        return "has no keyUsage: strict verifiers refuse the CA and its leaves"
    if not signs:
        return "has a keyUsage without keyCertSign: it may not sign certificates"
    return None
