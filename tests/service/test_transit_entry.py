"""Single transit operations through the lean entry answer and audit as the FastAPI routes do.

Two services over real TLS run the same script of requests: one as served (the lean
entry ahead of Starlette's stack, the transit fast path inside it), one with
``transit_fast_path=False`` (only FastAPI's routes). Every answer must be the same:
status, headers (the date aside), body (random ciphertexts and data keys reduced to
their shape) and the audit records, for every success and every refusal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sealbox.service.app import create_app
from sealbox.service.routes import transit_entry
from sealbox.service.routes.transit_entry import TransitEntry
from tests.service._entry_compare import (
    Answer,
    answer_of,
    broken,
    counted,
    service_app,
    transit_audit,
)
from tests.service._transit import ALL_SCOPES, add_user
from tests.service.conftest import Running, bearer, login, make_settings, run_service


class _Script:
    """The requests, each answer kept; run once against each service."""

    def __init__(self, service: Running, client: httpx2.Client) -> None:
        self.service, self.client = service, client
        self.answers: list[tuple[str, Answer]] = []
        settings = service.settings
        add_user(settings, "ops", list(ALL_SCOPES))
        add_user(settings, "outsider", ["transit:hmac:*"])
        self.ops = bearer(login(client, "ops").json()["access_token"])
        self.outsider = bearer(login(client, "outsider").json()["access_token"])

    def send(
        self,
        path: str,
        body: Any,
        *,
        headers: dict[str, str] | None = None,
        content_type: str | None = "application/json",
        label: str = "",
    ) -> httpx2.Response:
        raw = body if isinstance(body, bytes | Iterator) else json.dumps(body).encode()
        sent = dict(self.ops if headers is None else headers)
        if content_type is not None:
            sent["Content-Type"] = content_type
        response = self.client.post(path, content=raw, headers=sent)
        data_key = path.endswith("/datakey")
        self.answers.append(
            (label or f"{path} {body!r:.80}", answer_of(response, data_key=data_key))
        )
        return response

    def admin(self, method: str, path: str, body: Any = None) -> None:
        response = self.client.request(method, path, json=body, headers=self.ops)
        assert response.is_success, response.text

    def run(self) -> None:
        send, plain = self.send, "aGVsbG8gd29ybGQ="
        for name, kind in (("k", "aes256-gcm"), ("siv", "aes256-siv"), ("cc", "chacha20-poly1305"),
                           ("ed", "ed25519"), ("ec", "ecdsa-p256"), ("mac", "hmac")):  # fmt: skip
            self.admin("POST", f"/v1/keys/{name}", {"type": kind})
        # encrypt: successes, with every optional field, on each cipher
        ct = send("/v1/keys/k/encrypt", {"plaintext": plain}).json()["ciphertext"]
        send(
            "/v1/keys/k/encrypt", {"plaintext": plain, "associated_data": "YWQ=", "reference": "r1"}
        )
        send("/v1/keys/k/encrypt", {"plaintext": "", "reference": 'q"\\\n\u0001</'})
        send("/v1/keys/siv/encrypt", {"plaintext": plain, "associated_data": "YWQ="})
        send("/v1/keys/cc/encrypt", {"plaintext": plain, "key_version": 0})
        send("/v1/keys/k/encrypt", {"plaintext": plain}, content_type=None)
        send(
            "/v1/keys/k/encrypt",
            {"plaintext": plain},
            content_type="application/json; charset=utf-8",
        )
        send(
            "/v1/keys/k/encrypt", {"plaintext": plain}, content_type="application/merge-patch+json"
        )
        send("/v1/keys/k/encrypt", b'{"plaintext": "AA==", "plaintext": "AQ=="}')
        send("/v1/keys/k/encrypt", b'{"plaintext": "\\u0041A==", "reference": "\\u00e9"}')
        send("/v1/keys/k/encrypt", {"plaintext": plain, "reference": "é"})
        send("/v1/keys/k/encrypt", b'{"plaintext": "AA==", "reference": "\\ud800"}')
        send("/v1/keys/k/encrypt", b'{"plaintext": "AA==", "key_version": 100000000000000000000}')
        send("/v1/keys/k/encrypt", b' {"plaintext": "AA=="}\n')
        for content_type in ("Application/JSON", "application/json ; charset=latin-1",
                             "application/problem+json", "application/jsonx", "json"):  # fmt: skip
            send("/v1/keys/k/encrypt", {"plaintext": plain}, content_type=content_type)
        # encrypt: refusals the handler gives (audited), and ones the model gives
        send("/v1/keys/k/encrypt", {"plaintext": "!"})
        send("/v1/keys/k/encrypt", {"plaintext": "AAA"})
        send("/v1/keys/k/encrypt", {"plaintext": plain, "associated_data": "%%"})
        send("/v1/keys/k/encrypt", {})
        send("/v1/keys/k/encrypt", {"plaintext": None})
        send("/v1/keys/k/encrypt", {"plaintext": plain, "key_version": 9})
        send("/v1/keys/ed/encrypt", {"plaintext": plain})
        send("/v1/keys/nope/encrypt", {"plaintext": plain})
        send("/v1/keys/k/encrypt", {"plaintext": plain}, headers=self.outsider)
        send("/v1/keys/k/encrypt", {"plaintext": plain}, headers={})
        send("/v1/keys/k/encrypt", {"plaintext": plain}, headers={"Authorization": "Bearer x.y.z"})
        send("/v1/keys/k/encrypt", {"plaintext": plain}, headers={"Authorization": "Basic YTpi"})
        send("/v1/keys/k/encrypt", {"plaintext": 5}, headers={})
        send("/v1/keys/k/encrypt", b'{"plaintext": "AA=="', headers={})
        for body in (
            {"plaintext": 5},
            {"plaintext": plain, "extra": 1},
            {"plaintext": plain, "context": "Y3R4"},  # no derived keys: refused, not ignored
            {"plaintext": plain, "reference": "r" * 257},
            {"plaintext": plain, "key_version": -1},
            {"plaintext": plain, "key_version": True},
            {"plaintext": plain, "key_version": 1.0},
            {"plaintext": plain, "key_version": "1"},
            {"plaintext": plain, "associated_data": None},
            [{"plaintext": plain}],
            "text",
        ):
            send("/v1/keys/k/encrypt", body)
        send("/v1/keys/k/encrypt", b'{"plaintext": "AA=="')
        send("/v1/keys/k/encrypt", b'{"plaintext": NaN}')
        send("/v1/keys/k/encrypt", b"")
        send("/v1/keys/k/encrypt", b"\xff\xfe")
        send("/v1/keys/k/encrypt", {"plaintext": plain}, content_type="text/plain")
        send(
            "/v1/keys/k/encrypt",
            {"plaintext": plain},
            content_type="application/x-www-form-urlencoded",
        )
        send("/v1/keys/-bad/encrypt", {"plaintext": plain})
        send("/v1/keys/k/encrypt", {"plaintext": "A" * 1500})  # over the limit: 413
        send("/v1/keys/k/encrypt", iter([b'{"plaintext": ', b'"AA=="}']), label="chunked")
        # key versions
        self.admin("POST", "/v1/keys/k/rotate")
        old = ct
        ct = send("/v1/keys/k/encrypt", {"plaintext": plain}).json()["ciphertext"]
        send("/v1/keys/k/encrypt", {"plaintext": plain, "key_version": 1})
        send("/v1/keys/k/encrypt", {"plaintext": plain, "key_version": 3})
        send("/v1/keys/k/decrypt", {"ciphertext": old})
        send("/v1/keys/k/decrypt", {"ciphertext": ct, "reference": "r"})
        send("/v1/keys/k/decrypt", {"ciphertext": ct.replace("sealbox:", "vault:", 1)})
        send("/v1/keys/k/decrypt", {"ciphertext": ct, "associated_data": "YWQ="})
        send("/v1/keys/k/decrypt", {"ciphertext": ct[:-4] + "AAAA"})
        send("/v1/keys/k/decrypt", {"ciphertext": "garbage"})
        send("/v1/keys/k/decrypt", {"ciphertext": "sealbox:v7:AAAA"})
        send("/v1/keys/k/decrypt", {})
        send("/v1/keys/k/decrypt", {"ciphertext": ct, "key_version": 1})
        send("/v1/keys/k/decrypt", {"ciphertext": ct}, headers=self.outsider)
        send("/v1/keys/nope/decrypt", {"ciphertext": ct})
        send("/v1/keys/ed/decrypt", {"ciphertext": ct})
        self.admin("PATCH", "/v1/keys/k", {"min_decryption_version": 2})
        send("/v1/keys/k/decrypt", {"ciphertext": old})
        # the other five operations
        send("/v1/keys/k/rewrap", {"ciphertext": ct})
        send("/v1/keys/k/rewrap", {"ciphertext": ct, "key_version": 1})
        send("/v1/keys/k/rewrap", {"ciphertext": "garbage"})
        send("/v1/keys/k/datakey", {"type": "plaintext"})
        send("/v1/keys/k/datakey", {"type": "wrapped", "bits": 512, "reference": "d"})
        send("/v1/keys/k/datakey", {"bits": 100})
        send("/v1/keys/k/datakey", {"type": "other"})
        signed = send("/v1/keys/ed/sign", {"input": plain}).json()["signature"]
        send("/v1/keys/ec/sign", {"input": plain, "marshaling_algorithm": "jws"})
        send("/v1/keys/ed/sign", {"input": plain, "prehashed": True})
        send("/v1/keys/k/sign", {"input": plain})
        send("/v1/keys/ed/verify", {"input": plain, "signature": signed})
        send("/v1/keys/ed/verify", {"input": "AA==", "signature": signed})
        send("/v1/keys/ed/verify", {"input": plain, "hmac": signed})
        tag = send("/v1/keys/mac/hmac", {"input": plain}).json()["hmac"]
        send("/v1/keys/mac/hmac", {"input": plain, "algorithm": "sha2-512"})
        send("/v1/keys/mac/verify", {"input": plain, "hmac": tag})
        send("/v1/keys/mac/verify", {"input": plain, "hmac": tag, "algorithm": "md5"})
        send("/v1/keys/k/hmac", {"input": plain})
        send("/v1/keys/mac/hmac", {"input": plain}, headers=self.outsider)
        # batches share the road
        send("/v1/keys/k/encrypt", {"batch_input": [{"plaintext": plain}, {"plaintext": "!"}]})
        send("/v1/keys/k/decrypt", {"batch_input": [{"ciphertext": ct}]})
        send("/v1/keys/k/encrypt", {"batch_input": []})

    def broken(self, what: str) -> None:
        """One encrypt with a part of the runtime broken (an internal error, no audit log)."""
        with broken(self.service, what):
            self.send("/v1/keys/k/encrypt", {"plaintext": "AA=="}, label=what)


@pytest.fixture
def entry_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The operations the lean entry took to run itself (not handed to the application)."""
    calls: list[str] = []
    real = transit_entry.prepare

    def counting(operation: str, raw: bytes) -> Any:
        prepared = real(operation, raw)  # raises for a body the route must judge
        calls.append(operation)
        return prepared

    monkeypatch.setattr(transit_entry, "prepare", counting)
    return calls


@pytest.fixture
def single_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The single inputs the entry ran without the request model."""
    return counted(monkeypatch, transit_entry, "single_body")


def test_single_operations_answer_and_audit_alike_through_the_entry_and_the_routes(
    tmp_path: Path,
    entry_calls: list[str],
    single_calls: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers, audits, taken = [], [], []
    for lean in (True, False):
        settings = make_settings(tmp_path / f"data-{lean}", transit_max_body_bytes=1024)
        with (
            run_service(settings, transit_fast_path=lean) as service,
            service.client() as client,
            caplog.at_level(logging.ERROR, logger="sealbox.service"),
        ):
            assert (service_app(service).transit is not None) is lean
            script = _Script(service, client)
            script.run()
            script.broken("internal")
            script.broken("audit")
            answers.append(script.answers)
            audits.append(transit_audit(service))
            taken.append(len(entry_calls))
    differ = [
        (label, lean, route)
        for (label, lean), (_, route) in zip(*answers, strict=True)
        if lean != route
    ]
    assert not differ
    assert audits[0] == audits[1]
    # The entry answered the requests it takes; the routes' service never reached it.
    assert taken[0] >= 60 and taken[1] == taken[0]
    assert set(entry_calls) == {"encrypt", "decrypt", "rewrap", "datakey", "sign", "verify", "hmac"}
    assert single_calls.count("encrypt") >= 15 and single_calls.count("decrypt") >= 8
    statuses = {answer[0] for _, answer in answers[0]}
    assert {200, 400, 401, 403, 404, 413, 422, 500, 503} <= statuses
    # Security headers on every answer, HSTS included (TLS).
    for _, (_, headers, _) in answers[0]:
        assert (b"strict-transport-security", b"max-age=63072000; includeSubDomains") in headers
    outcomes = {(event, outcome) for event, outcome, *_ in audits[0]}
    assert {("transit.encrypt", "success"), ("transit.encrypt", "denied"),
            ("transit.encrypt", "failure"), ("transit.decrypt", "failure")} <= outcomes  # fmt: skip
    assert "canary-internal-detail" not in caplog.text
    assert caplog.text.count("unhandled RuntimeError on POST /v1/keys/k/encrypt") == 2


# -- what the entry takes -------------------------------------------------------------------


def _scope(path: str = "/v1/keys/k/encrypt", **overrides: Any) -> dict[str, Any]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"20")],
    }
    scope.update(overrides)
    return scope


@pytest.mark.parametrize("operation", ["encrypt", "decrypt", "rewrap", "datakey", "sign",
                                       "verify", "hmac"])  # fmt: skip
def test_the_entry_takes_every_operation(operation: str) -> None:
    assert TransitEntry(1024).takes(_scope(f"/v1/keys/my.key-1/{operation}")) == (
        "my.key-1",
        operation,
    )


@pytest.mark.parametrize(
    "scope",
    [
        _scope(method="GET"),
        _scope(type="websocket"),
        _scope("/v1/keys/k/encrypt/"),
        _scope("/v1/keys/k/rotate"),
        _scope("/v1/keys/-k/encrypt"),
        _scope("/v1/keys/" + "k" * 129 + "/encrypt"),
        _scope(root_path="/api"),
        _scope(headers=[(b"content-type", b"text/plain"), (b"content-length", b"20")]),
        _scope(headers=[(b"content-type", b"application/json")]),  # no length
        _scope(headers=[(b"content-length", b"2000")]),  # over the limit
        _scope(headers=[(b"content-length", b"+20")]),
        _scope(headers=[(b"content-length", b"20"), (b"content-length", b"20")]),
        _scope(headers=[(b"content-length", b"20"), (b"transfer-encoding", b"chunked")]),
        _scope(headers=[(b"transfer-encoding", b"chunked")]),
    ],
)
def test_the_entry_leaves_every_other_request_to_the_application(scope: dict[str, Any]) -> None:
    assert TransitEntry(1024).takes(scope) is None


def test_without_the_fast_path_there_is_no_entry_and_the_openapi_document_is_the_same(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "data")
    apps = [create_app(settings, transit_fast_path=fast) for fast in (True, False)]
    assert isinstance(apps[0].transit, TransitEntry) and apps[1].transit is None
    assert apps[0].transit.limit == settings.transit_max_body_bytes
    assert json.dumps(apps[0].openapi()) == json.dumps(apps[1].openapi())


def test_a_body_the_entry_read_reaches_the_application_whole(tmp_path: Path) -> None:
    # A body the model refuses is handed on with what was read: the route's 422 names
    # the field, so the body it judged is the one sent, split over several messages.
    import asyncio

    entry, seen = TransitEntry(1024), []
    parts = [b'{"plain', b'text": 5', b"}"]

    async def application(scope: Any, receive: Callable[[], Any], send: Any) -> None:
        while True:
            message = await receive()
            seen.append(message["body"])
            if not message["more_body"]:
                return

    async def run() -> None:
        messages = iter(parts)

        async def receive() -> dict[str, Any]:
            body = next(messages)
            return {"type": "http.request", "body": body, "more_body": body != parts[-1]}

        async def send(message: Any) -> None:
            raise AssertionError("the entry answered")

        await entry(None, ("k", "encrypt"), _scope(), receive, send, application=application)  # type: ignore[arg-type]

    asyncio.run(run())
    assert b"".join(seen) == b"".join(parts)
