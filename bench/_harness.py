"""Measuring helpers and the results writer shared by every benchmark suite.

A suite measures sealbox and its anchor in the same process and run, and records
each comparison as a row: both figures, their ratio, and the target the issue
sets. Results go to ``bench/results/<suite>.json`` and a Markdown table in
``bench/results/<suite>.md``; ``bench/results/README.md`` indexes them all.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    """One comparison: sealbox against its anchor on the same workload.

    ``ratio`` is computed so that bigger is better for sealbox: for a rate
    (``higher_is_better``) it is sealbox / anchor, for a time or a size it is
    anchor / sealbox. ``target`` is the ratio the issue asks for, if any.
    """

    name: str
    unit: str
    sealbox: float
    anchor: float
    anchor_name: str
    higher_is_better: bool = True
    target: float | None = None
    target_text: str = ""
    note: str = ""
    ratio: float = field(init=False)
    meets_target: bool | None = field(init=False)

    def __post_init__(self) -> None:
        if self.higher_is_better:
            self.ratio = self.sealbox / self.anchor if self.anchor else float("inf")
        else:
            self.ratio = self.anchor / self.sealbox if self.sealbox else float("inf")
        self.meets_target = None if self.target is None else self.ratio >= self.target


@dataclass
class Figure:
    """A figure with no anchor (a start-up time, a p99, a memory peak)."""

    name: str
    unit: str
    value: float
    note: str = ""


def ops_per_second(fn: Callable[[], object], *, seconds: float = 0.4, repeat: int = 5) -> float:
    """Median rate of ``fn`` calls over ``repeat`` runs of about ``seconds`` each."""
    n = 1
    while True:  # calibrate the batch size
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed > seconds / 10:
            break
        n *= 4
    batch = max(1, int(n * (seconds / elapsed)))
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        rates.append(batch / (time.perf_counter() - t0))
    return statistics.median(rates)


def interleaved_rates(
    fns: dict[str, Callable[[], object]], *, seconds: float = 0.3, rounds: int = 7
) -> dict[str, float]:
    """Median rates of several functions measured in alternation (fair under noise)."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(ops_per_second(fn, seconds=seconds, repeat=1))
    return {k: statistics.median(v) for k, v in samples.items()}


def command_seconds(
    argv: list[str], *, repeat: int = 10, env: dict[str, str] | None = None
) -> float:
    """Median wall time of running a command to completion."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# CPU features that change what the primitives cost (OpenSSL picks its code by them).
_FLAGS = ("aes", "vaes", "avx2", "avx512f", "avx512vl", "sha_ni")


def make_file(path: Path, size: int) -> None:
    """Write ``size`` random bytes to ``path`` (kept if it already has that size)."""
    if path.exists() and path.stat().st_size == size:
        return
    block = os.urandom(16 * 1024 * 1024)
    with path.open("wb") as fh:
        left = size
        while left:
            n = min(left, len(block))
            fh.write(block[:n])
            left -= n


def machine() -> dict[str, Any]:
    """What the figures were measured on, with a one-core ChaCha20-Poly1305 calibration.

    Machines of the same name differ (an EPYC with or without AVX-512 runs
    ChaCha20-Poly1305 at 5 or 1.7 GB/s per core): the flags and the calibration
    say which one a results file comes from.
    """
    cpu = ""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not cpu:
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    import cryptography
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    aead, chunk, nonce = ChaCha20Poly1305(bytes(32)), bytes(64 * 1024), bytes(12)
    rate = ops_per_second(lambda: aead.encrypt(nonce, chunk, None), seconds=0.3, repeat=3)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cpu_flags": [f for f in _FLAGS if f in flags],
        "chacha20_poly1305_gbs": round(rate * len(chunk) / 1e9, 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cryptography": cryptography.__version__,
    }


def write_results(
    suite: str,
    rows: list[Row],
    figures: list[Figure] | None = None,
    notes: list[str] | None = None,
) -> Path:
    """Write ``<suite>.json`` and ``<suite>.md`` and refresh the index."""
    RESULTS.mkdir(exist_ok=True)
    doc = {
        "suite": suite,
        "measured": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "rows": [asdict(r) for r in rows],
        "figures": [asdict(f) for f in figures or []],
        "notes": notes or [],
    }
    path = RESULTS / f"{suite}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    (RESULTS / f"{suite}.md").write_text(markdown(doc))
    _write_index()
    return path


def _fmt(x: float) -> str:
    if x == float("inf"):
        return "inf"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:,.1f}"
    return f"{x:,.3g}"


def _ratio(row: dict[str, Any]) -> str:
    """A row's ratio to two decimals; to three where two would put it on the other side of
    its target (0.898 shown as 0.90 beside a target of 0.9 it misses)."""
    shown = f"{row['ratio']:.2f}"
    target, met = row.get("target"), row.get("meets_target")
    if target is not None and met is not None and (float(shown) >= target) != met:
        return f"{row['ratio']:.3f}"
    return shown


def markdown(doc: dict[str, Any]) -> str:
    """Render one suite's results as Markdown."""
    m = doc["machine"]
    lines = [
        f"# {doc['suite']}",
        "",
        (
            f"Measured {doc['measured']} on {m['cpu']} ({m['cores']} cores"
            + (f"; {' '.join(m['cpu_flags'])}" if m.get("cpu_flags") else "")
            + (
                f"; ChaCha20-Poly1305 {m['chacha20_poly1305_gbs']} GB/s on one core"
                if m.get("chacha20_poly1305_gbs")
                else ""
            )
            + f"), Python {m['python']}, cryptography {m['cryptography']}. sealbox and the anchor "
            "ran in the same process and run; the ratio is how many times better sealbox is "
            "(above 1: better)."
        ),
        "",
    ]
    if doc["rows"]:
        lines += [
            "| workload | unit | sealbox | anchor | anchor figure | ratio | target | met |",
            "|---|---|---:|---|---:|---:|---|---|",
        ]
        for r in doc["rows"]:
            met = "" if r["meets_target"] is None else ("yes" if r["meets_target"] else "**no**")
            target = r["target_text"] or ("" if r["target"] is None else f">= {r['target']}x")
            lines.append(
                f"| {r['name']} | {r['unit']} | {_fmt(r['sealbox'])} | {r['anchor_name']} | "
                f"{_fmt(r['anchor'])} | {_ratio(r)}x | {target} | {met} |"
            )
        lines.append("")
    if doc["figures"]:
        lines += ["| figure | value | unit | note |", "|---|---:|---|---|"]
        lines += [
            f"| {f['name']} | {_fmt(f['value'])} | {f['unit']} | {f['note']} |"
            for f in doc["figures"]
        ]
        lines.append("")
    notes = [r["note"] for r in doc["rows"] if r["note"]] + doc["notes"]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines).rstrip() + "\n"


def _write_index() -> None:
    docs = sorted(RESULTS.glob("*.json"))
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench`); every file here is produced by a suite in",
        "`bench/`. Each row compares sealbox with its anchor measured in the same run.",
        "",
    ]
    for p in docs:
        doc = json.loads(p.read_text())
        lines.append(f"## [{doc['suite']}]({p.stem}.md) — {doc['measured']}")
        lines.append("")
        for r in doc["rows"]:
            met = (
                ""
                if r["meets_target"] is None
                else (" (target met)" if r["meets_target"] else " (**target missed**)")
            )
            lines.append(f"- {r['name']}: **{_ratio(r)}x** vs {r['anchor_name']}{met}")
        lines.append("")
    (RESULTS / "README.md").write_text("\n".join(lines).rstrip() + "\n")


def log(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)
