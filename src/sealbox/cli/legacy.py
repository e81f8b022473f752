"""``sealbox legacy detect|decrypt|migrate``: records of the original Fernet and AES-GCM recipes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from sealbox import age
from sealbox.cli._age_args import recipient_options
from sealbox.cli._dialect import echo_json, json_option, option
from sealbox.cli._encrypt_decrypt import (
    _terminate_as_interrupt,
    check_output,
    is_std,
    load_recipients,
    open_output,
    stdout_is_terminal,
)
from sealbox.cli._io import (
    PASSPHRASE_SOURCES,
    PASTED_KEY_MESSAGE,
    TEXT_PROBE,
    CLIError,
    looks_binary,
    note,
    passphrase_file_option,
    passphrase_source,
    read_passphrase,
    read_stdin,
)
from sealbox.cli._paths import FilePath, NamedFile
from sealbox.exceptions import DecryptionError, KeyFormatError
from sealbox.keysets import legacy
from sealbox.keysets.legacy import LegacyFormat
from sealbox.secret import Secret
from sealbox.storage import read_limited

# The legacy layouts hold the whole file in memory: refuse what could not fit sensibly.
MAX_LEGACY_FILE = 2 * 1024 * 1024 * 1024
MAX_KEY_FILE = 1024

# Omitted or -: standard input, as for every command that reads an INPUT.
_IN = click.argument(
    "input_",
    metavar="[INPUT]",
    required=False,
    type=FilePath(dir_okay=False, allow_dash=True, path_type=Path),
)


def _pasted_aes_key(value: str) -> bool:
    """Whether ``value``, given to -k, is an AES key in hex or base64 rather than a file
    name: it names nothing on disk and reads as a 32-byte key (``-k "$(cat key.hex)"``).
    The error about the missing file would quote the key. A 32-character value is taken
    as a name: raw key bytes cannot be told from one."""
    try:
        if os.path.lexists(value):
            return False
    except ValueError:  # a NUL in it: not a file name either
        pass
    data = value.encode(errors="surrogateescape")
    if len(data) == legacy.KEY_SIZE:
        return False
    try:
        legacy.parse_key(data)
    except KeyFormatError:
        return False
    return True


class _KeyFile(NamedFile):
    """The file of -k/--key: also refuses an AES key pasted in its place, unquoted."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and _pasted_aes_key(value):
            self.fail(PASTED_KEY_MESSAGE, param, ctx)
        return super().convert(value, param, ctx)


_KEY_FILE = option(
    "-k",
    "--key",
    "key_file",
    old=["--key-file"],
    type=_KeyFile(dir_okay=False, path_type=Path),
    help="The raw 32-byte AES-256-GCM key (binary, hex or base64) of an AES-GCM record.",
)
_FORMAT = click.option(
    "--format",
    "layout",
    type=click.Choice([f.value for f in LegacyFormat]),
    help="The record's layout (default: detected). A raw iv+ciphertext+tag record "
    "(aes-gcm-raw) is never detected: name it.",
)


@click.group(
    name="legacy",
    help="Detect, decrypt or migrate records of the original Fernet and AES-GCM recipes.\n\n"
    f"Fernet records need their password ({PASSPHRASE_SOURCES}); AES-GCM records need "
    "their key (-k/--key). INPUT omitted or - is standard input.",
)
def legacy_group() -> None:
    """The ``sealbox legacy`` group."""


def _read_input(input_: Path | None) -> bytes:
    if is_std(input_):
        return read_stdin(MAX_LEGACY_FILE, "the legacy record")
    assert input_ is not None
    return read_limited(input_, MAX_LEGACY_FILE, "legacy file")


def _read_key(path: Path | None) -> Secret[bytes] | None:
    if path is None:
        return None
    try:
        return legacy.parse_key(read_limited(path, MAX_KEY_FILE, "key file"))
    except KeyFormatError as exc:
        raise KeyFormatError(f"key file {path}: {exc}") from None


def _decrypt(
    input_: Path | None, layout: str | None, key_file: Path | None, passphrase_file: Path | None
) -> bytes:
    data = _read_input(input_)
    fmt = legacy.detect(data) if layout is None else LegacyFormat(layout)
    if fmt.uses_key or key_file is not None:
        # A key for a Fernet record is refused by the library, with what it needs instead.
        key = _read_key(key_file)
        source = f"the key came from key file {key_file}"
        try:
            return legacy.decrypt(data, key=key, format=fmt)
        except DecryptionError as exc:
            raise DecryptionError(str(exc), code=exc.code, hint=source) from None
    password = read_passphrase(passphrase_file, prompt="Password")
    try:
        return legacy.decrypt(data, password=password, format=fmt)
    except DecryptionError as exc:
        # Which password was tried, as `sealbox keyring` says which passphrase was.
        hint = f"the password came from {passphrase_source(passphrase_file)}"
        raise DecryptionError(str(exc), code=exc.code, hint=hint) from None


@legacy_group.command()
@_IN
@json_option
def detect(input_: Path | None, as_json: bool) -> None:
    """Print the layout of a legacy record.

    One of fernet-file, fernet-json and aes-gcm-json. A raw AES-GCM record
    (aes-gcm-raw) cannot be recognised: it looks like any other bytes, and is
    refused here rather than guessed.
    """
    layout = str(legacy.detect(_read_input(input_)))
    if as_json:
        echo_json({"format": layout})
    else:
        click.echo(layout)


def _secrets(key_file: Path | None, passphrase_file: Path | None) -> list[tuple[Path, str]]:
    """The key and passphrase files a run reads: its output never replaces them."""
    named = [(key_file, "key file"), (passphrase_file, "passphrase file")]
    return [(path, what) for path, what in named if path is not None]


@legacy_group.command(name="decrypt")
@_IN
@click.option(
    "-o",
    "--output",
    type=FilePath(dir_okay=False, path_type=Path),
    help="Write the result to this file (default: standard output).",
)
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
@_FORMAT
@_KEY_FILE
@passphrase_file_option
def decrypt_(  # noqa: PLR0917 - click passes every option positionally
    input_: Path | None,
    output: Path | None,
    force: bool,
    layout: str | None,
    key_file: Path | None,
    passphrase_file: Path | None,
) -> None:
    """Decrypt a legacy record to standard output or -o FILE.

    The layout is detected, or named with --format.
    """
    if output is not None and not is_std(output):
        # Before the password is asked for and the record decrypted, as `migrate` does.
        check_output(output, input_, force, _secrets(key_file, passphrase_file))
    plain = _decrypt(input_, layout, key_file, passphrase_file)
    # As every command judges it (not only a NUL: a PNG's 0x89 and 0xff are binary too).
    if stdout_is_terminal(output) and looks_binary(plain[:TEXT_PROBE]):
        raise CLIError("refusing to write binary output to the terminal", hint="use -o FILE")
    with (
        _terminate_as_interrupt() as stop,  # SIGTERM unwinds too: the temporary is removed
        open_output(output, input_, force, 0o600, _secrets(key_file, passphrase_file)) as out,
    ):
        out.write(plain)
        stop.check()


@legacy_group.command()
@_IN
@click.option(
    "-o",
    "--output",
    required=True,
    type=FilePath(dir_okay=False, path_type=Path),
    help="The age file to write (- for standard output).",
)
@recipient_options("the age file")
@click.option("-a", "--armor", is_flag=True, help="Write the ASCII-armored form.")
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
@_FORMAT
@_KEY_FILE
@passphrase_file_option
def migrate(  # noqa: PLR0917 - click passes every option positionally
    input_: Path | None,
    output: Path,
    recipients: tuple[str, ...],
    recipient_files: tuple[Path, ...],
    armor: bool,
    force: bool,
    layout: str | None,
    key_file: Path | None,
    passphrase_file: Path | None,
) -> None:
    """Rewrite a legacy record as an age file encrypted to recipients.

    The legacy file is left as it is; delete it once the age file is checked.
    """
    if not (recipients or recipient_files):
        raise click.UsageError("give at least one -r RECIPIENT or -R FILE")
    read = [
        *_secrets(key_file, passphrase_file),
        *((p, "recipients file") for p in recipient_files),
    ]
    if not armor and stdout_is_terminal(output):
        # As `sealbox encrypt` refuses it, and before the password is asked for.
        raise CLIError(
            "refusing to write binary output to the terminal",
            hint="use -a for text output, or -o FILE",
        )
    # Before the password is asked for: the input (or a file read) is refused as such,
    # not as an existing file that --force would replace.
    check_output(output, input_, force, read)
    targets = load_recipients(recipients, recipient_files)
    plain = _decrypt(input_, layout, key_file, passphrase_file)
    with (
        _terminate_as_interrupt() as stop,  # SIGTERM unwinds too: the temporary is removed
        open_output(output, input_, force, 0o644, read) as out,
    ):
        with age.Encryptor(out, targets, armor=armor) as enc:
            enc.write(plain)
        stop.check()
    source = "standard input" if is_std(input_) else str(input_)
    target = "standard output" if is_std(output) else str(output)
    note(f"migrated {source} to {target} ({len(plain):,} bytes of plaintext)")
