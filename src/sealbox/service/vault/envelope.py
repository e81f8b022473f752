"""Vault's response envelope: ``data`` (or ``auth``) with the members every answer has.

Vault answers every read and write the same way::

    {"request_id": "…", "lease_id": "", "renewable": false, "lease_duration": 0,
     "data": {…}, "wrap_info": null, "warnings": null, "auth": null}

Clients with typed answers (not only hvac) expect each member, so sealbox sends them
all: a fresh ``request_id``, no lease, no wrapping.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import JSONResponse

__all__ = ["envelope", "envelope_bytes", "vault_response"]

_TAIL = b',"wrap_info":null,"warnings":null,"auth":null}'


def envelope(
    data: Any, *, warnings: list[str] | None = None, auth: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The envelope around ``data``."""
    return {
        "request_id": str(uuid.uuid4()),
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
    head = b'{"request_id":"%s","lease_id":"","renewable":false,"lease_duration":0,"data":'
    return head % str(uuid.uuid4()).encode() + data_json + _TAIL


def vault_response(
    data: Any,
    status: int = 200,
    *,
    warnings: list[str] | None = None,
    auth: dict[str, Any] | None = None,
) -> JSONResponse:
    """An answer in Vault's envelope."""
    return JSONResponse(envelope(data, warnings=warnings, auth=auth), status_code=status)
