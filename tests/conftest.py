"""Shared test helpers: vectors, real peers, and running the CLI."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

settings.register_profile(
    "sealbox", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("sealbox")


def pytest_configure(config: pytest.Config) -> None:
    # The tests start `sealbox` in thousands of processes. Where PYTHONDONTWRITEBYTECODE is
    # set (CI machines often set it), none writes the bytecode of the modules it compiles,
    # and each would compile sealbox's again: compiled once here (by the first process of
    # the run, before its workers start), every start reads them. Python compiles a module
    # whose source changed since, as always.
    if hasattr(config, "workerinput"):
        return
    import compileall

    import sealbox

    compileall.compile_dir(Path(sealbox.__file__).parent, quiet=2)


def vectors_root() -> Path | None:
    """Where the shared vectors are: $SEALBOX_VECTORS, else ../shared/vectors."""
    env = os.environ.get("SEALBOX_VECTORS")
    path = Path(env) if env else ROOT.parent / "shared" / "vectors"
    return path if path.is_dir() else None


def vectors(sub: str) -> Path:
    """Return a vector folder or skip the test with the reason."""
    root = vectors_root()
    if root is None or not (root / sub).exists():
        pytest.skip(
            f"test vectors {sub!r} not found: set SEALBOX_VECTORS or place them at "
            f"{ROOT.parent / 'shared' / 'vectors'}"
        )
    return root / sub


def require_tool(name: str) -> str:
    """Return the path of a real peer program; skip without it (fail under CI=true)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name!r} is not installed (make test installs it where apt-get is usable)"
        if IN_CI:
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    return path


def require_module(name: str) -> None:
    """Skip without a Python peer package (fail under CI=true)."""
    try:
        __import__(name)
    except ImportError:
        message = f"Python package {name!r} is not installed (pip install -e '.[dev]')"
        if IN_CI:
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)


@dataclass
class Result:
    code: int
    stdout: bytes
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout.decode()


class _Std(io.TextIOWrapper):
    def isatty(self) -> bool:
        return False


def run_cli(
    args: list[str],
    *,
    input: bytes = b"",
    env: dict[str, str] | None = None,
    monkeypatch: pytest.MonkeyPatch,
) -> Result:
    """Run the CLI in this process with its own stdin/stdout/stderr and environment."""
    from sealbox.cli import main

    stdin = _Std(io.BytesIO(input), encoding="utf-8")
    out_buf, err_buf = io.BytesIO(), io.BytesIO()
    stdout = _Std(out_buf, encoding="utf-8", write_through=True)
    stderr = _Std(err_buf, encoding="utf-8", write_through=True)
    with monkeypatch.context() as m:
        for key in list(os.environ):
            if key.startswith("SEALBOX_"):
                m.delenv(key)
        for key, value in (env or {}).items():
            m.setenv(key, value)
        m.setattr(sys, "stdin", stdin)
        m.setattr(sys, "stdout", stdout)
        m.setattr(sys, "stderr", stderr)
        code = main(args)
        stdout.flush()
        stderr.flush()
    return Result(code, out_buf.getvalue(), err_buf.getvalue().decode())


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):
    """``cli(args, input=b"", env={})`` runs sealbox in-process and returns a Result."""

    def invoke(args: list[str], *, input: bytes = b"", env: dict[str, str] | None = None):
        return run_cli([str(a) for a in args], input=input, env=env, monkeypatch=monkeypatch)

    return invoke


def run_sealbox(
    args: list[str], *, input: bytes = b"", env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """Run the real ``sealbox`` program in a subprocess (for end-to-end checks).

    It runs in a session of its own, without a controlling terminal, as under CI: a
    command that would ask on the terminal behaves the same when the suite is run from
    one (tests of prompts use pexpect).
    """
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "sealbox", *map(str, args)],
        input=input,
        capture_output=True,
        env=full_env,
        timeout=timeout,
        check=False,
        start_new_session=True,
    )


def sealbox_on_terminal(
    args: list[object],
    answers: list[tuple[str, str]],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, bytes]:
    """Run the real ``sealbox`` on a pseudo-terminal, answering each ``(prompt pattern,
    reply)`` in turn; return its exit status and what it printed after the last answer."""
    pexpect = pytest.importorskip("pexpect")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    full_env.update(env or {})
    child = pexpect.spawn(
        sys.executable, ["-m", "sealbox", *map(str, args)], env=full_env, timeout=timeout
    )
    for prompt, reply in answers:
        child.expect(prompt)
        child.sendline(reply)
    child.expect(pexpect.EOF)
    child.wait()
    return child.exitstatus, child.before


@pytest.fixture
def no_vault_environment(monkeypatch, tmp_path) -> None:
    """No Vault address, token, namespace or CA from the environment, and no
    ``~/.vault-token`` (``HOME`` is the test's own folder)."""
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture(scope="module")
def vault_ca():
    """A private CA (trustme) for the fake Vault server's certificate."""
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture(scope="module")
def vault_ca_file(vault_ca, tmp_path_factory) -> Path:
    """The PEM file of :func:`vault_ca`, for ``ca=``."""
    path = tmp_path_factory.mktemp("vault-ca") / "ca.pem"
    vault_ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def small_fs(tmp_path: Path):
    """A 1 MiB tmpfs mounted for the test (root only); yields its path, unmounts after.

    ``fill(path)`` writes a file until the file system is full.
    """
    if os.geteuid() != 0 or shutil.which("mount") is None:
        message = "mounting a small file system needs root and mount(8)"
        if IN_CI:
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    mount_point = tmp_path / "small-fs"
    mount_point.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if r.returncode != 0:
        message = f"cannot mount a tmpfs here: {r.stderr.decode().strip()}"
        if IN_CI:
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(path: Path) -> None:
    """Write ``path`` until the file system holding it has no room left."""
    with path.open("wb", buffering=0) as fh:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError:
                continue


@pytest.fixture(autouse=True)
def _forget_secrets_registered_by_the_test():
    """The CLI, run in-process, registers the passphrases it reads with the
    process-wide redactor, as it should for its one-shot process; here those
    registrations would follow into every later test of the worker."""
    from sealbox.secret import default_redactor

    # Registrations are counted: forget as many of each value as the test added.
    before = dict(default_redactor._registered)
    yield
    for value, count in list(default_redactor._registered.items()):
        for _ in range(count - before.get(value, 0)):
            default_redactor.discard(value)
