"""A Vault on this machine is reached directly, never through $HTTP_PROXY / $HTTPS_PROXY.

Vault's own client (Go's ``http.ProxyFromEnvironment``) never sends a request for
``localhost`` or a loopback address through a proxy. requests does, unless
``$NO_PROXY`` names the host: the token of a plain-http development server would cross
the network in clear to the proxy, and an https one would reach the proxy's own
loopback (another machine's Vault). A real recording server on 127.0.0.1 plays the proxy.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sealbox.keysets.envelope import VaultTransitProvider
from sealbox.secrets import VaultKV2Source
from tests.fakes.vault import fake_vault, fake_vault_http

pytest.importorskip("hvac")

TOKEN = "hvs.proxy-canary-token-6c1e"
VALUE = "canary-proxy-value-93fa"
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class _Proxy(BaseHTTPRequestHandler):
    """Records what reaches it; answers 502, as a proxy that cannot reach the host."""

    server: _ProxyServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _record(self) -> None:
        self.server.seen.append(f"{self.command} {self.path} {dict(self.headers)}")
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_CONNECT = _record


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[str]


@pytest.fixture
def proxy(monkeypatch, tmp_path) -> Iterator[list[str]]:
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT"):
        monkeypatch.delenv(name, raising=False)
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    server = _ProxyServer(("127.0.0.1", 0), _Proxy)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    address = f"http://127.0.0.1:{server.server_address[1]}"
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, address)
    try:
        yield server.seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_plain_http_loopback_vault_is_read_without_the_proxy(proxy) -> None:
    with fake_vault_http(TOKEN) as srv:
        srv.vault.put("app/dev", {"DB_PASSWORD": VALUE})
        source = VaultKV2Source(srv.url, "app/dev", token=TOKEN, retries=0)
        assert source.lookup("DB_PASSWORD").expose_secret() == VALUE  # type: ignore[union-attr]
    assert proxy == []


def test_a_write_to_a_loopback_vault_does_not_carry_values_to_the_proxy(proxy) -> None:
    with fake_vault_http(TOKEN) as srv:
        source = VaultKV2Source(srv.url, "app/dev", token=TOKEN, retries=0)
        assert source.write({"DB_PASSWORD": VALUE}) == 1
    assert proxy == []


def test_an_https_loopback_vault_is_reached_directly(proxy, vault_ca, vault_ca_file) -> None:
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"DB_PASSWORD": VALUE})
        source = VaultKV2Source(srv.url, "app/prod", token=TOKEN, ca=vault_ca_file, retries=0)
        assert source.names() == ["DB_PASSWORD"]
    assert proxy == []


def test_the_transit_provider_reaches_a_loopback_vault_without_the_proxy(proxy) -> None:
    with fake_vault_http(TOKEN) as srv:
        provider = VaultTransitProvider("app", url=srv.url, token=TOKEN, retries=0)
        wrapped = provider.wrap(b"k" * 32)
        assert provider.unwrap(wrapped) == b"k" * 32
    assert proxy == []
