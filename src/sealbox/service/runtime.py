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
from typing import Any, Final, TypeVar

from sealbox.accounts import AccountPolicy, Accounts
from sealbox.accounts.audit import AuditLog
from sealbox.accounts.clients import ClientStore
from sealbox.accounts.core import VerifiedTokenCache
from sealbox.accounts.revocation import Revocations
from sealbox.accounts.store import Store
from sealbox.accounts.throttle import Throttle
from sealbox.accounts.totp import TotpSecretSealer
from sealbox.accounts.totp_store import TotpStore
from sealbox.jwt import SIGNING_ALGORITHMS, SigningKeySet, TokenVerifier
from sealbox.jwt.defaults import is_hmac
from sealbox.passwords import PasswordHasher
from sealbox.service.db import make_engine, sessionmaker
from sealbox.service.preflight import check_primary_key
from sealbox.service.provision import DataDir
from sealbox.service.settings import ServiceSettings
from sealbox.service.transit_store import (
    CHANNEL_SUFFIX,
    KeyEvents,
    LocalKeyEvents,
    RedisKeyEvents,
    TransitStore,
)

__all__ = [
    "TOKEN_ALGORITHMS",
    "Runtime",
    "VerifiedTokenCache",
    "account_policy",
    "hmac_key_warnings",
]

T = TypeVar("T")


# The service's tokens are verified by others from its JWKS, which holds public keys
# only: an HMAC key (added before the service's keyset refused one) verifies nothing here.
TOKEN_ALGORITHMS: Final = tuple(a for a in SIGNING_ALGORITHMS if not is_hmac(a))


def account_policy(settings: ServiceSettings) -> AccountPolicy:
    """The sign-in rules that the service's settings say; access tokens are accepted under
    public-key algorithms only (:data:`TOKEN_ALGORITHMS`).

    .. versionchanged:: 0.1.0
       An HMAC key of the signing keyset verifies no access token.
    """
    return AccountPolicy(
        issuer=settings.issuer,
        audience=settings.audience,
        access_token_ttl=settings.access_token_ttl,
        refresh_token_ttl=settings.refresh_token_ttl,
        refresh_family_ttl=settings.refresh_family_ttl,
        refresh_reuse_grace=settings.refresh_reuse_grace,
        client_id=settings.first_party_client_id,
        open_registration=settings.open_registration,
        throttle_user_attempts=settings.throttle_user_attempts,
        throttle_address_attempts=settings.throttle_address_attempts,
        throttle_client_attempts=settings.throttle_client_attempts,
        throttle_window=settings.throttle_window,
        token_algorithms=TOKEN_ALGORITHMS,
    )


def hmac_key_warnings(settings: ServiceSettings) -> list[str]:
    """One warning for each HMAC key left in the data folder's signing keyset (one added
    before the service refused them): the service verifies no token with it, and it is a
    shared secret, best destroyed. Names the key, never its material.
    """
    folder = settings.data_dir
    return [
        f"the signing keyset holds HMAC key {key.kid} ({key.alg}), a shared secret no "
        "relying party can verify with: the service accepts no token it signs; destroy it "
        f"with 'sealbox jwt keyset destroy --data-dir {folder} -- {key.kid}'"
        for key in DataDir(folder).load_keyset()
        # A primary one stops the start instead (preflight.check_primary_key).
        if is_hmac(key.alg) and key.state != "destroyed" and not key.primary
    ]


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
        """Open the data folder and the database (already migrated), load the keys.

        Raises:
            ConfigError: code ``service_key_symmetric``, the signing keyset's primary key
                is an HMAC key: every token it signed would be refused (401). Said here
                too, not only by ``sealbox serve``'s checks, for an app served without them.
        """
        data = DataDir(settings.data_dir)
        # Followed while serving: `sealbox jwt keyset rotate --data-dir` reaches each worker.
        keyset_watch = data.keyset_watch()
        keyset = keyset_watch.load()
        check_primary_key(data, keyset.primary)
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
