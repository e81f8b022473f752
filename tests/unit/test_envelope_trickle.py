"""EnvelopeReader over a pipe-like source that gives a few bytes per read.

The header is read with a look-ahead of its longest possible size: a source that
delivers it in small pieces must still be read until the header is whole (or the
input ends), and a header cut short is a FormatError saying so.
"""

from __future__ import annotations

import io

import pytest

from sealbox.exceptions import FormatError
from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider, inspect
from sealbox.keysets.keyring import Keyring

PLAINTEXT = b"trickled-plaintext-" * 5000


class Trickle(io.RawIOBase):
    """A raw reader that, like a pipe or a socket, returns at most ``step`` bytes a read."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        super().__init__()
        self._data = data
        self._pos = 0
        self._step = step
        self.reads = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        self.reads += 1
        n = min(self._step, len(buffer), len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


@pytest.fixture
def cipher() -> EnvelopeCipher:
    return EnvelopeCipher(KeyringProvider(Keyring.generate()))


def _stream(cipher: EnvelopeCipher) -> bytes:
    out = io.BytesIO()
    with cipher.encryptor(out, b"ad") as w:
        w.write(PLAINTEXT)
    return out.getvalue()


@pytest.mark.parametrize("mode", ["stream", "sealed"])
@pytest.mark.parametrize("step", [1, 7, 64])
def test_a_header_delivered_in_small_pieces_is_parsed(cipher, mode, step) -> None:
    env = _stream(cipher) if mode == "stream" else cipher.encrypt(PLAINTEXT, b"ad")
    assert inspect(env).header_size > 64  # the header spans several reads of the source
    source = Trickle(env, step)
    with cipher.decryptor(source, b"ad") as reader:
        assert reader.header.to_bytes() == env[: inspect(env).header_size]
        assert reader.read() == PLAINTEXT
    assert source.reads > len(env) // step


def test_a_header_cut_short_at_any_byte_is_a_format_error(cipher) -> None:
    env = _stream(cipher)
    size = inspect(env).header_size
    for cut in range(size):
        with pytest.raises(FormatError, match=r"truncated|not a sealbox envelope"):
            cipher.decryptor(Trickle(env[:cut]), b"ad")
    # A header whole but nothing behind it is no format error: it is data cut short.
    with pytest.raises(Exception) as info:
        cipher.decryptor(Trickle(env[:size]), b"ad").read()
    assert not isinstance(info.value, FormatError)
