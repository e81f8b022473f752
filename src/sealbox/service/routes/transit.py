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
from collections.abc import Awaitable, Callable, Sequence
from types import MappingProxyType
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic_core import to_json

from sealbox.exceptions import SealboxError
from sealbox.service.deps import CallerDep
from sealbox.service.errors import ApiError, ErrorCode
from sealbox.service.routes.transit_call import ADMIN_SCOPE, TransitCall, scope_allows
from sealbox.service.routes.transit_models import (
    NAME_PATTERN,
    CiphertextItem,
    CreateKey,
    DatakeyItem,
    DatakeyRequest,
    DecryptRequest,
    EncryptItem,
    EncryptRequest,
    HmacRequest,
    InputItem,
    KeyConfig,
    KeyName,
    RewrapRequest,
    SignRequest,
    VerifyItem,
    VerifyRequest,
)
from sealbox.service.routes.transit_outcome import (
    batch_document,
    batch_items,
    batch_status,
)
from sealbox.service.routes.transit_route import AuditedOperationRoute
from sealbox.service.runtime import Runtime
from sealbox.service.transit_errors import transit_api_error, wire_code
from sealbox.transit.batch import FROM_VERSION as _FROM
from sealbox.transit.batch import item_versions, run_batch
from sealbox.transit.errors import InvalidRequestError
from sealbox.transit.formats import MAX_VERSION, decode_b64, peek_version
from sealbox.transit.keys import TransitKey
from sealbox.transit.registry import (
    OPERATIONS as OPERATION_NAMES,
)
from sealbox.transit.registry import (
    Family,
    TransitKeyType,
    check_hmac_algorithm,
    check_sign_options,
)

__all__ = ["ADMIN_SCOPE", "HANDLERS", "NAME_PATTERN", "TransitCall", "router", "scope_allows"]

# Batches longer than this run on a worker thread, so the event loop keeps serving.
_INLINE_ITEMS = 64

# -- helpers ------------------------------------------------------------------------------


def _options(check: Callable[[], None]) -> None:
    """Run a library check of a request's options; a refusal is answered at once."""
    try:
        check()
    except SealboxError as exc:
        answer = transit_api_error(exc)
        if answer is None:
            raise
        raise answer from None


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
    _nothing_beside_batch(body)


def _nothing_beside_batch(body: Any) -> None:
    """Refuse an item's field given beside ``batch_input``: it would apply to no item
    (an ``associated_data`` there binds nothing), and silently."""
    item_fields = type(body.batch_input[0]).model_fields
    beside = sorted(
        name
        for name in body.model_fields_set & item_fields.keys()
        if getattr(body, name) not in (None, "")
    )
    if beside:
        raise ApiError(
            400,
            ErrorCode.INVALID_REQUEST,
            f"{', '.join(beside)} goes in each batch_input item, not beside batch_input",
        )


def _items_of(runtime: Runtime, body: Any) -> Sequence[Any]:
    return batch_items(runtime, body.batch_input)


async def _operate(
    call: TransitCall,
    operation: str,
    key: TransitKey,
    body: Any,
    one: Callable[[Any], dict[str, Any]],
    *,
    heavy: bool = False,
) -> Response:
    """Run ``one`` on the single input or on every batch item; audit; answer."""
    name = key.name
    if body.batch_input is None:
        try:
            result = await asyncio.to_thread(one, body) if heavy else one(body)
        except SealboxError as exc:
            raise call.failed(operation, name, exc) from None
        if body.reference is not None:
            result["reference"] = body.reference
        made, source = item_versions(result)
        detail = f"key={name}"
        if made is not None:
            detail += f" version={made}" + ("" if source is None else f" from={source}")
        elif source is not None:
            detail += f" version={source}"
        call.audit(operation, "success", detail)
        return _json(result)
    items = _items_of(call.runtime, body)
    if heavy or len(items) > _INLINE_ITEMS:
        outcome = await asyncio.to_thread(run_batch, items, one, code_of=wire_code)
    else:
        outcome = run_batch(items, one, code_of=wire_code)
    results, failed = outcome.results, outcome.failed
    count = len(items)
    status = batch_status(
        call,
        operation,
        name,
        count=count,
        failed=failed,
        versions=outcome.versions,
        partial_code=body.partial_failure_response_code,
    )
    return _json(batch_document(results, failed, status), status)


def _json(content: dict[str, Any], status: int = 200) -> Response:
    """``content`` as a JSON answer, the document ``JSONResponse`` would send (compact,
    UTF-8), written by pydantic's serializer: a batch's answer is about as large as its
    input, and the standard library's encoder took longer over it than the batch's
    cryptography."""
    return Response(to_json(content), status, media_type="application/json")


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


def _check_signing(spec: TransitKeyType, body: SignRequest | VerifyRequest) -> None:
    check_sign_options(
        spec,
        hash_algorithm=body.hash_algorithm,
        signature_algorithm=body.signature_algorithm,
        marshaling_algorithm=body.marshaling_algorithm,
        prehashed=body.prehashed,
    )


# -- key management -----------------------------------------------------------------------


async def create_key(
    name: KeyName, body: CreateKey, caller: CallerDep, request: Request
) -> JSONResponse:
    """Create a key with version 1 (scope ``transit:admin``)."""
    return await create_key_for(TransitCall.of(request, caller), name, body)


async def create_key_for(call: TransitCall, name: str, body: CreateKey) -> JSONResponse:
    """:func:`create_key` for a call already made (the Vault-shaped routes' upsert)."""
    call.admin("create", name)
    try:
        key = await call.runtime.transit.create(name, body.type, exportable=body.exportable)
    except SealboxError as exc:
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
    return await read_key_for(TransitCall.of(request, caller), name)


async def read_key_for(call: TransitCall, name: str) -> JSONResponse:
    """:func:`read_key` for a call already made."""
    if ADMIN_SCOPE not in call.caller.scopes and not scope_allows(call.caller.scopes, "read", name):
        raise call.denied("read", name, f"transit:read:{name}")
    return JSONResponse((await call.key("read", name)).info())


async def rotate_key(name: KeyName, caller: CallerDep, request: Request) -> JSONResponse:
    """Add a version; new data uses it (scope ``transit:admin``)."""
    call = TransitCall.of(request, caller)
    call.admin("rotate", name)
    try:
        key, made = await call.runtime.transit.rotate(name)
    except SealboxError as exc:
        raise call.failed("rotate", name, exc) from None
    # The version this rotation made: the key's latest may be a concurrent rotation's.
    call.audit("rotate", "success", f"key={name} version={made}")
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
    except SealboxError as exc:
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
    except SealboxError as exc:
        raise call.failed("delete", name, exc) from None
    call.audit("delete", "success", f"key={name}")
    return Response(status_code=204)


async def export_key(
    name: KeyName,
    caller: CallerDep,
    request: Request,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> JSONResponse:
    """The material of an exportable key (scope ``transit:export:<name>``)."""
    call = TransitCall.of(request, caller)
    call.authorize("export", name)
    try:
        exported = await call.runtime.transit.export(name, version)
    except SealboxError as exc:
        raise call.failed("export", name, exc) from None
    call.audit("export", "success", f"key={name} versions={len(exported['keys'])}")
    return JSONResponse(exported)


# -- operations ---------------------------------------------------------------------------


async def _encrypt(call: TransitCall, name: str, body: EncryptRequest) -> Response:
    call.authorize("encrypt", name)
    _one_of(body, "plaintext")
    key = await call.key("encrypt", name, body.key_version)
    encrypt = key.encryptor(body.key_version)

    def one(item: EncryptItem) -> dict[str, Any]:
        plaintext = decode_b64(item.plaintext, "plaintext")
        associated_data = decode_b64(item.associated_data, "associated_data")
        ciphertext, used = encrypt(plaintext, associated_data)
        return {"ciphertext": ciphertext, "key_version": used}

    return await _operate(call, "encrypt", key, body, one)


async def _decrypt(call: TransitCall, name: str, body: DecryptRequest) -> Response:
    call.authorize("decrypt", name)
    _one_of(body, "ciphertext")
    key = await call.key("decrypt", name, _max_version(body, "ciphertext"))

    def one(item: CiphertextItem) -> dict[str, Any]:
        if item.ciphertext is None:
            raise InvalidRequestError("missing ciphertext")
        plaintext = key.decrypt(
            item.ciphertext, decode_b64(item.associated_data, "associated_data")
        )
        return {
            "plaintext": base64.b64encode(plaintext).decode(),
            _FROM: peek_version(item.ciphertext),
        }

    return await _operate(call, "decrypt", key, body, one)


async def _rewrap(call: TransitCall, name: str, body: RewrapRequest) -> Response:
    call.authorize("rewrap", name)
    _one_of(body, "ciphertext")
    key = await call.key("rewrap", name, max(body.key_version, _max_version(body, "ciphertext")))
    version = body.key_version

    def one(item: CiphertextItem) -> dict[str, Any]:
        if item.ciphertext is None:
            raise InvalidRequestError("missing ciphertext")
        associated_data = decode_b64(item.associated_data, "associated_data")
        ciphertext, used = key.rewrap(item.ciphertext, associated_data, version)
        return {
            "ciphertext": ciphertext,
            "key_version": used,
            _FROM: peek_version(item.ciphertext),
        }

    return await _operate(call, "rewrap", key, body, one)


async def _datakey(call: TransitCall, name: str, body: DatakeyRequest) -> Response:
    call.authorize("datakey", name)
    if body.batch_input is not None and not body.batch_input:
        raise ApiError(400, ErrorCode.INVALID_REQUEST, "batch_input is empty")
    if body.batch_input is not None:
        _nothing_beside_batch(body)
    key = await call.key("datakey", name, body.key_version)
    version, bits, with_plaintext = body.key_version, body.bits, body.type == "plaintext"

    def one(item: DatakeyItem) -> dict[str, Any]:
        associated_data = decode_b64(item.associated_data, "associated_data")
        data_key, ciphertext, used = key.datakey(bits, associated_data, version)
        out: dict[str, Any] = {"ciphertext": ciphertext, "key_version": used}
        if with_plaintext:
            out["plaintext"] = base64.b64encode(data_key).decode()
        return out

    return await _operate(call, "datakey", key, body, one)


async def _sign(call: TransitCall, name: str, body: SignRequest) -> Response:
    call.authorize("sign", name)
    _one_of(body, "input")
    key = await call.key("sign", name, body.key_version)
    spec = key.spec
    if spec.family is Family.SIGNATURE:
        _options(lambda: _check_signing(spec, body))
    version = body.key_version

    def one(item: InputItem) -> dict[str, Any]:
        signature, used = key.sign(decode_b64(item.input, "input"), version)
        return {"signature": signature, "key_version": used}

    # An RSA signature holds the CPU long enough to stall other requests (findings.md).
    return await _operate(call, "sign", key, body, one, heavy=spec.slow_sign)


def check_hmac_hashes(body: VerifyRequest) -> None:
    """Refuse an HMAC verify naming a hash other than SHA-256, in ``algorithm`` or in
    ``hash_algorithm``: Vault reads it from either (``algorithm`` is its older name), and
    hvac sends ``hash_algorithm``. Checked as SHA-256 whatever it named, a tag would be
    judged by a hash the caller did not ask for.

    Raises:
        UnsupportedAlgorithmError: another hash.
    """
    check_hmac_algorithm(body.algorithm)
    check_hmac_algorithm(body.hash_algorithm)


async def _verify(call: TransitCall, name: str, body: VerifyRequest) -> Response:
    call.authorize("verify", name)
    _one_of(body, "input")
    key = await call.key("verify", name, _max_version(body, "signature", "hmac"))
    spec = key.spec
    is_hmac = spec.family is not Family.SIGNATURE
    if is_hmac:
        _options(lambda: check_hmac_hashes(body))
    else:
        _options(lambda: _check_signing(spec, body))

    def one(item: VerifyItem) -> dict[str, Any]:
        # An encryption key verifies nothing: refused as such, as hmac and sign refuse it
        # (not "verify an hmac", then "cannot hmac" once an hmac is given).
        spec.require("verify")
        data = decode_b64(item.input, "input")
        if is_hmac:
            if item.hmac is None or item.signature is not None:
                raise InvalidRequestError(f"{key.type} keys verify an hmac")
            return {
                "valid": key.verify_hmac(data, item.hmac),
                _FROM: peek_version(item.hmac),
            }
        if item.signature is None or item.hmac is not None:
            raise InvalidRequestError(f"{key.type} keys verify a signature")
        return {
            "valid": key.verify(data, item.signature),
            _FROM: peek_version(item.signature),
        }

    return await _operate(call, "verify", key, body, one)


async def _hmac(call: TransitCall, name: str, body: HmacRequest) -> Response:
    call.authorize("hmac", name)
    _one_of(body, "input")
    _options(lambda: check_hmac_algorithm(body.algorithm))
    key = await call.key("hmac", name, body.key_version)
    version = body.key_version

    def one(item: InputItem) -> dict[str, Any]:
        tag, used = key.hmac(decode_b64(item.input, "input"), version)
        return {"hmac": tag, "key_version": used}

    return await _operate(call, "hmac", key, body, one)


# -- endpoints (FastAPI) --------------------------------------------------------------


async def encrypt(
    name: KeyName, body: EncryptRequest, caller: CallerDep, request: Request
) -> Response:
    """Encrypt base64 ``plaintext`` (with optional ``associated_data``) into ``sealbox:v<N>:…``."""
    return await run_operation(TransitCall.of(request, caller), "encrypt", name, body)


async def decrypt(
    name: KeyName, body: DecryptRequest, caller: CallerDep, request: Request
) -> Response:
    """Decrypt ``ciphertext`` (with the same ``associated_data``) into base64 ``plaintext``."""
    return await run_operation(TransitCall.of(request, caller), "decrypt", name, body)


async def rewrap(
    name: KeyName, body: RewrapRequest, caller: CallerDep, request: Request
) -> Response:
    """Re-encrypt ``ciphertext`` with the latest version (or ``key_version``).

    The plaintext never leaves the service, so ``transit:rewrap:<name>`` can go to
    a job that must not read the data.
    """
    return await run_operation(TransitCall.of(request, caller), "rewrap", name, body)


async def datakey(
    name: KeyName, body: DatakeyRequest, caller: CallerDep, request: Request
) -> Response:
    """A fresh data key wrapped by this key; ``type: plaintext`` also answers the key itself."""
    return await run_operation(TransitCall.of(request, caller), "datakey", name, body)


async def sign(name: KeyName, body: SignRequest, caller: CallerDep, request: Request) -> Response:
    """Sign base64 ``input``: ``signature`` is ``sealbox:v<N>:<base64>``."""
    return await run_operation(TransitCall.of(request, caller), "sign", name, body)


async def verify(
    name: KeyName, body: VerifyRequest, caller: CallerDep, request: Request
) -> Response:
    """Check a ``signature`` (signing keys) or an ``hmac`` (hmac keys) of base64 ``input``."""
    return await run_operation(TransitCall.of(request, caller), "verify", name, body)


async def hmac(name: KeyName, body: HmacRequest, caller: CallerDep, request: Request) -> Response:
    """HMAC-SHA-256 of base64 ``input`` with an ``hmac`` key: ``sealbox:v<N>:<base64>``."""
    return await run_operation(TransitCall.of(request, caller), "hmac", name, body)


_HANDLERS: Final[
    dict[str, tuple[type[BaseModel], Callable[[TransitCall, str, Any], Awaitable[Response]]]]
] = {
    "encrypt": (EncryptRequest, _encrypt),
    "decrypt": (DecryptRequest, _decrypt),
    "rewrap": (RewrapRequest, _rewrap),
    "datakey": (DatakeyRequest, _datakey),
    "sign": (SignRequest, _sign),
    "verify": (VerifyRequest, _verify),
    "hmac": (HmacRequest, _hmac),
}
HANDLERS: Final = MappingProxyType({op: _HANDLERS[op] for op in OPERATION_NAMES})
"""Each operation of the library's registry (:data:`sealbox.transit.registry.OPERATIONS`),
with its request model and handler (shared by the routes and the lean ASGI entry).
An operation the registry adds without a handler here fails at import."""


async def run_operation(call: TransitCall, operation: str, name: str, body: Any) -> Response:
    """``operation``'s answer to ``call`` on key ``name``; a refusal that wrote no audit
    record where it was raised (``batch_input`` empty or too long, options the key does
    not take) is audited on its way out, so every call leaves one."""
    try:
        return await _HANDLERS[operation][1](call, name, body)
    except ApiError as exc:
        call.refused(operation, name, exc.code)
        raise


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
        api.add_api_route(
            f"/{{name}}/{path}",
            handler,
            methods=["POST"],
            summary=summary,
            route_class_override=AuditedOperationRoute,
        )
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
