"""Batches of encrypt and decrypt on the lean path answer as the request model's path does."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from sealbox.service.routes.transit_batch import decode_all, lean_body, newest_version
from sealbox.transit.errors import InvalidRequestError
from sealbox.transit.formats import decode_b64, peek_version
from tests.service._transit import ALL_SCOPES, Transit, b64
from tests.service.conftest import make_settings, run_service

_CIPHERTEXT = re.compile(r"^(sealbox|vault):v(\d+):[A-Za-z0-9+/=]+$")


def _shape(value: Any) -> Any:
    """An answer with every ciphertext reduced to its version (they are random)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    if isinstance(value, str) and (m := _CIPHERTEXT.match(value)):
        return f"<{m[1]} v{m[2]}>"
    return value


def _script(t: Transit, admin: dict[str, str], outsider: dict[str, str]) -> list[Any]:
    """Batch requests of every kind the lean path takes or leaves to the model; the answers."""
    out: list[Any] = []

    def call(key: str, operation: str, body: Any, headers: dict[str, str] = admin) -> Any:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        r = t.client.post(
            f"/v1/keys/{key}/{operation}",
            content=raw,
            headers={**headers, "Content-Type": "application/json"},
        )
        out.append((operation, r.status_code, _shape(r.json())))
        return r.json()

    t.post("/v1/keys/k", {}, admin)
    t.post("/v1/keys/siv", {"type": "aes256-siv"}, admin)
    t.post("/v1/keys/sig", {"type": "ed25519"}, admin)
    plain = [b64(f"row {i}".encode()) for i in range(6)]
    quirky = ["AB==", "AAAA=", "AA-_", 'AA"=', "AA\\\\", "AAA", "é===", "", "AA==\n", "%%%"]
    done = call("k", "encrypt", {"batch_input": [{"plaintext": p} for p in plain]})
    cts = [r["ciphertext"] for r in done["batch_results"]]
    call("k", "encrypt", {"batch_input": [{"plaintext": p} for p in quirky]})
    call(
        "k",
        "encrypt",
        {
            "batch_input": [
                {"plaintext": plain[0], "reference": 'r"\\\n\t\u0001</'},
                {"plaintext": plain[1], "associated_data": "YWQ="},
                {"plaintext": plain[2], "associated_data": "!"},
                {},
                {"plaintext": None, "reference": "none"},
                {"plaintext": plain[3], "associated_data": ""},
            ],
            "partial_failure_response_code": 207,
        },
    )
    call("siv", "encrypt", {"batch_input": [{"plaintext": ""}, {"plaintext": plain[0]}]})
    call(
        "siv", "encrypt", {"batch_input": [{"plaintext": ""}], "partial_failure_response_code": 299}
    )
    for code in (200, 299, 500):
        call(
            "k",
            "encrypt",
            {"batch_input": [{"plaintext": "!"}, {}], "partial_failure_response_code": code},
        )
        call("k", "encrypt", {"batch_input": [{"plaintext": "!"}, {"plaintext": plain[0]}], "partial_failure_response_code": code})  # fmt: skip
    t.post("/v1/keys/k/rotate", None, admin)
    call("k", "encrypt", {"batch_input": [{"plaintext": plain[0]}], "key_version": 1})
    call("k", "encrypt", {"batch_input": [{"plaintext": plain[0]}, {"plaintext": "!"}], "key_version": 9})  # fmt: skip
    call("sig", "encrypt", {"batch_input": [{"plaintext": plain[0]}]})
    call("nope", "encrypt", {"batch_input": [{"plaintext": plain[0]}]})
    call("k", "encrypt", {"batch_input": [{"plaintext": plain[0]}]}, outsider)
    call("k", "encrypt", {"batch_input": [{"plaintext": plain[0]}] * 11})  # over the limit
    # Bodies the request model judges: every answer is the model path's.
    for body in (
        {"batch_input": []},
        {"batch_input": [{"plaintext": plain[0]}], "plaintext": plain[1]},
        {"batch_input": [{"plaintext": 5}]},
        {"batch_input": [{"plaintext": plain[0], "extra": 1}]},
        {"batch_input": [{"plaintext": plain[0], "reference": "r" * 257}]},
        {"batch_input": [{"plaintext": plain[0], "associated_data": None}]},
        {"batch_input": [{"plaintext": plain[0], "reference": "é"}]},
        {"batch_input": [{"plaintext": plain[0], "reference": "\u00e9\u2028"}]},
        {"batch_input": [{"plaintext": plain[0]}], "key_version": True},
        {"batch_input": [{"plaintext": plain[0]}], "key_version": 1.0},
        {"batch_input": [{"plaintext": plain[0]}], "partial_failure_response_code": 204},
        {"batch_input": [{"plaintext": plain[0]}], "partial_failure_response_code": 302},
        {"batch_input": [{"plaintext": plain[0]}], "partial_failure_response_code": "207"},
        {"batch_input": [[]]},
        {"batch_input": {"plaintext": plain[0]}},
        [{"plaintext": plain[0]}],
    ):
        call("k", "encrypt", body)
    call("k", "encrypt", b'{"batch_input": [{"plaintext": "AA=="}')
    call("k", "encrypt", b'{"batch_input": [{"plaintext": "\\u0041A=="}]}')

    vault_spelt = cts[1].replace("sealbox:", "vault:", 1)
    broken = cts[2][:-4] + ("AAAA" if not cts[2].endswith("AAAA") else "BBBB")
    call("k", "decrypt", {"batch_input": [{"ciphertext": c} for c in cts]})
    call(
        "k",
        "decrypt",
        {
            "batch_input": [
                {"ciphertext": cts[0], "reference": "a"},
                {"ciphertext": vault_spelt},
                {"ciphertext": broken},
                {"ciphertext": "garbage"},
                {"ciphertext": "sealbox:v7:AAAA"},
                {},
                {"ciphertext": cts[3], "associated_data": "YWQ="},
                {"ciphertext": cts[4], "associated_data": "!"},
            ],
            "partial_failure_response_code": 207,
        },
    )
    call("k", "decrypt", {"batch_input": [{"ciphertext": "garbage"}]})
    # Every ciphertext well-formed (their base64 decoded together), some refused.
    call(
        "k",
        "decrypt",
        {
            "batch_input": [
                {"ciphertext": cts[0], "reference": "a"},
                {"ciphertext": "sealbox:v7:" + cts[1].split(":", 2)[2]},
                {"ciphertext": cts[2], "associated_data": "YWQ="},
                {"ciphertext": cts[3], "associated_data": "!"},
                {"ciphertext": vault_spelt},
                {"ciphertext": "sealbox:v1:"},
                {"ciphertext": "sealbox:v1:AAAA"},
            ]
        },
    )
    # Ciphertexts alone, every one well-formed (the batch is opened in one call), some refused.
    alone = [cts[0], vault_spelt, "sealbox:v7:" + cts[1].split(":", 2)[2], broken, cts[2]]
    call(
        "k",
        "decrypt",
        {"batch_input": [{"ciphertext": c} for c in alone], "partial_failure_response_code": 207},
    )
    call("sig", "decrypt", {"batch_input": [{"ciphertext": cts[0]}, {"ciphertext": "garbage"}]})
    call("sig", "decrypt", {"batch_input": [{"ciphertext": cts[0]}]})
    call("k", "decrypt", {"batch_input": [{"ciphertext": cts[0]}]}, outsider)
    call("k", "decrypt", {"batch_input": [{"ciphertext": cts[0], "key_version": 1}]})
    call("k", "decrypt", {"batch_input": [{"ciphertext": 5}]})
    t.client.patch("/v1/keys/k", json={"min_decryption_version": 2}, headers=admin)
    call("k", "decrypt", {"batch_input": [{"ciphertext": cts[0]}]})
    return out


def _audit(t: Transit) -> list[tuple[str, str, str | None]]:
    records = [json.loads(line) for line in t.audit().splitlines() if '"transit.' in line]
    return [(r["event"], r["outcome"], r.get("detail")) for r in records]


def test_batches_answer_and_audit_alike_on_the_lean_and_the_model_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealbox.service.routes import transit_entry

    answers, audits, taken = [], [], []
    real = transit_entry._lean

    def spy(operation: str, raw: bytes) -> dict[str, Any] | None:
        body = real(operation, raw)
        taken.append(body is not None)
        return body

    for lean in (True, False):
        # The second run sends every body to the request model and the handlers, as before.
        monkeypatch.setattr(transit_entry, "_lean", spy if lean else lambda operation, raw: None)
        settings = make_settings(tmp_path / f"data-{lean}", transit_max_batch=10)
        with run_service(settings) as service, service.client() as c:
            t = Transit(service, c)
            answers.append(_script(t, t.headers(*ALL_SCOPES), t.headers("transit:hmac:*")))
            audits.append(_audit(t))
    assert answers[0] == answers[1]
    assert audits[0] == audits[1]
    assert taken.count(True) >= 20  # the lean path answered most batches of the first run
    statuses = [status for _, status, _ in answers[0]]
    assert statuses.count(200) >= 4 and 207 in statuses and 413 in statuses
    assert {403, 404, 422, 400} <= set(statuses)
    # The batch with the quirky texts: each decoded (or refused) as decode_b64 does it.
    quirky = answers[0][1][2]["batch_results"]
    assert [("ciphertext" in r) for r in quirky] == [True, True, False, False, False, False,
                                                    False, True, False, False]  # fmt: skip
    # One audit line per batch, with its tally.
    assert ("transit.encrypt", "success", "key=k items=6 failed=0 versions=1") in audits[0]
    assert ("transit.encrypt", "denied", "key=k") in audits[0]


# -- what the lean path takes ---------------------------------------------------------------

_ITEMS = [{"plaintext": "AA=="}, {"plaintext": None, "associated_data": "", "reference": "r"}]


@pytest.mark.parametrize(
    "body",
    [
        {"batch_input": _ITEMS},
        {"batch_input": _ITEMS, "key_version": 3, "partial_failure_response_code": 207},
        {"batch_input": _ITEMS, "plaintext": None, "reference": None, "associated_data": ""},
        {"batch_input": [{}], "partial_failure_response_code": 599},
    ],
)
def test_the_lean_path_takes_what_the_model_takes_unchanged(body: dict[str, Any]) -> None:
    assert lean_body("encrypt", json.dumps(body).encode()) == body


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b'{"batch_input": [{"plaintext": "AA=="}]',  # not JSON
        b'{"batch_input": []}',
        b'{"batch_input": [{"plaintext": "AA=="}], "plaintext": "AA=="}',
        b'{"batch_input": [{"plaintext": "AA==", "ciphertext": "x"}]}',
        b'{"batch_input": [{"plaintext": 1}]}',
        b'{"batch_input": [{"plaintext": "AA==", "associated_data": null}]}',
        b'{"batch_input": [{"plaintext": "AA==", "reference": 5}]}',
        b'{"batch_input": [{"plaintext": "AA==", "reference": "' + b"r" * 257 + b'"}]}',
        b'{"batch_input": [{"plaintext": "AA=="}], "key_version": -1}',
        b'{"batch_input": [{"plaintext": "AA=="}], "key_version": 2147483648}',
        b'{"batch_input": [{"plaintext": "AA=="}], "key_version": false}',
        b'{"batch_input": [{"plaintext": "AA=="}], "key_version": 1.0}',
        b'{"batch_input": [{"plaintext": "AA=="}], "partial_failure_response_code": 205}',
        b'{"batch_input": [{"plaintext": "AA=="}], "partial_failure_response_code": 399}',
        b'{"batch_input": [{"plaintext": "AA=="}], "partial_failure_response_code": 600}',
        b'{"batch_input": [{"plaintext": "AA=="}], "partial_failure_response_code": true}',
        '{"batch_input": [{"plaintext": "AA==", "reference": "é"}]}'.encode(),
        b'{"batch_input": [{"plaintext": "AA==", "reference": "\\u00e9"}]}',
        b'{"batch_input": [{"plaintext": "AA=="}], "nonce": ""}',
        b'{"batch_input": [5]}',
    ],
)
def test_the_lean_path_leaves_every_other_body_to_the_model(raw: bytes) -> None:
    assert lean_body("encrypt", raw) is None


def test_the_lean_checks_know_every_field_of_the_request_models() -> None:
    # A new field needs its check in lean_body before this set grows.
    from sealbox.service.routes.transit_models import DecryptRequest, EncryptRequest

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


def test_decrypt_bodies_have_their_own_fields() -> None:
    assert lean_body("decrypt", b'{"batch_input": [{"ciphertext": "x"}]}') is not None
    assert lean_body("decrypt", b'{"batch_input": [{"plaintext": "AA=="}]}') is None
    assert lean_body("decrypt", b'{"batch_input": [{"ciphertext": "x"}], "key_version": 1}') is None


_TEXTS = ["", "AA==", "AAA=", "AAAA", "A", "AA=", "AA===", "=AAA", "AA=A", "AA AA", "AA\nAA",
          "AA-_", "AA+/", "AAAA====", "AAAAAA==", "AB==", "AR==", "AAAA=", 'AA"=', "AA\\\\",
          '","A', "+/8=", base64.b64encode(bytes(range(256))).decode()]  # fmt: skip


def _decode(text: str) -> bytes | None:
    try:
        return decode_b64(text, "f")
    except InvalidRequestError:
        return None


@pytest.mark.parametrize("text", _TEXTS)
def test_the_batch_decoder_reads_each_text_as_decode_b64_or_defers(text: str) -> None:
    decoded = decode_all([text, "AQ=="])
    # None (each text then goes through decode_b64) is always a right answer.
    if decoded is not None:
        assert decoded == [_decode(text), b"\x01"]


def test_the_batch_decoder_decodes_a_whole_batch_or_nothing() -> None:
    texts = [base64.b64encode(bytes([i]) * i).decode() for i in range(100)]
    assert decode_all(texts) == [bytes([i]) * i for i in range(100)]
    assert decode_all([*texts, "!"]) is None
    assert decode_all([*texts, None]) is None


@pytest.mark.parametrize(
    "texts",
    [
        [],
        ["sealbox:v1:AAAA", "sealbox:v1:BBBB", "sealbox:v3:AAAA", "sealbox:v2:AAAA"],
        ["vault:v4:AAAA", "sealbox:v4:AAAA", "vault:v9:", "garbage", None, 7, "sealbox:v01:A"],
        ["sealbox:v1:AAAA", "sealbox:v12:AAAA", "sealbox:v1:", "sealbox:v2147483648:AA"],
        [None, "sealbox:v:AAAA", b"sealbox:v5:AAAA"],
    ],
)
def test_a_decrypt_batchs_newest_version_is_the_highest_any_ciphertext_names(
    texts: list[Any],
) -> None:
    items = [{"ciphertext": t} for t in texts] + [{}]
    named = [v for v in (peek_version(t) for t in texts) if v is not None]
    assert newest_version(items) == max(named, default=0)
