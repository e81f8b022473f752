"""What a renewal must keep: the checks that it copies a certificate's identity exactly.

A renewed certificate keeps the subject and the subjectAltName byte for byte and the
extended key usage; everything else follows sealbox's leaf profile. A certificate with
more than that profile can carry (two purposes, an extension the profile does not
write, a subject pyca cannot read) is refused with code ``renewal_unsupported``.
"""

from __future__ import annotations

from typing import Final

from cryptography import x509

from sealbox.exceptions import TLSConfigError

__all__ = ["check_renewable", "check_same_identity", "readable_subject", "subject_text"]

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
