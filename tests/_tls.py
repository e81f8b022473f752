"""Helpers for the TLS tests: a small PKI on disk, and real TLS servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sealbox.tls.ca import CertificateAuthority

PAST = datetime.now(UTC) - timedelta(days=60)
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


@dataclass
class PKI:
    """Two CAs and certificates of every kind, written under one folder."""

    root: Path
    ca: CertificateAuthority
    other: CertificateAuthority

    def path(self, name: str) -> str:
        return str(self.root / name)

    @property
    def ca_file(self) -> str:
        return self.path("ca/ca.crt")

    @property
    def other_ca_file(self) -> str:
        return self.path("other/ca.crt")


def make_pki(root: Path) -> PKI:
    """ca/ (the CA), other/ (another CA) and server, client, expired, foreign leaves."""
    # The CAs date from before PAST so that they can issue already-expired leaves.
    ca = CertificateAuthority.init(root / "ca", name="Test CA", now=PAST - timedelta(days=1))
    other = CertificateAuthority.init(root / "other", name="Other CA")
    ca.issue_server(["localhost", "127.0.0.1", "::1"]).write(root / "server")
    ca.issue_server(["localhost", "127.0.0.1"]).write(root / "backup")
    ca.issue_client("alice").write(root / "alice")
    other.issue_client("mallory").write(root / "mallory")
    other.issue_server(["localhost", "127.0.0.1"]).write(root / "foreign")
    ca.issue_server(["localhost", "127.0.0.1"], days=30, now=PAST).write(root / "expired")
    ca.issue_client("old-client", days=30, now=PAST).write(root / "expired-client")
    return PKI(root, ca, other)


def plain_server_context(cert: str, key: str) -> ssl.SSLContext:
    """A server context that loads anything (even expired certificates): test servers only."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


@dataclass
class Connection:
    """What the test server saw on one connection."""

    received: int = 0
    handshake_ok: bool = False
    error: str | None = None
    peer_cert: bytes | None = None


@dataclass
class TLSServer:
    """A real TLS server on 127.0.0.1 in a thread that counts the application bytes it gets.

    It answers each request with ``response`` (a tiny HTTP response unless told
    otherwise) and closes the connection.
    """

    context: ssl.SSLContext
    connections: list[Connection] = field(default_factory=list)
    port: int = 0
    response: bytes = RESPONSE

    def __post_init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def url(self, host: str = "localhost") -> str:
        return f"https://{host}:{self.port}/"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._handle(raw)

    def _handle(self, raw: socket.socket) -> None:
        record = Connection()
        raw.settimeout(5)
        try:
            with self.context.wrap_socket(raw, server_side=True) as tls:
                record.handshake_ok = True
                record.peer_cert = tls.getpeercert(binary_form=True)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    record.received = len(data)
                if data:
                    tls.sendall(self.response)
        except (OSError, ssl.SSLError) as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        finally:
            raw.close()
            self.connections.append(record)

    def wait(self, count: int = 1, timeout: float = 5.0) -> list[Connection]:
        deadline = time.monotonic() + timeout
        while len(self.connections) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.connections

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> TLSServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def openssl_server(*args: str):
    """Run ``openssl s_server -accept 127.0.0.1:0 ARGS`` and yield its port."""
    proc = subprocess.Popen(
        ["openssl", "s_server", "-accept", "127.0.0.1:0", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    found: list[int] = []
    ready = threading.Event()

    def read_output() -> None:
        # Find the port in the ACCEPT line, then keep draining so the pipe never fills.
        assert proc.stdout is not None
        for line in proc.stdout:
            m = re.search(r"ACCEPT .*:(\d+)", line.decode(errors="replace"))
            if m and not found:
                found.append(int(m.group(1)))
                ready.set()
        ready.set()

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        assert ready.wait(10), "openssl s_server did not start"
        assert found, "openssl s_server exited before accepting connections"
        yield found[0]
    finally:
        proc.kill()
        proc.wait(timeout=5)
        reader.join(timeout=5)
        proc.stdin.close()
        proc.stdout.close()


def openssl_client(port: int, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """Run ``openssl s_client`` against 127.0.0.1:PORT, sending one request line."""
    return subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"127.0.0.1:{port}",
            "-verify_return_error",
            "-ign_eof",
            *args,
        ],
        input="GET / HTTP/1.0\r\n\r\n",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
