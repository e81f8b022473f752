"""What the ``sealbox jwt`` commands say when a keyset cannot be opened or a key id not used.

The library speaks of "the keyset" and "this keyset"; a person with several keysets (a
FILE, a service's data folder) needs to know which one, and the command that helps. Every
command goes through the wrappers here, so they all say it the same way:
:func:`load_keyset` (:func:`opening`) to open a keyset FILE, :func:`keys_of` around a
change of one key. Free of click: ``jwt verify --keyset`` uses it too.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sealbox.cli._io import passphrase_source, read_passphrase
from sealbox.exceptions import (
    DecryptionError,
    FormatError,
    KeyNotFoundError,
    KeyStateError,
    StorageError,
    UnsupportedAlgorithmError,
)

if TYPE_CHECKING:
    import os

    from sealbox.jwt.keyset import SigningKeySet
    from sealbox.secret import Secret

__all__ = [
    "CREATE_HINT",
    "Place",
    "file_place",
    "keys_of",
    "load_keyset",
    "new_key_in",
    "opening",
    "service_place",
    "shown",
]

CREATE_HINT = "a signing keyset is the file 'sealbox jwt keyset create' writes"

Place = tuple[str, str]
"""A keyset as messages name it ("keyset FILE") and as a command's arguments give it."""


def file_place(file: Path) -> Place:
    return f"keyset {file}", shlex.quote(str(file))


def service_place(data_dir: Path) -> Place:
    return f"the service keyset of {data_dir}", f"--data-dir {shlex.quote(str(data_dir))}"


# The most of a key id a message shows: one pasted by mistake (a whole file, a token)
# would otherwise fill the terminal, and the message with it.
SHOWN_MAX = 64


def shown(kid: str) -> str:
    """A key id as a message shows it: as it is when it is plain, quoted when not; one
    longer than :data:`SHOWN_MAX` characters cut there, with its length.

    A key id is any string a keyset was given: an empty one, one with a space or with a
    control character would otherwise be invisible or ambiguous in the sentence.
    """
    cut = kid[:SHOWN_MAX]
    plain = cut and all(c.isalnum() or c in "-_.~+/=:" for c in cut)
    text = cut if plain else repr(cut)
    return text if len(kid) <= SHOWN_MAX else f"{text}… ({len(kid)} characters)"


@contextmanager
def keys_of(place: Place, kid: str, command: str) -> Iterator[None]:
    """Name the keyset and the command that helps when ``command`` refuses key ``kid``."""
    where, args = place
    key = shown(kid)
    try:
        yield
    except KeyNotFoundError as exc:
        raise KeyNotFoundError(
            f"no key {key} in {where}",
            code=exc.code,
            facts={**exc.facts, "key_id": kid},
            hint=f"'sealbox jwt keyset list {args}' shows its keys",
        ) from None
    except KeyStateError as exc:
        message, hint = _state_refusal(exc, kid, where=where, args=args, command=command)
        if message is None:
            raise
        raise KeyStateError(message, code=exc.code, facts=exc.facts, hint=hint) from None


# Why the service's keyset takes no HMAC key (code service_key_symmetric), after a colon.
_PUBLIC_ONLY = "the service's JWKS publishes public keys only, so no relying party could verify"


@contextmanager
def new_key_in(place: Place) -> Iterator[None]:
    """Name the keyset and the option that helps when it refuses a new key's type (an
    HMAC key given to the service's keyset by ``add`` or ``rotate``)."""
    where, _args = place
    try:
        yield
    except KeyStateError as exc:
        if exc.code != "service_key_symmetric":
            raise
        alg = exc.facts.get("algorithm", "HMAC")
        raise KeyStateError(
            f"{where} takes no {alg} key: {_PUBLIC_ONLY} the tokens it signed",
            code=exc.code,
            facts=exc.facts,
            hint="give a public-key type: --type EdDSA, ES256 or RS256 (an HMAC key "
            "belongs in a keyset FILE)",
        ) from None


def _state_refusal(
    exc: KeyStateError, kid: str, *, where: str, args: str, command: str
) -> tuple[str | None, str | None]:
    key = shown(kid)
    if exc.code == "service_key_symmetric":
        return _hmac_refusal(exc, kid, where=where, args=args, command=command)
    if exc.code == "primary_key":
        done = {"disable": "disabled", "retire": "retired"}.get(command, "destroyed")
        return (
            f"key {key} of {where} is the primary key (it signs) and cannot be {done}",
            (
                f"make another key sign first: 'sealbox jwt keyset rotate {args}' "
                "(or 'add', then 'set-primary')"
            ),
        )
    if exc.code == "key_destroyed" and command == "enable":
        return (
            f"key {key} of {where} is destroyed and cannot be enabled again",
            (
                f"a destroyed key is gone for good; publish a fresh one with "
                f"'sealbox jwt keyset add {args}'"
            ),
        )
    if exc.code == "key_destroyed":
        return (
            f"key {key} of {where} is destroyed: it verifies nothing already",
            f"'sealbox jwt keyset list {args}' shows its keys",
        )
    if exc.code == "key_not_usable":
        state = exc.facts.get("state", "not usable")
        return (
            f"key {key} of {where} is {state}; only a decrypt-only key can become primary",
            f"enable it first: sealbox jwt keyset enable {args} -- {shlex.quote(kid)}"
            if state == "disabled"
            else "a destroyed key is gone for good; publish a fresh one with "
            f"'sealbox jwt keyset add {args}' and make it primary later",
        )
    return None, None


def _hmac_refusal(
    exc: KeyStateError, kid: str, *, where: str, args: str, command: str
) -> tuple[str, str]:
    """An HMAC key of the service's keyset made primary or enabled again: refused, with
    the way out (a public-key key to sign, this one destroyed)."""
    key = shown(kid)
    alg = exc.facts.get("algorithm", "HMAC")
    destroy = f"'sealbox jwt keyset destroy {args} -- {shlex.quote(kid)}'"
    if command == "enable":
        return (
            (
                f"key {key} of {where} is an {alg} key and cannot verify again: "
                f"{_PUBLIC_ONLY} its tokens"
            ),
            f"it stays disabled; to be rid of it, {destroy}",
        )
    return (
        f"key {key} of {where} is an {alg} key and cannot sign: {_PUBLIC_ONLY} its tokens",
        (
            f"publish a public-key one ('sealbox jwt keyset add {args} --type EdDSA') and "
            f"make that one primary; to be rid of this one, {destroy}"
        ),
    )


def load_keyset(
    file: str | os.PathLike[str],
    passphrase_file: str | os.PathLike[str] | None,
    *,
    data_dir_ok: bool = True,
) -> tuple[SigningKeySet, Secret[str]]:
    """The keyset FILE and its passphrase; an error naming FILE if it cannot be opened.

    ``data_dir_ok``: the command takes --data-dir (said of a service's keyset given as FILE).
    """
    from sealbox.jwt.keyset import SigningKeySet

    path = Path(file)
    if not path.exists():
        # Before the passphrase is asked for: it would open nothing.
        raise StorageError(
            f"keyset {path} does not exist",
            hint=f"create one with 'sealbox jwt keyset create {shlex.quote(str(path))}'",
        )
    _refuse_passphrase_free(path, data_dir_ok)
    passphrase = read_passphrase(passphrase_file)
    with opening(path, passphrase_file, data_dir_ok=data_dir_ok):
        return SigningKeySet.load(path, passphrase), passphrase


def _refuse_passphrase_free(path: Path, data_dir_ok: bool) -> None:
    """Refuse a JWKS or a service's keyset given as FILE before a passphrase is asked for:
    no passphrase opens either (a script without one was told "no passphrase given", a
    person at a terminal was asked for one that does not exist)."""
    from sealbox.jwt.keyset import SEALED_FORMAT
    from sealbox.jwt.keyset import SERVICE_SEALED_FORMAT as KEYSET_FORMAT
    from sealbox.storage import read_limited

    try:
        document: Any = json.loads(read_limited(path, 1 << 20, "keyset"))
    except Exception:  # noqa: BLE001 - whatever it is, the keyset's own load says it
        return
    if not isinstance(document, dict):
        return
    jwks = isinstance(document.get("keys"), list) and "format" not in document
    if document.get("format") == KEYSET_FORMAT or jwks:
        raise FormatError(
            f"keyset {path}: not a sealbox keyset file: 'format' must be '{SEALED_FORMAT}'",
            hint=_what_it_is(path, data_dir_ok),
        )


@contextmanager
def opening(
    file: Path, passphrase_file: str | os.PathLike[str] | None, *, data_dir_ok: bool
) -> Iterator[None]:
    """Name FILE when it cannot be opened as a keyset, and say what it is instead.

    ``data_dir_ok``: the command takes --data-dir, for a service's keyset given as FILE.
    """
    try:
        yield
    except DecryptionError as exc:
        raise DecryptionError(
            f"cannot open keyset {file}: wrong passphrase, or the file was altered",
            code=exc.code,
            hint=f"the passphrase came from {passphrase_source(passphrase_file)}",
        ) from None
    except FormatError as exc:
        raise FormatError(
            f"keyset {file}: {exc}",
            code=exc.code,
            facts=exc.facts,
            hint=_what_it_is(file, data_dir_ok) or exc.hint,
        ) from None
    except UnsupportedAlgorithmError as exc:
        raise UnsupportedAlgorithmError(
            f"keyset {file}: {exc}", code=exc.code, facts=exc.facts, hint=exc.hint
        ) from None


def _what_it_is(file: Path, data_dir_ok: bool) -> str | None:
    """The hint for a FILE that is not a keyset: what it looks like, and what a keyset is.

    ``None`` for a keyset file that is damaged (its format is a keyset's): the library's
    own hint, if any, says more than that.
    """
    from sealbox.jwt.keyset import SEALED_FORMAT
    from sealbox.storage import read_limited

    try:
        document: Any = json.loads(read_limited(file, 1 << 20, "keyset"))
    except Exception:  # noqa: BLE001 - unreadable now, or not JSON: not a keyset either way
        return CREATE_HINT
    if not isinstance(document, dict):
        return CREATE_HINT
    if document.get("format") == SEALED_FORMAT:
        return None
    if isinstance(document.get("keys"), list) and "format" not in document:
        return (
            f"it is a JWKS (public keys only): verify tokens with it, "
            f"'sealbox jwt verify --jwks {shlex.quote(str(file))}'; {CREATE_HINT}"
        )
    from sealbox.jwt.keyset import SERVICE_SEALED_FORMAT as KEYSET_FORMAT

    if document.get("format") == KEYSET_FORMAT and data_dir_ok:
        folder = shlex.quote(str(file.parent))
        return (
            "it is the signing keyset of a service's data folder, sealed under its master "
            f"key: give --data-dir {folder} instead of FILE"
        )
    return CREATE_HINT
