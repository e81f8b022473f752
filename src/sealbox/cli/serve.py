"""``sealbox serve`` and ``sealbox users create``: the HTTPS service."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sealbox.cli._io import CLIError, note, open_tty
from sealbox.exceptions import ConfigError, ExtraNotInstalledError

_DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="State folder (default: $SEALBOX_DATA_DIR or ./.sealbox).",
)


def _settings(**overrides: Any) -> Any:
    try:
        from sealbox.service.settings import ServiceSettings
    except ImportError as exc:
        raise ExtraNotInstalledError("service", exc.name or "fastapi") from None
    from pydantic import ValidationError

    try:
        return ServiceSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        # Names and reasons only: the values may be secrets (a database URL).
        problems = "; ".join(
            f"SEALBOX_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigError(
            f"invalid settings: {problems}",
            hint="check the SEALBOX_* variables, the .env file and the options",
        ) from None


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
    settings = _settings(
        data_dir=data_dir,
        host=host,
        port=port,
        cert=cert,
        key=key,
        client_ca=client_ca,
        mtls=mtls,
        workers=workers,
    )
    from sealbox.service.serve import prepare, run

    for item in prepare(settings):
        note(f"created {item}")
    if check:
        note(f"the data folder {settings.data_dir} is ready")
        return
    shown_host = "localhost" if settings.host in ("127.0.0.1", "::1") else settings.host
    note(f"sealbox service on https://{shown_host}:{settings.port}  (API docs: /docs)")
    if settings.cert is None:
        note(f"clients trust {Path(settings.data_dir) / 'tls' / 'ca.crt'}")
    sys.stderr.flush()
    run(settings, log_level=log_level)


@click.group()
def users() -> None:
    """Manage the service's accounts."""


@users.command()
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, help="A scope to grant (repeatable).")
@_DATA_DIR
def create(name: str, scopes: tuple[str, ...], data_dir: Path | None) -> None:
    """Create account NAME (password from stdin or a prompt), admins included."""
    import asyncio

    settings = _settings(data_dir=data_dir)
    from sealbox.passwords import PasswordHasher
    from sealbox.service.db import make_engine, migrate, sessionmaker
    from sealbox.service.errors import ApiError
    from sealbox.service.routes.auth import DEFAULT_SCOPES, check_new_password
    from sealbox.service.store import Store, UsernameTakenError
    from sealbox.service.usernames import canonical_username

    # The service's rules (RFC 8265, look-alikes refused); a refusal is a SealboxError
    # whose message names the character.
    name = canonical_username(name)
    password = _read_password(name)
    try:
        check_new_password(password, name)
    except ApiError as exc:
        raise CLIError(exc.message) from None
    password_hash = PasswordHasher(settings.password_profile).hash(password)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if settings.database_url is None:
        from sealbox.service.provision import DataDir

        DataDir(settings.data_dir).touch_private("sealbox.db")  # before SQLite makes it 0644

    async def _create() -> None:
        engine = make_engine(settings.resolved_database_url())
        try:
            await migrate(engine)
            store = Store(sessionmaker(engine), refresh_ttl=settings.refresh_token_ttl)
            if await store.name_is_taken(name):
                raise UsernameTakenError(name)
            await store.create_user(name, password_hash, [*DEFAULT_SCOPES, *scopes])
        finally:
            await engine.dispose()

    try:
        asyncio.run(_create())
    except UsernameTakenError:
        raise CLIError(f"the username {name!r}, or one that looks like it, is taken") from None
    granted = sorted({*DEFAULT_SCOPES, *scopes})
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
