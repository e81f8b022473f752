"""`sealbox verify-password --hash-file FILE`: the hash read from a file, off the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_sealbox

HINT = (
    "sealbox: hint: --hash-file takes a file holding the hash alone, as 'sealbox "
    "hash-password' prints it\n"
)


@pytest.fixture
def stored(cli) -> str:
    made = cli(["hash-password", "--profile", "test"], input=b"hunter2\n")
    assert made.code == 0, made.stderr
    return made.out.strip()


@pytest.mark.parametrize("line_end", ["\n", "\r\n", ""])
def test_the_hash_file_checks_the_password_and_its_line_end_is_dropped(
    cli, tmp_path: Path, stored: str, line_end: str
):
    path = tmp_path / "hash.txt"
    path.write_bytes(f"{stored}{line_end}".encode())
    ok = cli(["verify-password", "--hash-file", path, "--profile", "test"], input=b"hunter2\n")
    assert (ok.code, ok.out, ok.stderr) == (0, "ok\n", "")
    wrong = cli(["verify-password", "--hash-file", path, "--json"], input=b"wrong")
    assert wrong.code == 1
    assert json.loads(wrong.out) == {"ok": False, "needs_rehash": False}


def test_the_real_program_takes_the_hash_from_the_file_alone(tmp_path: Path, stored: str):
    path = tmp_path / "hash.txt"
    path.write_text(f"{stored}\n")
    r = run_sealbox(["verify-password", "--profile", "test", "--hash-file", path], input=b"hunter2")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"ok\n", b"")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "missing the hash: give HASH, or --hash-file FILE"),
        (
            ["$argon2id$x", "--hash-file", "h.txt"],
            "give the hash as HASH or with --hash-file, not both",
        ),
        (["--hash-file", "-"], "--hash-file cannot be '-': stdin carries the password"),
    ],
)
def test_not_exactly_one_hash_or_a_dash_is_a_usage_error(cli, args, message: str):
    r = cli(["verify-password", *args], input=b"hunter2")
    assert r.code == 2
    assert r.stderr.splitlines()[0] == f"sealbox: error: {message}"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty"),
        (b"\n", "is empty"),
        (b"$argon2id$v=19$one\n$argon2id$v=19$two\n", "holds more than one line"),
        (b"$argon2id$\xff\xfe\n", "is not UTF-8 text"),
        (b"$" * (4 * 1024 + 1), "is larger than 4096 bytes"),
    ],
)
def test_a_hash_file_that_holds_no_one_hash_says_what_it_holds(
    cli, tmp_path: Path, content: bytes, problem: str
):
    path = tmp_path / "hash.txt"
    path.write_bytes(content)
    r = cli(["verify-password", "--hash-file", path], input=b"hunter2")
    assert (r.code, r.out) == (1, "")
    assert r.stderr == f"sealbox: error: hash file {path} {problem}\n{HINT}"


def test_an_unreadable_hash_file_is_named_with_the_reason(cli, tmp_path: Path):
    missing = tmp_path / "nope.txt"
    r = cli(["verify-password", "--hash-file", missing], input=b"hunter2")
    assert r.code == 1
    assert r.stderr.startswith(f"sealbox: error: cannot read hash file {missing}: ")
    assert r.stderr.endswith(HINT)
    folder = cli(["verify-password", "--hash-file", tmp_path], input=b"hunter2")
    assert folder.code == 1
    assert folder.stderr.startswith(f"sealbox: error: cannot read hash file {tmp_path}: ")


def test_the_hash_in_the_file_is_never_quoted(cli, tmp_path: Path, stored: str):
    # A malformed hash is refused by the hasher, which never quotes it either.
    path = tmp_path / "hash.txt"
    damaged = stored[:-5] + "!!!!!"
    path.write_text(damaged + "\n")
    r = cli(["verify-password", "--hash-file", path], input=b"hunter2")
    assert r.code == 1
    salt = damaged.split("$")[-2]
    assert salt not in r.stderr
    assert damaged not in r.stderr


def test_help_says_the_hash_file_keeps_the_hash_off_the_command_line(cli):
    shown = " ".join(cli(["verify-password", "--help"]).out.split())
    assert "[OPTIONS] [HASH]" in shown
    assert "--hash-file FILE Read the hash from FILE (one line) instead of HASH" in shown
    assert "keeps the hash off the command line" in shown
