"""An app of your own, guarded by sealbox: copy it, keep the lifespan, change the routes.

- ``/auth/register``, ``/auth/token`` (OAuth 2 password and refresh grants),
  ``/auth/refresh``, ``/auth/logout``, ``/auth/password``: sealbox's auth routes over this
  app's own database, with Argon2 (rehashed on login when the profile changes), short
  access tokens, rotating refresh tokens with reuse detection, and login throttling;
- ``/users/me`` and ``/.well-known/jwks.json``: who a token belongs to, and the keys
  that verify the tokens anywhere;
- ``GET /orders``: a route of the app, for callers holding the scope ``orders:read``.

Its state is a ``sealbox serve`` data folder (``$SEALBOX_DATA_DIR``, ``./.sealbox`` by
default: master key, signing keyset, SQLite database, audit log), read with the same
``SEALBOX_*`` settings, so ``sealbox users create --data-dir …`` administers it, and
``SEALBOX_DATABASE_URL``/``SEALBOX_REDIS_URL`` scale it out the same way. Run it over TLS::

    uvicorn fastapi_app:app --app-dir examples \\
        --ssl-keyfile .sealbox/tls/server.key --ssl-certfile .sealbox/tls/server.crt
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Request

from sealbox.accounts import Accounts, Caller, make_engine, migrate
from sealbox.accounts.audit import AuditLog
from sealbox.accounts.totp import TotpSecretSealer
from sealbox.integrations.fastapi import (
    accounts_bearer,
    auth_router,
    install_error_handlers,
    jwks_router,
    users_router,
)
from sealbox.service import DataDir, account_policy, load_settings

settings = load_settings()  # SEALBOX_* variables and .env, as `sealbox serve` reads them


def accounts(request: Request) -> Accounts:
    """The accounts the lifespan opened."""
    opened: Accounts = request.app.state.accounts
    return opened


auth = accounts_bearer(accounts)  # Authorization: Bearer …, verified, revocation checked


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    data = DataDir(settings.data_dir)
    engine = make_engine(settings.resolved_database_url())
    # The tables of `sealbox serve` (created or brought up to date), then the master key,
    # the signing keyset and the audit log if missing: keys never sit beside an empty
    # database, which `sealbox serve` and `sealbox users` would take for a lost one.
    # With `engine`, a signing keyset missing beside accounts is refused (`keyset_lost`), as
    # `sealbox serve` refuses it, not replaced by one that no issued token verifies under.
    await data.aprovision(
        tls=False,
        sqlite=settings.database_url is None,
        migrate=lambda: migrate(engine),
        engine=engine,
    )
    # Without Redis, revocations and the login throttle live in this process: it alone
    # may serve the folder (uvicorn --workers N, or `sealbox serve` beside it, need Redis).
    # With Redis, the claim says which keys: `sealbox users` refuses to use other ones.
    data.claim_for_serving(
        shared=settings.redis_url is not None, redis_keys=settings.redis_keys_id()
    )
    audit = AuditLog(settings.resolved_audit_log())
    redis_url = settings.redis_url.expose_secret() if settings.redis_url else None
    # Followed while serving: `sealbox jwt keyset rotate --data-dir …` reaches this app.
    keyset_watch = data.keyset_watch()
    app.state.accounts = await Accounts.open(
        engine,
        keyset_watch.load(),
        account_policy(settings),
        password_profile=settings.password_profile,
        redis_url=redis_url,
        redis_prefix=settings.redis_prefix,
        audit=audit,
        # What `sealbox users` changes without Redis reaches this app through this file,
        # and second factors enrolled through `sealbox serve` are asked for here too.
        watch=data.revocations_changed,
        totp_sealer=TotpSecretSealer(data.master_key()),
        keyset_watch=keyset_watch,
    )
    try:
        yield
    finally:
        await app.state.accounts.close()
        await engine.dispose()
        audit.close()


app = FastAPI(title="orders", lifespan=lifespan)
install_error_handlers(app)
app.include_router(auth_router(accounts, bearer=auth))
app.include_router(users_router(accounts, bearer=auth))
app.include_router(jwks_router(accounts))


@app.get("/orders")
async def orders(caller: Annotated[Caller, auth.require("orders:read")]) -> dict[str, str]:
    """The caller's orders (here: who the caller is)."""
    return {"user": caller.username}
