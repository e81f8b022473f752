"""The atomic login throttle against no throttle at all, in logins per second.

Target: the throttle (an attempt counted per username and per address before the
password is checked, in one step with the limit check; the count given back on
success) costs at most 5% of login throughput. The cheap "test" password profile is
used on purpose: with Argon2's real cost the throttle would not show at all.

Two pairs: one worker with its counters in memory, and a worker with its counters in
Redis (what several workers share), each against the same service without a throttle
(the Redis pair keeps its revocation lists in Redis on both sides, so only the
throttle differs). The Redis pair runs when Redis answers on 127.0.0.1:6379.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

from bench._harness import Figure, Row, log, write_results
from bench.suite_service import _free_port, _stop, _wait, _wrk
from sealbox.accounts.throttle import LocalThrottle, RedisThrottle, Throttle
from sealbox.passwords import PasswordHasher
from sealbox.service.settings import ServiceSettings
from sealbox.tls.client import secure_client

HERE = Path(__file__).resolve().parent
USER, PASSWORD = "bench-login", "bench login password"
REDIS_URL = "redis://127.0.0.1:6379/15"
REDIS_PREFIX = f"sealbox-bench-{os.getpid()}:"


def _start(
    work: Path, *, throttle: bool, redis: str | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    data = work / f"{'with' if throttle else 'without'}-{'redis' if redis else 'memory'}"
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
    if redis:
        cmd += ["--redis", redis, "--redis-prefix", REDIS_PREFIX]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ca = data / "tls" / "ca.crt"
    deadline = time.monotonic() + 60
    while not ca.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the login server did not start")
        time.sleep(0.1)
    _wait(f"https://localhost:{port}/health", ca, proc)
    with secure_client(ca=ca, base_url=f"https://localhost:{port}") as c:
        username = f"{USER}-redis" if redis else USER
        r = c.post("/auth/register", json={"username": username, "password": PASSWORD})
        if r.status_code != 201:
            raise RuntimeError(f"cannot register: {r.text}")
    return proc, port


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def _forget_redis_keys() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{REDIS_PREFIX}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _lua(username: str) -> str:
    return f"""
wrk.method = "POST"
wrk.body = "username={username}&password={PASSWORD.replace(" ", "+")}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""


def _cpu_per_login(throttle: Throttle, n: int) -> float:
    """CPU seconds one successful login spends in the throttle: acquire, then settle."""
    limits = [("user:bench", 10**9), ("addr:bench", 10**9)]

    async def run() -> float:
        async def one() -> None:
            attempt = await throttle.acquire(limits, 300)
            await throttle.settle(attempt, clear=["user:bench"], give_back=["addr:bench"])

        for _ in range(n // 10):  # connections made, scripts loaded
            await one()
        start = time.process_time()
        for _ in range(n):
            await one()
        spent = (time.process_time() - start) / n
        await throttle.settle(clear=["user:bench", "addr:bench"])
        await throttle.close()
        return spent

    return asyncio.run(run())


def _verify_seconds(profile: str) -> float:
    """CPU seconds of one password check with ``profile`` (what a login mostly costs)."""
    hasher = PasswordHasher(profile)
    stored = hasher.hash(PASSWORD)
    start = time.process_time()
    for _ in range(3):
        hasher.verify(stored, PASSWORD)
    return (time.process_time() - start) / 3


def main(quick: bool = False) -> None:
    seconds = 3 if quick else 8
    rounds = 2 if quick else 5
    pairs: list[tuple[str, str | None]] = [("memory", None)]
    if _redis_up():
        pairs.append(("redis", REDIS_URL))
    else:
        log("throttle: Redis is not running on 127.0.0.1:6379; measuring in memory only")
    rates: dict[tuple[str, bool], list[float]] = {
        (n, t): [] for n, _ in pairs for t in (True, False)
    }
    with tempfile.TemporaryDirectory(prefix="sealbox-bench-") as tmp:
        work = Path(tmp)
        procs = []
        try:
            ports: dict[tuple[str, bool], int] = {}
            for name, url in pairs:
                for throttle in (True, False):
                    proc, ports[name, throttle] = _start(work, throttle=throttle, redis=url)
                    procs.append(proc)
            log(f"throttle: {rounds} alternating rounds of {seconds} s logins (wrk -c8)")
            for _ in range(rounds):
                for (name, throttle), port in ports.items():
                    url = f"https://127.0.0.1:{port}/auth/token"
                    lua = _lua(f"{USER}-redis" if name == "redis" else USER)
                    result = _wrk(["-t1", "-c8", f"-d{seconds}s", url], lua)
                    if result["non2xx"]:
                        raise RuntimeError(f"{result['non2xx']:.0f} logins failed")
                    rates[name, throttle].append(result["rps"])
                    time.sleep(1)
        except httpx2.HTTPError as exc:
            raise RuntimeError(f"benchmark server failed: {exc}") from exc
        finally:
            for proc in procs:
                _stop(proc)
            if len(pairs) > 1:
                _forget_redis_keys()
    titles = {
        "memory": ("logins/s, password grant, one worker", "in memory"),
        "redis": ("logins/s, password grant, counters in Redis", "in Redis"),
    }
    rows, figures = [], []
    for name, _ in pairs:
        on, off = rates[name, True], rates[name, False]
        title, where = titles[name]
        rows.append(
            Row(
                title,
                "logins/s",
                statistics.median(on),
                statistics.median(off),
                "the same service without a throttle",
                target=0.95,
                target_text="throttle costs <= 5% (ratio >= 0.95)",
                note=(
                    "wrk -t1 -c8 POST /auth/token over HTTPS keep-alive, test password profile"
                    if name == "memory"
                    else "the same, counters in Redis: one script acquires, one settles"
                ),
            )
        )
        figures.append(
            Figure(
                f"with the throttle {where}",
                "logins/s",
                statistics.median(on),
                ", ".join(f"{r:.0f}" for r in on),
            )
        )
        figures.append(
            Figure(
                f"without ({where} pair)",
                "logins/s",
                statistics.median(off),
                ", ".join(f"{r:.0f}" for r in off),
            )
        )
    # In-process figures, steadier than throughput on a busy machine: the throttle's own
    # CPU per login, beside the password check that dominates a real login.
    n = 500 if quick else 3000
    cpu = {"memory": _cpu_per_login(LocalThrottle(), n)}
    if len(pairs) > 1:
        cpu["redis"] = _cpu_per_login(RedisThrottle(REDIS_URL, prefix=f"{REDIS_PREFIX}cpu:"), n)
    default_profile = ServiceSettings.model_fields["password_profile"].default
    verify = _verify_seconds(default_profile)
    for name, spent in cpu.items():
        figures.append(
            Figure(
                f"throttle CPU per login, {titles[name][1]}",
                "us",
                spent * 1e6,
                f"{spent / verify:.2%} of one {default_profile} password check",
            )
        )
    figures.append(Figure(f"password check, {default_profile}", "ms", verify * 1e3))
    path = write_results(
        "throttle",
        rows,
        figures,
        notes=[
            "The servers run at once on the same machine; rounds alternate between them.",
            (
                "In Redis the throttle is two round trips per login (one script acquires the "
                "username and address counts, one settles them): about 0.1 ms of the "
                "worker's CPU (figure above), which shows against the test profile's few "
                "milliseconds per login and is about 0.1% of a default-profile password check."
            ),
            (
                "Limits are set above the load (8 logins in flight for one account would "
                "otherwise be refused: attempts count while their password is checked). "
                "Every login succeeds: each one acquires the username and address counts and "
                "gives them back, the most the throttle does for a request that is let through."
            ),
        ],
    )
    log(f"throttle: wrote {path}")
