"""A signing keyset's refusals of a key id carry the code and facts a keyring's carry."""

from __future__ import annotations

import pytest

from sealbox.exceptions import KeyNotFoundError
from sealbox.jwt import SigningKeySet
from sealbox.keysets.keyring import Keyring


@pytest.mark.parametrize("change", ["destroy", "retire", "disable", "enable", "set_primary"])
def test_an_unknown_key_id_carries_its_code_and_the_key_id_as_a_fact(change: str) -> None:
    keys = SigningKeySet.generate()
    with pytest.raises(KeyNotFoundError) as caught:
        getattr(keys, change)("no-such-kid")
    assert caught.value.code == "key_not_found"
    assert caught.value.facts == {"key_id": "no-such-kid"}
    assert str(caught.value) == "no key 'no-such-kid' in this keyset"


def test_the_keyset_and_the_keyring_name_the_missing_key_by_the_same_fact() -> None:
    with pytest.raises(KeyNotFoundError) as in_ring:
        Keyring.generate().disable(1)
    with pytest.raises(KeyNotFoundError) as in_keyset:
        SigningKeySet.generate().disable("1")
    assert in_ring.value.code == in_keyset.value.code
    assert set(in_ring.value.facts) == set(in_keyset.value.facts) == {"key_id"}
