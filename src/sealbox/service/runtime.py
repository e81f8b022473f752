"""What a running service holds: database, keys, hasher, verifier, revocation, throttling, audit,
transit keys, second factors.

One :class:`Runtime` per worker process, opened in the app's lifespan and closed
with it.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sealbox.accounts.revocation import LocalRevocations, RedisRevocations, Revocations
from sealbox.accounts.store import Store
from sealbox.accounts.throttle import LocalThrottle, RedisThrottle, Throttle
from sealbox.accounts.totp import TotpSecretSealer
from sealbox.accounts.totp_store import TotpStore
from sealbox.jwt import SigningKeySet, TokenVerifier
from sealbox.passwords import PasswordHasher
from sealbox.service.audit import AuditLog
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

__all__ = ["Runtime", "VerifiedTokenCache"]

T = TypeVar("T")

# The lowest priority that still gets a share of a busy CPU (19); SCHED_IDLE would
# starve logins outright while other requests keep the cores busy.
HASH_NICENESS = 19


def _background_priority() -> None:
    # Linux keeps a nice value per thread, and Argon2's lane threads inherit it:
    # hashing then takes only the CPU the event loop leaves, so a login storm does
    # not hold up every other request. Raising niceness needs no privilege.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


def _hash_pool() -> ThreadPoolExecutor:
    """Threads for Argon2: one per core, at background priority."""
    return ThreadPoolExecutor(
        max_workers=os.cpu_count() or 1,
        thread_name_prefix="sealbox-hash",
        initializer=_background_priority,
    )


class VerifiedTokenCache:
    """Claims of access tokens whose signature was already checked, until they expire.

    Verifying an EdDSA signature costs more than the rest of a small request;
    clients send the same access token many times in its life, so the check is
    done once per token and per worker. Revocation is still checked on every
    request (it is not cached). Entries are dropped oldest first past ``size``.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._claims: dict[str, dict[str, Any]] = {}

    def get(self, token: str, now: float) -> dict[str, Any] | None:
        claims = self._claims.get(token)
        if claims is None:
            return None
        if claims["exp"] <= now:
            self._claims.pop(token, None)
            return None
        return claims

    def put(self, token: str, claims: dict[str, Any]) -> None:
        if len(self._claims) >= self.size:
            # Dicts keep insertion order: drop the oldest tenth in one go.
            for key in list(self._claims)[: max(1, self.size // 10)]:
                del self._claims[key]
        self._claims[token] = claims


@dataclass
class Runtime:
    """Everything the routes need, for one worker."""

    settings: ServiceSettings
    data: DataDir
    store: Store
    hasher: PasswordHasher
    keyset: SigningKeySet
    verifier: TokenVerifier
    revocations: Revocations
    throttle: Throttle
    audit: AuditLog
    engine: Any
    transit: TransitStore
    totp: TotpStore
    token_cache: VerifiedTokenCache = field(default_factory=VerifiedTokenCache)
    started: float = field(default_factory=time.time)
    hash_pool: ThreadPoolExecutor = field(default_factory=_hash_pool)

    async def run_hasher(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a password hash or check on the hashing threads (off the event loop)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.hash_pool, functools.partial(fn, *args))

    @classmethod
    async def open(cls, settings: ServiceSettings) -> Runtime:
        """Open the data folder and the database (already migrated), load the keys."""
        data = DataDir(settings.data_dir)
        keyset = data.load_keyset()
        engine = make_engine(settings.resolved_database_url())
        sessions = sessionmaker(engine)
        store = Store(sessions, refresh_ttl=settings.refresh_token_ttl)
        redis_url = settings.redis_url.expose_secret() if settings.redis_url else None
        revocations: Revocations
        throttle: Throttle
        events: KeyEvents
        if redis_url:
            prefix = settings.redis_prefix
            revocations = RedisRevocations(store, redis_url, prefix=prefix)
            throttle = RedisThrottle(redis_url, prefix=f"{prefix}throttle:")
            events = RedisKeyEvents(redis_url, channel=f"{prefix}{CHANNEL_SUFFIX}")
        else:
            revocations = LocalRevocations(store, watch=data.revocations_changed)
            throttle = LocalThrottle()
            events = LocalKeyEvents()
        await revocations.load()
        transit = TransitStore(
            sessions, data.master_key(), events=events, ttl=settings.transit_cache_ttl
        )
        await transit.start()
        verifier = keyset.verifier(
            audience=settings.audience,
            issuer=settings.issuer,
            required_claims=("exp", "iat", "sub", "jti"),
            leeway=5,
        )
        return cls(
            settings=settings,
            data=data,
            store=store,
            hasher=PasswordHasher(settings.password_profile),
            keyset=keyset,
            verifier=verifier,
            revocations=revocations,
            throttle=throttle,
            audit=AuditLog(settings.resolved_audit_log()),
            engine=engine,
            transit=transit,
            totp=TotpStore(sessions, TotpSecretSealer(data.master_key()), issuer=settings.issuer),
        )

    async def close(self) -> None:
        """Release connections, threads and files."""
        self.hash_pool.shutdown(wait=False, cancel_futures=True)
        await self.transit.close()
        await self.revocations.close()
        await self.throttle.close()
        await self.engine.dispose()
        self.audit.close()

    @property
    def worker(self) -> int:
        """This worker's process id (shown by /health)."""
        return os.getpid()
