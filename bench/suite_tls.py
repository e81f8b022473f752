"""TLS: full handshakes per second of sealbox's secure clients against plain httpx clients.

Issue target: SPKI pinning costs at most 5% of the handshake rate, i.e.
``secure_client(pins=...)`` reaches at least 0.95x the rate of a plain
``httpx2.Client`` trusting the same CA, measured in the same run.

Every request opens a new TCP connection and does a full TLS 1.3 handshake
(ECDSA P-256 server certificate from a sealbox CA, no session resumption): the
server is ``openssl s_server -WWW``, which answers HTTP/1.0 and closes, in its
own process so that it does not share the client's interpreter.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx2
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bench._harness import Figure, Row, log, ops_per_second, write_results
from sealbox.tls.ca import CertificateAuthority
from sealbox.tls.client import secure_async_client, secure_client
from sealbox.tls.pinning import spki_pin


def _start_server(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    (folder / "ok").write_text("ok")
    proc = subprocess.Popen(
        [
            "openssl", "s_server", "-accept", "127.0.0.1:0", "-no_ticket",
            "-cert", str(folder / "server.crt"), "-key", str(folder / "server.key"), "-WWW",
        ],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    found: list[int] = []
    ready = threading.Event()

    def read_output() -> None:
        # Find the port in the ACCEPT line, then keep draining so the pipe never fills.
        assert proc.stdout is not None
        for raw in proc.stdout:
            match = re.search(r"ACCEPT .*:(\d+)", raw.decode(errors="replace"))
            if match and not found:
                found.append(int(match.group(1)))
                ready.set()
        ready.set()

    threading.Thread(target=read_output, daemon=True).start()
    if not ready.wait(10) or not found:
        proc.kill()
        raise RuntimeError("openssl s_server did not start")
    return proc, found[0]


def main(quick: bool = False) -> None:
    seconds = 0.2 if quick else 0.5
    rounds = 3 if quick else 9
    with tempfile.TemporaryDirectory(prefix="sealbox-bench-tls-") as tmp:
        folder = Path(tmp)
        ca = CertificateAuthority.init(folder / "ca")
        served = ca.issue_server(["localhost", "127.0.0.1"])
        served.write(folder / "server")
        backup = ca.issue_server(["localhost"])
        ca_file = str(folder / "ca" / "ca.crt")
        proc, port = _start_server(folder)
        try:
            rows, figures = _measure(ca_file, served.pin, backup.pin, port, seconds, rounds)
        finally:
            proc.kill()
            proc.wait()
        figures += _issue_figures(ca)
    path = write_results(
        "tls",
        rows,
        figures,
        notes=[
            (
                "Every request is a new connection with a full TLS 1.3 handshake (ECDSA P-256, "
                "no resumption) to `openssl s_server -WWW` in another process on 127.0.0.1; "
                "figures are medians of interleaved runs (order alternating), one client thread."
            ),
            "The pinned client lists two pins (current and backup), as a deployment would.",
        ],
    )
    log(f"tls: wrote {path}")


def _measure(
    ca_file: str, pin: str, backup_pin: str, port: int, seconds: float, rounds: int
) -> tuple[list[Row], list[Figure]]:
    url = f"https://localhost:{port}/ok"
    plain = httpx2.Client(verify=ssl.create_default_context(cafile=ca_file))
    secure = secure_client(ca=ca_file)
    pinned = secure_client(ca=ca_file, pins=[backup_pin, pin])
    loop = asyncio.new_event_loop()
    plain_async = httpx2.AsyncClient(verify=ssl.create_default_context(cafile=ca_file))
    pinned_async = secure_async_client(ca=ca_file, pins=[backup_pin, pin])

    def get(client: httpx2.Client) -> Callable[[], None]:
        def op() -> None:
            response = client.get(url)
            assert response.status_code == 200
            assert response.text == "ok"

        return op

    def aget(client: httpx2.AsyncClient) -> Callable[[], None]:
        def op() -> None:
            response = loop.run_until_complete(client.get(url))
            assert response.status_code == 200

        return op

    for op in (get(plain), get(secure), get(pinned), aget(plain_async), aget(pinned_async)):
        op()  # warm up, and fail early if anything is misconfigured
    log("tls: measuring full handshakes (sync clients, interleaved)")
    rates, cpu = _interleaved(
        {"plain": get(plain), "secure": get(secure), "pinned": get(pinned)},
        seconds=seconds,
        rounds=rounds,
    )
    log("tls: measuring full handshakes (async clients, interleaved)")
    arates, acpu = _interleaved(
        {"plain": aget(plain_async), "pinned": aget(pinned_async)},
        seconds=seconds,
        rounds=rounds,
    )
    for client in (plain, secure, pinned):
        client.close()
    for aclient in (plain_async, pinned_async):
        loop.run_until_complete(aclient.aclose())
    loop.close()

    rows = [
        Row(
            "full handshake + GET, pinned (2 pins)",
            "handshakes/s",
            rates["pinned"],
            rates["plain"],
            "plain httpx2.Client, same CA",
            target=0.95,
            target_text=">= 0.95x (pinning costs at most 5%)",
        ),
        Row(
            "full handshake + GET, no pins",
            "handshakes/s",
            rates["secure"],
            rates["plain"],
            "plain httpx2.Client, same CA",
        ),
        Row(
            "full handshake + GET, async, pinned (2 pins)",
            "handshakes/s",
            arates["pinned"],
            arates["plain"],
            "plain httpx2.AsyncClient, same CA",
            target=0.95,
            target_text=">= 0.95x (pinning costs at most 5%)",
        ),
        Row(
            "client CPU time per handshake + GET, pinned",
            "µs",
            cpu["pinned"],
            cpu["plain"],
            "plain httpx2.Client, same CA",
            higher_is_better=False,
            note=(
                "CPU time of the client process per request (time.process_time), which "
                "other work on the machine disturbs less than wall-clock rates."
            ),
        ),
        Row(
            "client CPU time per handshake + GET, async, pinned",
            "µs",
            acpu["pinned"],
            acpu["plain"],
            "plain httpx2.AsyncClient, same CA",
            higher_is_better=False,
        ),
    ]
    return rows, []


def _interleaved(
    fns: dict[str, Callable[[], None]], *, seconds: float, rounds: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall-clock rates and client CPU µs per call, in alternating order."""
    rates: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for i in range(rounds):
        order = list(fns.items())
        for name, fn in order if i % 2 == 0 else reversed(order):
            count = 0
            t0, c0 = time.perf_counter(), time.process_time()
            while time.perf_counter() - t0 < seconds:
                fn()
                count += 1
            rates[name].append(count / (time.perf_counter() - t0))
            cpu[name].append((time.process_time() - c0) / count * 1e6)
    return (
        {k: statistics.median(v) for k, v in rates.items()},
        {k: statistics.median(v) for k, v in cpu.items()},
    )


def _issue_figures(ca: CertificateAuthority) -> list[Figure]:
    log("tls: measuring issuing and pin computation")
    issued = ca.issue_server(["localhost"])
    der = issued.certificate.public_bytes(serialization.Encoding.DER)
    issue_rate = ops_per_second(lambda: ca.issue_server(["api.test", "10.0.0.1"]), repeat=3)
    pin_rate = ops_per_second(lambda: spki_pin(x509.load_der_x509_certificate(der)), repeat=3)
    return [
        Figure("issue a server certificate (new P-256 key)", "certs/s", issue_rate),
        Figure(
            "SPKI pin of a DER certificate, uncached",
            "µs",
            1e6 / pin_rate,
            f"parse a {len(der)}-byte leaf and hash its key; the check caches it per certificate",
        ),
    ]
