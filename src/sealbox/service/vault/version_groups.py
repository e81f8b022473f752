"""Vault batches whose items ask for different key versions: one native batch per version.

Vault reads an ``encrypt`` or ``rewrap`` batch's ``key_version`` from each item (the
request's own is not read beside a batch), so one batch may encrypt item 1 with version 2
and item 2 with the newest. sealbox's own routes take one version per batch. Such a batch
is split by version (each part keeps its items' input order), each part runs through the
native handler — its scope check, key read and audit record, as a batch of its own — and
the parts' results are put back in input order. The answer's status is the whole batch's,
as for one batch: 200 when no item failed, 400 when all did, and otherwise
``partial_failure_response_code`` (400 when it is not set). The batch limit
(``SEALBOX_TRANSIT_MAX_BATCH``) counts the whole batch.

May import what :mod:`sealbox.service.vault` may.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from sealbox.service.routes.transit_outcome import batch_code, batch_document, batch_items
from sealbox.service.vault.errors import VaultError, validation_messages

__all__ = ["VersionGroups", "item_versions", "run_groups"]

# (version, the indices of its items in the batch), in order of first appearance.
VersionGroups = list[tuple[Any, list[int]]]


def item_versions(body: dict[str, Any]) -> VersionGroups | None:
    """Take each item's ``key_version`` out of a batch ``body``.

    One version shared by every item becomes the batch's ``key_version`` (``None`` is
    returned); items asking for different ones give their groups, for :func:`run_groups`.
    """
    body.pop("key_version", None)
    asked = [
        item.pop("key_version", 0) if isinstance(item, dict) else 0 for item in body["batch_input"]
    ]
    groups: dict[str, tuple[Any, list[int]]] = {}
    for index, version in enumerate(asked):
        # repr: 1 and True are different versions to the model, which judges each.
        groups.setdefault(repr(version), (version, []))[1].append(index)
    if len(groups) > 1:
        return list(groups.values())
    if asked and asked[0] != 0:
        body["key_version"] = asked[0]
    return None


def _in_batch(exc: ValidationError, indices: list[int]) -> list[dict[str, Any]]:
    """A part's validation errors, placed in the whole batch: an item's index is its
    index in the request, and the part's ``key_version`` is its first item's."""
    errors = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        if loc[:1] == ("batch_input",) and len(loc) > 1 and isinstance(loc[1], int):
            loc = ("batch_input", indices[loc[1]], *loc[2:])
        elif loc[:1] == ("key_version",):
            loc = ("batch_input", indices[0], *loc)
        errors.append({**err, "loc": loc})
    return errors


async def run_groups(
    groups: VersionGroups,
    body: dict[str, Any],
    model: type[BaseModel],
    handler: Callable[[Any], Awaitable[Response]],
    runtime: Any,
) -> Response:
    """Run each group of ``body``'s batch with ``handler`` and answer for the whole batch
    as the native handler answers one (every part is validated before any runs).

    Raises:
        VaultError: 400 when a part's body is not one ``model`` takes (its messages name
            the items by their place in the request).
        ApiError: the batch is too large, or a part was refused as a whole.
    """
    items: Sequence[Any] = batch_items(runtime, body["batch_input"])
    parts = []
    for version, indices in groups:
        part = {**body, "key_version": version, "batch_input": [items[i] for i in indices]}
        try:
            parts.append((indices, model.model_validate(part)))
        except ValidationError as exc:
            raise VaultError(400, *validation_messages(_in_batch(exc, indices))) from None
    results: list[Any] = [None] * len(items)
    for indices, parsed in parts:
        answer = json.loads(bytes((await handler(parsed)).body))
        for index, result in zip(indices, answer["batch_results"], strict=True):
            results[index] = result
    failed = sum(1 for result in results if "error" in result)
    status = batch_code(len(results), failed, body.get("partial_failure_response_code"))
    content = batch_document(results, failed, status)
    return Response(json.dumps(content).encode(), status, media_type="application/json")
