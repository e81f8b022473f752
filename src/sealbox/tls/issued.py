"""What a certificate authority issues: the certificate with its key, its kind, its renewal.

:class:`IssuedCertificate` holds a fresh leaf with its chain and private key and writes
them as a pair; :func:`certificate_kind` tells a CA, a server and a client certificate
apart; :func:`needs_renewal` says when two thirds of a lifetime have passed.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import enum
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from sealbox._util.files import atomic_write_group, file_exists_error, make_folder
from sealbox._util.locks import locked
from sealbox.exceptions import ConfigError
from sealbox.tls.pinning import spki_pin

__all__ = [
    "RENEW_FRACTION",
    "CertificateKind",
    "IssuedCertificate",
    "certificate_kind",
    "needs_renewal",
    "prefix_paths",
    "renewal_time",
]

RENEW_FRACTION: Final = 2 / 3
"""Certificates are renewed once this fraction of their lifetime has passed (20 days of 30)."""


class CertificateKind(enum.StrEnum):
    """What a certificate is for, as sealbox issues them."""

    CA = "ca"
    SERVER = "server"
    CLIENT = "client"


@dataclass(frozen=True, repr=False)
class IssuedCertificate:
    """A certificate just issued, with its chain and its private key.

    Attributes:
        certificate: the leaf certificate.
        chain: the CA certificate(s) above it, nearest first.
        private_key: the leaf's key. It leaves this object only through
            :meth:`private_key_pem` or :meth:`write`.
    """

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    private_key: ec.EllipticCurvePrivateKey = field(compare=False)

    def __repr__(self) -> str:
        return (
            f"IssuedCertificate(subject={self.certificate.subject.rfc4514_string()!r}, "
            f"not_after={self.certificate.not_valid_after_utc.isoformat()!r}, pin={self.pin!r})"
        )

    def __reduce__(self) -> NoReturn:
        raise TypeError("IssuedCertificate holds a private key and cannot be pickled")

    @property
    def pin(self) -> str:
        """The SPKI pin of the certificate's key (``sha256//BASE64``)."""
        return spki_pin(self.certificate)

    def certificate_pem(self) -> bytes:
        """The leaf then the chain, PEM: what a server or client presents."""
        return b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in (self.certificate, *self.chain)
        )

    def private_key_pem(self) -> bytes:
        """The private key, PKCS#8 PEM, unencrypted (servers load it unattended)."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def write(
        self, prefix: str | os.PathLike[str], *, overwrite: bool = False
    ) -> tuple[Path, Path]:
        """Write ``PREFIX.crt`` (mode 0644) and ``PREFIX.key`` (mode 0600) as a pair.

        Both files are written and flushed to disk before either replaces an old
        one, under the pair's lock: a failure (a full disk) leaves the old pair as
        it was, and two writers at once never mix their keys and certificates.
        A rewrite keeps the mode, owner and group of each file it replaces. A missing
        folder is created (mode 0700: it holds a private key).

        Returns:
            The paths of the certificate and the key.

        Raises:
            StorageError: a file exists and ``overwrite`` is false (nothing is
                written then), or the folder cannot be written.
        """
        cert_path, key_path = prefix_paths(prefix)
        make_folder(cert_path.parent)
        with locked(cert_path):
            if not overwrite:
                for path in (cert_path, key_path):
                    if path.exists():
                        raise file_exists_error(path)
            # The key first: a reader that sees the new certificate finds its key in place.
            atomic_write_group(
                [
                    (key_path, self.private_key_pem(), 0o600),
                    (cert_path, self.certificate_pem(), 0o644),
                ],
                overwrite=overwrite,
            )
        return cert_path, key_path


def certificate_kind(certificate: x509.Certificate) -> CertificateKind | None:
    """Classify a certificate as a CA, a server or a client certificate (None: neither).

    A leaf allowing both serverAuth and clientAuth counts as a server certificate.
    """
    ext = certificate.extensions
    with contextlib.suppress(x509.ExtensionNotFound):
        if ext.get_extension_for_class(x509.BasicConstraints).value.ca:
            return CertificateKind.CA
    try:
        usages = list(ext.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None
    if ExtendedKeyUsageOID.SERVER_AUTH in usages:
        return CertificateKind.SERVER
    if ExtendedKeyUsageOID.CLIENT_AUTH in usages:
        return CertificateKind.CLIENT
    return None


def renewal_time(certificate: x509.Certificate) -> datetime:
    """When two thirds of the certificate's lifetime will have passed."""
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    return start + (end - start) * RENEW_FRACTION


def needs_renewal(certificate: x509.Certificate, *, now: datetime | None = None) -> bool:
    """Whether a certificate is past two thirds of its lifetime (or expired)."""
    return now_utc(now) >= renewal_time(certificate)


def now_utc(now: datetime | None) -> datetime:
    """``now`` (or the current time) in UTC, to the second; naive datetimes are refused."""
    if now is None:
        return datetime.now(UTC).replace(microsecond=0)
    if now.tzinfo is None:
        raise ConfigError("now must be a timezone-aware datetime")
    return now.astimezone(UTC).replace(microsecond=0)


def prefix_paths(prefix: str | os.PathLike[str]) -> tuple[Path, Path]:
    base = os.fspath(prefix)
    if not base or base.endswith(("/", os.sep)):
        raise ConfigError(f"output prefix {base!r} must name a file, e.g. tls/server")
    return Path(base + ".crt"), Path(base + ".key")
