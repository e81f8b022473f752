"""``sealbox serve``: the HTTPS service (and what ``sealbox users`` shares with it)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from sealbox.cli._dialect import Seconds
from sealbox.cli._io import note, warn
from sealbox.cli._paths import FilePath
from sealbox.exceptions import ExtraNotInstalledError

_DATA_DIR = click.option(
    "--data-dir",
    type=FilePath(file_okay=False, path_type=Path),
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


def _not_blank(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # An unset shell variable (--host "$ADDRESS") is the option's mistake, not the
    # SEALBOX_HOST the settings would name.
    if value is not None and not value.strip():
        raise click.BadParameter("empty (is a shell variable unset?)", ctx, param)
    return value


def _load_settings(**overrides: Any) -> Any:
    """The service's settings (:func:`sealbox.service.load_settings`), after a warning on
    stderr for each ``SEALBOX_*`` name of the environment or ``.env`` that sealbox does not
    read: a misspelt setting would otherwise be ignored without a word."""
    service = _service()
    from sealbox.service.settings import unknown_setting_warnings

    for warning in unknown_setting_warnings(os.environ):
        warn(warning)
    return service.load_settings(**overrides)


def warn_password_profile(settings: Any) -> None:
    """Warn on stderr when the service's password profile makes hashes cheap to guess: said
    at each start and by each command that hashes a password with it."""
    from sealbox.passwords.profiles import profile_warning

    warning = profile_warning(settings.password_profile)
    if warning is not None:
        warn(f"{warning} (SEALBOX_PASSWORD_PROFILE)")


@click.command()
@_DATA_DIR
@click.option("--host", callback=_not_blank, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default 8443).")
@click.option(
    "--cert", type=FilePath(dir_okay=False, path_type=Path), help="Server certificate chain."
)
@click.option("--key", type=FilePath(dir_okay=False, path_type=Path), help="Server private key.")
@click.option(
    "--client-ca",
    type=FilePath(dir_okay=False, path_type=Path),
    help="CA of client certificates (default with --mtls: the data folder's CA).",
)
@click.option(
    "--mtls/--no-mtls",
    default=None,
    help="Require client certificates (default: $SEALBOX_MTLS, or not).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes (needs Redis and a shared database).",
)
@click.option(
    "--worker-healthcheck-timeout",
    type=Seconds(2, 3600),
    metavar="SECONDS",
    help="With --workers: replace a worker whose event loop is silent this long (default 30).",
)
@click.option(
    "--trusted-proxies",
    metavar="ADDRESSES",
    help="Reverse proxies whose X-Forwarded-For names the client: IP addresses and CIDR "
    "networks, comma-separated (default: none).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="How much the service logs.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Provision and check the data folder and migrate the database, then exit.",
)
@click.option(
    "--new-signing-keyset",
    is_flag=True,
    help="Replace a lost signing keyset of a folder with accounts by a new one "
    "(every token issued before stops working).",
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
    worker_healthcheck_timeout: float | None,
    trusted_proxies: str | None,
    log_level: str,
    check: bool,
    new_signing_keyset: bool,
) -> None:
    """Run the HTTPS service (provisions a CA, keys and a database on first run)."""
    service = _service()
    settings = _load_settings(
        data_dir=data_dir,
        host=host,
        port=port,
        cert=cert,
        key=key,
        client_ca=client_ca,
        mtls=mtls,
        workers=workers,
        worker_healthcheck_timeout=worker_healthcheck_timeout,
        trusted_proxies=trusted_proxies,
    )
    for item in service.prepare(settings, serving=not check, new_keyset=new_signing_keyset):
        note(f"created {item}")
    from sealbox.service.runtime import hmac_key_warnings

    for unused_key in hmac_key_warnings(settings):  # verifies nothing: said at each start
        warn(unused_key)
    warn_password_profile(settings)
    if check:
        note(f"the data folder {settings.data_dir} is ready")
        return
    port = service.check_listen(settings)
    if settings.port == 0:  # the system's choice, named in the banner and served on
        settings = settings.model_copy(update={"port": port})
    from sealbox.service.serve import listen_warning

    warning = listen_warning(settings)
    if warning is not None:
        warn(f"{warning} (--cert and --key)")
    note(f"sealbox service on {service.service_url(settings)}  (API docs: /docs)")
    trust = service.client_trust_file(settings)
    if trust is not None:
        note(f"clients trust {trust}")
    sys.stderr.flush()
    service.run(settings, log_level=log_level)
