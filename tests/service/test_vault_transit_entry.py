"""Vault's single encrypt and decrypt through the lean entry answer and audit as the Vault
routes do.

Two services over real TLS run the same script of Vault-shaped requests: one as served
(the lean entry ahead of Starlette's stack), one with ``transit_fast_path=False`` (the
Vault layer inside the middlewares answers everything). Every answer must be the same:
status, headers (the date aside), body (request ids and random ciphertexts reduced to
their shape) and the audit records, for every success and every refusal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sealbox.service.vault import transit_entry
from sealbox.service.vault.transit_entry import VaultTransitEntry
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


def _vault(token: str) -> dict[str, str]:
    return {"X-Vault-Token": token}


class _Script:
    """The requests, each answer kept; run once against each service."""

    def __init__(self, service: Running, client: httpx2.Client) -> None:
        self.service, self.client = service, client
        self.answers: list[tuple[str, Answer]] = []
        settings = service.settings
        add_user(settings, "ops", list(ALL_SCOPES))
        add_user(settings, "user", ["transit:encrypt:*", "transit:decrypt:*"])
        add_user(settings, "outsider", ["transit:hmac:*"])
        self.ops = login(client, "ops").json()["access_token"]
        self.user = login(client, "user").json()["access_token"]
        self.outsider = login(client, "outsider").json()["access_token"]

    def send(
        self,
        path: str,
        body: Any,
        *,
        headers: dict[str, str] | None = None,
        content_type: str | None = "application/json",
        method: str = "POST",
        label: str = "",
    ) -> httpx2.Response:
        raw = body if isinstance(body, bytes | Iterator) else json.dumps(body).encode()
        sent = dict(_vault(self.ops) if headers is None else headers)
        if content_type is not None:
            sent["Content-Type"] = content_type
        response = self.client.request(method, path, content=raw, headers=sent)
        self.answers.append((label or f"{method} {path} {body!r:.80}", answer_of(response)))
        return response

    def run(self) -> None:
        send, plain = self.send, "aGVsbG8gd29ybGQ="
        for name, kind in (("k", "aes256-gcm"), ("siv", "aes256-siv"), ("ed", "ed25519")):
            answer = self.client.post(
                f"/v1/keys/{name}", json={"type": kind}, headers=bearer(self.ops)
            )
            assert answer.is_success, answer.text
        # encrypt: successes
        ct = send("/v1/transit/encrypt/k", {"plaintext": plain}).json()["data"]["ciphertext"]
        send("/v1/transit/encrypt/k", {"plaintext": plain}, headers=bearer(self.ops))
        send("/v1/transit/encrypt/k", {"plaintext": plain}, method="PUT")
        send("/v1/transit/encrypt/k", {"plaintext": plain}, content_type=None)
        send("/v1/transit/encrypt/k", {"plaintext": plain}, content_type="text/plain")
        send("/v1/transit/encrypt/k", {"plaintext": plain, "associated_data": "YWQ="})
        send("/v1/transit/encrypt/siv", {"plaintext": plain, "associated_data": "YWQ="})
        send("/v1/transit/encrypt/k", {"plaintext": ""})
        send("/v1/transit/encrypt/k", {"plaintext": plain, "reference": None})
        send("/v1/transit/encrypt/k", b' {"plaintext": "AA=="}\n')
        send("/v1/transit/encrypt/k", b'{"plaintext": "AA==", "plaintext": "AQ=="}')
        # bodies the Vault routes reshape or answer otherwise: not the entry's
        send("/v1/transit/encrypt/k", {"plaintext": plain, "reference": "r1"})
        send("/v1/transit/encrypt/k", {"plaintext": plain, "key_version": 1})
        send("/v1/transit/encrypt/k", {"plaintext": plain, "type": "aes256-gcm96"})
        send("/v1/transit/encrypt/k", {"plaintext": plain, "context": ""})
        send("/v1/transit/encrypt/k", {"plaintext": plain, "context": "Y3R4"})
        send("/v1/transit/encrypt/k", {"plaintext": plain, "nonce": "AAAA"})
        send("/v1/transit/encrypt/k", {"batch_input": [{"plaintext": plain}, {"plaintext": "!"}]})
        send("/v1/transit/encrypt/k", {"plaintext": plain, "extra": 1})
        send("/v1/transit/encrypt/k", {"plaintext": 5})
        send("/v1/transit/encrypt/k", {})
        send("/v1/transit/encrypt/k", b"")
        send("/v1/transit/encrypt/k", b'{"plaintext": "AA=="')
        send("/v1/transit/encrypt/k", b"\xff\xfe")
        send("/v1/transit/encrypt/-bad", {"plaintext": plain})
        send("/v1/transit/encrypt/k", {"plaintext": "A" * 1500})  # over the limit: 413
        send("/v1/transit/encrypt/k", iter([b'{"plaintext": ', b'"AA=="}']), label="chunked")
        # encrypt: refusals, in the entry
        send("/v1/transit/encrypt/k", {"plaintext": "!"})
        send("/v1/transit/encrypt/k", {"plaintext": "AAA"})
        send("/v1/transit/encrypt/k", {"plaintext": plain, "associated_data": "%%"})
        send("/v1/transit/encrypt/ed", {"plaintext": plain})
        send("/v1/transit/encrypt/k", {"plaintext": plain}, headers=_vault(self.outsider))
        send("/v1/transit/encrypt/k", {"plaintext": plain}, headers={})
        send("/v1/transit/encrypt/k", {"plaintext": plain}, headers=_vault("x.y.z"))
        send("/v1/transit/encrypt/k", {"plaintext": plain}, headers={"Authorization": "Basic YQ=="})
        send("/v1/transit/encrypt/k", {"plaintext": plain}, headers={"X-Vault-Token": ""})
        # a missing key: created for a caller who may create keys, refused for the others
        send("/v1/transit/encrypt/fresh", {"plaintext": plain})
        send("/v1/transit/encrypt/fresh", {"plaintext": plain})
        send("/v1/transit/encrypt/other", {"plaintext": plain}, headers=_vault(self.user))
        send("/v1/transit/decrypt/nope", {"ciphertext": ct})
        # decrypt
        send("/v1/transit/decrypt/k", {"ciphertext": ct})
        send("/v1/transit/decrypt/k", {"ciphertext": ct.replace("vault:", "sealbox:", 1)})
        send("/v1/transit/decrypt/k", {"ciphertext": ct}, headers=_vault(self.user))
        send("/v1/transit/decrypt/k", {"ciphertext": ct, "associated_data": "YWQ="})
        send("/v1/transit/decrypt/k", {"ciphertext": ct[:-4] + "AAAA"})
        send("/v1/transit/decrypt/k", {"ciphertext": "garbage"})
        send("/v1/transit/decrypt/k", {"ciphertext": "vault:v7:AAAA"})
        send("/v1/transit/decrypt/k", {"ciphertext": ct, "reference": "r"})
        send("/v1/transit/decrypt/k", {"ciphertext": ct, "key_version": 1})
        send("/v1/transit/decrypt/k", {"ciphertext": ct}, headers=_vault(self.outsider))
        send("/v1/transit/decrypt/ed", {"ciphertext": ct})
        assert self.client.post("/v1/keys/k/rotate", headers=bearer(self.ops)).is_success
        assert self.client.patch(
            "/v1/keys/k", json={"min_decryption_version": 2}, headers=bearer(self.ops)
        ).is_success
        send("/v1/transit/decrypt/k", {"ciphertext": ct})
        send("/v1/transit/encrypt/k", {"plaintext": plain})
        # other operations share the path, and go on to the Vault layer
        send("/v1/transit/hmac/k", {"input": plain})
        send("/v1/transit/sign/ed", {"input": plain})

    def broken(self, what: str) -> None:
        """One encrypt with a part of the runtime broken."""
        with broken(self.service, what):
            self.send("/v1/transit/encrypt/k", {"plaintext": "AA=="}, label=what)


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The operations the entry took to answer itself."""
    return counted(monkeypatch, transit_entry, "plain_body")


def test_vault_single_operations_answer_and_audit_alike_through_the_entry_and_the_routes(
    tmp_path: Path, taken: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    answers, audits, counts = [], [], []
    for lean in (True, False):
        settings = make_settings(tmp_path / f"data-{lean}", transit_max_body_bytes=1024)
        with (
            run_service(settings, transit_fast_path=lean) as service,
            service.client() as client,
            caplog.at_level(logging.ERROR, logger="sealbox.service"),
        ):
            assert (service_app(service).vault_transit is not None) is lean
            script = _Script(service, client)
            script.run()
            for what in ("internal", "audit", "redis"):
                script.broken(what)
            answers.append(script.answers)
            audits.append(transit_audit(service))
            counts.append(len(taken))
    differ = [
        (label, lean, route)
        for (label, lean), (_, route) in zip(*answers, strict=True)
        if lean != route
    ]
    assert not differ
    assert audits[0] == audits[1]
    # The entry answered the requests it takes; the routes' service never reached it.
    assert counts[0] >= 30 and counts[1] == counts[0]
    assert taken.count("encrypt") >= 20 and taken.count("decrypt") >= 8
    statuses = {answer[0] for _, answer in answers[0]}
    assert {200, 400, 403, 413, 500, 503} <= statuses
    for _, (_, headers, _) in answers[0]:
        assert (b"strict-transport-security", b"max-age=63072000; includeSubDomains") in headers
    outcomes = {(event, outcome) for event, outcome, *_ in audits[0]}
    assert {("transit.encrypt", "success"), ("transit.encrypt", "denied"),
            ("transit.encrypt", "failure"), ("transit.decrypt", "failure"),
            ("transit.create", "success")} <= outcomes  # fmt: skip
    assert "canary-internal-detail" not in caplog.text
    assert caplog.text.count("unhandled RuntimeError on POST /v1/transit/encrypt/k") == 2


def _scope(path: str = "/v1/transit/encrypt/k", **overrides: Any) -> dict[str, Any]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "root_path": "",
        "headers": [(b"content-length", b"20")],
    }
    scope.update(overrides)
    return scope


@pytest.mark.parametrize(
    "scope",
    [
        _scope("/v1/transit/hmac/k"),
        _scope("/v1/transit/encrypt/k/extra"),
        _scope("/v1/transit/encrypt/-bad"),
        _scope("/v1/keys/k/encrypt"),
        _scope(method="GET"),
        _scope(root_path="/vault"),
        _scope(headers=[]),
        _scope(headers=[(b"content-length", b"20"), (b"content-length", b"20")]),
        _scope(headers=[(b"content-length", b"2000")]),
        _scope(headers=[(b"content-length", b"20"), (b"transfer-encoding", b"chunked")]),
        {"type": "websocket", "path": "/v1/transit/encrypt/k"},
    ],
)
def test_the_vault_entry_leaves_every_other_request_to_the_application(
    scope: dict[str, Any],
) -> None:
    assert VaultTransitEntry(1024).takes(scope) is None


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("operation", ["encrypt", "decrypt"])
def test_the_vault_entry_takes_single_encrypts_and_decrypts(method: str, operation: str) -> None:
    scope = _scope(f"/v1/transit/{operation}/my.key-1", method=method)
    assert VaultTransitEntry(1024).takes(scope) == ("my.key-1", operation)
