"""The HTTPS service (``sealbox serve``): accounts, tokens and transit over TLS.

A shell over the library: it parses requests, calls sealbox, and answers. It needs the
``service`` extra (FastAPI, uvicorn, SQLAlchemy…); importing any part of it without that
extra raises :class:`~sealbox.exceptions.ExtraNotInstalledError` with the
``pip install 'sealbox[service]'`` to run, instead of a bare ImportError.

The entry points, for the command line and for programs that run the service
themselves (each loads its module on first use)::

    settings = load_settings(data_dir="/srv/sealbox")   # SEALBOX_*, .env, overrides
    for created in prepare(settings):                    # check, provision, migrate
        print("created", created)
    run(settings)                                        # serve until interrupted

- :func:`load_settings`, :func:`check`, :func:`prepare`, :func:`run`,
  :func:`service_url`, :func:`client_trust_file` (:mod:`sealbox.service.serve`);
- :func:`create_user`, :func:`administer_accounts`,
  :func:`reset_totp` (:mod:`sealbox.service.admin`);
- :func:`create_client`, :func:`list_clients`, :func:`rotate_client_secret`,
  :func:`delete_client` (:mod:`sealbox.service.client_admin`);
- :func:`signing_keys`, :func:`signing_jwks`, :func:`rotate_signing_key`,
  :func:`add_signing_key`, :func:`change_signing_key` (:mod:`sealbox.service.keyset_admin`);
- :class:`DataDir`, the data folder's layout (:mod:`sealbox.service.provision`), and
  :func:`account_policy`, the sign-in rules the settings say (:mod:`sealbox.service.runtime`):
  what an app of your own needs to keep its state the way ``sealbox serve`` does;
- :func:`create_app`, the FastAPI application (:mod:`sealbox.service.app`);
- :class:`ServiceSettings` (:mod:`sealbox.service.settings`).

May import: :mod:`sealbox.exceptions`, :mod:`sealbox.secret`, :mod:`sealbox.keysets` (the
master key's sealer), :mod:`sealbox.accounts`, :mod:`sealbox.passwords`, :mod:`sealbox.jwt`,
:mod:`sealbox.tls`, :mod:`sealbox.transit`, :mod:`sealbox.storage`, :mod:`sealbox.integrations`
and third-party ``fastapi``, ``starlette``, ``pydantic`` (and its ``pydantic_core``),
``pydantic_settings`` (and its ``dotenv``, read to name unknown ``.env`` entries),
``uvicorn``, ``sqlalchemy``, ``alembic``, ``redis``, ``precis_i18n``.
Never a private name of another package, nor ``cryptography`` or ``OpenSSL`` (the TLS
engine is :mod:`sealbox.tls.server_session`).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from sealbox.exceptions import ExtraNotInstalledError

if TYPE_CHECKING:
    from sealbox.service.admin import administer_accounts, create_user, reset_totp
    from sealbox.service.app import create_app
    from sealbox.service.client_admin import (
        create_client,
        delete_client,
        find_client,
        list_clients,
        rotate_client_secret,
    )
    from sealbox.service.keyset_admin import (
        add_signing_key,
        change_signing_key,
        rotate_signing_key,
        signing_jwks,
        signing_keys,
    )
    from sealbox.service.provision import DataDir
    from sealbox.service.runtime import account_policy
    from sealbox.service.serve import (
        check,
        check_listen,
        client_trust_file,
        load_settings,
        prepare,
        run,
        service_url,
    )
    from sealbox.service.settings import ServiceSettings

__all__ = [
    "DataDir",
    "ServiceSettings",
    "account_policy",
    "add_signing_key",
    "administer_accounts",
    "change_signing_key",
    "check",
    "check_listen",
    "client_trust_file",
    "create_app",
    "create_client",
    "create_user",
    "delete_client",
    "find_client",
    "list_clients",
    "load_settings",
    "prepare",
    "reset_totp",
    "rotate_client_secret",
    "rotate_signing_key",
    "run",
    "service_url",
    "signing_jwks",
    "signing_keys",
]

# What `sealbox[service]` installs, by import name (found, not imported: that stays lazy).
# python-multipart is imported as `multipart` before 0.0.13, `python_multipart` since.
for _names in (
    ("fastapi",),
    ("uvicorn",),
    ("sqlalchemy",),
    ("alembic",),
    ("aiosqlite",),
    ("pydantic_settings",),
    ("python_multipart", "multipart"),
    ("precis_i18n",),
    ("OpenSSL",),
):
    if all(importlib.util.find_spec(name) is None for name in _names):
        raise ExtraNotInstalledError("service", _names[0])

_ENTRY_POINTS = {
    "DataDir": "sealbox.service.provision",
    "ServiceSettings": "sealbox.service.settings",
    "account_policy": "sealbox.service.runtime",
    "administer_accounts": "sealbox.service.admin",
    "check": "sealbox.service.serve",
    "check_listen": "sealbox.service.serve",
    "client_trust_file": "sealbox.service.serve",
    "create_app": "sealbox.service.app",
    "create_user": "sealbox.service.admin",
    "create_client": "sealbox.service.client_admin",
    "delete_client": "sealbox.service.client_admin",
    "find_client": "sealbox.service.client_admin",
    "list_clients": "sealbox.service.client_admin",
    "rotate_client_secret": "sealbox.service.client_admin",
    "load_settings": "sealbox.service.settings",
    "prepare": "sealbox.service.serve",
    "reset_totp": "sealbox.service.admin",
    "run": "sealbox.service.serve",
    "service_url": "sealbox.service.serve",
    "signing_keys": "sealbox.service.keyset_admin",
    "signing_jwks": "sealbox.service.keyset_admin",
    "add_signing_key": "sealbox.service.keyset_admin",
    "rotate_signing_key": "sealbox.service.keyset_admin",
    "change_signing_key": "sealbox.service.keyset_admin",
}


# Hidden from type checkers: a module ``__getattr__`` would type every misspelt name
# as Any; they see the names above (TYPE_CHECKING) and report any other.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        """Load an entry point's module on first use (importing the package stays cheap)."""
        module = _ENTRY_POINTS.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
