"""The ``sys/`` routes Vault's clients call before anything else.

- ``GET /v1/sys/health`` (no token, as in Vault): initialised, unsealed, active; a
  client's readiness probe;
- ``GET /v1/sys/seal-status``, ``GET /v1/sys/leader`` and ``GET /v1/sys/init`` (no token,
  as in Vault): what ``vault status``, hvac's ``sys.is_sealed()`` and
  ``sys.is_initialized()`` read. sealbox has no seal and no standby: it answers as an
  initialised, unsealed Vault with one key share (as Vault's development server reports
  itself) that runs without high availability;
- ``GET /v1/sys/internal/ui/mounts/<path>`` (any valid token): which engine serves a path,
  which Vault's command line asks before a ``kv`` command to learn the KV version.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from starlette.responses import JSONResponse

from sealbox import __version__
from sealbox.service.vault.envelope import vault_response
from sealbox.service.vault.errors import VaultError

__all__ = ["OPEN_ROUTES", "health", "init_status", "leader", "mount_of", "seal_status"]


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


# The answers that never change. Vault's Go client reads each member; those it may lack
# (``cluster_id``, ``storage_type``) are left out rather than made up: sealbox has no
# cluster identity, and the database's kind is no business of a caller without a token.
SEAL_STATUS: Final = MappingProxyType(
    {
        "type": "shamir",
        "initialized": True,
        "sealed": False,
        "t": 1,
        "n": 1,
        "progress": 0,
        "nonce": "",
        "version": __version__,
        "build_date": "",
        "migration": False,
        "cluster_name": "sealbox",
        "recovery_seal": False,
    }
)
LEADER: Final = MappingProxyType(
    {
        "ha_enabled": False,
        "is_self": False,
        "active_time": "0001-01-01T00:00:00Z",  # Go's zero time, as Vault sends it
        "leader_address": "",
        "leader_cluster_address": "",
        "performance_standby": False,
        "performance_standby_last_remote_wal": 0,
    }
)


def seal_status() -> JSONResponse:
    """``sys/seal-status``: unsealed, one key share of one (nothing to unseal)."""
    return JSONResponse(dict(SEAL_STATUS))


def leader() -> JSONResponse:
    """``sys/leader``: no high availability (each worker and server answers alike)."""
    return JSONResponse(dict(LEADER))


def init_status() -> JSONResponse:
    """``sys/init`` read: initialised (the data folder is made before the service runs)."""
    return JSONResponse({"initialized": True})


OPEN_ROUTES: Final[Mapping[str, tuple[frozenset[str], Callable[[], JSONResponse]]]] = (
    MappingProxyType(
        {
            "health": (frozenset({"GET", "HEAD"}), health),
            "seal-status": (frozenset({"GET"}), seal_status),
            "leader": (frozenset({"GET"}), leader),
            "init": (frozenset({"GET"}), init_status),
        }
    )
)
"""The ``sys/`` routes of their own in Vault, that read no token: each path's methods and
its answer."""


def mount_of(parts: list[str], kv_mounts: frozenset[str]) -> JSONResponse:
    """``sys/internal/ui/mounts/<path>``: the engine of the path's first segment.

    Raises:
        VaultError: 403 for a path no engine serves, in Vault's words (its answer to a
            path under no mount and to one the token may not see alike, so that the
            lookup cannot list the mounts).
    """
    first = parts[0] if parts else ""
    data: dict[str, Any]
    if first in kv_mounts:
        data = {"type": "kv", "options": {"version": "2"}}
    elif first == "transit":
        data = {"type": "transit", "options": None}
    else:
        asked = json.dumps("/".join(parts) + "/", ensure_ascii=False)  # as Go's %q quotes it
        raise VaultError(
            403,
            "preflight capability check returned 403, please ensure client's policies "
            f"grant access to path {asked}",
        )
    data.update(path=f"{first}/", description="", local=False, seal_wrap=False)
    return vault_response(data)
