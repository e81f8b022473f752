"""A file object in text mode, where age reads bytes, is refused by name: open it 'rb'."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sealbox import age
from sealbox.exceptions import ConfigError, DecryptionError

ME = age.X25519Identity.generate()


def _assert_text_mode(info: pytest.ExceptionInfo[BaseException]) -> None:
    error = info.value
    assert isinstance(error, TypeError) and isinstance(error, ConfigError)
    assert error.code == "text_mode_file"
    assert error.facts == {"mode": "rb"}
    assert "text mode" in str(error) and "binary mode ('rb')" in str(error)
    assert "open(path, 'rb')" in (error.hint or "")


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_a_decryptor_over_a_text_mode_file_is_refused(tmp_path: Path, armor: bool) -> None:
    path = tmp_path / "f.age"
    path.write_bytes(age.encrypt(b"data", [ME.recipient()], armor=armor))
    with path.open() as src, pytest.raises(TypeError) as info:
        age.Decryptor(src, [ME])
    _assert_text_mode(info)


def test_a_decryptor_over_a_string_io_is_refused() -> None:
    with pytest.raises(TypeError) as info:
        age.Decryptor(io.StringIO("age-encryption.org/v1\n"), [ME])
    _assert_text_mode(info)


def test_a_reader_returning_str_is_refused_as_text_mode() -> None:
    class Reader:
        def read(self, size: int = -1) -> str:
            return "age-encryption.org/v1\n"

    with pytest.raises(TypeError) as info:
        age.Decryptor(Reader(), [ME])
    _assert_text_mode(info)


def test_encrypting_from_a_text_mode_file_is_refused_and_leaves_the_output_unfinished(
    tmp_path: Path,
) -> None:
    plain = tmp_path / "p.txt"
    plain.write_text("hello")
    out = io.BytesIO()
    with (
        plain.open() as src,
        pytest.raises(TypeError) as info,
        age.Encryptor(out, [ME.recipient()]) as enc,
    ):
        enc.write_from(src)
    _assert_text_mode(info)
    with pytest.raises(DecryptionError):
        age.decrypt(out.getvalue(), [ME])


@pytest.mark.parametrize(
    "make", [lambda p: p.open("w"), lambda p: io.StringIO()], ids=["open-w", "stringio"]
)
def test_an_encryptor_into_a_text_mode_file_is_refused_before_writing(tmp_path: Path, make) -> None:
    with make(tmp_path / "out.age") as dst:
        with pytest.raises(TypeError) as info:
            age.Encryptor(dst, [ME.recipient()])
        assert dst.tell() == 0  # nothing written
    error = info.value
    assert isinstance(error, ConfigError) and error.code == "text_mode_file"
    assert error.facts == {"mode": "wb"}


def test_inspecting_a_text_mode_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.age"
    path.write_bytes(age.encrypt(b"data", [ME.recipient()]))
    with path.open() as src, pytest.raises(TypeError) as info:
        age.inspect(src)
    _assert_text_mode(info)
