"""The HTTPS service (``sealbox serve``): accounts, tokens and transit over TLS.

A shell over the library: it parses requests, calls sealbox, and answers. It needs the
``service`` extra (FastAPI, uvicorn, SQLAlchemy…); importing any part of it without that
extra raises :class:`~sealbox.exceptions.ExtraNotInstalledError` with the
``pip install 'sealbox[service]'`` to run, instead of a bare ImportError.
"""

from __future__ import annotations

import importlib.util

from sealbox.exceptions import ExtraNotInstalledError

# What `sealbox[service]` installs, by import name (found, not imported: that stays lazy).
for _module in (
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "aiosqlite",
    "pydantic_settings",
    "python_multipart",
    "precis_i18n",
):
    if importlib.util.find_spec(_module) is None:
        raise ExtraNotInstalledError("service", _module)
