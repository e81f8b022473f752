"""Start-up: what a short ``sealbox`` command costs next to a bare interpreter's start.

Each command runs as a child process, alternating with ``python -I -c pass`` (the floor
any Python program pays) in pairs: bare, command, bare, command, … The pair ratios give
the spread, the medians give the figure. Environment variables that would change start-up
(``PYTHONDONTWRITEBYTECODE``, ``PYTHONPATH``) are cleared, and sealbox's bytecode is
written first, as an installed wheel has it.

Targets (issue 17): a small-file ``encrypt``/``decrypt`` at most 3.5x the bare start,
``jwt verify`` at most 6x.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._harness import Figure, Row, log, write_results
from bench.suite_age import _compile_sealbox

VENV_BIN = Path(sys.executable).parent
TARGETS = {"decrypt": 3.5, "encrypt": 3.5, "jwt verify": 6.0}


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "SEALBOX_DEBUG"}
    }
    env["NO_COLOR"] = "1"
    return env


def _once(argv: list[str], stdin: bytes | None, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, input=stdin, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def _pairs(
    argv: list[str], stdin: bytes | None, pairs: int, env: dict[str, str]
) -> tuple[list[float], list[float]]:
    bare_argv = [sys.executable, "-I", "-c", "pass"]
    for _ in range(3):  # warm the page cache for both
        _once(bare_argv, None, env)
        _once(argv, stdin, env)
    bare, cmd = [], []
    for _ in range(pairs):
        bare.append(_once(bare_argv, None, env))
        cmd.append(_once(argv, stdin, env))
    return bare, cmd


def main(quick: bool = False) -> None:
    from sealbox import age
    from sealbox.jwt import SigningKeySet

    _compile_sealbox()
    pairs = 7 if quick else 25
    env = _env()
    sealbox = str(VENV_BIN / "sealbox")
    tmp = Path(tempfile.mkdtemp(prefix="sealbox-bench-startup-"))
    try:
        identity = age.X25519Identity.generate()
        key_file = tmp / "key.txt"
        key_file.write_text(age.identity_file(identity))
        small = tmp / "small.bin"
        small.write_bytes(os.urandom(1024))
        sealed = tmp / "small.age"
        sealed.write_bytes(age.encrypt(small.read_bytes(), [identity.recipient()]))
        keys = SigningKeySet.generate()
        token = keys.issue("user-42", audience="api", scope=["read"])
        jwks = tmp / "jwks.json"
        import json

        jwks.write_text(json.dumps(keys.public_jwks()))
        out = str(tmp / "out")
        commands: dict[str, tuple[list[str], bytes | None]] = {
            "decrypt": (
                [sealbox, "decrypt", "-i", str(key_file), "-o", out, "--force", str(sealed)],
                None,
            ),
            "encrypt": (
                [
                    sealbox,
                    "encrypt",
                    "-r",
                    str(identity.recipient()),
                    "-o",
                    out,
                    "--force",
                    str(small),
                ],
                None,
            ),
            "jwt verify": (
                [sealbox, "jwt", "verify", "--jwks", str(jwks), "--aud", "api"],
                token.encode(),
            ),
        }
        if shutil.which("age"):
            commands["age -d (for scale)"] = (
                ["age", "-d", "-i", str(key_file), "-o", out, str(sealed)],
                None,
            )
        rows, figures = [], []
        bare_all: list[float] = []
        for name, (argv, stdin) in commands.items():
            log(f"startup: {name}, {pairs} alternating pairs")
            bare, cmd = _pairs(argv, stdin, pairs, env)
            bare_all += bare
            ratios = sorted(c / b for b, c in zip(bare, cmd, strict=True))
            multiple = statistics.median(cmd) / statistics.median(bare)
            spread = (
                f"pair ratios {ratios[0]:.2f}x-{ratios[-1]:.2f}x "
                f"(median {statistics.median(ratios):.2f}x)"
            )
            if name in TARGETS:
                rows.append(
                    Row(
                        f"start-up: {name}"
                        + (", a 1 KiB file" if "crypt" in name else ", one token"),
                        "ms",
                        1000 * statistics.median(cmd),
                        1000 * statistics.median(bare),
                        "python -I -c pass",
                        higher_is_better=False,
                        target=1 / TARGETS[name],
                        target_text=f"<= {TARGETS[name]}x the bare start",
                        note=f"{name}: {multiple:.2f}x the bare start; {spread}",
                    )
                )
            figures.append(Figure(f"{name}: multiple of the bare start", "x", multiple, spread))
        figures.append(
            Figure(
                "bare interpreter start",
                "ms",
                1000 * statistics.median(bare_all),
                "python -I -c pass",
            )
        )
        write_results(
            "startup",
            rows,
            figures,
            notes=[
                (
                    f"{pairs} alternating pairs per command (bare start, command); medians; "
                    "the ratio column is bare/command, so a target of <= 3.5x reads as >= 0.29."
                )
            ],
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
