"""What a certificate says: subject, names, validity, fingerprints and pin, for people and JSON.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from sealbox.exceptions import ConfigError
from sealbox.tls import _load
from sealbox.tls.ca import certificate_kind, renewal_time
from sealbox.tls.pinning import spki_pin

__all__ = ["CertificateInfo", "certificates_from_bytes", "load_certificates"]

_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def load_certificates(path: str | os.PathLike[str]) -> list[x509.Certificate]:
    """Read a PEM bundle (leaf first, then its chain) or a DER certificate.

    Raises:
        TLSConfigError: the file is missing, unreadable or holds no certificate.
    """
    return _load.load_certificates(path, "certificate file")


def certificates_from_bytes(data: bytes, source: str = "the input") -> list[x509.Certificate]:
    """The certificates of a PEM bundle or a DER certificate held in ``data``.

    ``source`` names where ``data`` came from in error messages.

    Raises:
        TLSConfigError: ``data`` holds no certificate.
    """
    return _load.parse_certificates(data, source)


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """The facts of one certificate that matter when deploying or debugging TLS.

    Attributes:
        subject, issuer: distinguished names (RFC 4514 strings).
        serial: the serial number, hexadecimal with colons.
        kind: ``ca``, ``server``, ``client`` or ``None`` (see
            :func:`sealbox.tls.ca.certificate_kind`).
        dns_names, ip_addresses, emails, uris: the ``subjectAltName`` entries (URIs
            such as SPIFFE IDs).
        not_before, not_after: the validity period (UTC).
        renew_after: when two thirds of the lifetime have passed.
        key_type: e.g. ``ECDSA P-256``, ``RSA 2048``.
        sha256, sha1: fingerprints of the whole certificate (hex with colons, as
            ``openssl x509 -fingerprint`` prints them).
        pin: the SPKI pin, ``sha256//BASE64``.
        permitted_names: for a name-constrained CA, its permitted subtrees.
        permitted_subtrees, excluded_subtrees: a name-constrained CA's subtrees, each
            with its type as ``openssl x509 -text`` writes it (``DNS:corp.test``,
            ``IP:10.0.0.0/8``, ``email:.corp.test``).
    """

    subject: str
    issuer: str
    serial: str
    kind: str | None
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    emails: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    renew_after: datetime
    key_type: str
    sha256: str
    sha1: str
    pin: str
    permitted_names: tuple[str, ...]
    permitted_subtrees: tuple[str, ...] = ()
    excluded_subtrees: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()

    @classmethod
    def from_certificate(cls, certificate: x509.Certificate) -> CertificateInfo:
        """Describe ``certificate``."""
        dns: tuple[str, ...] = ()
        ips: tuple[str, ...] = ()
        emails: tuple[str, ...] = ()
        uris: tuple[str, ...] = ()
        try:
            san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            pass
        else:
            dns = tuple(san.get_values_for_type(x509.DNSName))
            ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
            emails = tuple(san.get_values_for_type(x509.RFC822Name))
            uris = tuple(san.get_values_for_type(x509.UniformResourceIdentifier))
        permitted: tuple[str, ...] = ()
        subtrees: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        try:
            nc = certificate.extensions.get_extension_for_class(x509.NameConstraints).value
        except x509.ExtensionNotFound:
            pass
        else:
            permitted = tuple(str(t.value) for t in nc.permitted_subtrees or ())
            subtrees = (
                tuple(_typed(t) for t in nc.permitted_subtrees or ()),
                tuple(_typed(t) for t in nc.excluded_subtrees or ()),
            )
        kind = certificate_kind(certificate)
        with _load.quiet_encoding_warnings():
            serial = certificate.serial_number
        return cls(
            subject=_name_text(lambda: certificate.subject),
            issuer=_name_text(lambda: certificate.issuer),
            serial=_colons(f"{serial:x}".rjust(2, "0")),
            kind=None if kind is None else kind.value,
            dns_names=dns,
            ip_addresses=ips,
            emails=emails,
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            renew_after=renewal_time(certificate),
            key_type=_key_type(certificate),
            sha256=_colons(certificate.fingerprint(hashes.SHA256()).hex()),
            # SHA-1 only as a display fingerprint, for tools that still show it.
            sha1=_colons(certificate.fingerprint(hashes.SHA1()).hex()),  # noqa: S303 - display only
            pin=spki_pin(certificate),
            permitted_names=permitted,
            permitted_subtrees=subtrees[0],
            excluded_subtrees=subtrees[1],
            uris=uris,
        )

    def expired(self, now: datetime | None = None) -> bool:
        """Whether the certificate is past its ``not_after``.

        Raises:
            ConfigError: ``now`` is a naive datetime.
        """
        if now is not None and now.tzinfo is None:
            raise ConfigError("now must be a timezone-aware datetime")
        return (now or datetime.now(UTC)) > self.not_after

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """A JSON-ready dict (times in ISO 8601 UTC, ``expired`` computed at ``now``)."""
        moment = now or datetime.now(UTC)
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "kind": self.kind,
            "dns_names": list(self.dns_names),
            "ip_addresses": list(self.ip_addresses),
            "emails": list(self.emails),
            "uris": list(self.uris),
            "not_before": _iso(self.not_before),
            "not_after": _iso(self.not_after),
            "renew_after": _iso(self.renew_after),
            "expired": self.expired(moment),
            "key_type": self.key_type,
            "fingerprints": {"sha256": self.sha256, "sha1": self.sha1},
            "pin": self.pin,
            "permitted_names": list(self.permitted_names),
            # Typed as `openssl x509 -text` types them: `permitted_names` alone cannot tell
            # a DNS subtree from a mailbox one, and shows no excluded subtree.
            "permitted_subtrees": list(self.permitted_subtrees),
            "excluded_subtrees": list(self.excluded_subtrees),
        }


def _key_type(certificate: x509.Certificate) -> str:
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {_CURVES.get(key.curve.name, key.curve.name)}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    return type(key).__name__


# The types as ``openssl x509 -text`` names them: a DNS domain and a mailbox subtree of
# the same domain read alike without them.
_SUBTREE_TYPES: Final = {
    x509.DNSName: "DNS",
    x509.IPAddress: "IP",
    x509.RFC822Name: "email",
    x509.UniformResourceIdentifier: "URI",
}


def _typed(subtree: x509.GeneralName) -> str:
    kind = _SUBTREE_TYPES.get(type(subtree))
    if kind is None:
        return type(subtree).__name__
    return f"{kind}:{subtree.value}"


def _colons(hex_digits: str) -> str:
    if len(hex_digits) % 2:
        hex_digits = "0" + hex_digits
    return ":".join(hex_digits[i : i + 2] for i in range(0, len(hex_digits), 2)).upper()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: What a name pyca cannot decode is shown as (a T61String of Latin-1 bytes, say).
UNREADABLE_NAME: Final = "(a name in an encoding sealbox cannot read, such as T61String)"


def _name_text(name: Callable[[], x509.Name]) -> str:
    """A distinguished name as RFC 4514 writes it, or :data:`UNREADABLE_NAME`: the rest of
    the certificate is still worth showing."""
    try:
        return name().rfc4514_string()
    except ValueError:
        return UNREADABLE_NAME
