"""Batches: one operation over many inputs, each item succeeding or failing on its own.

An operation takes one input, or a ``batch_input`` list answered by ``batch_results``
in the same order. An item that fails does not stop the others: its result is
``{"error": CODE, "message": TEXT}`` (the stable code of the library error, and its
message), and ``reference``, when the item had one, is echoed in every result.
How a batch with failures is answered over HTTP is the service's business.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sealbox.exceptions import SealboxError

__all__ = ["FROM_VERSION", "BatchOutcome", "item_versions", "run_batch"]

FROM_VERSION: Final = "_from"
"""A result's private entry: the key version of its input (taken out by :func:`item_versions`)."""


def item_versions(result: dict[str, Any]) -> tuple[int | None, int | None]:
    """Take the input's version out of ``result``; return the version the result was
    made with (``key_version``) and the input's."""
    return result.get("key_version"), result.pop(FROM_VERSION, None)


@dataclass(slots=True)
class BatchOutcome:
    """What a batch did: every item's result in input order, and a tally."""

    results: list[dict[str, Any]] = field(default_factory=list)
    failed: int = 0
    versions: set[int] = field(default_factory=set)
    """Every key version an item used or read."""

    @property
    def partial(self) -> bool:
        """Some items failed, not all."""
        return 0 < self.failed < len(self.results)


def _own_code(exc: SealboxError) -> str | None:
    return exc.code


def run_batch(
    items: Sequence[Any],
    one: Callable[[Any], dict[str, Any]],
    *,
    code_of: Callable[[SealboxError], str | None] = _own_code,
) -> BatchOutcome:
    """Run ``one`` on every item (each with an optional ``reference`` attribute).

    Args:
        items: the inputs.
        one: the operation on one input; raises a library error to refuse it.
        code_of: the code an item's error is reported with; ``None`` means the error is
            not a refusal of that item (an internal error) and it is raised.
    """
    outcome = BatchOutcome()
    results, versions = outcome.results, outcome.versions
    append, add = results.append, versions.add
    # The loop is item_versions() written out: it runs for every item of every batch.
    for item in items:
        try:
            out = one(item)
        except SealboxError as exc:
            code = code_of(exc)
            if code is None:
                raise
            out = {"error": code, "message": str(exc)}
            outcome.failed += 1
        made, source = out.get("key_version"), out.pop(FROM_VERSION, None)
        if made is not None:
            add(made)
        if source is not None:
            add(source)
        reference = getattr(item, "reference", None)
        if reference is not None:
            out["reference"] = reference
        append(out)
    return outcome
