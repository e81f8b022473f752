"""Transit (encryption as a service) under wrk, against GET /users/me of the same server.

Targets (issue: encryption as a service), one worker, HTTPS keep-alive, same run:
- POST /v1/keys/{name}/encrypt of 1 KiB at least 0.8x the requests/s of GET /users/me;
- a batch of 100 items at least 20x the items/s of single calls (issue 17).

Batches are measured with 1 KiB items (the target's) and with 32-byte data keys, the
plaintext of envelope encryption, where a batch's per-byte work (TLS, JSON, base64) is
small beside its per-request work.

Every comparison runs in alternating rounds (each workload first in turn) and records the
per-round ratios' spread and the server's CPU time per request or item. Decrypt batches
are compared the same way, and the encrypt batch with its ceiling: a raw ASGI app
(``bench/_fixed_answer_server.py``) answering the same bytes over the same TLS.

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
import timeit
from collections.abc import Callable
from pathlib import Path

from bench._harness import Figure, Row, log, write_results
from bench.suite_service import HERE, _bearer_lua, _free_port, _serve, _stop, _wait, _wrk
from sealbox.tls.client import secure_client

USER, PASSWORD = "bench-transit", "bench password 1"
KEY = "bench"
SCOPES = ("transit:admin", f"transit:encrypt:{KEY}", f"transit:decrypt:{KEY}")
BATCH = 100


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


def _rounds(
    rounds: int, jobs: dict[str, tuple[list[str], str | None, int]]
) -> tuple[dict[str, list[dict[str, float]]], list[float]]:
    """wrk runs of every job in each round, the jobs in rotating order (each first in turn).

    A job is (wrk arguments, Lua script, pid of the server it loads); each result also holds
    that server's CPU µs per request. Returns the results and the load average (1 min)
    before the first and after each round.
    """
    out: dict[str, list[dict[str, float]]] = {name: [] for name in jobs}
    order, loads = list(jobs), [os.getloadavg()[0]]
    for i in range(rounds):
        turn = i % len(order)
        for name in order[turn:] + order[:turn]:
            args, lua, pid = jobs[name]
            before = _cpu_seconds(pid)
            result = _wrk(args, lua)
            result["cpu_us"] = (_cpu_seconds(pid) - before) / result["requests"] * 1e6
            out[name].append(result)
        loads.append(os.getloadavg()[0])
    return out, loads


def _median(results: list[dict[str, float]], key: str = "rps") -> float:
    return statistics.median(r[key] for r in results)


def _pair_ratios(
    a: list[dict[str, float]], b: list[dict[str, float]], key: str, scale: float = 1.0
) -> list[float]:
    """Round by round, ``a``'s figure (times ``scale``) over ``b``'s."""
    return [x[key] * scale / y[key] for x, y in zip(a, b, strict=True)]


def _spread(ratios: list[float]) -> str:
    return (
        f"per-round ratios {min(ratios):.2f}-{max(ratios):.2f} "
        f"(median {statistics.median(ratios):.2f}, {len(ratios)} rounds)"
    )


def _best_us(fn: Callable[[], object], number: int, per: int = 1) -> float:
    """The best of seven timings of ``number`` calls of ``fn``, in µs per call / ``per``."""
    return min(timeit.repeat(fn, number=number, repeat=7)) / number / per * 1e6


def _item_floor(plaintext: str, batch: str) -> list[Figure]:
    """What one 1 KiB item of an encrypt batch costs in C alone, in-process: its share of
    parsing the body, decoding its base64, one AES-GCM call, encoding the answer's base64."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from pydantic_core import from_json

    from sealbox.transit.formats import decode_quanta_many, encode_b64

    raw, texts = batch.encode(), [plaintext] * BATCH
    decoded = decode_quanta_many(texts)
    aead, nonce = AESGCM(AESGCM.generate_key(256)), os.urandom(12)
    sealed = aead.encrypt(nonce, decoded[0], None)
    steps = [
        ("JSON: its share of parsing the body", lambda: from_json(raw, cache_strings=False), BATCH),
        ("base64 in: decoding 1.4 KB", lambda: decode_quanta_many(texts), BATCH),
        ("AES-GCM: one call on 1 KiB", lambda: aead.encrypt(nonce, decoded[0], None), 1),
        (
            "AES-GCM: one call on 16 B (the call itself)",
            lambda: aead.encrypt(nonce, b"x" * 16, None),
            1,
        ),
        ("base64 out: encoding the ciphertext", lambda: encode_b64(sealed), 1),
    ]
    figures = [
        Figure(
            f"one batch item in C, in-process: {label}",
            "µs",
            _best_us(fn, 2000 if per == 1 else 200, per),
            "best of 7",
        )
        for label, fn, per in steps
    ]
    total = sum(f.value for f in figures if "16 B" not in f.name)
    figures.append(
        Figure(
            "one batch item in C, in-process: total (AES-GCM on 1 KiB counted once)",
            "µs",
            total,
            "before any Python runs for the item; in the server each step costs more",
        )
    )
    return figures


def _batch_rows(
    what: str,
    per_item: str,
    batch: list[dict[str, float]],
    single: list[dict[str, float]],
    anchor: str,
    *,
    target: float | None = None,
    target_text: str = "",
    rate_note: str = "",
    cpu_note: str = "",
) -> list[Row]:
    """A batch against single calls, in the same rounds: items/s, then server CPU per item."""
    return [
        Row(
            f"{what} vs {BATCH} single calls",
            "items/s",
            _median(batch) * BATCH,
            _median(single),
            f"{anchor}, same server and rounds",
            target=target,
            target_text=target_text,
            note=rate_note + _spread(_pair_ratios(batch, single, "rps", BATCH)),
        ),
        Row(
            f"server CPU per item: {per_item} vs single calls",
            "µs",
            _median(batch, "cpu_us") / BATCH,
            _median(single, "cpu_us"),
            f"{anchor}, same rounds",
            higher_is_better=False,
            note=cpu_note + _spread(_pair_ratios(single, batch, "cpu_us", BATCH)),
        ),
    ]


def main(quick: bool = False) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make system-deps installs it)")
    d = 3 if quick else 10
    rounds = 3 if quick else 5
    work = Path(tempfile.mkdtemp(prefix="sealbox-bench-transit-"))
    data = work / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    port, fixed_port = _free_port(), _free_port()
    service, base, ca = _serve(work, port, env)
    fixed = None
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
        single = json.dumps({"plaintext": plaintext})
        batch = json.dumps({"batch_input": [{"plaintext": plaintext}] * BATCH})
        # Envelope encryption's plaintext: a 256-bit data key.
        key_text = base64.b64encode(os.urandom(32)).decode()
        single_key = json.dumps({"plaintext": key_text})
        batch_key = json.dumps({"batch_input": [{"plaintext": key_text}] * BATCH})
        with secure_client(ca=ca, base_url=base) as c:
            token = c.post("/auth/token", data={"username": USER, "password": PASSWORD}).json()[
                "access_token"
            ]
            auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            assert c.post(f"/v1/keys/{KEY}", json={"type": "aes256-gcm"}, headers=auth).is_success
            one = c.post(f"/v1/keys/{KEY}/encrypt", content=single, headers=auth)
            many = c.post(f"/v1/keys/{KEY}/encrypt", content=batch, headers=auth)
            assert one.status_code == 200
            assert many.status_code == 200
        decrypt = json.dumps({"ciphertext": one.json()["ciphertext"]})
        decrypt_batch = json.dumps(
            {"batch_input": [{"ciphertext": r["ciphertext"]} for r in many.json()["batch_results"]]}
        )
        # The ceiling: the same answers, given in advance, by a raw ASGI app on the same stack.
        (work / "single.json").write_bytes(one.content)
        (work / "batch.json").write_bytes(many.content)
        fixed = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench._fixed_answer_server",
                "--port",
                str(fixed_port),
                "--data-dir",
                str(data),
                "--answer",
                f"/single={work / 'single.json'}",
                "--answer",
                f"/batch={work / 'batch.json'}",
            ],
            cwd=HERE.parent,
            env=env,
        )
        _wait(f"https://localhost:{fixed_port}/single", ca, fixed)
        url, fixed_url = f"https://127.0.0.1:{port}", f"https://127.0.0.1:{fixed_port}"
        conn, batch_conn = ["-t1", "-c32", f"-d{d}s"], ["-t1", "-c8", f"-d{d}s"]
        # wrk does not verify certificates: the servers are ours, on loopback.
        encrypt, decrypt_url = f"{url}/v1/keys/{KEY}/encrypt", f"{url}/v1/keys/{KEY}/decrypt"

        def post(
            target: str, body: str, *, many: bool = False, pid: int = service.pid
        ) -> tuple[list[str], str, int]:
            """A wrk job posting ``body`` to ``target`` (``many``: a batch's connections)."""
            return ([*(batch_conn if many else conn), target], _post_lua(token, body), pid)

        log(f"transit: encrypt 1 KiB vs GET /users/me ({rounds} rounds)")
        runs, loads = _rounds(
            rounds,
            {
                "me": ([*conn, f"{url}/users/me"], _bearer_lua(token), service.pid),
                "encrypt": post(encrypt, single),
            },
        )
        log(f"transit: batches of {BATCH} vs single calls, and the ceiling ({rounds} rounds)")
        pairs, more_loads = _rounds(
            rounds,
            {
                "single": post(encrypt, single),
                "batch": post(encrypt, batch, many=True),
                "decrypt": post(decrypt_url, decrypt),
                "decrypt_batch": post(decrypt_url, decrypt_batch, many=True),
                "fixed_batch": post(f"{fixed_url}/batch", batch, many=True, pid=fixed.pid),
                "fixed_single": post(f"{fixed_url}/single", single, pid=fixed.pid),
                "parse_batch": post(f"{fixed_url}/batch-parse", batch, many=True, pid=fixed.pid),
                "seal_batch": post(f"{fixed_url}/batch-seal", batch, many=True, pid=fixed.pid),
            },
        )
        log(f"transit: batches of {BATCH} data keys (32 B) vs single calls ({rounds} rounds)")
        keys, key_loads = _rounds(
            rounds,
            {
                "single_key": post(encrypt, single_key),
                "batch_key": post(encrypt, batch_key, many=True),
            },
        )
    finally:
        _stop(fixed)
        _stop(service)
        shutil.rmtree(work, ignore_errors=True)

    for name, results in {**runs, **pairs, **keys}.items():
        bad = sum(r["non2xx"] + r["socket_errors"] for r in results)
        assert bad == 0, f"{name}: {bad:.0f} failed requests"

    loads += more_loads + key_loads
    me_rps, enc_rps = _median(runs["me"]), _median(runs["encrypt"])
    items_note = (
        f"wrk -t1 -c8 for batches (one request = {BATCH} items of 1 KiB, about 140 KB of "
        "JSON each way, above the 64 KiB limit of other routes: transit routes take 4 MiB), "
        f"-c32 for single calls; alternating rounds, medians; "
    )
    rows = [
        Row(
            "POST /v1/keys/{name}/encrypt (1 KiB) vs GET /users/me",
            "req/s",
            enc_rps,
            me_rps,
            "GET /users/me, same server and run",
            target=0.8,
            note="wrk -t1 -c32 over HTTPS keep-alive, one worker, SQLite; aes256-gcm key, every "
            "answer 200; " + _spread(_pair_ratios(runs["encrypt"], runs["me"], "rps")),
        ),
        Row(
            "server CPU per request: encrypt (1 KiB) vs GET /users/me",
            "µs",
            _median(runs["encrypt"], "cpu_us"),
            _median(runs["me"], "cpu_us"),
            "GET /users/me, same runs",
            higher_is_better=False,
            note="the service process's CPU time per request served; "
            + _spread(_pair_ratios(runs["me"], runs["encrypt"], "cpu_us")),
        ),
        *_batch_rows(
            f"encrypt: batch of {BATCH} (1 KiB each)",
            f"encrypt batch of {BATCH}",
            pairs["batch"],
            pairs["single"],
            "single 1 KiB encrypts",
            target=20.0,
            target_text=">= 20x (issue 17)",
            rate_note=items_note,
            cpu_note=(
                "the service process's CPU time per request (batch: per item), unaffected by "
                "what else the machine runs; "
            ),
        ),
        *_batch_rows(
            f"encrypt: batch of {BATCH} data keys (32 B each)",
            f"batch of {BATCH} data keys",
            keys["batch_key"],
            keys["single_key"],
            "single 32 B encrypts",
            rate_note=(
                "the batch comparison with envelope encryption's plaintext, a 256-bit data "
                "key (the target row is the 1 KiB one above); "
            ),
        ),
        *_batch_rows(
            f"decrypt: batch of {BATCH}",
            f"decrypt batch of {BATCH}",
            pairs["decrypt_batch"],
            pairs["decrypt"],
            "single 1 KiB decrypts",
        ),
        Row(
            f"encrypt batch of {BATCH} vs its ceiling",
            "req/s",
            _median(pairs["batch"]),
            _median(pairs["fixed_batch"]),
            "a raw ASGI app answering the same bytes over the same TLS and uvicorn",
            note="the ceiling reads the same request body and sends the answer sealbox gave, "
            "with no framework, JSON or cryptography: what HTTP and TLS cost for those bytes; "
            + _spread(_pair_ratios(pairs["batch"], pairs["fixed_batch"], "rps")),
        ),
        Row(
            f"server CPU per request: encrypt batch of {BATCH} vs its ceiling",
            "µs",
            _median(pairs["batch"], "cpu_us"),
            _median(pairs["fixed_batch"], "cpu_us"),
            "the raw ASGI app of the row above",
            higher_is_better=False,
            note=_spread(_pair_ratios(pairs["fixed_batch"], pairs["batch"], "cpu_us")),
        ),
    ]
    figures = [
        Figure("GET /users/me", "req/s", me_rps, f"p99 {_median(runs['me'], 'p99_ms'):.1f} ms"),
    ]
    for label, results, unit_note in (
        ("encrypt 1 KiB", pairs["single"], ""),
        (f"encrypt, batch of {BATCH}", pairs["batch"], ""),
        ("decrypt 1 KiB", pairs["decrypt"], ""),
        (f"decrypt, batch of {BATCH}", pairs["decrypt_batch"], ""),
        ("encrypt a data key (32 B)", keys["single_key"], ""),
        (f"encrypt, batch of {BATCH} data keys", keys["batch_key"], ""),
        (f"ceiling: fixed batch answer ({BATCH} items)", pairs["fixed_batch"], ""),
        ("ceiling: fixed single answer", pairs["fixed_single"], ""),
    ):
        figures.append(
            Figure(
                label,
                "req/s",
                _median(results),
                f"p99 {_median(results, 'p99_ms'):.1f} ms; server CPU "
                f"{_median(results, 'cpu_us'):.0f} µs per request{unit_note}",
            )
        )
    log("transit: what a batch item costs in C, in-process")
    figures += _item_floor(plaintext, batch)
    # Where an encrypt batch's server time goes: each step on the ceiling's stack.
    steps = [
        ("ceiling: fixed batch answer", "fixed_batch", "reading the body, sending the answer"),
        ("+ parsing and checking the batch", "parse_batch", "the batch entry's JSON and checks"),
        (
            "+ decoding, sealing, writing the answer",
            "seal_batch",
            "base64 in, AES-GCM, base64 out, the answer's join",
        ),
        (
            "+ the service (the encrypt batch as served)",
            "batch",
            "the lean entry, token, scope, key lookup, audit line",
        ),
    ]
    before = None
    for label, name, what in steps:
        cpu = _median(pairs[name], "cpu_us")
        step = "" if before is None else f"; step {cpu - before:+.0f} µs: {what}"
        figures.append(
            Figure(
                f"encrypt batch of {BATCH}, step by step: {label}",
                "µs",
                cpu,
                f"server CPU per request, rounds {min(r['cpu_us'] for r in pairs[name]):.0f}.."
                f"{max(r['cpu_us'] for r in pairs[name]):.0f}{step}",
            )
        )
        before = cpu
    write_results(
        "transit",
        rows,
        figures,
        notes=[
            (
                f"Load average (1 min) during the runs: {min(loads):.1f}-{max(loads):.1f} on "
                f"{os.cpu_count()} cores."
            ),
            "Client (wrk, 1 thread) and server share the machine's cores, as in ANCHORS.md.",
            (
                "Each call checks the bearer token (signature cached per worker, revocation "
                "checked) and the scope, uses the worker's cached key, and writes one audit "
                "line (a batch: one line for all its items)."
            ),
            (
                "Server CPU per request is the server process's user+system time during a run "
                "divided by the requests served: it does not depend on what else the machine "
                "runs, unlike requests/s."
            ),
        ],
    )
