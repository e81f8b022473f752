"""JSON objects read strictly: a member given twice is refused, not read by its last value.

Parsers disagree on which of two same-named members counts (Python's ``json`` takes the
last), so a document that gives one twice may say one thing to sealbox and another to
whoever else reads it. ``json.loads(text, object_pairs_hook=unique_members)`` refuses it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DuplicateMemberError", "unique_members"]


class DuplicateMemberError(ValueError):
    """A JSON object gives the member ``name`` more than once."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The object of ``pairs``, refused when a name comes twice (an ``object_pairs_hook``).

    Raises:
        DuplicateMemberError: the first name given twice.
    """
    members = dict(pairs)
    if len(members) != len(pairs):
        seen: set[str] = set()
        for name, _value in pairs:
            if name in seen:
                raise DuplicateMemberError(name)
            seen.add(name)
    return members
