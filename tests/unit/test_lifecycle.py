"""The one vocabulary of key states, and the older words files still hold."""

from __future__ import annotations

import pytest

from sealbox.exceptions import FormatError
from sealbox.keysets.lifecycle import KeyState


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("active", KeyState.ACTIVE),
        ("decrypt-only", KeyState.DECRYPT_ONLY),
        ("disabled", KeyState.DISABLED),
        ("destroyed", KeyState.DESTROYED),
        ("enabled", KeyState.ACTIVE),
        ("retired", KeyState.DESTROYED),
        ("decrypt_only", KeyState.DECRYPT_ONLY),
    ],
)
def test_each_word_files_hold_reads_as_its_state(word: str, state: KeyState) -> None:
    assert KeyState.parse(word) is state


def test_an_unknown_state_is_refused_with_the_words_expected() -> None:
    with pytest.raises(
        FormatError, match=r"keys\[2\]\.state: unknown key state 'on' \(expected active"
    ):
        KeyState.parse("on", "keys[2].state")


def test_only_active_and_decrypt_only_keys_open_anything() -> None:
    assert [s for s in KeyState if s.usable] == [KeyState.ACTIVE, KeyState.DECRYPT_ONLY]
