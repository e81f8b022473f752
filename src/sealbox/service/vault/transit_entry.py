"""A lean entry for Vault's single ``encrypt`` and ``decrypt``, ahead of Starlette's stack.

``POST /v1/transit/encrypt/:name`` with ``{"plaintext": …}`` is what a Vault client
sends most. Through :class:`~sealbox.service.vault.api.VaultApi` it met Starlette's
error layers and the service's middlewares (each wrapping ``send``) first, and built a
``Request`` and a ``Response``; the native ``/v1/keys/…`` operations skip all that
(:mod:`sealbox.service.routes.transit_entry`), and so does this entry for the same
operation in Vault's shape. It runs what the native entry runs for one input
(:data:`~sealbox.service.routes.transit_single.SINGLE_OPERATIONS`: the scope check,
the key, the cryptography, the audit record), then answers as
:func:`~sealbox.service.vault.transit.operate` does: Vault's envelope, the ciphertext
spelt ``vault:v<N>:``, Vault's refusals (:func:`~sealbox.service.vault.errors.vault_refusal`),
a missing key created for a caller who may (:func:`~sealbox.service.vault.transit.upserting`),
and the security headers the middleware would have added.

**What it takes.** ``POST`` or ``PUT`` to ``/v1/transit/encrypt/:name`` or
``/v1/transit/decrypt/:name`` (a name the routes take, no ``root_path``), with one
``Content-Length`` within the transit limit and no ``Transfer-Encoding``, and a body
that names no Vault field to reshape and that the native entry's single checks take
(:func:`~sealbox.service.routes.transit_single.single_body`), without a ``reference``
(its answer goes through the batch reshaping). Anything else goes on, its body given
again, to :class:`~sealbox.service.vault.api.VaultApi`, which answers it as it always did.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.types import Message, Receive, Scope, Send

from sealbox.integrations.fastapi.bearer import identity_thumbprint
from sealbox.integrations.fastapi.client_cert import scope_client_identity
from sealbox.service.deps import checked_caller
from sealbox.service.errors import ApiError, lean_refusal, response_parts
from sealbox.service.middleware import security_headers, with_security_headers
from sealbox.service.routes.transit_call import TransitCall, client_address
from sealbox.service.routes.transit_entry import (
    BodyEntry,
    again,
    body_within,
    json_headers,
    read_body,
    send_answer,
)
from sealbox.service.routes.transit_single import SINGLE_OPERATIONS, single_body
from sealbox.service.runtime import Runtime
from sealbox.service.vault.auth import refuse_wrapping, token_in
from sealbox.service.vault.errors import VaultError, vault_refusal
from sealbox.service.vault.transit import RESHAPED, upserting, vault_single
from sealbox.transit.registry import is_key_name

__all__ = ["VaultTransitEntry", "plain_body"]

ASGICall = Callable[[Scope, Receive, Send], Awaitable[None]]

_PREFIX: Final = "/v1/transit/"
_PATH: Final = re.compile(r"/v1/transit/(encrypt|decrypt)/([^/]+)")


def plain_body(operation: str, raw: bytes) -> dict[str, Any] | None:
    """The body of a single ``encrypt`` or ``decrypt`` this entry answers, or ``None``.

    One that :func:`~sealbox.service.vault.transit.operate` would validate straight
    from its bytes (it names no Vault field to reshape), that the native single checks
    take, and whose answer is Vault's single one (no ``reference``).
    """
    if RESHAPED.search(raw) is not None:
        return None
    body = single_body(operation, raw)
    if body is None or body.get("reference") is not None:
        return None
    return body


class VaultTransitEntry(BodyEntry):
    """Answer Vault's single ``encrypt`` and ``decrypt`` as the Vault routes do."""

    __slots__ = ()

    def takes(self, scope: Scope) -> tuple[str, str] | None:
        """The key name and operation when this entry reads ``scope``'s body, else ``None``."""
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT"):
            return None
        path = scope["path"]
        if not path.startswith(_PREFIX) or scope.get("root_path"):
            return None
        match = _PATH.fullmatch(path)
        if match is None or not is_key_name(match[2]):
            return None
        return (match[2], match[1]) if body_within(scope, self.limit) else None

    async def __call__(
        self,
        runtime: Runtime,
        target: tuple[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        application: ASGICall,
    ) -> None:
        """Answer ``scope`` (one :meth:`takes` gave ``target`` for), or hand it to
        ``application`` (with the body read so far) when the Vault routes must judge it."""
        messages: list[Message] = []
        raw = await read_body(receive, messages, self.limit)
        body = plain_body(target[1], raw) if raw else None
        if body is None:
            await application(scope, again(messages, receive), send)
            return
        extra = security_headers(scope)
        try:
            content = await self._answer(runtime, scope, target, body)
        except Exception as exc:  # noqa: BLE001 - answered as the Vault routes and middlewares do
            refused = vault_refusal(exc)
            if refused is None:
                status, headers, content = lean_refusal(scope, exc, extra)
            else:
                status, headers, content = response_parts(refused)
                headers = with_security_headers(headers, extra)
        else:
            status, headers = 200, json_headers(content, extra)
        await send_answer(send, status, headers, content)

    @staticmethod
    async def _answer(
        runtime: Runtime, scope: Scope, target: tuple[str, str], body: dict[str, Any]
    ) -> bytes:
        """Vault's 200 body, or its refusal raised."""
        name, operation = target
        # In the Vault routes' order: the token first (no answer tells a stranger anything).
        token = token_in(scope)
        thumbprint = identity_thumbprint(scope_client_identity(scope))
        try:
            caller = await checked_caller(runtime.accounts, token, thumbprint)
        except ApiError:
            raise VaultError.denied() from None
        refuse_wrapping(scope)
        call = TransitCall(runtime, client_address(scope), caller)
        one = SINGLE_OPERATIONS[operation]
        native = await upserting(call, operation, name, None, lambda: one(call, name, body))
        return vault_single(native)
