"""The two ``sys/`` routes Vault's clients call before anything else.

- ``GET /v1/sys/health`` (no token, as in Vault): initialised, unsealed, active; a
  client's readiness probe;
- ``GET /v1/sys/internal/ui/mounts/<path>`` (any valid token): which engine serves a path,
  which Vault's command line asks before a ``kv`` command to learn the KV version.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import JSONResponse

from sealbox import __version__
from sealbox.service.vault.envelope import vault_response
from sealbox.service.vault.errors import VaultError

__all__ = ["health", "mount_of"]


def health() -> JSONResponse:
    """``sys/health``: always initialised and unsealed (sealbox has no seal)."""
    return JSONResponse(
        {
            "initialized": True,
            "sealed": False,
            "standby": False,
            "performance_standby": False,
            "replication_performance_mode": "disabled",
            "replication_dr_mode": "disabled",
            "server_time_utc": int(time.time()),
            "version": __version__,
            "cluster_name": "sealbox",
        }
    )


def mount_of(parts: list[str], kv_mounts: frozenset[str]) -> JSONResponse:
    """``sys/internal/ui/mounts/<path>``: the engine of the path's first segment.

    Raises:
        VaultError: 404 for a path no engine serves.
    """
    first = parts[0] if parts else ""
    data: dict[str, Any]
    if first in kv_mounts:
        data = {"type": "kv", "options": {"version": "2"}}
    elif first == "transit":
        data = {"type": "transit", "options": None}
    else:
        raise VaultError.not_found()
    data.update(path=f"{first}/", description="", local=False, seal_wrap=False)
    return vault_response(data)
