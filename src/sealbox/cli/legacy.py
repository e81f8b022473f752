"""``sealbox legacy decrypt|migrate``: files of the original Fernet and AES-GCM recipes."""

from __future__ import annotations

from pathlib import Path

import click

from sealbox import age
from sealbox.cli._age_args import recipient_options
from sealbox.cli._encrypt_decrypt import load_recipients, open_output, stdout_is_terminal
from sealbox.cli._io import CLIError, note, passphrase_file_option, read_passphrase
from sealbox.keysets import legacy
from sealbox.secret import Secret
from sealbox.storage import is_special, read_limited

# The legacy formats hold the whole file in memory: refuse what could not fit sensibly.
MAX_LEGACY_FILE = 2 * 1024 * 1024 * 1024

_IN = click.argument("input_", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
_KEY_FILE = click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The raw 32-byte AES-256-GCM key (binary, hex or base64) of an AES-GCM record.",
)


@click.group(name="legacy")
def legacy_group() -> None:
    """Decrypt or migrate files of the original Fernet and AES-GCM recipes.

    Fernet files need their password (--passphrase-file, $SEALBOX_PASSPHRASE or a
    prompt); AES-GCM records need their key (--key-file).
    """


def _read_key(path: Path | None) -> Secret[bytes] | None:
    if path is None:
        return None
    raw = read_limited(path, 1024, "key file").strip()
    if len(raw) == 32:
        return Secret(raw)
    text = raw.decode("ascii", "replace")
    try:
        key = bytes.fromhex(text) if len(text) == 64 else _b64(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise CLIError(f"key file {path} does not hold a 32-byte key (raw, hex or base64)")
    return Secret(key)


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4))


def _decrypt(input_: Path, key_file: Path | None, passphrase_file: Path | None) -> bytes:
    data = read_limited(input_, MAX_LEGACY_FILE, "legacy file")
    fmt = legacy.detect(data)
    if fmt is legacy.LegacyFormat.AES_GCM_JSON:
        key = _read_key(key_file)
        if key is None:
            raise CLIError("this is an AES-GCM record: it needs its key", hint="pass --key-file")
        return legacy.decrypt_aes_gcm(data, key)
    password = read_passphrase(passphrase_file, prompt="Password")
    return legacy.decrypt(data, password=password)


@legacy_group.command(name="decrypt")
@_IN
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (default: standard output).",
)
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
@_KEY_FILE
@passphrase_file_option
def decrypt_(
    input_: Path,
    output: Path | None,
    force: bool,
    key_file: Path | None,
    passphrase_file: Path | None,
) -> None:
    """Decrypt a legacy file (format detected) to -o FILE or standard output."""
    plain = _decrypt(input_, key_file, passphrase_file)
    if stdout_is_terminal(output) and b"\x00" in plain[:8192]:
        raise CLIError("refusing to write binary output to the terminal", hint="use -o FILE")
    with open_output(output, input_, force, 0o600) as out:
        out.write(plain)


@legacy_group.command()
@_IN
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The age file to write.",
)
@recipient_options("the age file")
@click.option("-a", "--armor", is_flag=True, help="Write the ASCII-armored form.")
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
@_KEY_FILE
@passphrase_file_option
def migrate(  # noqa: PLR0917 - click passes every option positionally
    input_: Path,
    output: Path,
    recipients: tuple[str, ...],
    recipient_files: tuple[Path, ...],
    armor: bool,
    force: bool,
    key_file: Path | None,
    passphrase_file: Path | None,
) -> None:
    """Rewrite a legacy file as an age file encrypted to recipients.

    The legacy file is left as it is; delete it once the age file is checked.
    """
    if not (recipients or recipient_files):
        raise click.UsageError("give at least one -r RECIPIENT or -R FILE")
    if output.exists() and not force and not is_special(output):
        raise CLIError(f"{output} already exists", hint="use --force to replace it")
    targets = load_recipients(recipients, recipient_files)
    plain = _decrypt(input_, key_file, passphrase_file)
    with (
        open_output(output, input_, force, 0o644) as out,
        age.Encryptor(out, targets, armor=armor) as enc,
    ):
        enc.write(plain)
    note(f"migrated {input_} to {output} ({len(plain):,} bytes of plaintext)")
