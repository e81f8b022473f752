"""`sealbox hash-password` and `sealbox verify-password`, transcript style."""

from __future__ import annotations

import base64
import hashlib
import json
import sys

import argon2

from tests.conftest import run_sealbox

TEST_PROFILE_WARNING = (
    "sealbox: warning: the 'test' password profile is for tests: its hashes are cheap to guess; "
    "use the default profile for real passwords\n"
)


def test_hash_then_verify(cli):
    result = cli(["hash-password", "--profile", "test"], input=b"hunter2\n")
    assert result.code == 0, result.stderr
    stored = result.out.strip()
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert result.stderr == TEST_PROFILE_WARNING
    assert argon2.PasswordHasher().verify(stored, "hunter2")  # the newline was dropped
    ok = cli(["verify-password", stored, "--profile", "test"], input=b"hunter2\n")
    assert (ok.code, ok.out, ok.stderr) == (0, "ok\n", "")


def test_default_profile_is_rfc9106_low_memory(cli):
    result = cli(["hash-password"], input=b"pw")
    assert result.out.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_needs_rehash(cli):
    stored = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")
    result = cli(["verify-password", stored], input=b"pw")
    assert (result.code, result.out) == (0, "ok, needs rehash\n")


def test_legacy_django_hash_needs_rehash(cli):
    dk = hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 1000)
    stored = f"pbkdf2_sha256$1000$salt${base64.b64encode(dk).decode()}"
    assert cli(["verify-password", stored], input=b"pw").out == "ok, needs rehash\n"


def test_mismatch_exits_1(cli):
    stored = cli(["hash-password", "--profile", "test"], input=b"right").out.strip()
    result = cli(["verify-password", stored, "--profile", "test"], input=b"wrong")
    assert result.code == 1
    assert result.out == ""
    assert result.stderr == "sealbox: error: password does not match\n"


def test_empty_password(cli):
    for command in (["hash-password"], ["verify-password", "$argon2id$x"]):
        result = cli(command, input=b"\n")
        assert result.code == 1
        assert result.stderr == "sealbox: error: the password is empty\n"


def test_too_long_password(cli):
    result = cli(["hash-password", "--profile", "test"], input=b"x" * 1025)
    assert result.code == 1
    assert result.stderr == (
        TEST_PROFILE_WARNING + "sealbox: error: the password is longer than 1024 characters\n"
    )


def test_huge_stdin_is_refused(cli):
    result = cli(["hash-password"], input=b"x" * (65 * 1024))
    assert result.code == 1
    assert "larger than 65536 bytes" in result.stderr


def test_password_not_utf8(cli):
    result = cli(["hash-password"], input=b"\xff\xfe")
    assert result.code == 1
    assert result.stderr == "sealbox: error: the password on stdin is not UTF-8 text\n"


def test_unsupported_hash(cli):
    result = cli(["verify-password", "$6$salt$hash"], input=b"pw")
    assert result.code == 1
    assert result.stderr.splitlines() == [
        "sealbox: error: password hash scheme '$6$' is not supported",
        (
            "sealbox: hint: sealbox verifies argon2, bcrypt ($2a$/$2b$/$2y$), Django "
            "pbkdf2_sha256, pbkdf2_sha1, bcrypt_sha256 and bcrypt, passlib "
            "$pbkdf2-sha256$/$pbkdf2-sha512$, and Werkzeug pbkdf2:sha256/sha512/sha1 and "
            "scrypt hashes"
        ),
    ]


def test_a_hash_asking_for_more_work_than_the_ceiling_is_refused_before_any_work(cli):
    # Each parameter within its own maximum; together 32 GiB-passes of Argon2.
    costly = "$argon2id$v=19$m=2097152,t=16,p=16$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43
    result = cli(["verify-password", costly], input=b"pw")
    assert result.code == 1
    error, hint = result.stderr.splitlines()
    assert error.startswith(
        "sealbox: error: the stored argon2 hash asks for t=16 m=2097152KiB p=16, "
        "above the accepted maximum"
    )
    assert hint == (
        "sealbox: hint: every login attempt would cost that work; reset the account's password"
    )


def test_malformed_hash(cli):
    result = cli(["verify-password", "not-a-hash"], input=b"pw")
    assert (result.code, result.stderr) == (1, "sealbox: error: not a password hash\n")


def test_unknown_profile_is_a_usage_error(cli):
    result = cli(["hash-password", "--profile", "fast"], input=b"pw")
    assert result.code == 2
    assert "'fast' is not one of" in result.stderr


def test_password_is_never_taken_from_argv(cli):
    result = cli(["hash-password", "hunter2"], input=b"")
    assert result.code == 2
    assert "unexpected extra argument" in result.stderr.lower()
    assert "hunter2" not in result.stderr + result.out


def test_end_to_end_in_a_real_process():
    done = run_sealbox(["hash-password", "--profile", "test"], input=b"pw\n")
    assert done.returncode == 0
    stored = done.stdout.decode().strip()
    done = run_sealbox(["verify-password", stored, "--profile", "test"], input=b"pw\n")
    assert (done.returncode, done.stdout) == (0, b"ok\n")


def test_hash_password_does_not_load_the_token_stack():
    import subprocess

    code = (
        "import io, sys\n"
        "sys.stdin = io.TextIOWrapper(io.BytesIO(b'pw'))\n"
        "from sealbox.cli import main\n"
        "main(['hash-password', '--profile', 'test'])\n"
        "print(sorted(m for m in ('jwt', 'httpx2', 'fastapi') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    assert out.decode().splitlines()[-1] == "[]"


def _run_on_a_terminal(args: list[str], answers: list[bytes]) -> tuple[int, bytes]:
    """Run sealbox with a pseudo-terminal as its controlling terminal and stdin."""
    import os
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: its stdin, stdout and /dev/tty are the terminal
        os.execv(sys.executable, [sys.executable, "-m", "sealbox", *args])
    output = b""
    pending = list(answers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if pending and output.rstrip().endswith(b":"):
            os.write(fd, pending.pop(0) + b"\n")
            output += b"<answered>"
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output


def test_prompt_on_a_terminal_asks_twice():
    code, output = _run_on_a_terminal(
        ["hash-password", "--profile", "test"], [b"s3cret-typed", b"s3cret-typed"]
    )
    assert code == 0, output
    assert b"Password (again):" in output
    assert b"s3cret-typed" not in output  # no echo
    stored = output.split(b"<answered>")[-1].strip().decode()
    assert argon2.PasswordHasher().verify(stored, "s3cret-typed")


def test_prompt_mismatch():
    code, output = _run_on_a_terminal(["hash-password"], [b"one", b"two"])
    assert code == 1
    assert b"sealbox: error: the passwords do not match" in output


def test_verify_prompt_asks_once():
    stored = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")
    code, output = _run_on_a_terminal(["verify-password", stored, "--profile", "test"], [b"pw"])
    assert code == 0
    assert output.split(b"<answered>")[-1].strip() == b"ok"
    assert b"(again)" not in output


def test_only_the_test_profile_warns(cli):
    result = cli(["hash-password", "--profile", "owasp-minimum"], input=b"pw")
    assert (result.code, result.stderr) == (0, "")


def test_verify_password_json(cli):
    stored = cli(["hash-password", "--profile", "test"], input=b"pw").out.strip()
    ok = cli(["verify-password", stored, "--profile", "test", "--json"], input=b"pw")
    assert (ok.code, json.loads(ok.out), ok.stderr) == (0, {"ok": True, "needs_rehash": False}, "")
    # Hashed with cheaper parameters than the default profile's: a rehash is due.
    old = cli(["verify-password", stored, "--json"], input=b"pw")
    assert json.loads(old.out) == {"ok": True, "needs_rehash": True}
    bad = cli(["verify-password", stored, "--profile", "test", "--json"], input=b"nope")
    assert bad.code == 1
    assert json.loads(bad.out) == {"ok": False, "needs_rehash": False}
    assert bad.stderr.startswith("sealbox: error: ")
