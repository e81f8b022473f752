"""Transit (encryption as a service) under wrk, against GET /users/me of the same server.

Targets (issue: encryption as a service), one worker, HTTPS keep-alive, same run:
- POST /v1/keys/{name}/encrypt of 1 KiB at least 0.8x the requests/s of GET /users/me;
- a batch of 100 items at least 20x the items/s of single calls (issue 17).

The server, wrk and its options are those of ``bench/suite_service.py`` (its helpers
are imported from there).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._harness import Figure, Row, log, write_results
from bench.suite_service import _bearer_lua, _free_port, _serve, _stop, _wrk
from sealbox.tls.client import secure_client

USER, PASSWORD = "bench-transit", "bench password 1"
KEY = "bench"
SCOPES = ("transit:admin", f"transit:encrypt:{KEY}", f"transit:decrypt:{KEY}")


def _post_lua(token: str, body: str) -> str:
    return (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n' + _bearer_lua(token)
    )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _interleaved(
    runs: int, jobs: dict[str, tuple[list[str], str | None]], pid: int
) -> dict[str, list]:
    """wrk runs of each job in turn; each result also holds the server's CPU µs per request."""
    out: dict[str, list] = {name: [] for name in jobs}
    for _ in range(runs):
        for name, (args, lua) in jobs.items():
            before = _cpu_seconds(pid)
            result = _wrk(args, lua)
            result["cpu_us"] = (_cpu_seconds(pid) - before) / result["requests"] * 1e6
            out[name].append(result)
    return out


def main(quick: bool = False) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make system-deps installs it)")
    d = 3 if quick else 10
    work = Path(tempfile.mkdtemp(prefix="sealbox-bench-transit-"))
    data = work / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    port = _free_port()
    service, base, ca = _serve(work, port, env)
    try:
        scope_args = [a for s in SCOPES for a in ("--scope", s)]
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sealbox",
                "users",
                "create",
                USER,
                "--data-dir",
                str(data),
                *scope_args,
            ],
            input=PASSWORD.encode(),
            env=env,
            cwd=work,
            check=True,
            capture_output=True,
        )
        plaintext = base64.b64encode(os.urandom(1024)).decode()
        with secure_client(ca=ca, base_url=base) as c:
            token = c.post("/auth/token", data={"username": USER, "password": PASSWORD}).json()[
                "access_token"
            ]
            auth = {"Authorization": f"Bearer {token}"}
            assert c.post(f"/v1/keys/{KEY}", json={"type": "aes256-gcm"}, headers=auth).is_success
            ciphertext = c.post(
                f"/v1/keys/{KEY}/encrypt", json={"plaintext": plaintext}, headers=auth
            ).json()["ciphertext"]
        single = json.dumps({"plaintext": plaintext})
        batch = json.dumps({"batch_input": [{"plaintext": plaintext}] * 100})
        decrypt = json.dumps({"ciphertext": ciphertext})
        url = f"https://127.0.0.1:{port}"
        conn = ["-t1", "-c32", f"-d{d}s"]
        # wrk does not verify certificates: the server is ours, on loopback.
        log("transit: encrypt 1 KiB vs GET /users/me (interleaved, 3 rounds)")
        runs = _interleaved(
            3,
            {
                "me": ([*conn, f"{url}/users/me"], _bearer_lua(token)),
                "encrypt": ([*conn, f"{url}/v1/keys/{KEY}/encrypt"], _post_lua(token, single)),
            },
            service.pid,
        )
        log("transit: batch of 100 vs single encrypts, and decrypt (interleaved, 3 rounds)")
        more = _interleaved(
            3,
            {
                "batch": (
                    ["-t1", "-c8", f"-d{d}s", f"{url}/v1/keys/{KEY}/encrypt"],
                    _post_lua(token, batch),
                ),
                "single": ([*conn, f"{url}/v1/keys/{KEY}/encrypt"], _post_lua(token, single)),
                "decrypt": ([*conn, f"{url}/v1/keys/{KEY}/decrypt"], _post_lua(token, decrypt)),
            },
            service.pid,
        )
    finally:
        _stop(service)
        shutil.rmtree(work, ignore_errors=True)

    for name, results in {**runs, **more}.items():
        bad = sum(r["non2xx"] + r["socket_errors"] for r in results)
        assert bad == 0, f"{name}: {bad:.0f} failed requests"

    def median(results: list, key: str = "rps") -> float:
        return statistics.median(r[key] for r in results)

    me_rps, enc_rps = median(runs["me"]), median(runs["encrypt"])
    batch_items = median(more["batch"]) * 100
    single_items = median(more["single"])
    rows = [
        Row(
            "POST /v1/keys/{name}/encrypt (1 KiB) vs GET /users/me",
            "req/s",
            enc_rps,
            me_rps,
            "GET /users/me, same server and run",
            target=0.8,
            note="wrk -t1 -c32 over HTTPS keep-alive, one worker, SQLite; medians of 3 "
            "interleaved runs; aes256-gcm key, every answer 200",
        ),
        Row(
            "server CPU per request: encrypt (1 KiB) vs GET /users/me",
            "µs",
            median(runs["encrypt"], "cpu_us"),
            median(runs["me"], "cpu_us"),
            "GET /users/me, same runs",
            higher_is_better=False,
            note="the service process's CPU time per request served (wrk runs above)",
        ),
        Row(
            "encrypt: batch of 100 (1 KiB each) vs 100 single calls",
            "items/s",
            batch_items,
            single_items,
            "single 1 KiB encrypts (wrk -c32), same run",
            target=20.0,
            target_text=">= 20x (issue 17)",
            note="batch: wrk -t1 -c8, one request = 100 items (about 140 KB of JSON, above "
            "the 64 KiB limit of other routes: transit routes take 4 MiB)",
        ),
        Row(
            "server CPU per item: batch of 100 vs single calls",
            "µs",
            median(more["batch"], "cpu_us") / 100,
            median(more["single"], "cpu_us"),
            "single 1 KiB encrypts, same runs",
            higher_is_better=False,
            note="the service process's CPU time per request (batch: per item) in the runs "
            "above: the same comparison, unaffected by what else the machine runs",
        ),
    ]
    figures = [
        Figure("GET /users/me", "req/s", me_rps, f"p99 {median(runs['me'], 'p99_ms'):.1f} ms"),
        Figure(
            "encrypt 1 KiB",
            "req/s",
            enc_rps,
            f"p99 {median(runs['encrypt'], 'p99_ms'):.1f} ms",
        ),
        Figure(
            "decrypt 1 KiB",
            "req/s",
            median(more["decrypt"]),
            f"p99 {median(more['decrypt'], 'p99_ms'):.1f} ms",
        ),
        Figure(
            "encrypt, batch of 100",
            "req/s",
            median(more["batch"]),
            f"p99 {median(more['batch'], 'p99_ms'):.1f} ms",
        ),
    ]
    write_results(
        "transit",
        rows,
        figures,
        notes=[
            "Client (wrk, 1 thread) and server share the machine's cores, as in ANCHORS.md.",
            (
                "Each encrypt checks the bearer token (signature cached per worker, revocation "
                "checked) and the scope, uses the worker's cached key, and writes an audit line."
            ),
            (
                "Server CPU per request is the service process's user+system time during the "
                "runs divided by the requests served: it does not depend on what else the "
                "machine runs, unlike requests/s."
            ),
        ],
    )
