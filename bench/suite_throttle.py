"""The atomic login throttle against no throttle at all, in logins per second.

Target: the throttle (an attempt counted per username and per address before the
password is checked, in one step with the limit check; the count given back on
success) costs at most 5% of login throughput. The cheap "test" password profile is
used on purpose: with Argon2's real cost the throttle would not show at all.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

from bench._harness import Figure, Row, log, write_results
from bench.suite_service import _free_port, _stop, _wait, _wrk
from sealbox.tls.client import secure_client

HERE = Path(__file__).resolve().parent
USER, PASSWORD = "bench-login", "bench login password"
LOGIN_LUA = f"""
wrk.method = "POST"
wrk.body = "username={USER}&password={PASSWORD.replace(" ", "+")}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""


def _start(work: Path, *, throttle: bool) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    data = work / ("with" if throttle else "without")
    cmd = [
        sys.executable,
        str(HERE / "_login_server.py"),
        "--port",
        str(port),
        "--data-dir",
        str(data),
    ]
    if not throttle:
        cmd.append("--no-throttle")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ca = data / "tls" / "ca.crt"
    deadline = time.monotonic() + 60
    while not ca.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the login server did not start")
        time.sleep(0.1)
    _wait(f"https://localhost:{port}/health", ca, proc)
    with secure_client(ca=ca, base_url=f"https://localhost:{port}") as c:
        r = c.post("/auth/register", json={"username": USER, "password": PASSWORD})
        if r.status_code != 201:
            raise RuntimeError(f"cannot register: {r.text}")
    return proc, port


def main(quick: bool = False) -> None:
    seconds = 3 if quick else 8
    rounds = 2 if quick else 5
    with_rates: list[float] = []
    without_rates: list[float] = []
    with tempfile.TemporaryDirectory(prefix="sealbox-bench-") as tmp:
        work = Path(tmp)
        procs = []
        try:
            on, on_port = _start(work, throttle=True)
            procs.append(on)
            off, off_port = _start(work, throttle=False)
            procs.append(off)
            log(f"throttle: {rounds} alternating rounds of {seconds} s logins (wrk -c8)")
            for _ in range(rounds):
                for port, rates in ((on_port, with_rates), (off_port, without_rates)):
                    url = f"https://127.0.0.1:{port}/auth/token"
                    result = _wrk(["-t1", "-c8", f"-d{seconds}s", url], LOGIN_LUA)
                    if result["non2xx"]:
                        raise RuntimeError(f"{result['non2xx']:.0f} logins failed")
                    rates.append(result["rps"])
                    time.sleep(1)
        except httpx2.HTTPError as exc:
            raise RuntimeError(f"benchmark server failed: {exc}") from exc
        finally:
            for proc in procs:
                _stop(proc)
    on_rate, off_rate = statistics.median(with_rates), statistics.median(without_rates)
    rows = [
        Row(
            "logins/s, password grant, one worker",
            "logins/s",
            on_rate,
            off_rate,
            "the same service without a throttle",
            target=0.95,
            target_text="throttle costs <= 5% (ratio >= 0.95)",
            note="wrk -t1 -c8 POST /auth/token over HTTPS keep-alive; test password profile",
        )
    ]
    figures = [
        Figure("with the throttle", "logins/s", on_rate, ", ".join(f"{r:.0f}" for r in with_rates)),
        Figure("without", "logins/s", off_rate, ", ".join(f"{r:.0f}" for r in without_rates)),
    ]
    path = write_results(
        "throttle",
        rows,
        figures,
        notes=[
            "Both servers run at once on the same machine; rounds alternate between them.",
            (
                "Limits are set above the load (8 logins in flight for one account would "
                "otherwise be refused: attempts count while their password is checked). "
                "Every login succeeds: each one acquires the username and address counts and "
                "gives them back, the most the throttle does for a request that is let through."
            ),
        ],
    )
    log(f"throttle: wrote {path}")
