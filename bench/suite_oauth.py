"""The service as an authorization server under wrk: client-credentials token issuance and
token introspection, each against GET /users/me in the same run.

Targets (issue 20, the service as a small standard authorization server): figures for
client-credentials issuance per second and introspection per second, each beside
GET /users/me (the cheapest authenticated route) measured in the same run, one worker,
HTTPS keep-alive. No ratio is set by the issue; the rows record where each stands.
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

USER, PASSWORD = "bench-user", "bench password 1"


def _form_lua(body: str, authorization: str) -> str:
    return (
        'wrk.method = "POST"\n'
        f'wrk.body = "{body}"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f'wrk.headers["Authorization"] = "{authorization}"\n'
    )


def _register_client(work: Path, env: dict[str, str]) -> tuple[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "sealbox", "clients", "create", "bench", "--scope", "users:me",
         "--scope", "tokens:introspect", "--json", "--data-dir", str(work / "data")],
        env=env, capture_output=True, check=True, cwd=work,
    ).stdout  # fmt: skip
    made = json.loads(out)
    return made["client_id"], made["client_secret"]


def _parts(data: Path, client_id: str, secret: str, token: str) -> dict[str, float]:
    """Milliseconds per call of each step, in this process, on the service's own data."""
    import asyncio
    import time

    from sealbox.accounts.grants import introspect, issue_client_token
    from sealbox.service.db import sessionmaker
    from sealbox.service.routes.oauth import client_store
    from sealbox.service.runtime import Runtime
    from sealbox.service.serve import load_settings

    async def measure() -> dict[str, float]:
        runtime = await Runtime.open(load_settings(data_dir=data))
        try:
            store, n = client_store(runtime), 300
            client = await store.authenticate_secret(client_id, secret)
            assert client is not None
            t0 = time.perf_counter()
            for _ in range(n):
                await store.authenticate_secret(client_id, secret)
            t1 = time.perf_counter()
            for _ in range(n):
                issue_client_token(runtime.keyset, client, [], issuer="sealbox",
                                   audience="sealbox", ttl=900)  # fmt: skip
            t2 = time.perf_counter()
            for _ in range(n):
                await introspect(token, caller_id=client.client_id,
                                 caller_scopes=client.scopes, verifier=runtime.verifier,
                                 revocations=runtime.revocations,
                                 sessions=sessionmaker(runtime.engine),
                                 first_party_client_id="sealbox-first-party")  # fmt: skip
            t3 = time.perf_counter()
        finally:
            await runtime.close()
        return {"auth": (t1 - t0) / n * 1e3, "issue": (t2 - t1) / n * 1e3,
                "introspect": (t3 - t2) / n * 1e3}  # fmt: skip

    return asyncio.run(measure())


def main(quick: bool = False) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make system-deps installs it)")
    d = 3 if quick else 10
    work = Path(tempfile.mkdtemp(prefix="sealbox-bench-oauth-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    port = _free_port()
    service, base, ca = _serve(work, port, env)
    try:
        client_id, secret = _register_client(work, env)
        basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        with secure_client(ca=ca, base_url=base) as c:
            c.post("/auth/register", json={"username": USER, "password": PASSWORD})
            user_token = c.post(
                "/auth/token", data={"username": USER, "password": PASSWORD}
            ).json()["access_token"]
            answer = c.post(
                "/auth/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": basic},
            )
            assert answer.status_code == 200, answer.text
            client_token = answer.json()["access_token"]
            check = c.post(
                "/auth/introspect", data={"token": client_token}, headers={"Authorization": basic}
            ).json()
            assert check["active"] is True
        issue_lua = _form_lua("grant_type=client_credentials", basic)
        introspect_lua = _form_lua(f"token={client_token}", basic)
        me_lua = _bearer_lua(user_token)
        url = f"https://127.0.0.1:{port}"
        # wrk does not verify certificates: the server is ours, on loopback.
        log("oauth: client credentials, introspection and /users/me (interleaved, 3 rounds)")
        me_runs, issue_runs, introspect_runs = [], [], []
        for _ in range(3):
            me_runs.append(_wrk(["-t1", "-c32", f"-d{d}s", f"{url}/users/me"], me_lua))
            issue_runs.append(_wrk(["-t1", "-c32", f"-d{d}s", f"{url}/auth/token"], issue_lua))
            introspect_runs.append(
                _wrk(["-t1", "-c32", f"-d{d}s", f"{url}/auth/introspect"], introspect_lua)
            )
        for name, runs in (("me", me_runs), ("issue", issue_runs), ("introspect", introspect_runs)):
            assert all(r["non2xx"] == 0 for r in runs), f"{name}: non-2xx answers"
        log("oauth: the steps in-process (client lookup, signing, introspection)")
        parts = _parts(work / "data", client_id, secret, client_token)
    finally:
        _stop(service)
        shutil.rmtree(work, ignore_errors=True)

    me_rps = statistics.median(r["rps"] for r in me_runs)
    issue_rps = statistics.median(r["rps"] for r in issue_runs)
    introspect_rps = statistics.median(r["rps"] for r in introspect_runs)

    def spread(runs: list[dict[str, float]]) -> str:
        rates = sorted(r["rps"] for r in runs)
        return f"runs {rates[0]:.0f}-{rates[-1]:.0f} req/s"

    note = "wrk -t1 -c32 over HTTPS keep-alive, one worker, SQLite; medians of 3 interleaved runs"
    rows = [
        Row(
            "client-credentials tokens/s vs GET /users/me",
            "req/s",
            issue_rps,
            me_rps,
            "GET /users/me with a user's bearer token, same run",
            note=f"{note}; Basic auth, one client ({spread(issue_runs)})",
        ),
        Row(
            "introspections/s vs GET /users/me",
            "req/s",
            introspect_rps,
            me_rps,
            "GET /users/me with a user's bearer token, same run",
            note=f"{note}; Basic auth, a live client token ({spread(introspect_runs)})",
        ),
    ]
    figures = [
        Figure("GET /users/me", "req/s", me_rps, spread(me_runs)),
        Figure("POST /auth/token client_credentials", "req/s", issue_rps, spread(issue_runs)),
        Figure("POST /auth/introspect", "req/s", introspect_rps, spread(introspect_runs)),
        Figure(
            "client_credentials p99",
            "ms",
            statistics.median(r.get("p99_ms", 0.0) for r in issue_runs),
        ),
        Figure(
            "introspect p99", "ms", statistics.median(r.get("p99_ms", 0.0) for r in introspect_runs)
        ),
        Figure("/users/me p99", "ms", statistics.median(r.get("p99_ms", 0.0) for r in me_runs)),
        Figure(
            "in-process: client lookup and secret check",
            "ms",
            parts["auth"],
            "one SELECT through aiosqlite, SHA-256, two compare_digest",
        ),
        Figure("in-process: sign a client token", "ms", parts["issue"], "EdDSA"),
        Figure(
            "in-process: introspect a live token",
            "ms",
            parts["introspect"],
            "signature verified, revocation checked",
        ),
    ]
    write_results(
        "oauth",
        rows,
        figures,
        notes=[
            "Client (wrk, 1 thread) and server share the machine's cores.",
            (
                "The service's default limits: wrk's 32 connections are 32 client "
                "authentications at once from one address, within its client limit (100)."
            ),
            (
                "Each token request looks the client up in the database, compares the secret's "
                "SHA-256 in constant time, signs an EdDSA JWT and writes an audit record."
            ),
            (
                "Each introspection authenticates the client the same way, verifies the token's "
                "signature and checks the revocation lists."
            ),
        ],
    )
