"""A CA's folder: writing and reading ``ca.key`` and ``ca.crt`` as a pair, and the refusal
of a folder that holds a CA, or part of one.

A CA is written as a pair, ``ca.key`` renamed into place first, then ``ca.crt``; Ctrl-C
and SIGTERM wait until both are in place, but a process killed otherwise between the
two renames (SIGKILL, a power cut) leaves the key alone. Such a folder is named as what
it is (code ``ca_incomplete``), never taken for a CA nor for an empty folder: the key
may also be one whose certificate was deleted, and sealbox never removes a key that
may have signed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sealbox._util.files import atomic_write_group, make_folder
from sealbox._util.locks import locked
from sealbox.exceptions import ConfigError, SealboxError, StorageError, TLSConfigError
from sealbox.hazmat.kdf import ScryptParams, passphrase_bytes
from sealbox.keys import pkcs8 as _pkcs8
from sealbox.tls import _load, _profile
from sealbox.tls._load import Password

__all__ = [
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "check_free",
    "lone_key",
    "read",
    "read_certificate",
    "write",
]

CA_CERT_FILE: Final = "ca.crt"
CA_KEY_FILE: Final = "ca.key"

_E = TypeVar("_E", bound=SealboxError)


def check_free(folder: Path) -> None:
    """Refuse a folder that holds a CA (``ca.crt``), or a CA key without its certificate.

    Raises:
        StorageError: ``ca.crt`` exists; code ``ca_incomplete``: ``ca.key`` alone.
    """
    error = lone_key(folder, StorageError)
    if error is not None:
        raise error
    for path in (folder / CA_CERT_FILE, folder / CA_KEY_FILE):
        if path.exists():
            raise StorageError(
                f"{folder} already holds a CA ({path.name} exists)",
                hint="choose another folder: replacing a CA breaks every certificate it issued",
            )


def lone_key(folder: Path, error: type[_E]) -> _E | None:
    """The error for ``ca.key`` without ``ca.crt`` beside it, or None.

    A creation in progress holds the pair's lock between its two renames: the key is
    called alone only once the lock is free and the certificate still missing.
    """
    cert_path, key_path = folder / CA_CERT_FILE, folder / CA_KEY_FILE
    if cert_path.exists() or not key_path.exists():
        return None
    with locked(cert_path):
        if cert_path.exists():
            return None
    return error(
        f"{folder} holds a CA key without its certificate ({CA_CERT_FILE} is missing)",
        hint=f"if creating the CA was interrupted, no certificate was issued with the key: "
        f"delete {key_path} and create the CA again; if {CA_CERT_FILE} was deleted, put it "
        "back (it is the last certificate of every certificate file the CA wrote)",
        code="ca_incomplete",
        facts={"folder": str(folder), "key": str(key_path)},
    )


def write(
    folder: Path,
    key: ec.EllipticCurvePrivateKey,
    certificate_pem: bytes,
    passphrase: Password | None,
    kdf: ScryptParams,
) -> None:
    """Write ``ca.key`` (mode 0600, encrypted with ``passphrase`` if given) and ``ca.crt``
    into ``folder`` (created if missing), as a pair, under the pair's lock.

    Raises:
        StorageError: the folder holds a CA or its key alone, or cannot be written.
        ConfigError: an empty passphrase.
    """
    cert_path, key_path = folder / CA_CERT_FILE, folder / CA_KEY_FILE
    check_free(folder)
    make_folder(folder)  # 0700, the parents made for it too, whatever the umask
    if passphrase is None:
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    else:
        secret = passphrase_bytes(passphrase)
        if not secret:
            raise ConfigError("the CA key passphrase is empty")
        key_pem = _pkcs8.encrypt_pem(key, secret, kdf)
    with locked(cert_path):
        check_free(folder)  # again: another writer may have been first
        atomic_write_group(
            [(key_path, key_pem, 0o600), (cert_path, certificate_pem, 0o644)],
            overwrite=False,
        )


def read(
    folder: Path, passphrase: Password | None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA certificate and key in ``folder``, checked to be a CA and its key.

    Raises:
        TLSConfigError: no CA there (``ca_missing``, or ``ca_incomplete``), a damaged
            file, a missing or wrong passphrase, or a key and certificate that differ.
    """
    certificate = read_certificate(folder)
    cert_path = folder / CA_CERT_FILE
    key = _load.load_private_key(folder / CA_KEY_FILE, passphrase, "CA key")
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TLSConfigError(f"{folder / CA_KEY_FILE} is not an ECDSA key")
    if certificate.public_key() != key.public_key():
        raise TLSConfigError(f"{folder / CA_KEY_FILE} is not the key of {cert_path}")
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        raise TLSConfigError(
            f"{cert_path} is damaged: its self-signature does not verify"
        ) from None
    return certificate, key


def read_certificate(folder: Path) -> x509.Certificate:
    """The CA certificate in ``folder`` (its key is not read).

    Raises:
        TLSConfigError: no CA there (``ca_missing``, or ``ca_incomplete``), a damaged
            file, or a certificate that is no CA's.
    """
    cert_path = folder / CA_CERT_FILE
    incomplete = lone_key(folder, TLSConfigError)
    if incomplete is not None:
        raise incomplete
    if not cert_path.exists():
        raise TLSConfigError(
            f"{folder} holds no CA ({CA_CERT_FILE} is missing)",
            hint="create one with CertificateAuthority.init",
            code="ca_missing",
            facts={"folder": str(folder)},
        )
    certificate = _load.load_certificates(cert_path, "CA certificate")[0]
    problem = _profile.ca_problem(certificate)
    if problem is not None:
        raise TLSConfigError(f"CA certificate {cert_path} {problem}")
    return certificate
