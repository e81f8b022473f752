r"""Starting the service: settings, provision, migrate, then run uvicorn over TLS.

What ``sealbox serve`` calls, through :mod:`sealbox.service`: :func:`load_settings`,
:func:`prepare` (which runs :func:`check`), then :func:`run`. Errors are
:class:`~sealbox.exceptions.ConfigError`\ s with a code and the settings they name
as facts; they speak of settings (``SEALBOX_CERT``), and the command line maps
the codes to its own options.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import logging
import os
import re
import signal
import socket
from pathlib import Path
from typing import Any, Final

from sealbox.exceptions import ConfigError
from sealbox.service.db import make_engine, migrate
from sealbox.service.preflight import (
    check_audit_log,
    check_database,
    check_keys,
    check_keyset_present,
    check_listen,
    check_master_key_present,
    check_modes,
    check_redis,
    check_writable,
    outside_data_dir,
)
from sealbox.service.provision import SERVER_NAMES, DataDir
from sealbox.service.settings import ServiceSettings, load_settings

__all__ = [
    "check",
    "check_listen",
    "client_trust_file",
    "listen_warning",
    "load_settings",
    "prepare",
    "run",
    "service_url",
    "settings_env",
    "uvicorn_options",
]


def check(settings: ServiceSettings) -> None:
    """Refuse settings that cannot work together, before anything is created.

    Raises:
        ConfigError: with one of the codes ``workers_need_redis``,
            ``workers_need_database``, ``cert_without_key`` (a certificate without
            its key, or a key without its certificate), ``mtls_needs_client_ca`` or
            ``trusted_proxies_invalid`` (an entry of ``SEALBOX_TRUSTED_PROXIES`` that is
            no IP address or network, or that would trust every client: see
            :meth:`~sealbox.service.forwarded.TrustedProxies.parse`).

    .. versionchanged:: 0.1.0
       ``SEALBOX_TRUSTED_PROXIES`` is checked.
    """
    from sealbox.service.forwarded import TrustedProxies

    TrustedProxies.parse(settings.trusted_proxies)
    workers = {"workers": str(settings.workers)}
    if settings.workers > 1 and settings.redis_url is None:
        raise ConfigError(
            "several workers need SEALBOX_REDIS_URL: revocation and throttling must be shared",
            hint="set SEALBOX_REDIS_URL=redis://host:6379/0, or run one worker",
            code="workers_need_redis",
            facts=workers,
        )
    if settings.workers > 1 and settings.database_url is None:
        raise ConfigError(
            "several workers need a shared database (SEALBOX_DATABASE_URL, e.g. PostgreSQL)",
            hint="set SEALBOX_DATABASE_URL=postgresql+asyncpg://user@host/db, or run one worker",
            code="workers_need_database",
            facts=workers,
        )
    if (settings.cert is None) != (settings.resolved_key() is None):
        # A certificate file that holds its key too is both.
        given, missing = ("certificate", "key")[:: 1 if settings.key is None else -1]
        raise ConfigError(
            f"a server {given} is given without its {missing}: they go together",
            hint="set SEALBOX_CERT and SEALBOX_KEY together",
            code="cert_without_key",
            facts={"given": given, "missing": missing},
        )
    if settings.mtls and settings.client_ca is None and settings.cert is not None:
        raise ConfigError(
            "mutual TLS with a server certificate of one's own needs the CA of the "
            "client certificates",
            hint="set SEALBOX_CLIENT_CA to the CA file that issued the client certificates",
            code="mtls_needs_client_ca",
        )


def service_url(settings: ServiceSettings) -> str:
    """The address clients reach the service at.

    ``localhost`` for a loopback address, and for every interface (``0.0.0.0``, ``::``)
    with the development certificate, whose names are this machine's own: no client
    can open ``https://0.0.0.0``. With a certificate of one's own, every interface is
    named by the machine's host name.

    .. versionchanged:: 0.1.0
       Every interface is named by a host, not by ``0.0.0.0``.
    """
    host = settings.host
    if _is_loopback(host) or (_is_every_interface(host) and settings.cert is None):
        host = "localhost"
    elif _is_every_interface(host):
        host = socket.gethostname()
    if ":" in host:  # an IPv6 address, bracketed in a URL (RFC 3986 §3.2.2)
        host = f"[{host}]"
    return f"https://{host}:{settings.port}"


def listen_warning(settings: ServiceSettings) -> str | None:
    """What to tell an operator whose service listens beyond this machine with the
    development certificate, or ``None``.

    That certificate names only this machine's loopback names: a client on another
    machine, reaching the service by its address or name, cannot verify it.
    """
    if settings.cert is not None or _is_loopback(settings.host):
        return None
    where = (
        f"every interface ({settings.host})"
        if _is_every_interface(settings.host)
        else settings.host
    )
    return (
        f"listening on {where} with the development certificate, which names only "
        f"{', '.join(SERVER_NAMES[:-1])} and {SERVER_NAMES[-1]}: clients on other "
        "machines cannot verify it; give the service a certificate for the name they use"
    )


def _is_loopback(host: str) -> bool:
    """Whether ``host`` is one the development certificate names (``localhost`` reaches it)."""
    return host in SERVER_NAMES


def _is_every_interface(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False  # a name


def client_trust_file(settings: ServiceSettings) -> Path | None:
    """The CA file clients trust: the data folder's development CA, ``None`` with a given
    certificate (whoever issued it says what to trust)."""
    if settings.cert is not None:
        return None
    return Path(settings.data_dir) / "tls" / "ca.crt"


def prepare(
    settings: ServiceSettings, *, serving: bool = False, new_keyset: bool = False
) -> list[str]:
    """Provision the data folder and migrate the database; return what was created.

    ``serving``: this process will serve the folder (:func:`run`); it is claimed first
    (:meth:`DataDir.claim_for_serving`), so a second service without Redis is refused
    before it changes anything.

    ``new_keyset``: make a new signing keyset where it is missing although the database
    holds accounts (refused otherwise, code ``keyset_lost``: see
    :func:`~sealbox.service.preflight.check_keyset_present`). Every access token issued
    before stops verifying.

    .. versionchanged:: 0.1.0
       ``new_keyset``; a lost signing keyset is refused.
    """
    check(settings)
    check_writable(settings)
    if serving:
        _claim(settings)
    check_database(settings)
    check_master_key_present(settings)
    check_modes(settings)
    from sealbox.service.tls_setup import check_server_tls  # the TLS stack, when serving

    async def _migrate() -> None:
        engine = make_engine(settings.resolved_database_url())
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    # What lies outside the data folder is checked before anything is made in it: a start
    # refused for it would leave a folder with new keys behind, unreported.
    check_redis(settings)
    if settings.cert is not None:  # given files (and then a given client CA too)
        check_server_tls(settings)
    audit_log = settings.resolved_audit_log()
    if outside_data_dir(settings, audit_log):  # in the folder, made with it
        check_audit_log(settings)
    sqlite = settings.database_url is None
    if not sqlite:  # PostgreSQL's own lock orders services migrating together
        asyncio.run(_migrate())
    check_keyset_present(settings, new_keyset=new_keyset)
    data = DataDir(settings.data_dir)
    # Under the folder's lock: services starting together, one creates, the rest find.
    done = data.provision(
        tls=settings.cert is None,
        sqlite=sqlite,
        migrate=(lambda: asyncio.run(_migrate())) if sqlite else None,
    )
    check_modes(settings)
    check_server_tls(_with_client_ca(settings))
    check_keys(data)
    check_audit_log(settings)
    return done


def _with_client_ca(settings: ServiceSettings) -> ServiceSettings:
    """``settings`` with the default client CA of ``--mtls``: the data folder's CA."""
    if settings.mtls and settings.client_ca is None:
        return settings.model_copy(update={"client_ca": Path(settings.data_dir) / "tls" / "ca.crt"})
    return settings


def _claim(settings: ServiceSettings) -> None:
    # A folder not made yet is claimed by run(), once provisioning has made it.
    if settings.data_dir.is_dir():
        DataDir(settings.data_dir).claim_for_serving(
            shared=settings.redis_url is not None, redis_keys=settings.redis_keys_id()
        )


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


def run(
    settings: ServiceSettings,
    *,
    log_level: str = "info",
    worker_healthcheck_timeout: float | None = None,
) -> None:
    """Serve until interrupted (blocks). Call :func:`prepare` first.

    ``worker_healthcheck_timeout``: with several workers, the seconds a worker's event
    loop may go silent before the worker is taken for hung and replaced (``None``: the
    settings', ``SEALBOX_WORKER_HEALTHCHECK_TIMEOUT``, 30 by default).

    .. versionchanged:: 0.1.0
       ``worker_healthcheck_timeout``.
    """
    import uvicorn

    _claim(settings)
    settings = _with_client_ca(settings)
    os.environ.update(settings_env(settings))  # workers read their settings from here
    options = uvicorn_options(settings, log_level=log_level)
    logging.getLogger("uvicorn.error").addFilter(_HTTPS_START_LINE)
    from sealbox.service.connection import EnvConnection

    # TLS is done by the connection class (see sealbox.service.connection), so uvicorn gets
    # no SSL settings; each worker reads the SEALBOX_* variables. The app is behind the
    # trusted proxies' step (sealbox.service.forwarded).
    app = "sealbox.service.app:app_from_env"
    if settings.workers > 1:  # sealbox's supervisor, restarting workers that die
        from sealbox.service.supervisor import supervise

        options.update(log_level=None, log_config=_supervisor_log_config(log_level))
        config = uvicorn.Config(
            app, workers=settings.workers, factory=True, http=EnvConnection, **options
        )
        timeout = worker_healthcheck_timeout
        supervise(config, healthcheck_timeout=timeout or settings.worker_healthcheck_timeout)
        return
    # After a graceful stop uvicorn raises the signal that asked for it again, to end the
    # process by it: SIGTERM (systemd, docker stop, Kubernetes) would exit 143 once every
    # request was answered. Raised as Ctrl-C's KeyboardInterrupt, it is the end of serving,
    # and exits 0 as SIGINT does. uvicorn.run takes it so from 0.30.3; before, it lets it
    # out (the command line would say "interrupted", exit 130), so it is taken here too.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        uvicorn.run(app, factory=True, http=EnvConnection, **options)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


class _HttpsStartLine(logging.Filter):
    """uvicorn's ``Uvicorn running on http://…`` names the scheme of uvicorn's own TLS
    settings, which ``run`` leaves unset (the connection class does TLS): the line is
    made to say ``https``, the only scheme the service answers."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and args
            and args[0] == "http"
            and str(record.msg).startswith("Uvicorn running on ")
        ):
            record.args = ("https", *args[1:])
        return True


_HTTPS_START_LINE = _HttpsStartLine()

# What the supervisor logs, at INFO, when it finds a worker dead and starts another
# (sealbox.service.supervisor, in uvicorn's words and on its logger).
_WORKER_DIED: Final = re.compile(r"Child process \[\d+\] died")


class _WorkerDeaths(logging.Filter):
    """Raise uvicorn's line for a worker that died (killed, out of memory, crashed) to a
    warning, and drop what is below ``level``: an operator at ``--log-level warning``
    must learn that requests in flight were lost and a new worker was started.

    The supervisor creates no record its logger's level turns away, so the logger is
    left at INFO and this filter applies the level chosen instead.
    """

    def __init__(self, level: str) -> None:
        super().__init__()
        self._level = logging.getLevelNamesMapping()[level]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and _WORKER_DIED.fullmatch(record.getMessage()):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return record.levelno >= self._level


def _supervisor_log_config(log_level: str) -> dict[str, Any]:
    """uvicorn's logging configuration, with :class:`_WorkerDeaths` on its ``uvicorn.error``
    logger (the supervisor's) and ``log_level`` applied as uvicorn would apply it."""
    from uvicorn.config import LOGGING_CONFIG

    level = log_level.upper()
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {
        "worker_deaths": {"()": f"{__name__}._WorkerDeaths", "level": level},
    }
    loggers = config["loggers"]
    loggers["uvicorn.error"] = {
        "level": "DEBUG" if level == "DEBUG" else "INFO",
        "filters": ["worker_deaths"],
    }
    loggers["uvicorn.access"]["level"] = level
    loggers["uvicorn.asgi"] = {"level": level}
    return config


def uvicorn_options(settings: ServiceSettings, *, log_level: str = "info") -> dict[str, Any]:
    """uvicorn's options for the service, but ``http`` (the connection class) and the app."""
    return {
        "host": settings.host,
        "port": settings.port,
        "lifespan": "on",
        "timeout_keep_alive": settings.keep_alive_timeout,
        "log_level": log_level,
        "server_header": False,
        # The forwarding headers are sealbox's own step's (sealbox.service.forwarded):
        # uvicorn's differs across the versions sealbox allows.
        "proxy_headers": False,
        "timeout_graceful_shutdown": settings.shutdown_timeout,
    }
