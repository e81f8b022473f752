"""Vault's wire protocol against sealbox's native transit route, under wrk, same server.

Target (issue 22: speak Vault's wire protocol), one worker, HTTPS keep-alive, same run:
- POST /v1/transit/encrypt/{name} (Vault-shaped, ``X-Vault-Token``) of 1 KiB at least
  0.9x the requests/s of POST /v1/keys/{name}/encrypt (native, bearer token);
- the server's CPU time per request of both, and the KV v2 read of a small secret
  (GET /v1/secret/data/{path}), reported.

Native and Vault-shaped runs alternate (7 pairs); the rows hold the medians and the
notes the spread. The server, wrk and its options are those of ``bench/suite_service.py``.
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
from bench.suite_service import _bearer_lua, _free_port, _serve, _stop
from bench.suite_transit import _post_lua, _rounds
from sealbox.tls.client import secure_client

USER, PASSWORD = "bench-vault", "bench password 1"
KEY = "bench"
SCOPES = ("transit:admin", f"transit:encrypt:{KEY}", "kv:read:secret/bench/")
PAIRS = 7


def _vault_lua(token: str, body: str | None = None) -> str:
    lua = f'wrk.headers["X-Vault-Token"] = "{token}"\n'
    if body is not None:
        lua += (
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(body)}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
    return lua


def main(quick: bool = False) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make system-deps installs it)")
    d = 3 if quick else 8
    work = Path(tempfile.mkdtemp(prefix="sealbox-bench-vault-"))
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
            shaped = c.post(
                f"/v1/transit/encrypt/{KEY}",
                json={"plaintext": plaintext},
                headers={"X-Vault-Token": token},
            ).json()
            assert shaped["data"]["ciphertext"].startswith("vault:v1:"), shaped
        _add_secret(data, env, work)
        single = json.dumps({"plaintext": plaintext})
        url = f"https://127.0.0.1:{port}"
        conn = ["-t1", "-c32", f"-d{d}s"]
        # wrk does not verify certificates: the server is ours, on loopback.
        log(f"vault: native vs Vault-shaped encrypt of 1 KiB ({PAIRS} alternating pairs)")
        pid = service.pid
        runs, _ = _rounds(
            PAIRS,
            {
                "native": (
                    [*conn, f"{url}/v1/keys/{KEY}/encrypt"],
                    _post_lua(token, single),
                    pid,
                ),
                "vault": (
                    [*conn, f"{url}/v1/transit/encrypt/{KEY}"],
                    _vault_lua(token, single),
                    pid,
                ),
            },
        )
        log("vault: KV v2 read (3 runs)")
        kv, _ = _rounds(
            3, {"kv": ([*conn, f"{url}/v1/secret/data/bench/db"], _vault_lua(token), pid)}
        )
        me, _ = _rounds(3, {"me": ([*conn, f"{url}/users/me"], _bearer_lua(token), pid)})
    finally:
        _stop(service)
        shutil.rmtree(work, ignore_errors=True)

    for name, results in {**runs, **kv, **me}.items():
        bad = sum(r["non2xx"] + r["socket_errors"] for r in results)
        assert bad == 0, f"{name}: {bad:.0f} failed requests"

    def median(results: list[dict[str, float]], key: str = "rps") -> float:
        return statistics.median(r[key] for r in results)

    def spread(results: list[dict[str, float]], key: str = "rps") -> str:
        values = [r[key] for r in results]
        return f"{min(values):,.0f}-{max(values):,.0f}"

    native, vault = runs["native"], runs["vault"]
    pair_ratios = [v["rps"] / n["rps"] for n, v in zip(native, vault, strict=True)]
    rows = [
        Row(
            "POST /v1/transit/encrypt/{name} (Vault-shaped, 1 KiB) vs POST /v1/keys/{name}/encrypt",
            "req/s",
            median(vault),
            median(native),
            "native encrypt, same server and run",
            target=0.9,
            note=f"wrk -t1 -c32 over HTTPS keep-alive, one worker, SQLite; medians of {PAIRS} "
            f"alternating pairs (Vault-shaped {spread(vault)} req/s, native {spread(native)}; "
            f"ratio per pair {min(pair_ratios):.2f}-{max(pair_ratios):.2f}); every answer 200",
        ),
        Row(
            "server CPU per request: Vault-shaped vs native encrypt (1 KiB)",
            "µs",
            median(vault, "cpu_us"),
            median(native, "cpu_us"),
            "native encrypt, same runs",
            higher_is_better=False,
            note="the service process's CPU time per request served (wrk runs above)",
        ),
        Row(
            "GET /v1/secret/data/{path} (KV v2 read) vs GET /users/me",
            "req/s",
            median(kv["kv"]),
            median(me["me"]),
            "GET /users/me, same server",
            note="a two-key secret: one database read and an AES-256-GCM open per request",
        ),
    ]
    figures = [
        Figure(
            "native encrypt 1 KiB",
            "req/s",
            median(native),
            f"p99 {median(native, 'p99_ms'):.1f} ms",
        ),
        Figure(
            "Vault-shaped encrypt 1 KiB",
            "req/s",
            median(vault),
            f"p99 {median(vault, 'p99_ms'):.1f} ms",
        ),
        Figure("KV v2 read", "req/s", median(kv["kv"]), f"p99 {median(kv['kv'], 'p99_ms'):.1f} ms"),
    ]
    write_results(
        "vault",
        rows,
        figures,
        notes=[
            "Client (wrk, 1 thread) and server share the machine's cores, as in ANCHORS.md.",
            (
                "Both encrypts check the same token (X-Vault-Token or bearer), scope and "
                "cached key and write an audit line; the Vault-shaped one also reshapes the "
                'request (Vault\'s fields) and the answer ({"data": …}, vault:v<N>:).'
            ),
        ],
    )


def _add_secret(data: Path, env: dict[str, str], work: Path) -> None:
    """Write secret/bench/db through the running service's database (a KV write)."""
    script = (
        "import asyncio\n"
        "from sealbox.service.db import make_engine, sessionmaker\n"
        "from sealbox.service.provision import DataDir\n"
        "from sealbox.service.settings import ServiceSettings\n"
        "from sealbox.service.vault.kv_store import KVStore\n"
        f"settings = ServiceSettings(_env_file=None, data_dir={str(data)!r})\n"
        "async def main():\n"
        "    engine = make_engine(settings.resolved_database_url())\n"
        "    store = KVStore(sessionmaker(engine), DataDir(settings.data_dir).master_key())\n"
        "    await store.write('secret', 'bench/db', {'user': 'app', 'password': 'bench'})\n"
        "    await engine.dispose()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", script], env=env, cwd=work, check=True)
