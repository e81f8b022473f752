"""A redirect that would change a request's method (301, 302 or 303 to a POST) is refused.

Vault's own client resends a request redirected with 301, 302 or 307 with its method and
body; requests turns a redirected POST into a GET without its body, so a KV write would
be sent on as a read of the secret, and a Transit ``encrypt`` as a ``GET`` (whose 405
would be reported as Vault's). sealbox refuses such a redirect, naming the status. A
real HTTP server on 127.0.0.1 plays a proxy in front of Vault that redirects.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sealbox.exceptions import KeyProviderError, SecretSourceError
from sealbox.keysets.envelope import VaultTransitProvider
from sealbox.secrets import VaultKV2Source

pytest.importorskip("hvac")

TOKEN = "hvs.redirect-canary-token-51d0"
VALUE = "canary-redirect-value-e27c"


class _Redirecting(BaseHTTPRequestHandler):
    """Redirects every POST to its own path with ``server.status``; answers a GET with a
    KV v2 read (the mount look-up included)."""

    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append(f"POST {self.path}")
        self.send_response(self.server.status)
        self.send_header("Location", self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self.server.seen.append(f"GET {self.path}")
        if "/sys/internal/ui/mounts/" in self.path:
            data = {"type": "kv", "path": "secret/", "options": {"version": "2"}}
        else:
            data = {"data": {"DB_PASSWORD": VALUE}, "metadata": {"version": 3}}
        raw = json.dumps({"data": data, "warnings": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[str]
    status: int


@pytest.fixture
def redirecting(monkeypatch, tmp_path) -> Iterator[_Server]:
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    server = _Server(("127.0.0.1", 0), _Redirecting)
    server.seen, server.status = [], 302
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _url(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.mark.parametrize("status", [301, 302, 303])
def test_a_kv_write_redirected_as_a_get_is_refused_and_not_sent_as_a_read(
    redirecting, status
) -> None:
    redirecting.status = status
    source = VaultKV2Source(_url(redirecting), "app", token=TOKEN, retries=0)
    with pytest.raises(SecretSourceError) as caught:
        source.write({"DB_PASSWORD": "new-" + VALUE})
    assert caught.value.code == "vault_redirect_refused"
    assert f"({status})" in str(caught.value) and "POST" in str(caught.value)
    assert TOKEN not in str(caught.value) and VALUE not in str(caught.value)
    assert "GET /v1/secret/data/app" not in redirecting.seen


def test_a_transit_encrypt_redirected_as_a_get_is_refused(redirecting) -> None:
    provider = VaultTransitProvider("app", url=_url(redirecting), token=TOKEN, retries=0)
    with pytest.raises(KeyProviderError) as caught:
        provider.wrap(b"k" * 32)
    assert caught.value.code == "vault_redirect_refused"
    assert redirecting.seen == ["POST /v1/transit/encrypt/app"]
