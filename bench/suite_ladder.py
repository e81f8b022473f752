"""Where the time of ``GET /users/me`` goes: a ladder of servers from a raw ASGI hello up.

Target (issue 17, part 4): ``GET /users/me`` at least 0.8x the requests/s of a raw
ASGI hello-world served the same way (one worker, uvloop and httptools, sealbox's TLS
connection layer, ``wrk -t1 -c32`` over HTTPS keep-alive).

Each rung adds one thing to the one before (see ``bench/_ladder_server.py``):

1. raw ASGI hello (the ceiling: the target's anchor);
2. the same, the request carrying the bearer token (every rung below sends it);
3. + the service's security headers on the answer (what ``/users/me`` answers with);
4. FastAPI hello (its step counted from rung 2);
5. + the service's middlewares;
6. a hello route in the service's application (routing over the routes before ``/users/me``);
7. + the bearer's signature check (cached per token);
8. + the revocation lookup (the service's bearer dependency);
9. ``/users/me`` through the FastAPI route (response model, client certificate, JSON);
10. ``/users/me`` as shipped (the lean entry; its step counted from rung 3).

Every rung is measured once per round, in alternating order (forward, then backward),
each round on newly started servers (one process's memory layout would otherwise weigh
on every round of its rung), with the server's CPU time (user + system, from ``/proc``)
per request beside the requests/s: CPU per request holds up when other work shares the
cores, requests/s does not.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench._harness import Figure, Row, log, write_results
from bench.suite_service import HERE, _bearer_lua, _free_port, _stop, _wait, _wrk
from sealbox.service.serve import prepare
from sealbox.service.settings import ServiceSettings
from sealbox.tls.client import secure_client

USER, PASSWORD = "ladder-user", "ladder password 1"
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Rung:
    label: str
    server: str
    path: str
    token: bool = True
    base: str | None = None  # the rung its step is counted from (default: the one above)


_TOKEN_SENT = "raw ASGI hello, the bearer token sent"
_SECURED = "+ the security headers on the answer"
RUNGS = (
    Rung("raw ASGI hello", "raw", "/hello", token=False),
    Rung(_TOKEN_SENT, "raw", "/hello"),
    Rung(_SECURED, "raw", "/secured"),
    Rung("FastAPI hello, the bearer token sent", "fastapi", "/hello", base=_TOKEN_SENT),
    Rung("+ the service's middlewares", "middleware", "/hello"),
    Rung("+ the service's routing", "service", "/ladder/hello"),
    Rung("+ bearer signature check (cached)", "service", "/ladder/verified"),
    Rung("+ revocation lookup", "service", "/ladder/checked"),
    Rung("GET /users/me through FastAPI", "service", "/users/me"),
    Rung("GET /users/me as shipped (lean entry)", "shipped", "/users/me", base=_SECURED),
)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def _spread(values: list[float], fmt: str = "{:.2f}") -> str:
    return f"{fmt.format(min(values))}..{fmt.format(max(values))}"


def main(quick: bool = False) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make system-deps installs it)")
    d = 2 if quick else 5
    rounds = 3 if quick else 5
    work = Path(tempfile.mkdtemp(prefix="sealbox-bench-ladder-"))
    data = work / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    # mypy builds the settings' __init__ from the fields (pydantic's dataclass_transform),
    # without the _env_file that BaseSettings.__init__ takes.
    prepare(ServiceSettings(_env_file=None, data_dir=data))  # type: ignore[call-arg]
    ca = data / "tls" / "ca.crt"
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    load_before = os.getloadavg()

    def start_all() -> None:
        """Fresh server processes for every rung, each answering before this returns."""
        for name in dict.fromkeys(r.server for r in RUNGS):
            port = _free_port()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench._ladder_server",
                    "--rung",
                    name,
                    "--port",
                    str(port),
                    "--data-dir",
                    str(data),
                ],
                cwd=HERE.parent,
                env=env,
            )
            servers[name] = (proc, port)
        for name, (proc, port) in servers.items():
            probe = "/hello" if name in ("raw", "fastapi", "middleware") else "/health"
            _wait(f"https://localhost:{port}{probe}", ca, proc)

    def stop_all() -> None:
        for proc, _ in servers.values():
            _stop(proc)
        servers.clear()

    def run(rung: Rung, seconds: int, lua: str) -> tuple[float, float]:
        proc, port = servers[rung.server]
        url = f"https://127.0.0.1:{port}{rung.path}"
        cpu0 = _cpu_seconds(proc.pid)
        out = _wrk(["-t1", "-c32", f"-d{seconds}s", url], lua if rung.token else None)
        cpu = _cpu_seconds(proc.pid) - cpu0
        assert out["non2xx"] == 0, f"{rung.label}: {out['non2xx']:.0f} errors"
        return out["rps"], cpu / out["requests"] * 1e6

    rps: dict[str, list[float]] = {r.label: [] for r in RUNGS}
    cpu: dict[str, list[float]] = {r.label: [] for r in RUNGS}
    try:
        start_all()
        with secure_client(ca=ca, base_url=f"https://localhost:{servers['service'][1]}") as c:
            c.post("/auth/register", json={"username": USER, "password": PASSWORD})
            token = c.post("/auth/token", data={"username": USER, "password": PASSWORD}).json()[
                "access_token"
            ]
        lua = _bearer_lua(token)
        for i in range(rounds):
            # New processes each round: where a process's objects land in memory moves
            # its cost per request by a few µs, luck one process would carry into
            # every round of its rung.
            if i:
                stop_all()
                start_all()
            log(f"ladder: round {i + 1} of {rounds} (warm-up, then the rungs)")
            for rung in RUNGS:
                run(rung, 1, lua)
            for rung in RUNGS if i % 2 == 0 else RUNGS[::-1]:
                r, c_us = run(rung, d, lua)
                rps[rung.label].append(r)
                cpu[rung.label].append(c_us)
    finally:
        stop_all()
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    raw = RUNGS[0].label
    rows: list[Row] = []
    figures: list[Figure] = []
    previous: str | None = None
    for rung in RUNGS:
        ratios = [a / b for a, b in zip(rps[rung.label], rps[raw], strict=True)]
        cpu_ratios = [b / a for a, b in zip(cpu[rung.label], cpu[raw], strict=True)]
        med_cpu = statistics.median(cpu[rung.label])
        base = rung.base or previous
        if base is None:
            step = ""
        else:
            cost = med_cpu - statistics.median(cpu[base])
            step = f"; step {cost:+.1f} µs from {base!r}"
        previous = rung.label
        figures.append(
            Figure(
                f"{rung.label}: server CPU per request",
                "µs",
                med_cpu,
                f"rounds {_spread(cpu[rung.label], '{:.1f}')} µs{step}",
            )
        )
        figures.append(
            Figure(
                f"{rung.label}: requests/s",
                "req/s",
                statistics.median(rps[rung.label]),
                f"rounds {_spread(rps[rung.label], '{:,.0f}')}",
            )
        )
        if rung.label == raw:
            continue
        rows.append(
            Row(
                f"{rung.label} vs raw ASGI hello",
                "req/s",
                statistics.median(rps[rung.label]),
                statistics.median(rps[raw]),
                "raw ASGI hello, same server and TLS",
                note=(
                    f"{rung.label}: per-round ratio median "
                    f"{statistics.median(ratios):.2f}x, spread {_spread(ratios)}; server CPU "
                    f"per request {statistics.median(cpu_ratios):.2f}x of the raw hello's "
                    f"(spread {_spread(cpu_ratios)})"
                ),
            )
        )
    shipped = RUNGS[-1].label
    ratios = [a / b for a, b in zip(rps[shipped], rps[raw], strict=True)]
    rows.append(
        Row(
            "GET /users/me vs raw ASGI hello",
            "req/s",
            statistics.median(rps[shipped]),
            statistics.median(rps[raw]),
            "raw ASGI hello, same server and TLS",
            target=0.8,
            note=(
                f"the target row: per-round ratio median {statistics.median(ratios):.2f}x, "
                f"spread {_spread(ratios)}"
            ),
        )
    )
    rows.append(
        Row(
            "GET /users/me vs raw ASGI hello, server CPU per request",
            "µs",
            statistics.median(cpu[shipped]),
            statistics.median(cpu[raw]),
            "raw ASGI hello's CPU per request",
            higher_is_better=False,
        )
    )
    ratios = [a / b for a, b in zip(rps[shipped], rps[_SECURED], strict=True)]
    rows.append(
        Row(
            "GET /users/me vs raw ASGI hello with the same request and security headers",
            "req/s",
            statistics.median(rps[shipped]),
            statistics.median(rps[_SECURED]),
            "raw ASGI hello, bearer token sent, security headers answered",
            note=(
                f"the lean entry's own cost: per-round ratio median "
                f"{statistics.median(ratios):.2f}x, spread {_spread(ratios)}"
            ),
        )
    )
    figures.append(
        Figure("load average before / after", "1 min", load_before[0], f"after {load_after[0]:.2f}")
    )
    write_results(
        "ladder",
        rows,
        figures,
        notes=[
            (
                f"wrk -t1 -c32 -d{d}s over HTTPS keep-alive, one worker with uvloop and "
                f"httptools, {rounds} rounds in alternating order, each round on fresh "
                "server processes (warmed up for 1 s a rung); medians, spreads are "
                "min..max over rounds."
            ),
            (
                "Server CPU per request is the server process's user + system time during the "
                "run divided by the requests wrk counted; a step is the difference from the rung "
                "it names."
            ),
            "Client (wrk, 1 thread) and server share the machine's cores, as in ANCHORS.md.",
        ],
    )
