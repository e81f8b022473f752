"""The buffer `sealbox secrets edit` opens reads a line as python-dotenv reads it: a value
pasted from a ``.env`` file keeps the value it has there, or is refused (then the user is
asked to edit again); it never silently becomes another value."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealbox.cli._edit_buffer import parse_edited, quote
from sealbox.exceptions import SecretSourceError

dotenv = pytest.importorskip("dotenv")

LINES = {
    "double-quote escapes": b'A="x\\\'y"\nB="x\\ay\\by\\fy\\vy"\nC="\\\\ \\" \\n \\r \\t"\n',
    "single-quote escapes": b"A='x\\\\y'\nB='x\\'y'\nC='x\\ny \\t'\n",
    "export and a tab": b"export\tA=1\nexport  B=2\n",
    "a comment right after the closing quote": b'A="x"#c\nB=\'y\'#c\nC="z" # c\n',
    "comments and spaces": b"A=x # c\nB=x#c\nC = x \nD=\nE=''\n",
    "escapes python-dotenv leaves": b'A="\\x41 \\u00e9 \\q"\nB=x\\ny\n',
}


@pytest.mark.parametrize("data", LINES.values(), ids=LINES.keys())
def test_an_edited_line_reads_as_python_dotenv_reads_it(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "secrets.env"
    path.write_bytes(data)
    assert parse_edited(path) == dotenv.dotenv_values(path, interpolate=False)


def test_every_value_written_to_the_buffer_reads_back_as_itself_there_and_in_dotenv(
    tmp_path: Path,
) -> None:
    values = [
        "x'y", 'x"y', "a\\nb", "a\nb", "\t lead", "#x", "x #y", "\u00e9", "\x0b", "\x1b[0m",
        "a\\", "${A}", "\\'", "\\a\\b\\f\\v", "a\rb", " ", "plain-value_1",
    ]  # fmt: skip
    path = tmp_path / "secrets.env"
    path.write_text("".join(f"V{i}={quote(v)}\n" for i, v in enumerate(values)), encoding="utf-8")
    expected = {f"V{i}": v for i, v in enumerate(values)}
    assert parse_edited(path) == expected
    assert dotenv.dotenv_values(path, interpolate=False) == expected


def test_a_line_python_dotenv_cannot_read_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    for data in (b'A="x\n', b"A='x\n", b'A="x" y\n', b"A\n", b"1A=x\n"):
        path.write_bytes(data)
        with pytest.raises(SecretSourceError, match="line 1"):
            parse_edited(path)
