"""The age recipient and identity options shared by every command that takes them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["identity_option", "recipient_options"]


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
