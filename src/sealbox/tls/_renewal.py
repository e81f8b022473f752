"""What a renewal must keep: the checks that it copies a certificate's identity exactly.

A renewed certificate keeps the subject and the subjectAltName byte for byte and the
extended key usage; everything else follows sealbox's leaf profile. A certificate with
more than that profile can carry (two purposes, an extension the profile does not
write, a subject pyca cannot read) is refused with code ``renewal_unsupported``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from sealbox.exceptions import TLSConfigError

__all__ = [
    "check_issued",
    "check_renewable",
    "check_same_identity",
    "check_within_ca",
    "issuer_text",
    "p256_key",
    "readable_subject",
    "subject_text",
    "wrong_ca_hint",
]

_RENEW_ELSEWHERE: Final = (
    "issue a new certificate with the CA, or renew this one with the tool that made it"
)
# What sealbox's profile writes into a leaf; a renewal rebuilds these and keeps the SAN.
_PROFILE_EXTENSIONS: Final = frozenset(
    {
        x509.BasicConstraints.oid,
        x509.KeyUsage.oid,
        x509.ExtendedKeyUsage.oid,
        x509.SubjectKeyIdentifier.oid,
        x509.AuthorityKeyIdentifier.oid,
        x509.SubjectAlternativeName.oid,
    }
)


def check_renewable(certificate: x509.Certificate, purpose: x509.ObjectIdentifier) -> None:
    """Refuse a certificate whose renewal would differ in more than key, serial and dates."""
    subject = certificate.subject.rfc4514_string()
    try:
        usages = list(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = []  # any usage: a renewal would narrow it to one
    if usages != [purpose]:
        names = ", ".join(_oid_name(u) for u in usages) or "of any kind (none is named)"
        raise TLSConfigError(
            f"cannot renew {subject}: it has the extended key usages {names}, and a "
            f"sealbox renewal carries only {_oid_name(purpose)}",
            hint=_RENEW_ELSEWHERE,
            code="renewal_unsupported",
        )
    foreign = [_oid_name(e.oid) for e in certificate.extensions if e.oid not in _PROFILE_EXTENSIONS]
    if foreign:
        raise TLSConfigError(
            f"cannot renew {subject}: a sealbox renewal would drop its "
            f"{', '.join(foreign)} extension{'s' if len(foreign) > 1 else ''}",
            hint=_RENEW_ELSEWHERE,
            code="renewal_unsupported",
        )


def check_within_ca(ca: x509.Certificate, moment: datetime, days: int) -> None:
    """Refuse a renewal of ``days`` from ``moment`` that would outlive its CA (an expired
    CA is left to the issuing, which names it so).

    A renewal keeps the certificate's lifetime: none shorter is asked for, so the way out
    is a new CA, never fewer days.
    """
    end = ca.not_valid_after_utc
    if moment <= end < moment + timedelta(days=days):
        raise TLSConfigError(
            f"cannot renew for {days} days: the CA expires on {end:%Y-%m-%d}, before the "
            "renewed certificate would",
            hint="create a new CA, have clients and servers trust its certificate, and issue "
            "this certificate with it",
            code="ca_expires_first",
            facts={
                "ca_not_after": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "days": str(days),
            },
        )


def check_same_identity(old: x509.Certificate, new: x509.Certificate) -> None:
    """Refuse a renewal whose subject or subjectAltName would not be the same bytes."""
    same_subject = new.subject.public_bytes() == old.subject.public_bytes()
    if not same_subject or _san_bytes(old) != _san_bytes(new):
        raise TLSConfigError(
            f"cannot renew {old.subject.rfc4514_string()}: its "
            f"{'subject' if not same_subject else 'subjectAltName'} cannot be copied exactly",
            hint=_RENEW_ELSEWHERE,
            code="renewal_unsupported",
        )


def _san_bytes(certificate: x509.Certificate) -> bytes | None:
    try:
        ext = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    return ext.value.public_bytes() + (b"\x01" if ext.critical else b"\x00")


_CURVES: Final = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def p256_key(
    key: PrivateKeyTypes, path: Path, prefix: str | os.PathLike[str]
) -> ec.EllipticCurvePrivateKey:
    """``key`` if it is an ECDSA P-256 key (what sealbox signs for), else the error that
    says what it is and to renew with a new key (code ``renewal_key_type``)."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        kind = f"an ECDSA {_CURVES.get(key.curve.name, key.curve.name)} key"
    elif isinstance(key, rsa.RSAPrivateKey):
        kind = f"an RSA {key.key_size}-bit key"
    else:
        name = type(key).__name__.removeprefix("_").removesuffix("PrivateKey")
        kind = f"{'an' if name[:1] in 'AEIO' else 'a'} {name} key"
    raise TLSConfigError(
        f"{path} is {kind}: sealbox renews certificates of ECDSA P-256 keys only",
        hint="give the certificate a new P-256 key (a renewal with a new key; its pin changes)",
        code="renewal_key_type",
        facts={"prefix": os.fspath(prefix)},
    )


def check_issued(certificate: x509.Certificate, ca: x509.Certificate) -> None:
    """Refuse a certificate ``ca`` did not sign (code ``wrong_ca``, facts ``issuer``
    and ``ca``), with the CA to renew it with."""
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        name = ca.subject.rfc4514_string()
        raise TLSConfigError(
            f"{subject_text(certificate)} was not issued by this CA ({name})",
            hint=wrong_ca_hint(certificate, ca),
            code="wrong_ca",
            facts={"issuer": issuer_text(certificate), "ca": name},
        ) from None


def issuer_text(certificate: x509.Certificate) -> str:
    try:
        return certificate.issuer.rfc4514_string()
    except ValueError:
        return "an issuer whose name cannot be read"


def wrong_ca_hint(certificate: x509.Certificate, ca: x509.Certificate) -> str:
    """What to do with a certificate ``ca`` did not sign: renew it with its own CA.

    Its issuer's name says which CA that is, unless it is this CA's name too: then the
    CA was created again (a new key under the same name, the default one say).
    """
    issuer = issuer_text(certificate)
    if issuer != ca.subject.rfc4514_string():
        return f"it was issued by {issuer}: renew it with that CA"
    return (
        f"it was issued by another CA of the same name ({issuer}; a CA created again has a "
        "new key): renew it with the CA that issued it, or issue a new certificate with this one"
    )


def subject_text(certificate: x509.Certificate) -> str:
    try:
        return certificate.subject.rfc4514_string()
    except ValueError:
        return "the certificate (its subject cannot be read)"


def _oid_name(oid: x509.ObjectIdentifier) -> str:
    name = oid._name  # pyca's short name (serverAuth): the one users know
    return oid.dotted_string if name == "Unknown OID" else name


def readable_subject(certificate: x509.Certificate) -> x509.Name:
    """The certificate's subject, or a TLSConfigError if pyca cannot read it."""
    try:
        return certificate.subject
    except ValueError:
        # A T61String holding bytes beyond ASCII, say: pyca reads no such name.
        raise TLSConfigError(
            "cannot renew the certificate: its subject uses an encoding that cannot be read here",
            hint=_RENEW_ELSEWHERE,
            code="renewal_unsupported",
        ) from None
