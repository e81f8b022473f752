"""``/v1/keys/…``: encryption as a service (transit), with Vault Transit's field names.

Key management (scope ``transit:admin``): ``POST /v1/keys/{name}`` (create),
``GET /v1/keys``, ``GET /v1/keys/{name}`` (also ``transit:read:<name>``),
``POST /v1/keys/{name}/rotate``, ``PATCH /v1/keys/{name}`` (configuration),
``DELETE /v1/keys/{name}`` (only when ``deletion_allowed``). Export:
``GET /v1/keys/{name}/export`` (scope ``transit:export:<name>``, only when
``exportable``).

Operations, each guarded by ``transit:<operation>:<name>`` (or
``transit:<operation>:*`` for every key): ``encrypt``, ``decrypt``, ``rewrap``,
``datakey``, ``sign``, ``verify``, ``hmac``. Each takes one input at the top level
or a ``batch_input`` list answered by ``batch_results`` in the same order, every
failed item carrying its own ``error`` (a stable code) and ``message``. A batch
with failures answers 400 (``batch_failed``, with the results), or
``partial_failure_response_code`` when some items succeeded.

Every call is written to the audit log (key, version, item counts, outcome),
never with a plaintext, a ciphertext or key material.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from sealbox.service.deps import Caller, CallerDep
from sealbox.service.errors import ApiError, ErrorCode
from sealbox.service.runtime import Runtime
from sealbox.service.transit_keys import (
    SIGNING_TYPES,
    TransitError,
    TransitKey,
    peek_version,
)

__all__ = ["ADMIN_SCOPE", "NAME_PATTERN", "OPERATIONS", "TransitCall", "router", "scope_allows"]

ADMIN_SCOPE = "transit:admin"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
# Batches longer than this run on a worker thread, so the event loop keeps serving.
_INLINE_ITEMS = 64
# A result's private entry: the key version of its input (for the audit record only).
_FROM = "_from"

KeyName = Annotated[
    str,
    Path(
        pattern=NAME_PATTERN,
        description="1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
    ),
]
KeyTypeName = Literal[
    "aes256-gcm", "chacha20-poly1305", "aes256-siv", "hmac", "ed25519", "ecdsa-p256", "rsa-3072"
]
Base64 = Annotated[str, Field(description="base64, standard alphabet with padding")]
Reference = Annotated[
    str | None, Field(default=None, max_length=256, description="Echoed in the result.")
]


# The hash names Vault Transit accepts in sign and verify.
VAULT_HASHES: Final = frozenset(
    {
        "sha1",
        "sha2-224",
        "sha2-256",
        "sha2-384",
        "sha2-512",
        "sha3-224",
        "sha3-256",
        "sha3-384",
        "sha3-512",
        "none",
    }
)


def _answer_with_body(code: int | None) -> int | None:
    # The answer carries the batch results: a status that may not have a body (204,
    # 205, 304) would break the connection, and a redirect would not be followed sanely.
    if code is not None and (code in (204, 205) or 300 <= code <= 399):
        raise ValueError("must be a status that carries a body: 2xx but 204 and 205, or 4xx/5xx")
    return code


PartialCode = Annotated[
    int | None,
    Field(
        default=None,
        ge=200,
        le=599,
        description="Status of a batch in which some (not all) items failed; 400 by default. "
        "Any 2xx but 204 and 205, or any 4xx or 5xx: the answer carries the results.",
    ),
    AfterValidator(_answer_with_body),
]
KeyVersion = Annotated[
    int, Field(default=0, ge=0, le=2**31 - 1, description="0: the latest version.")
]


class _Body(BaseModel):
    # Unknown fields are refused: a misspelt min_decryption_version must not pass silently.
    model_config = ConfigDict(extra="forbid")


class CreateKey(_Body):
    """A new key."""

    type: KeyTypeName = "aes256-gcm"
    exportable: bool = False


class KeyConfig(_Body):
    """Configuration changes; fields left out keep their value."""

    min_decryption_version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    min_encryption_version: int | None = Field(default=None, ge=0, le=2**31 - 1)
    deletion_allowed: bool | None = None
    exportable: bool | None = None


class EncryptItem(_Body):
    """One plaintext to encrypt."""

    plaintext: Base64 | None = None
    associated_data: Base64 = ""
    reference: Reference = None


class EncryptRequest(EncryptItem):
    """``plaintext`` or ``batch_input``."""

    key_version: KeyVersion = 0
    batch_input: list[EncryptItem] | None = None
    partial_failure_response_code: PartialCode = None


class CiphertextItem(_Body):
    """One ciphertext to decrypt or rewrap."""

    ciphertext: str | None = None
    associated_data: Base64 = ""
    reference: Reference = None


class DecryptRequest(CiphertextItem):
    """``ciphertext`` or ``batch_input``."""

    batch_input: list[CiphertextItem] | None = None
    partial_failure_response_code: PartialCode = None


class RewrapRequest(DecryptRequest):
    """``ciphertext`` or ``batch_input``, re-encrypted with ``key_version`` (the latest)."""

    key_version: KeyVersion = 0


class DatakeyItem(_Body):
    """One data key to make."""

    associated_data: Base64 = ""
    reference: Reference = None


class DatakeyRequest(DatakeyItem):
    """``type: plaintext`` answers the data key and its ciphertext; ``wrapped`` only the latter."""

    type: Literal["plaintext", "wrapped"] = "wrapped"
    bits: int = Field(default=256, description="128, 256 or 512")
    key_version: KeyVersion = 0
    batch_input: list[DatakeyItem] | None = None
    partial_failure_response_code: PartialCode = None


class InputItem(_Body):
    """One input to sign or HMAC."""

    input: Base64 | None = None
    reference: Reference = None


class SignRequest(InputItem):
    """``input`` or ``batch_input``."""

    key_version: KeyVersion = 0
    hash_algorithm: str = Field(
        default="sha2-256",
        description="sha2-256 (ed25519: any hash name Vault knows, ignored)",
    )
    signature_algorithm: str = Field(default="pss", description="RSA: pss")
    marshaling_algorithm: str = Field(default="asn1", description="ECDSA: asn1 (DER)")
    prehashed: bool = False
    batch_input: list[InputItem] | None = None
    partial_failure_response_code: PartialCode = None


class HmacRequest(InputItem):
    """``input`` or ``batch_input``."""

    key_version: KeyVersion = 0
    algorithm: str = Field(default="sha2-256", description="sha2-256")
    batch_input: list[InputItem] | None = None
    partial_failure_response_code: PartialCode = None


class VerifyItem(_Body):
    """One input with the ``signature`` (signing keys) or ``hmac`` (hmac keys) to check."""

    input: Base64 | None = None
    signature: str | None = None
    hmac: str | None = None
    reference: Reference = None


class VerifyRequest(VerifyItem):
    """``input`` with ``signature`` or ``hmac``, or ``batch_input``."""

    hash_algorithm: str = Field(
        default="sha2-256",
        description="sha2-256 (ed25519: any hash name Vault knows, ignored)",
    )
    signature_algorithm: str = Field(default="pss", description="RSA: pss")
    marshaling_algorithm: str = Field(default="asn1", description="ECDSA: asn1 (DER)")
    prehashed: bool = False
    algorithm: str = Field(default="sha2-256", description="HMAC: sha2-256")
    batch_input: list[VerifyItem] | None = None
    partial_failure_response_code: PartialCode = None


# -- helpers ------------------------------------------------------------------------------


def scope_allows(scopes: frozenset[str], operation: str, name: str) -> bool:
    """Whether ``scopes`` hold ``transit:<operation>:<name>`` or ``transit:<operation>:*``."""
    return f"transit:{operation}:{name}" in scopes or f"transit:{operation}:*" in scopes


@dataclass(frozen=True, slots=True)
class TransitCall:
    """One request's runtime, caller and client address: what scope checks and audit need."""

    runtime: Runtime
    request: Request
    caller: Caller

    @classmethod
    def of(cls, request: Request, caller: Caller) -> TransitCall:
        return cls(request.app.state.runtime, request, caller)

    def audit(self, event: str, outcome: str, detail: str) -> None:
        client = self.request.client
        self.runtime.audit.record(
            f"transit.{event}",
            outcome=outcome,
            user=self.caller.username,
            address=client.host if client else "unknown",
            detail=detail,
        )

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

    def failed(self, event: str, name: str, exc: TransitError) -> ApiError:
        self.audit(event, "failure", f"key={name} error={exc.code}")
        return ApiError(exc.status, exc.code, exc.message)

    async def key(self, event: str, name: str, version: int = 0) -> TransitKey:
        """The key's snapshot (read again if ``version`` is newer than the cached one)."""
        try:
            return await self.runtime.transit.get(name, version=version)
        except TransitError as exc:
            raise self.failed(event, name, exc) from None


def _b64(value: str | None, field: str) -> bytes:
    if value is None:
        raise TransitError(400, ErrorCode.INVALID_REQUEST, f"missing {field}")
    if not value:
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise TransitError(400, ErrorCode.INVALID_REQUEST, f"{field} is not valid base64") from None


def _one_of(body: Any, field: str) -> None:
    """A request carries either its top-level input or ``batch_input``, not both."""
    if body.batch_input is None:
        if getattr(body, field) is None:
            raise ApiError(400, ErrorCode.INVALID_REQUEST, f"give {field} or batch_input")
        return
    if getattr(body, field) is not None:
        raise ApiError(400, ErrorCode.INVALID_REQUEST, f"give {field} or batch_input, not both")
    if not body.batch_input:
        raise ApiError(400, ErrorCode.INVALID_REQUEST, "batch_input is empty")


def _items_of(runtime: Runtime, body: Any) -> Sequence[Any]:
    items: Sequence[Any] = body.batch_input
    if len(items) > runtime.settings.transit_max_batch:
        raise ApiError(
            413,
            ErrorCode.BATCH_TOO_LARGE,
            f"batch_input has more than {runtime.settings.transit_max_batch} items",
        )
    return items


def _versions(result: dict[str, Any]) -> tuple[int | None, int | None]:
    """Take out the input's version; return it with the version the result was made with."""
    return result.get("key_version"), result.pop(_FROM, None)


def _run_batch(
    items: Sequence[Any], one: Callable[[Any], dict[str, Any]]
) -> tuple[list[dict[str, Any]], int, set[int]]:
    results: list[dict[str, Any]] = []
    failed = 0
    versions: set[int] = set()
    for item in items:
        try:
            out = one(item)
        except TransitError as exc:
            out = {"error": exc.code.value, "message": exc.message}
            failed += 1
        versions.update(v for v in _versions(out) if v is not None)
        if item.reference is not None:
            out["reference"] = item.reference
        results.append(out)
    return results, failed, versions


async def _operate(
    call: TransitCall,
    operation: str,
    key: TransitKey,
    body: Any,
    one: Callable[[Any], dict[str, Any]],
    *,
    heavy: bool = False,
) -> JSONResponse:
    """Run ``one`` on the single input or on every batch item; audit; answer."""
    name = key.name
    if body.batch_input is None:
        try:
            result = await asyncio.to_thread(one, body) if heavy else one(body)
        except TransitError as exc:
            raise call.failed(operation, name, exc) from None
        if body.reference is not None:
            result["reference"] = body.reference
        made, source = _versions(result)
        detail = f"key={name}"
        if made is not None:
            detail += f" version={made}" + ("" if source is None else f" from={source}")
        elif source is not None:
            detail += f" version={source}"
        call.audit(operation, "success", detail)
        return JSONResponse(result)
    items = _items_of(call.runtime, body)
    if heavy or len(items) > _INLINE_ITEMS:
        results, failed, versions = await asyncio.to_thread(_run_batch, items, one)
    else:
        results, failed, versions = _run_batch(items, one)
    count = len(items)
    detail = f"key={name} items={count} failed={failed}"
    if versions:
        low, high = min(versions), max(versions)
        detail += f" versions={low}" if low == high else f" versions={low}-{high}"
    if not failed:
        call.audit(operation, "success", detail)
        return JSONResponse({"batch_results": results})
    partial = failed < count
    call.audit(operation, "partial" if partial else "failure", detail)
    status = body.partial_failure_response_code if partial else None
    if status is not None and status < 400:
        return JSONResponse({"batch_results": results}, status_code=status)
    return JSONResponse(
        {
            "error": ErrorCode.BATCH_FAILED.value,
            "message": f"{failed} of {count} items failed",
            "batch_results": results,
        },
        status_code=status or 400,
    )


def _max_version(body: Any, *fields: str) -> int:
    """The newest key version any input names (a hint to re-read a key rotated elsewhere)."""
    items = body.batch_input if body.batch_input is not None else (body,)
    newest = 0
    for item in items:
        for field in fields:
            version = peek_version(getattr(item, field))
            if version is not None and version > newest:
                newest = version
    return newest


def _check_signing_options(key: TransitKey, body: SignRequest | VerifyRequest) -> None:
    if body.prehashed:
        raise ApiError(
            400,
            ErrorCode.UNSUPPORTED_ALGORITHM,
            "prehashed input is not supported: send the data itself",
        )
    if key.type == "ed25519":
        # Ed25519 hashes inside (RFC 8032): a hash Vault knows is ignored, as Vault
        # does; anything else is refused, never silently ignored.
        if body.hash_algorithm not in VAULT_HASHES:
            raise ApiError(
                400,
                ErrorCode.UNSUPPORTED_ALGORITHM,
                f"hash_algorithm must be one of {', '.join(sorted(VAULT_HASHES))}",
            )
        return
    if body.hash_algorithm != "sha2-256":
        raise ApiError(400, ErrorCode.UNSUPPORTED_ALGORITHM, "hash_algorithm must be sha2-256")
    if key.type == "rsa-3072" and body.signature_algorithm != "pss":
        raise ApiError(400, ErrorCode.UNSUPPORTED_ALGORITHM, "rsa-3072 keys sign with pss only")
    if key.type == "ecdsa-p256" and body.marshaling_algorithm != "asn1":
        raise ApiError(
            400,
            ErrorCode.UNSUPPORTED_ALGORITHM,
            "ecdsa-p256 signatures are asn1 (DER) only",
        )


# -- key management -----------------------------------------------------------------------


async def create_key(
    name: KeyName, body: CreateKey, caller: CallerDep, request: Request
) -> JSONResponse:
    """Create a key with version 1 (scope ``transit:admin``)."""
    call = TransitCall.of(request, caller)
    call.admin("create", name)
    try:
        key = await call.runtime.transit.create(name, body.type, exportable=body.exportable)
    except TransitError as exc:
        raise call.failed("create", name, exc) from None
    call.audit("create", "success", f"key={name} type={key.type}")
    return JSONResponse(key.info(), status_code=201)


async def list_keys(caller: CallerDep, request: Request) -> dict[str, list[str]]:
    """Every key's name (scope ``transit:admin``)."""
    call = TransitCall.of(request, caller)
    call.admin("list", "*")
    return {"keys": await call.runtime.transit.names()}


async def read_key(name: KeyName, caller: CallerDep, request: Request) -> JSONResponse:
    """A key's configuration, versions and public keys; never its material.

    Scope ``transit:admin`` or ``transit:read:<name>``.
    """
    call = TransitCall.of(request, caller)
    if ADMIN_SCOPE not in caller.scopes and not scope_allows(caller.scopes, "read", name):
        raise call.denied("read", name, f"transit:read:{name}")
    return JSONResponse((await call.key("read", name)).info())


async def rotate_key(name: KeyName, caller: CallerDep, request: Request) -> JSONResponse:
    """Add a version; new data uses it (scope ``transit:admin``)."""
    call = TransitCall.of(request, caller)
    call.admin("rotate", name)
    try:
        key = await call.runtime.transit.rotate(name)
    except TransitError as exc:
        raise call.failed("rotate", name, exc) from None
    call.audit("rotate", "success", f"key={name} version={key.latest_version}")
    return JSONResponse(key.info())


async def configure_key(
    name: KeyName, body: KeyConfig, caller: CallerDep, request: Request
) -> JSONResponse:
    """Change a key's minimum versions, ``deletion_allowed`` or ``exportable``."""
    call = TransitCall.of(request, caller)
    call.admin("config", name)
    changes = body.model_dump(exclude_none=True)
    try:
        key = await call.runtime.transit.configure(name, **changes)
    except TransitError as exc:
        raise call.failed("config", name, exc) from None
    shown = " ".join(f"{k}={str(v).lower()}" for k, v in sorted(changes.items()))
    call.audit("config", "success", f"key={name} {shown}".strip())
    return JSONResponse(key.info())


async def delete_key(name: KeyName, caller: CallerDep, request: Request) -> Response:
    """Delete a key whose ``deletion_allowed`` is on (scope ``transit:admin``)."""
    call = TransitCall.of(request, caller)
    call.admin("delete", name)
    try:
        await call.runtime.transit.delete(name)
    except TransitError as exc:
        raise call.failed("delete", name, exc) from None
    call.audit("delete", "success", f"key={name}")
    return Response(status_code=204)


async def export_key(
    name: KeyName,
    caller: CallerDep,
    request: Request,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> JSONResponse:
    """The material of an exportable key (scope ``transit:export:<name>``)."""
    call = TransitCall.of(request, caller)
    call.authorize("export", name)
    try:
        exported = await call.runtime.transit.export(name, version)
    except TransitError as exc:
        raise call.failed("export", name, exc) from None
    call.audit("export", "success", f"key={name} versions={len(exported['keys'])}")
    return JSONResponse(exported)


# -- operations ---------------------------------------------------------------------------


async def _encrypt(call: TransitCall, name: str, body: EncryptRequest) -> JSONResponse:
    call.authorize("encrypt", name)
    _one_of(body, "plaintext")
    key = await call.key("encrypt", name, body.key_version)
    version = body.key_version

    def one(item: EncryptItem) -> dict[str, Any]:
        plaintext = _b64(item.plaintext, "plaintext")
        associated_data = _b64(item.associated_data, "associated_data")
        ciphertext, used = key.encrypt(plaintext, associated_data, version)
        return {"ciphertext": ciphertext, "key_version": used}

    return await _operate(call, "encrypt", key, body, one)


async def _decrypt(call: TransitCall, name: str, body: DecryptRequest) -> JSONResponse:
    call.authorize("decrypt", name)
    _one_of(body, "ciphertext")
    key = await call.key("decrypt", name, _max_version(body, "ciphertext"))

    def one(item: CiphertextItem) -> dict[str, Any]:
        if item.ciphertext is None:
            raise TransitError(400, ErrorCode.INVALID_REQUEST, "missing ciphertext")
        plaintext = key.decrypt(item.ciphertext, _b64(item.associated_data, "associated_data"))
        return {
            "plaintext": base64.b64encode(plaintext).decode(),
            _FROM: peek_version(item.ciphertext),
        }

    return await _operate(call, "decrypt", key, body, one)


async def _rewrap(call: TransitCall, name: str, body: RewrapRequest) -> JSONResponse:
    call.authorize("rewrap", name)
    _one_of(body, "ciphertext")
    key = await call.key("rewrap", name, max(body.key_version, _max_version(body, "ciphertext")))
    version = body.key_version

    def one(item: CiphertextItem) -> dict[str, Any]:
        if item.ciphertext is None:
            raise TransitError(400, ErrorCode.INVALID_REQUEST, "missing ciphertext")
        associated_data = _b64(item.associated_data, "associated_data")
        ciphertext, used = key.rewrap(item.ciphertext, associated_data, version)
        return {"ciphertext": ciphertext, "key_version": used, _FROM: peek_version(item.ciphertext)}

    return await _operate(call, "rewrap", key, body, one)


async def _datakey(call: TransitCall, name: str, body: DatakeyRequest) -> JSONResponse:
    call.authorize("datakey", name)
    if body.batch_input is not None and not body.batch_input:
        raise ApiError(400, ErrorCode.INVALID_REQUEST, "batch_input is empty")
    if body.batch_input is not None and body.reference is not None:
        raise ApiError(400, ErrorCode.INVALID_REQUEST, "give reference per batch item")
    key = await call.key("datakey", name, body.key_version)
    version, bits, with_plaintext = body.key_version, body.bits, body.type == "plaintext"

    def one(item: DatakeyItem) -> dict[str, Any]:
        associated_data = _b64(item.associated_data, "associated_data")
        data_key, ciphertext, used = key.datakey(bits, associated_data, version)
        out: dict[str, Any] = {"ciphertext": ciphertext, "key_version": used}
        if with_plaintext:
            out["plaintext"] = base64.b64encode(data_key).decode()
        return out

    return await _operate(call, "datakey", key, body, one)


async def _sign(call: TransitCall, name: str, body: SignRequest) -> JSONResponse:
    call.authorize("sign", name)
    _one_of(body, "input")
    key = await call.key("sign", name, body.key_version)
    if key.type in SIGNING_TYPES:
        _check_signing_options(key, body)
    version = body.key_version

    def one(item: InputItem) -> dict[str, Any]:
        signature, used = key.sign(_b64(item.input, "input"), version)
        return {"signature": signature, "key_version": used}

    # An RSA-3072 signature costs about 0.2 ms: off the event loop.
    return await _operate(call, "sign", key, body, one, heavy=key.type == "rsa-3072")


async def _verify(call: TransitCall, name: str, body: VerifyRequest) -> JSONResponse:
    call.authorize("verify", name)
    _one_of(body, "input")
    key = await call.key("verify", name, _max_version(body, "signature", "hmac"))
    is_hmac = key.type not in SIGNING_TYPES
    if is_hmac:
        if body.algorithm != "sha2-256":
            raise ApiError(400, ErrorCode.UNSUPPORTED_ALGORITHM, "algorithm must be sha2-256")
    else:
        _check_signing_options(key, body)

    def one(item: VerifyItem) -> dict[str, Any]:
        data = _b64(item.input, "input")
        if is_hmac:
            if item.hmac is None or item.signature is not None:
                raise TransitError(
                    400, ErrorCode.INVALID_REQUEST, f"{key.type} keys verify an hmac"
                )
            return {"valid": key.verify_hmac(data, item.hmac), _FROM: peek_version(item.hmac)}
        if item.signature is None or item.hmac is not None:
            raise TransitError(
                400, ErrorCode.INVALID_REQUEST, f"{key.type} keys verify a signature"
            )
        return {"valid": key.verify(data, item.signature), _FROM: peek_version(item.signature)}

    return await _operate(call, "verify", key, body, one)


async def _hmac(call: TransitCall, name: str, body: HmacRequest) -> JSONResponse:
    call.authorize("hmac", name)
    _one_of(body, "input")
    if body.algorithm != "sha2-256":
        raise ApiError(400, ErrorCode.UNSUPPORTED_ALGORITHM, "algorithm must be sha2-256")
    key = await call.key("hmac", name, body.key_version)
    version = body.key_version

    def one(item: InputItem) -> dict[str, Any]:
        tag, used = key.hmac(_b64(item.input, "input"), version)
        return {"hmac": tag, "key_version": used}

    return await _operate(call, "hmac", key, body, one)


# -- endpoints (FastAPI) --------------------------------------------------------------


async def encrypt(
    name: KeyName, body: EncryptRequest, caller: CallerDep, request: Request
) -> JSONResponse:
    """Encrypt base64 ``plaintext`` (with optional ``associated_data``) into ``sealbox:v<N>:…``."""
    return await _encrypt(TransitCall.of(request, caller), name, body)


async def decrypt(
    name: KeyName, body: DecryptRequest, caller: CallerDep, request: Request
) -> JSONResponse:
    """Decrypt ``ciphertext`` (with the same ``associated_data``) into base64 ``plaintext``."""
    return await _decrypt(TransitCall.of(request, caller), name, body)


async def rewrap(
    name: KeyName, body: RewrapRequest, caller: CallerDep, request: Request
) -> JSONResponse:
    """Re-encrypt ``ciphertext`` with the latest version (or ``key_version``).

    The plaintext never leaves the service, so ``transit:rewrap:<name>`` can go to
    a job that must not read the data.
    """
    return await _rewrap(TransitCall.of(request, caller), name, body)


async def datakey(
    name: KeyName, body: DatakeyRequest, caller: CallerDep, request: Request
) -> JSONResponse:
    """A fresh data key wrapped by this key; ``type: plaintext`` also answers the key itself."""
    return await _datakey(TransitCall.of(request, caller), name, body)


async def sign(
    name: KeyName, body: SignRequest, caller: CallerDep, request: Request
) -> JSONResponse:
    """Sign base64 ``input``: ``signature`` is ``sealbox:v<N>:<base64>``."""
    return await _sign(TransitCall.of(request, caller), name, body)


async def verify(
    name: KeyName, body: VerifyRequest, caller: CallerDep, request: Request
) -> JSONResponse:
    """Check a ``signature`` (signing keys) or an ``hmac`` (hmac keys) of base64 ``input``."""
    return await _verify(TransitCall.of(request, caller), name, body)


async def hmac(
    name: KeyName, body: HmacRequest, caller: CallerDep, request: Request
) -> JSONResponse:
    """HMAC-SHA-256 of base64 ``input`` with an ``hmac`` key: ``sealbox:v<N>:<base64>``."""
    return await _hmac(TransitCall.of(request, caller), name, body)


OPERATIONS: dict[
    str, tuple[type[BaseModel], Callable[[TransitCall, str, Any], Awaitable[JSONResponse]]]
] = {
    "encrypt": (EncryptRequest, _encrypt),
    "decrypt": (DecryptRequest, _decrypt),
    "rewrap": (RewrapRequest, _rewrap),
    "datakey": (DatakeyRequest, _datakey),
    "sign": (SignRequest, _sign),
    "verify": (VerifyRequest, _verify),
    "hmac": (HmacRequest, _hmac),
}
"""Each operation's request model and handler (shared by the routes and the ASGI fast path)."""


def router() -> APIRouter:
    """The transit routes under ``/v1/keys``.

    The operations come first: FastAPI tries routes in order, and every route
    tried costs a regular-expression match on each request.
    """
    api = APIRouter(prefix="/v1/keys", tags=["transit"])
    for path, handler, summary in (
        ("encrypt", encrypt, "Encrypt"),
        ("decrypt", decrypt, "Decrypt"),
        ("rewrap", rewrap, "Rewrap to the latest version"),
        ("datakey", datakey, "Generate a data key"),
        ("sign", sign, "Sign"),
        ("verify", verify, "Verify a signature or an HMAC"),
        ("hmac", hmac, "HMAC"),
    ):
        api.add_api_route(f"/{{name}}/{path}", handler, methods=["POST"], summary=summary)
    api.add_api_route("", list_keys, methods=["GET"], summary="List keys")
    api.add_api_route(
        "/{name}", create_key, methods=["POST"], status_code=201, summary="Create a key"
    )
    api.add_api_route("/{name}", read_key, methods=["GET"], summary="Read a key")
    api.add_api_route("/{name}", configure_key, methods=["PATCH"], summary="Configure a key")
    api.add_api_route(
        "/{name}", delete_key, methods=["DELETE"], status_code=204, summary="Delete a key"
    )
    api.add_api_route("/{name}/rotate", rotate_key, methods=["POST"], summary="Rotate a key")
    api.add_api_route("/{name}/export", export_key, methods=["GET"], summary="Export a key")
    return api
