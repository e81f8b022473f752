"""Edges of the transit operations and the account administration routes, found by
attacking them over real HTTPS: bodies the lean entry took while the FastAPI route
refused them (or wrote other bytes), and what the administration routes answer.

The lean-versus-route tests run one service as served (the lean entry ahead of the
routes) and one with ``transit_fast_path=False`` (the FastAPI routes only), send both
the same request and compare status, headers (the date aside), body and audit records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from tests.service._entry_compare import Answer, answer_of, transit_audit
from tests.service._transit import ALL_SCOPES, add_user
from tests.service.conftest import Running, bearer, login, make_settings, run_service

PLAIN = "aGVsbG8="  # b"hello"


@dataclass
class _Side:
    service: Running
    client: httpx2.Client
    ops: dict[str, str]
    sealed: str

    def send(self, path: str, raw: bytes) -> httpx2.Response:
        headers = {**self.ops, "Content-Type": "application/json"}
        return self.client.post(path, content=raw, headers=headers)


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[_Side, _Side]]:
    """(the lean entry's service, the FastAPI routes' service), each with key ``k``."""
    made: list[_Side] = []
    with (
        run_service(
            make_settings(tmp_path_factory.mktemp("lean") / "data"), transit_fast_path=True
        ) as lean,
        run_service(
            make_settings(tmp_path_factory.mktemp("route") / "data"), transit_fast_path=False
        ) as route,
        lean.client() as lean_client,
        route.client() as route_client,
    ):
        for service, client in ((lean, lean_client), (route, route_client)):
            add_user(service.settings, "ops", list(ALL_SCOPES))
            ops = bearer(login(client, "ops").json()["access_token"])
            assert client.post("/v1/keys/k", json={}, headers=ops).status_code == 201
            r = client.post("/v1/keys/k/encrypt", json={"plaintext": PLAIN}, headers=ops)
            made.append(_Side(service, client, ops, r.json()["ciphertext"]))
        yield made[0], made[1]


def _both(sides: tuple[_Side, _Side], path: str, body: Any) -> tuple[Answer, Answer]:
    """The answers of both services to ``body`` (``CT`` in it: each service's ciphertext),
    after asserting that they, and the audit records they wrote, are the same."""
    answers, audits = [], []
    for side in sides:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        raw = raw.replace(b"CT", side.sealed.encode())
        before = len(transit_audit(side.service))
        answers.append(answer_of(side.send(path, raw)))
        audits.append(transit_audit(side.service)[before:])
    assert answers[0] == answers[1]
    assert audits[0] == audits[1]
    return answers[0], answers[1]


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("encrypt", {"plaintext": "", "batch_input": [{"plaintext": PLAIN}]}),
        ("decrypt", {"ciphertext": "", "batch_input": [{"ciphertext": "CT"}]}),
    ],
)
def test_an_empty_single_input_beside_a_batch_is_refused_by_the_lean_entry_as_by_the_route(
    sides: tuple[_Side, _Side], operation: str, body: dict[str, Any]
) -> None:
    (status, _, content), _ = _both(sides, f"/v1/keys/k/{operation}", body)
    field = "plaintext" if operation == "encrypt" else "ciphertext"
    assert status == 400
    assert json.loads(content) == {
        "error": "invalid_request",
        "message": f"give {field} or batch_input, not both",
    }


@pytest.mark.parametrize("operation", ["encrypt", "decrypt"])
def test_a_null_associated_data_beside_a_batch_gets_the_routes_answer_from_the_lean_entry(
    sides: tuple[_Side, _Side], operation: str
) -> None:
    item = {"plaintext": PLAIN} if operation == "encrypt" else {"ciphertext": "CT"}
    body = {"associated_data": None, "batch_input": [item]}
    (status, _, content), _ = _both(sides, f"/v1/keys/k/{operation}", body)
    assert status == 422 and json.loads(content)["error"] == "validation_error"


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/v1/keys/k/encrypt", b'{"plaintext": "AA==", "reference": "a\\u007fb"}'),
        ("/v1/keys/k/encrypt", b'{"plaintext": "AA==", "reference": "a\x7fb"}'),
        ("/v1/keys/k/decrypt", b'{"ciphertext": "CT", "reference": "\\u007f"}'),
        ("/v1/keys/k/encrypt", b'{"batch_input": [{"plaintext": "AA==", "reference": "\\u007f"}]}'),
        ("/v1/keys/k/encrypt", b'{"batch_input": [{"plaintext": "!", "reference": "\\u007f"}]}'),
        ("/v1/keys/k/decrypt", b'{"batch_input": [{"ciphertext": "CT", "reference": "\\u007f"}]}'),
    ],
)
def test_a_reference_with_a_delete_character_is_echoed_byte_for_byte_as_the_route_writes_it(
    sides: tuple[_Side, _Side], path: str, raw: bytes
) -> None:
    (status, _, content), _ = _both(sides, path, raw)
    assert status in (200, 400)
    assert b'\x7f"' in content or b'\x7fb"' in content  # as pydantic's serializer writes it


@pytest.mark.parametrize(
    "body",
    [
        {"input": PLAIN, "signature": "sealbox:v1:AAAA"},
        {"input": PLAIN, "hmac": "sealbox:v1:AAAA"},
        {"input": PLAIN},
        {"batch_input": [{"input": PLAIN, "signature": "sealbox:v1:AAAA"}]},
    ],
)
def test_verify_with_an_encryption_key_is_an_unsupported_operation(
    sides: tuple[_Side, _Side], body: dict[str, Any]
) -> None:
    # An encryption key verifies nothing: the answer says so and names the types that
    # do, not "aes256-gcm keys verify an hmac" (then "cannot hmac" once an hmac is given).
    (status, _headers, raw), _route = _both(sides, "/v1/keys/k/verify", body)
    answer = json.loads(raw)
    error = answer["batch_results"][0] if "batch_input" in body else answer
    assert status == 400
    assert error == {
        "error": "unsupported_operation",
        "message": "aes256-gcm keys cannot verify: use a key of type hmac, ed25519, "
        "ecdsa-p256, rsa-3072",
    }


@pytest.mark.parametrize("padding", ["=", "==", "===="])
@pytest.mark.parametrize(
    ("operation", "body", "batch"),
    [
        ("decrypt", {"ciphertext": "CTPAD"}, False),
        ("rewrap", {"ciphertext": "CTPAD"}, False),
        ("decrypt", {"batch_input": [{"ciphertext": "CTPAD"}, {"ciphertext": "CT"}]}, True),
        ("rewrap", {"batch_input": [{"ciphertext": "CTPAD"}, {"ciphertext": "CT"}]}, True),
    ],
)
def test_a_ciphertext_with_padding_after_its_last_quantum_is_refused_as_not_base64(
    sides: tuple[_Side, _Side], padding: str, operation: str, body: dict[str, Any], batch: bool
) -> None:
    # Each side's ciphertext (33 bytes) is whole quanta without padding: an "=" after it
    # is not standard base64, and a ciphertext has one spelling (aes256-siv lookups by
    # ciphertext rely on it), so it is refused as plaintexts with extra padding are.
    raw = json.dumps(body).replace("PAD", padding).encode()
    (status, _, content), _ = _both(sides, f"/v1/keys/k/{operation}", raw)
    answer = json.loads(content)
    refusal = {
        "error": "invalid_ciphertext",
        "message": "the ciphertext is not valid base64 after its prefix",
    }
    assert status == 400
    if batch:
        assert answer["batch_results"][0] == refusal
        assert "error" not in answer["batch_results"][1]
    else:
        assert answer == refusal
