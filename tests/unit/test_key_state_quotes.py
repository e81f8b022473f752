"""KeyState.parse names an unknown state only when it is a short word: the text comes from
inside a file (a JWT keyset, sealed or not) or a request, and may be anything."""

from __future__ import annotations

from typing import Any

import pytest

from sealbox.exceptions import FormatError
from sealbox.keysets.lifecycle import KeyState


def test_a_short_unknown_state_is_named() -> None:
    with pytest.raises(FormatError, match="unknown key state 'paused'"):
        KeyState.parse("paused")


@pytest.mark.parametrize(
    "value",
    ["s" * 41, "AGE-SECRET-KEY-1" + "Q" * 58, "\x1b[31mred\x1b[0m", "two words", ""],
)
def test_a_long_or_odd_state_is_never_quoted(value: str) -> None:
    with pytest.raises(FormatError) as caught:
        KeyState.parse(value, "keys[0].state")
    message = str(caught.value)
    assert message.startswith("keys[0].state: unknown key state (expected active")
    assert not value or value not in message
    assert "\x1b" not in message


@pytest.mark.parametrize("value", [["active"], {"a": 1}, 3])
def test_a_state_that_is_not_text_is_a_format_error(value: Any) -> None:
    with pytest.raises(FormatError, match="unknown key state \\(expected"):
        KeyState.parse(value)


def test_old_spellings_still_read() -> None:
    assert KeyState.parse("enabled") is KeyState.ACTIVE
    assert KeyState.parse("retired") is KeyState.DESTROYED
