"""``sealbox seal`` and ``sealbox open``: field encryption through a keyring file."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import click

from sealbox.cli._dialect import option
from sealbox.cli._io import (
    CLIError,
    passphrase_file_option,
    read_stdin,
    read_value,
    write_stdout,
)
from sealbox.cli._paths import NamedFile
from sealbox.cli.keyring import _IDENTITY, _Opened
from sealbox.exceptions import DecryptionError, FormatError, SealboxError
from sealbox.keysets.keyring import Keyring
from sealbox.keysets.lifecycle import KeyState

# Field tokens are for values, not files: `sealbox encrypt` streams files of any size.
MAX_VALUE = 16 * 1024 * 1024
_TOO_BIG_HINT = "seal is for small values; encrypt files with 'sealbox encrypt'"
# The text form's alphabet, at least a token header's 8 characters.
_TEXT = re.compile(rb"[A-Za-z0-9_-]{8,}")

_KEYRING = option(
    "-K",
    "--keyring",
    "keyring_file",
    old=("-k",),
    required=True,
    type=NamedFile(dir_okay=False, path_type=Path),
    help="The keyring file.",
)
# Bound as the argument's own bytes (os.fsencode): one that is not UTF-8 arrives with
# surrogate escapes, which str.encode refuses.
_AAD = option(
    "-A",
    "--aad",
    default="",
    help="Associated data the token is bound to (e.g. 'users.email:42'); not secret.",
)


@click.command()
@_KEYRING
@_AAD
@click.option(
    "--deterministic",
    is_flag=True,
    help="Equal values give equal tokens (AES-SIV), for equality lookups.",
)
@_IDENTITY
@passphrase_file_option
def seal(
    keyring_file: Path,
    aad: str,
    deterministic: bool,
    identity_files: tuple[Path, ...],
    passphrase_file: Path | None,
) -> None:
    """Encrypt the bytes on stdin; print the text token on stdout.

    The value is taken exactly as given, trailing newline included: use
    `printf %s VALUE` rather than `echo VALUE` if that matters. On a terminal,
    it is asked for (not shown as it is typed).
    """
    ring = _Opened(keyring_file, identity_files, passphrase_file).ring
    data = read_value(MAX_VALUE, "the value", prompt="Value to seal", hint=_TOO_BIG_HINT)
    if deterministic:
        from sealbox.keysets.fields import encode_token

        if not data:
            raise CLIError(
                "--deterministic cannot seal an empty value (stdin was empty)",
                hint="AES-SIV needs at least one byte; seal it without --deterministic, "
                "which takes empty values",
            )

        token = encode_token(ring.seal_deterministic(data, os.fsencode(aad)))
    else:
        token = ring.seal_text(data, os.fsencode(aad))
    click.echo(token)


@click.command(name="open")
@_KEYRING
@_AAD
@_IDENTITY
@passphrase_file_option
def open_(
    keyring_file: Path, aad: str, identity_files: tuple[Path, ...], passphrase_file: Path | None
) -> None:
    """Decrypt the text token on stdin; write the value to stdout."""
    ring = _Opened(keyring_file, identity_files, passphrase_file).ring
    token = read_stdin(MAX_VALUE * 2, "the token")
    try:
        value = ring.open_text(token, os.fsencode(aad))
    except DecryptionError:
        raise _why_not(ring, keyring_file, token) from None
    write_stdout(value)


def _why_not(ring: Keyring, keyring_file: Path, token: bytes) -> SealboxError:
    """The error for a token ``ring`` did not open, saying what the person at the
    command line can act on. The keyring's holder is the one asking, and a token's
    layout and key id are public (``sealbox keyring list`` shows the ids): only whether
    the value was altered or bound to other associated data stays one answer, as the
    cipher cannot tell them apart."""
    if not token.strip():
        return CLIError("no token on stdin", hint="pipe in what 'sealbox seal' printed")
    kid = _named_key_id(token)
    if kid is None:
        return CLIError(
            "the input on stdin is not a sealbox token, or it was cut short",
            hint="a token is the URL-safe base64 line 'sealbox seal' prints",
        )
    state = {info.id: info.state for info in ring}.get(kid)
    if state is None:
        return DecryptionError(
            f"decryption failed: the token was sealed with key {kid:08x}, "
            f"which keyring {keyring_file} does not hold",
            hint="open it with the keyring that sealed it",
        )
    if state is KeyState.DISABLED:
        return DecryptionError(
            f"decryption failed: the token was sealed with key {kid:08x}, "
            f"which is disabled in keyring {keyring_file}",
            hint=f"to read it again: sealbox keyring enable {shlex.quote(str(keyring_file))} "
            f"{kid:08x}",
        )
    if state is KeyState.DESTROYED:
        return DecryptionError(
            f"decryption failed: the token was sealed with key {kid:08x}, "
            f"which was destroyed in keyring {keyring_file}: it can never be opened",
        )
    return DecryptionError(
        "decryption failed: the token was altered or cut short, or it was sealed with "
        "other associated data",
        hint="give the -A/--aad it was sealed with (none if it was sealed without)",
    )


def _named_key_id(token: bytes) -> int | None:
    """The key id the text of a token names, or None if it is no token's text."""
    from sealbox.keysets.fields import decode_token, token_key_id

    try:
        return token_key_id(decode_token(token))
    except FormatError:
        return None
    except DecryptionError:
        pass
    # Only a token's one spelling opens, and one cut short or altered at its end often
    # ends in a character with unused bits set: base64url text still names its key in
    # its first 8 characters (6 bytes), and is a token that was damaged.
    raw = token.strip()
    if len(raw) % 4 == 1 or not _TEXT.fullmatch(raw):
        return None
    try:
        return token_key_id(decode_token(raw[:8]))
    except FormatError:
        return None
