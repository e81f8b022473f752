"""Recipient and identity strings and files, as the age tools read and write them.

A recipients file has one recipient per line (``age1…``, ``age1pq1…``,
``ssh-ed25519 …``, ``ssh-rsa …``) or a PEM public key block (``-----BEGIN PUBLIC
KEY-----``, an RSA or Ed25519 key as ``openssl pkey -pubout`` writes it, which is
the ``ssh-rsa`` or ``ssh-ed25519`` recipient of the same key); an identities file
one identity per line (``AGE-SECRET-KEY-1…``, ``AGE-SECRET-KEY-PQ-1…``). In both, empty lines and
lines starting with ``#`` are ignored. An identity file may also be an SSH
private key, or an age file encrypted with a passphrase whose plaintext is an
identities file.

Errors about identities never quote the line: it may hold a secret key.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any, Final, TypeAlias

from sealbox._util.files import atomic_write, read_limited
from sealbox.age import armor as _armor
from sealbox.age import bech32
from sealbox.age._base import Identity, Recipient
from sealbox.age.format import VERSION_LINE
from sealbox.exceptions import (
    KeyFormatError,
    SealboxError,
    StorageError,
    UnsupportedAlgorithmError,
)

# The modules of the recipient types are imported when a key of their type is met:
# a run that only sees X25519 keys never loads the SSH, scrypt or ML-KEM code.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

    from sealbox.age.mlkem import HybridIdentity
    from sealbox.age.x25519 import X25519Identity
    from sealbox.secret import Secret

__all__ = [
    "identity_file",
    "load_identities",
    "load_recipients",
    "parse_identities",
    "parse_identity",
    "parse_recipient",
    "parse_recipients",
    "read_recipients_file",
    "save_identity",
    "secret_key_kind",
]

MAX_KEY_FILE: Final = 16 * 1024 * 1024
# The passphrase, or a function called for it only when it is needed.
Passphrase: TypeAlias = "Callable[[], str | bytes | Secret[Any]] | str | bytes | Secret[Any]"  # noqa: S105


def parse_recipient(text: str) -> Recipient:
    """Parse one recipient: ``age1…``, ``age1pq1…``, an OpenSSH public key line, or a PEM
    public key (RSA or Ed25519).

    A PEM public key becomes the ``ssh-rsa`` or ``ssh-ed25519`` recipient of the same key:
    the file then opens with the matching private key (PEM or OpenSSH), with ``age -d -i``
    too.

    Raises:
        KeyFormatError: not a recipient (code ``unknown_recipient`` when it is no
            recipient format at all, ``private_key_as_recipient`` for a private key,
            ``identity_as_recipient`` for an age identity; neither is quoted).
        UnsupportedAlgorithmError: a plugin recipient or an unsupported key type.

    .. versionchanged:: 0.1.0
       PEM public keys.
    """
    if not isinstance(text, str):
        raise TypeError(f"a recipient is a str, not {type(text).__name__}")
    text = text.strip()
    _refuse_secret(text)
    if text.startswith("-----BEGIN"):
        return _parse_pem_recipient(text)
    if text.startswith(("ssh-", "ecdsa-", "sk-")):
        from sealbox.age.ssh import parse_ssh_recipient

        return parse_ssh_recipient(text)
    if text.lower().startswith("age1"):
        hrp, _ = bech32.decode(text)
        if hrp.isupper():  # valid Bech32, but age (and its recipient types) take lower case
            raise KeyFormatError(
                "the recipient is in upper case: age recipients are written in lower case",
                hint="give it in lower case, as age-keygen prints it",
            )
        if hrp == "age":
            from sealbox.age.x25519 import X25519Recipient

            return X25519Recipient.parse(text)
        if hrp == "age1pq":
            from sealbox.age.mlkem import HybridRecipient

            return HybridRecipient.parse(text)
        raise UnsupportedAlgorithmError(
            f"recipient type {hrp!r} needs an age plugin, which sealbox does not run"
        )
    if _private_key_body(text):
        raise KeyFormatError(
            "a private key was given as a recipient",
            hint="give its public key instead",
            code="private_key_as_recipient",
        )
    shown = text if len(text) <= 24 else text[:24] + "…"
    raise KeyFormatError(
        f"unknown recipient {shown!r}",
        hint="a recipient is an age1… string, an ssh-ed25519 or ssh-rsa public key line, "
        "or a PEM public key",
        code="unknown_recipient",
        facts={"recipient": shown},
    )


_PEM_PUBLIC_LABELS: Final = ("PUBLIC KEY", "RSA PUBLIC KEY")


# What an age identity holds (X25519 ``AGE-SECRET-KEY-1``, post-quantum
# ``AGE-SECRET-KEY-PQ-1``, a plugin's ``AGE-PLUGIN-…-1``), compared case-folded.
_IDENTITY_MARKERS: Final = ("age-secret-key-", "age-plugin-")


def secret_key_kind(text: str) -> str | None:
    """``"age"`` when ``text`` holds an age identity anywhere, ``"pem"`` when it holds a
    private key's PEM ``BEGIN`` line, else ``None``: for an error about a value given
    where a public key or a file name goes, which must then quote none of it.

    Case-folded (``casefold``: the Kelvin sign and the long s fold to k and s too).

    .. versionadded:: 0.1.0
    """
    folded = text.casefold()
    if any(marker in folded for marker in _IDENTITY_MARKERS):
        return "age"
    if "-----begin" in folded and "private key" in folded:
        return "pem"
    return None


def _refuse_secret(text: str) -> None:
    """Refuse, quoting nothing of it, a recipient that holds an age identity or a PEM
    private key anywhere: quoted (``"AGE-SECRET-KEY-1…"``), after a ``NAME=``, in an SSH
    key's comment. An error about it would quote its start, which is the key."""
    kind = secret_key_kind(text)
    if kind == "age":
        # Nothing of it is quoted: the error lands in terminals and CI logs.
        raise KeyFormatError(
            "an age identity (AGE-SECRET-KEY-…) was given as a recipient: it is a secret key",
            hint="give its recipient, the age1… string its file names as its public key",
            code="identity_as_recipient",
        )
    if kind == "pem":
        # Never quote it: the text is a private key.
        raise KeyFormatError(
            "a private key was given as a recipient",
            hint="give its public key instead",
            code="private_key_as_recipient",
        )


def _private_key_body(text: str) -> bool:
    """Whether ``text`` holds, in base64, the start of a private key without its PEM lines:
    a DER ``SEQUENCE`` opening with a version number (PKCS#8, PKCS#1, SEC1; a public key's
    opens with a ``SEQUENCE``) or an OpenSSH private key."""
    import base64
    import binascii
    import re

    for run in re.findall(r"[A-Za-z0-9+/_-]{16,}", text):
        try:
            head = base64.b64decode(run[:16].replace("-", "+").replace("_", "/"))
        except binascii.Error:
            continue
        if head.startswith(b"openssh-key-"):
            return True
        if head[:1] == b"\x30" and len(head) > 2:
            start = 2 + (head[1] & 0x7F if head[1] & 0x80 else 0)
            if head[start : start + 3] in (b"\x02\x01\x00", b"\x02\x01\x01"):
                return True
    return False


def _parse_pem_recipient(text: str) -> Recipient:
    """An RSA or Ed25519 PEM public key as its ``ssh-rsa``/``ssh-ed25519`` recipient."""
    from sealbox._util.pem import first_block

    block = first_block(text.encode(), "the PEM recipient")
    if block is None:
        raise KeyFormatError("the PEM recipient has no BEGIN line")
    if "PRIVATE KEY" in block.label:
        # Never quote it: the text is a private key.
        raise KeyFormatError(
            "a private key was given as a recipient",
            hint="give its public key instead",
            code="private_key_as_recipient",
        )
    if block.label not in _PEM_PUBLIC_LABELS:
        raise KeyFormatError(
            f"a PEM {block.label} block is not a recipient",
            hint="give a PEM public key (BEGIN PUBLIC KEY)",
            code="unknown_recipient",
            facts={"recipient": f"PEM {block.label}"},
        )
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    from cryptography.hazmat.primitives.serialization import (
        load_der_public_key,
        load_pem_public_key,
    )

    from sealbox.age.ssh import SSHEd25519Recipient, SSHRSARecipient

    try:
        if block.label == "PUBLIC KEY":
            key = load_der_public_key(block.der)
        else:
            key = load_pem_public_key(text.encode())
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"invalid PEM public key: {exc}") from None
    except UnsupportedAlgorithm as exc:
        raise UnsupportedAlgorithmError(
            f"the PEM public key is of a type age cannot encrypt to ({exc})",
            hint="age encrypts to RSA and Ed25519 public keys, and to age1… recipients",
            code="unsupported_recipient_key",
        ) from None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return SSHEd25519Recipient(key)
    if isinstance(key, rsa.RSAPublicKey):
        return SSHRSARecipient(key)
    kind = type(key).__name__.removeprefix("_").removesuffix("PublicKey") or "this"
    raise UnsupportedAlgorithmError(
        f"age cannot encrypt to {kind} public keys",
        hint="age encrypts to RSA and Ed25519 public keys, and to age1… recipients "
        "(for an X25519 key, its age1… recipient)",
        code="unsupported_recipient_key",
        facts={"key_type": kind},
    )


def parse_recipients(text: str, *, source: str = "recipients file") -> list[Recipient]:
    """Parse a recipients file (comments and empty lines allowed).

    Raises:
        KeyFormatError: a line is not a recipient (the message gives the line number),
            or the file holds none.
    """
    out: list[Recipient] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("-----BEGIN"):
            # A PEM block spans lines up to its END line (or the end of the text).
            start = index - 1
            while index < len(lines) and not lines[index].strip().startswith("-----END"):
                index += 1
            index += 1
            line = "\n".join(lines[start:index]) + "\n"
        try:
            out.append(parse_recipient(line))
        except SealboxError as exc:
            # A raise site's precise code (unknown_recipient…) survives; a class's does not.
            precise = exc.code if exc.code != type(exc).code else None
            raise KeyFormatError(
                f"{source} line {number}: {exc}", hint=exc.hint, code=precise, facts=exc.facts
            ) from None
    if not out:
        raise KeyFormatError(f"{source} holds no recipient")
    return out


def load_recipients(path: str | os.PathLike[str]) -> list[Recipient]:
    """Read a recipients file (a leading ``~`` is the user's home folder).

    Raises:
        StorageError: the file cannot be read.
        KeyFormatError: as :func:`parse_recipients`.
    """
    text, source = read_recipients_file(path)
    return parse_recipients(text, source=source)


def read_recipients_file(path: str | os.PathLike[str]) -> tuple[str, str]:
    """The text of a recipients file, read once (it may be a pipe), and the name
    :func:`parse_recipients` gives it in errors.

    Raises:
        StorageError: the file cannot be read.
        KeyFormatError: it is not UTF-8 text.
    """
    path = os.path.expanduser(path)  # noqa: PTH111 - pathlib is not loaded on this path
    data = read_limited(path, MAX_KEY_FILE, "recipients file")
    try:
        return data.decode(), f"recipients file {path}"
    except UnicodeDecodeError:
        raise KeyFormatError(f"recipients file {path} is not UTF-8 text") from None


def parse_identity(text: str) -> X25519Identity | HybridIdentity:
    """Parse one ``AGE-SECRET-KEY-1…`` or ``AGE-SECRET-KEY-PQ-1…`` string.

    Raises:
        KeyFormatError: not an identity (never quoted; code ``recipient_as_identity`` for
            a public key).
        UnsupportedAlgorithmError: a plugin identity.
    """
    text = text.strip()
    upper = text.upper()
    if upper.startswith("AGE-SECRET-KEY-PQ-1"):
        from sealbox.age.mlkem import HybridIdentity

        return HybridIdentity.parse(text)
    if upper.startswith("AGE-SECRET-KEY-1"):
        from sealbox.age.x25519 import X25519Identity

        return X25519Identity.parse(text)
    if upper.startswith("AGE-PLUGIN-"):
        raise UnsupportedAlgorithmError(
            "plugin identities need an age plugin, which sealbox does not run"
        )
    if upper.startswith(("AGE1", "SSH-", "ECDSA-SHA2-", "-----BEGIN PUBLIC KEY")):
        raise KeyFormatError(
            "a recipient (a public key) was given as an identity",
            hint="give the private key file it was made from",
            code="recipient_as_identity",
        )
    raise KeyFormatError("not an age identity (AGE-SECRET-KEY-1… or AGE-SECRET-KEY-PQ-1…)")


def parse_identities(
    data: bytes,
    *,
    source: str = "identity file",
    passphrase: Passphrase | None = None,
) -> list[Identity]:
    """Parse an identity file: age identities, an SSH private key, or a passphrase-encrypted
    age file holding identities.

    Args:
        passphrase: called when the file (or the SSH key) is encrypted.

    Raises:
        KeyFormatError: a line is not an identity (by number, never quoted; the code and
            facts of :func:`parse_identity`'s error, and fact ``line``), none found, or the
            file is an age file encrypted to a key, not a passphrase.
        DecryptionError: a wrong passphrase for an encrypted file or key.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"an identity file's content is bytes, not {type(data).__name__}")
    data = bytes(data)
    start = data.lstrip()
    if start.startswith(b"-----BEGIN") and not start.startswith(_armor.BEGIN):
        from sealbox.age.ssh import load_ssh_identity

        return [load_ssh_identity(data, passphrase=passphrase, name=source)]
    if start.startswith((VERSION_LINE, _armor.BEGIN)):
        return _encrypted_identities(data, source, passphrase)
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise KeyFormatError(f"{source} is not UTF-8 text") from None
    out: list[Identity] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            out.append(parse_identity(line))
        except SealboxError as exc:
            # The raise site's code and facts survive (the command line's hints key on
            # them); the message gains where the line is, never what it holds.
            located = type(exc)(f"{source} line {number}: {exc}", hint=exc.hint)
            located.code = exc.code
            located.facts = {**exc.facts, "line": str(number)}
            raise located from None
    if not out:
        raise KeyFormatError(f"{source} holds no identity")
    return out


def _encrypted_identities(
    data: bytes, source: str, passphrase: Passphrase | None
) -> list[Identity]:
    from sealbox.age.files import decrypt
    from sealbox.age.scrypt import STANZA_TYPE, ScryptIdentity
    from sealbox.exceptions import ConfigError

    if passphrase is None:
        raise ConfigError(
            f"{source} is encrypted and no passphrase was given",
            hint="pass the passphrase",
            code="passphrase_needed",
        )
    from sealbox.exceptions import NoIdentityMatchError

    try:
        # ScryptIdentity takes the passphrase itself as well as a function returning it.
        plain = decrypt(data, [ScryptIdentity(passphrase)])
    except NoIdentityMatchError as exc:
        if STANZA_TYPE not in exc.stanza_types:  # no passphrase could open it: none was asked
            raise KeyFormatError(
                f"{source} is encrypted with age but not with a passphrase",
                hint="decrypt it first, with the identity it was encrypted to",
            ) from None
        # Which file the passphrase failed to open: a decryption may read several.
        raise NoIdentityMatchError(
            f"incorrect passphrase for {source}", stanza_types=exc.stanza_types
        ) from None
    if plain.lstrip().startswith((VERSION_LINE, _armor.BEGIN)):
        raise KeyFormatError(f"{source} is encrypted twice")
    return parse_identities(plain, source=source)


def load_identities(
    path: str | os.PathLike[str], *, passphrase: Passphrase | None = None
) -> list[Identity]:
    """Read an identity file (see :func:`parse_identities`); a leading ``~`` is the home folder.

    Raises:
        StorageError: the file cannot be read.
        KeyFormatError, DecryptionError: as :func:`parse_identities`.
    """
    path = os.path.expanduser(path)  # noqa: PTH111 - pathlib is not loaded on this path
    data = read_limited(path, MAX_KEY_FILE, "identity file")
    return parse_identities(data, source=f"identity file {path}", passphrase=passphrase)


def identity_file(identity: X25519Identity | HybridIdentity, *, now: datetime | None = None) -> str:
    """The text of a new identity file, as ``age-keygen`` writes it.

    .. danger::

       The result holds the private key.
    """
    from datetime import UTC, datetime  # only key generation needs it

    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    out = io.StringIO()
    out.write(f"# created: {created.isoformat().replace('+00:00', 'Z')}\n")
    out.write(f"# public key: {identity.recipient()}\n")
    out.write(identity.expose_secret() + "\n")
    return out.getvalue()


def save_identity(
    path: str | os.PathLike[str],
    identity: X25519Identity | HybridIdentity,
    *,
    now: datetime | None = None,
) -> None:
    """Write ``identity`` to a new identity file (:func:`identity_file`), mode 0600.

    The file appears whole or not at all, and an existing file is never replaced: a
    lost identity is every file encrypted to it lost.

    Raises:
        StorageError: ``path`` exists (code ``identity_exists``), or the folder
            cannot be written.
    """
    try:
        atomic_write(path, identity_file(identity, now=now).encode(), mode=0o600, overwrite=False)
    except StorageError as exc:
        if exc.code != "file_exists":
            raise
        name = os.fspath(path)
        raise StorageError(
            f"{name} already exists",
            hint="choose another name; an identity is never overwritten",
            code="identity_exists",
            facts={"path": name},
        ) from None
