"""Vault's duration fields: what ``delete_version_after`` takes and how it is shown.

Vault reads a duration field (its ``TypeDurationSecond``) as whole seconds: a JSON
integer, its decimal text, text ending in ``d`` (whole days), or a Go duration
(``30m``, ``1h30m``, ``768h``, ``1.5h``, ``90s``; units ``ns``, ``us``, ``µs``, ``ms``,
``s``, ``m``, ``h``), cut to whole seconds; ``""`` is 0 and a negative one is refused.
A JSON number with a fraction (``1.0`` too) is refused, as Vault refuses it: its
decoder keeps the number's text, which is neither an integer nor a Go duration. An
answer shows the seconds as Go prints a duration: ``0s``, ``45s``, ``30m0s``,
``1h30m0s``.

May import: the standard library only.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Final

__all__ = ["MAX_DURATION_SECONDS", "duration_seconds", "go_duration"]

MAX_DURATION_SECONDS: Final = (2**63 - 1) // 10**9
"""The longest duration, in seconds: Go's ``time.Duration`` counts nanoseconds in an int64."""

# Go's time.ParseDuration: a sign, then numbers (a fraction allowed) each with its unit.
_GO_DURATION: Final = re.compile(
    r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+"
)
_PART: Final = re.compile(r"([0-9]*\.?[0-9]*)(ns|us|µs|μs|ms|s|m|h)")
_NANOSECONDS: Final = {
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "μs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_INTEGER: Final = re.compile(r"[+-]?[0-9]+")


def duration_seconds(value: Any) -> int:
    """``value`` as Vault reads a duration field, in whole seconds.

    Raises:
        ValueError: not a duration Vault takes, negative, or longer than
            :data:`MAX_DURATION_SECONDS`.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str):
        seconds = _text_seconds(value)
    else:
        # A JSON number with a fraction, a boolean, a list: Vault refuses them too.
        raise ValueError("not a duration")  # noqa: TRY004 - a refused input, as the others
    if seconds < 0:
        raise ValueError("a negative duration")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError("too long a duration")
    return seconds


def _text_seconds(text: str) -> int:
    """Whole seconds of a duration given as text (see the module docstring)."""
    if text == "":
        return 0
    if _INTEGER.fullmatch(text):
        return int(text)
    if text.endswith("d") and _INTEGER.fullmatch(text[:-1]):
        return int(text[:-1]) * 86_400
    if _GO_DURATION.fullmatch(text):
        return _go_seconds(text)
    raise ValueError("not a duration")


def _go_seconds(text: str) -> int:
    """Whole seconds of a Go duration that matched :data:`_GO_DURATION` (cut toward 0)."""
    sign = -1 if text.startswith("-") else 1
    total = Decimal(0)
    for number, unit in _PART.findall(text.lstrip("+-")):
        total += Decimal(number) * _NANOSECONDS[unit]
    if total > (2**63 - 1):
        raise ValueError("too long a duration")
    return sign * int(total // 10**9)


def go_duration(seconds: int) -> str:
    """``seconds`` as Go prints a ``time.Duration`` of whole seconds (``1h30m0s``)."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
