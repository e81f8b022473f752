"""`sealbox secrets …` errors a user meets: a bad recipient, a missing name, a write the
file size limit refuses; and values that never reach argv, stdout or stderr."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sealbox import age
from sealbox.secrets.sealed import SealedFile
from tests._race import clean_env
from tests.conftest import run_sealbox

CANARY = "canary-secrets-errors-5e1b"


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, age.X25519Identity]:
    ident = age.X25519Identity.generate()
    path = tmp_path / "key.txt"
    path.write_text(age.identity_file(ident))
    return path, ident


@pytest.fixture
def sfile(tmp_path: Path, key: tuple[Path, age.X25519Identity]) -> Path:
    path = tmp_path / "secrets.env"
    r = run_sealbox(["secrets", "init", path, "-r", str(key[1].recipient())])
    assert r.returncode == 0, r.stderr
    r = run_sealbox(["secrets", "set", path, "DB_PASSWORD"], input=CANARY.encode())
    assert r.returncode == 0, r.stderr
    return path


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ("age1notvalid", "-r 'age1notvalid': invalid character in Bech32 data"),
        ("ssh-ed25519 AAAAbad", "-r 'ssh-ed25519 AAAAbad': invalid ssh-ed25519 public key"),
    ],
)
def test_init_and_rotate_name_the_recipient_that_does_not_parse_as_encrypt_does(
    tmp_path: Path, sfile: Path, key: tuple[Path, age.X25519Identity], given: str, error: str
) -> None:
    good = str(key[1].recipient())
    before = sfile.read_bytes()
    for command in (
        ["secrets", "init", tmp_path / "new.env", "-r", good, "-r", given],
        ["secrets", "rotate", sfile, "-i", key[0], "-r", good, "-r", given],
        ["encrypt", "-o", tmp_path / "out.age", "-r", good, "-r", given],
    ):
        r = run_sealbox(command, input=b"x")
        assert r.returncode == 1, r.stderr
        assert r.stderr.decode().startswith(f"sealbox: error: {error}"), command
    assert not (tmp_path / "new.env").exists() and sfile.read_bytes() == before


def test_an_identity_given_as_a_recipient_is_refused_without_being_quoted(
    tmp_path: Path, key: tuple[Path, age.X25519Identity]
) -> None:
    secret_key = age.identity_file(key[1]).strip().splitlines()[-1]
    assert secret_key.startswith("AGE-SECRET-KEY-1")
    r = run_sealbox(["secrets", "init", tmp_path / "new.env", "-r", secret_key])
    assert r.returncode == 1
    err = r.stderr.decode()
    assert err.startswith("sealbox: error: -r: an age identity (AGE-SECRET-KEY-…) was given")
    assert secret_key[16:] not in err and not (tmp_path / "new.env").exists()


def test_init_and_rotate_count_a_recipient_given_twice_once(
    tmp_path: Path, sfile: Path, key: tuple[Path, age.X25519Identity]
) -> None:
    good = str(key[1].recipient())
    listed = tmp_path / "team.txt"
    listed.write_text(f"{good}\n")
    r = run_sealbox(["secrets", "init", tmp_path / "new.env", "-r", good, "-R", listed])
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == f"created {tmp_path / 'new.env'} for 1 recipient\n"
    assert SealedFile.load(tmp_path / "new.env").recipients == [good]
    r = run_sealbox(["secrets", "rotate", sfile, "-i", key[0], "-r", good, "-r", good])
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == f"re-encrypted 1 secret in {sfile} to 1 recipient\n"


def test_rm_of_a_name_not_in_the_file_points_at_list(sfile: Path) -> None:
    before = sfile.read_bytes()
    r = run_sealbox(["secrets", "rm", sfile, "NOT_THERE", "--yes"])
    assert r.returncode == 1
    assert r.stderr.decode() == (
        f"sealbox: error: {sfile}: no secret named NOT_THERE\n"
        f"sealbox: hint: 'sealbox secrets list {sfile}'\n"
    )
    assert sfile.read_bytes() == before


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        # Ignored, SIGXFSZ would not end the process: the write fails with EFBIG instead.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_set_the_file_size_limit_refuses_leaves_the_file_whole(
    sfile: Path, key: tuple[Path, age.X25519Identity]
) -> None:
    before = sfile.read_bytes()
    big = b"v" * 4000
    r = subprocess.run(
        [sys.executable, "-m", "sealbox", "secrets", "set", str(sfile), "BIG"],
        input=big,
        capture_output=True,
        env=clean_env(),
        preexec_fn=_file_size_limit(len(before) + 100),
        check=False,
        timeout=120,
    )
    assert r.returncode == 1, r.stderr
    assert r.stderr.decode().startswith(f"sealbox: error: cannot write {sfile}: file too large")
    assert b"Traceback" not in r.stderr and big not in r.stdout + r.stderr
    assert sfile.read_bytes() == before
    assert [p.name for p in sfile.parent.iterdir() if p.name.endswith(".tmp")] == []
    loaded = SealedFile.load(sfile)
    assert loaded.names() == ["DB_PASSWORD"]
    assert loaded.get("DB_PASSWORD", [key[1]]).expose_secret() == CANARY


def test_values_never_reach_argv_stdout_or_stderr_of_set(
    tmp_path: Path, sfile: Path, key: tuple[Path, age.X25519Identity]
) -> None:
    # The value goes on stdin; the one command that prints it is `get`.
    r = run_sealbox(["secrets", "set", sfile, "API_TOKEN"], input=f"{CANARY}-2\n".encode())
    assert r.returncode == 0, r.stderr
    assert CANARY.encode() not in r.stdout + r.stderr
    assert CANARY.encode() not in sfile.read_bytes()
    for command in (
        ["secrets", "list", sfile, "-i", key[0]],
        ["secrets", "list", sfile, "--json"],
        ["secrets", "rotate", sfile, "-i", key[0], "-r", str(key[1].recipient())],
    ):
        r = run_sealbox(command)
        assert r.returncode == 0, r.stderr
        assert CANARY.encode() not in r.stdout + r.stderr, command
    # A value typed as an argument by mistake is refused without being shown.
    r = run_sealbox(["secrets", "set", sfile, "API_TOKEN", CANARY])
    assert r.returncode == 2 and CANARY.encode() not in r.stdout + r.stderr
    r = run_sealbox(["secrets", "get", sfile, "API_TOKEN", "-i", key[0]])
    assert r.returncode == 0 and r.stdout == f"{CANARY}-2".encode()
