"""The FastAPI application: ``create_app(settings)``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sealbox import __version__
from sealbox.integrations.fastapi import auth_router
from sealbox.secret import install_log_redaction
from sealbox.service.access_log import install_access_log_filter
from sealbox.service.deps import current_caller, runtime_accounts
from sealbox.service.errors import install_error_handlers
from sealbox.service.forwarded import TrustedProxies, forward
from sealbox.service.middleware import (
    BodyLimitMiddleware,
    InternalErrorMiddleware,
    JSONBodyMiddleware,
    SecurityHeadersMiddleware,
)
from sealbox.service.routes import admin_users, docs, oauth, totp, transit, users
from sealbox.service.routes.transit_entry import TransitEntry
from sealbox.service.routes.users_fast import UsersMeFastPath
from sealbox.service.runtime import Runtime
from sealbox.service.settings import ServiceSettings, load_settings
from sealbox.service.tls_setup import CertificateReloader, certificate_renewal, tls_paths
from sealbox.service.vault.api import HEAD_AS_GET, TRANSIT_PREFIX, VaultApi
from sealbox.service.vault.transit_entry import VaultTransitEntry

__all__ = ["ServiceApp", "add_service_middleware", "app_from_env", "create_app"]

log = logging.getLogger("sealbox.service")

DESCRIPTION = """
Accounts and tokens: register, log in with the OAuth2 password flow (the
**Authorize** button), refresh with rotating refresh tokens, log out. Access tokens
are EdDSA JWTs that anyone can verify with the keys at `/.well-known/jwks.json`.

Encryption as a service (transit) under `/v1/keys`: named keys with versions,
encrypt, decrypt, rewrap, data keys, signatures and HMACs, with Vault Transit's
field names; each key and operation is guarded by a scope such as
`transit:encrypt:<name>`.
"""


class ServiceApp(FastAPI):
    """The service's FastAPI application, with its lean entries for ``GET /users/me``
    and the transit operations.

    The entries (:class:`~sealbox.service.routes.users_fast.UsersMeFastPath`,
    :class:`~sealbox.service.routes.transit_entry.TransitEntry`,
    :class:`~sealbox.service.vault.transit_entry.VaultTransitEntry`) are asked first,
    before Starlette's middleware stack: the requests they take never meet the
    framework, and they add what the middlewares would have added.

    A ``HEAD`` request is answered as its ``GET`` would be, without the body (RFC 9110
    §9.3.2), by every path that answers ``GET``: the lean entries and the routes. The
    Vault API's paths answer it as Vault does (its own header operation: only
    ``sys/health`` takes it).

    Behind the reverse proxies of ``proxies`` (``SEALBOX_TRUSTED_PROXIES``), the client's
    address and scheme are taken from their forwarding headers first
    (:mod:`sealbox.service.forwarded`), before the entries and the middlewares, whoever
    serves the application.
    """

    users_me: UsersMeFastPath | None = None
    transit: TransitEntry | None = None
    vault_transit: VaultTransitEntry | None = None
    #: The worker's runtime while the lifespan holds it open (also ``state.runtime``,
    #: which the routes read). The entries are given it directly: a ``State`` attribute
    #: is found only after a failed lookup, a share of the leanest answers.
    runtime: Runtime | None = None
    #: The proxies whose forwarding headers are believed; ``None``: no one's.
    proxies: TrustedProxies | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        proxies = self.proxies
        # Once per request: a HEAD is served again as its GET, marked as forwarded. (No
        # second coroutine per request for this: the leanest answers would pay it.)
        if proxies is not None and _FORWARDED not in scope:
            forward(proxies, scope)
        runtime = self.runtime
        if runtime is not None:  # else the application answers (and fails as it does)
            users_me = self.users_me
            if users_me is not None and users_me.takes(scope):
                # Its answer built without a coroutine when nothing needs a wait.
                reply = users_me.reply_now(runtime, scope) or await users_me.reply(runtime, scope)
                await send({"type": "http.response.start", "status": reply[0], "headers": reply[1]})
                await send({"type": "http.response.body", "body": reply[2]})
                return
            transit = self.transit
            if transit is not None:
                target = transit.takes(scope)
                if target is not None:
                    await transit(
                        runtime, target, scope, receive, send, application=super().__call__
                    )
                    return
            vault = self.vault_transit
            if vault is not None:
                target = vault.takes(scope)
                if target is not None:
                    await vault(runtime, target, scope, receive, send, application=super().__call__)
                    return
        # After the entries, which take no HEAD: a GET they answer does no more work here.
        if scope.get("method") == "HEAD":
            await self(
                {**scope, "method": "GET", _FORWARDED: True, HEAD_AS_GET: True},
                receive,
                _without_body(send),
            )
            return
        await super().__call__(scope, receive, send)


# A key of the ASGI scope: the forwarding headers were read for this request already.
_FORWARDED: Final = "sealbox.forwarded"


def _without_body(send: Send) -> Send:
    """``send`` for the answer to a ``HEAD``: the answer to ``GET`` without its body.

    RFC 9110 §9.3.2: the same status and headers, ``Content-Length`` included, and no
    content. uvicorn drops a body sent for ``HEAD`` too; an app served another way, or
    called in-process, must not send one.
    """

    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return  # the body's parts are dropped; its end is sent, empty
            message = {"type": "http.response.body", "body": b""}
        await send(message)

    return send_head


def create_app(
    settings: ServiceSettings | None = None,
    *,
    transit_fast_path: bool = True,
    users_fast_path: bool = True,
) -> ServiceApp:
    """Build the application. The database must already be migrated (``sealbox serve`` does it).

    Args:
        settings: the settings (``SEALBOX_*`` and ``.env`` when omitted).
        transit_fast_path: answer the transit operations through
            :class:`~sealbox.service.routes.transit_entry.TransitEntry`, and Vault's
            single encrypt and decrypt through
            :class:`~sealbox.service.vault.transit_entry.VaultTransitEntry` (the same
            answers and audit records without the framework's per-request layers); off,
            the FastAPI routes and the Vault layer answer them all.
        users_fast_path: answer ``GET /users/me`` through
            :class:`~sealbox.service.routes.users_fast.UsersMeFastPath` (the same answers
            without FastAPI's per-request layers); off, the FastAPI route answers it.

    The application takes the client's address from the forwarding headers of the
    proxies ``settings.trusted_proxies`` names (``SEALBOX_TRUSTED_PROXIES``), as under
    ``sealbox serve``, whatever serves it.

    Raises:
        ConfigError: ``trusted_proxies_invalid``, an entry of ``settings.trusted_proxies``
            that is refused (:meth:`~sealbox.service.forwarded.TrustedProxies.parse`).
    """
    # load_settings: a bad SEALBOX_* value is a coded ConfigError naming the variable,
    # never pydantic's error, which quotes the value (a database URL holds a password).
    settings = settings if settings is not None else load_settings()
    # Read first: a refused entry stops the build, not the first request.
    proxies = TrustedProxies.parse(settings.trusted_proxies)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _share_server_logging()
        for handler in [*logging.getLogger().handlers, *logging.getLogger("sealbox").handlers]:
            install_log_redaction(handler)
        install_access_log_filter()
        runtime = await Runtime.open(settings)
        app.state.runtime = runtime
        if isinstance(app, ServiceApp):
            app.runtime = runtime
        cert, key = tls_paths(settings)
        # The development certificate is renewed here when due; an operator's is warned of.
        renewal = certificate_renewal(settings)
        reloader = CertificateReloader(cert, key, settings.reload_interval, renewal=renewal)
        reloader.start(on_sighup=runtime.audit.reopen)
        app.state.reloader = reloader
        # A worker of `--workers N`: it stops with its supervisor (see _follow_supervisor).
        follow = asyncio.ensure_future(_follow_supervisor()) if settings.workers > 1 else None
        try:
            yield
        finally:
            if follow is not None:
                follow.cancel()
            if isinstance(app, ServiceApp):
                app.runtime = None
            await reloader.stop()
            await runtime.close()

    app = ServiceApp(
        title="sealbox",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        swagger_ui_oauth2_redirect_url=None,
        # No trailing-slash redirects: they would be built from the Host header, and
        # every route has one spelling.
        redirect_slashes=False,
    )
    install_error_handlers(app)
    app.include_router(auth_router(runtime_accounts, bearer=current_caller))
    app.include_router(oauth.router())
    app.include_router(totp.router())
    app.include_router(users.router())
    app.include_router(admin_users.router())  # after /users/me
    app.include_router(transit.router())
    app.include_router(docs.router())
    add_service_middleware(app, settings)
    app.proxies = proxies or None
    if users_fast_path:
        app.users_me = UsersMeFastPath()
    if transit_fast_path:
        app.transit = TransitEntry(settings.transit_max_body_bytes)
        app.vault_transit = VaultTransitEntry(settings.transit_max_body_bytes)
    return app


def add_service_middleware(app: FastAPI, settings: ServiceSettings) -> None:
    """Wrap ``app`` in the service's middlewares (Vault's paths, the internal-error
    answer, JSON bodies only on the JSON routes, the body limit, the security headers),
    innermost first."""
    app.add_middleware(VaultApi, kv_mounts=settings.kv_mounts())  # Vault's paths (docs/vault.md)
    # Around the routes, inside the headers: a 500 carries them too.
    app.add_middleware(InternalErrorMiddleware)
    # Inside the body limit: an oversized body is 413 whatever its type, and a chunked
    # body the 415 leaves unread ends the connection (BodyLimitMiddleware).
    app.add_middleware(JSONBodyMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        prefix_limits={
            "/v1/keys/": settings.transit_max_body_bytes,
            TRANSIT_PREFIX: settings.transit_max_body_bytes,
        },
    )
    app.add_middleware(SecurityHeadersMiddleware)


#: Seconds between a worker's looks at its parent process.
SUPERVISOR_CHECK_INTERVAL = 1.0


async def _follow_supervisor() -> None:
    """Stop this worker, as SIGTERM does, once its supervisor process is gone.

    uvicorn's workers do not notice their supervisor's death (SIGKILL, the OOM killer):
    orphaned, they would serve on, holding the port a restart needs, while the data
    folder's claim (:meth:`~sealbox.service.provision.DataDir.claim_for_serving`), which
    the supervisor held, is free for a service without Redis.
    """
    import multiprocessing

    # The supervisor that spawned this worker, as it was then: one killed while this
    # worker started (before this runs) is already gone from getppid().
    spawner = multiprocessing.parent_process()
    parent = spawner.pid if spawner is not None and spawner.pid is not None else os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(SUPERVISOR_CHECK_INTERVAL)
    log.warning("the supervisor process %d is gone: this worker stops", parent)
    os.kill(os.getpid(), signal.SIGTERM)


def _share_server_logging() -> None:
    """sealbox's log lines go where uvicorn's go, at the level ``--log-level`` set."""
    ours, server = logging.getLogger("sealbox"), logging.getLogger("uvicorn")
    if not ours.handlers and not logging.getLogger().handlers:
        for handler in server.handlers:
            ours.addHandler(handler)
    if server.handlers:
        # uvicorn.asgi carries --log-level in every mode: with several workers uvicorn.error
        # stays at INFO, for the supervisor's line about a worker that died (serve.run).
        ours.setLevel(logging.getLogger("uvicorn.asgi").getEffectiveLevel())


def app_from_env() -> ASGIApp:
    """The app with settings from ``SEALBOX_*`` and ``.env`` (behind its trusted proxies,
    as :func:`create_app` makes it): uvicorn's factory in the workers of ``sealbox serve``."""
    return create_app(load_settings())
