"""``sealbox serve`` and ``sealbox users create``/``reset-totp``: the HTTPS service."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sealbox.cli._dialect import confirm, yes_option
from sealbox.cli._io import CLIError, note, open_tty
from sealbox.exceptions import ExtraNotInstalledError

_DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="State folder (default: $SEALBOX_DATA_DIR or ./.sealbox).",
)


def _service() -> Any:
    """The service's entry points (:mod:`sealbox.service`), loaded when a command runs."""
    try:
        from sealbox import service
    except ExtraNotInstalledError:
        raise
    except ImportError as exc:
        raise ExtraNotInstalledError("service", exc.name or "fastapi") from None
    return service


@click.command()
@_DATA_DIR
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default 8443).")
@click.option(
    "--cert", type=click.Path(dir_okay=False, path_type=Path), help="Server certificate chain."
)
@click.option("--key", type=click.Path(dir_okay=False, path_type=Path), help="Server private key.")
@click.option(
    "--client-ca",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CA of client certificates (default with --mtls: the data folder's CA).",
)
@click.option("--mtls", is_flag=True, default=None, help="Require client certificates.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes (needs Redis and a shared database).",
)
@click.option(
    "--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"])
)
@click.option(
    "--check",
    is_flag=True,
    help="Provision and check the data folder and migrate the database, then exit.",
)
def serve(  # noqa: PLR0917 - click passes every option positionally
    data_dir: Path | None,
    host: str | None,
    port: int | None,
    cert: Path | None,
    key: Path | None,
    client_ca: Path | None,
    mtls: bool | None,
    workers: int | None,
    log_level: str,
    check: bool,
) -> None:
    """Run the HTTPS service (provisions a CA, keys and a database on first run)."""
    service = _service()
    settings = service.load_settings(
        data_dir=data_dir,
        host=host,
        port=port,
        cert=cert,
        key=key,
        client_ca=client_ca,
        mtls=mtls,
        workers=workers,
    )
    for item in service.prepare(settings):
        note(f"created {item}")
    if check:
        note(f"the data folder {settings.data_dir} is ready")
        return
    note(f"sealbox service on {service.service_url(settings)}  (API docs: /docs)")
    trust = service.client_trust_file(settings)
    if trust is not None:
        note(f"clients trust {trust}")
    sys.stderr.flush()
    service.run(settings, log_level=log_level)


@click.group()
def users() -> None:
    """Manage the service's accounts."""


@users.command()
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, help="A scope to grant (repeatable).")
@_DATA_DIR
def create(name: str, scopes: tuple[str, ...], data_dir: Path | None) -> None:
    """Create account NAME (password from stdin or a prompt), admins included."""
    service = _service()
    settings = service.load_settings(data_dir=data_dir)
    # The name is checked (and mapped to its canonical form) before the password is asked.
    name, granted = service.create_user(settings, name, _read_password, scopes)
    click.echo(f"created user {name} with scopes {' '.join(granted)}")


def _read_password(name: str) -> str:
    if sys.stdin.isatty():
        import getpass

        with open_tty() as tty:
            first = getpass.getpass(f"Password for {name}: ", stream=tty)
            if getpass.getpass("Password (again): ", stream=tty) != first:
                raise CLIError("the passwords do not match")
        return first
    raw = sys.stdin.buffer.read(8192)
    try:
        return raw.decode().removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError:
        raise CLIError("the password on stdin is not UTF-8") from None


@users.command("reset-totp")
@click.argument("name")
@yes_option
@_DATA_DIR
def reset_totp(name: str, yes: bool, data_dir: Path | None) -> None:
    """Remove account NAME's second factor (TOTP); asks first.

    For a user who lost the authenticator and the recovery codes: the password alone logs
    in again, and the user may enrol anew.
    """
    service = _service()
    settings = service.load_settings(data_dir=data_dir)
    confirm(
        f"Remove the second factor of {name}? Its password alone will log in.",
        action=f"removing the second factor of {name}",
        yes=yes,
    )
    name, removed = service.reset_totp(settings, name)
    if removed:
        click.echo(f"removed the second factor of {name}; its password alone logs in")
    else:
        click.echo(f"{name} has no second factor; nothing changed")
