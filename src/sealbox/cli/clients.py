"""``sealbox clients``: OAuth 2 clients for machines (client credentials) of the service."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from sealbox.cli._dialect import confirm, echo_json, json_option, yes_option
from sealbox.cli._io import CLIError, note, terminal_safe
from sealbox.cli._paths import FilePath
from sealbox.cli.serve import _DATA_DIR, _load_settings, _service


def _settings(data_dir: Path | None) -> Any:
    return _load_settings(data_dir=data_dir)


def _admin() -> Any:
    """:mod:`sealbox.service.client_admin`, once the service's extra is known installed."""
    _service()
    from sealbox.service import client_admin

    return client_admin


@contextlib.contextmanager
def _by_name(settings: Any, name: str) -> Iterator[None]:
    """Run a command on client ``name``; a ``client_id`` given instead (as ``list`` prints
    it) is refused with a hint naming its client.

    Not taken as the client: ``sbc_…`` is a valid client name too, so one argument read
    both ways could name two clients, and ``delete`` must never reach the other one.
    """
    from sealbox.exceptions import SealboxError

    try:
        yield
    except SealboxError as exc:
        if exc.code != "client_not_found":
            raise
        owner = next((c for c in _service().list_clients(settings) if c.client_id == name), None)
        if owner is None:
            raise
        raise CLIError(
            str(exc), hint=f"{name} is the client_id of client {owner.name}: give its name"
        ) from None


def _holds(client: Any) -> str:
    return f"{client.name} holds {' '.join(client.scopes) or 'no scope'}"


def _made(make: Any, as_json: bool, verb: str, also: str | None = None) -> None:
    """Run ``make`` and print the secret it made, also when the command fails after the
    change was committed: the secret exists, and this is the one time it can be shown.

    Ctrl-C, SIGTERM and SIGHUP are held from before the change until the secret is out
    (they take effect then): one arriving after the database commit would end the
    command with the secret stored and never shown, a client nobody can use.
    """
    from sealbox.exceptions import StorageError
    from sealbox.storage import signals_held

    with signals_held():
        try:
            made = make()
        except StorageError as exc:
            made_all_the_same = getattr(exc, "result", None)
            # A rotation that stands though Redis stopped answering during the sweep after
            # its commit: its secret is shown all the same. (The audit record is written
            # in the change's transaction: one the log refuses undoes it, no secret made.)
            if exc.code == "tokens_partly_ended" and made_all_the_same is not None:
                _shown(made_all_the_same, as_json, verb, also)
            raise
        _shown(made, as_json, verb, also)


def _shown(made: Any, as_json: bool, verb: str, also: str | None) -> None:
    _print_secret(made, as_json, verb)
    if also:
        note(also)
    # Out of the buffers before the signals held arrive: SIGTERM ends the process at once.
    sys.stdout.flush()
    sys.stderr.flush()


def _print_secret(made: Any, as_json: bool, verb: str) -> None:
    client = made.client
    secret = made.secret.expose_secret() if made.secret is not None else None
    if as_json:
        document = client.to_dict()
        if secret is not None:
            document["client_secret"] = secret
        echo_json(document)
    else:
        click.echo(f"client_id: {client.client_id}")
        if secret is not None:
            click.echo(f"client_secret: {secret}")
    # On standard error with --json too: the JSON goes to a file, the notes to the person.
    note(f"{verb} client {client.name} with scopes {' '.join(client.scopes) or '(none)'}")
    if secret is not None:
        note("the secret is shown this once: store it now")


@click.group()
def clients() -> None:
    """Manage the service's OAuth 2 clients (machines using client credentials)."""


@clients.command()
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, help="A scope it may be granted (repeatable).")
@click.option(
    "--cert",
    type=FilePath(dir_okay=False, path_type=Path),
    help="Its client certificate (PEM): it may authenticate by the certificate's subject "
    "over mutual TLS (tls_client_auth).",
)
@click.option("--no-secret", is_flag=True, help="Make no secret (with --cert only).")
@json_option
@_DATA_DIR
def create(  # noqa: PLR0917 - click passes every option positionally
    name: str,
    scopes: tuple[str, ...],
    cert: Path | None,
    no_secret: bool,
    as_json: bool,
    data_dir: Path | None,
) -> None:
    """Register client NAME; print its client id and secret (the secret only this once)."""
    if no_secret and cert is None:
        # Flags that contradict each other are a usage error, as `encrypt -p -r` is.
        raise click.UsageError(
            "--no-secret needs --cert: a client needs a secret or a certificate subject "
            "to authenticate with"
        )
    settings = _settings(data_dir)
    _made(
        lambda: _service().create_client(
            settings, name, scopes, certificate=cert, with_secret=not no_secret
        ),
        as_json,
        "created",
    )


@clients.command("list")
@json_option
@_DATA_DIR
def list_(as_json: bool, data_dir: Path | None) -> None:
    """List the clients (never a secret)."""
    found = _service().list_clients(_settings(data_dir))
    if as_json:
        echo_json([c.to_dict() for c in found])
        return
    for client in found:
        methods = ",".join(client.auth_methods)
        scopes = " ".join(client.scopes) or "-"
        state = "disabled" if client.disabled else "enabled"
        click.echo(f"{client.name}\t{client.client_id}\t{methods}\t{scopes}\t{state}")


@clients.command()
@click.argument("name")
@json_option
@_DATA_DIR
def show(name: str, as_json: bool, data_dir: Path | None) -> None:
    """Show client NAME (never its secret nor the secret's hash)."""
    settings = _settings(data_dir)
    with _by_name(settings, name):
        client = _service().find_client(settings, name)
    document = client.to_dict()
    if as_json:
        echo_json(document)
        return
    rows = [
        ("name", client.name),
        ("client_id", client.client_id),
        ("scopes", " ".join(client.scopes) or "-"),
        ("auth methods", ",".join(client.auth_methods) or "-"),
        ("disabled", "yes" if client.disabled else "no"),
    ]
    if client.subject_dn is not None:
        # A subject registered over HTTP is text an administrator wrote: shown escaped.
        rows.append(("certificate", terminal_safe(client.subject_dn)))
    rows.append(("created", document["created"]))
    if document["secret_rotated"] is not None:
        rows.append(("secret rotated", document["secret_rotated"]))
    if document["previous_secret_expires"] is not None:
        rows.append(("previous secret expires", document["previous_secret_expires"]))
    width = max(len(label) for label, _ in rows) + 2
    for label, value in rows:
        click.echo(f"{label + ':':<{width}}{value}")


@clients.command()
@click.argument("name")
@click.argument("scopes", metavar="SCOPE...", nargs=-1, required=True)
@_DATA_DIR
def grant(name: str, scopes: tuple[str, ...], data_dir: Path | None) -> None:
    """Grant SCOPEs to client NAME (its next token may carry them)."""
    settings = _settings(data_dir)
    with _by_name(settings, name):
        client = _admin().grant_client_scopes(settings, name, scopes)
    click.echo(_holds(client))


@clients.command(short_help="Take SCOPEs back from client NAME.")
@click.argument("name")
@click.argument("scopes", metavar="SCOPE...", nargs=-1, required=True)
@_DATA_DIR
def revoke(name: str, scopes: tuple[str, ...], data_dir: Path | None) -> None:
    """Take SCOPEs back from client NAME (its next token lacks them; the
    administrators' routes refuse them at once)."""
    settings = _settings(data_dir)
    with _by_name(settings, name):
        client = _admin().revoke_client_scopes(settings, name, scopes)
    click.echo(_holds(client))


@clients.command("rotate-secret")
@click.argument("name")
@click.option(
    "--overlap",
    type=click.IntRange(0, 30 * 24 * 3600),
    default=0,
    show_default=True,
    help="Seconds the current secret keeps working beside the new one.",
)
@click.option(
    "--revoke-tokens",
    is_flag=True,
    help="Refuse the access tokens issued before, at once (the new secret's pass).",
)
@json_option
@_DATA_DIR
def rotate_secret(
    name: str, overlap: int, revoke_tokens: bool, as_json: bool, data_dir: Path | None
) -> None:
    """Give client NAME a new secret; print it (only this once)."""
    settings = _settings(data_dir)
    notes = [f"the previous secret keeps working for {overlap} seconds"] if overlap else []
    if revoke_tokens:
        notes.append("the access tokens issued before are refused")
    with _by_name(settings, name):
        _made(
            lambda: _admin().rotate_client_secret(
                settings, name, overlap, revoke_tokens=revoke_tokens
            ),
            as_json,
            "rotated the secret of",
            "; ".join(notes) or None,
        )


@clients.command()
@click.argument("name")
@_DATA_DIR
def disable(name: str, data_dir: Path | None) -> None:
    """Disable client NAME: it no longer authenticates, and its access tokens are refused
    at once."""
    settings = _settings(data_dir)
    with _by_name(settings, name):
        client = _admin().disable_client(settings, name)
    note(f"disabled client {client.name} ({client.client_id}); its access tokens are refused")


@clients.command()
@click.argument("name")
@_DATA_DIR
def enable(name: str, data_dir: Path | None) -> None:
    """Let disabled client NAME authenticate again (its ended tokens stay refused)."""
    settings = _settings(data_dir)
    with _by_name(settings, name):
        client = _admin().enable_client(settings, name)
    note(f"enabled client {client.name} ({client.client_id})")


@clients.command()
@click.argument("name")
@yes_option
@_DATA_DIR
def delete(name: str, yes: bool, data_dir: Path | None) -> None:
    """Delete client NAME: its secret and certificate stop working at once."""
    settings = _settings(data_dir)
    with _by_name(settings, name):
        found = _service().find_client(settings, name)  # an unknown name is said before asking
    confirm(f"Delete client {found.name}?", action=f"deleting client {found.name}", yes=yes)
    deleted = _service().delete_client(settings, found.name)
    note(f"deleted client {deleted.name} ({deleted.client_id})")
