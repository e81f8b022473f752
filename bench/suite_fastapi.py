"""A route behind sealbox's bearer dependency in a user's app, against the same route without it.

Target (issue 18): ``GET /orders`` (``BearerAuth`` over the app's ``Accounts``, scope
``orders:read``: token verified once and cached, revocation checked on every request) at
least 0.9x the requests/s of the same route without the dependency, in the same server
(examples/fastapi_app.py under plain uvicorn, TLS, one worker). wrk runs the two routes in
alternating pairs, the first of each pair alternating too; medians and spreads are recorded.

Two figures per run: requests/s, and requests per CPU-second of the server process (its
``utime + stime`` from ``/proc`` around each run). On a quiet machine they say the same (one
worker is CPU-bound); on a shared one the second is the one that other processes' load
does not move.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._harness import Row, log, write_results
from bench.suite_service import _bearer_lua, _free_port, _stop, _wait, _wrk
from sealbox.tls.client import secure_client

HERE = Path(__file__).resolve().parent
USER, PASSWORD = "bench-user", "bench password 1"


def main(quick: bool = False) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make system-deps installs it)")
    d = 3 if quick else 10
    pairs = 3 if quick else 7
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
    server = subprocess.Popen(
        [
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
        log(f"fastapi: GET /orders (bearer + scope) vs GET /orders-open, {pairs} pairs")
        guarded: list[float] = []
        open_: list[float] = []
        guarded_cpu: list[float] = []
        open_cpu: list[float] = []
        loads = [os.getloadavg()[0]]
        # wrk does not verify certificates: the server is ours, on loopback.
        for i in range(pairs):
            runs = [
                ("open", lambda: _wrk(["-t1", "-c32", f"-d{d}s", f"{_url(port)}/orders-open"])),
                (
                    "guarded",
                    lambda: _wrk(
                        ["-t1", "-c32", f"-d{d}s", f"{_url(port)}/orders"], _bearer_lua(token)
                    ),
                ),
            ]
            if i % 2:
                runs.reverse()
            for name, run in runs:
                cpu0 = _cpu_seconds(server.pid)
                result = run()
                cpu = _cpu_seconds(server.pid) - cpu0
                assert result["non2xx"] == 0, f"{name}: {result['non2xx']:.0f} errors"
                (guarded if name == "guarded" else open_).append(result["rps"])
                (guarded_cpu if name == "guarded" else open_cpu).append(result["requests"] / cpu)
            loads.append(os.getloadavg()[0])
    finally:
        _stop(server)
        shutil.rmtree(work, ignore_errors=True)

    ratios = [g / o for g, o in zip(guarded, open_, strict=True)]
    cpu_ratios = [g / o for g, o in zip(guarded_cpu, open_cpu, strict=True)]
    rows = [
        Row(
            "GET /orders behind BearerAuth + scope vs the same route without it",
            "req/s",
            statistics.median(guarded),
            statistics.median(open_),
            "GET /orders-open, same app, server and run",
            target=0.9,
            note=(
                f"wrk -t1 -c32 -d{d}s over HTTPS keep-alive, plain uvicorn, one worker; medians "
                f"of {pairs} alternating pairs; guarded {min(guarded):,.0f}-{max(guarded):,.0f}, "
                f"open {min(open_):,.0f}-{max(open_):,.0f} req/s; per-pair ratios "
                f"{min(ratios):.2f}-{max(ratios):.2f}"
            ),
        ),
        Row(
            "GET /orders behind BearerAuth + scope vs the same route, per server CPU-second",
            "req/CPU-s",
            statistics.median(guarded_cpu),
            statistics.median(open_cpu),
            "GET /orders-open, same app, server and run",
            target=0.9,
            note=(
                "requests wrk completed / CPU seconds the server process used in the same run "
                f"(the same {pairs} pairs); per-pair ratios "
                f"{min(cpu_ratios):.2f}-{max(cpu_ratios):.2f}"
            ),
        ),
    ]
    write_results(
        "fastapi",
        rows,
        notes=[
            (
                f"Load average (1 min) during the pairs: {min(loads):.1f}-{max(loads):.1f} on "
                f"{os.cpu_count()} cores."
            ),
            "Client (wrk, 1 thread) and server share the machine's cores.",
            (
                "The guarded route verifies the token's signature once (claims cached until "
                "exp) and checks revocation on every request, in one dependency."
            ),
        ],
    )


def _url(port: int) -> str:
    return f"https://127.0.0.1:{port}"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
