"""The age recipient and identity options shared by every command that takes them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from sealbox import age
from sealbox.cli._io import read_passphrase
from sealbox.exceptions import SealboxError

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["identity_option", "load_identity_files", "load_recipients", "recipient_options"]


def recipient_options(what: str = "") -> Callable[[F], F]:
    """``-r/--recipient RECIPIENT`` and ``-R/--recipients-file FILE``, both repeatable.

    Args:
        what: what is encrypted, for the help text ("the keyring"); nothing for the input.
    """
    encrypt = f"Encrypt {what} " if what else "Encrypt "

    def decorate(func: F) -> F:
        func = click.option(
            "-R",
            "--recipients-file",
            "recipient_files",
            multiple=True,
            type=click.Path(dir_okay=False, path_type=Path),
            help=f"{encrypt}to the recipients listed in this file. Repeatable.",
        )(func)
        return click.option(
            "-r",
            "--recipient",
            "recipients",
            multiple=True,
            metavar="RECIPIENT",
            help=f"{encrypt}to this recipient (age1…, age1pq1…, ssh-ed25519 …, ssh-rsa …). "
            "Repeatable.",
        )(func)

    return decorate


def identity_option(help_text: str, *, required: bool = False) -> Callable[[F], F]:
    """``-i/--identity FILE``, repeatable (``-`` reads identities from stdin)."""
    return click.option(
        "-i",
        "--identity",
        "identity_files",
        multiple=True,
        required=required,
        type=click.Path(dir_okay=False, path_type=Path),
        help=help_text,
    )


def load_recipients(recipients: tuple[str, ...], files: tuple[Path, ...]) -> list[age.Recipient]:
    """Parse ``-r`` values (errors name the value) and read ``-R`` files."""
    targets: list[age.Recipient] = []
    for text in recipients:
        try:
            targets.append(age.parse_recipient(text))
        except SealboxError as exc:
            raise type(exc)(f"-r {text[:40]!r}: {exc}", hint=exc.hint) from None
    for path in files:
        targets += age.load_recipients(path)
    return targets


def load_identity_files(
    files: tuple[Path, ...], passphrase_file: Path | None
) -> list[age.Identity]:
    """Read ``-i`` files; an encrypted key asks for its passphrase only when it is needed."""
    identities: list[age.Identity] = []
    for path in files:

        def getter(path: Path = path) -> Any:
            return read_passphrase(passphrase_file, prompt=f"Passphrase for {path}")

        if str(path) == "-":
            data = sys.stdin.buffer.read(age.keys.MAX_KEY_FILE + 1)
            identities += age.parse_identities(
                data, source="identities on stdin", passphrase=getter
            )
        else:
            identities += age.load_identities(path, passphrase=getter)
    return identities
