"""Racing writers: 8 concurrent keyring rotations against 8 sequential ones, and readers.

Target: 8 concurrent `sealbox keyring rotate` runs on one keyring finish within 2x the
time of the same 8 run one after the other (the lock serialises only the re-read, merge,
encryption and rename). Sealing and opening take no lock: a keyring loaded from a file
(whose saves are locked) seals and opens as fast as one made in memory, and its cost
against raw AESGCM — the method of suite_fields — is the one bench/results/fields.json
holds.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench._harness import RESULTS, Figure, Row, interleaved_rates, log, write_results
from sealbox import Keyring

PASSPHRASE = "bench concurrency passphrase"
WRITERS = 8
_FIELDS_RAW_ROW = "raw AESGCM encrypt+decrypt (fresh nonce)"
# Run-to-run noise of CPU work on the machines measured (ANCHORS.md): +-10 %.
_NOISE = 0.9


def _committed_fields_ratio() -> float | None:
    """seal+open against raw AESGCM, as the committed fields run measured it."""
    try:
        doc = json.loads((RESULTS / "fields.json").read_text())
    except (OSError, ValueError):
        return None
    for row in doc.get("rows", []):
        if row.get("anchor_name") == _FIELDS_RAW_ROW:
            return float(row["ratio"])
    return None


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    env["SEALBOX_PASSPHRASE"] = PASSPHRASE
    return env


def _rotate_command(path: Path) -> list[str]:
    return [sys.executable, "-m", "sealbox", "keyring", "rotate", str(path)]


def _fresh(folder: Path, name: str) -> Path:
    path = folder / name
    for leftover in folder.glob(f"{name}*"):
        leftover.unlink()
    Keyring.generate().save(path, PASSPHRASE)
    return path


def _concurrent(path: Path) -> float:
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(_rotate_command(path), env=_env(), stdout=subprocess.DEVNULL)
        for _ in range(WRITERS)
    ]
    codes = [p.wait() for p in procs]
    elapsed = time.perf_counter() - t0
    if codes != [0] * WRITERS:
        raise RuntimeError(f"a concurrent rotation failed: {codes}")
    return elapsed


def _sequential(path: Path) -> float:
    t0 = time.perf_counter()
    for _ in range(WRITERS):
        subprocess.run(_rotate_command(path), env=_env(), stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def main(quick: bool = False) -> None:
    rounds = 2 if quick else 5
    concurrent: list[float] = []
    sequential: list[float] = []
    with tempfile.TemporaryDirectory(prefix="sealbox-bench-") as tmp:
        folder = Path(tmp)
        log(f"concurrency: {rounds} alternating rounds of {WRITERS} rotations")
        for _ in range(rounds):
            path = _fresh(folder, "concurrent.keyring")
            concurrent.append(_concurrent(path))
            kept = len(Keyring.load(path, PASSPHRASE))
            if kept != 1 + WRITERS:
                raise RuntimeError(f"concurrent rotations kept {kept} keys, not {1 + WRITERS}")
            sequential.append(_sequential(_fresh(folder, "sequential.keyring")))

        loaded = Keyring.load(_fresh(folder, "reader.keyring"), PASSPHRASE)
        fresh = Keyring.generate()
        value = os.urandom(100)
        aesgcm = AESGCM(AESGCM.generate_key(256))

        def raw_aesgcm() -> None:  # exactly as suite_fields measures it
            nonce = os.urandom(12)
            aesgcm.decrypt(nonce, aesgcm.encrypt(nonce, value, b""), b"")

        log("concurrency: sealing and opening with a loaded and an in-memory keyring")
        rates = interleaved_rates(
            {
                "loaded": lambda: loaded.open(loaded.seal(value)),
                "memory": lambda: fresh.open(fresh.seal(value)),
                "raw": raw_aesgcm,
            },
            seconds=0.1 if quick else 0.3,
            rounds=3 if quick else 9,
        )
    c, s = statistics.median(concurrent), statistics.median(sequential)
    rows = [
        Row(
            f"{WRITERS} `keyring rotate` runs on one file",
            "s",
            c,
            s,
            f"the same {WRITERS} one after the other",
            higher_is_better=False,
            target=0.5,
            target_text="concurrent within 2x of sequential (ratio >= 0.5)",
            note=f"concurrent {min(concurrent):.2f}-{max(concurrent):.2f} s, "
            f"sequential {min(sequential):.2f}-{max(sequential):.2f} s",
        ),
        Row(
            "seal+open, 100-byte value, keyring loaded from a file",
            "ops/s",
            rates["loaded"],
            rates["memory"],
            "a keyring made in memory",
            target=0.9,
            target_text="unchanged: readers take no lock",
        ),
    ]
    committed = _committed_fields_ratio()
    rows.append(
        Row(
            "seal+open, 100-byte value, keyring loaded from a file",
            "ops/s",
            rates["loaded"],
            rates["raw"],
            _FIELDS_RAW_ROW,
            target=None if committed is None else committed * _NOISE,
            target_text=""
            if committed is None
            else f"the committed fields run's {committed:.2f}x, less 10 % noise",
            note="suite_fields' method, to compare with bench/results/fields.json",
        )
    )
    figures = [
        Figure("concurrent rounds", "s", c, ", ".join(f"{x:.2f}" for x in concurrent)),
        Figure("sequential rounds", "s", s, ", ".join(f"{x:.2f}" for x in sequential)),
    ]
    path = write_results(
        "concurrency",
        rows,
        figures,
        notes=[
            (
                "Every rotation is a real `sealbox keyring rotate` process: Argon2id (RFC 9106 "
                "low-memory, 64 MiB) to open the file, and again to seal it."
            ),
            (
                "Rounds alternate concurrent and sequential; medians; every concurrent round is "
                "checked to have kept all 9 keys."
            ),
        ],
    )
    log(f"concurrency: wrote {path}")
