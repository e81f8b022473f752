"""An identity file's bad line keeps its error's code and facts, gains its line number,
and never quotes the line (it may hold a secret key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealbox import age
from sealbox.exceptions import KeyFormatError, UnsupportedAlgorithmError

RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"


def test_a_recipient_line_keeps_its_code_and_gains_the_line_as_a_fact():
    with pytest.raises(KeyFormatError) as info:
        age.parse_identities(f"# keys\n{RECIPIENT}\n".encode(), source="key.pub")
    assert str(info.value) == "key.pub line 2: a recipient (a public key) was given as an identity"
    assert info.value.code == "recipient_as_identity"
    assert info.value.facts == {"line": "2"}
    assert info.value.hint == "give the private key file it was made from"


def test_the_code_is_the_one_parse_identity_gives():
    with pytest.raises(KeyFormatError) as single:
        age.parse_identity(RECIPIENT)
    with pytest.raises(KeyFormatError) as in_file:
        age.parse_identities(f"{RECIPIENT}\n".encode())
    assert in_file.value.code == single.value.code == "recipient_as_identity"


def test_a_plugin_line_keeps_its_class_and_code():
    with pytest.raises(UnsupportedAlgorithmError) as info:
        age.parse_identities(b"\n\nAGE-PLUGIN-YUBIKEY-1QQQQQQ\n")
    assert info.value.code == "unsupported_algorithm"
    assert info.value.facts == {"line": "3"}
    assert "line 3" in str(info.value)


def test_a_damaged_secret_key_line_is_in_no_message_or_fact():
    me = age.X25519Identity.generate().expose_secret()
    damaged = me[:-1] + ("Q" if me[-1] != "Q" else "P")  # a bad checksum
    with pytest.raises(KeyFormatError) as info:
        age.parse_identities(f"# mine\n{damaged}\n".encode())
    assert info.value.facts == {"line": "2"}
    shown = " ".join(
        [str(info.value), repr(info.value), str(info.value.hint), *info.value.facts.values()]
    )
    for secret in (damaged, me, damaged[20:40], damaged[20:40].lower()):
        assert secret not in shown


def test_decrypt_with_a_public_key_file_says_so_with_the_hint(cli, tmp_path: Path):
    me = age.X25519Identity.generate()
    sealed = tmp_path / "a.age"
    sealed.write_bytes(age.encrypt(b"x", [me.recipient()]))
    pub = tmp_path / "key.pub"
    pub.write_text(f"{me.recipient()}\n")
    result = cli(["decrypt", "-i", pub, sealed])
    assert result.code == 1
    assert result.stderr == (
        f"sealbox: error: identity file {pub} line 1: a recipient (a public key) was "
        "given as an identity\nsealbox: hint: give the private key file it was made from\n"
    )
