"""``sealbox hash-password`` and ``sealbox verify-password``: Argon2id from the command line.

The password is read from stdin (one trailing newline dropped) or, when stdin is
a terminal, from a prompt on the terminal; never from the command line.
"""

from __future__ import annotations

import sys

import click

from sealbox.cli._dialect import echo_json, json_option
from sealbox.cli._io import CLIError, open_tty, read_stdin, warn
from sealbox.exceptions import PasswordMismatchError
from sealbox.passwords.profiles import DEFAULT_PROFILE, PROFILES

MAX_STDIN = 64 * 1024
# The profile whose hashes are fast to make, and so to guess: for test suites only.
_TEST_PROFILE = "test"

_PROFILE = click.option(
    "--profile",
    type=click.Choice(list(PROFILES)),
    default=DEFAULT_PROFILE,
    show_default=True,
    help="Argon2id cost profile (see docs/passwords.md).",
)


@click.command("hash-password")
@_PROFILE
def hash_password(profile: str) -> None:
    """Hash a password from stdin (or a prompt) with Argon2id and print the hash."""
    from sealbox.passwords import PasswordHasher

    if profile == _TEST_PROFILE:
        warn(
            f"the {_TEST_PROFILE!r} profile is for tests: its hashes are cheap "
            "to guess; use the default profile for real passwords"
        )
    hasher = PasswordHasher(profile)
    password = _read_password(confirm=True)
    click.echo(hasher.hash(password))


@click.command("verify-password")
@click.argument("hash_", metavar="HASH")
@_PROFILE
@json_option
def verify_password(hash_: str, profile: str, as_json: bool) -> None:
    """Check a password from stdin (or a prompt) against HASH.

    Prints 'ok', or 'ok, needs rehash' when HASH should be replaced (older
    parameters than --profile's, or a legacy bcrypt/PBKDF2 hash); exits with
    status 1 when the password does not match. With --json: {"ok", "needs_rehash"},
    printed whether it matches or not.
    """
    from sealbox.passwords import PasswordHasher

    hasher = PasswordHasher(profile)
    password = _read_password(confirm=False)
    try:
        check = hasher.verify(hash_, password)
    except PasswordMismatchError:
        if as_json:
            echo_json({"ok": False, "needs_rehash": False})
        raise
    if as_json:
        echo_json({"ok": True, "needs_rehash": check.needs_rehash})
    else:
        click.echo("ok, needs rehash" if check.needs_rehash else "ok")


def _read_password(*, confirm: bool) -> str:
    if sys.stdin.isatty():
        password = _prompt(confirm=confirm)
    else:
        raw = read_stdin(MAX_STDIN, "the password")
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise CLIError("the password on stdin is not UTF-8 text") from None
        password = text.removesuffix("\n").removesuffix("\r")
    if not password:
        raise CLIError("the password is empty")
    return password


def _prompt(*, confirm: bool) -> str:
    import getpass

    try:
        tty = open_tty()
    except CLIError:
        raise CLIError(
            "no password given and no terminal to ask on", hint="pipe the password on stdin"
        ) from None
    with tty:
        password = getpass.getpass("Password: ", stream=tty)
        if confirm and getpass.getpass("Password (again): ", stream=tty) != password:
            raise CLIError("the passwords do not match")
    return password
