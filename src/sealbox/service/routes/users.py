"""``GET /users/me``, the health check and the public JWKS.

``/users/me`` and the JWKS are the library's routes (``users_router`` and ``jwks_router``
of :mod:`sealbox.integrations.fastapi`) over the worker's accounts.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from fastapi import APIRouter

from sealbox.integrations.fastapi import jwks_router, users_router
from sealbox.service.deps import current_caller, runtime_accounts

__all__ = ["ME_PATH", "router"]

#: Where the caller's own account is (the lean entry of ``users_fast`` answers it too).
ME_PATH = "/users/me"


def router() -> APIRouter:
    """``/users/me``, ``/health`` and ``/.well-known/jwks.json``."""
    api = APIRouter()
    api.include_router(users_router(runtime_accounts, path=ME_PATH, bearer=current_caller))

    @api.get("/health", tags=["service"])
    async def health() -> dict[str, str]:
        """Liveness: answers as long as the worker's event loop runs."""
        return {"status": "ok"}

    api.include_router(jwks_router(runtime_accounts))
    return api
