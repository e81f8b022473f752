"""Public-key cryptography: sealbox.keys.asymmetric and sealbox.keys.sshsig against their anchors.

Issue targets:

* sign and verify through ``PrivateKey.sign`` / ``PublicKey.verify`` cost at most
  10 % more than the raw pyca/cryptography calls (rate ratio >= 1/1.1 = 0.91);
* an SSHSIG signature of a 1 GiB file: ``sealbox sign`` against ``ssh-keygen -Y sign``
  (wall time and peak memory of the child process), and the same for verification.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from bench._harness import Figure, Row, log, write_results
from sealbox.keys.asymmetric import PrivateKey

VENV_BIN = Path(sys.executable).parent
TARGET = 1 / 1.1
TARGET_TEXT = ">= 0.91x (overhead at most 10%)"

# Runs a command and reports its wall time and the peak RSS of the child (and its
# children) from getrusage: the wrapper is the parent, so its own memory is not counted.
_MEASURE = """
import resource, subprocess, sys, time
t0 = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
elapsed = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
"""


def _measure(argv: list[str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds of one run of ``argv`` (fresh wrapper)."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *argv], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), int(out[1]) / 1024, float(out[2])


def _paired_rates(
    a: Callable[[], object], b: Callable[[], object], *, seconds: float, pairs: int
) -> tuple[float, float]:
    """Rates of ``a`` and ``b`` from many short batches run back to back, A B, B A, ….

    Each batch lasts about ``seconds``; the medians of the batch times are robust to
    the other processes of a shared machine, which hit both sides of a pair alike.
    """
    batch = 1
    while True:  # calibrate on the slower of the two
        t0 = time.perf_counter()
        for _ in range(batch):
            a()
            b()
        if time.perf_counter() - t0 > 2 * seconds:
            break
        batch *= 2
    times: dict[int, list[float]] = {0: [], 1: []}
    fns = (a, b)
    for i in range(pairs):
        for which in (0, 1) if i % 2 == 0 else (1, 0):
            fn = fns[which]
            t0 = time.perf_counter()
            for _ in range(batch):
                fn()
            times[which].append(time.perf_counter() - t0)
    return batch / statistics.median(times[0]), batch / statistics.median(times[1])


def _signing_rows(seconds: float, pairs: int) -> list[Row]:
    message = os.urandom(100)
    sha256 = hashes.SHA256()
    pss = padding.PSS(mgf=padding.MGF1(sha256), salt_length=32)
    ecdsa = ec.ECDSA(sha256)
    keys = {
        "Ed25519": PrivateKey.generate("ed25519"),
        "ECDSA P-256": PrivateKey.generate("ecdsa"),
        "RSA-3072 PSS": PrivateKey.generate("rsa", bits=3072),
    }
    raw_sign = {
        "Ed25519": lambda k: k.sign(message),
        "ECDSA P-256": lambda k: k.sign(message, ecdsa),
        "RSA-3072 PSS": lambda k: k.sign(message, pss, sha256),
    }
    raw_verify = {
        "Ed25519": lambda p, s: p.verify(s, message),
        "ECDSA P-256": lambda p, s: p.verify(s, message, ecdsa),
        "RSA-3072 PSS": lambda p, s: p.verify(s, message, pss, sha256),
    }
    rows = []
    for name, key in keys.items():
        pyca, public = key.expose_private_key(), key.public_key
        pyca_public = public.cryptography_key()
        signature = key.sign(message)
        sign_raw, verify_raw = raw_sign[name], raw_verify[name]
        log(f"keys: measuring {name} sign and verify (paired with raw pyca)")
        rates = {}
        rates["sealbox sign"], rates["raw sign"] = _paired_rates(
            partial(key.sign, message),
            partial(sign_raw, pyca),
            seconds=seconds,
            pairs=pairs,
        )
        rates["sealbox verify"], rates["raw verify"] = _paired_rates(
            partial(public.verify, signature, message),
            partial(verify_raw, pyca_public, signature),
            seconds=seconds,
            pairs=pairs,
        )
        rows.append(
            Row(
                f"{name} sign, 100-byte message",
                "ops/s",
                rates["sealbox sign"],
                rates["raw sign"],
                "raw pyca/cryptography sign",
                target=TARGET,
                target_text=TARGET_TEXT,
            )
        )
        rows.append(
            Row(
                f"{name} verify, 100-byte message",
                "ops/s",
                rates["sealbox verify"],
                rates["raw verify"],
                "raw pyca/cryptography verify",
                target=TARGET,
                target_text=TARGET_TEXT,
            )
        )
    return rows


def _sshsig_rows(size: int, repeat: int) -> tuple[list[Row], list[Figure], list[str]]:
    ssh_keygen = shutil.which("ssh-keygen")
    if ssh_keygen is None:
        return [], [], ["ssh-keygen is not installed: the SSHSIG file rows were not measured"]
    sealbox = str(VENV_BIN / "sealbox")
    label = f"{size // (1 << 20)} MiB" if size < 1 << 30 else f"{size // (1 << 30)} GiB"
    with tempfile.TemporaryDirectory(prefix="sealbox-bench-keys-") as tmp:
        folder = Path(tmp)
        key = folder / "id_ed25519"
        PrivateKey.generate("ed25519").save(key, None)  # unencrypted: time the hashing, not a KDF
        public = PrivateKey.load(key).public_key
        public.save(f"{key}.pub")
        (folder / "allowed").write_text(f"bench@example.com {public.openssh()}\n")
        data = folder / "big.bin"
        block = os.urandom(1 << 20)
        with data.open("wb") as fh:
            for _ in range(size // len(block)):
                fh.write(block)
        sig = folder / "big.bin.sig"
        sign = {
            "sealbox": [sealbox, "sign", "-k", str(key), "--force", str(data)],
            "ssh-keygen": [ssh_keygen, "-Y", "sign", "-f", str(key), "-n", "file", str(data)],
        }
        verify = {
            "sealbox": [sealbox, "verify", "-k", f"{key}.pub", "-s", str(sig), str(data)],
            "ssh-keygen": [
                ssh_keygen, "-Y", "verify", "-f", str(folder / "allowed"),
                "-I", "bench@example.com", "-n", "file", "-s", str(sig),
            ],
        }  # fmt: skip
        # Warm the page cache once, so every run reads the file from memory.
        _measure(["cat", str(data)])
        samples: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for i in range(repeat):
            log(f"keys: SSHSIG {label}, round {i + 1}/{repeat}")
            for tool in ("sealbox", "ssh-keygen"):
                sig.unlink(missing_ok=True)
                samples.setdefault(("sign", tool), []).append(_measure(sign[tool]))
                if tool == "sealbox":
                    continue
                # ssh-keygen -Y verify reads the message on stdin.
                for checker in ("sealbox", "ssh-keygen"):
                    argv = verify[checker]
                    if checker == "ssh-keygen":
                        argv = ["sh", "-c", f'exec "$0" "$@" < {data}', *argv]
                    samples.setdefault(("verify", checker), []).append(_measure(argv))
        sig.unlink(missing_ok=True)

    def med(op: str, tool: str, index: int) -> float:
        return statistics.median(s[index] for s in samples[(op, tool)])

    rows, figures = [], []
    for op, anchor in (("sign", "ssh-keygen -Y sign"), ("verify", "ssh-keygen -Y verify")):
        rows.append(
            Row(
                f"SSHSIG {op}, {label} file, Ed25519 (CLI)",
                "s",
                med(op, "sealbox", 0),
                med(op, "ssh-keygen", 0),
                anchor,
                higher_is_better=False,
            )
        )
        rows.append(
            Row(
                f"SSHSIG {op}, {label} file: CPU time (user + system)",
                "s",
                med(op, "sealbox", 2),
                med(op, "ssh-keygen", 2),
                anchor,
                higher_is_better=False,
                note=""
                if op == "verify"
                else (
                    "CPU time is what the command costs whatever else the machine runs; "
                    "wall time also counts waiting for a core on a shared machine."
                ),
            )
        )
        rows.append(
            Row(
                f"SSHSIG {op}, {label} file: peak RSS",
                "MiB",
                med(op, "sealbox", 1),
                med(op, "ssh-keygen", 1),
                anchor,
                higher_is_better=False,
            )
        )
        figures.append(
            Figure(
                f"sealbox {op} throughput, {label} file",
                "MB/s",
                size / med(op, "sealbox", 0) / 1e6,
                "whole command: interpreter start, key load, SHA-512 of the file",
            )
        )
    notes = [
        (
            f"SSHSIG rows: medians of {repeat} interleaved runs of each command as a child "
            "process, file in the page cache; peak RSS is getrusage(RUSAGE_CHILDREN).ru_maxrss "
            "of a wrapper that runs only that command (the wrapper itself is not counted)."
        ),
        (
            "ssh-keygen -Y verify reads the data on stdin (through the shell's redirect); "
            "sealbox reads the file by name. Both hash it with SHA-512 in fixed-size pieces."
        ),
    ]
    return rows, figures, notes


def main(quick: bool = False) -> None:
    rows = _signing_rows(0.001, 200 if quick else 2000)
    size = (64 << 20) if quick else (1 << 30)
    sig_rows, figures, notes = _sshsig_rows(size, 1 if quick else 5)
    rows += sig_rows
    # Start-up of the CLI commands this suite exercises, for reference.
    t0 = time.perf_counter()
    subprocess.run([str(VENV_BIN / "sealbox"), "key", "--help"], check=True, capture_output=True)
    figures.append(Figure("sealbox key --help", "ms", (time.perf_counter() - t0) * 1000))
    path = write_results(
        "keys",
        rows,
        figures,
        notes=[
            (
                "Sign/verify rates: 2,000 pairs of ~1 ms batches (one call for RSA signing), "
                "sealbox and raw pyca back to "
                "back in alternating order, median batch time of each (robust to the other "
                "processes of a shared 2-core machine); one thread. The raw anchor uses "
                "precomputed padding and hash objects (the strictest comparison)."
            ),
            *notes,
        ],
    )
    log(f"keys: wrote {path}")
