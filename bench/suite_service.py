"""The HTTPS service under wrk: sealbox against a bare FastAPI hello-world served the same way.

Targets (issue: the sealbox HTTPS service), one worker, HTTPS keep-alive, same run:
- GET /users/me at least 0.6x the requests/s of the bare hello-world;
- logins/s at least 0.8x of (cores / Argon2 hash time) with the service's profile;
- /health p99 during a login storm at most 3x its idle p99;
- 60 s at 64 connections on /users/me with zero errors and flat memory.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import cast

import httpx2

from bench._harness import Figure, Row, log, write_results
from sealbox.passwords import PasswordHasher
from sealbox.tls.client import secure_client

HERE = Path(__file__).resolve().parent
USER, PASSWORD = "bench-user", "bench password 1"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, ca: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with secure_client(ca=ca) as c:
                c.get(url)
                return
        except httpx2.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server for {url} did not start") from None
            time.sleep(0.2)


def _serve(work: Path, port: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start ``sealbox serve`` (data in ``work/data``) and wait until it answers.

    Returns:
        the process, its base URL and the CA file that clients trust.
    """
    data = work / "data"
    log_file = (work / "serve.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sealbox",
            "serve",
            "--data-dir",
            str(data),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    log_file.close()
    ca, base = data / "tls" / "ca.crt", f"https://localhost:{port}"
    deadline = time.monotonic() + 60
    while not ca.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"sealbox serve did not start: {(work / 'serve.log').read_text()}")
        time.sleep(0.1)
    _wait(f"{base}/health", ca, proc)
    return proc, base, ca


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop a server started for a benchmark (gracefully, then for good)."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def on_core(cpu: int | None) -> list[str]:
    """The prefix of a command that keeps it on core ``cpu`` (none for ``None``, or
    where ``taskset`` is missing)."""
    if cpu is None or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", str(cpu)]


def cores_apart() -> tuple[int | None, int | None]:
    """The cores of a load generator and the server it measures: one each, where the
    machine has two or more and lets a process choose (each then has a core to itself,
    and neither's share of the other's core moves the figures between runs)."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cores = sorted(os.sched_getaffinity(0))
    return (cores[0], cores[1]) if len(cores) >= 2 else (None, None)


def _wrk(args: list[str], lua: str | None = None, *, cpu: int | None = None) -> dict[str, float]:
    cmd = ["wrk", "--latency", *args]
    script = None
    if lua is not None:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115
        script.write(lua)
        script.close()
        cmd[1:1] = ["-s", script.name]
    out = subprocess.run([*on_core(cpu), *cmd], capture_output=True, text=True, check=True).stdout
    if script is not None:
        os.unlink(script.name)
    # wrk prints the rate and the request count on every run that completes.
    rps = cast("re.Match[str]", re.search(r"Requests/sec:\s+([\d.]+)", out))
    result: dict[str, float] = {"rps": float(rps[1])}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if m:
            scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[m[2]]
            result[f"p{pct}_ms"] = float(m[1]) * scale
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non2xx"] = float(m[1]) if m else 0.0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["socket_errors"] = float(sum(int(x) for x in m.groups())) if m else 0.0
    requests = cast("re.Match[str]", re.search(r"(\d+) requests in", out))
    result["requests"] = float(requests[1])
    return result


def _probe_p99(base: str, ca: Path, seconds: float, rate: float = 50.0) -> float:
    """p99 latency (ms) of GET /health sent at a steady ``rate`` on one keep-alive connection.

    A light, open-loop probe: it measures how long a request waits, not how many
    requests the server can take (wrk measures that).
    """
    latencies = []
    with secure_client(ca=ca, base_url=base) as c:
        c.get("/health")
        end = time.monotonic() + seconds
        next_at = time.monotonic()
        while time.monotonic() < end:
            t0 = time.perf_counter()
            assert c.get("/health").status_code == 200
            latencies.append((time.perf_counter() - t0) * 1000)
            next_at += 1 / rate
            time.sleep(max(0.0, next_at - time.monotonic()))
    latencies.sort()
    return latencies[int(len(latencies) * 0.99) - 1]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _bearer_lua(token: str) -> str:
    return f'wrk.headers["Authorization"] = "Bearer {token}"\n'


LOGIN_LUA = f"""
wrk.method = "POST"
wrk.body = "username={USER}&password={PASSWORD.replace(" ", "+")}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""


def main(quick: bool = False) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make system-deps installs it)")
    d = 3 if quick else 10
    long_run = 10 if quick else 60
    work = Path(tempfile.mkdtemp(prefix="sealbox-bench-service-"))
    data = work / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    # The login storm keeps 8 logins of one account in flight; attempts count while their
    # password is checked, so the per-account limit must be above that (it is 5 by default).
    env["SEALBOX_THROTTLE_USER_ATTEMPTS"] = "1000"
    env["SEALBOX_THROTTLE_ADDRESS_ATTEMPTS"] = "100000"
    port, hello_port = _free_port(), _free_port()
    service, base, ca = _serve(work, port, env)
    hello = None
    try:
        hello = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench._hello_server",
                "--port",
                str(hello_port),
                "--data-dir",
                str(data),
            ],
            cwd=HERE.parent,
            env=env,
        )
        _wait(f"https://localhost:{hello_port}/hello", ca, hello)
        with secure_client(ca=ca, base_url=base) as c:
            c.post("/auth/register", json={"username": USER, "password": PASSWORD})
            token = c.post("/auth/token", data={"username": USER, "password": PASSWORD}).json()[
                "access_token"
            ]
        # wrk does not verify certificates: the servers are ours, on loopback.
        log("service: GET /users/me vs bare hello-world (interleaved, 3 rounds)")
        me_runs, hello_runs = [], []
        for _ in range(3):
            hello_runs.append(
                _wrk(["-t1", "-c32", f"-d{d}s", f"https://127.0.0.1:{hello_port}/hello"])
            )
            me_runs.append(
                _wrk(
                    ["-t1", "-c32", f"-d{d}s", f"https://127.0.0.1:{port}/users/me"],
                    _bearer_lua(token),
                )
            )
        me_rps = statistics.median(r["rps"] for r in me_runs)
        hello_rps = statistics.median(r["rps"] for r in hello_runs)
        assert all(r["non2xx"] == 0 for r in me_runs), "GET /users/me answered errors"

        log("service: Argon2 hash time with the service's profile")
        hasher = PasswordHasher()
        walls, cpus = [], []
        for _ in range(7):
            t0, c0 = time.perf_counter(), time.process_time()
            hasher.hash(PASSWORD)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        hash_s, hash_cpu = statistics.median(walls), statistics.median(cpus)
        cores = os.cpu_count() or 1
        # The default profile hashes 4 lanes on their own threads: one hash keeps
        # several cores busy, so the capacity of the machine is cores / CPU time.
        ideal = cores / hash_cpu

        log("service: logins/s (wrk -c8 POST /auth/token)")
        login = _wrk(["-t1", "-c8", f"-d{d}s", f"https://127.0.0.1:{port}/auth/token"], LOGIN_LUA)
        assert login["non2xx"] == 0, f"{login['non2xx']:.0f} logins failed"
        time.sleep(3)  # let logins still queued in the server finish

        log("service: /health latency probe, idle then during a login storm")
        idle_p99 = _probe_p99(base, ca, d)
        storm_done = threading.Event()

        def storm() -> None:
            _wrk(["-t1", "-c8", f"-d{d + 2}s", f"https://127.0.0.1:{port}/auth/token"], LOGIN_LUA)
            storm_done.set()

        t = threading.Thread(target=storm)
        t.start()
        time.sleep(1)
        busy_p99 = _probe_p99(base, ca, d)
        t.join()

        log(f"service: {long_run} s at 64 connections on /users/me, memory sampled")
        samples: list[int] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(1.0):
                samples.append(_rss_kib(service.pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        soak = _wrk(
            ["-t1", "-c64", f"-d{long_run}s", f"https://127.0.0.1:{port}/users/me"],
            _bearer_lua(token),
        )
        stop.set()
        sampler.join()
        warm = samples[len(samples) // 5 : len(samples) // 5 + 3] or samples[:1]
        start_rss, end_rss = statistics.median(warm), statistics.median(samples[-3:])
        growth = (end_rss - start_rss) / start_rss if start_rss else 0.0
    finally:
        _stop(service)
        _stop(hello)
        shutil.rmtree(work, ignore_errors=True)

    rows = [
        Row(
            "GET /users/me (bearer JWT) vs GET /hello",
            "req/s",
            me_rps,
            hello_rps,
            "bare FastAPI hello-world, same uvicorn and TLS",
            target=0.6,
            note="wrk -t1 -c32 over HTTPS keep-alive, one worker; medians of 3 interleaved runs",
        ),
        Row(
            "logins/s vs cores / Argon2 hash time",
            "logins/s",
            login["rps"],
            ideal,
            f"{cores} cores / {hash_cpu * 1000:.0f} ms CPU per hash (rfc9106-low-memory)",
            target=0.8,
            note=(
                "wrk -t1 -c8 POST /auth/token (OAuth2 form), every login succeeding; one hash "
                f"takes {hash_s * 1000:.0f} ms of wall time and {hash_cpu * 1000:.0f} ms of CPU "
                f"(p=4 lanes on threads), so cores / wall time ({cores / hash_s:.1f}/s) is more "
                "than the machine can hash"
            ),
        ),
        Row(
            "/health p99: idle vs during the login storm",
            "ms",
            busy_p99,
            idle_p99,
            "idle p99 (same run)",
            higher_is_better=False,
            target=1 / 3,
            target_text="storm p99 <= 3x idle p99 (ratio >= 0.33)",
            note="GET /health at 50/s on one keep-alive connection; the storm is wrk -c8 "
            "POST /auth/token",
        ),
    ]
    figures = [
        Figure(
            "soak: requests in the run",
            "requests",
            soak["requests"],
            f"{long_run} s, 64 connections",
        ),
        Figure("soak: non-2xx answers", "count", soak["non2xx"], "target 0"),
        Figure("soak: socket errors", "count", soak["socket_errors"], "target 0"),
        Figure("soak: throughput", "req/s", soak["rps"]),
        Figure("soak: RSS after warm-up", "MiB", start_rss / 1024),
        Figure("soak: RSS at the end", "MiB", end_rss / 1024, f"growth {growth * 100:+.1f}%"),
        Figure("/health p99 idle", "ms", idle_p99),
        Figure("/health p99 during logins", "ms", busy_p99),
        Figure("Argon2id hash (rfc9106-low-memory), wall", "ms", hash_s * 1000),
        Figure("Argon2id hash (rfc9106-low-memory), CPU", "ms", hash_cpu * 1000),
    ]
    write_results(
        "service",
        rows,
        figures,
        notes=[
            "Client (wrk, 1 thread) and server share the machine's cores, as in ANCHORS.md.",
            "Verified token claims are cached per worker; revocation is checked on every request.",
        ],
    )
