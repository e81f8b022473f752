"""``sealbox keyring …``: create, rotate, list and change the state of keyring keys."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sealbox.aead import ALGORITHMS, DEFAULT_ALGORITHM
from sealbox.cli._io import (
    KEY_ID,
    CLIError,
    note,
    open_tty,
    passphrase_file_option,
    read_passphrase,
)
from sealbox.keyring import Keyring

_FILE = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
_KEY_ID = click.argument("kid", metavar="KEY_ID", type=KEY_ID)
_ALGORITHM = click.option(
    "--algorithm",
    type=click.Choice(sorted(ALGORITHMS)),
    help=f"Cipher of the new key (default: {DEFAULT_ALGORITHM}; on rotate, the primary's).",
)


@click.group()
def keyring() -> None:
    """Create, rotate and manage field-encryption keyrings.

    A keyring file is always encrypted with a passphrase (Argon2id). The
    passphrase comes from --passphrase-file, $SEALBOX_PASSPHRASE or a prompt.
    """


@keyring.command()
@_FILE
@_ALGORITHM
@click.option("--force", is_flag=True, help="Replace FILE if it exists (its keys are lost).")
@passphrase_file_option
def create(file: Path, algorithm: str | None, force: bool, passphrase_file: Path | None) -> None:
    """Create a new keyring in FILE with one fresh key."""
    if file.exists() and not force:
        raise CLIError(
            f"{file} already exists",
            hint="choose another name, or use --force to replace it and lose its keys",
        )
    passphrase = read_passphrase(passphrase_file, confirm=True, prompt="New keyring passphrase")
    ring = Keyring.generate(algorithm or DEFAULT_ALGORITHM)
    ring.save(file, passphrase, overwrite=force)
    info = ring.keys()[0]
    click.echo(f"created {file} with primary key {info.hex_id} ({info.algorithm})")


@keyring.command()
@_FILE
@_ALGORITHM
@passphrase_file_option
def rotate(file: Path, algorithm: str | None, passphrase_file: Path | None) -> None:
    """Add a fresh primary key to FILE; older keys keep decrypting."""
    passphrase = read_passphrase(passphrase_file)
    ring = Keyring.load(file, passphrase)
    info = ring.rotate(algorithm)
    ring.save(file, passphrase)
    click.echo(f"rotated {file}: new primary key {info.hex_id} ({info.algorithm})")


@keyring.command(name="list")
@_FILE
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of key objects.")
@passphrase_file_option
def list_(file: Path, as_json: bool, passphrase_file: Path | None) -> None:
    """List the keys of FILE (never their material)."""
    ring = Keyring.load(file, read_passphrase(passphrase_file))
    infos = [info.to_dict() for info in ring]
    if as_json:
        click.echo(json.dumps(infos, indent=2))
        return
    headers = ("ID", "ALGORITHM", "STATE", "PRIMARY", "CREATED")
    rows = [
        (i["id"], i["algorithm"], i["state"], "yes" if i["primary"] else "", i["created"])
        for i in infos
    ]
    widths = [max(len(str(r[c])) for r in [headers, *rows]) for c in range(len(headers))]
    for row in [headers, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


@keyring.command()
@_FILE
@_KEY_ID
@passphrase_file_option
def disable(file: Path, kid: int, passphrase_file: Path | None) -> None:
    """Stop key KEY_ID from decrypting (reversible with enable)."""
    passphrase = read_passphrase(passphrase_file)
    ring = Keyring.load(file, passphrase)
    ring.disable(kid)
    ring.save(file, passphrase)
    click.echo(f"disabled key {kid:08x} in {file}")


@keyring.command()
@_FILE
@_KEY_ID
@passphrase_file_option
def enable(file: Path, kid: int, passphrase_file: Path | None) -> None:
    """Let a disabled key KEY_ID decrypt again."""
    passphrase = read_passphrase(passphrase_file)
    ring = Keyring.load(file, passphrase)
    ring.enable(kid)
    ring.save(file, passphrase)
    click.echo(f"enabled key {kid:08x} in {file}")


@keyring.command()
@_FILE
@_KEY_ID
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@passphrase_file_option
def destroy(file: Path, kid: int, yes: bool, passphrase_file: Path | None) -> None:
    """Erase the material of disabled key KEY_ID for good."""
    passphrase = read_passphrase(passphrase_file)
    ring = Keyring.load(file, passphrase)
    if kid in ring and not yes:
        _confirm_destroy(kid)
    ring.destroy(kid)
    ring.save(file, passphrase)
    click.echo(f"destroyed key {kid:08x} in {file}")


def _confirm_destroy(kid: int) -> None:
    try:
        tty = open_tty()
    except CLIError:
        raise CLIError(
            "destroying a key cannot be undone and there is no terminal to confirm on",
            hint="pass --yes to confirm",
        ) from None
    with tty:
        tty.write(f"Destroy key {kid:08x}? Tokens it sealed can never be opened again. [y/N] ")
        if tty.readline().strip().lower() not in {"y", "yes"}:
            raise CLIError("not destroyed")
    note(f"destroying key {kid:08x}")
