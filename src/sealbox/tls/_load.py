"""Reading certificate and key files, with errors that say which file and what is wrong."""

from __future__ import annotations

import contextlib
import os
import shlex
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.utils import CryptographyDeprecationWarning

from sealbox._util.files import os_reason
from sealbox._util.pem import begin_line
from sealbox.exceptions import ConfigError, TLSConfigError
from sealbox.hazmat.kdf import passphrase_bytes
from sealbox.secret import Secret

# Certificate bundles and key files are small; a larger file is not one of them.
MAX_PEM_FILE = 1024 * 1024

Password = str | bytes | Secret[Any]


def read_file(path: str | os.PathLike[str], what: str) -> bytes:
    """Read a small PEM or DER file, turning every failure into a TLSConfigError."""
    if not isinstance(path, str | bytes | os.PathLike):
        # open() takes an int as a file descriptor: it would read, then close, one the
        # caller still owns (stdin, a socket) instead of refusing the mistake.
        raise TypeError(
            f"the {what} must be a path (str or os.PathLike), not {type(path).__name__}"
        )
    try:
        with open(path, "rb") as fh:  # noqa: PTH123 - path may be any PathLike
            data = fh.read(MAX_PEM_FILE + 1)
    except FileNotFoundError:
        raise TLSConfigError(f"{what} {os.fspath(path)} does not exist") from None
    except IsADirectoryError:
        raise TLSConfigError(f"{what} {os.fspath(path)} is a directory") from None
    except OSError as exc:
        message = os_reason(exc)
        raise TLSConfigError(f"cannot read {what} {os.fspath(path)}: {message}") from None
    if len(data) > MAX_PEM_FILE:
        raise TLSConfigError(f"{what} {os.fspath(path)} is larger than {MAX_PEM_FILE} bytes")
    return data


def parse_certificates(
    data: bytes, source: str, *, path: str | None = None
) -> list[x509.Certificate]:
    """Parse every certificate of a PEM bundle, or one DER certificate.

    ``path``, the file the data came from, is named in the error's facts and hint
    (code ``certificate_unparsable``).

    The parts pyca parses lazily (the public key, the extensions) are parsed here
    too, so a damaged certificate is refused now with the file's name, not later
    with a bare ValueError. pyca's deprecation warnings about a certificate's encoding
    (a root of the system's bundle with a serial number that is not positive) are not
    passed on: the user can do nothing about them, and sealbox's checks decide.
    """
    with quiet_encoding_warnings():
        return _parse_certificates(data, source, path)


@contextlib.contextmanager
def quiet_encoding_warnings() -> Iterator[None]:
    """Hold back pyca's deprecation warnings about a certificate's encoding (a serial
    number that is not positive), given when it is parsed and each time the serial is
    read: for a certificate someone else made (a peer's, a system root), nobody running
    sealbox can act on one, and it would land in the service's log on every request."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        yield


def _parse_certificates(data: bytes, source: str, path: str | None) -> list[x509.Certificate]:
    def unparsable(what: str, *, advise: bool = True) -> TLSConfigError:
        return _unparsable(f"{source} {what}", "certificate_unparsable", path, advise=advise)

    if b"-----BEGIN" in data:
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise unparsable("holds no PEM certificate")
        try:
            certificates = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise unparsable("holds a PEM certificate that cannot be parsed") from None
    else:
        try:
            certificates = [x509.load_der_x509_certificate(data)]
        except ValueError:
            # Neither text nor a certificate: the message says all there is to say.
            raise unparsable("is not a PEM or DER certificate", advise=False) from None
    for certificate in certificates:
        try:
            certificate.public_key()
            _ = certificate.extensions
        except (ValueError, UnsupportedAlgorithm):
            raise unparsable(
                "holds a damaged certificate (its key or extensions do not parse)"
            ) from None
    return certificates


def _unparsable(
    message: str, code: str, path: str | None, *, advise: bool = True
) -> TLSConfigError:
    """A file that is not what it should be, with the openssl command that shows what
    OpenSSL makes of it."""
    if path is None or not advise:
        return TLSConfigError(message, code=code, facts={"path": path} if path else None)
    file = shlex.quote(path)
    if code == "certificate_unparsable":
        hint = (
            f"give the PEM certificate file (-----BEGIN CERTIFICATE-----, the leaf first, "
            f"then its CA certificates); 'openssl x509 -in {file} -noout -text' shows what "
            "OpenSSL reads in it"
        )
    else:
        hint = (
            f"give the PEM private key written with the certificate; 'openssl pkey -in "
            f"{file} -noout' says whether OpenSSL can read it"
        )
    return TLSConfigError(message, hint=hint, code=code, facts={"path": path})


def load_certificates(
    path: str | os.PathLike[str], what: str = "certificate file"
) -> list[x509.Certificate]:
    """Read a certificate file: the first certificate, then any chain after it."""
    data = read_file(path, what)  # first: it refuses a path that is not one
    name = os.fspath(path)
    return parse_certificates(data, f"{what} {name}", path=name)


def is_encrypted_pem(data: bytes) -> bool:
    """Whether a PEM private key is protected by a passphrase (PKCS#8 or legacy OpenSSL)."""
    return begin_line("ENCRYPTED PRIVATE KEY") in data or b"Proc-Type: 4,ENCRYPTED" in data


def parse_private_key(
    data: bytes, source: str, password: Password | None, *, path: str | None = None
) -> PrivateKeyTypes:
    """Parse a PEM private key, decrypting it with ``password`` if it is encrypted.

    ``path``, the file the data came from, is named in the error's facts and hint. The
    messages never contain the password or key material. Codes: ``der_private_key``,
    ``key_encrypted`` (no passphrase), ``wrong_passphrase``, ``key_unparsable``.
    """
    facts = {"path": path} if path is not None else {}
    if b"PRIVATE KEY-----" not in data:
        if _is_der_private_key(data):
            raise TLSConfigError(
                f"{source} is a DER private key; TLS keys are read as PEM",
                hint=_der_key_hint(path),
                code="der_private_key",
                facts=facts,
            )
        raise _unparsable(f"{source} holds no PEM private key", "key_unparsable", path)
    encrypted = is_encrypted_pem(data)
    if encrypted and password is None:
        raise TLSConfigError(
            f"{source} is encrypted and no passphrase was given",
            hint="pass the passphrase (password=...), or use an unencrypted key file",
            code="key_encrypted",
            facts=facts,
        )
    secret = passphrase_bytes(password) if encrypted and password is not None else None
    try:
        return serialization.load_pem_private_key(data, secret)
    except (ValueError, TypeError):
        if encrypted:
            raise TLSConfigError(
                f"cannot decrypt {source}: wrong passphrase, or the file is damaged",
                hint="check the passphrase given for it; if it is the right one, the file "
                "is damaged: restore it from a backup",
                code="wrong_passphrase",
                facts=facts,
            ) from None
        raise _unparsable(
            f"{source} holds a PEM private key that cannot be parsed", "key_unparsable", path
        ) from None
    except UnsupportedAlgorithm:
        raise TLSConfigError(f"{source} holds a private key of an unsupported type") from None


def _is_der_private_key(data: bytes) -> bool:
    # PEM text never starts with an ASN.1 SEQUENCE byte; DER keys always do.
    if not data.startswith(b"\x30"):
        return False
    try:
        serialization.load_der_private_key(data, None)
    except TypeError:  # an encrypted PKCS#8 key: still a DER key
        return True
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


def _der_key_hint(path: str | None) -> str:
    if path is None:
        return "convert it to PEM: openssl pkey -inform DER -in KEY -out KEY.pem"
    pem = shlex.quote(f"{path}.pem")
    return (
        f"convert it to PEM: (umask 077; openssl pkey -inform DER -in {shlex.quote(path)} "
        f"-out {pem}), then give {pem} as the key"
    )


def load_private_key(
    path: str | os.PathLike[str], password: Password | None = None, what: str = "key file"
) -> PrivateKeyTypes:
    """Read and parse a PEM private key file."""
    data = read_file(path, what)  # first: it refuses a path that is not one
    name = os.fspath(path)
    return parse_private_key(data, f"{what} {name}", password, path=name)


def check_validity(cert: x509.Certificate, source: str, now: datetime | None = None) -> None:
    """Refuse a certificate that has expired or is not valid yet."""
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ConfigError("now must be a timezone-aware datetime")
    if cert.not_valid_after_utc < now:
        raise TLSConfigError(
            f"{source} expired on {_when(cert.not_valid_after_utc)}",
            hint="renew it (CertificateAuthority.renew_files for certificates sealbox issued)",
            code="certificate_expired",
        )
    if cert.not_valid_before_utc > now:
        raise TLSConfigError(
            f"{source} is not valid before {_when(cert.not_valid_before_utc)}",
            hint="check the clock of this machine and of the one that issued it",
            code="certificate_not_yet_valid",
        )


def check_key_matches(
    cert: x509.Certificate,
    key: PrivateKeyTypes,
    cert_source: str,
    key_source: str,
    *,
    hint: str = "use the .key file written together with the .crt file",
    code: str | None = None,
    facts: dict[str, str] | None = None,
) -> None:
    """Refuse a private key that is not the key of the certificate (code ``key_mismatch``
    unless ``code`` says otherwise)."""
    if cert.public_key() != key.public_key():
        raise TLSConfigError(
            f"{key_source} does not match the certificate in {cert_source}",
            hint=hint,
            code=code or "key_mismatch",
            facts=facts,
        )


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
