"""Vault Transit's routes (``/v1/transit/…``) over sealbox's transit handlers.

The operations (``encrypt|decrypt|rewrap|hmac|sign|verify/:name``,
``datakey/:type/:name``) reshape Vault's request into sealbox's request model and run
the handler of :mod:`sealbox.service.routes.transit` (same scope checks, audit records,
key cache and batch rules), then answer as Vault does: ``{"data": …}`` with ciphertexts,
signatures and HMACs spelt ``vault:v<N>:…``. The key management routes
(``keys/:name``, ``keys/:name/config``, ``keys/:name/rotate``, ``LIST keys``,
``export/:type/:name[/:version]``) call the native endpoints the same way.

Vault fields sealbox has no use for are taken when they ask for nothing
(``context: ""``, ``salt_length: "auto"``, ``name`` in a verify body), and refused
(400) when they ask for what sealbox does not do: key derivation (``context``,
``derived``), convergent encryption (``nonce``), automatic rotation.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, TypeVar

from pydantic import ValidationError
from pydantic_core import from_json
from starlette.requests import Request
from starlette.responses import Response

from sealbox.service.deps import Caller
from sealbox.service.errors import ApiError, ErrorCode
from sealbox.service.routes.transit import (
    ADMIN_SCOPE,
    HANDLERS,
    TransitCall,
    _max_version,
    _one_of,
    _operate,
    _options,
    check_hmac_hashes,
    configure_key,
    create_key_for,
    delete_key,
    export_key,
    list_keys,
    read_key,
    read_key_for,
    rotate_key,
)
from sealbox.service.routes.transit_models import (
    CreateKey,
    HmacRequest,
    InputItem,
    KeyConfig,
    VerifyItem,
    VerifyRequest,
)
from sealbox.service.vault.envelope import envelope_bytes, vault_response
from sealbox.service.vault.errors import (
    VaultError,
    from_api_error,
    item_message,
    validation_messages,
)
from sealbox.service.vault.key_types import FROM_VAULT_TYPES, VAULT_TYPES, sealbox_type, vault_type
from sealbox.service.vault.text_fields import FALSE_TEXT, LINE_BREAK, typed, unbroken
from sealbox.service.vault.version_groups import VersionGroups, item_versions, run_groups
from sealbox.transit import InvalidRequestError, peek_version, vault_spelling
from sealbox.transit.batch import FROM_VERSION
from sealbox.transit.formats import MAX_VERSION, decode_b64
from sealbox.transit.registry import REGISTRY, check_hmac_algorithm, is_key_name

__all__ = [
    "FROM_VAULT_TYPES",
    "NOT_JSON",
    "RESHAPED",
    "VAULT_TYPES",
    "manage",
    "operate",
    "parse_body",
    "upserting",
    "vault_key",
    "vault_single",
]

T = TypeVar("T")

#: The answer to a body that is not JSON text, on every Vault route.
NOT_JSON: Final = "error parsing JSON"
# Fields a versioned text may be in (answered in Vault's spelling).
_VERSIONED: Final = ("ciphertext", "signature", "hmac")
# Vault request fields with nothing to do in sealbox, taken when they ask for nothing.
_UNSUPPORTED: Final[Mapping[str, str]] = MappingProxyType(
    {
        "context": "key derivation (context) is not supported",
        "nonce": "convergent encryption (nonce) is not supported",
        "convergent_encryption": "convergent encryption is not supported",
        "derived": "derived keys are not supported",
        "auto_rotate_period": "automatic rotation is not supported",
        "allow_plaintext_backup": "plaintext backups are not supported",
        "managed_key_name": "managed keys are not supported",
        "managed_key_id": "managed keys are not supported",
    }
)
_IGNORED: Final = frozenset({"name", "key_size"})
# A key's settings that `vault write transit/keys/K/config field=value` sends as text.
_CONFIG_TEXT: Final = MappingProxyType(
    {
        "whole": ("min_decryption_version", "min_encryption_version"),
        "flags": ("deletion_allowed", "exportable"),
    }
)
_MIN_ONE: Final = "since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1"


def _is_zero(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value == 0


# A body that names none of these, and breaks no line in its text, is already sealbox's
# request: it is validated straight from its bytes (the hot path). Base64 values hold no
# quote, so only a member matches.
RESHAPED: Final = re.compile(
    rb'"(?:'
    + b"|".join(
        re.escape(f.encode())
        for f in (*_UNSUPPORTED, *_IGNORED, "salt_length", "type", "key_version", "hmac")
    )
    + rb')"|'
    + LINE_BREAK.pattern
)


def _unix(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def vault_key(info: Mapping[str, Any]) -> dict[str, Any]:
    """A key as Vault's ``GET keys/:name`` shows it, from sealbox's key description."""
    keys: dict[str, Any] = {}
    # Vault archives the versions below min_decryption_version out of the key it reads:
    # its `keys` lists only those the key may still use (they come back when the minimum
    # is lowered), as `export` does here.
    for version, entry in info["keys"].items():
        if int(version) < info["min_decryption_version"]:
            continue
        if "public_key" in entry:
            keys[version] = {
                "creation_time": entry["creation_time"],
                "name": info["type"],
                "public_key": entry["public_key"],
            }
        else:
            keys[version] = _unix(entry["creation_time"])
    return {
        "allow_plaintext_backup": False,
        "auto_rotate_period": 0,
        "deletion_allowed": info["deletion_allowed"],
        "derived": False,
        "exportable": info["exportable"],
        "imported_key": False,
        "keys": keys,
        "latest_version": info["latest_version"],
        "min_available_version": 0,
        "min_decryption_version": info["min_decryption_version"],
        "min_encryption_version": info["min_encryption_version"],
        "name": info["name"],
        "supports_decryption": info["supports_decryption"],
        "supports_derivation": False,
        "supports_encryption": info["supports_encryption"],
        "supports_signing": info["supports_signing"],
        "type": vault_type(info["type"]),
    }


def parse_body(raw: bytes) -> dict[str, Any]:
    """A JSON object request body (an empty body is `{}`).

    Parsed as the models parse (pydantic-core): text that is not Unicode (a lone
    surrogate escape), ``NaN`` and ``Infinity``, and nesting past its depth limit are
    refused here with 400, not stored to fail every later read (or, for the depth,
    raised as a ``RecursionError``).
    """
    if not raw.strip():
        return {}
    try:
        body = from_json(raw, allow_inf_nan=False, cache_strings=False)
    except ValueError:
        raise VaultError(400, NOT_JSON) from None
    if not isinstance(body, dict):
        raise VaultError(400, "the request body must be a JSON object")
    return body


def _asks_nothing(value: Any) -> bool:
    """Whether an unsupported field's value asks for nothing (empty, zero, false).

    A list or an object always asks for something (and cannot be looked up in a set).
    """
    if isinstance(value, str):
        return value in ("", "0s") or value in FALSE_TEXT
    return value is None or (type(value) in (bool, int, float) and not value)


def _strip(fields: dict[str, Any]) -> dict[str, Any]:
    """Drop the Vault fields that ask for nothing; refuse the ones that ask for more."""
    for field in list(fields):
        if field in _UNSUPPORTED:
            value = fields.pop(field)
            if not _asks_nothing(value):
                raise VaultError(400, _UNSUPPORTED[field])
        elif field in _IGNORED:
            fields.pop(field)
    if fields.get("salt_length") in ("auto", None):
        fields.pop("salt_length", None)
    elif "salt_length" in fields:
        raise VaultError(400, "salt_length: sealbox's RSA-PSS signatures use a 32-byte salt")
    return fields


def _request_body(
    operation: str, raw: bytes, path_arg: str | None
) -> tuple[dict[str, Any], str | None, VersionGroups | None]:
    """Vault's request as sealbox's model takes it, the key type an encrypt names, and the
    groups of a batch whose items ask for different key versions."""
    body = unbroken(_strip(parse_body(raw)))
    key_type = None
    items = body.get("batch_input")
    if isinstance(items, list):
        body["batch_input"] = [unbroken(_strip(i)) if isinstance(i, dict) else i for i in items]
    if operation == "encrypt":
        # The type of a key the call creates (upsert, below).
        key_type = _key_type(body.pop("type", None))
    if path_arg is not None:
        if operation == "datakey":
            body["type"] = path_arg
        elif operation == "hmac":
            body["algorithm"] = path_arg
        else:
            body["hash_algorithm"] = path_arg
    if operation == "verify" and path_arg is not None and _verifies_hmac(body):
        body["algorithm"] = body.pop("hash_algorithm")
    if operation in ("decrypt", "verify"):
        # The version is in the ciphertext or signature: Vault reads no key_version here,
        # the request's or (decoding each item as an encrypt's) an item's.
        body.pop("key_version", None)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    item.pop("key_version", None)
    groups = None
    if operation in ("encrypt", "rewrap") and isinstance(body.get("batch_input"), list):
        groups = item_versions(body)
    return body, key_type, groups


def _key_type(named: Any) -> str | None:
    """A request's ``type`` of key: text, or ``None`` (JSON null: Vault's default).

    Raises:
        VaultError: 400 for any other JSON value (never taken as the default type).
    """
    if named is None or isinstance(named, str):
        return named
    raise VaultError(400, "type: the key type must be a string")


def _verifies_hmac(body: dict[str, Any]) -> bool:
    """Whether a verify request checks HMACs (Vault's ``hmac`` field), not signatures."""
    items = body.get("batch_input")
    if isinstance(items, list):
        return any(isinstance(i, dict) and i.get("hmac") is not None for i in items)
    return body.get("hmac") is not None


async def _hmac_any(call: TransitCall, name: str, body: HmacRequest) -> Response:
    """Vault's ``hmac``: any key type, with each version's HMAC key (the native route
    takes ``hmac`` keys only)."""
    call.authorize("hmac", name)
    _one_of(body, "input")
    _options(lambda: check_hmac_algorithm(body.algorithm))
    key = await call.key("hmac", name, body.key_version)
    version = body.key_version

    def one(item: InputItem) -> dict[str, Any]:
        tag, used = key.version_hmac(decode_b64(item.input, "input"), version)
        return {"hmac": tag, "key_version": used}

    return await _operate(call, "hmac", key, body, one)


async def _verify_hmac_any(call: TransitCall, name: str, body: VerifyRequest) -> Response:
    """Vault's ``verify`` of an ``hmac``, for any key type."""
    call.authorize("verify", name)
    _one_of(body, "input")
    _options(lambda: check_hmac_hashes(body))
    key = await call.key("verify", name, _max_version(body, "hmac"))

    def one(item: VerifyItem) -> dict[str, Any]:
        data = decode_b64(item.input, "input")
        if item.hmac is None or item.signature is not None:
            raise InvalidRequestError("give each item an hmac, or each a signature")
        return {
            "valid": key.verify_version_hmac(data, item.hmac),
            FROM_VERSION: peek_version(item.hmac),
        }

    return await _operate(call, "verify", key, body, one)


def _reshape(result: dict[str, Any]) -> dict[str, Any]:
    for field in _VERSIONED:
        value = result.get(field)
        if isinstance(value, str):
            result[field] = vault_spelling(value)
    return result


def vault_single(native: bytes) -> bytes:
    """Vault's answer to one input (no ``reference``), from the native 200's JSON body."""
    # One result: only its versioned text starts a JSON string with "sealbox:v".
    return envelope_bytes(native.replace(b'"sealbox:v', b'"vault:v', 1))


def _answer(response: Response, *, single: bool = False) -> Response:
    """The native handler's answer, as Vault answers.

    Args:
        response: the handler's answer.
        single: the request had one input and no ``reference`` (its answer holds at most
            one versioned text, and nothing a caller chose).
    """
    raw = bytes(response.body)
    if single and response.status_code == 200:
        body = vault_single(raw)
        response.body = body
        response.raw_headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
        ]
        return response
    native = json.loads(raw)
    results = native.get("batch_results")
    if results is None:
        return vault_response(_reshape(native), response.status_code)
    for result in results:
        code = result.pop("error", None)
        message = result.pop("message", "")
        if code is not None:
            result["error"] = item_message(code, message)
        _reshape(result)
    return vault_response({"batch_results": results}, response.status_code)


async def operate(
    request: Request,
    caller: Caller,
    operation: str,
    name: str,
    raw: bytes,
    *,
    path_arg: str | None = None,
) -> Response:
    """Run one transit operation for a Vault client.

    Raises:
        VaultError: the refusal, in Vault's words.
    """
    model, handler = HANDLERS[operation]
    key_type = None
    call = TransitCall.of(request, caller)
    try:
        if path_arg is None and operation != "hmac" and RESHAPED.search(raw) is None:
            parsed = model.model_validate_json(raw or b"{}")
        else:
            body, key_type, groups = _request_body(operation, raw, path_arg)
            if groups is not None:
                # Items asking for different versions: a native batch for each version.
                def grouped() -> Awaitable[Response]:
                    return run_groups(
                        groups, body, model, lambda part: handler(call, name, part), call.runtime
                    )

                answer = await upserting(call, operation, name, key_type, grouped)
                return _answer(answer)
            if operation == "hmac":
                handler = _hmac_any
            elif operation == "verify" and _verifies_hmac(body):
                handler = _verify_hmac_any
            parsed = model.model_validate(body)
    except ValidationError as exc:
        call.refused(operation, name, ErrorCode.VALIDATION_ERROR)
        errors = exc.errors()
        if any(error.get("type") == "json_invalid" for error in errors):
            # Text that is not JSON: the words of every other route, not the parser's.
            raise VaultError(400, NOT_JSON) from None
        raise VaultError(400, *validation_messages(errors)) from None
    except VaultError:
        # The body's shape, refused in Vault's words (a run that failed has its record).
        call.refused(operation, name, ErrorCode.INVALID_REQUEST)
        raise
    single = (
        getattr(parsed, "batch_input", None) is None and getattr(parsed, "reference", None) is None
    )
    answer = await upserting(call, operation, name, key_type, lambda: handler(call, name, parsed))
    return _answer(answer, single=single)


async def upserting(
    call: TransitCall,
    operation: str,
    name: str,
    key_type: str | None,
    run: Callable[[], Awaitable[T]],
) -> T:
    """``run()``'s answer, as Vault gives it: an ``encrypt`` that names a missing key
    creates it (of ``key_type``, Vault's name, ``aes256-gcm96`` when ``None``) when the
    caller may create keys, then runs again; for any other caller it is 403.

    Raises:
        VaultError: the refusal, in Vault's words.
    """
    try:
        return await run()
    except ApiError as exc:
        upsert = exc.code is ErrorCode.NOT_FOUND and operation == "encrypt"
        if not upsert:
            call.refused(operation, name, exc.code)
            raise from_api_error(exc) from None
        if ADMIN_SCOPE not in call.caller.scopes:
            # Vault's encrypt of a missing key is a create (its existence check says so),
            # refused 403 to a token that may not create, before the engine runs. The
            # audit record (a failure: not found) says why.
            call.refused(operation, name, exc.code)
            raise VaultError.denied() from None
    spec = REGISTRY[sealbox_type(key_type)]  # a type sealbox has, or refused in Vault's words
    if not spec.supports("encrypt"):
        # Refused before anything is made: a failed encrypt leaves no key behind.
        raise VaultError(400, f"key type {key_type} not supported for this operation")
    await _create(call, name, key_type, {})
    try:
        return await run()
    except ApiError as exc:
        call.refused(operation, name, exc.code)
        raise from_api_error(exc) from None


async def _create(
    call: TransitCall, name: str, key_type: str | None, body: dict[str, Any]
) -> tuple[Response, list[str]]:
    fields = _strip(typed(body, flags=("exportable",)))
    wanted = sealbox_type(key_type)
    try:
        create = CreateKey.model_validate({**fields, "type": wanted})
    except ValidationError as exc:
        raise VaultError(400, *validation_messages(exc.errors())) from None
    try:
        return await create_key_for(call, name, create), []
    except ApiError as exc:
        if exc.code is not ErrorCode.KEY_EXISTS:
            raise from_api_error(exc) from None
    # Vault answers the existing key, with a warning, to a create of a key that exists.
    return await read_key_for(call, name), [f"key {name} already existed"]


def _key_answer(response: Response, warnings: list[str] | None = None) -> Response:
    info = json.loads(bytes(response.body))
    return vault_response(vault_key(info), warnings=warnings)


async def manage(
    request: Request,
    caller: Caller,
    method: str,
    parts: list[str],
    raw: bytes,
    *,
    listing: bool = False,
) -> Response:
    """The key management routes: ``keys…`` and ``export…`` (``parts`` follow ``transit/``).

    Raises:
        VaultError: the refusal, in Vault's words.
    """
    try:
        if parts == ["keys"]:
            if not listing:
                raise VaultError(405, "unsupported operation")
            names = (await list_keys(caller, request))["keys"]
            if not names:
                raise VaultError.not_found()
            return vault_response({"keys": names})
        if parts[0] == "keys" and len(parts) in (2, 3):
            return await _key_route(request, caller, method, parts, raw)
        if parts[0] == "export" and len(parts) in (3, 4) and method == "GET":
            return await _export(request, caller, parts)
    except ApiError as exc:
        raise from_api_error(exc) from None
    raise VaultError(404, f"unsupported path transit/{'/'.join(parts)}")


async def _key_route(
    request: Request, caller: Caller, method: str, parts: list[str], raw: bytes
) -> Response:
    name = parts[1]
    action = parts[2] if len(parts) == 3 else None
    if action is None and method == "GET":
        try:
            return _key_answer(await read_key(name, caller, request))
        except ApiError as exc:
            if exc.code is ErrorCode.NOT_FOUND:
                raise VaultError.not_found() from None
            raise
    if action is None and method in ("POST", "PUT"):
        body = parse_body(raw)
        key_type = _key_type(body.pop("type", None))
        response, warnings = await _create(TransitCall.of(request, caller), name, key_type, body)
        return _key_answer(response, warnings)
    if action is None and method == "DELETE":
        try:
            return await delete_key(name, caller, request)
        except ApiError as exc:
            if exc.code is ErrorCode.NOT_FOUND:
                raise VaultError(400, "could not delete key; not found") from None
            raise
    if action == "rotate" and method in ("POST", "PUT"):
        return _key_answer(await rotate_key(name, caller, request))
    if action == "config" and method in ("POST", "PUT"):
        fields = typed(parse_body(raw), **_CONFIG_TEXT)
        forced = _is_zero(fields.get("min_decryption_version"))
        if forced:
            # Vault takes 0 as 1 (its versions start at 1), with this warning.
            fields["min_decryption_version"] = 1
        try:
            config = KeyConfig.model_validate(_strip(fields))
        except ValidationError as exc:
            raise VaultError(400, *validation_messages(exc.errors())) from None
        configured = await configure_key(name, config, caller, request)
        return _key_answer(configured, [_MIN_ONE] if forced else None)
    if action not in (None, "rotate", "config"):
        # A path sealbox does not have (trim, …): 404, as every path it lacks.
        raise VaultError(404, f"unsupported path transit/{'/'.join(parts)}")
    raise VaultError(405, "unsupported operation")


_EXPORT_FAMILIES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "encryption-key": ("supports_encryption",),
        "signing-key": ("supports_signing",),
        "hmac-key": ("supports_hmac",),
    }
)


async def _export(request: Request, caller: Caller, parts: list[str]) -> Response:
    kind, name = parts[1], parts[2]
    if not is_key_name(name):
        raise VaultError(400, "invalid key name")
    if kind not in _EXPORT_FAMILIES:
        raise VaultError(400, f"invalid key type {kind!r}")
    call = TransitCall.of(request, caller)
    call.authorize("export", name)
    key = await call.key("export", name)
    info = key.info()
    if not all(info[flag] for flag in _EXPORT_FAMILIES[kind]):
        raise VaultError(400, f"{kind} is not available for keys of type {vault_type(key.type)}")
    version: int | None = None
    if len(parts) == 4:
        wanted = parts[3]
        if wanted == "latest":
            version = key.latest_version
        elif (
            wanted.isascii()
            and wanted.isdigit()
            and wanted[0] != "0"
            and int(wanted[:11]) <= MAX_VERSION
        ):
            version = int(wanted)
        else:
            raise VaultError(400, "version must be a number or 'latest'")
    exported = json.loads(bytes((await export_key(name, caller, request, version)).body))
    exported["type"] = vault_type(exported["type"])
    return vault_response(exported)
