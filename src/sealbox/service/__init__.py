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
):
    if all(importlib.util.find_spec(name) is None for name in _names):
        raise ExtraNotInstalledError("service", _names[0])
