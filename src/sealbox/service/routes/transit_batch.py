"""Batches of ``encrypt`` and ``decrypt`` answered without a model or a dict per item.

A batch of a hundred 1 KiB plaintexts is about 140 KB of JSON in and as much out. Run
through the request model, a result dict per item and the serializer, the service
spent more on that bookkeeping than on the base64 and the cipher. Here the body is
parsed once (by pydantic-core's JSON parser, the one model validation uses), checked by
hand against the request model's rules, the items go straight from the parsed lists to
the key through the vectorised base64 codec, and the answer is written as one join of
JSON fragments.

**Same answers.** :func:`lean_body` takes a body only when the request model would
accept it as it is: ASCII, every field known and of the model's type, every
``reference`` within its length, a non-empty ``batch_input`` and no top-level input.
Anything else (a body the model refuses, an empty batch, both an input and a batch,
non-ASCII text) returns ``None``, and the caller runs the model and the handler of
:mod:`sealbox.service.routes.transit`, which answer as they always did. What runs here
keeps that handler's order and words: the scope check, the key read, the batch limit,
each item's refusal (the library's error, with its code and message), the audit record
(:func:`~sealbox.service.routes.transit_outcome.batch_status`) and the answer's status.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, cast

from pydantic_core import from_json, to_json
from starlette.responses import Response

from sealbox.exceptions import SealboxError
from sealbox.service.errors import ErrorCode
from sealbox.service.routes.transit_call import TransitCall
from sealbox.service.routes.transit_models import (
    REFERENCE_MAX_CHARS,
    CiphertextItem,
    DecryptRequest,
    EncryptItem,
    EncryptRequest,
)
from sealbox.service.routes.transit_outcome import (
    batch_failed_message,
    batch_items,
    batch_status,
)
from sealbox.service.transit_errors import wire_code
from sealbox.transit.errors import InvalidRequestError
from sealbox.transit.formats import (
    MAX_VERSION,
    decode_b64,
    decode_quanta_many,
    encode_b64,
    format_versioned,
    peek_version,
    split_version,
)
from sealbox.transit.keys import TransitKey

__all__ = [
    "LEAN_OPERATIONS",
    "decode_all",
    "is_int",
    "json_object",
    "lean_body",
    "newest_version",
    "partial_code_ok",
    "reference_json",
    "reference_ok",
    "split_all",
]

# A batch at most this long, in a body at most this large, runs on the event loop:
# about a millisecond of work (a 1 KiB item costs a few microseconds here), the bound
# the model path keeps with its 64 items. Longer ones run on a worker thread.
_INLINE_ITEMS: Final = 128
_INLINE_BYTES: Final = 256 * 1024

# The fields of each operation's body and items, as the request models name them (a test
# pins them: a field added to a model needs its check in lean_body).
_ITEM_FIELDS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "encrypt": frozenset(EncryptItem.model_fields),
        "decrypt": frozenset(CiphertextItem.model_fields),
    }
)
_TOP_FIELDS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "encrypt": frozenset(EncryptRequest.model_fields),
        "decrypt": frozenset(DecryptRequest.model_fields),
    }
)
_INPUT: Final[Mapping[str, str]] = MappingProxyType(
    {"encrypt": "plaintext", "decrypt": "ciphertext"}
)


def is_int(value: object) -> bool:
    """An int as the model takes it (not a bool: the model's lax mode would decide that one)."""
    return type(value) is int


def reference_ok(value: object) -> bool:
    """A ``reference`` the model takes and :func:`reference_json` writes as its serializer
    does: ``None``, or ASCII text (an escape such as ``\\u00e9`` in an ASCII body is not)
    within the length."""
    return value is None or (
        type(value) is str and len(value) <= REFERENCE_MAX_CHARS and value.isascii()
    )


def partial_code_ok(value: object) -> bool:
    """A ``partial_failure_response_code`` the model takes."""
    # PartialCode: None, or 200-599 but 204, 205 and the redirects.
    if value is None:
        return True
    if not is_int(value):
        return False
    assert isinstance(value, int)
    return 200 <= value <= 599 and value not in (204, 205) and not 300 <= value <= 399


def lean_body(operation: str, raw: bytes) -> dict[str, Any] | None:
    """The parsed batch request ``raw``, or ``None`` when the model must judge it.

    Args:
        operation: ``encrypt`` or ``decrypt`` (:data:`LEAN_OPERATIONS`).
        raw: the request body.
    """
    body = json_object(raw)
    if body is None or not _top_ok(operation, body):
        return None
    return body if _items_ok(operation, body["batch_input"]) else None


def json_object(raw: bytes) -> dict[str, Any] | None:
    """``raw`` parsed, when it is an ASCII JSON object (else ``None``: the model judges it).

    Non-ASCII bytes are left to the model, whose answer writes a reference as it came
    (json.dumps here would escape it: the same JSON, other bytes). Base64 is ASCII.
    """
    if not raw.isascii():
        return None
    try:
        body = from_json(raw, cache_strings=False)
    except ValueError:
        return None
    return body if type(body) is dict else None


def _top_ok(operation: str, body: dict[str, Any]) -> bool:
    """The request's own fields: known, of the model's types, a batch and no single input."""
    items = body.get("batch_input")
    version = body.get("key_version", 0)
    return (
        body.keys() <= _TOP_FIELDS[operation]
        and type(items) is list
        and bool(items)
        # The model path refuses the input beside a batch, even empty, ...
        and body.get(_INPUT[operation]) is None
        # ... any other item's field there but an empty or null one, and a null
        # associated_data (a Base64 text, not optional).
        and type(body.get("associated_data", "")) is str
        and all(body.get(name) in (None, "") for name in _ITEM_FIELDS[operation])
        and partial_code_ok(body.get("partial_failure_response_code"))
        and is_int(version)
        and 0 <= version <= MAX_VERSION
    )


def _items_ok(operation: str, items: list[Any]) -> bool:
    allowed, field = _ITEM_FIELDS[operation], _INPUT[operation]
    for item in items:
        if type(item) is not dict:
            return False
        if len(item) == 1 and type(item.get(field)) is str:
            continue  # the usual item: its input alone
        if not item.keys() <= allowed:
            return False
        value = item.get(field)
        if value is not None and type(value) is not str:
            return False
        if type(item.get("associated_data", "")) is not str:
            return False
        if not reference_ok(item.get("reference")):
            return False
    return True


# -- running the items -------------------------------------------------------------------


class _Tally:
    """A batch's results in input order, its failures and the versions it used.

    The results are ``parts``, fragments that make them when joined with commas, or
    ``pieces``, which make them joined as they are (commas included): the usual batch
    writes those, so that its answer, a few hundred KB, is copied once, not once per
    concatenation.
    """

    __slots__ = ("failed", "parts", "pieces", "versions")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.pieces: list[bytes] | None = None
        self.failed = 0
        self.versions: set[int] = set()

    def refusal(self, exc: SealboxError, reference: str | None) -> bytes:
        """The result of an item the library refused (counted as failed)."""
        code = wire_code(exc)
        if code is None:
            raise exc  # not a refusal of this item: an internal error, as in run_batch
        self.failed += 1
        message = json.dumps(str(exc), ensure_ascii=False)
        return f'{{"error":"{code}","message":{message}{reference_json(reference)}}}'.encode()


def reference_json(reference: str | None) -> str:
    """The answer's ``,"reference":…`` for an ASCII ``reference`` (:func:`reference_ok`),
    the bytes the model path's serializer writes (``""`` without one): that serializer
    itself, since json.dumps escapes DEL (U+007F) where it writes the byte."""
    return "" if reference is None else ',"reference":' + to_json(reference).decode("ascii")


def _associated(item: dict[str, Any]) -> bytes:
    text = item.get("associated_data")
    return decode_b64(text, "associated_data") if text else b""


def decode_all(texts: list[Any]) -> list[bytes] | None:
    """The bytes of every base64 text, or ``None``.

    Decoding is most of a batch's work, so it goes through the vectorised codec in one
    call (:data:`~sealbox.transit.formats.decode_quanta_many`), given only texts of whole
    quanta, where it gives :func:`decode_b64`'s bytes or refuses; and only when it takes
    every one. Anything else returns ``None``: each text then goes through
    :func:`decode_b64`, and its answer stands.
    """
    for text in texts:
        if type(text) is not str or len(text) % 4:
            return None
    try:
        return decode_quanta_many(texts)
    except ValueError:
        return None


def _encrypt_plain(plaintexts: list[bytes], key: TransitKey, version: int, tally: _Tally) -> bool:
    """The usual batch, plaintexts alone: every result written by one join.

    Returns ``False``, having written nothing, when the key refuses an item or all.
    """
    try:
        sealed, used = key.seal_many([(p, b"") for p in plaintexts], version)
    except SealboxError:
        return False
    if not all(type(s) is bytes for s in sealed):
        return False
    # A ciphertext is sealbox:v<N>:<base64>: nothing in it needs escaping. The prefix
    # is written with the fragments around each base64 text, not into it.
    head = b'{"ciphertext":"' + format_versioned(used, b"").encode("ascii")
    tail = f'","key_version":{used}}}'.encode()
    # head, b1, between, b2, …, between, bN, tail
    pieces = [tail + b"," + head] * (2 * len(sealed) + 1)
    pieces[0], pieces[-1] = head, tail
    pieces[1::2] = map(encode_b64, cast("list[bytes]", sealed))
    tally.pieces = pieces
    tally.versions.add(used)
    return True


def _encrypt_items(items: Sequence[dict[str, Any]], key: TransitKey, version: int) -> _Tally:
    """Decode every item, encrypt the ones that decoded in one call, write the results."""
    tally = _Tally()
    decoded = decode_all([item.get("plaintext") for item in items])
    # Each item a plaintext alone (decoded: every item has one).
    if (
        decoded is not None
        and all(len(item) == 1 for item in items)
        and _encrypt_plain(decoded, key, version, tally)
    ):
        return tally
    parts = tally.parts
    pairs: list[tuple[bytes, bytes]] = []
    for index, item in enumerate(items):
        try:
            plaintext = (
                decode_b64(item.get("plaintext"), "plaintext")
                if decoded is None
                else decoded[index]
            )
            pairs.append((plaintext, _associated(item)))
        except SealboxError as exc:
            parts.append(tally.refusal(exc, item.get("reference")))
        else:
            parts.append(b"")  # the item's place, filled in below
    try:
        sealed, used = key.encrypt_many(pairs, version)
    except SealboxError as exc:
        # A version that cannot encrypt refuses every item that got this far.
        refused: SealboxError | None = exc
        sealed, used = [], 0
    else:
        refused = None
    # A ciphertext is sealbox:v<N>:<base64>: nothing in it needs escaping.
    suffix = f'","key_version":{used}'.encode()
    results = iter(sealed)
    for index, item in enumerate(items):
        if parts[index]:
            continue
        result = next(results, None) if refused is None else refused
        reference = item.get("reference")
        if isinstance(result, bytes):
            parts[index] = b'{"ciphertext":"' + result + suffix + reference_json(reference).encode()
            parts[index] += b"}"
            tally.versions.add(used)
        else:
            assert result is not None
            parts[index] = tally.refusal(result, reference)
    return tally


def split_all(ciphertexts: list[Any]) -> list[tuple[int, bytes]] | None:
    """Every ciphertext's version and bytes, as parse_versioned gives them, or ``None``.

    The base64 after the prefixes is decoded in one call (:func:`decode_all`); a text
    without a well-formed prefix, or a batch that decoder leaves, gives ``None``.
    """
    versions, bodies = [], []
    # A batch's ciphertexts mostly share one prefix (sealbox:v<N>:): a text that starts
    # with the last prefix read has its version and its base64 where that one had them.
    prefix: str | None = None
    found: tuple[int, int] | None = None
    for text in ciphertexts:
        if prefix is None or type(text) is not str or not text.startswith(prefix):
            found = split_version(text)
            if found is None:
                return None
            prefix = text[: found[1]]
        assert found is not None
        versions.append(found[0])
        bodies.append(text[found[1] :])
    decoded = decode_all(bodies)
    return None if decoded is None else list(zip(versions, decoded, strict=True))


def newest_version(items: Sequence[dict[str, Any]]) -> int:
    """The highest version the items' ciphertexts name (``0`` when none names one).

    Each text is parsed only when it does not start with the last prefix read, as in
    :func:`split_all`: this runs over every item of a decrypt batch before its key is read.
    """
    newest = 0
    prefix: str | None = None
    for item in items:
        text = item.get("ciphertext")
        if prefix is not None and type(text) is str and text.startswith(prefix):
            continue  # the version of the last prefix, already counted
        found = split_version(text)
        if found is not None:
            prefix = cast("str", text)[: found[1]]  # split_version takes only text
            newest = max(newest, found[0])
    return newest


def _plaintext_json(plaintext: bytes, reference: str | None) -> bytes:
    tail = b'"}' if reference is None else ('"' + reference_json(reference) + "}").encode()
    return b'{"plaintext":"' + encode_b64(plaintext) + tail


def _decrypt_items(items: Sequence[dict[str, Any]], key: TransitKey) -> _Tally:
    tally = _Tally()
    append, read_versions = tally.parts.append, tally.versions
    ciphertexts = [item.get("ciphertext") for item in items]
    split = split_all(ciphertexts)
    opened = None
    if split is not None and all(len(item) == 1 for item in items):
        # The usual batch, ciphertexts alone: no associated data, no reference.
        with contextlib.suppress(SealboxError):  # a type that cannot decrypt: item by item
            opened = key.open_many(split)
    if split is not None and opened is not None:
        for (version, _), plaintext in zip(split, opened, strict=True):
            if isinstance(plaintext, bytes):
                read_versions.add(version)
                append(_plaintext_json(plaintext, None))
            else:
                append(tally.refusal(plaintext, None))
        return tally
    for index, item in enumerate(items):
        ciphertext = ciphertexts[index]
        try:
            if ciphertext is None:
                raise InvalidRequestError("missing ciphertext")
            associated_data = _associated(item)
            if split is None:
                plaintext = key.decrypt(ciphertext, associated_data)
            else:
                plaintext = key.decrypt_parsed(*split[index], associated_data)
        except SealboxError as exc:
            append(tally.refusal(exc, item.get("reference")))
            continue
        read = peek_version(ciphertext)
        if read is not None:
            read_versions.add(read)
        append(_plaintext_json(plaintext, item.get("reference")))
    return tally


async def _run(raw_size: int, items: Sequence[dict[str, Any]], run: Callable[[], _Tally]) -> _Tally:
    if len(items) > _INLINE_ITEMS or raw_size > _INLINE_BYTES:
        return await asyncio.to_thread(run)
    return run()


def _answer(
    call: TransitCall, operation: str, name: str, body: dict[str, Any], tally: _Tally
) -> Response:
    count = len(body["batch_input"])
    status = batch_status(
        call,
        operation,
        name,
        count=count,
        failed=tally.failed,
        versions=tally.versions,
        partial_code=body.get("partial_failure_response_code"),
    )
    if status < 400:
        head = b'{"batch_results":['
    else:
        message = batch_failed_message(tally.failed, count)
        head = f'{{"error":"{ErrorCode.BATCH_FAILED.value}","message":"{message}",'.encode()
        head += b'"batch_results":['
    results = tally.pieces if tally.pieces is not None else [b",".join(tally.parts)]
    return Response(b"".join([head, *results, b"]}"]), status, media_type="application/json")


async def _encrypt(call: TransitCall, name: str, body: dict[str, Any], raw_size: int) -> Response:
    call.authorize("encrypt", name)
    version = body.get("key_version", 0)
    key = await call.key("encrypt", name, version)
    items = batch_items(call.runtime, body["batch_input"])
    tally = await _run(raw_size, items, lambda: _encrypt_items(items, key, version))
    return _answer(call, "encrypt", name, body, tally)


async def _decrypt(call: TransitCall, name: str, body: dict[str, Any], raw_size: int) -> Response:
    call.authorize("decrypt", name)
    items = body["batch_input"]
    key = await call.key("decrypt", name, newest_version(items))
    items = batch_items(call.runtime, items)
    tally = await _run(raw_size, items, lambda: _decrypt_items(items, key))
    return _answer(call, "decrypt", name, body, tally)


LEAN_OPERATIONS: Final[
    Mapping[str, Callable[[TransitCall, str, dict[str, Any], int], Awaitable[Response]]]
] = MappingProxyType({"encrypt": _encrypt, "decrypt": _decrypt})
"""The operations whose batches this module answers: ``handler(call, name, body, size)``
with the body :func:`lean_body` gave and the raw body's size in bytes."""
