"""Transit over real HTTPS, on SQLite and on PostgreSQL with Redis: keys, operations, scopes."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

import pytest

from tests.service._transit import (
    ALL_SCOPES,
    OPERATIONS,
    Transit,
    b64,
    key_material,
    material_forms,
    unb64,
)
from tests.service.conftest import make_settings, run_service


@pytest.fixture
def transit(service):
    with service.client() as client:
        yield Transit(service, client)


@pytest.fixture
def admin(transit: Transit) -> dict[str, str]:
    return transit.headers(*ALL_SCOPES)


# Tests on the module's shared service write keys under names no other test of the module
# uses (a parametrized test: one per variant), and read only audit records naming them.
@pytest.fixture
def shared_transit(module_service):
    # A client per test: a test may hook its responses.
    with module_service.client() as client:
        yield Transit(module_service, client)


@pytest.fixture(scope="module")
def shared_admin(module_service) -> dict[str, str]:
    with module_service.client() as client:
        return Transit(module_service, client).headers(*ALL_SCOPES)


def _own_records(t: Transit, *keys: str) -> list[dict]:
    """The transit audit records naming one of ``keys``, in order."""
    named = {f"key={key}" for key in keys}
    records = [json.loads(line) for line in t.audit().splitlines() if '"transit.' in line]
    return [r for r in records if r.get("detail", "").split(" ", 1)[0] in named]


# -- key management -----------------------------------------------------------------------


def test_key_lifecycle(transit: Transit, admin) -> None:
    t = transit
    r = t.post("/v1/keys/orders", {"type": "chacha20-poly1305"}, admin)
    assert r.status_code == 201
    info = r.json()
    assert info["name"] == "orders" and info["type"] == "chacha20-poly1305"
    assert info["latest_version"] == 1 and info["min_decryption_version"] == 1
    assert info["min_encryption_version"] == 0
    assert info["exportable"] is False and info["deletion_allowed"] is False
    assert info["supports_encryption"] and not info["supports_signing"]
    assert list(info["keys"]) == ["1"] and set(info["keys"]["1"]) == {"creation_time"}
    # The default type is aes256-gcm; names are checked; types are checked; no duplicates.
    assert t.post("/v1/keys/plain", None, admin).json()["type"] == "aes256-gcm"
    r = t.post("/v1/keys/orders", {"type": "aes256-gcm"}, admin)
    assert r.status_code == 409 and r.json()["error"] == "key_exists"
    r = t.post("/v1/keys/bad", {"type": "aes128-gcm96"}, admin)
    assert r.status_code == 422 and r.json()["error"] == "validation_error"
    for bad in ("-leading-dash", "a" * 129, "sp%20ace", "x.y%2Fz"):
        assert t.post(f"/v1/keys/{bad}", {}, admin).status_code in (404, 422), bad
    assert t.client.get("/v1/keys", headers=admin).json() == {"keys": ["orders", "plain"]}
    assert t.client.get("/v1/keys/orders", headers=admin).json() == info

    r = t.post("/v1/keys/orders/rotate", None, admin)
    assert r.status_code == 200 and r.json()["latest_version"] == 2
    assert list(r.json()["keys"]) == ["1", "2"]
    assert t.post("/v1/keys/nope/rotate", None, admin).status_code == 404


def test_configuration_rules(shared_transit: Transit, shared_admin) -> None:
    t = shared_transit
    admin = shared_admin
    t.post("/v1/keys/cfg", {}, admin)
    for _ in range(2):
        t.post("/v1/keys/cfg/rotate", None, admin)

    def patch(body):
        return t.client.patch("/v1/keys/cfg", json=body, headers=admin)

    r = patch({"min_decryption_version": 2, "min_encryption_version": 3})
    assert r.status_code == 200
    assert (r.json()["min_decryption_version"], r.json()["min_encryption_version"]) == (2, 3)
    for body, fragment in [
        ({"min_decryption_version": 4}, "between 1 and the latest version (3)"),
        ({"min_encryption_version": 1}, "min_encryption_version must be 0"),
        ({"min_decryption_version": 3, "min_encryption_version": 2}, "must be 0"),
    ]:
        r = patch(body)
        assert r.status_code == 400 and fragment in r.json()["message"], body
        assert r.json()["error"] == "invalid_key_version"
    assert patch({"min_encryption_version": 0}).json()["min_encryption_version"] == 0
    # A misspelt setting is refused, never ignored.
    r = patch({"min_decrypt_version": 3})
    assert r.status_code == 422 and r.json()["details"][0]["loc"][-1] == "min_decrypt_version"
    assert patch({"min_decryption_version": 0}).status_code == 422
    # exportable: off by default, may be turned on, never off again.
    assert patch({"exportable": True}).json()["exportable"] is True
    r = patch({"exportable": False})
    assert r.status_code == 400 and "cannot be turned off" in r.json()["message"]
    assert patch({}).json()["exportable"] is True


def test_deletion_needs_deletion_allowed(shared_transit: Transit, shared_admin) -> None:
    t = shared_transit
    admin = shared_admin
    t.post("/v1/keys/gone", {}, admin)
    ciphertext = t.post("/v1/keys/gone/encrypt", {"plaintext": b64(b"x")}, admin).json()
    ciphertext.pop("key_version")
    r = t.client.delete("/v1/keys/gone", headers=admin)
    assert r.status_code == 400 and r.json()["error"] == "deletion_not_allowed"
    assert t.client.get("/v1/keys/gone", headers=admin).status_code == 200
    t.client.patch("/v1/keys/gone", json={"deletion_allowed": True}, headers=admin)
    assert t.client.delete("/v1/keys/gone", headers=admin).status_code == 204
    assert t.client.get("/v1/keys/gone", headers=admin).status_code == 404
    r = t.post("/v1/keys/gone/decrypt", ciphertext, admin)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert t.client.delete("/v1/keys/gone", headers=admin).status_code == 404
    # The name is free again, for a new key that opens nothing of the old one.
    assert t.post("/v1/keys/gone", {}, admin).status_code == 201
    r = t.post("/v1/keys/gone/decrypt", {"ciphertext": ciphertext["ciphertext"]}, admin)
    assert r.json()["error"] == "decryption_failed"


# -- operations ---------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", ["aes256-gcm", "chacha20-poly1305", "aes256-siv"])
def test_encrypt_decrypt_rewrap_datakey(
    shared_transit: Transit, shared_admin, key_type: str
) -> None:
    t = shared_transit
    admin = shared_admin
    name = f"k-{key_type}"  # each variant its own key on the shared service
    t.post(f"/v1/keys/{name}", {"type": key_type}, admin)
    ad = b64(b"order:42")
    r = t.post(
        f"/v1/keys/{name}/encrypt", {"plaintext": b64(b"card 4111"), "associated_data": ad}, admin
    )
    assert r.status_code == 200
    first = r.json()
    assert first["key_version"] == 1 and first["ciphertext"].startswith("sealbox:v1:")
    r = t.post(
        f"/v1/keys/{name}/decrypt",
        {"ciphertext": first["ciphertext"], "associated_data": ad},
        admin,
    )
    assert unb64(r.json()["plaintext"]) == b"card 4111"
    r = t.post(f"/v1/keys/{name}/decrypt", {"ciphertext": first["ciphertext"]}, admin)
    assert r.status_code == 400 and r.json()["error"] == "decryption_failed"

    t.post(f"/v1/keys/{name}/rotate", None, admin)
    r = t.post(
        f"/v1/keys/{name}/rewrap", {"ciphertext": first["ciphertext"], "associated_data": ad}, admin
    )
    rewrapped = r.json()
    assert rewrapped["key_version"] == 2 and rewrapped["ciphertext"].startswith("sealbox:v2:")
    r = t.post(
        f"/v1/keys/{name}/decrypt",
        {"ciphertext": rewrapped["ciphertext"], "associated_data": ad},
        admin,
    )
    assert unb64(r.json()["plaintext"]) == b"card 4111"
    # An older version on request, and the newest by default.
    r = t.post(f"/v1/keys/{name}/encrypt", {"plaintext": b64(b"p"), "key_version": 1}, admin)
    assert r.json()["key_version"] == 1
    r = t.post(f"/v1/keys/{name}/encrypt", {"plaintext": b64(b"p"), "key_version": 3}, admin)
    assert r.status_code == 400 and r.json()["error"] == "invalid_key_version"

    # min_decryption_version refuses the older ciphertext with a clear message.
    t.client.patch(f"/v1/keys/{name}", json={"min_decryption_version": 2}, headers=admin)
    r = t.post(
        f"/v1/keys/{name}/decrypt",
        {"ciphertext": first["ciphertext"], "associated_data": ad},
        admin,
    )
    assert r.status_code == 400
    assert r.json() == {
        "error": "key_version_too_old",
        "message": f"the ciphertext was made with version 1 of key '{name}', below its "
        "min_decryption_version 2: it is no longer accepted",
    }
    r = t.post(
        f"/v1/keys/{name}/rewrap", {"ciphertext": first["ciphertext"], "associated_data": ad}, admin
    )
    assert r.json()["error"] == "key_version_too_old"

    # Data keys: wrapped by default; plaintext on request; the ciphertext opens to the key.
    r = t.post(f"/v1/keys/{name}/datakey", {"associated_data": ad}, admin)
    assert set(r.json()) == {"ciphertext", "key_version"}
    r = t.post(
        f"/v1/keys/{name}/datakey", {"type": "plaintext", "bits": 512, "associated_data": ad}, admin
    )
    data_key = unb64(r.json()["plaintext"])
    assert len(data_key) == 64
    opened = t.post(
        f"/v1/keys/{name}/decrypt",
        {"ciphertext": r.json()["ciphertext"], "associated_data": ad},
        admin,
    )
    assert unb64(opened.json()["plaintext"]) == data_key
    assert (
        t.post(f"/v1/keys/{name}/datakey", {"bits": 64}, admin).json()["error"] == "invalid_request"
    )


def test_sign_verify_and_hmac(shared_transit: Transit, shared_admin) -> None:
    t = shared_transit
    admin = shared_admin
    data = b64(b"release 1.2.3")
    for key_type in ("ed25519", "ecdsa-p256", "rsa-3072"):
        t.post(f"/v1/keys/s-{key_type}", {"type": key_type}, admin)
        r = t.post(f"/v1/keys/s-{key_type}/sign", {"input": data}, admin)
        assert r.status_code == 200, r.text
        signature = r.json()["signature"]
        assert signature.startswith("sealbox:v1:") and r.json()["key_version"] == 1
        r = t.post(f"/v1/keys/s-{key_type}/verify", {"input": data, "signature": signature}, admin)
        assert r.json() == {"valid": True}
        other = {"input": b64(b"release 1.2.4"), "signature": signature}
        assert t.post(f"/v1/keys/s-{key_type}/verify", other, admin).json() == {"valid": False}
        public = t.client.get(f"/v1/keys/s-{key_type}", headers=admin).json()["keys"]["1"]
        assert public["public_key"]
    r = t.post(
        "/v1/keys/s-rsa-3072/sign", {"input": data, "signature_algorithm": "pkcs1v15"}, admin
    )
    assert r.status_code == 400 and r.json()["error"] == "unsupported_algorithm"
    r = t.post("/v1/keys/s-ecdsa-p256/sign", {"input": data, "hash_algorithm": "sha2-512"}, admin)
    assert r.json()["error"] == "unsupported_algorithm"
    r = t.post("/v1/keys/s-ecdsa-p256/sign", {"input": data, "marshaling_algorithm": "jws"}, admin)
    assert r.json()["error"] == "unsupported_algorithm"
    r = t.post("/v1/keys/s-ed25519/sign", {"input": data, "prehashed": True}, admin)
    assert r.json()["error"] == "unsupported_algorithm"
    # Ed25519 ignores hash_algorithm (it hashes inside), as in Vault.
    r = t.post("/v1/keys/s-ed25519/sign", {"input": data, "hash_algorithm": "sha2-512"}, admin)
    assert r.status_code == 200
    # ...but a name that is no hash at all is refused, as for the other key types.
    for key_type in ("ed25519", "ecdsa-p256", "rsa-3072"):
        r = t.post(f"/v1/keys/s-{key_type}/sign", {"input": data, "hash_algorithm": "bogus"}, admin)
        assert r.status_code == 400 and r.json()["error"] == "unsupported_algorithm", key_type

    t.post("/v1/keys/mac", {"type": "hmac"}, admin)
    tag = t.post("/v1/keys/mac/hmac", {"input": data}, admin).json()["hmac"]
    assert t.post("/v1/keys/mac/verify", {"input": data, "hmac": tag}, admin).json()["valid"]
    t.post("/v1/keys/mac/rotate", None, admin)
    assert t.post("/v1/keys/mac/hmac", {"input": data}, admin).json()["key_version"] == 2
    assert t.post("/v1/keys/mac/verify", {"input": data, "hmac": tag}, admin).json()["valid"]
    r = t.post("/v1/keys/mac/verify", {"input": data, "signature": tag}, admin)
    assert r.json()["message"] == "hmac keys verify an hmac"
    r = t.post("/v1/keys/mac/hmac", {"input": data, "algorithm": "sha3-256"}, admin)
    assert r.json()["error"] == "unsupported_algorithm"
    # Operations a type does not have.
    r = t.post("/v1/keys/mac/encrypt", {"plaintext": data}, admin)
    assert r.status_code == 400 and r.json()["error"] == "unsupported_operation"
    r = t.post("/v1/keys/s-ed25519/hmac", {"input": data}, admin)
    assert r.json()["error"] == "unsupported_operation"


@pytest.mark.parametrize("items", [1, 200], ids=["lean", "threaded"])
def test_an_item_field_beside_batch_input_is_refused_never_dropped(
    shared_transit: Transit, shared_admin, items: int
) -> None:
    t = shared_transit
    admin = shared_admin
    name = f"aad-{items}"  # each variant its own keys on the shared service
    t.post(f"/v1/keys/{name}", {}, admin)
    t.post(f"/v1/keys/{name}-sig", {"type": "ed25519"}, admin)
    sealed = t.post(f"/v1/keys/{name}/encrypt", {"plaintext": "aGk="}, admin).json()["ciphertext"]
    plain = [{"plaintext": "aGk="}] * items
    ciphers = [{"ciphertext": sealed}] * items
    inputs = [{"input": "aGk="}] * items
    for path, body, fields in [
        ("encrypt", {"associated_data": "eA==", "batch_input": plain}, "associated_data"),
        ("encrypt", {"associated_data": "!!!", "batch_input": plain}, "associated_data"),
        ("encrypt", {"reference": "r", "batch_input": plain}, "reference"),
        ("decrypt", {"associated_data": "eA==", "batch_input": ciphers}, "associated_data"),
        (
            "rewrap",
            {"associated_data": "eA==", "reference": "r", "batch_input": ciphers},
            "associated_data, reference",
        ),
        ("datakey", {"associated_data": "eA==", "batch_input": [{}] * items}, None),
    ]:
        r = t.post(f"/v1/keys/{name}/{path}", body, admin)
        message = (
            f"{fields or 'associated_data'} goes in each batch_input item, not beside batch_input"
        )
        assert (r.status_code, r.json().get("message")) == (400, message), (path, body)
    signature = t.post(f"/v1/keys/{name}-sig/sign", {"input": "aGk="}, admin).json()["signature"]
    r = t.post(
        f"/v1/keys/{name}-sig/verify", {"signature": signature, "batch_input": inputs}, admin
    )
    assert r.status_code == 400 and r.json()["message"].startswith("signature goes in each")
    # Through the Vault route too: an associated_data that would bind nothing is refused.
    vault = {"X-Vault-Token": admin["Authorization"].removeprefix("Bearer ")}
    r = t.client.post(
        f"/v1/transit/encrypt/{name}",
        json={"associated_data": "eA==", "batch_input": plain},
        headers=vault,
    )
    assert r.status_code == 400 and "goes in each batch_input item" in r.json()["errors"][0]
    # Empty or null beside the batch changes nothing, and is taken.
    r = t.post(
        f"/v1/keys/{name}/encrypt",
        {"associated_data": "", "reference": None, "batch_input": plain},
        admin,
    )
    assert r.status_code == 200 and len(r.json()["batch_results"]) == items


def test_key_settings_take_their_json_types_only(shared_transit: Transit, shared_admin) -> None:
    t = shared_transit
    admin = shared_admin
    t.post("/v1/keys/strict", {}, admin)
    t.post("/v1/keys/strict/rotate", None, admin)
    assert t.client.patch(
        "/v1/keys/strict", json={"min_decryption_version": 2}, headers=admin
    ).is_success
    for change in (
        {"min_decryption_version": True},
        {"min_decryption_version": "1"},
        {"deletion_allowed": "yes"},
        {"deletion_allowed": 1},
        {"exportable": "off"},
    ):
        r = t.client.patch("/v1/keys/strict", json=change, headers=admin)
        assert r.status_code == 422 and r.json()["error"] == "validation_error", change
    assert t.post("/v1/keys/strict2", {"exportable": "true"}, admin).status_code == 422
    info = t.client.get("/v1/keys/strict", headers=admin).json()
    assert info["min_decryption_version"] == 2 and info["deletion_allowed"] is False


def test_request_shapes(shared_transit: Transit, shared_admin) -> None:
    t = shared_transit
    admin = shared_admin
    t.post("/v1/keys/shapes", {}, admin)
    for body, message in [
        ({}, "give plaintext or batch_input"),
        (
            {"plaintext": "AA==", "batch_input": [{"plaintext": "AA=="}]},
            "give plaintext or batch_input, not both",
        ),
        ({"batch_input": []}, "batch_input is empty"),
        ({"plaintext": "not base64!"}, "plaintext is not valid base64"),
        ({"plaintext": "AA==", "associated_data": "%%"}, "associated_data is not valid base64"),
    ]:
        r = t.post("/v1/keys/shapes/encrypt", body, admin)
        assert r.status_code == 400 and r.json()["message"] == message, body
    r = t.post("/v1/keys/shapes/encrypt", {"plaintext": "AA==", "context": "AA=="}, admin)
    assert r.status_code == 422 and r.json()["details"][0]["loc"] == ["body", "context"]
    r = t.client.post(
        "/v1/keys/shapes/encrypt",
        content=b'{"plaintext": ',
        headers={**admin, "content-type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["error"] == "validation_error"
    # Not UTF-8, or nested past the parser's depth: the same 422, not FastAPI's own 400.
    for raw in (b'{"plaintext": "\xff\xfe"}', b"[" * 100_000 + b"]" * 100_000):
        r = t.client.post(
            "/v1/keys/shapes/encrypt",
            content=raw,
            headers={**admin, "content-type": "application/json"},
        )
        assert (r.status_code, r.json()["error"]) == (422, "validation_error"), raw[:20]
        assert r.json()["details"][0]["loc"] == ["body"]
    # A body that is not JSON is left to the application, whose middleware refuses its type.
    r = t.client.post(
        "/v1/keys/shapes/encrypt", content=b"AA==", headers={**admin, "content-type": "text/plain"}
    )
    assert r.status_code == 415 and r.json()["error"] == "unsupported_media_type"
    # Without a token: 401 before anything else, on every operation.
    for op in OPERATIONS:
        r = t.post(f"/v1/keys/shapes/{op}", {"nonsense": 1})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = t.post("/v1/keys/shapes/encrypt", {"plaintext": "AA=="}, {"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    # The answers carry the service's security headers, fast path or not.
    r = t.post("/v1/keys/shapes/encrypt", {"plaintext": "AA=="}, admin)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-type"] == "application/json"


# -- batches ------------------------------------------------------------------------------


def test_batch_of_1000_reports_per_item_errors(shared_transit: Transit, shared_admin) -> None:
    t = shared_transit
    admin = shared_admin
    t.post("/v1/keys/bulk", {}, admin)
    bad = {7, 500, 999}
    items = [
        {"plaintext": "%%%" if i in bad else b64(f"row {i}".encode()), "reference": f"r{i}"}
        for i in range(1000)
    ]
    r = t.post("/v1/keys/bulk/encrypt", {"batch_input": items}, admin)
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "batch_failed" and body["message"] == "3 of 1000 items failed"
    results = body["batch_results"]
    assert len(results) == 1000
    assert [r["reference"] for r in results] == [f"r{i}" for i in range(1000)]
    for i, result in enumerate(results):
        if i in bad:
            assert result["error"] == "invalid_request"
            assert result["message"] == "plaintext is not valid base64"
            assert "ciphertext" not in result
        else:
            assert result["ciphertext"].startswith("sealbox:v1:") and "error" not in result

    # The same batch with partial_failure_response_code: the results with that status.
    r = t.post(
        "/v1/keys/bulk/encrypt", {"batch_input": items, "partial_failure_response_code": 207}, admin
    )
    assert r.status_code == 207 and set(r.json()) == {"batch_results"}

    # 1000 ciphertexts to decrypt: a body well above the 64 KiB of other routes.
    good = [{"ciphertext": results[i]["ciphertext"]} for i in range(1000) if i not in bad]
    good.append({"ciphertext": "sealbox:v1:AAAA"})
    good.append({"ciphertext": "garbage"})
    good.append({})
    r = t.post("/v1/keys/bulk/decrypt", {"batch_input": good}, admin)
    assert r.status_code == 400
    out = r.json()["batch_results"]
    assert len(r.request.content) > 64 * 1024
    plain = [unb64(x["plaintext"]) for x in out[:-3]]
    assert plain == [f"row {i}".encode() for i in range(1000) if i not in bad]
    assert [x["error"] for x in out[-3:]] == [
        "decryption_failed",
        "invalid_ciphertext",
        "invalid_request",
    ]

    # Everything succeeding: 200. Everything failing: 400 even with partial_failure_response_code.
    r = t.post("/v1/keys/bulk/decrypt", {"batch_input": good[: 1000 - len(bad)]}, admin)
    assert r.status_code == 200 and set(r.json()) == {"batch_results"}
    r = t.post(
        "/v1/keys/bulk/decrypt",
        {"batch_input": good[-3:], "partial_failure_response_code": 207},
        admin,
    )
    assert r.status_code == 400

    # Every other operation takes batches too.
    t.post("/v1/keys/sig", {"type": "ed25519"}, admin)
    inputs = [{"input": b64(bytes([i]))} for i in range(50)]
    signed = t.post("/v1/keys/sig/sign", {"batch_input": inputs}, admin).json()["batch_results"]
    checks = [{**x, "signature": s["signature"]} for x, s in zip(inputs, signed, strict=True)]
    checks[3]["signature"] = signed[4]["signature"]
    verified = t.post("/v1/keys/sig/verify", {"batch_input": checks}, admin).json()["batch_results"]
    assert [v["valid"] for v in verified] == [i != 3 for i in range(50)]
    wrapped = t.post("/v1/keys/bulk/datakey", {"batch_input": [{}, {}], "type": "plaintext"}, admin)
    assert len({x["plaintext"] for x in wrapped.json()["batch_results"]}) == 2
    rewrapped = t.post(
        "/v1/keys/bulk/rewrap", {"batch_input": [{"ciphertext": results[0]["ciphertext"]}]}, admin
    )
    assert rewrapped.json()["batch_results"][0]["key_version"] == 1
    t.post("/v1/keys/m", {"type": "hmac"}, admin)
    tags = t.post("/v1/keys/m/hmac", {"batch_input": [{"input": "AA=="}, {}]}, admin)
    assert tags.json()["batch_results"][1] == {
        "error": "invalid_request",
        "message": "missing input",
    }


def test_batch_and_body_limits(transit: Transit, admin) -> None:
    t = transit
    t.post("/v1/keys/k", {}, admin)
    r = t.post("/v1/keys/k/encrypt", {"batch_input": [{"plaintext": ""}] * 10_001}, admin)
    assert r.status_code == 413 and r.json()["error"] == "batch_too_large"
    big = b64(os.urandom(3 * 1024 * 1024 + 200_000))
    r = t.post("/v1/keys/k/encrypt", {"plaintext": big}, admin)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    # Other routes keep their 64 KiB.
    r = t.client.post("/auth/register", json={"username": "x", "password": "p" * 70_000})
    assert r.status_code == 413


# -- scopes -------------------------------------------------------------------------------


def test_scopes_guard_every_key_and_operation(shared_transit: Transit, shared_admin) -> None:
    t = shared_transit
    admin = shared_admin
    for name, key_type in [
        ("scope-enc", "aes256-gcm"),
        ("scope-other", "aes256-gcm"),
        ("scope-sig", "ed25519"),
        ("scope-mac", "hmac"),
    ]:
        t.post(f"/v1/keys/{name}", {"type": key_type}, admin)
    ciphertext = t.post("/v1/keys/scope-enc/encrypt", {"plaintext": "AA=="}, admin).json()[
        "ciphertext"
    ]
    bodies = {
        "encrypt": {"plaintext": "AA=="},
        "decrypt": {"ciphertext": ciphertext},
        "rewrap": {"ciphertext": ciphertext},
        "datakey": {},
        "sign": {"input": "AA=="},
        "verify": {"input": "AA==", "signature": "sealbox:v1:AAAA"},
        "hmac": {"input": "AA=="},
    }
    key_of = {"sign": "scope-sig", "verify": "scope-sig", "hmac": "scope-mac"}
    nobody = t.headers("users:me")
    only_admin = t.headers("transit:admin")
    for op, body in bodies.items():
        name = key_of.get(op, "scope-enc")
        for headers in (nobody, only_admin, t.headers(f"transit:{op}:scope-other")):
            r = t.post(f"/v1/keys/{name}/{op}", body, headers)
            assert r.status_code == 403, (op, r.text)
            assert r.json() == {
                "error": "insufficient_scope",
                "message": f"this needs the scope transit:{op}:{name}",
            }
            assert f'scope="transit:{op}:{name}"' in r.headers["www-authenticate"]
        # The exact scope and the wildcard both work.
        for scope in (f"transit:{op}:{name}", f"transit:{op}:*"):
            r = t.post(f"/v1/keys/{name}/{op}", body, t.headers(scope))
            assert r.status_code == 200, (scope, r.text)
    # No existence oracle: without the scope, a missing key is 403 too.
    assert t.post("/v1/keys/scope-missing/encrypt", bodies["encrypt"], nobody).status_code == 403
    # Key management needs transit:admin; reading one key also transit:read:<name>.
    encrypt_all = t.headers("transit:encrypt:*")
    assert t.post("/v1/keys/scope-new", {}, encrypt_all).status_code == 403
    assert t.client.get("/v1/keys", headers=encrypt_all).status_code == 403
    assert t.post("/v1/keys/scope-enc/rotate", None, encrypt_all).status_code == 403
    assert t.client.patch("/v1/keys/scope-enc", json={}, headers=encrypt_all).status_code == 403
    assert t.client.delete("/v1/keys/scope-enc", headers=encrypt_all).status_code == 403
    assert t.client.get("/v1/keys/scope-enc", headers=encrypt_all).status_code == 403
    reader = t.headers("transit:read:scope-enc")
    assert t.client.get("/v1/keys/scope-enc", headers=reader).status_code == 200
    assert t.client.get("/v1/keys/scope-sig", headers=reader).status_code == 403
    outcomes = {(r["event"], r["outcome"]) for r in _own_records(t, "scope-enc")}
    assert ("transit.encrypt", "denied") in outcomes


def test_export_only_when_exportable_and_allowed(shared_transit: Transit, shared_admin) -> None:
    t = shared_transit
    admin = shared_admin
    t.post("/v1/keys/x", {"type": "aes256-gcm"}, admin)
    t.post("/v1/keys/x/rotate", None, admin)
    exporter = t.headers("transit:export:x")
    assert t.client.get("/v1/keys/x/export", headers=admin).status_code == 403
    r = t.client.get("/v1/keys/x/export", headers=exporter)
    assert r.status_code == 403 and r.json()["error"] == "not_exportable"
    t.client.patch("/v1/keys/x", json={"exportable": True}, headers=admin)
    exported = t.client.get("/v1/keys/x/export", headers=exporter).json()
    material = key_material(t.settings, "x")
    assert exported == {
        "name": "x",
        "type": "aes256-gcm",
        "keys": {str(v): b64(raw) for v, raw in material.items()},
    }
    r = t.client.get("/v1/keys/x/export", params={"version": 2}, headers=exporter)
    assert list(r.json()["keys"]) == ["2"]
    assert t.client.get("/v1/keys/x/export?version=3", headers=exporter).status_code == 400
    # Below min_decryption_version, versions are no longer exported.
    t.client.patch("/v1/keys/x", json={"min_decryption_version": 2}, headers=admin)
    assert list(t.client.get("/v1/keys/x/export", headers=exporter).json()["keys"]) == ["2"]
    # An exported signing key is its PKCS#8 PEM; exportable can be set at creation.
    t.post("/v1/keys/ed", {"type": "ed25519", "exportable": True}, admin)
    r = t.client.get("/v1/keys/ed/export", headers=t.headers("transit:export:*"))
    assert r.json()["keys"]["1"].startswith("-----BEGIN PRIVATE KEY-----")
    exports = [r["detail"] for r in _own_records(t, "x", "ed") if r["event"] == "transit.export"]
    assert "key=x versions=2" in exports and "key=ed versions=1" in exports


# -- no secret in any answer, log or error ------------------------------------------------


def test_canaries_key_material_and_plaintext_never_leave(
    shared_transit: Transit, shared_admin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    t = shared_transit
    admin = shared_admin
    seen: list[str] = []
    t.client.event_hooks["response"].append(lambda r: seen.append(r.read().decode()))
    canary = b"canary-plaintext-7f3a9c"
    types = [
        "aes256-gcm",
        "chacha20-poly1305",
        "aes256-siv",
        "hmac",
        "ed25519",
        "ecdsa-p256",
        "rsa-3072",
    ]
    for key_type in types:
        name = f"c-{key_type}"
        t.post(f"/v1/keys/{name}", {"type": key_type}, admin)
        t.post(f"/v1/keys/{name}/rotate", None, admin)
        t.client.get(f"/v1/keys/{name}", headers=admin)
        for op in OPERATIONS:
            body = {"plaintext": b64(canary), "input": b64(canary), "ciphertext": "sealbox:v1:AAAA"}
            fields = {
                "encrypt": ["plaintext"],
                "decrypt": ["ciphertext"],
                "rewrap": ["ciphertext"],
                "datakey": [],
                "sign": ["input"],
                "hmac": ["input"],
                "verify": ["input"],
            }[op]
            t.post(f"/v1/keys/{name}/{op}", {f: body[f] for f in fields}, admin)
            t.post(
                f"/v1/keys/{name}/{op}",
                {"bogus": b64(canary), **{f: body[f] for f in fields}},
                admin,
            )
        t.client.get(f"/v1/keys/{name}/export", headers=t.headers(f"transit:export:{name}"))
        t.post(f"/v1/keys/{name}/encrypt", {"plaintext": b64(canary)}, t.headers("users:me"))
    t.post("/v1/keys/c-aes256-gcm/encrypt", {"plaintext": b64(canary), "key_version": 9}, admin)
    t.post("/v1/keys/c-aes256-gcm/encrypt", {"plaintext": 12345}, admin)
    answers = "\n".join(seen)
    logs = caplog.text + "\n" + t.audit()
    assert "transit.encrypt" in logs and len(seen) > 100
    assert any(r["event"] == "transit.encrypt" for r in _own_records(t, "c-aes256-gcm"))
    for text in (answers, logs):
        for key_type in types:
            for version, raw in key_material(t.settings, f"c-{key_type}").items():
                for form in material_forms(raw):
                    assert form not in text, (key_type, version)
        assert "PRIVATE KEY" not in text
    for text in (logs, answers.replace(b64(canary), "")):
        assert canary.decode() not in text and b64(canary) not in text
        assert canary.hex() not in text


def test_audit_records_every_operation_without_data(shared_transit: Transit, shared_admin) -> None:
    t = shared_transit
    admin = shared_admin
    t.post("/v1/keys/audited", {}, admin)
    secret = b64(b"audited secret")
    ct = t.post("/v1/keys/audited/encrypt", {"plaintext": secret}, admin).json()["ciphertext"]
    t.post("/v1/keys/audited/decrypt", {"ciphertext": ct}, admin)
    t.post("/v1/keys/audited/rotate", None, admin)
    t.post("/v1/keys/audited/rewrap", {"ciphertext": ct}, admin)
    t.post(
        "/v1/keys/audited/encrypt",
        {"batch_input": [{"plaintext": "AA=="}, {"plaintext": "!"}]},
        admin,
    )
    t.post("/v1/keys/audited/decrypt", {"batch_input": [{"ciphertext": ct}] * 3}, admin)
    t.post("/v1/keys/audited/decrypt", {"ciphertext": ct + "x"}, admin)
    t.post("/v1/keys/audited-missing/decrypt", {"ciphertext": ct}, admin)
    t.post("/v1/keys/audited/encrypt", {"plaintext": secret}, t.headers("users:me"))
    records = _own_records(t, "audited", "audited-missing")
    summary = [(r["event"], r["outcome"], r.get("detail")) for r in records]
    assert summary == [
        ("transit.create", "success", "key=audited type=aes256-gcm"),
        ("transit.encrypt", "success", "key=audited version=1"),
        ("transit.decrypt", "success", "key=audited version=1"),
        ("transit.rotate", "success", "key=audited version=2"),
        ("transit.rewrap", "success", "key=audited version=2 from=1"),
        ("transit.encrypt", "partial", "key=audited items=2 failed=1 versions=2"),
        ("transit.decrypt", "success", "key=audited items=3 failed=0 versions=1"),
        ("transit.decrypt", "failure", "key=audited error=invalid_ciphertext"),
        ("transit.decrypt", "failure", "key=audited-missing error=not_found"),
        ("transit.encrypt", "denied", "key=audited"),
    ]
    assert all(r["user"].startswith("user") and r["address"] == "127.0.0.1" for r in records)
    assert "audited secret" not in t.audit() and secret not in t.audit() and ct not in t.audit()


def test_refused_requests_of_a_known_caller_are_audited_too(
    shared_transit: Transit, shared_admin
) -> None:
    t = shared_transit
    admin = shared_admin
    t.post("/v1/keys/refused", {}, admin)
    t.post("/v1/keys/refused-mac", {"type": "hmac"}, admin)
    too_many = [{"plaintext": "AA=="}] * (t.settings.transit_max_batch + 1)
    refusals = [
        ("refused/encrypt", {"batch_input": []}, 400),
        ("refused/encrypt", {"plaintext": "AA==", "batch_input": [{"plaintext": "AA=="}]}, 400),
        ("refused/encrypt", {"batch_input": too_many}, 413),
        ("refused/decrypt", {"batch_input": [{"ciphertext": 5}]}, 422),
        ("refused/encrypt", {"plaintext": "AA==", "key_version": "two"}, 422),
        ("refused-mac/hmac", {"input": "AA==", "algorithm": "md5"}, 400),
    ]
    for path, body, status in refusals:
        assert t.post(f"/v1/keys/{path}", body, admin).status_code == status, path
    r = t.client.post(
        "/v1/keys/refused/encrypt",
        content=b"{not json",
        headers={**admin, "content-type": "application/json"},
    )
    assert r.status_code == 422
    # A stranger's refused body leaves no record: there is no caller to write.
    stranger = {"Authorization": "Bearer not-a-token"}
    assert t.post("/v1/keys/refused/encrypt", {"plaintext": 5}, stranger).status_code in (401, 422)
    records = _own_records(t, "refused", "refused-mac")
    summary = [(r["event"], r["outcome"], r.get("detail")) for r in records[2:]]
    assert summary == [
        ("transit.encrypt", "failure", "key=refused error=invalid_request"),
        ("transit.encrypt", "failure", "key=refused error=invalid_request"),
        ("transit.encrypt", "failure", "key=refused error=batch_too_large"),
        ("transit.decrypt", "failure", "key=refused error=validation_error"),
        ("transit.encrypt", "failure", "key=refused error=validation_error"),
        ("transit.hmac", "failure", "key=refused-mac error=unsupported_algorithm"),
        ("transit.encrypt", "failure", "key=refused error=validation_error"),
    ]
    assert all(r["user"].startswith("user") for r in records)


# -- the fast path and FastAPI's routes answer alike --------------------------------------


def _script(client, headers) -> list[tuple[int, object]]:
    """Requests whose answers do not depend on randomness; each answer reduced to a shape."""
    out: list[tuple[int, object]] = []

    def call(path, body):
        r = client.post(path, json=body, headers=headers)
        data = r.json()
        if "batch_results" in data:
            data = {**data, "batch_results": [sorted(x) for x in data["batch_results"]]}
        elif r.status_code == 200:
            data = sorted(data)
        out.append((r.status_code, data))
        return r

    client.post("/v1/keys/siv", json={"type": "aes256-siv"}, headers=headers)
    client.post("/v1/keys/sig", json={"type": "ecdsa-p256"}, headers=headers)
    ct = call("/v1/keys/siv/encrypt", {"plaintext": "AAEC", "associated_data": "AA=="}).json()
    call("/v1/keys/siv/decrypt", {"ciphertext": ct["ciphertext"], "associated_data": "AA=="})
    call("/v1/keys/siv/decrypt", {"ciphertext": ct["ciphertext"]})
    call("/v1/keys/siv/rewrap", {"ciphertext": ct["ciphertext"], "associated_data": "AA=="})
    call(
        "/v1/keys/siv/encrypt",
        {
            "batch_input": [{"plaintext": "AA=="}, {"plaintext": "?"}],
            "partial_failure_response_code": 299,
        },
    )
    call("/v1/keys/siv/encrypt", {})
    call("/v1/keys/siv/encrypt", {"plaintext": 5})
    call("/v1/keys/siv/datakey", {"type": "plaintext"})
    call("/v1/keys/siv/sign", {"input": "AA=="})
    call("/v1/keys/nope/encrypt", {"plaintext": "AA=="})
    sig = call("/v1/keys/sig/sign", {"input": "AA=="}).json()
    call("/v1/keys/sig/verify", {"input": "AA==", "signature": "sealbox:v1:AAAA"})
    call("/v1/keys/sig/verify", {"input": "AA==", "signature": "sealbox:v7:AAAA"})
    call("/v1/keys/sig/hmac", {"input": "AA=="})
    assert sig
    r = client.post("/v1/keys/siv/encrypt", json={"plaintext": "AA=="})
    out.append((r.status_code, r.json()))
    return out


def test_fast_path_and_fastapi_routes_answer_alike(tmp_path: Path) -> None:
    from tests.service._transit import add_user
    from tests.service.conftest import bearer, login

    answers = []
    for fast in (True, False):
        settings = make_settings(tmp_path / f"data-{fast}")
        with run_service(settings, transit_fast_path=fast) as service, service.client() as c:
            add_user(settings, "script", list(ALL_SCOPES))
            headers = bearer(login(c, "script").json()["access_token"])
            answers.append(_script(c, headers))
    assert answers[0] == answers[1]
    assert [status for status, _ in answers[0]] == [
        200,
        200,
        400,
        200,
        299,
        400,
        422,
        200,
        400,
        404,
        200,
        200,
        400,
        400,
        401,
    ]


def test_unknown_paths_and_methods_fall_through(shared_transit: Transit, shared_admin) -> None:
    t = shared_transit
    admin = shared_admin
    t.post("/v1/keys/paths", {}, admin)
    assert t.post("/v1/keys/paths/encryptx", {"plaintext": "AA=="}, admin).status_code in (404, 405)
    assert t.client.get("/v1/keys/paths/encrypt", headers=admin).status_code == 405
    assert t.post("/v1/keys/paths/encrypt/more", {}, admin).status_code == 404
    r = t.post("/v1/keys/-bad/encrypt", {"plaintext": "AA=="}, admin)
    assert r.status_code == 422 and r.json()["details"][0]["loc"] == ["path", "name"]
    # The fields of an answer are not request fields: key_version is refused, not ignored.
    answer = t.post("/v1/keys/paths/encrypt", {"plaintext": "aGk="}, admin).json()
    assert t.post("/v1/keys/paths/decrypt", answer, admin).status_code == 422
    r = t.post("/v1/keys/paths/decrypt", {"ciphertext": answer["ciphertext"]}, admin)
    assert base64.b64decode(r.json()["plaintext"]) == b"hi"


def test_the_python_example_of_the_guide_runs(
    shared_transit: Transit, shared_admin, monkeypatch
) -> None:
    import re

    from tests.conftest import ROOT

    guide = (ROOT / "docs" / "transit.md").read_text()
    example = re.search(r"```python\n(.*?)\n```", guide, re.DOTALL)[1]
    transit, admin = shared_transit, shared_admin
    example = example.replace(".sealbox/tls/ca.crt", str(transit.service.ca))
    transit, admin = shared_transit, shared_admin
    example = example.replace("https://localhost:8443", transit.service.url)
    transit.post("/v1/keys/orders", {}, admin)
    token = transit.headers("transit:encrypt:orders", "transit:decrypt:orders")
    monkeypatch.setenv("SEALBOX_TOKEN", token["Authorization"].removeprefix("Bearer "))
    exec(example, {})
