"""Starting the service: provision, migrate, then run uvicorn over TLS.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from sealbox.exceptions import ConfigError
from sealbox.service.db import make_engine, migrate
from sealbox.service.preflight import check_audit_log, check_database, check_modes
from sealbox.service.provision import DataDir
from sealbox.service.settings import ServiceSettings

__all__ = ["check", "prepare", "run", "settings_env", "uvicorn_options"]


def check(settings: ServiceSettings) -> None:
    """Refuse settings that cannot work together, before anything is created."""
    if settings.workers > 1 and settings.redis_url is None:
        raise ConfigError(
            "several workers need SEALBOX_REDIS_URL: revocation and throttling must be shared",
            hint="set SEALBOX_REDIS_URL=redis://host:6379/0, or run one worker",
        )
    if settings.workers > 1 and settings.database_url is None:
        raise ConfigError(
            "several workers need a shared database (SEALBOX_DATABASE_URL, e.g. PostgreSQL)",
            hint="set SEALBOX_DATABASE_URL=postgresql+asyncpg://user@host/db, or run one worker",
        )
    if (settings.cert is None) != (settings.key is None):
        raise ConfigError("give --cert and --key together")
    if settings.mtls and settings.client_ca is None and settings.cert is not None:
        raise ConfigError("--mtls needs --client-ca when --cert is given")


def prepare(settings: ServiceSettings) -> list[str]:
    """Provision the data folder and migrate the database; return what was created."""
    check(settings)
    check_database(settings)
    data = DataDir(settings.data_dir)
    done = data.provision(tls=settings.cert is None, sqlite=settings.database_url is None)
    check_modes(settings)
    check_audit_log(settings)

    async def _migrate() -> None:
        engine = make_engine(settings.resolved_database_url())
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    with data.lock():  # services starting together: one creates the tables, the rest find them
        asyncio.run(_migrate())
    return done


def settings_env(settings: ServiceSettings) -> dict[str, str]:
    """The ``SEALBOX_*`` variables that make a worker see these settings."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if hasattr(value, "expose_secret"):
            value = value.expose_secret()
        env[f"SEALBOX_{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    return env


def run(settings: ServiceSettings, *, log_level: str = "info") -> None:
    """Serve until interrupted (blocks). Call :func:`prepare` first."""
    import uvicorn

    if settings.mtls and settings.client_ca is None:
        settings = settings.model_copy(
            update={"client_ca": Path(settings.data_dir) / "tls" / "ca.crt"}
        )
    os.environ.update(settings_env(settings))  # workers read their settings from here
    options = uvicorn_options(settings, log_level=log_level)
    from sealbox.service.connection import EnvConnection

    # TLS is done by the connection class (see sealbox.service.connection), so uvicorn
    # gets no SSL settings; each worker reads the SEALBOX_* variables. (A class, not an
    # import string: uvicorn before 0.36 takes only its own names as strings.)
    uvicorn.run(
        "sealbox.service.app:app_from_env",
        workers=settings.workers,
        factory=True,
        http=EnvConnection,
        **options,
    )


def uvicorn_options(settings: ServiceSettings, *, log_level: str = "info") -> dict[str, Any]:
    """uvicorn's options for the service, but ``http`` (the connection class) and the app."""
    return {
        "host": settings.host,
        "port": settings.port,
        "lifespan": "on",
        "timeout_keep_alive": settings.keep_alive_timeout,
        "log_level": log_level,
        "server_header": False,
        "proxy_headers": False,
        "timeout_graceful_shutdown": 10,
    }
