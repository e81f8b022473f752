"""Every command's standard output with no room left is named as such, with a hint.

Real processes writing to Linux's /dev/full, where every write fails with ENOSPC: the
commands that print with click.echo or sys.stdout (not only encrypt, decrypt and
`secrets get`) say `cannot write standard output: …`, never the system's bare words, and
a file that cannot be written is still named as that file, not as standard output.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import fill

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")

SEALBOX = [sys.executable, "-m", "sealbox"]
ERROR = "sealbox: error: cannot write standard output: no space left on device"


def _to_full(argv: list[str], **kwargs: object) -> tuple[int, list[str]]:
    with open("/dev/full", "wb") as full:
        r = subprocess.run(
            [*SEALBOX, *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            check=False,
            **kwargs,  # type: ignore[call-overload]
        )
    return r.returncode, r.stderr.decode().splitlines()


def _keyset(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    env = {**os.environ, "SEALBOX_PASSPHRASE": "correct horse battery"}
    keyset = tmp_path / "keys.jwks"
    subprocess.run(
        [*SEALBOX, "jwt", "keyset", "create", str(keyset), "--yes"],
        env=env,
        check=True,
        capture_output=True,
    )
    return keyset, env


def _assert_named(code: int, lines: list[str]) -> None:
    assert code == 1, lines
    assert lines[0] == ERROR
    assert lines[1].startswith("sealbox: hint: ")
    assert "standard output" in lines[1]
    assert len(lines) == 2


def test_keygen_to_a_full_standard_output_is_named_with_a_hint():
    _assert_named(*_to_full(["keygen"]))


def test_hash_password_to_a_full_standard_output_is_named_with_a_hint():
    _assert_named(*_to_full(["hash-password"], input=b"a password\n"))


def test_help_to_a_full_standard_output_is_named_with_a_hint():
    _assert_named(*_to_full(["--help"]))


def test_jwt_keyset_list_and_jwks_to_a_full_standard_output_are_named_with_a_hint(tmp_path):
    keyset, env = _keyset(tmp_path)
    _assert_named(*_to_full(["jwt", "keyset", "list", str(keyset)], env=env))
    _assert_named(*_to_full(["jwt", "jwks", str(keyset)], env=env))


def test_jwt_verify_without_click_to_a_full_standard_output_is_named_with_a_hint(tmp_path):
    # `jwt verify` runs without click and prints its claims with sys.stdout.write.
    keyset, env = _keyset(tmp_path)
    token = subprocess.run(
        [*SEALBOX, "jwt", "issue", str(keyset), "--sub", "alice"],
        env=env,
        check=True,
        capture_output=True,
    ).stdout.strip()
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(
        subprocess.run(
            [*SEALBOX, "jwt", "jwks", str(keyset)], env=env, check=True, capture_output=True
        ).stdout
    )
    _assert_named(*_to_full(["jwt", "verify", "--jwks", str(jwks)], input=token))


def test_a_full_standard_output_device_is_named_as_a_device_not_a_file_system():
    code, lines = _to_full(["keygen"])
    assert code == 1
    assert lines[1] == (
        "sealbox: hint: standard output is a device (/dev/full), not a file, and it refused "
        "the write (it has no room, or takes no data): redirect it to a file"
    )


def test_a_standard_output_file_on_a_full_file_system_says_to_free_space(small_fs):
    fill(small_fs / "filler")
    with open(small_fs / "out", "wb") as out:
        r = subprocess.run([*SEALBOX, "keygen"], stdout=out, stderr=subprocess.PIPE, check=False)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [
        ERROR,
        (
            "sealbox: hint: free space on the file system standard output goes to ('df -h' "
            "shows it), or redirect it to another file system"
        ),
    ]


def test_a_standard_output_file_at_its_size_limit_is_named_with_a_hint(tmp_path):
    # `ulimit -f` reached by `> FILE`: a file, so the hint is about its size, not a device.
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (16, 16))

    with open(tmp_path / "out", "wb") as out:
        r = subprocess.run(
            [*SEALBOX, "keygen"],
            stdout=out,
            stderr=subprocess.PIPE,
            preexec_fn=limit,
            check=False,
        )
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [
        "sealbox: error: cannot write standard output: file too large",
        (
            "sealbox: hint: the file standard output goes to is at the largest size allowed "
            "(a file size limit, 'ulimit -f', or the file system's): redirect it to another "
            "file system"
        ),
    ]


def test_a_file_that_cannot_be_written_is_not_taken_for_standard_output(tmp_path):
    # Standard output is full too: the error is still the file's.
    code, lines = _to_full(["keygen", "-o", "/dev/full"])
    assert code == 1
    assert lines[0] == "sealbox: error: cannot write /dev/full: no space left on device"


def test_a_device_that_refuses_a_write_is_named_as_a_device_not_a_file_system(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"hello")
    r = subprocess.run(
        [*SEALBOX, "encrypt", "-p", "-o", "/dev/full", str(plain)],
        env={**os.environ, "SEALBOX_PASSPHRASE": "correct horse battery"},
        capture_output=True,
        check=False,
    )
    assert r.returncode == 1
    lines = r.stderr.decode().splitlines()
    assert lines[0] == "sealbox: error: cannot write /dev/full: no space left on device"
    assert lines[1].startswith("sealbox: hint: /dev/full is a device")
    assert "free space" not in lines[1]
    assert len(lines) == 2
