"""How a transit batch ends over HTTP: its size limit, its audit record, its status.

Shared by the handlers of :mod:`sealbox.service.routes.transit` and the lean batches
of :mod:`sealbox.service.routes.transit_batch`, so both answer and audit alike.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sealbox.service.errors import ApiError, ErrorCode

if TYPE_CHECKING:
    from sealbox.service.routes.transit import TransitCall
    from sealbox.service.runtime import Runtime

__all__ = [
    "batch_code",
    "batch_document",
    "batch_failed_message",
    "batch_items",
    "batch_status",
]


def batch_items(runtime: Runtime, items: Sequence[Any]) -> Sequence[Any]:
    """``items``, refused (413 ``batch_too_large``) when there are more than the limit."""
    if len(items) > runtime.settings.transit_max_batch:
        raise ApiError(
            413,
            ErrorCode.BATCH_TOO_LARGE,
            f"batch_input has more than {runtime.settings.transit_max_batch} items",
        )
    return items


def batch_status(
    call: TransitCall,
    operation: str,
    name: str,
    *,
    count: int,
    failed: int,
    versions: set[int],
    partial_code: int | None,
) -> int:
    """Audit a batch that ran; return its answer's status.

    200 when every item succeeded; when some failed, ``partial_code`` (400 when not
    set); when all failed, 400. An answer of 400 or more carries ``batch_failed``.
    """
    detail = f"key={name} items={count} failed={failed}"
    if versions:
        low, high = min(versions), max(versions)
        detail += f" versions={low}" if low == high else f" versions={low}-{high}"
    if not failed:
        call.audit(operation, "success", detail)
    else:
        call.audit(operation, "partial" if failed < count else "failure", detail)
    return batch_code(count, failed, partial_code)


def batch_code(count: int, failed: int, partial_code: int | None) -> int:
    """A batch's status: 200 when every item succeeded; when some failed,
    ``partial_code`` (400 when not set); when all failed, 400."""
    if not failed:
        return 200
    return (partial_code if failed < count else None) or 400


def batch_document(results: list[Any], failed: int, status: int) -> dict[str, Any]:
    """A batch's answer: its results, with ``batch_failed`` when ``status`` is 400 or more."""
    if status < 400:
        return {"batch_results": results}
    return {
        "error": ErrorCode.BATCH_FAILED.value,
        "message": batch_failed_message(failed, len(results)),
        "batch_results": results,
    }


def batch_failed_message(failed: int, count: int) -> str:
    """The message of a ``batch_failed`` answer."""
    return f"{failed} of {count} items failed"
