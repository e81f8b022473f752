"""``sealbox seal`` and ``sealbox open``: field encryption through a keyring file."""

from __future__ import annotations

import os
from pathlib import Path

import click

from sealbox.cli._dialect import option
from sealbox.cli._io import passphrase_file_option, read_stdin, write_stdout
from sealbox.cli._paths import FilePath
from sealbox.cli.keyring import _IDENTITY, _Opened

# Field tokens are for values, not files: `sealbox encrypt` streams files of any size.
MAX_VALUE = 16 * 1024 * 1024
_TOO_BIG_HINT = "seal is for small values; encrypt files with 'sealbox encrypt'"

_KEYRING = option(
    "-K",
    "--keyring",
    "keyring_file",
    old=("-k",),
    required=True,
    type=FilePath(dir_okay=False, path_type=Path),
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
    `printf %s VALUE` rather than `echo VALUE` if that matters.
    """
    ring = _Opened(keyring_file, identity_files, passphrase_file).ring
    data = read_stdin(MAX_VALUE, "the value", hint=_TOO_BIG_HINT)
    if deterministic:
        from sealbox.keysets.fields import encode_token

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
    write_stdout(ring.open_text(token, os.fsencode(aad)))
