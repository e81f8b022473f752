"""Vault's response envelope: ``data`` (or ``auth``) with the members every answer has.

Vault answers every read and write the same way::

    {"request_id": "…", "lease_id": "", "renewable": false, "lease_duration": 0,
     "data": {…}, "wrap_info": null, "warnings": null, "auth": null}

Clients with typed answers (not only hvac) expect each member, so sealbox sends them
all: a fresh ``request_id``, no lease, no wrapping.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import random
from typing import Any

from starlette.responses import JSONResponse

__all__ = ["envelope", "envelope_bytes", "request_id", "vault_response"]

_HEAD = b'{"request_id":"'
_MIDDLE = b'","lease_id":"","renewable":false,"lease_duration":0,"data":'
_TAIL = b',"wrap_info":null,"warnings":null,"auth":null}'


def request_id() -> str:
    """A fresh request id in the UUID form Vault uses.

    Unique, not secret: drawn from :mod:`random` (reseeded in every forked worker), a
    tenth of the cost of :func:`uuid.uuid4` on the hot path.
    """
    h = f"{random.getrandbits(128):032x}"  # an identifier, not a secret
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def envelope(
    data: Any, *, warnings: list[str] | None = None, auth: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The envelope around ``data``."""
    return {
        "request_id": request_id(),
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": data,
        "wrap_info": None,
        "warnings": warnings or None,
        "auth": auth,
    }


def envelope_bytes(data_json: bytes) -> bytes:
    """The envelope around ``data_json``, JSON already (the transit hot path)."""
    return b"".join((_HEAD, request_id().encode(), _MIDDLE, data_json, _TAIL))


def vault_response(
    data: Any,
    status: int = 200,
    *,
    warnings: list[str] | None = None,
    auth: dict[str, Any] | None = None,
) -> JSONResponse:
    """An answer in Vault's envelope."""
    return JSONResponse(envelope(data, warnings=warnings, auth=auth), status_code=status)
