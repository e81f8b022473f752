"""``sealbox users``: the accounts of the service's data folder or database.

Every command works on the database the service uses (``--data-dir``, or
``SEALBOX_DATABASE_URL``), also while the service runs: a new scope holds from the
account's next login, a disabled account's access tokens are refused from the next
request on.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from sealbox.cli._dialect import confirm, echo_json, json_option, yes_option
from sealbox.cli._io import CLIError, note, open_tty, os_reason, read_stdin, terminal_safe
from sealbox.cli._paths import FilePath
from sealbox.cli.serve import _DATA_DIR, _load_settings, _service, warn_password_profile

# Imports are JSON lines: a generous bound that still refuses a wrong file early.
MAX_IMPORT_BYTES = 64 * 1024 * 1024


@click.group()
def users() -> None:
    """Manage the service's accounts."""


def _settings(data_dir: Path | None) -> Any:
    return _load_settings(data_dir=data_dir)


def _run(data_dir: Path | None, operation: Any, audit: tuple[str, str] | None = None) -> Any:
    return _service().administer_accounts(_settings(data_dir), operation, audit=audit)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _document(account: Any) -> dict[str, Any]:
    return {
        "name": account.username,
        "scopes": list(account.scopes),
        "disabled": account.disabled,
        "created": _time(account.created_at),
        "last_login": _time(account.last_login_at),
    }


def _name(account: Any) -> str:
    # An account made before the username rules may keep a name holding control or
    # bidirectional characters: shown escaped, never acted on by the terminal.
    return terminal_safe(account.username)


def _state(account: Any) -> str:
    return "disabled" if account.disabled else "enabled"


@users.command()
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, help="A scope to grant (repeatable).")
@_DATA_DIR
def create(name: str, scopes: tuple[str, ...], data_dir: Path | None) -> None:
    """Create account NAME (password from stdin or a prompt), admins included."""
    service = _service()
    settings = _settings(data_dir)
    # The name is checked (and mapped to its canonical form) before the password is asked.
    name, granted = service.create_user(settings, name, _read_password, scopes)
    click.echo(f"created user {name} with scopes {' '.join(granted)}")
    warn_password_profile(settings)  # of a password hashed with it: not before a refusal


@users.command(name="list", short_help="List the accounts (never a password hash).")
@json_option
@_DATA_DIR
def list_(as_json: bool, data_dir: Path | None) -> None:
    """List the accounts: name, state, created, last login, scopes (never a hash)."""
    accounts = _run(data_dir, lambda admin: admin.list_accounts())
    if as_json:
        echo_json([_document(a) for a in accounts])
        return
    rows = [
        (
            _name(a),
            _state(a),
            _time(a.created_at) or "",
            _time(a.last_login_at) or "never",
            " ".join(a.scopes),
        )
        for a in accounts
    ]
    header = ("NAME", "STATE", "CREATED", "LAST LOGIN", "SCOPES")
    widths = [max(_columns(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        click.echo(
            "".join(v + " " * (w + 2 - _columns(v)) for v, w in zip(row, widths, strict=False))
            + row[4]
        )


def _columns(text: str) -> int:
    """How many terminal columns ``text`` takes: a combining mark none, a wide (East
    Asian) character two, any other one."""
    import unicodedata

    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


@users.command()
@click.argument("name")
@json_option
@_DATA_DIR
def show(name: str, as_json: bool, data_dir: Path | None) -> None:
    """Show account NAME (never its password hash)."""
    account = _run(data_dir, lambda admin: admin.show(name))
    if as_json:
        echo_json(_document(account))
        return
    click.echo(f"name:       {_name(account)}")
    click.echo(f"state:      {_state(account)}")
    click.echo(f"created:    {_time(account.created_at)}")
    click.echo(f"last login: {_time(account.last_login_at) or 'never'}")
    click.echo(f"scopes:     {' '.join(account.scopes)}")


@users.command()
@click.argument("name")
@click.argument("scopes", metavar="SCOPE...", nargs=-1, required=True)
@_DATA_DIR
def grant(name: str, scopes: tuple[str, ...], data_dir: Path | None) -> None:
    """Grant SCOPEs to account NAME (from its next login on)."""
    account = _run(data_dir, lambda admin: admin.grant(name, scopes), ("admin.grant", name))
    click.echo(f"{_name(account)} holds {' '.join(account.scopes) or 'no scope'}")


@users.command(short_help="Take SCOPEs back from account NAME.")
@click.argument("name")
@click.argument("scopes", metavar="SCOPE...", nargs=-1, required=True)
@_DATA_DIR
def revoke(name: str, scopes: tuple[str, ...], data_dir: Path | None) -> None:
    """Take SCOPEs back from account NAME (its refreshes drop them at once)."""
    account = _run(data_dir, lambda admin: admin.revoke(name, scopes), ("admin.revoke", name))
    click.echo(f"{_name(account)} holds {' '.join(account.scopes) or 'no scope'}")


@users.command(short_help="Disable NAME: no login; its tokens are refused.")
@click.argument("name")
@_DATA_DIR
def disable(name: str, data_dir: Path | None) -> None:
    """Disable account NAME: no login, and its tokens are refused at once."""
    account = _run(data_dir, lambda admin: admin.disable(name), ("admin.disable", name))
    click.echo(f"disabled {_name(account)}; its sessions have ended")


@users.command()
@click.argument("name")
@_DATA_DIR
def enable(name: str, data_dir: Path | None) -> None:
    """Let disabled account NAME log in again."""
    account = _run(data_dir, lambda admin: admin.enable(name), ("admin.enable", name))
    click.echo(f"enabled {_name(account)}")


@users.command(name="reset-password", short_help="Set a new password for NAME; sessions end.")
@click.argument("name")
@_DATA_DIR
def reset_password(name: str, data_dir: Path | None) -> None:
    """Set a new password for NAME (from stdin or a prompt); its sessions end."""
    service = _service()
    settings = _settings(data_dir)
    # The account is found before the password is asked for.
    found = service.administer_accounts(settings, lambda admin: admin.show(name))
    password = _read_password(_name(found))
    account = service.administer_accounts(
        settings,
        lambda admin: admin.reset_password(found.username, password),
        audit=("admin.reset_password", found.username),
    )
    click.echo(f"reset the password of {_name(account)}; its sessions have ended")
    warn_password_profile(settings)


@users.command()
@click.argument("name")
@yes_option
@_DATA_DIR
def delete(name: str, yes: bool, data_dir: Path | None) -> None:
    """Delete account NAME for good (asks first, or --yes)."""
    service = _service()
    settings = _settings(data_dir)
    found = service.administer_accounts(settings, lambda admin: admin.show(name))
    confirm(
        f"Delete the account {_name(found)} for good?",
        action=f"deleting the account {_name(found)}",
        yes=yes,
    )
    service.administer_accounts(
        settings,
        lambda admin: admin.delete(found.username),
        audit=("admin.delete", found.username),
    )
    click.echo(f"deleted {_name(found)}")


@users.command("reset-totp", short_help="Remove NAME's second factor (TOTP); sessions end.")
@click.argument("name")
@yes_option
@_DATA_DIR
def reset_totp(name: str, yes: bool, data_dir: Path | None) -> None:
    """Remove account NAME's second factor (TOTP); asks first.

    For a user who lost the authenticator and the recovery codes: the password alone logs
    in again, and the user may enrol anew. The account's sessions end, as with
    reset-password: the tokens made with the old factor are refused.
    """
    service = _service()
    settings = _settings(data_dir)
    # The account is looked up first: an unknown name is said before asking, and the
    # question names the account as stored.
    found = service.administer_accounts(settings, lambda admin: admin.show(name))
    confirm(
        f"Remove the second factor of {_name(found)} and end its sessions? Its password "
        "alone will log in.",
        action=f"removing the second factor of {_name(found)}",
        yes=yes,
    )
    name, removed = service.reset_totp(settings, found.username)
    if removed:
        click.echo(
            f"removed the second factor of {terminal_safe(name)}; its password alone logs "
            "in; its sessions have ended"
        )
    else:
        click.echo(f"{terminal_safe(name)} has no second factor; its sessions have ended")


@users.command(name="import", short_help="Import accounts of other systems, with hashes.")
@click.argument("file", type=FilePath(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Import the valid lines even when others are refused (they are listed).",
)
@json_option
@_DATA_DIR
def import_(file: Path, skip_invalid: bool, as_json: bool, data_dir: Path | None) -> None:
    """Import accounts from FILE: JSON lines {"username", "password_hash", "scopes"}.

    Argon2, bcrypt, Django (pbkdf2_sha256, pbkdf2_sha1, bcrypt_sha256, bcrypt, argon2),
    passlib pbkdf2 and Werkzeug/Flask (pbkdf2:sha256, pbkdf2:sha512, pbkdf2:sha1, scrypt)
    hashes are accepted and replaced by the current Argon2id profile at each account's
    next login. Nothing is imported when a line is refused, unless
    --skip-invalid.
    """
    data = _read_import(file)
    if not data.strip():
        # Almost surely a wrong export or path: said before the data folder is touched.
        raise CLIError(
            f"{_source(file)} holds no account lines",
            hint='give one JSON object per line: {"username", "password_hash", "scopes"}',
        )
    service = _service()
    settings = _settings(data_dir)
    report = service.administer_accounts(
        settings,
        lambda admin: admin.import_json_lines(_lines_of(data), skip_invalid=skip_invalid),
        audit=("admin.import", ""),
        create=True,
    )
    refused = [
        f"line {p.line}"
        + (f" ({p.username!r})" if p.username is not None else "")
        + f": {p.reason}"
        for p in report.problems
    ]
    if report.problems and not skip_invalid:
        if as_json:  # what a script reads, also when nothing was imported (exit 1)
            echo_json({"imported": [], "refused": _refused_json(report.problems)})
        # One error line and its hint; the lines refused follow, as --skip-invalid lists them.
        raise CLIError(
            f"nothing was imported: {len(refused)} of {_lines(report.lines)} "
            f"{'is' if len(refused) == 1 else 'are'} refused",
            hint="correct them, or pass --skip-invalid to import the other lines",
            notes=[f"sealbox: refused {line}" for line in refused],
        )
    for line in refused:
        note(f"sealbox: refused {line}")
    if as_json:
        echo_json(
            {
                "imported": list(report.imported),
                "refused": _refused_json(report.problems),
            }
        )
        return
    schemes = Counter(a.scheme for a in report.accepted)
    kinds = ", ".join(f"{n} {scheme}" for scheme, n in sorted(schemes.items()))
    click.echo(
        f"imported {len(report.accepted)} account{'' if len(report.accepted) == 1 else 's'}"
        + (f" ({kinds})" if kinds else "")
        + (f"; refused {_lines(len(report.problems))}" if report.problems else "")
    )


def _refused_json(problems: Sequence[Any]) -> list[dict[str, object]]:
    # ImportProblem's fields (sealbox.accounts is the service's to import, not the CLI's).
    return [{"line": p.line, "name": p.username, "reason": p.reason} for p in problems]


def _lines(n: int) -> str:
    return f"{n} line" if n == 1 else f"{n} lines"


def _lines_of(data: bytes) -> Iterator[bytes]:
    """The lines of ``data`` as ``bytes.splitlines`` cuts them (a blank one more at the
    end), one at a time: tens of millions of short lines are not all held at once."""
    return (m.group(1) for m in _LINE.finditer(data))


_LINE = re.compile(rb"([^\r\n]*)(?:\r\n|\r|\n|\Z)")


def _read_import(file: Path) -> bytes:
    if str(file) == "-":
        data = sys.stdin.buffer.read(MAX_IMPORT_BYTES + 1)
    else:
        # Said as every command says a missing or unreadable input file.
        try:
            with file.open("rb") as fh:
                data = fh.read(MAX_IMPORT_BYTES + 1)
        except FileNotFoundError:
            raise CLIError(f"{file} does not exist") from None
        except OSError as exc:
            raise CLIError(f"cannot read {file}: {os_reason(exc)}") from None
    if len(data) > MAX_IMPORT_BYTES:
        raise CLIError(f"{_source(file)} is larger than {MAX_IMPORT_BYTES} bytes")
    return data


def _source(file: Path) -> str:
    return "standard input" if str(file) == "-" else str(file)


# Far above the longest password an account takes (its characters can be 4 bytes): a
# longer input is refused whole, not cut where a character may lie in two.
_MAX_PASSWORD_INPUT = 8192


def _read_password(name: str) -> str:
    if sys.stdin.isatty():
        import getpass

        with open_tty() as tty:
            first = getpass.getpass(f"Password for {name}: ", stream=tty)
            if getpass.getpass("Password (again): ", stream=tty) != first:
                raise CLIError("the passwords do not match")
        return first
    raw = read_stdin(_MAX_PASSWORD_INPUT, "the password")
    try:
        password = raw.decode().removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError:
        raise CLIError("the password on stdin is not UTF-8") from None
    if not password:
        # A script that forgot to pipe it (or a cron job with stdin closed): say so, not
        # that an empty password is too short.
        raise CLIError(
            f"no password for {name} on standard input, and no terminal to ask on",
            hint="pipe it in (printf '%s' \"$PASSWORD\" | sealbox users …), "
            "or run the command on a terminal",
        )
    return password


__all__ = ["users"]
