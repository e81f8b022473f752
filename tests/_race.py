"""Racing real processes: start N commands at the same instant, optionally kill some."""

from __future__ import annotations

import os
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
    lead: float = 1.0,
) -> list[subprocess.Popen[bytes]]:
    """Start one ``sealbox`` process per command; all begin work ``lead`` s from now."""
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
        if inputs:
            assert proc.stdin is not None
            proc.stdin.write(inputs[i])
            proc.stdin.close()
            proc.stdin = None
        procs.append(proc)
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
    """Run the commands at the same instant; return each one's outcome."""
    return finish(start_together(commands, **kw))  # type: ignore[arg-type]


def kill_at(proc: subprocess.Popen[bytes], delay: float) -> None:
    """SIGKILL ``proc`` after ``delay`` seconds (if it still runs)."""
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
