"""Vault's KV version 2 routes (``/v1/<mount>/…``) over :class:`~.kv_store.KVStore`.

================================  ========  ===========================================
path (after the mount)            scope     what
================================  ========  ===========================================
``GET data/P[?version=N]``        read      ``{"data": {"data": …, "metadata": …}}``
``POST|PUT data/P``               write     ``{"data": {…}, "options": {"cas": N}}``
``DELETE data/P``                 write     soft-delete the newest version (204)
``POST delete/P``                 write     soft-delete ``{"versions": […]}`` (204)
``POST undelete/P``               write     undo it (204)
``POST destroy/P``                admin     remove those versions' values (204)
``GET metadata/P``                read      settings and every version's state
``POST|PUT metadata/P``           write     ``max_versions``, ``cas_required``,
                                            ``custom_metadata`` (204)
``DELETE metadata/P``             admin     the secret and every version (204)
``LIST metadata/F``               read      names under folder ``F`` (``GET ?list=true``)
``GET config``                    read      the engine's settings (fixed here)
================================  ========  ===========================================

The scope is checked against ``<mount>/P`` (see :mod:`sealbox.service.vault.auth`).
Every change is written to the audit log with the path and version, never a value.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from sealbox.service.deps import Caller
from sealbox.service.runtime import Runtime
from sealbox.service.vault.auth import kv_allows
from sealbox.service.vault.durations import duration_seconds
from sealbox.service.vault.envelope import vault_response
from sealbox.service.vault.errors import VaultError
from sealbox.service.vault.kv_store import (
    MAX_SECRET_VERSION,
    KVError,
    KVStore,
    SecretNotFoundError,
    check_path,
)
from sealbox.service.vault.text_fields import typed
from sealbox.service.vault.transit import parse_body

__all__ = ["MAX_CUSTOM_METADATA", "kv_route", "single_param"]

MAX_CUSTOM_METADATA: Final = 64
_CUSTOM_REFUSED: Final = "custom_metadata validation failed"
_NO_CONTENT: Final = 204
_VERSION_DIGITS: Final = len(str(MAX_SECRET_VERSION))
_INT64: Final = (-(2**63), 2**63 - 1)
_INT64_DIGITS: Final = 19
# Go's integer text in base 0 after its sign, with the base and the prefix's length:
# `_` only between digits (or after a prefix); a leading 0 makes octal; no spaces.
_GO_FORMS: Final = (
    (re.compile(r"0[xX](?:_?[0-9a-fA-F])+"), 16, 2),
    (re.compile(r"0[oO](?:_?[0-7])+"), 8, 2),
    (re.compile(r"0[bB](?:_?[01])+"), 2, 2),
    (re.compile(r"0(?:_?[0-7])+"), 8, 1),
    (re.compile(r"0|[1-9](?:_?[0-9])*"), 10, 0),
)


class _Call:
    """One KV request: who, where, and the audit record."""

    def __init__(
        self, request: Request, caller: Caller, runtime: Runtime, mount: str, path: str
    ) -> None:
        self.request = request
        self.caller = caller
        self.runtime = runtime
        self.mount = mount
        self.path = path

    @property
    def where(self) -> str:
        return f"{self.mount}/{self.path}"

    def audit(self, event: str, outcome: str, detail: str = "") -> None:
        client = self.request.client
        shown = f"path={self.where}" + (f" {detail}" if detail else "")
        self.runtime.audit.record(
            f"kv.{event}",
            outcome=outcome,
            user=self.caller.username,
            address=client.host if client else "unknown",
            detail=shown,
        )

    def require(self, action: str, event: str, where: str | None = None) -> None:
        if not kv_allows(self.caller.scopes, action, where or self.where):
            self.audit(event, "denied")
            raise VaultError.denied()


def _versions(body: dict[str, Any]) -> list[int]:
    """The ``versions`` of a delete, undelete or destroy; those past the largest a secret
    can have name none, and change nothing (as Vault's do: versions that do not exist).

    Vault reads the field as a comma-separated list of integers: numbers, their decimal
    text (what ``vault kv delete|undelete|destroy -versions=1,2`` sends: ``["1", "2"]``),
    or one text ``"1,2"``; each is taken here too.
    """
    versions = body.get("versions")
    if isinstance(versions, str):
        versions = versions.split(",") if versions.strip() else []
    if not isinstance(versions, list) or not versions:
        raise VaultError(400, "no version number provided")
    numbers = [_version_number(v) for v in versions]
    if not all(v is not None and v > 0 for v in numbers):
        raise VaultError(400, "versions must be positive whole numbers")
    return [v for v in numbers if v is not None]


def _version_number(value: Any) -> int | None:
    """A whole number, or its decimal text; ``None`` for anything else (``true`` too)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            # Past the largest version, the value does not matter (and int() refuses
            # text of more than 4300 digits).
            return int(text) if len(text) <= _VERSION_DIGITS else MAX_SECRET_VERSION + 1
    return None


def _existing(versions: list[int]) -> list[int]:
    # The database's integer column holds no more (PostgreSQL refuses the comparison).
    return [v for v in versions if v <= MAX_SECRET_VERSION]


def single_param(request: Request, name: str) -> str | None:
    """The query parameter ``name``, or ``None``.

    Raises:
        VaultError: 400 when it is given more than once (Vault reads the first, the
            framework the last: either would act on one of two asks).
    """
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise VaultError(400, f"{name} is given more than once")
    return values[0] if values else None


def _version_param(request: Request) -> int:
    """``?version=``: 0 (the newest) when absent, or below 1 (Vault reads the newest
    version for any number that is not positive).

    Raises:
        VaultError: 400 for text that is not a whole number, or a version given twice;
            404 for a number past the largest version a secret can have (there is none
            such).
    """
    text = single_param(request, "version") or "0"
    digits = text.removeprefix("-")
    if not digits.isascii() or not digits.isdigit():
        raise VaultError(400, "version must be a whole number")
    if text.startswith("-"):
        return 0
    if len(text) > _VERSION_DIGITS or int(text) > MAX_SECRET_VERSION:
        raise VaultError.not_found()
    return int(text)


def _metadata_fields(body: dict[str, Any]) -> dict[str, Any]:
    # `vault write MOUNT/metadata/P max_versions=5` sends the number as text.
    body = typed(body, whole=("max_versions",), flags=("cas_required",))
    # Vault's weak decoding of a `null` leaves the field's zero value and counts the
    # field as given: 0 versions, no check-and-set, and custom metadata cleared. (Its
    # duration fields read a `null` as absent: `delete_version_after` below.)
    for name, zero in (("max_versions", 0), ("cas_required", False), ("custom_metadata", {})):
        if name in body and body[name] is None:
            body[name] = zero
    # It reads empty text for a number or a flag the same way (what `vault write
    # MOUNT/metadata/P max_versions=` sends); spaces stay, to be refused, as Vault refuses
    # them, and so does "" for custom_metadata (Vault refuses it too: it is no map).
    for name, zero in (("max_versions", 0), ("cas_required", False)):
        if body.get(name) == "":
            body[name] = zero
    fields: dict[str, Any] = {}
    if "max_versions" in body:
        value = body["max_versions"]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10_000:
            raise VaultError(400, "max_versions must be a whole number from 0 to 10000")
        fields["max_versions"] = value
    if "cas_required" in body:
        if not isinstance(body["cas_required"], bool):
            raise VaultError(400, "cas_required must be true or false")
        fields["cas_required"] = body["cas_required"]
    if "custom_metadata" in body:
        fields["custom_metadata"] = _custom_metadata(body["custom_metadata"])
    if body.get("delete_version_after") is not None:
        try:
            fields["delete_version_after"] = duration_seconds(body["delete_version_after"])
        except ValueError:
            raise VaultError(
                400,
                "delete_version_after must be a duration such as 30m, 1h30m or 768h, "
                "or whole seconds, and not negative",
            ) from None
    return fields


def _custom_metadata(custom: Any) -> dict[str, str]:
    """``custom_metadata`` as Vault takes it: a whole number or a boolean is stored as its
    text (``1``, and ``1``/``0``, as Vault's weak decoding turns them); at most 64 keys,
    and each key and value from 1 to 128 and 512 bytes of UTF-8 (Vault counts a Go
    string's bytes: ``é`` is two), printable throughout, or a 400 in Vault's words (the
    key itself is not repeated)."""
    if not isinstance(custom, dict):
        raise VaultError(400, "custom_metadata must be an object of keys and text values")
    if len(custom) > MAX_CUSTOM_METADATA:
        raise VaultError(
            400,
            f"{_CUSTOM_REFUSED}: payload must contain at most {MAX_CUSTOM_METADATA} keys, "
            f"provided {len(custom)}",
        )
    taken: dict[str, str] = {}
    for name, given in custom.items():
        value = given
        if isinstance(given, bool):
            value = "1" if given else "0"
        elif isinstance(given, int):
            value = str(given)
        if not isinstance(value, str):
            raise VaultError(400, f"{_CUSTOM_REFUSED}: a value must be text")
        # A lone surrogate has no UTF-8: counted as Go would count its replacement, it is
        # refused below as unprintable.
        for what, text, most in (("key", name, 128), ("value", value, 512)):
            size = len(text.encode("utf-8", "surrogatepass"))
            if not 0 < size <= most:
                raise VaultError(
                    400,
                    f"{_CUSTOM_REFUSED}: length of {what} is {size} but must be "
                    f"0 < len({what}) <= {most}",
                )
        for what, text in (("key", name), ("value", value)):
            if not text.isprintable():
                raise VaultError(400, f"{_CUSTOM_REFUSED}: {what} contains unprintable characters")
        taken[name] = value
    return taken


async def kv_route(
    request: Request,
    caller: Caller,
    runtime: Runtime,
    store: KVStore,
    *,
    mount: str,
    method: str,
    parts: list[str],
    raw: bytes,
    listing: bool = False,
) -> Response:
    """Answer one request under a KV mount (``parts``: the path after the mount).

    Raises:
        VaultError: the refusal, in Vault's words.
    """
    try:
        return await _route(
            request,
            caller,
            runtime,
            store,
            mount=mount,
            method=method,
            parts=parts,
            raw=raw,
            listing=listing,
        )
    except SecretNotFoundError as exc:
        if exc.metadata is None:
            raise VaultError.not_found() from None
        # Vault answers a deleted version 404 with its metadata.
        raise VaultError(404, data={"data": None, "metadata": exc.metadata}) from None
    except KVError as exc:
        raise VaultError(400, str(exc)) from None


async def _route(
    request: Request,
    caller: Caller,
    runtime: Runtime,
    store: KVStore,
    *,
    mount: str,
    method: str,
    parts: list[str],
    raw: bytes,
    listing: bool,
) -> Response:
    kind = parts[0] if parts else ""
    rest = "/".join(parts[1:])
    if kind == "config" and len(parts) == 1:
        if method != "GET":
            # The engine's settings are fixed: the path is there, read-only.
            raise VaultError(405, "unsupported operation")
        if not kv_allows(caller.scopes, "read", f"{mount}/"):
            raise VaultError.denied()
        return vault_response(
            {"cas_required": False, "delete_version_after": "0s", "max_versions": 0}
        )
    if kind == "metadata" and listing:
        folder = check_path(rest) if rest.strip("/") else ""
        call = _Call(request, caller, runtime, mount, folder)
        where = f"{mount}/{folder}/" if folder else f"{mount}/"
        call.require("read", "list", where)
        return vault_response({"keys": await store.list_folder(mount, folder)})
    handler = _ROUTES.get((kind, method))
    if handler is None:
        if kind in {k for k, _ in _ROUTES}:
            raise VaultError(405, "unsupported operation")
        raise VaultError(404, f"unsupported path {mount}/{kind}")
    call = _Call(request, caller, runtime, mount, check_path(rest))
    return await handler(call, store, raw)


async def _read(call: _Call, store: KVStore, _raw: bytes) -> Response:
    call.require("read", "read")
    found = await store.read(call.mount, call.path, _version_param(call.request))
    return vault_response({"data": found.data, "metadata": found.metadata})


async def _write(call: _Call, store: KVStore, raw: bytes) -> Response:
    call.require("write", "write")
    body = parse_body(raw)
    data = body.get("data")
    if not isinstance(data, dict):
        raise VaultError(400, "no data provided")
    # Vault decodes `options` into a map: null and an empty list are an empty one.
    options = body.get("options")
    if options is None or options == []:
        options = {}
    if not isinstance(options, dict):
        raise VaultError(400, "options must be an object")
    cas = _cas(options)
    try:
        written = await store.write(call.mount, call.path, data, cas=cas)
    except KVError:
        call.audit("write", "failure", "check-and-set")
        raise
    call.audit("write", "success", f"version={written['version']}")
    return vault_response(written)


def _cas(options: dict[str, Any]) -> int | None:
    """``options.cas`` as Vault reads it (Go's weak decoding into an ``int``): ``None``
    when absent; ``null`` is 0 (the key is given: the write needs a secret with no
    version); a whole number, or its text as Go's ``strconv.ParseInt`` reads it in base
    0 (a sign, ``0x``, ``0o`` or ``0b``, ``_`` between digits), within 64 bits. A
    negative one is taken, and matches no version (Vault compares it as an unsigned
    number), so the write fails its check-and-set.

    Raises:
        VaultError: 400 ``error parsing check-and-set parameter`` for anything else (a
            fraction, ``1.0`` included, text that is no whole number, an object or a
            list), and where Vault's reading would be a guess at the version meant: a
            boolean (Vault: ``true`` is 1, ``false`` 0), empty text (Vault: 0), and
            text of a leading ``0`` and more digits naming 8 or more (Vault reads
            ``"010"`` as octal 8; others would read 10).
    """
    if "cas" not in options:
        return None
    cas = options["cas"]
    if cas is None:
        return 0
    if isinstance(cas, str):
        cas = _go_int(cas)
    if not isinstance(cas, int) or isinstance(cas, bool) or not _INT64[0] <= cas <= _INT64[1]:
        raise VaultError(400, "error parsing check-and-set parameter")
    return cas


def _go_int(text: str) -> int | None:
    """``text`` as Go's ``strconv.ParseInt(text, 0, 64)`` reads it, or ``None`` when it
    does not, or when it is octal by a leading ``0`` and names 8 or more."""
    sign = text[:1] if text[:1] in ("+", "-") else ""
    rest = text[len(sign) :]
    for form, base, prefix in _GO_FORMS:
        if form.fullmatch(rest):
            digits = rest[prefix:].replace("_", "")
            if base == 10 and len(digits) > _INT64_DIGITS:  # past 64 bits (int() limits)
                return None
            value = int(digits, base)
            if prefix == 1 and value >= 8 and sign != "-":
                return None  # "010": Go's octal 8, anyone else's 10
            return -value if sign == "-" else value
    return None


async def _delete_latest(call: _Call, store: KVStore, _raw: bytes) -> Response:
    call.require("write", "delete")
    await store.delete_latest(call.mount, call.path)
    call.audit("delete", "success", "version=latest")
    return Response(status_code=_NO_CONTENT)


async def _delete(call: _Call, store: KVStore, raw: bytes) -> Response:
    call.require("write", "delete")
    versions = _versions(parse_body(raw))
    await store.delete_versions(call.mount, call.path, _existing(versions))
    call.audit("delete", "success", f"versions={','.join(map(str, versions))}")
    return Response(status_code=_NO_CONTENT)


async def _undelete(call: _Call, store: KVStore, raw: bytes) -> Response:
    call.require("write", "undelete")
    versions = _versions(parse_body(raw))
    await store.undelete(call.mount, call.path, _existing(versions))
    call.audit("undelete", "success", f"versions={','.join(map(str, versions))}")
    return Response(status_code=_NO_CONTENT)


async def _destroy(call: _Call, store: KVStore, raw: bytes) -> Response:
    call.require("admin", "destroy")
    versions = _versions(parse_body(raw))
    await store.destroy(call.mount, call.path, _existing(versions))
    call.audit("destroy", "success", f"versions={','.join(map(str, versions))}")
    return Response(status_code=_NO_CONTENT)


async def _metadata(call: _Call, store: KVStore, _raw: bytes) -> Response:
    call.require("read", "metadata")
    return vault_response(await store.metadata(call.mount, call.path))


async def _write_metadata(call: _Call, store: KVStore, raw: bytes) -> Response:
    call.require("write", "metadata")
    fields = _metadata_fields(parse_body(raw))
    await store.write_metadata(call.mount, call.path, **fields)
    shown = " ".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "custom_metadata")
    call.audit("metadata", "success", shown)
    return Response(status_code=_NO_CONTENT)


async def _delete_metadata(call: _Call, store: KVStore, _raw: bytes) -> Response:
    call.require("admin", "delete-metadata")
    await store.delete_all(call.mount, call.path)
    call.audit("delete-metadata", "success")
    return Response(status_code=_NO_CONTENT)


_Handler = Callable[[_Call, KVStore, bytes], Awaitable[Response]]
_ROUTES: Final[dict[tuple[str, str], _Handler]] = {
    ("data", "GET"): _read,
    ("data", "POST"): _write,
    ("data", "PUT"): _write,
    ("data", "DELETE"): _delete_latest,
    ("delete", "POST"): _delete,
    ("delete", "PUT"): _delete,
    ("undelete", "POST"): _undelete,
    ("undelete", "PUT"): _undelete,
    ("destroy", "POST"): _destroy,
    ("destroy", "PUT"): _destroy,
    ("metadata", "GET"): _metadata,
    ("metadata", "POST"): _write_metadata,
    ("metadata", "PUT"): _write_metadata,
    ("metadata", "DELETE"): _delete_metadata,
}
