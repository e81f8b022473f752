"""Vault's token self-service routes, for clients' ``is_authenticated()`` and renewals.

``GET /v1/auth/token/lookup-self`` describes the caller's access token as Vault
describes a token: its policies (sealbox's scopes), its times and its remaining
``ttl``. ``POST /v1/auth/token/renew-self`` answers the remaining lifetime as the
lease: a sealbox access token cannot be extended (its expiry is signed into it), so
``renewable`` is false and a client gets a new token from ``/auth/token`` or
``/auth/refresh``. Neither answer carries the token itself (Vault's ``id`` and
``client_token``): the caller has it.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse

from sealbox.service.deps import Caller
from sealbox.service.vault.envelope import vault_response
from sealbox.service.vault.errors import VaultError

__all__ = ["lookup_self", "renew_self", "token_route"]


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ttl(caller: Caller) -> int:
    return max(0, int(caller.expires - time.time()))


def lookup_self(caller: Caller) -> dict[str, Any]:
    """The ``data`` of ``lookup-self``."""
    issued = caller.claims.get("iat")
    issued_at = float(issued) if isinstance(issued, int | float) else caller.expires
    return {
        "accessor": caller.jti,
        "creation_time": int(issued_at),
        "creation_ttl": int(caller.expires - issued_at),
        "display_name": f"sealbox-{caller.username}",
        "entity_id": "",
        "expire_time": _iso(caller.expires),
        "explicit_max_ttl": int(caller.expires - issued_at),
        "issue_time": _iso(issued_at),
        "meta": {"username": caller.username},
        "num_uses": 0,
        "orphan": True,
        "path": "auth/token",
        "policies": sorted(caller.scopes),
        "renewable": False,
        "ttl": _ttl(caller),
        "type": "service",
    }


def renew_self(caller: Caller) -> dict[str, Any]:
    """The ``auth`` of ``renew-self``: the remaining lifetime, not renewable."""
    policies = sorted(caller.scopes)
    return {
        "accessor": caller.jti,
        "entity_id": "",
        "lease_duration": _ttl(caller),
        "metadata": {"username": caller.username},
        "orphan": True,
        "policies": policies,
        "renewable": False,
        "token_policies": policies,
        "token_type": "service",
    }


def token_route(caller: Caller, method: str, parts: list[str]) -> JSONResponse:
    """Answer ``auth/token/<parts>``.

    Raises:
        VaultError: 404 for another path, 405 for another method.
    """
    if parts == ["lookup-self"]:
        if method not in ("GET", "POST", "PUT"):  # Vault's read and update (POST or PUT)
            raise VaultError(405, "unsupported operation")
        return vault_response(lookup_self(caller))
    if parts == ["renew-self"]:
        if method not in ("POST", "PUT"):
            raise VaultError(405, "unsupported operation")
        return vault_response(None, auth=renew_self(caller))
    raise VaultError(404, f"unsupported path auth/token/{'/'.join(parts)}")
