"""Answers no Vault sends but a proxy or a broken server may: the Vault clients report
them as sealbox errors, never as a stray Python exception or a garbled message.

A real HTTP server on 127.0.0.1 (plain http, as ``vault server -dev``) answers as told.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sealbox.exceptions import ConfigError, KeyProviderError, SealboxError, SecretSourceError
from sealbox.keysets.envelope import VaultTransitProvider
from sealbox.secret import Secret
from sealbox.secrets import VaultKV2Source

pytest.importorskip("hvac")

TOKEN = "hvs.odd-answers-canary-token-0b4e"
VALUE = "odd-answers-canary-value-5d21"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path) -> None:
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


@contextmanager
def answering(status: int, body: bytes | None, *, loop: bool = False) -> Iterator[str]:
    """A server answering every request ``status`` with the JSON ``body`` (or a 307 to
    the same path, for ever, with ``loop``); yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if loop:
                self.send_response(307)
                self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            raw = body or b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PUT = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _calls(url: str):
    kv = VaultKV2Source(url, "app", token=TOKEN, retries=0)
    transit = VaultTransitProvider("app", url=url, token=TOKEN, retries=0)
    return [
        (SecretSourceError, kv.names),
        (SecretSourceError, lambda: kv.write({"API_KEY": VALUE})),
        (KeyProviderError, lambda: transit.wrap(VALUE.encode())),
    ]


@pytest.mark.parametrize("status", [400, 404, 500])
@pytest.mark.parametrize("body", [b"[]", b'"refused"', b"null"])
def test_an_error_answer_whose_json_is_not_an_object_is_a_sealbox_error(status, body) -> None:
    with answering(status, body) as url:
        for error, call in _calls(url):
            # A 404 from Transit is a KeyNotFoundError: a SealboxError all the same.
            with pytest.raises(error if status != 404 else SealboxError) as info:
                call()
            assert TOKEN not in str(info.value) and VALUE not in str(info.value)


def test_errors_given_as_one_string_are_quoted_whole_not_letter_by_letter() -> None:
    with answering(400, json.dumps({"errors": "missing client token"}).encode()) as url:
        for error, call in _calls(url):
            with pytest.raises(error, match=r"refused \(400\): missing client token$"):
                call()


def test_a_redirect_loop_is_reported_as_one_with_a_code() -> None:
    with answering(200, None, loop=True) as url:
        for error, call in _calls(url):
            with pytest.raises(error, match="redirected the request again and again") as info:
                call()
            assert info.value.code == "vault_redirect_loop"


def test_a_vault_token_variable_with_a_trailing_newline_is_refused_naming_the_variable(
    monkeypatch,
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", TOKEN + "\n")
    with pytest.raises(ConfigError, match=r"\$VAULT_TOKEN") as info:
        VaultKV2Source("http://127.0.0.1:1", "app")
    assert info.value.code == "vault_bad_token"
    assert TOKEN not in str(info.value)


def test_a_400s_reasons_are_quoted_redacted_and_bounded() -> None:
    # A proxy echoing what was sent, key material, and more text than any message needs.
    key = "AGE-SECRET-KEY-1" + "Q" * 58
    errors = [f"refused: {VALUE}", key, "x" * 5000]
    registered = Secret(VALUE, register=True)
    with answering(400, json.dumps({"errors": errors}).encode()) as url:
        kv = VaultKV2Source(url, "app", token=TOKEN, retries=0)
        with pytest.raises(SecretSourceError) as caught:
            kv.write({"API_KEY": registered})
    message = str(caught.value)
    assert "refused (400): refused:" in message
    assert len(message) < 600
    for secret in (VALUE, key, TOKEN):
        assert secret not in message
