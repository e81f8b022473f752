"""File encryption: sealbox (age format) against the age CLI, pyrage and the original recipe.

Issue targets, 1 GiB file to file, measured in the same run: encrypt and decrypt at
least 1.5x as fast as the `age` CLI and 2x `pyrage`; peak RSS at most 64 MiB for
1 GiB and 4 GiB (memory flat). Every tool runs as its own child process (the
sealbox and age command lines; pyrage's `encrypt_file`/`decrypt_file` in a
Python child), so peak RSS is the child's own (``wait4``). The original recipe
(PBKDF2 + one Fernet token for the whole file) is measured on a smaller file:
it holds the whole file several times in memory.

The machine is shared and its page cache is not: how fast a tool writes 1 GiB
depends on what the run before it freed. The order of the tools therefore
rotates from round to round, every figure is a median, and the CPU time of each
run is recorded next to its wall time (CPU time / wall time is how many cores
the tool got).
"""

from __future__ import annotations

import compileall
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench._harness import Figure, Row, command_seconds, log, make_file, write_results

HERE = Path(__file__).resolve().parent
TMP = HERE / "tmp"
VENV_BIN = Path(sys.executable).parent
MIB = 1024 * 1024

FERNET_SCRIPT = """
import base64, os, sys
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
mode, src, dst = sys.argv[1:4]
def key(salt):
    kdf = PBKDF2HMAC(algorithm=SHA256(), length=32, salt=salt, iterations=100_000)
    return base64.urlsafe_b64encode(kdf.derive(b"bench password"))
data = open(src, "rb").read()
if mode == "enc":
    salt = os.urandom(16)
    out = salt + Fernet(key(salt)).encrypt(data)
else:
    out = Fernet(key(data[:16])).decrypt(data[16:])
open(dst, "wb").write(out)
"""

PYRAGE_SCRIPT = """
import sys, pyrage
mode, src, dst, key = sys.argv[1:5]
if mode == "enc":
    pyrage.encrypt_file(src, dst, [pyrage.x25519.Recipient.from_str(key)])
else:
    pyrage.decrypt_file(src, dst, [pyrage.x25519.Identity.from_str(key)])
"""


def _run(argv: list[str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds (user + system) of one child process.

    The child is started by /usr/bin/time, a small program: Linux carries the
    peak RSS of the forking process into the child, so forking from this Python
    process would inflate every figure. The dirty pages the previous run left
    (its 1 GiB output) are written out first, untimed: otherwise the kernel's
    writeback of one tool's output competes with the next tool for the two cores.
    """
    os.sync()
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M %U %S", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    err = proc.stderr.decode()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {err}")
    rss, user, system = err.strip().splitlines()[-1].split()
    return elapsed, int(rss) / 1024, float(user) + float(system)


def _peak_pss(argv: list[str]) -> float:
    """Peak proportional set size (MiB) of a command and the processes it forks, together.

    ``sealbox encrypt``/``decrypt`` run a forked second worker: the RSS that Linux
    reports for a process and its children is the larger of the two, each
    counting the pages they share. The sum of their PSS counts every page once.
    Sampled from /proc every 5 ms.
    """

    def pss(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                return next(int(line.split()[1]) for line in fh if line.startswith("Pss:"))
        except (OSError, StopIteration):
            return 0

    def children(pid: int) -> list[int]:
        found = []
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    found += [int(c) for c in fh.read().split()]
        except OSError:
            pass
        return found

    os.sync()
    peak = 0
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        while proc.poll() is None:
            peak = max(peak, sum(pss(p) for p in [proc.pid, *children(proc.pid)]))
            time.sleep(0.005)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {proc.stderr.read().decode()}")
    return peak / 1024


def _compile_sealbox() -> None:
    """Write sealbox's bytecode, as installing a wheel does.

    An editable install under ``PYTHONDONTWRITEBYTECODE`` would otherwise compile
    every module from source on each run (about 40 ms), which an installed
    sealbox never does; the Python peers are installed packages with bytecode.
    """
    import sealbox

    compileall.compile_dir(Path(sealbox.__file__).parent, quiet=1)


def _rm(*paths: Path) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def main(quick: bool = False) -> None:
    if shutil.which("age") is None or not Path("/usr/bin/time").exists():
        raise SystemExit("the age CLI and /usr/bin/time are needed (make system-deps)")
    TMP.mkdir(exist_ok=True)
    size = (128 if quick else 1024) * MIB
    rounds = 1 if quick else 5
    plain, sealed, out = TMP / "plain.bin", TMP / "sealed.age", TMP / "out.bin"
    key_file = TMP / "key.txt"
    from sealbox import age

    identity = age.X25519Identity.generate()
    key_file.write_text(age.identity_file(identity))
    recipient = str(identity.recipient())
    secret = identity.expose_secret()
    sealbox = str(VENV_BIN / "sealbox")
    py = sys.executable
    try:
        log(f"age: writing a {size // MIB} MiB test file")
        make_file(plain, size)
        encrypt = {
            "sealbox": [sealbox, "encrypt", "-r", recipient, "-o", str(sealed), str(plain)],
            "age": ["age", "-r", recipient, "-o", str(sealed), str(plain)],
            "pyrage": [py, "-c", PYRAGE_SCRIPT, "enc", str(plain), str(sealed), recipient],
        }
        decrypt = {
            "sealbox": [sealbox, "decrypt", "-i", str(key_file), "-o", str(out), str(sealed)],
            "age": ["age", "-d", "-i", str(key_file), "-o", str(out), str(sealed)],
            "pyrage": [py, "-c", PYRAGE_SCRIPT, "dec", str(sealed), str(out), secret],
        }
        _compile_sealbox()
        load_before = os.getloadavg()
        times: dict[str, list[float]] = {f"{op}/{t}": [] for op in ("enc", "dec") for t in encrypt}
        cpu: dict[str, list[float]] = {k: [] for k in times}
        rss: dict[str, float] = {}
        tools = list(encrypt)
        for r in range(rounds):
            # Rotate the order: each tool in turn runs first, after another tool's files.
            for tool in tools[r % len(tools) :] + tools[: r % len(tools)]:
                log(f"age: round {r + 1}/{rounds}, {tool}")
                _rm(sealed)
                t, m, c = _run(encrypt[tool])
                times[f"enc/{tool}"].append(t)
                cpu[f"enc/{tool}"].append(c)
                rss[f"enc/{tool}"] = max(rss.get(f"enc/{tool}", 0), m)
                _rm(out)
                t, m, c = _run(decrypt[tool])
                times[f"dec/{tool}"].append(t)
                cpu[f"dec/{tool}"].append(c)
                rss[f"dec/{tool}"] = max(rss.get(f"dec/{tool}", 0), m)
                if tool == "sealbox" and r == 0:
                    with plain.open("rb") as a, out.open("rb") as b:
                        assert a.read(1 << 20) == b.read(1 << 20)
                _rm(out)
        load_after = os.getloadavg()
        rate = {k: size / 1e6 / statistics.median(v) for k, v in times.items()}
        gib = f"{size // MIB} MiB" if quick else "1 GiB"
        rows = [
            Row(
                f"encrypt {gib} file to file",
                "MB/s",
                rate["enc/sealbox"],
                rate["enc/age"],
                "age 1.1.1 CLI",
                target=1.5,
            ),
            Row(
                f"decrypt {gib} file to file",
                "MB/s",
                rate["dec/sealbox"],
                rate["dec/age"],
                "age 1.1.1 CLI",
                target=1.5,
            ),
            Row(
                f"encrypt {gib} file to file",
                "MB/s",
                rate["enc/sealbox"],
                rate["enc/pyrage"],
                "pyrage encrypt_file",
                target=2.0,
            ),
            Row(
                f"decrypt {gib} file to file",
                "MB/s",
                rate["dec/sealbox"],
                rate["dec/pyrage"],
                "pyrage decrypt_file",
                target=2.0,
            ),
        ]
        figures = [
            Figure(
                f"peak RSS, {op} {gib}, {tool}",
                "MiB",
                rss[f"{op}/{tool}"],
                "target <= 64 MiB" if tool == "sealbox" else "",
            )
            for op in ("enc", "dec")
            for tool in ("sealbox", "age", "pyrage")
        ]

        def cores(key: str) -> float:
            return statistics.median(c / t for c, t in zip(cpu[key], times[key], strict=True))

        figures += [
            Figure(
                f"CPU time, {op} {gib}, {tool}",
                "s",
                statistics.median(cpu[f"{op}/{tool}"]),
                f"cores used: {cores(f'{op}/{tool}'):.2f}",
            )
            for op in ("enc", "dec")
            for tool in ("sealbox", "age", "pyrage")
        ]
        small = TMP / "small.bin"
        small.write_bytes(os.urandom(1024))
        small_sealed, small_out = TMP / "small.age", TMP / "small.out"
        subprocess.run(["age", "-r", recipient, "-o", str(small_sealed), str(small)], check=True)
        startup = {
            "sealbox": [sealbox, "decrypt", "-i", str(key_file), "--force", "-o", str(small_out)],
            "age": ["age", "-d", "-i", str(key_file), "-o", str(small_out)],
        }
        figures += [
            Figure(
                f"start-up: decrypt a 1 KiB file, {tool}",
                "ms",
                1000 * command_seconds([*argv, str(small_sealed)], repeat=15),
                "median of 15 runs",
            )
            for tool, argv in startup.items()
        ]
        _rm(small, small_sealed, small_out)
        if not quick:
            big = 4 * 1024 * MIB
            log("age: peak RSS on a 4 GiB file")
            _rm(sealed, out)
            make_file(plain, big)
            _, m_enc, _ = _run(encrypt["sealbox"])
            _, m_dec, _ = _run(decrypt["sealbox"])
            figures += [
                Figure("peak RSS, enc 4 GiB, sealbox", "MiB", m_enc, "target <= 64 MiB (flat)"),
                Figure("peak RSS, dec 4 GiB, sealbox", "MiB", m_dec, "target <= 64 MiB (flat)"),
            ]
            _rm(sealed, out)
            p_enc = _peak_pss(encrypt["sealbox"])
            p_dec = _peak_pss(decrypt["sealbox"])
            figures += [
                Figure(
                    "peak PSS of both processes, enc 4 GiB, sealbox",
                    "MiB",
                    p_enc,
                    "target <= 64 MiB; sampled every 5 ms",
                ),
                Figure(
                    "peak PSS of both processes, dec 4 GiB, sealbox",
                    "MiB",
                    p_dec,
                    "target <= 64 MiB; sampled every 5 ms",
                ),
            ]
            _rm(sealed, out)
        # The original recipe: whole file in memory, one Fernet token.
        fsize = (64 if quick else 256) * MIB
        make_file(plain, fsize)
        fernet_out = TMP / "fernet.bin"
        t_fe, m_fe, _ = _run([py, "-c", FERNET_SCRIPT, "enc", str(plain), str(fernet_out)])
        t_fd, m_fd, _ = _run([py, "-c", FERNET_SCRIPT, "dec", str(fernet_out), str(out)])
        _rm(sealed, out)
        t_se, m_se, _ = _run(encrypt["sealbox"])
        t_sd, m_sd, _ = _run(decrypt["sealbox"])
        label = f"{fsize // MIB} MiB"
        rows += [
            Row(
                f"encrypt {label} file to file",
                "MB/s",
                fsize / 1e6 / t_se,
                fsize / 1e6 / t_fe,
                "original recipe (PBKDF2 + Fernet, whole file)",
            ),
            Row(
                f"decrypt {label} file to file",
                "MB/s",
                fsize / 1e6 / t_sd,
                fsize / 1e6 / t_fd,
                "original recipe (PBKDF2 + Fernet, whole file)",
            ),
        ]
        figures += [
            Figure(f"peak RSS, enc {label}, original recipe", "MiB", m_fe, "grows with the file"),
            Figure(f"peak RSS, dec {label}, original recipe", "MiB", m_fd, "grows with the file"),
            Figure(f"peak RSS, enc {label}, sealbox", "MiB", m_se),
            Figure(f"peak RSS, dec {label}, sealbox", "MiB", m_sd),
            Figure("Fernet output / input size", "ratio", fernet_out.stat().st_size / fsize),
        ]
        notes = [
            (
                f"Medians of {rounds} interleaved rounds, the order of the tools rotating "
                "from round to round; every tool is a child process (start-up included); "
                "X25519 recipient; output written to the page cache of the same disk, "
                "after an untimed sync that writes out what the previous run left."
            ),
            (
                "The machine is shared with other work: load average "
                f"{load_before[0]:.2f} before the rounds and {load_after[0]:.2f} after, "
                "on 2 cores. 'cores used' (CPU time / wall time) shows how much of the "
                "second core each tool got."
            ),
            (
                "sealbox's bytecode is compiled before the runs, as an installed wheel's "
                "is (this checkout is an editable install and the environment sets "
                "PYTHONDONTWRITEBYTECODE)."
            ),
            (
                "Peak RSS is the child's own maximum resident set (wait4). sealbox's "
                "file-to-file commands fork a second worker; Linux then reports the larger "
                "of the two processes' peaks, each counting the pages they share, so the "
                "two together are also measured as the sum of their proportional set "
                "sizes (PSS, every shared page counted once)."
            ),
            "Seconds per round (wall): "
            + "; ".join(f"{k} " + " ".join(f"{t:.2f}" for t in v) for k, v in times.items())
            + ".",
            (
                f"The original recipe is measured on {label}, not 1 GiB: it reads the whole "
                "file, builds the token and its base64 copy, and needs about 8 GiB of memory "
                "for 1 GiB, on a 2-core machine shared with other work."
            ),
        ]
        path = write_results("age", rows, figures, notes)
        log(f"age: wrote {path}")
    finally:
        _rm(plain, sealed, out, key_file, TMP / "fernet.bin")
