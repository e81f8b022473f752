"""File encryption: sealbox (age format) against the age CLI, pyrage, a plain copy and Fernet.

Issue targets, 1 GiB file to file: encrypt and decrypt at least 2x as fast as the
`age` CLI, on the command line and through the library (``encrypt_file`` and
``decrypt_file`` in a Python child); peak RSS at most 64 MiB at 1 GiB and at
4 GiB (memory flat). pyrage is a second anchor.

How it is measured, and why:

- Every tool runs as its own child process, started through /usr/bin/time (a
  small program: Linux carries the peak RSS of the forking process into the
  child, so forking from this Python process would inflate every figure). Its
  ``wait4`` gives the peak RSS and the user and system time of the whole process
  tree (sealbox's forked second worker included); waiting is wall - user -
  system (negative when two cores worked at once).
- The tools run in alternating rounds: one round runs each tool once, the anchor
  and sealbox side by side, and the order reverses from round to round, so that
  no tool always runs after the same one (how fast a tool writes 1 GiB depends
  on what the run before it freed). A figure is the median of the rounds; a
  ratio is the median of the per-round ratios, with their lowest and highest.
- Before each run the previous output is removed and everything dirty is written
  out (``sync``), untimed for the run but timed on its own: what forcing the
  output to disk would add to a tool that does not (age does not; sealbox fsyncs
  before the rename, within its time).
- The copy ceiling is how fast the page cache takes a 1 GiB file at all: ``cp``
  (an in-kernel ``copy_file_range``), ``dd bs=4M`` and a Python loop that reads
  4 MiB and writes it in 32 KiB pieces (sealbox's write pattern), run in the same
  rounds. "how close" is sealbox's rate over the best copy's.
- The durable write floor is the least time any tool needs to leave a 1 GiB output
  on disk, as sealbox's crash safety requires (temporary file, ``fsync``, rename):
  the output written from one warm buffer, with no input read and no cipher, once
  as sealbox writes (in pieces, written behind) and once with ``O_DIRECT`` from two
  threads; each round takes the faster. age's time over the floor's is the most any
  durable tool can reach against age on the machine.
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
from typing import IO, cast

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

LIBRARY_SCRIPT = """
import sys
from sealbox import age
mode, src, dst, key = sys.argv[1:5]
if mode == "enc":
    age.encrypt_file(src, dst, [age.parse_recipient(key)])
else:
    age.decrypt_file(src, dst, age.parse_identities(open(key, "rb").read()))
"""

# Reads 4 MiB at a time into one page-aligned buffer and writes it in 32 KiB pieces.
COPY_SCRIPT = """
import mmap, os, sys
src = os.open(sys.argv[1], os.O_RDONLY)
dst = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
buf = memoryview(mmap.mmap(-1, 4 << 20))
while n := os.readv(src, [buf]):
    for a in range(0, n, 32768):
        os.write(dst, buf[a : min(n, a + 32768)])
"""

# The least time any tool needs to leave a 1 GiB output on disk here, as sealbox must
# (temporary file, fsync, rename): the output written from one warm buffer, with no input
# read and no cipher. "behind": as sealbox writes (sealbox.age._output: pieces, written
# behind); "direct": O_DIRECT, 4 MiB at a time from two threads, past the page cache.
DURABLE_SCRIPT = """
import mmap, os, sys, threading
from sealbox.age._output import SEALED_BATCH, write_all, write_behind
mode, dst, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
tmp = dst + ".tmp"
step = SEALED_BATCH if mode == "behind" else 4 << 20
buf = mmap.mmap(-1, step)
buf.write(os.urandom(step))
data = memoryview(buf)
flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (os.O_DIRECT if mode == "direct" else 0)
fd = os.open(tmp, flags, 0o600)
if mode == "behind":
    for at in range(0, size, step):
        piece = data[: min(step, size - at)]
        write_all(fd, piece, at)
        write_behind(fd, at, len(piece))
else:
    def lane(first):
        for at in range(first * step, size, 2 * step):
            os.pwrite(fd, data, at)
    lanes = [threading.Thread(target=lane, args=(i,)) for i in (0, 1)]
    for t in lanes:
        t.start()
    for t in lanes:
        t.join()
os.fsync(fd)
os.close(fd)
os.rename(tmp, dst)
"""


class Sample:
    """One run of one tool: wall, user and system seconds, peak RSS, and the sync after it."""

    __slots__ = ("rss", "sync", "sys", "user", "wall")

    def __init__(self, wall: float, user: float, sys_: float, rss: float) -> None:
        self.wall, self.user, self.sys, self.rss = wall, user, sys_, rss
        self.sync = 0.0

    @property
    def waiting(self) -> float:
        return self.wall - self.user - self.sys


def _run(argv: list[str]) -> Sample:
    """Run one child to completion after writing out what earlier runs left."""
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
    sample = Sample(elapsed, float(user), float(system), int(rss) / 1024)
    t0 = time.perf_counter()
    os.sync()  # the output to disk: what an fsync before the rename would cost
    sample.sync = time.perf_counter() - t0
    return sample


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
            stderr = cast(IO[bytes], proc.stderr)  # a pipe: stderr=PIPE above
            raise RuntimeError(f"{argv[0]} failed: {stderr.read().decode()}")
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


def _disk(path: Path) -> str:
    """The device and file system holding ``path``, as /proc/mounts names them."""
    best = ("", "", "")
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            dev, mount, fstype = line.split()[:3]
            if str(path).startswith(mount) and len(mount) >= len(best[1]):
                best = (dev, mount, fstype)
    except OSError:
        pass
    return f"{best[0]} ({best[2]})"


def _med(values: list[float]) -> float:
    return statistics.median(values)


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def main(quick: bool = False) -> None:
    if shutil.which("age") is None or not Path("/usr/bin/time").exists():
        raise SystemExit("the age CLI and /usr/bin/time are needed (make system-deps)")
    TMP.mkdir(exist_ok=True)
    size = (128 if quick else 1024) * MIB
    rounds = 2 if quick else 5
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
        subprocess.run(["age", "-r", recipient, "-o", str(sealed), str(plain)], check=True)
        for path in (plain, sealed):  # both in the page cache before the first run
            subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)
        # Tool -> (encrypt argv, decrypt argv); the decrypts all read the same age file.
        tools = {
            "age": (
                ["age", "-r", recipient, "-o", str(out), str(plain)],
                ["age", "-d", "-i", str(key_file), "-o", str(out), str(sealed)],
            ),
            "sealbox CLI": (
                [sealbox, "encrypt", "-r", recipient, "-o", str(out), str(plain)],
                [sealbox, "decrypt", "-i", str(key_file), "-o", str(out), str(sealed)],
            ),
            "sealbox library": (
                [py, "-c", LIBRARY_SCRIPT, "enc", str(plain), str(out), recipient],
                [py, "-c", LIBRARY_SCRIPT, "dec", str(sealed), str(out), str(key_file)],
            ),
            "pyrage": (
                [py, "-c", PYRAGE_SCRIPT, "enc", str(plain), str(out), recipient],
                [py, "-c", PYRAGE_SCRIPT, "dec", str(sealed), str(out), secret],
            ),
        }
        copies = {
            "cp": ["cp", str(plain), str(out)],
            "dd bs=4M": ["dd", f"if={plain}", f"of={out}", "bs=4M", "status=none"],
            "Python loop": [py, "-c", COPY_SCRIPT, str(plain), str(out)],
        }
        jobs = [(f"enc/{t}", argv[0]) for t, argv in tools.items()]
        jobs += [(f"dec/{t}", argv[1]) for t, argv in tools.items()]
        jobs += [(f"copy/{name}", argv) for name, argv in copies.items()]
        floors = {
            mode: [py, "-c", DURABLE_SCRIPT, mode, str(out), str(size)]
            for mode in ("behind", "direct")
        }
        jobs += [(f"floor/{mode}", argv) for mode, argv in floors.items()]
        _compile_sealbox()
        load_before = os.getloadavg()
        samples: dict[str, list[Sample]] = {name: [] for name, _ in jobs}
        for r in range(rounds):
            order = jobs if r % 2 == 0 else jobs[::-1]
            log(f"age: round {r + 1}/{rounds}")
            for name, argv in order:
                _rm(out)
                samples[name].append(_run(argv))
                if name == "dec/sealbox CLI" and r == 0:
                    with plain.open("rb") as a, out.open("rb") as b:
                        assert a.read(1 << 20) == b.read(1 << 20)
        _rm(out)
        load_after = os.getloadavg()
        gib = f"{size // MIB} MiB" if quick else "1 GiB"

        def rate(name: str) -> float:
            return size / 1e6 / _med([s.wall for s in samples[name]])

        def pair_ratios(mine: str, anchor: str, field: str = "wall") -> list[float]:
            return [
                getattr(a, field) / getattr(m, field)
                for m, a in zip(samples[mine], samples[anchor], strict=True)
            ]

        rows: list[Row] = []
        notes: list[str] = []
        best_copy = max(copies, key=lambda c: rate(f"copy/{c}"))
        # Per round, the faster of the two durable writes: the floor of that round.
        floor_runs = [[s.wall for s in samples[f"floor/{m}"]] for m in floors]
        floor_walls = [min(runs) for runs in zip(*floor_runs, strict=True)]
        floor_rate = size / 1e6 / _med(floor_walls)
        for op, verb in (("enc", "encrypt"), ("dec", "decrypt")):
            age_walls = [s.wall for s in samples[f"{op}/age"]]
            reach = [a / f for a, f in zip(age_walls, floor_walls, strict=True)]
            rows.append(
                Row(
                    f"{gib} written durably from memory, no input read, no cipher",
                    "MB/s",
                    floor_rate,
                    rate(f"{op}/age"),
                    f"age 1.1.1 CLI, {verb}: the most any durable tool reaches",
                    note=(
                        f"{verb}: age's wall time over the durable write floor's, per round "
                        + " ".join(f"{x:.2f}" for x in reach)
                        + f" (median {_med(reach):.2f}). A tool that leaves its output on "
                        "disk, as sealbox's crash safety requires, is at most this many "
                        "times as fast as age here."
                    ),
                )
            )
            rows[-1].ratio = _med(reach)
            for tool in ("sealbox CLI", "sealbox library"):
                mine = f"{op}/{tool}"
                for anchor, label, target in (
                    ("age", "age 1.1.1 CLI", 2.0),
                    ("pyrage", f"pyrage {verb}_file", None),
                ):
                    ratios = pair_ratios(mine, f"{op}/{anchor}")
                    rows.append(
                        Row(
                            f"{verb} {gib} file to file, {tool}",
                            "MB/s",
                            rate(mine),
                            rate(f"{op}/{anchor}"),
                            label,
                            target=target,
                            target_text=">= 2x (median of pairs)" if target else "",
                            note=(
                                f"{verb}, {tool} vs {anchor}: per-round wall ratios "
                                + " ".join(f"{x:.2f}" for x in ratios)
                                + f" (median {_med(ratios):.2f}, spread {_spread(ratios)})."
                            ),
                        )
                    )
                    # Judged on the median of the per-round ratios, not on the ratio of
                    # the medians: a round's two runs saw the same load.
                    rows[-1].ratio = _med(ratios)
                    rows[-1].meets_target = None if target is None else rows[-1].ratio >= target
                rows.append(
                    Row(
                        f"{verb} {gib} file to file, {tool}",
                        "MB/s",
                        rate(mine),
                        rate(f"copy/{best_copy}"),
                        f"copy ceiling ({best_copy}): how close",
                    )
                )
                rows.append(
                    Row(
                        f"{verb} {gib} file to file, {tool}",
                        "MB/s",
                        rate(mine),
                        floor_rate,
                        "durable write floor: how close",
                    )
                )
        figures: list[Figure] = []
        for name, runs in samples.items():
            figures.append(
                Figure(
                    f"{name}: wall / user / system / waiting",
                    "s",
                    _med([s.wall for s in runs]),
                    f"user {_med([s.user for s in runs]):.2f}, "
                    f"system {_med([s.sys for s in runs]):.2f}, "
                    f"waiting {_med([s.waiting for s in runs]):.2f}; "
                    f"wall spread {_spread([s.wall for s in runs])}; "
                    f"sync after {_med([s.sync for s in runs]):.2f} s; "
                    f"peak RSS {max(s.rss for s in runs):.1f} MiB",
                )
            )
        for name in copies:
            figures.append(Figure(f"copy ceiling, {name}", "MB/s", rate(f"copy/{name}")))
        for mode in floors:
            figures.append(Figure(f"durable write floor, {mode}", "MB/s", rate(f"floor/{mode}")))
        for op in ("enc", "dec"):
            for tool in ("sealbox CLI", "sealbox library"):
                figures.append(
                    Figure(
                        f"peak RSS, {op} {gib}, {tool}",
                        "MiB",
                        max(s.rss for s in samples[f"{op}/{tool}"]),
                        "target <= 64 MiB",
                    )
                )
        cpu_ratios = {
            f"{op}/{tool}": [
                (a.user + a.sys) / (m.user + m.sys)
                for m, a in zip(samples[f"{op}/{tool}"], samples[f"{op}/age"], strict=True)
            ]
            for op in ("enc", "dec")
            for tool in ("sealbox CLI", "sealbox library")
        }
        for key, ratios in cpu_ratios.items():
            figures.append(
                Figure(
                    f"CPU time (user + system) of age / of sealbox, {key}",
                    "ratio",
                    _med(ratios),
                    f"per-round spread {_spread(ratios)}; robust to other load on the machine",
                )
            )
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
            big_sealed = [*tools["sealbox CLI"][0][:-3], "-o", str(sealed), str(plain)]
            for tool in ("sealbox CLI", "sealbox library", "age"):
                enc_argv, dec_argv = tools[tool]
                enc_argv = [str(sealed) if a == str(out) else a for a in enc_argv]
                enc = _run(enc_argv)
                dec = _run(dec_argv)
                _rm(out)
                note = "target <= 64 MiB (flat)" if tool != "age" else ""
                figures += [
                    Figure(f"peak RSS, enc 4 GiB, {tool}", "MiB", enc.rss, note),
                    Figure(f"peak RSS, dec 4 GiB, {tool}", "MiB", dec.rss, note),
                ]
                if tool == "sealbox CLI":
                    _rm(sealed)
                    p_enc = _peak_pss(big_sealed)
                    p_dec = _peak_pss(dec_argv)
                    _rm(out)
                    figures += [
                        Figure(
                            "peak PSS of both processes, enc 4 GiB, sealbox CLI",
                            "MiB",
                            p_enc,
                            "target <= 64 MiB; sampled every 5 ms",
                        ),
                        Figure(
                            "peak PSS of both processes, dec 4 GiB, sealbox CLI",
                            "MiB",
                            p_dec,
                            "target <= 64 MiB; sampled every 5 ms",
                        ),
                    ]
                _rm(sealed)
        # The original recipe: whole file in memory, one Fernet token.
        fsize = (64 if quick else 256) * MIB
        make_file(plain, fsize)
        fernet_out = TMP / "fernet.bin"
        fe = _run([py, "-c", FERNET_SCRIPT, "enc", str(plain), str(fernet_out)])
        fd = _run([py, "-c", FERNET_SCRIPT, "dec", str(fernet_out), str(out)])
        _rm(sealed, out)
        small_enc = [str(sealed) if a == str(out) else a for a in tools["sealbox CLI"][0]]
        se = _run(small_enc)
        sd = _run(tools["sealbox CLI"][1])
        label = f"{fsize // MIB} MiB"
        rows += [
            Row(
                f"encrypt {label} file to file",
                "MB/s",
                fsize / 1e6 / se.wall,
                fsize / 1e6 / fe.wall,
                "original recipe (PBKDF2 + Fernet, whole file)",
            ),
            Row(
                f"decrypt {label} file to file",
                "MB/s",
                fsize / 1e6 / sd.wall,
                fsize / 1e6 / fd.wall,
                "original recipe (PBKDF2 + Fernet, whole file)",
            ),
        ]
        figures += [
            Figure(f"peak RSS, enc {label}, original recipe", "MiB", fe.rss, "grows with the file"),
            Figure(f"peak RSS, dec {label}, original recipe", "MiB", fd.rss, "grows with the file"),
            Figure("Fernet output / input size", "ratio", fernet_out.stat().st_size / fsize),
        ]
        notes += [
            (
                f"{rounds} alternating rounds; in each, every tool encrypts and decrypts once "
                "and every copy runs once, the order reversed from one round to the next. "
                "Every tool is a child process (start-up included); X25519 recipient; input "
                f"read from the page cache (read once before) and written to {_disk(TMP)} "
                "through it."
            ),
            (
                "The machine is shared with other work: load average "
                f"{load_before[0]:.2f} before the rounds and {load_after[0]:.2f} after, "
                "on 2 cores. Wall-time ratios swing with that load and with the kernel's "
                "write-back; the CPU-time ratios (user + system of the whole process tree) "
                "swing less."
            ),
            (
                "'sync after' is the time to write to disk what the run left in the page "
                "cache, untimed: age, pyrage and the copies leave their whole output there; "
                "sealbox writes its output behind as it goes and fsyncs it before the "
                "rename, inside its own time."
            ),
            (
                "sealbox's bytecode is compiled before the runs, as an installed wheel's "
                "is (this checkout is an editable install and the environment sets "
                "PYTHONDONTWRITEBYTECODE)."
            ),
            (
                "Peak RSS is that of the process tree (wait4): sealbox's command line forks "
                "a second worker, and Linux reports the larger of the two peaks, each "
                "counting the pages they share; the sum of their proportional set sizes "
                "(every shared page counted once) is measured too."
            ),
            (
                f"The original recipe is measured on {label}, not 1 GiB: it reads the whole "
                "file, builds the token and its base64 copy, and needs about 8 GiB of memory "
                "for 1 GiB."
            ),
        ]
        if any(r.anchor_name.startswith("copy ceiling") and r.ratio > 1 for r in rows):
            notes.append(
                "sealbox beat the best copy in this run, so the copies were no ceiling here: "
                "they leave their whole output dirty in the page cache, and the kernel "
                "throttles a writer with many dirty pages (their system time above), while "
                "sealbox writes behind and keeps few pages dirty. How hard that throttle "
                "bites depends on the machine's memory and disk at the time, which is why "
                "the anchors' wall times swing more than sealbox's."
            )
        path = write_results("age", rows, figures, notes)
        log(f"age: wrote {path}")
    finally:
        _rm(plain, sealed, out, key_file, TMP / "fernet.bin")
