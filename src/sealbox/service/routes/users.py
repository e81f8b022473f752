"""``GET /users/me``, the health check and the public JWKS.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from sealbox.service.deps import RuntimeDep, UserCallerDep, client_identity

__all__ = ["router"]


class Me(BaseModel):
    """The caller, from its access token, and the client certificate of the connection."""

    id: int
    username: str
    scopes: list[str]
    expires_at: int
    client_certificate: dict[str, Any] | None = None


def router() -> APIRouter:
    """``/users/me``, ``/health`` and ``/.well-known/jwks.json``."""
    api = APIRouter()

    @api.get("/users/me", response_model=Me, tags=["users"])
    async def me(caller: UserCallerDep, request: Request) -> Me:
        """Who the access token belongs to (no database access); a client's token is refused."""
        identity = client_identity(request)
        return Me(
            id=caller.user_id,
            username=caller.username,
            scopes=sorted(caller.scopes),
            expires_at=int(caller.expires),
            client_certificate=identity.to_dict() if identity else None,
        )

    @api.get("/health", tags=["service"])
    async def health() -> dict[str, str]:
        """Liveness: answers as long as the worker's event loop runs."""
        return {"status": "ok"}

    @api.get("/.well-known/jwks.json", tags=["service"])
    async def jwks(runtime: RuntimeDep) -> JSONResponse:
        """The public keys that verify this service's access tokens (RFC 7517)."""
        return JSONResponse(
            runtime.keyset.public_jwks(), headers={"Cache-Control": "public, max-age=300"}
        )

    return api
