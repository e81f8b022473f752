"""Accounts: users, usernames, refresh-token families, revocation and login throttling.

The parts of sign-in that do not depend on a web framework: the users and refresh-token
tables (:mod:`sealbox.accounts.models`), their store (:mod:`sealbox.accounts.store`; its
refresh-token families, :mod:`sealbox.accounts.refresh_tokens`; what a refresh is refused
for, and a family's binding and end, :mod:`sealbox.accounts.refresh_rules`),
RFC 8265 usernames with look-alikes refused (:mod:`sealbox.accounts.usernames`), access
tokens refused before they expire (:mod:`sealbox.accounts.revocation`) and attempt
throttling in memory or Redis (:mod:`sealbox.accounts.throttle`; the counters a sign-in
attempt counts against, :mod:`sealbox.accounts.attempts`), the database's engine and
Alembic migrations (:mod:`sealbox.accounts.database`), the audit log
(:mod:`sealbox.accounts.audit`), and on top of them :class:`Accounts`, the one object that
holds them with the signing keyset (:mod:`sealbox.accounts.core`), and the decisions of
sign-in — register, log in, refresh, log out, change a password — as plain async functions
of it (:mod:`sealbox.accounts.sessions`; registering and changing a password in
:mod:`sealbox.accounts.registration`; a stored password checked, and an unusable one
reported, in :mod:`sealbox.accounts.password_check`). Beside them: account administration
(:mod:`sealbox.accounts.admin`: list, grant, disable, delete, import accounts of other
systems with :mod:`sealbox.accounts.user_import`), the TOTP second factor
(:mod:`sealbox.accounts.totp`, RFC 6238; its tables and atomic checks in
:mod:`sealbox.accounts.totp_store`), and the parts of a small OAuth 2 authorization
server: clients for machines (:mod:`sealbox.accounts.clients`; their table,
:mod:`sealbox.accounts.client_models`; their credentials,
:mod:`sealbox.accounts.client_secrets`), the client credentials grant
(:mod:`sealbox.accounts.grants`), revocation and introspection
(:mod:`sealbox.accounts.revoke_introspect`; the refresh tokens they read,
:mod:`sealbox.accounts.token_records`) and certificate-bound tokens
(:mod:`sealbox.accounts.binding`). ``sealbox serve``,
``sealbox users`` and the FastAPI integration all run on them; so can any other Python code.

It needs the ``service`` extra (SQLAlchemy, precis-i18n); importing any part of it without
that extra raises :class:`~sealbox.exceptions.ExtraNotInstalledError` with the
``pip install 'sealbox[service]'`` to run.

May import: :mod:`sealbox.exceptions`, :mod:`sealbox.secret`, :mod:`sealbox._util`,
:mod:`sealbox.passwords`, :mod:`sealbox.jwt`, :mod:`sealbox.storage`, :mod:`sealbox.keysets`
(the sealer of TOTP secrets), :mod:`sealbox.transit` (the operations and key names a
``transit:`` scope may name) and third-party ``sqlalchemy``, ``alembic``, ``redis``,
``precis_i18n``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from sealbox._util.lazy import lazy_names
from sealbox.exceptions import ExtraNotInstalledError

for _name in ("sqlalchemy", "precis_i18n"):
    if importlib.util.find_spec(_name) is None:
        raise ExtraNotInstalledError("service", _name)

if TYPE_CHECKING:
    from sealbox.accounts.core import (
        DEFAULT_SCOPES,
        AccessClaims,
        AccountPolicy,
        Accounts,
        Caller,
    )
    from sealbox.accounts.database import make_engine, migrate

__all__ = [
    "DEFAULT_SCOPES",
    "AccessClaims",
    "AccountPolicy",
    "Accounts",
    "Caller",
    "make_engine",
    "migrate",
]

# Imported on first use: a command that lists accounts needs their store, not sign-in
# (Accounts) with the grants and the JWT stack it runs on. The submodules sign-in is made
# of stay reachable as attributes (``sealbox.accounts.store``) without an import.
# Hidden from type checkers: a module ``__getattr__`` would type every misspelt name
# as Any; they see the names above (TYPE_CHECKING) and report any other.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_names(
        __name__,
        {
            "DEFAULT_SCOPES": "sealbox.accounts.core",
            "AccessClaims": "sealbox.accounts.core",
            "AccountPolicy": "sealbox.accounts.core",
            "Accounts": "sealbox.accounts.core",
            "Caller": "sealbox.accounts.core",
            "make_engine": "sealbox.accounts.database",
            "migrate": "sealbox.accounts.database",
        },
        __all__,
        submodules=(
            "attempts",
            "binding",
            "client_checks",
            "client_models",
            "client_secrets",
            "clients",
            "core",
            "database",
            "db_unreachable",
            "grants",
            "models",
            "outage",
            "redis_client",
            "refresh_rules",
            "refresh_tokens",
            "revocation",
            "revoke_introspect",
            "scopes",
            "store",
            "subject_dn",
            "throttle",
            "token_records",
            "totp",
            "totp_store",
            "usernames",
        ),
    )
