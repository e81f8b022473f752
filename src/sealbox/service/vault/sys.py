"""The ``sys/`` routes Vault's clients call before anything else.

- ``GET /v1/sys/health`` (no token, as in Vault): initialised, unsealed, active; a
  client's readiness probe. Its ``activecode`` query parameter is the answer's status,
  as in Vault; those of the states sealbox is never in (``standbycode``,
  ``sealedcode``…) change nothing but are checked as Vault checks them;
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

from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse, Response

from sealbox import __version__
from sealbox.service.vault.envelope import vault_response
from sealbox.service.vault.errors import VaultError
from sealbox.service.vault.text_fields import FALSE_TEXT, TRUE_TEXT

__all__ = ["OPEN_ROUTES", "health", "init_status", "leader", "mount_of", "seal_status"]


# The status-code parameters of Vault's sys/health, one per state of a server; sealbox is
# always an active one, so only ``activecode`` is ever used.
_ACTIVE_CODE: Final = "activecode"
_STATE_CODES: Final = (
    "uninitcode",
    "sealedcode",
    "standbycode",
    "drsecondarycode",
    "performancestandbycode",
    "haunhealthycode",
    "removedcode",
)
_STATE_FLAGS: Final = ("standbyok", "perfstandbyok")
# Statuses an answer with a body can have (Vault lets Go refuse the rest).
_LOWEST_STATUS: Final = 200
_HIGHEST_STATUS: Final = 599
# Statuses that carry no body (HTTP's rule; Go drops the body Vault writes for them).
_NO_BODY: Final = frozenset({204, 205, 304})


def _status_code(query: QueryParams, name: str) -> int | None:
    """The status code asked for in ``name`` (the first, as Vault reads it), or ``None``.

    Raises:
        VaultError: 400 for text that is no whole number or no status an answer can have.
    """
    values = query.getlist(name)
    if not values:
        return None
    text = values[0]
    if not (text.isascii() and text.lstrip("+-").isdigit()) or len(text) > 4:
        raise VaultError(400, f"{name} must be an HTTP status code")
    code = int(text)
    if not _LOWEST_STATUS <= code <= _HIGHEST_STATUS:
        raise VaultError(
            400, f"{name} must be an HTTP status code from {_LOWEST_STATUS} to {_HIGHEST_STATUS}"
        )
    return code


def health(query: QueryParams) -> Response:
    """``sys/health``: always initialised and unsealed (sealbox has no seal), with the
    status ``activecode`` asks for (200 by default).

    Raises:
        VaultError: 400 for a status-code parameter that is none, or a flag
            (``standbyok``, ``perfstandbyok``) that is no boolean, as Vault refuses them.
    """
    for flag in _STATE_FLAGS:
        values = query.getlist(flag)
        if values and values[0] not in TRUE_TEXT | FALSE_TEXT:
            raise VaultError(400, f"bad value for {flag} parameter: must be true or false")
    for name in _STATE_CODES:
        _status_code(query, name)
    active = _status_code(query, _ACTIVE_CODE)
    if active in _NO_BODY:
        return Response(status_code=active)
    return JSONResponse(
        status_code=200 if active is None else active,
        content={
            "initialized": True,
            "sealed": False,
            "standby": False,
            "performance_standby": False,
            "replication_performance_mode": "disabled",
            "replication_dr_mode": "disabled",
            "server_time_utc": int(time.time()),
            "version": __version__,
            "cluster_name": "sealbox",
        },
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


OPEN_ROUTES: Final[Mapping[str, tuple[frozenset[str], Callable[[QueryParams], Response]]]] = (
    MappingProxyType(
        {
            "health": (frozenset({"GET", "HEAD"}), health),
            "seal-status": (frozenset({"GET"}), lambda _query: seal_status()),
            "leader": (frozenset({"GET"}), lambda _query: leader()),
            "init": (frozenset({"GET"}), lambda _query: init_status()),
        }
    )
)
"""The ``sys/`` routes of their own in Vault, that read no token: each path's methods and
its answer to the request's query."""


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
