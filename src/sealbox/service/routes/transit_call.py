"""One transit request's context: its runtime, caller and client address.

What the scope checks, the key reads and the audit records of the transit handlers
need, shared by the FastAPI routes (:mod:`sealbox.service.routes.transit`), the
lean batches (:mod:`sealbox.service.routes.transit_batch`) and the lean entry
(:mod:`sealbox.service.routes.transit_entry`), so all of them check and audit alike.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.types import Scope

from sealbox.accounts.core import Caller
from sealbox.exceptions import SealboxError
from sealbox.service.errors import ApiError, ErrorCode
from sealbox.service.runtime import Runtime
from sealbox.service.transit_errors import transit_api_error
from sealbox.transit.keys import TransitKey

__all__ = ["ADMIN_SCOPE", "TransitCall", "client_address", "scope_allows"]

ADMIN_SCOPE = "transit:admin"


def scope_allows(scopes: frozenset[str], operation: str, name: str) -> bool:
    """Whether ``scopes`` hold ``transit:<operation>:<name>`` or ``transit:<operation>:*``."""
    return f"transit:{operation}:{name}" in scopes or f"transit:{operation}:*" in scopes


def client_address(scope: Scope) -> str:
    """The client's address as the audit records write it (``unknown`` when not known)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


@dataclass(slots=True)
class TransitCall:
    """One request's runtime, caller and client address: what scope checks and audit need."""

    runtime: Runtime
    address: str
    caller: Caller
    #: When the request arrived (``time.monotonic()``): the key reads it needs.
    arrived: float = field(default_factory=time.monotonic)
    #: Whether this call has written its audit record.
    recorded: bool = field(default=False, init=False)

    @classmethod
    def of(cls, request: Request, caller: Caller) -> TransitCall:
        return cls(request.app.state.runtime, client_address(request.scope), caller)

    def audit(self, event: str, outcome: str, detail: str) -> None:
        self.runtime.audit.record(
            f"transit.{event}",
            outcome=outcome,
            user=self.caller.username,
            address=self.address,
            detail=detail,
        )
        self.recorded = True

    def refused(self, event: str, name: str, code: str) -> None:
        """Audit a refusal that wrote no record where it was raised (the request's shape,
        its size, an option the key does not take): every call leaves one."""
        # An audit log that cannot be written is the refusal itself: nothing to add to it.
        if not self.recorded and code != ErrorCode.AUDIT_UNAVAILABLE:
            self.audit(event, "failure", f"key={name} error={code}")

    def denied(self, event: str, name: str, scope: str) -> ApiError:
        self.audit(event, "denied", f"key={name}")
        return ApiError(
            403,
            ErrorCode.INSUFFICIENT_SCOPE,
            f"this needs the scope {scope}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )

    def authorize(self, operation: str, name: str) -> None:
        if not scope_allows(self.caller.scopes, operation, name):
            raise self.denied(operation, name, f"transit:{operation}:{name}")

    def admin(self, event: str, name: str) -> None:
        if ADMIN_SCOPE not in self.caller.scopes:
            raise self.denied(event, name, ADMIN_SCOPE)

    def failed(self, event: str, name: str, exc: SealboxError) -> Exception:
        """The answer to a library refusal (audited); ``exc`` itself when it is none."""
        answer = transit_api_error(exc)
        if answer is None:
            return exc
        self.audit(event, "failure", f"key={name} error={answer.code}")
        return answer

    async def key(self, event: str, name: str, version: int = 0) -> TransitKey:
        """The key's snapshot (read again if ``version`` is newer than the cached one)."""
        try:
            return await self.runtime.transit.get(name, version=version, fresh_since=self.arrived)
        except SealboxError as exc:
            raise self.failed(event, name, exc) from None
