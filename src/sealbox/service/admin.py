"""Account administration outside the HTTP API: ``sealbox users create`` and ``reset-totp``.

The same rules as registration through the API (RFC 8265 usernames, look-alikes
refused, the password policy), and the same database, migrated first.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from sealbox.accounts.store import Store, UsernameTakenError
from sealbox.accounts.totp_store import reset_second_factor
from sealbox.accounts.usernames import canonical_username
from sealbox.exceptions import ConfigError
from sealbox.passwords import PasswordHasher
from sealbox.service.db import make_engine, migrate, sessionmaker
from sealbox.service.errors import ApiError
from sealbox.service.provision import DataDir
from sealbox.service.routes.auth import DEFAULT_SCOPES, check_new_password
from sealbox.service.settings import ServiceSettings

__all__ = ["create_user", "reset_totp"]


def create_user(
    settings: ServiceSettings,
    name: str,
    password: Callable[[str], str],
    scopes: Iterable[str] = (),
) -> tuple[str, list[str]]:
    """Create an account (administrators included); return its name and granted scopes.

    Args:
        settings: the service's settings (its data folder or database).
        name: the username, as typed: it is stored in its RFC 8265 canonical form.
        password: called with the canonical name, returns the password (a prompt).
        scopes: scopes to grant besides the default ones.

    Raises:
        SealboxError: the name breaks the username rules (the message names the
            character).
        ConfigError: the password breaks the policy (code ``weak_password``), or the
            name, or one that looks like it, is taken (code ``username_taken``).
    """
    name = canonical_username(name)
    secret = password(name)
    try:
        check_new_password(secret, name)
    except ApiError as exc:
        raise ConfigError(exc.message, code="weak_password") from None
    password_hash = PasswordHasher(settings.password_profile).hash(secret)
    granted = sorted({*DEFAULT_SCOPES, *scopes})
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if settings.database_url is None:
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
        raise ConfigError(
            f"the username {name!r}, or one that looks like it, is taken",
            code="username_taken",
            facts={"username": name},
        ) from None
    return name, granted


def reset_totp(settings: ServiceSettings, name: str) -> tuple[str, bool]:
    """Remove the second factor of account ``name``; return its name and whether it had one.

    For a user who lost the authenticator and the recovery codes: the password alone
    logs in again, and the user may enrol anew.

    Raises:
        ConfigError: (code ``user_not_found``) no account has that name.
    """

    async def _reset() -> tuple[str, bool] | None:
        engine = make_engine(settings.resolved_database_url())
        try:
            await migrate(engine)
            sessions = sessionmaker(engine)
            user = await Store(sessions, refresh_ttl=settings.refresh_token_ttl).user_for_login(
                name
            )
            if user is None:
                return None
            return user.username, await reset_second_factor(sessions, user.id)
        finally:
            await engine.dispose()

    found = asyncio.run(_reset())
    if found is None:
        raise ConfigError(
            f"no account is named {name!r}", code="user_not_found", facts={"username": name}
        )
    return found
