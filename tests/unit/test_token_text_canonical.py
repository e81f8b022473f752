"""A sealed token's text form has one spelling: other spellings of the same bytes are refused.

Base64 leaves unused bits in a last character of 2 or 3 (2 or 4 bits); a decoder that
ignores them opens up to 15 other texts of one token, and a denylist of revoked tokens
kept as text (cookies, API tokens) could be walked around with them.
"""

from __future__ import annotations

import pytest

from sealbox import Keyring
from sealbox.exceptions import DecryptionError
from sealbox.keysets.fields import decode_token, encode_token

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _other_spellings(text: str) -> list[str]:
    """The texts that differ from ``text`` only in the unused bits of its last character:
    a lenient decoder reads each as the same bytes."""
    unused = {2: 4, 3: 2}[len(text) % 4]
    used = _ALPHABET.index(text[-1]) >> unused
    return [text[:-1] + c for i, c in enumerate(_ALPHABET) if c != text[-1] and i >> unused == used]


@pytest.mark.parametrize("size", [1, 2, 4, 5, 16])
def test_other_spellings_of_a_text_token_do_not_open(size: int) -> None:
    ring = Keyring.generate()
    value = b"v" * size
    text = ring.seal_text(value, b"ad")  # 33 + size bytes: size % 3 != 0 leaves unused bits
    assert ring.open_text(text, b"ad") == value
    others = _other_spellings(text)
    assert len(others) in (3, 15)
    for other in others:
        with pytest.raises(DecryptionError):
            ring.open_text(other, b"ad")
        with pytest.raises(DecryptionError):
            decode_token(other)


def test_other_spellings_of_a_deterministic_token_do_not_open() -> None:
    ring = Keyring.generate()
    # 0x02 | id (4) | SIV (16) | 2 bytes = 23 bytes: a last character with 2 unused bits.
    text = encode_token(ring.seal_deterministic(b"ab", b"users.email"))
    assert len(text) % 4 == 3
    assert ring.open_text(text, b"users.email") == b"ab"
    for other in _other_spellings(text):
        with pytest.raises(DecryptionError):
            ring.open_text(other, b"users.email")


def test_open_on_the_command_line_refuses_another_spelling(cli, tmp_path) -> None:
    env = {"SEALBOX_PASSPHRASE": "canary-canonical-text-7d41"}
    keyring = tmp_path / "app.keyring"
    assert cli(["keyring", "create", keyring], env=env).code == 0
    # 33 + 1 bytes: 46 characters, the last holding 4 unused bits.
    token = cli(["seal", "-K", keyring], input=b"x", env=env).out.strip()
    assert len(token) % 4 == 2
    assert cli(["open", "-K", keyring], input=token.encode(), env=env).stdout == b"x"
    other = _other_spellings(token)[0]
    r = cli(["open", "-K", keyring], input=other.encode(), env=env)
    assert r.code == 1 and r.stdout == b""
    # Damaged at its end, as a token cut short often is: said so, as for a wrong tag.
    assert r.stderr.startswith("sealbox: error: decryption failed: the token was altered")


def test_a_token_cut_short_on_the_command_line_is_said_to_be_damaged(cli, tmp_path) -> None:
    # A keyring saved to an age identity: each of the 60 commands opens it without the
    # passphrase's Argon2id (what a cut token is said to be does not depend on it).
    identity = tmp_path / "key.txt"
    recipient = cli(["keygen", "-o", identity]).stderr.strip().removeprefix("Public key: ")
    keyring = tmp_path / "app.keyring"
    assert cli(["keyring", "create", keyring, "-r", recipient]).code == 0
    for size in range(1, 13):
        token = cli(["seal", "-K", keyring, "-i", identity], input=b"v" * size).out.strip()
        for cut in (2, 3, 4, 5):
            short = token[:-cut]
            r = cli(["open", "-K", keyring, "-i", identity], input=short.encode())
            assert r.code == 1 and r.stdout == b""
            said = r.stderr.splitlines()[0]
            if len(short) % 4 == 1:  # no base64 text has that length
                assert said.endswith("is not a sealbox token, or it was cut short")
            else:
                assert said.startswith("sealbox: error: decryption failed: the token was altered")
