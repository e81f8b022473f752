"""EnvelopeWriter refuses text (and other non-bytes) after its header, and stays usable."""

from __future__ import annotations

import array
import io

import pytest

from sealbox.age._source import TextModeFileError
from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider
from sealbox.keysets.keyring import Keyring


@pytest.fixture
def cipher() -> EnvelopeCipher:
    return EnvelopeCipher(KeyringProvider(Keyring.generate()))


@pytest.mark.parametrize("bad", ["some text", None, 7, [1, 2]])
def test_write_of_non_bytes_names_the_method_and_writes_nothing_more(cipher, bad) -> None:
    dst = io.BytesIO()
    w = cipher.encryptor(dst)
    w.write(b"before ")
    written = dst.getvalue()
    with pytest.raises(TypeError, match=r"EnvelopeWriter\.write takes bytes") as info:
        w.write(bad)
    if isinstance(bad, str):
        assert "encode it first" in str(info.value)
    assert "some text" not in str(info.value)
    assert dst.getvalue() == written
    w.write(b"after")
    w.close()
    assert cipher.decrypt(dst.getvalue()) == b"before after"


def test_write_still_takes_any_bytes_like_object(cipher) -> None:
    dst = io.BytesIO()
    with cipher.encryptor(dst) as w:
        w.write(bytearray(b"ab"))
        w.write(memoryview(b"cd"))
        w.write(array.array("B", b"ef"))
    assert cipher.decrypt(dst.getvalue()) == b"abcdef"


@pytest.mark.parametrize("text", [io.StringIO("secret words"), "text-source"])
def test_write_from_a_text_mode_file_is_refused_naming_the_method(cipher, text, tmp_path) -> None:
    dst = io.BytesIO()
    w = cipher.encryptor(dst)
    written = dst.getvalue()
    with pytest.raises(TextModeFileError, match=r"EnvelopeWriter\.write_from") as info:
        if text == "text-source":
            path = tmp_path / "plain.txt"
            path.write_text("secret words")
            with path.open() as f:
                w.write_from(f)
        else:
            w.write_from(text)
    assert isinstance(info.value, TypeError)
    assert info.value.code == "text_mode_file" and info.value.facts == {"mode": "rb"}
    assert "secret words" not in str(info.value)
    assert dst.getvalue() == written
    w.write_from(io.BytesIO(b"binary"))
    w.close()
    assert cipher.decrypt(dst.getvalue()) == b"binary"


@pytest.mark.parametrize("bad", ["plain.txt", b"raw bytes"])
def test_write_from_a_path_or_bytes_names_the_method(cipher, bad) -> None:
    dst = io.BytesIO()
    w = cipher.encryptor(dst)
    written = dst.getvalue()
    with pytest.raises(TypeError, match=r"EnvelopeWriter\.write_from takes a binary file"):
        w.write_from(bad)
    assert dst.getvalue() == written
    w.write(b"ok")
    w.close()
    assert cipher.decrypt(dst.getvalue()) == b"ok"
