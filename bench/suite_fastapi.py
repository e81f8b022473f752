"""A route behind sealbox's bearer dependency in a user's app, against the same route without it.

Target (issue 18): ``GET /orders`` (``BearerAuth`` over the app's ``Accounts``, scope
``orders:read``: token verified once and cached, revocation checked on every request) at
least 0.9x the requests/s of the same route without the dependency, in the same server
(examples/fastapi_app.py under plain uvicorn, TLS, one worker). Both get the same request,
``Authorization`` header included (the open route ignores it), so the difference is the
dependency's work. wrk runs the two routes in alternating pairs, the first of each pair
alternating too; medians and spreads are recorded.

Two figures per run: requests/s, and requests per CPU-second of the server process (its
``utime + stime`` from ``/proc`` around each run). On a quiet machine they say the same (one
worker is CPU-bound); on a shared one the second is the one that other processes' load
does not move.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._harness import Figure, Row, log, write_results
from bench.suite_service import _bearer_lua, _free_port, _stop, _wait, _wrk, cores_apart, on_core
from sealbox.tls.client import secure_client

HERE = Path(__file__).resolve().parent
USER, PASSWORD = "bench-user", "bench password 1"


def main(quick: bool = False) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make system-deps installs it)")
    # Many short rounds rather than a few long ones: the routes' order rotates each round,
    # and a median of more rounds holds when a stretch of the run is slowed for both.
    d = 3 if quick else 5
    pairs = 3 if quick else 12
    in_process_rounds = 3 if quick else 7
    work = Path(tempfile.mkdtemp(prefix="sealbox-bench-fastapi-"))
    data = work / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    env |= {"SEALBOX_DATA_DIR": str(data), "SEALBOX_PASSWORD_PROFILE": "test"}
    sealbox = [sys.executable, "-m", "sealbox"]
    subprocess.run([*sealbox, "serve", "--check"], env=env, cwd=work, check=True)
    subprocess.run(
        [*sealbox, "users", "create", USER, "--scope", "orders:read"],
        input=PASSWORD.encode(),
        env=env,
        cwd=work,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    ca, base = data / "tls" / "ca.crt", f"https://localhost:{port}"
    client_cpu, server_cpu = cores_apart()
    server = subprocess.Popen(
        [
            *on_core(server_cpu),
            sys.executable,
            "-m",
            "uvicorn",
            "bench._fastapi_server:app",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
            "--ssl-keyfile",
            str(data / "tls" / "server.key"),
            "--ssl-certfile",
            str(data / "tls" / "server.crt"),
        ],
        cwd=HERE.parent,
        env=env,
    )
    try:
        _wait(f"{base}/orders-open", ca, server)
        with secure_client(ca=ca, base_url=base) as c:
            form = {"username": USER, "password": PASSWORD}
            token = c.post("/auth/token", data=form).json()["access_token"]
            assert c.get("/orders", headers={"Authorization": f"Bearer {token}"}).json() == {
                "user": USER
            }
        routes = {
            "guarded": "/orders",
            "open": "/orders-open",
            "noop": "/orders-noop",
            "scoped": "/orders-noop-scoped",
            "lookup": "/orders-lookup",
            "again": "/orders-open-again",
        }
        log(f"fastapi: GET /orders (bearer + scope) and {len(routes) - 1} anchors: {pairs} rounds")
        rps: dict[str, list[float]] = {name: [] for name in routes}
        per_cpu: dict[str, list[float]] = {name: [] for name in routes}
        loads = [os.getloadavg()[0]]
        # wrk does not verify certificates: the server is ours, on loopback.
        order = list(routes)
        for i in range(pairs):
            k = i % len(order)
            for name in order[k:] + order[:k]:  # each route first in turn
                cpu0 = _cpu_seconds(server.pid)
                result = _wrk(
                    ["-t1", "-c32", f"-d{d}s", f"{_url(port)}{routes[name]}"],
                    _bearer_lua(token),
                    cpu=client_cpu,
                )
                cpu = _cpu_seconds(server.pid) - cpu0
                assert result["non2xx"] == 0, f"{name}: {result['non2xx']:.0f} errors"
                rps[name].append(result["rps"])
                per_cpu[name].append(result["requests"] / cpu)
            loads.append(os.getloadavg()[0])
    except BaseException:
        _stop(server)
        shutil.rmtree(work, ignore_errors=True)
        raise
    _stop(server)
    try:
        # The same routes with no server: what the app itself spends per request.
        log("fastapi: the routes in process, through ASGI")
        measured = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench._fastapi_inprocess",
                str(in_process_rounds),
                "2000" if quick else "20000",
            ],
            env=env,
            cwd=HERE.parent,
            check=True,
            capture_output=True,
        )
        in_process: dict[str, list[float]] = json.loads(measured.stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def spread(values: dict[str, list[float]], a: str, b: str) -> str:
        ratios = [x / y for x, y in zip(values[a], values[b], strict=True)]
        return f"per-round ratios {min(ratios):.2f}-{max(ratios):.2f}"

    how = (
        f"wrk -t1 -c32 -d{d}s over HTTPS keep-alive, the same bearer header to every route, "
        f"plain uvicorn, one worker; medians of {pairs} rounds, the routes in rotating order"
    )

    def per_cpu_row(title: str, a: str, b: str, anchor: str, what: str) -> Row:
        """A ratio of requests per server CPU-second: route ``a`` against route ``b``."""
        return Row(
            title,
            "req/CPU-s",
            statistics.median(per_cpu[a]),
            statistics.median(per_cpu[b]),
            anchor,
            note=f"{what}; {spread(per_cpu, a, b)}",
        )

    rows = [
        Row(
            "GET /orders behind BearerAuth + scope vs the same route without it",
            "req/s",
            statistics.median(rps["guarded"]),
            statistics.median(rps["open"]),
            "GET /orders-open, same app, server and run",
            target=0.9,
            note=f"{how}; {spread(rps, 'guarded', 'open')}",
        ),
        Row(
            "the same, per server CPU-second",
            "req/CPU-s",
            statistics.median(per_cpu["guarded"]),
            statistics.median(per_cpu["open"]),
            "GET /orders-open, same app, server and run",
            target=0.9,
            note=(
                "requests wrk completed / CPU seconds the server process used in the same run; "
                + spread(per_cpu, "guarded", "open")
            ),
        ),
        per_cpu_row(
            "GET /orders behind BearerAuth + scope vs behind a dependency that does nothing",
            "guarded",
            "noop",
            "GET /orders-noop: FastAPI's cost of one dependency, without sealbox's work",
            "what sealbox's verification, revocation check and scope check cost beyond "
            "FastAPI's own per-dependency work",
        ),
        per_cpu_row(
            "a dependency that does nothing vs none",
            "noop",
            "open",
            "GET /orders-open",
            "FastAPI's per-dependency cost alone",
        ),
        per_cpu_row(
            "a scoped Security dependency that does nothing vs none",
            "scoped",
            "open",
            "GET /orders-open",
            "the guarded route's shape (Security with a scope) without sealbox's work",
        ),
        per_cpu_row(
            "a scoped dependency that only looks the header up in a dict vs none",
            "lookup",
            "open",
            "GET /orders-open",
            "the least a token check can cost as a FastAPI dependency: the ceiling of any "
            "guarded route here",
        ),
        per_cpu_row(
            "the open route vs itself under another path (a control)",
            "again",
            "open",
            "GET /orders-open",
            "two identical routes: how far from 1.00x the measurement itself strays",
        ),
        per_cpu_row(
            "GET /orders behind BearerAuth + scope vs that ceiling",
            "guarded",
            "lookup",
            "GET /orders-lookup",
            "sealbox's whole check beyond a dict lookup",
        ),
    ]
    rows += _in_process_rows(in_process, in_process_rounds)
    write_results(
        "fastapi",
        rows,
        figures=_in_process_figures(in_process),
        notes=[
            (
                f"Load average (1 min) during the pairs: {min(loads):.1f}-{max(loads):.1f} on "
                f"{os.cpu_count()} cores."
            ),
            (
                "Client (wrk, 1 thread) and server share the machine's cores."
                if server_cpu is None
                else f"The server runs on core {server_cpu} only, wrk (1 thread) on core "
                f"{client_cpu} only: neither takes the other's core."
            ),
            (
                "Routes are matched in the order /orders, /orders-open, /orders-noop, "
                "/orders-noop-scoped, /orders-lookup, /orders-open-again: each later one pays "
                "one more failed path match than the one before it (a fraction of a "
                "microsecond)."
            ),
            (
                "The guarded route verifies the token's signature once (claims cached until "
                "exp) and checks revocation on every request, in one dependency."
            ),
        ],
    )


def _in_process_rows(costs: dict[str, list[float]], rounds: int) -> list[Row]:
    """The in-process steps as ratios (a cost: the anchor's over sealbox's)."""

    def step(title: str, a: str, b: str, anchor: str, what: str) -> Row:
        ratios = [y / x for x, y in zip(costs[a], costs[b], strict=True)]
        return Row(
            title,
            "µs",
            statistics.median(costs[a]),
            statistics.median(costs[b]),
            anchor,
            higher_is_better=False,
            note=(
                f"{what}; CPU time per request in process (ASGI calls, no server, HTTP or "
                f"TLS), medians of {rounds} rounds; per-round ratios "
                f"{min(ratios):.2f}-{max(ratios):.2f}"
            ),
        )

    return [
        step(
            "in process: GET /orders behind BearerAuth + scope vs without it",
            "/orders",
            "/orders-open",
            "GET /orders-open, same app and process",
            "the app's own cost of the guarded route",
        ),
        step(
            "in process: a dependency that does nothing vs none",
            "/orders-noop",
            "/orders-open",
            "GET /orders-open, same app and process",
            "FastAPI's cost of solving one dependency",
        ),
        step(
            "in process: GET /orders behind BearerAuth + scope vs a dependency that does nothing",
            "/orders",
            "/orders-noop",
            "GET /orders-noop, same app and process",
            "sealbox's verification, revocation and scope checks beyond FastAPI's dependency",
        ),
    ]


def _in_process_figures(costs: dict[str, list[float]]) -> list[Figure]:
    return [
        Figure(f"in process: GET {path}", "µs", statistics.median(values), "CPU time per request")
        for path, values in costs.items()
    ]


def _url(port: int) -> str:
    return f"https://127.0.0.1:{port}"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
