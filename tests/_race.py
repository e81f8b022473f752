"""Racing real processes: start N commands at the same instant, optionally kill some."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Sleep until the shared start time, then become the sealbox program.
_WAIT_THEN_EXEC = (
    "import os, sys, time; time.sleep(max(0.0, float(sys.argv[1]) - time.time())); "
    "os.execv(sys.executable, [sys.executable, '-m', 'sealbox', *sys.argv[2:]])"
)
# Say "ready" on one pipe, wait for the other to be closed, then become the sealbox
# program: every process waits in the same read, and the close wakes them all at once.
_READY_THEN_EXEC = (
    "import os, sys; ready, go = int(sys.argv[1]), int(sys.argv[2]); os.write(ready, b'.'); "
    "os.close(ready); os.read(go, 1); os.close(go); "
    "os.execv(sys.executable, [sys.executable, '-m', 'sealbox', *sys.argv[3:]])"
)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    env.update(extra or {})
    return env


def start_together(
    commands: Sequence[Sequence[object]],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    inputs: Sequence[bytes] | None = None,
    lead: float | None = 1.0,
) -> list[subprocess.Popen[bytes]]:
    """Start one ``sealbox`` process per command; all begin work ``lead`` s from now, or,
    with ``lead=None``, as soon as every one of them is ready to (then this returns)."""
    if lead is None:
        return _start_when_ready(commands, env=env, cwd=cwd, inputs=inputs)
    t0 = time.time() + lead
    procs = []
    for i, args in enumerate(commands):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WAIT_THEN_EXEC, repr(t0), *map(str, args)],
            stdin=subprocess.PIPE if inputs else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(env),
            cwd=cwd,
        )
        _give_input(proc, inputs[i] if inputs else None)
        procs.append(proc)
    return procs


def _give_input(proc: subprocess.Popen[bytes], data: bytes | None) -> None:
    if data is not None:
        assert proc.stdin is not None
        proc.stdin.write(data)
        proc.stdin.close()
        proc.stdin = None


def _start_when_ready(
    commands: Sequence[Sequence[object]],
    *,
    env: dict[str, str] | None,
    cwd: Path | None,
    inputs: Sequence[bytes] | None,
) -> list[subprocess.Popen[bytes]]:
    """Start the commands together once each process says it is ready: no start time
    guessed ahead, which either waits for nothing or comes before the last is up."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    procs = []
    try:
        for i, args in enumerate(commands):
            proc = subprocess.Popen(
                [sys.executable, "-c", _READY_THEN_EXEC, str(ready_w), str(go_r)]
                + [str(a) for a in args],
                stdin=subprocess.PIPE if inputs else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=clean_env(env),
                cwd=cwd,
                pass_fds=(ready_w, go_r),
            )
            _give_input(proc, inputs[i] if inputs else None)
            procs.append(proc)
        os.close(ready_w)
        ready_w = -1
        said, deadline = 0, time.monotonic() + 120
        # Every process says it once; an end of file means those not yet ready are gone.
        while said < len(procs):
            left = deadline - time.monotonic()
            assert left > 0, f"{len(procs) - said} of the processes never got ready"
            if select.select([ready_r], [], [], left)[0]:
                got = os.read(ready_r, len(procs))
                if not got:
                    break
                said += len(got)
    finally:
        for fd in (ready_r, ready_w, go_r, go_w):
            if fd >= 0:
                os.close(fd)  # closing go_w lets them all go
    return procs


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


def finish(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 120) -> list[Outcome]:
    """Wait for every process; return each one's exit status, stdout and stderr."""
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        results.append(
            Outcome(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))
        )
    return results


def race(commands: Sequence[Sequence[object]], **kw: object) -> list[Outcome]:
    """Run the commands at the same instant, once all are ready; return each one's outcome."""
    kw.setdefault("lead", None)
    return finish(start_together(commands, **kw))  # type: ignore[arg-type]


def kill_at(proc: subprocess.Popen[bytes], delay: float) -> None:
    """SIGKILL ``proc`` after ``delay`` seconds (if it still runs)."""
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
