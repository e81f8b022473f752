"""What a running service holds: the accounts (database, keys, hasher, verifier, revocation,
throttling, audit, second factors, OAuth 2 clients) and the transit keys.

One :class:`Runtime` per worker process, opened in the app's lifespan and closed
with it. Sign-in is the library's :class:`~sealbox.accounts.Accounts`, the same object
an app using :mod:`sealbox.integrations.fastapi` holds; the attributes below that name
its parts (``store``, ``hasher``, ``keyset``…) are its.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sealbox.accounts import AccountPolicy, Accounts
from sealbox.accounts.audit import AuditLog
from sealbox.accounts.clients import ClientStore
from sealbox.accounts.core import VerifiedTokenCache
from sealbox.accounts.revocation import Revocations
from sealbox.accounts.store import Store
from sealbox.accounts.throttle import Throttle
from sealbox.accounts.totp import TotpSecretSealer
from sealbox.accounts.totp_store import TotpStore
from sealbox.jwt import SigningKeySet, TokenVerifier
from sealbox.passwords import PasswordHasher
from sealbox.service.db import make_engine, sessionmaker
from sealbox.service.provision import DataDir
from sealbox.service.settings import ServiceSettings
from sealbox.service.transit_store import (
    CHANNEL_SUFFIX,
    KeyEvents,
    LocalKeyEvents,
    RedisKeyEvents,
    TransitStore,
)

__all__ = ["Runtime", "VerifiedTokenCache", "account_policy"]

T = TypeVar("T")


def account_policy(settings: ServiceSettings) -> AccountPolicy:
    """The sign-in rules that the service's settings say."""
    return AccountPolicy(
        issuer=settings.issuer,
        audience=settings.audience,
        access_token_ttl=settings.access_token_ttl,
        refresh_token_ttl=settings.refresh_token_ttl,
        refresh_reuse_grace=settings.refresh_reuse_grace,
        client_id=settings.first_party_client_id,
        open_registration=settings.open_registration,
        throttle_user_attempts=settings.throttle_user_attempts,
        throttle_address_attempts=settings.throttle_address_attempts,
        throttle_window=settings.throttle_window,
    )


@dataclass
class Runtime:
    """Everything the routes need, for one worker."""

    settings: ServiceSettings
    data: DataDir
    accounts: Accounts
    audit: AuditLog
    engine: Any
    transit: TransitStore
    started: float = field(default_factory=time.time)

    # -- the accounts' parts, by their old names --------------------------------------

    @property
    def store(self) -> Store:
        return self.accounts.store

    @property
    def hasher(self) -> PasswordHasher:
        return self.accounts.hasher

    @property
    def keyset(self) -> SigningKeySet:
        return self.accounts.keyset

    @property
    def verifier(self) -> TokenVerifier:
        return self.accounts.verifier

    @property
    def revocations(self) -> Revocations:
        return self.accounts.revocations

    @property
    def throttle(self) -> Throttle:
        return self.accounts.throttle

    @throttle.setter
    def throttle(self, value: Throttle) -> None:
        self.accounts.throttle = value

    @property
    def totp(self) -> TotpStore:
        # The service always opens its accounts with the second factor.
        assert self.accounts.totp is not None
        return self.accounts.totp

    @property
    def clients(self) -> ClientStore:
        assert self.accounts.clients is not None
        return self.accounts.clients

    @property
    def token_cache(self) -> VerifiedTokenCache:
        return self.accounts.token_cache

    @property
    def hash_pool(self) -> ThreadPoolExecutor:
        return self.accounts.hash_pool

    async def run_hasher(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a password hash or check on the hashing threads (off the event loop)."""
        return await self.accounts.run_hasher(fn, *args)

    @classmethod
    async def open(cls, settings: ServiceSettings) -> Runtime:
        """Open the data folder and the database (already migrated), load the keys."""
        data = DataDir(settings.data_dir)
        # Followed while serving: `sealbox jwt keyset rotate --data-dir` reaches each worker.
        keyset_watch = data.keyset_watch()
        keyset = keyset_watch.load()
        engine = make_engine(settings.resolved_database_url())
        sessions = sessionmaker(engine)
        redis_url = settings.redis_url.expose_secret() if settings.redis_url else None
        audit = AuditLog(settings.resolved_audit_log())
        accounts = await Accounts.open(
            engine,
            keyset,
            account_policy(settings),
            password_profile=settings.password_profile,
            redis_url=redis_url,
            redis_prefix=settings.redis_prefix,
            audit=audit,
            # Without Redis, `sealbox users` tells this (single) worker of its changes here.
            watch=data.revocations_changed,
            totp_sealer=TotpSecretSealer(data.master_key()),
            keyset_watch=keyset_watch,
        )
        events: KeyEvents
        if redis_url:
            events = RedisKeyEvents(redis_url, channel=f"{settings.redis_prefix}{CHANNEL_SUFFIX}")
        else:
            events = LocalKeyEvents()
        transit = TransitStore(
            sessions, data.master_key(), events=events, ttl=settings.transit_cache_ttl
        )
        await transit.start()
        return cls(
            settings=settings,
            data=data,
            accounts=accounts,
            audit=audit,
            engine=engine,
            transit=transit,
        )

    async def close(self) -> None:
        """Release connections, threads and files."""
        await self.accounts.close()
        await self.transit.close()
        await self.engine.dispose()
        self.audit.close()

    @property
    def worker(self) -> int:
        """This worker's process id (shown by /health)."""
        return os.getpid()
