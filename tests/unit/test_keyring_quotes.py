"""A keyring document's unknown algorithm or state is quoted only when it is a short name:
a value from inside a sealed document may be long, secret-looking or terminal escapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sealbox.exceptions import FormatError, UnsupportedAlgorithmError
from sealbox.hazmat import kdf
from sealbox.keysets.keyring import Keyring
from sealbox.keysets.keyring_file import new_entry, passphrase_sealer

PASS = "quotes passphrase"
STATES = "expected active, decrypt-only, disabled, destroyed"
LONG = "A" * 41
SECRET_LOOKING = "sk_live_" + "9" * 60
ESCAPES = "\x1b]0;owned\x07aes"
UNQUOTED = [LONG, SECRET_LOOKING, ESCAPES, "aes 256", "", 7, None, ["aes-256-gcm"]]


def _document(**changes: object) -> bytes:
    doc = json.loads(Keyring.generate().serialize_unencrypted())
    doc["keys"][0].update(changes)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("value", UNQUOTED)
def test_an_unknown_algorithm_that_is_no_short_name_is_not_quoted(value: object):
    with pytest.raises(UnsupportedAlgorithmError) as info:
        Keyring.from_unencrypted(_document(algorithm=value))
    assert str(info.value) == "keys[0]: an unknown algorithm"
    assert info.value.facts == {}


@pytest.mark.parametrize("value", UNQUOTED)
def test_an_unknown_state_that_is_no_short_name_is_not_quoted(value: object):
    with pytest.raises(FormatError) as info:
        Keyring.from_unencrypted(_document(state=value))
    assert str(info.value) == f"keys[0].state: an unknown key state ({STATES})"


@pytest.mark.parametrize("value", ["des", "aes-128.gcm_v2", "X" * 40])
def test_a_short_name_is_still_quoted_with_its_fact(value: str):
    with pytest.raises(UnsupportedAlgorithmError) as info:
        Keyring.from_unencrypted(_document(algorithm=value))
    assert str(info.value) == f"keys[0]: unknown algorithm {value!r}"
    assert info.value.facts == {"algorithm": value}
    with pytest.raises(FormatError) as state:
        Keyring.from_unencrypted(_document(state=value))
    assert str(state.value) == f"keys[0].state: unknown key state {value!r} ({STATES})"


def test_a_sealed_keyring_holding_a_long_algorithm_does_not_quote_it():
    sealed = passphrase_sealer(PASS, kdf_params=kdf.ARGON2ID_TEST).seal(
        _document(algorithm=SECRET_LOOKING)
    )
    with pytest.raises(UnsupportedAlgorithmError) as info:
        Keyring.decrypt(sealed, PASS)
    assert SECRET_LOOKING[:12] not in str(info.value)
    assert info.value.facts == {}


@pytest.mark.parametrize("value", [LONG, ESCAPES])
def test_a_new_key_of_an_unknown_algorithm_is_named_only_when_a_short_name(value: str):
    with pytest.raises(UnsupportedAlgorithmError) as info:
        new_entry(value, (), None)
    assert str(info.value).startswith("an unknown algorithm (supported: aes-256-gcm")
    assert info.value.facts == {}
    with pytest.raises(UnsupportedAlgorithmError) as named:
        new_entry("des", (), None)
    assert str(named.value).startswith("unknown algorithm 'des' (supported: ")
    assert named.value.facts == {"algorithm": "des"}


def test_the_command_line_shows_no_escape_from_a_sealed_keyring(cli, tmp_path: Path):
    path = tmp_path / "app.keyring"
    path.write_bytes(
        passphrase_sealer(PASS, kdf_params=kdf.ARGON2ID_TEST).seal(_document(state=ESCAPES))
    )
    result = cli(["keyring", "list", path], env={"SEALBOX_PASSPHRASE": PASS})
    assert result.code == 1
    first = result.stderr.splitlines()[0]
    assert (
        first == f"sealbox: error: keyring {path}: keys[0].state: an unknown key state ({STATES})"
    )
    assert "owned" not in result.stderr
