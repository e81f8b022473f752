"""A 400 from Vault (or a proxy in front of it) is quoted bounded and redacted: its words
go into the error message, and a proxy may echo back what was sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sealbox.exceptions import SecretSourceError
from sealbox.secret import Secret
from sealbox.secrets import VaultKV2Source

pytest.importorskip("hvac")

TOKEN = "hvs.reasons-canary-token-7a31"
VALUE = "canary-reasons-value-0c9d4e"
KEY = "AGE-SECRET-KEY-1" + "Q" * 58


class _Refusing(BaseHTTPRequestHandler):
    """Answers every request with a 400 whose ``errors`` echo the request body, at length."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, body: bytes) -> None:
        errors = [f"refused: {body.decode(errors='replace')}", KEY, "x" * 5000]
        raw = json.dumps({"errors": errors}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def do_GET(self) -> None:
        self._answer(b"")


@pytest.fixture
def refusing(monkeypatch, tmp_path) -> Iterator[str]:
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_refusal_quotes_vaults_words_bounded_and_redacted(refusing) -> None:
    source = VaultKV2Source(refusing, "app", token=TOKEN, retries=0)
    with pytest.raises(SecretSourceError) as caught:
        source.write({"DB_PASSWORD": Secret(VALUE, register=True)})
    message = str(caught.value)
    assert "refused (400): refused:" in message
    assert len(message) < 600
    assert VALUE not in message
    assert KEY not in message
    assert TOKEN not in message
