"""A single ``encrypt`` or ``decrypt`` answered without the request model, a result dict
or a ``Response``.

With Starlette's stack out of the way (:mod:`sealbox.service.routes.transit_entry`),
what is left of a 1 KiB encrypt is mostly bookkeeping around a few microseconds of
cryptography: validating the body into a model, a result dict, the serializer, a
``Response`` and its header objects. Here the body is parsed once (by pydantic-core's
JSON parser, the one model validation uses), checked by hand against the request
model's rules (those of :mod:`sealbox.service.routes.transit_batch`), and the answer is
written as bytes. The base64 of a plaintext or a ciphertext is decoded as the batches
decode it (:func:`~sealbox.service.routes.transit_batch.decode_all`: the vectorised
codec where it gives the bytes :func:`~sealbox.transit.formats.decode_b64` gives).

**Same answers.** :func:`single_body` takes a body only when the request model would
accept it as it is and the answer can be written byte for byte as the model path's
serializer writes it: ASCII, every field known and of the model's type, the input
given (``plaintext`` or ``ciphertext``), no batch, an ASCII ``reference`` within its
length. Anything else returns ``None`` and goes to the request model and the handler
of :mod:`sealbox.service.routes.transit`, which answer as they always did. What runs
here keeps that handler's order and words: the scope check, the key read, the
decoding, the library's refusal (audited by :meth:`TransitCall.failed
<sealbox.service.routes.transit_call.TransitCall.failed>`), the audit record and its
detail.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from sealbox.exceptions import SealboxError
from sealbox.service.routes.transit_batch import (
    decode_all,
    is_int,
    json_object,
    partial_code_ok,
    reference_json,
    reference_ok,
    split_all,
)
from sealbox.service.routes.transit_call import TransitCall
from sealbox.service.routes.transit_models import DecryptRequest, EncryptRequest
from sealbox.transit.formats import MAX_VERSION, decode_b64, encode_b64, peek_version

__all__ = ["SINGLE_OPERATIONS", "single_body"]

# The fields of each operation's body, as the request models name them (a test pins
# them: a field added to a model needs its check here).
_FIELDS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "encrypt": frozenset(EncryptRequest.model_fields),
        "decrypt": frozenset(DecryptRequest.model_fields),
    }
)
_INPUT: Final[Mapping[str, str]] = MappingProxyType(
    {"encrypt": "plaintext", "decrypt": "ciphertext"}
)


def single_body(operation: str, raw: bytes) -> dict[str, Any] | None:
    """The parsed single-input request ``raw``, or ``None`` when the model must judge it.

    Args:
        operation: ``encrypt`` or ``decrypt`` (:data:`SINGLE_OPERATIONS`).
        raw: the request body.
    """
    body = json_object(raw)
    if body is None or not body.keys() <= _FIELDS[operation]:
        return None
    version = body.get("key_version", 0)
    ok = (
        type(body.get(_INPUT[operation])) is str
        and body.get("batch_input") is None
        and type(body.get("associated_data", "")) is str
        and reference_ok(body.get("reference"))
        and partial_code_ok(body.get("partial_failure_response_code"))
        and is_int(version)
        and 0 <= version <= MAX_VERSION
    )
    return body if ok else None


def _answer(head: bytes, body: dict[str, Any]) -> bytes:
    reference = body.get("reference")
    return head + (b"}" if reference is None else (reference_json(reference) + "}").encode())


async def _encrypt(call: TransitCall, name: str, body: dict[str, Any]) -> bytes:
    # The handler's steps (routes.transit._encrypt and _operate), in its order.
    call.authorize("encrypt", name)
    version = body.get("key_version", 0)
    key = await call.key("encrypt", name, version)
    text = body["plaintext"]
    decoded = decode_all([text])  # faster than decode_b64, the same bytes (or None)
    try:
        plaintext = decode_b64(text, "plaintext") if decoded is None else decoded[0]
        associated_data = decode_b64(body.get("associated_data", ""), "associated_data")
        ciphertext, used = key.encrypt(plaintext, associated_data, version)
    except SealboxError as exc:
        raise call.failed("encrypt", name, exc) from None
    call.audit("encrypt", "success", f"key={name} version={used}")
    # A ciphertext is sealbox:v<N>:<base64>: nothing in it needs escaping.
    return _answer(f'{{"ciphertext":"{ciphertext}","key_version":{used}'.encode(), body)


async def _decrypt(call: TransitCall, name: str, body: dict[str, Any]) -> bytes:
    # The handler's steps (routes.transit._decrypt and _operate), in its order.
    call.authorize("decrypt", name)
    ciphertext = body["ciphertext"]
    read = peek_version(ciphertext)
    key = await call.key("decrypt", name, read or 0)
    split = split_all([ciphertext])  # the version and bytes key.decrypt would read, or None
    try:
        associated_data = decode_b64(body.get("associated_data", ""), "associated_data")
        if split is None:
            plaintext = key.decrypt(ciphertext, associated_data)
        else:
            plaintext = key.decrypt_parsed(*split[0], associated_data)
    except SealboxError as exc:
        raise call.failed("decrypt", name, exc) from None
    call.audit(
        "decrypt", "success", f"key={name}" if read is None else f"key={name} version={read}"
    )
    return _answer(b'{"plaintext":"' + encode_b64(plaintext) + b'"', body)


SINGLE_OPERATIONS: Final[
    Mapping[str, Callable[[TransitCall, str, dict[str, Any]], Awaitable[bytes]]]
] = MappingProxyType({"encrypt": _encrypt, "decrypt": _decrypt})
"""The operations whose single inputs this module answers: ``handler(call, name, body)``
with the body :func:`single_body` gave; it returns the body of the 200 answer (JSON)."""
