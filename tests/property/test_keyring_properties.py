"""Invariants of the keyring, over generated values and operation sequences."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sealbox.exceptions import DecryptionError, KeyStateError
from sealbox.keysets.fields import decode_token, encode_token, token_key_id
from sealbox.keysets.keyring import Keyring, KeyState

RING = Keyring.generate()
values = st.binary(max_size=512)
aads = st.binary(max_size=64)


@given(values, aads)
def test_open_inverts_seal(data: bytes, aad: bytes) -> None:
    assert RING.open(RING.seal(data, aad), aad) == data


@given(values, aads, aads)
def test_other_associated_data_fails(data: bytes, aad: bytes, other: bytes) -> None:
    if aad != other:
        token = RING.seal(data, aad)
        try:
            RING.open(token, other)
        except DecryptionError:
            return
        raise AssertionError("opened with the wrong associated data")


@given(values.filter(bool), aads)
def test_deterministic_round_trip(data: bytes, aad: bytes) -> None:
    token = RING.seal_deterministic(data, aad)
    assert token == RING.seal_deterministic(data, aad)
    assert RING.open(token, aad) == data


@given(st.binary(max_size=300))
def test_text_form_round_trip(token: bytes) -> None:
    assert decode_token(encode_token(token)) == token


@given(values, aads, st.integers(min_value=0, max_value=10_000))
def test_any_bit_flip_is_detected(data: bytes, aad: bytes, position: int) -> None:
    token = bytearray(RING.seal(data, aad))
    i = position % (len(token) * 8)
    token[i // 8] ^= 1 << (i % 8)
    try:
        RING.open(bytes(token), aad)
    except DecryptionError:
        return
    raise AssertionError("a flipped bit went unnoticed")


class KeyringMachine(RuleBasedStateMachine):
    """Random rotate/disable/enable/destroy/reseal sequences against a simple model."""

    def __init__(self) -> None:
        super().__init__()
        self.ring = Keyring.generate()
        self.tokens: list[tuple[bytes, bytes]] = []  # (token, plaintext)

    @rule(data=values)
    def seal(self, data: bytes) -> None:
        token = self.ring.seal(data)
        assert token_key_id(token) == self.ring.primary_id
        self.tokens.append((token, data))

    @rule()
    def rotate(self) -> None:
        before = {k.id for k in self.ring}
        info = self.ring.rotate()
        assert info.id not in before and self.ring.primary_id == info.id

    @precondition(lambda self: len(self.ring) > 1)
    @rule(i=st.integers(min_value=0))
    def disable(self, i: int) -> None:
        keys = self.ring.keys()
        key = keys[i % len(keys)]
        try:
            self.ring.disable(key.id)
        except KeyStateError:
            assert key.primary or key.state is KeyState.DESTROYED

    @precondition(lambda self: len(self.ring) > 1)
    @rule(i=st.integers(min_value=0))
    def enable(self, i: int) -> None:
        keys = self.ring.keys()
        key = keys[i % len(keys)]
        try:
            self.ring.enable(key.id)
        except KeyStateError:
            assert key.state is KeyState.DESTROYED

    @precondition(lambda self: len(self.ring) > 1)
    @rule(i=st.integers(min_value=0))
    def destroy(self, i: int) -> None:
        keys = self.ring.keys()
        key = keys[i % len(keys)]
        try:
            self.ring.destroy(key.id)
        except KeyStateError:
            assert key.state.usable

    @precondition(lambda self: bool(self.tokens))
    @rule(i=st.integers(min_value=0))
    def reseal(self, i: int) -> None:
        token, data = self.tokens[i % len(self.tokens)]
        state = {k.id: k.state for k in self.ring}[token_key_id(token)]
        try:
            moved = self.ring.reseal(token)
        except DecryptionError:
            assert not state.usable
            return
        assert state.usable
        assert self.ring.open(moved) == data
        assert token_key_id(moved) == self.ring.primary_id

    @invariant()
    def tokens_open_exactly_when_their_key_is_active_or_decrypt_only(self) -> None:
        states = {k.id: k.state for k in self.ring}
        for token, data in self.tokens:
            if states[token_key_id(token)].usable:
                assert self.ring.open(token) == data
            else:
                try:
                    self.ring.open(token)
                except DecryptionError:
                    continue
                raise AssertionError("a disabled or destroyed key opened a token")

    @invariant()
    def the_primary_is_the_one_active_key(self) -> None:
        primaries = [k for k in self.ring if k.primary]
        assert len(primaries) == 1 and primaries[0].state is KeyState.ACTIVE
        assert [k for k in self.ring if k.state is KeyState.ACTIVE] == primaries

    @invariant()
    def survives_serialisation(self) -> None:
        again = Keyring.from_unencrypted(self.ring.serialize_unencrypted())
        assert again.keys() == self.ring.keys()


TestKeyringMachine = KeyringMachine.TestCase
