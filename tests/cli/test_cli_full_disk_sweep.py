"""Every command that writes a file, when the write cannot finish, loses nothing.

For each of them, run as a real process: past a file size limit (EFBIG) and on a real
full file system (a small tmpfs, root only), on a read-only folder, aimed at its own
input, and SIGKILLed during a large write. The command says why on one line with a
hint (exit 1, no traceback); the output it would have replaced is as it was, its input
too, and no temporary file stays behind.
"""

from __future__ import annotations

import hashlib
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

from sealbox import age
from tests._legacy_records import fernet_file
from tests.conftest import IN_CI, fill

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE and tmpfs: Linux")

PASS = "sweep passphrase"
ENV = {**os.environ, "SEALBOX_PASSPHRASE": PASS}
ME = age.X25519Identity.generate()
RECIPIENT = str(ME.recipient())

# name: (argv, with OUT for the output, and the file the command reads as its input)
COMMANDS: dict[str, tuple[list[str], str | None]] = {
    "encrypt": (["encrypt", "-r", RECIPIENT, "-o", "OUT", "plain"], "plain"),
    "encrypt-armor": (["encrypt", "-a", "-r", RECIPIENT, "-o", "OUT", "plain"], "plain"),
    "encrypt-passphrase": (["encrypt", "-p", "-o", "OUT", "plain"], "plain"),
    "decrypt": (["decrypt", "-i", "id", "-o", "OUT", "plain.age"], "plain.age"),
    "keygen": (["keygen", "-o", "OUT"], None),
    "keygen-pq": (["keygen", "--pq", "-o", "OUT"], None),
    "keygen-y": (["keygen", "-y", "-o", "OUT", "id"], None),
    "key-generate": (["key", "generate", "--type", "ed25519", "--yes", "-o", "OUT"], None),
    "key-encrypt": (["key", "encrypt", "-k", "rsa.pub", "-o", "OUT", "small"], "small"),
    "key-decrypt": (["key", "decrypt", "-k", "rsa", "-o", "OUT", "small.rsa"], "small.rsa"),
    "key-sign": (["key", "sign", "-k", "ed", "-o", "OUT", "small"], "small"),
    "legacy-decrypt": (
        ["legacy", "decrypt", "--format", "fernet-file", "-o", "OUT", "legacy"],
        "legacy",
    ),
    "legacy-migrate": (
        ["legacy", "migrate", "--format", "fernet-file", "-r", RECIPIENT, "-o", "OUT", "legacy"],
        "legacy",
    ),
    "jwt-keyset-create": (["jwt", "keyset", "create", "--yes", "OUT"], None),
}
# Commands that never replace a file (an identity is never overwritten).
NO_FORCE = {"keygen", "keygen-pq", "keygen-y"}


def _sealbox(
    argv: list[str], cwd: Path, *, limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    def child() -> None:  # pragma: no cover - runs in the child
        if limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past it fail with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "sealbox", *argv],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        preexec_fn=child,
        check=False,
    )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the commands read: an identity, key pairs, a plaintext and its forms."""
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "id").write_text(f"{ME.expose_secret()}\n")
    (folder / "plain").write_bytes(os.urandom(20_000))
    (folder / "plain.age").write_bytes(
        age.encrypt((folder / "plain").read_bytes(), [ME.recipient()])
    )
    (folder / "small").write_bytes(b"a small input\n")
    (folder / "legacy").write_bytes(fernet_file(PASS.encode(), b"legacy record " * 500))
    for argv in (
        ["key", "generate", "--type", "ed25519", "--no-passphrase", "-o", "ed"],
        ["key", "generate", "--type", "rsa", "--bits", "2048", "--no-passphrase", "-o", "rsa"],
        ["key", "encrypt", "-k", "rsa.pub", "-o", "small.rsa", "small"],
    ):
        r = _sealbox(argv, folder)
        assert r.returncode == 0, r.stderr
    return folder


_GROUP = "; nothing was replaced"


def _argv(name: str, out: str, *, force: bool) -> list[str]:
    argv = [out if a == "OUT" else a for a in COMMANDS[name][0]]
    return [*argv, "--force"] if force and name not in NO_FORCE else argv


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _prepared(folder: Path, inputs: Path, name: str) -> dict[str, bytes]:
    """Copy the inputs into ``folder``; give the command a previous output to replace."""
    for path in inputs.iterdir():
        shutil.copy2(path, folder / path.name)
    if name not in NO_FORCE:
        r = _sealbox(_argv(name, "out", force=False), folder)
        assert r.returncode == 0, r.stderr
    return _snapshot(folder)


def _assert_refused_and_nothing_lost(
    r: subprocess.CompletedProcess[str], folder: Path, before: dict[str, bytes], reason: str
) -> None:
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert lines[0].startswith("sealbox: error: cannot "), r.stderr
    # A pair replaced as a group (key generate) adds that neither file was replaced.
    assert lines[0].removesuffix(_GROUP).endswith(reason), r.stderr
    assert len(lines) == 2 and lines[1].startswith("sealbox: hint: "), r.stderr
    # The previous output and the inputs as they were, no temporary file beside them.
    assert _snapshot(folder) == before


@pytest.mark.parametrize("name", COMMANDS)
def test_a_write_past_the_file_size_limit_keeps_the_old_output_and_says_what_to_do(
    tmp_path: Path, inputs: Path, name: str
) -> None:
    before = _prepared(tmp_path, inputs, name)
    r = _sealbox(_argv(name, "out", force=True), tmp_path, limit=8)
    _assert_refused_and_nothing_lost(r, tmp_path, before, ": file too large")
    assert "file system" in r.stderr.splitlines()[1]


def _cannot_mount(reason: str) -> NoReturn:
    """Skip on a user's machine; under CI (root, mount(8)) a refusal is a failure."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def _mount(*args: str | Path) -> None:
    r = subprocess.run(["mount", *map(str, args)], capture_output=True, check=False)
    if r.returncode != 0:
        _cannot_mount(f"cannot mount here ({r.stderr.decode().strip()}): needs root")


@pytest.mark.parametrize("name", COMMANDS)
def test_a_full_file_system_keeps_the_old_output_and_says_to_free_space(
    small_fs: Path, inputs: Path, name: str
) -> None:
    _prepared(small_fs, inputs, name)
    fill(small_fs / "filler")
    before = _snapshot(small_fs)
    r = _sealbox(_argv(name, "out", force=True), small_fs)
    _assert_refused_and_nothing_lost(r, small_fs, before, ": no space left on device")
    assert "free space on the file system" in r.stderr


@pytest.mark.parametrize("name", COMMANDS)
def test_a_read_only_output_folder_is_refused_with_a_hint_and_nothing_written(
    tmp_path: Path, inputs: Path, name: str
) -> None:
    if os.geteuid() != 0:
        _cannot_mount("a read-only bind mount needs root (root writes a folder of mode 0555)")
    before = _prepared(tmp_path, inputs, name)
    folder = tmp_path / "ro"
    folder.mkdir()
    _mount("--bind", folder, folder)  # skips if refused
    try:
        _mount("-o", "remount,bind,ro", folder)
        r = _sealbox(_argv(name, "ro/out", force=True), tmp_path)
    finally:
        subprocess.run(["umount", str(folder)], check=False)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert lines[0].startswith("sealbox: error: cannot "), r.stderr
    first = lines[0].removesuffix(_GROUP)
    assert first.endswith("read-only file system") or "read-only file system (" in first
    assert len(lines) == 2 and "read-only" in lines[1], r.stderr
    assert list(folder.iterdir()) == []
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("force", [False, True], ids=["", "force"])
@pytest.mark.parametrize("name", [n for n, (_, src) in COMMANDS.items() if src])
def test_an_output_naming_the_input_is_refused_as_the_input_before_anything_is_written(
    tmp_path: Path, inputs: Path, name: str, force: bool
) -> None:
    before = _prepared(tmp_path, inputs, name)
    src = COMMANDS[name][1]
    assert src is not None
    os.link(tmp_path / src, tmp_path / "link")
    for output in (src, "link"):
        r = _sealbox(_argv(name, output, force=force), tmp_path)
        # Not "already exists, use --force": --force would be refused too.
        assert r.returncode == 1, r.stderr
        assert r.stderr.splitlines() == [
            f"sealbox: error: {output} is the input file",
            "sealbox: hint: write the output to another file",
        ]
    assert _snapshot(tmp_path) == {**before, "link": before[src]}


@pytest.mark.parametrize("name", [n for n in COMMANDS if n not in NO_FORCE])
def test_an_existing_output_without_force_is_refused_and_kept(
    tmp_path: Path, inputs: Path, name: str
) -> None:
    before = _prepared(tmp_path, inputs, name)
    r = _sealbox(_argv(name, "out", force=False), tmp_path)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0] == "sealbox: error: out already exists"
    assert len(lines) == 2 and "--force" in lines[1]
    assert _snapshot(tmp_path) == before


BIG = 64 << 20


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("big")
    (folder / "id").write_text(f"{ME.expose_secret()}\n")
    (folder / "big").write_bytes(os.urandom(BIG))
    r = _sealbox(["encrypt", "-r", RECIPIENT, "-o", "big.age", "big"], folder)
    assert r.returncode == 0, r.stderr
    return folder


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".out.") and p.name.endswith(".tmp")]


def _kill_once_written(proc: subprocess.Popen[bytes], folder: Path, written: int) -> None:
    """SIGKILL ``proc`` once its temporary output holds ``written`` bytes (if it has not
    finished first)."""
    while proc.poll() is None:
        for tmp in _temporaries(folder):
            try:
                size = tmp.stat().st_size
            except FileNotFoundError:
                continue
            if size >= written:
                proc.kill()
        os.sched_yield()
    proc.wait()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
def test_a_writer_killed_during_a_large_write_leaves_the_old_output_or_the_new_never_a_part(
    tmp_path: Path, big: Path, command: str
) -> None:
    for name in ("id", "big", "big.age"):
        os.link(big / name, tmp_path / name)
    plain = _digest((big / "big").read_bytes())
    argv = {
        "encrypt": ["encrypt", "-r", RECIPIENT, "--force", "-o", "out", "big"],
        "decrypt": ["decrypt", "-i", "id", "--force", "-o", "out", "big.age"],
    }[command]
    rng = random.Random(os.urandom(8))  # where to kill, not a secret
    for round_ in range(4):
        old = f"old output {round_}\n".encode()
        (tmp_path / "out").write_bytes(old)
        proc = subprocess.Popen(
            [sys.executable, "-m", "sealbox", *argv],
            cwd=tmp_path,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _kill_once_written(proc, tmp_path, rng.randrange(BIG))
        data = (tmp_path / "out").read_bytes()
        if data != old:
            # Killed after the rename (or not at all): the whole new output.
            assert proc.returncode in (0, -signal.SIGKILL)
            opened = data if command == "decrypt" else age.decrypt(data, [ME])
            assert _digest(opened) == plain
        assert _digest((tmp_path / "big").read_bytes()) == plain
    # The temporary a killed writer left is removed by the next write into the folder.
    r = _sealbox(["encrypt", "-r", RECIPIENT, "--force", "-o", "out", "id"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert _temporaries(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big", "big.age", "id", "out"]
