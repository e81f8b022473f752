"""``DotenvSource`` against python-dotenv's own ``dotenv_values()`` on tricky files.

Every file python-dotenv reads without a warning reads the same here (interpolation off,
and a bare ``NAME`` is no value rather than ``None``); the files where sealbox differs on
purpose (docs/secrets.md) are refused with an error naming file and line, never a value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sealbox.exceptions import SecretSourceError
from sealbox.secrets import DotenvSource

dotenv = pytest.importorskip("dotenv")

CANARY = "canary-dotenv-diff-93ac"

SAME: dict[str, bytes] = {
    "export prefix": b"export A=1\nexport\tB=2\nexport   C=3\nexportD=4\nexport=5\n",
    "single quotes are literal": b"A='x\\ny $B #c'\nB='it\\'s'\n",
    "double quotes decode escapes": b'A="x\\ny\\t\\"q\\" \\\\ \\$"\nB="\\u00e9\\x41"\n',
    "# inside quotes": b'A="x # y"\nB=\'x # y\'\nC="x"#c\n',
    "trailing comments": b"A=x # c\nB=x#c\nC=x  #c\nD=x\t#c\nE= # c\nF=#c\n",
    "multi-line quoted values": b'A="l1\nl2"\nB=\'l1\nl2\'\nC="x\\\ny"\n',
    "empty values": b"A=\nB=''\nC=\"\"\nD=   \n",
    "bare names": b"A\nB=1\nexport C\n",
    "CRLF line ends": b"A=1\r\nB=\"x\r\ny\"\r\nC='x\r\ny'\r\n",
    "a lone CR": b'A=1\rB="x\ry"\r',
    "byte order mark": b"\xef\xbb\xbfA=1\n",
    "byte order mark then a comment": b"\xef\xbb\xbf# c\nexport A=1\n",
    "no interpolation": b"A=1\nB=${A}\nC=\"${A}\"\nD='${A}'\nE=$A\nF=${A:-d}\n",
    "spaces around": b"  A  =  x y  \nB = 'x' # c\n",
    "quoted name": b"'A'=x\n",
    "= in a value": b"A=b=c\n",
    "backslash unquoted": b"A=x\\ny\n",
    "no final newline": b"A=1",
    "control and separator characters": "A=1\x0cB=2\nC=x\x0by\nD=x\u2028y\nE=x\x85y\nF=x\u00a0\n".encode(),
}


def _read(path: Path) -> dict[str, str]:
    source = DotenvSource(path)
    return {name: source.lookup(name).expose_secret() for name in source.names()}  # type: ignore[union-attr]


@pytest.mark.parametrize("data", SAME.values(), ids=SAME.keys())
def test_a_file_python_dotenv_reads_reads_the_same(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / ".env"
    path.write_bytes(data)
    expected = dotenv.dotenv_values(path, interpolate=False)
    # A bare NAME: python-dotenv gives it None, this source no value (a later source's).
    assert _read(path) == {k: v for k, v in expected.items() if v is not None}


def test_interpolation_is_off_where_python_dotenv_has_it_on_by_default(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"A=1\nB=${A}\n")
    assert dotenv.dotenv_values(path) == {"A": "1", "B": "1"}
    assert _read(path) == {"A": "1", "B": "${A}"}


DIFFERENT: dict[str, tuple[bytes, str]] = {
    # python-dotenv: the last one wins.
    "a name twice": (f"A=1\nA={CANARY}\n".encode(), ":2: A is already defined on line 1"),
    # python-dotenv: the name as written; no lookup could ask for it.
    "a name starting with a digit": (f"1A={CANARY}\n".encode(), ":1: invalid secret name"),
    "a name with a dash": (f"A-B={CANARY}\n".encode(), ":1: invalid secret name"),
    "a name with a dot": (f"a.b={CANARY}\n".encode(), ":1: invalid secret name"),
    "a name outside ASCII": (f"\u00c9={CANARY}\n".encode(), ":1: invalid secret name"),
    # python-dotenv: a warning, and the line is skipped.
    "a colon for =": (f"A: {CANARY}\n".encode(), ":1: cannot parse this line"),
    "unterminated quotes": (f'A="{CANARY}\n'.encode(), ":1: cannot parse this line"),
    "text after quotes": (f'A="x" {CANARY}\n'.encode(), ":1: cannot parse this line"),
    "no name": (f"={CANARY}\n".encode(), ":1: cannot parse this line"),
    # python-dotenv: the NUL is kept, and breaks os.environ or a subprocess later.
    "a NUL character": (f"A={CANARY}\0\n".encode(), ":1: the value of A holds a NUL character"),
}


@pytest.mark.parametrize(("data", "message"), DIFFERENT.values(), ids=DIFFERENT.keys())
def test_where_python_dotenv_guesses_the_source_refuses_naming_file_and_line(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / ".env"
    path.write_bytes(data)
    dotenv.dotenv_values(path, interpolate=False)  # reads it, maybe with a warning
    with pytest.raises(SecretSourceError) as info:
        DotenvSource(path)
    assert str(info.value).startswith(f"{path}{message}")
    assert CANARY not in repr(info.value) and CANARY not in str(info.value)
