"""Which single-input bodies the entry runs without the request model (the rest go to it).

That the answers and audit records are the route's is pinned by
``tests/service/test_transit_entry.py``; here, that the hand checks take only bodies the
model takes unchanged, and leave it every other one.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sealbox.service.routes.transit_models import DecryptRequest, EncryptRequest
from sealbox.service.routes.transit_single import single_body


@pytest.mark.parametrize(
    "body",
    [
        {"plaintext": "AA=="},
        {"plaintext": "", "associated_data": "YWQ=", "reference": 'r"\\\n\t\u0001</'},
        {"plaintext": "!", "key_version": 3, "partial_failure_response_code": 207},
        {"plaintext": "AA==", "batch_input": None, "reference": None},
    ],
)
def test_single_encrypt_bodies_the_model_takes_are_taken_as_they_are(body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    assert single_body("encrypt", raw) == body
    EncryptRequest.model_validate_json(raw)  # and the model takes them too


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b'"AA=="',
        b'{"plaintext": "AA=="',  # not JSON
        b"{}",
        b'{"plaintext": null}',
        b'{"plaintext": 5}',
        b'{"plaintext": "AA==", "batch_input": []}',
        b'{"plaintext": "AA==", "ciphertext": "x"}',
        b'{"plaintext": "AA==", "context": "Y3R4"}',
        b'{"plaintext": "AA==", "associated_data": null}',
        b'{"plaintext": "AA==", "reference": 5}',
        b'{"plaintext": "AA==", "reference": "' + b"r" * 257 + b'"}',
        b'{"plaintext": "AA==", "reference": "\\u00e9"}',  # written otherwise by json.dumps
        '{"plaintext": "AA==", "reference": "é"}'.encode(),
        b'{"plaintext": "AA==", "key_version": -1}',
        b'{"plaintext": "AA==", "key_version": 2147483648}',
        b'{"plaintext": "AA==", "key_version": true}',
        b'{"plaintext": "AA==", "key_version": 1.0}',
        b'{"plaintext": "AA==", "key_version": "1"}',
        b'{"plaintext": "AA==", "partial_failure_response_code": 204}',
        b'{"plaintext": "AA==", "partial_failure_response_code": 302}',
    ],
)
def test_every_other_encrypt_body_is_left_to_the_model(raw: bytes) -> None:
    assert single_body("encrypt", raw) is None


def test_decrypt_bodies_have_their_own_fields() -> None:
    assert single_body("decrypt", b'{"ciphertext": "sealbox:v1:AAAA"}') is not None
    assert single_body("decrypt", b'{"ciphertext": "x", "associated_data": "", "reference": "r"}')
    assert single_body("decrypt", b'{"plaintext": "AA=="}') is None
    assert single_body("decrypt", b'{"ciphertext": "x", "key_version": 1}') is None
    assert single_body("decrypt", b'{"ciphertext": 5}') is None


def test_the_hand_checks_know_every_field_of_the_request_models() -> None:
    # A new field needs its check in single_body before these sets grow.
    assert set(EncryptRequest.model_fields) == {
        "plaintext",
        "associated_data",
        "reference",
        "key_version",
        "batch_input",
        "partial_failure_response_code",
    }
    assert set(DecryptRequest.model_fields) == {
        "ciphertext",
        "associated_data",
        "reference",
        "batch_input",
        "partial_failure_response_code",
    }
