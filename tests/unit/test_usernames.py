"""sealbox.accounts.usernames: RFC 8265 canonical forms and UTS #39 skeletons."""

from __future__ import annotations

import unicodedata

import pytest

from sealbox.accounts.usernames import (
    UsernameError,
    canonical_username,
    confusables_version,
    lookup_key,
    skeleton,
)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("alice", "alice"),
        ("Alice", "alice"),
        ("\uff21\uff2c\uff29\uff23\uff25", "alice"),  # fullwidth: width-mapped
        ("A\u030angstr\u00f6m", "\u00e5ngstr\u00f6m"),  # NFC
        ("名前", "名前"),
        ("o'brien", "o'brien"),
    ],
)
def test_canonical_forms(given: str, canonical: str) -> None:
    assert canonical_username(given) == canonical


@pytest.mark.parametrize(
    ("given", "reason", "code_point"),
    [
        ("alice ", "spaces", "U+0020"),
        ("al\u200bice", "precis_ignorable_properties", "U+200B"),
        ("\u202ealice", "precis_ignorable_properties", "U+202E"),
        ("\ufeffalice", "precis_ignorable_properties", "U+FEFF"),
        ("tab\tname", "controls", "U+0009"),
        ("", "empty", ""),
    ],
)
def test_refused_names_say_which_character(given: str, reason: str, code_point: str) -> None:
    with pytest.raises(UsernameError) as info:
        canonical_username(given)
    assert info.value.reason == reason
    assert code_point in str(info.value)
    assert lookup_key(given) is None


def test_names_past_150_characters_are_refused() -> None:
    assert canonical_username("x" * 150) == "x" * 150
    with pytest.raises(UsernameError, match="longer than 150"):
        canonical_username("x" * 151)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("alice", "\u0430lice"),
        ("paypal", "p\u0430yp\u0430l"),
        ("m", "rn"),
        ("l", "1"),
        ("o", "\u03bf"),
    ],
)
def test_look_alikes_share_a_skeleton(a: str, b: str) -> None:
    assert skeleton(canonical_username(a)) == skeleton(canonical_username(b))


def test_different_names_have_different_skeletons() -> None:
    assert skeleton("alice") != skeleton("alina")
    assert skeleton("bob") != skeleton("rob")


def test_the_confusables_mapping_is_as_new_as_pythons_unicode_database() -> None:
    # Characters newer than the mapping would have no prototype: their look-alikes
    # would pass. Python 3.14 has Unicode 16; refresh the data before it falls behind.
    def version(text: str) -> tuple[int, ...]:
        return tuple(int(x) for x in text.split("."))

    assert version(confusables_version()) >= version(unicodedata.unidata_version)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ol", "o\u04cf"),  # CYRILLIC SMALL LETTER PALOCHKA: mapped to l since Unicode 14's data
        ("cafe", "caf\u0435"),  # CYRILLIC SMALL LETTER IE
    ],
)
def test_look_alikes_of_the_current_mapping(a: str, b: str) -> None:
    assert skeleton(canonical_username(a)) == skeleton(canonical_username(b))
