"""Vault Transit's wire protocol on ``sealbox serve``, driven by the real hvac client (and
curl for the raw shapes), on SQLite and on PostgreSQL with Redis.

Most tests share one service per backend for the module (``module_service``) and use key
names no other test of the module uses (a parametrized test's names hold its case); a
test that lists every key, or reads the whole audit log, has a service of its own.
"""

from __future__ import annotations

import base64
import json

import hvac
import hvac.exceptions as hx
import pytest

from tests.service._transit import ALL_SCOPES, b64, unb64
from tests.service._vault import curl, data_of, hvac_client, token_for
from tests.service.conftest import Running

SCOPES = (*ALL_SCOPES, "transit:export:*")


@pytest.fixture
def admin_token(service) -> str:
    return token_for(service, *SCOPES)


@pytest.fixture
def vault(service, admin_token) -> hvac.Client:
    return hvac_client(service, admin_token)


@pytest.fixture(scope="module")
def shared_token(module_service: Running) -> str:
    return token_for(module_service, *SCOPES)


@pytest.fixture
def shared_vault(module_service: Running, shared_token: str) -> hvac.Client:
    return hvac_client(module_service, shared_token)


def create(vault: hvac.Client, name: str, key_type: str) -> None:
    """Create a key through hvac's adapter (hvac's create_key does not know ``hmac``)."""
    vault.adapter.post(f"/v1/transit/keys/{name}", json={"type": key_type})


def test_hvac_drives_a_key_through_its_life(vault: hvac.Client) -> None:
    t = vault.secrets.transit
    created = t.create_key(name="orders")["data"]
    assert created["type"] == "aes256-gcm96"
    assert created["latest_version"] == 1
    assert isinstance(created["keys"]["1"], int)

    ciphertext = t.encrypt_data(name="orders", plaintext=b64(b"card 4111"))["data"]
    assert ciphertext["ciphertext"].startswith("vault:v1:")
    assert ciphertext["key_version"] == 1
    opened = t.decrypt_data(name="orders", ciphertext=ciphertext["ciphertext"])
    assert unb64(opened["data"]["plaintext"]) == b"card 4111"

    assert t.rotate_key(name="orders")["data"]["latest_version"] == 2
    rewrapped = t.rewrap_data(name="orders", ciphertext=ciphertext["ciphertext"])["data"]
    assert rewrapped["ciphertext"].startswith("vault:v2:")
    assert rewrapped["key_version"] == 2
    assert t.list_keys()["data"]["keys"] == ["orders"]

    configured = t.update_key_configuration(
        name="orders", min_decryption_version=2, deletion_allowed=True
    )["data"]
    assert configured["min_decryption_version"] == 2
    assert configured["deletion_allowed"] is True
    with pytest.raises(hx.InvalidRequest) as too_old:
        t.decrypt_data(name="orders", ciphertext=ciphertext["ciphertext"])
    assert "disallowed by policy (too old)" in str(too_old.value)
    assert unb64(
        t.decrypt_data(name="orders", ciphertext=rewrapped["ciphertext"])["data"]["plaintext"]
    ) == (b"card 4111")

    assert t.delete_key(name="orders").status_code == 204
    with pytest.raises(hx.InvalidPath):
        t.read_key(name="orders")


def test_a_key_refuses_deletion_until_allowed(shared_vault: hvac.Client) -> None:
    vault = shared_vault
    vault.secrets.transit.create_key(name="kept")
    with pytest.raises(hx.InvalidRequest, match="deletion is not allowed"):
        vault.secrets.transit.delete_key(name="kept")


def test_creating_an_existing_key_answers_it_with_a_warning(shared_vault: hvac.Client) -> None:
    vault = shared_vault
    first = vault.secrets.transit.create_key(name="twice")
    again = vault.secrets.transit.create_key(name="twice")
    assert again["data"] == first["data"]
    assert again["warnings"] == ["key twice already existed"]


def test_native_and_vault_shaped_ciphertexts_open_each_other(
    module_service: Running, shared_vault: hvac.Client, shared_token: str
) -> None:
    service, vault, admin_token = module_service, shared_vault, shared_token
    vault.secrets.transit.create_key(name="both")
    headers = {"Authorization": f"Bearer {admin_token}"}
    with service.client() as native:
        made = native.post(
            "/v1/keys/both/encrypt", json={"plaintext": b64(b"native")}, headers=headers
        ).json()["ciphertext"]
        assert made.startswith("sealbox:v1:")
        opened = vault.secrets.transit.decrypt_data(name="both", ciphertext=made)
        assert unb64(opened["data"]["plaintext"]) == b"native"

        shaped = vault.secrets.transit.encrypt_data(name="both", plaintext=b64(b"vault"))
        answer = native.post(
            "/v1/keys/both/decrypt",
            json={"ciphertext": shaped["data"]["ciphertext"]},
            headers=headers,
        )
    assert answer.status_code == 200
    assert unb64(answer.json()["plaintext"]) == b"vault"


def test_batches_answer_every_item_in_order(shared_vault: hvac.Client) -> None:
    vault = shared_vault
    t = vault.secrets.transit
    t.create_key(name="batch", key_type="chacha20-poly1305")
    items = [{"plaintext": b64(b"one")}, {"plaintext": b64(b"two"), "reference": "r2"}]
    sealed = t.encrypt_data(name="batch", plaintext=None, batch_input=items)["data"]
    results = sealed["batch_results"]
    assert [r["key_version"] for r in results] == [1, 1]
    assert results[1]["reference"] == "r2"
    assert all(r["ciphertext"].startswith("vault:v1:") for r in results)

    opened = t.decrypt_data(
        name="batch",
        ciphertext=None,
        batch_input=[{"ciphertext": r["ciphertext"]} for r in results],
    )["data"]["batch_results"]
    assert [unb64(r["plaintext"]) for r in opened] == [b"one", b"two"]

    with pytest.raises(hx.InvalidRequest) as failed:
        t.decrypt_data(
            name="batch",
            ciphertext=None,
            batch_input=[{"ciphertext": results[0]["ciphertext"]}, {"ciphertext": "vault:v1:AAAA"}],
        )
    answer = failed.value.json["data"]["batch_results"]
    assert unb64(answer[0]["plaintext"]) == b"one"
    assert answer[1] == {"error": "cipher: message authentication failed"}


def test_datakeys_come_wrapped_or_with_their_plaintext(shared_vault: hvac.Client) -> None:
    vault = shared_vault
    t = vault.secrets.transit
    t.create_key(name="dk")
    both = t.generate_data_key(name="dk", key_type="plaintext", bits=512)["data"]
    assert len(base64.b64decode(both["plaintext"])) == 64
    opened = t.decrypt_data(name="dk", ciphertext=both["ciphertext"])["data"]["plaintext"]
    assert opened == both["plaintext"]
    wrapped = t.generate_data_key(name="dk", key_type="wrapped")["data"]
    assert "plaintext" not in wrapped
    assert wrapped["ciphertext"].startswith("vault:v1:")


@pytest.mark.parametrize("key_type", ["aes256-gcm96", "ed25519", "hmac"])
def test_hmac_works_with_any_key_type_and_verifies(
    shared_vault: hvac.Client, key_type: str
) -> None:
    vault = shared_vault
    t = vault.secrets.transit
    name = f"mac-{key_type}"
    create(vault, name, key_type)
    tag = t.generate_hmac(name=name, hash_input=b64(b"payload"))["data"]["hmac"]
    assert tag.startswith("vault:v1:")
    assert t.verify_signed_data(name=name, hash_input=b64(b"payload"), hmac=tag)["data"]["valid"]
    assert not t.verify_signed_data(name=name, hash_input=b64(b"other"), hmac=tag)["data"]["valid"]
    t.rotate_key(name=name)
    newer = t.generate_hmac(name=name, hash_input=b64(b"payload"))["data"]["hmac"]
    assert newer.startswith("vault:v2:")
    assert newer != tag.replace("vault:v1:", "vault:v2:")
    assert t.verify_signed_data(name=name, hash_input=b64(b"payload"), hmac=tag)["data"]["valid"]


def test_an_hmac_keys_tag_is_the_same_on_both_routes(
    module_service: Running, shared_vault: hvac.Client, shared_token: str
) -> None:
    service, vault, admin_token = module_service, shared_vault, shared_token
    create(vault, "same", "hmac")
    shaped = vault.secrets.transit.generate_hmac(name="same", hash_input=b64(b"m"))
    with service.client() as native:
        made = native.post(
            "/v1/keys/same/hmac",
            json={"input": b64(b"m")},
            headers={"Authorization": f"Bearer {admin_token}"},
        ).json()["hmac"]
    assert shaped["data"]["hmac"] == made.replace("sealbox:v", "vault:v")


@pytest.mark.parametrize("key_type", ["ed25519", "ecdsa-p256"])
def test_sign_and_verify(shared_vault: hvac.Client, key_type: str) -> None:
    vault = shared_vault
    t = vault.secrets.transit
    name = f"signer-{key_type}"
    t.create_key(name=name, key_type=key_type)
    read = t.read_key(name=name)["data"]
    assert read["supports_signing"] is True
    assert read["keys"]["1"]["public_key"]
    signed = t.sign_data(name=name, hash_input=b64(b"release 1.0"))["data"]
    assert signed["signature"].startswith("vault:v1:")
    assert signed["key_version"] == 1
    good = t.verify_signed_data(
        name=name, hash_input=b64(b"release 1.0"), signature=signed["signature"]
    )
    assert good["data"]["valid"] is True
    bad = t.verify_signed_data(
        name=name, hash_input=b64(b"release 2.0"), signature=signed["signature"]
    )
    assert bad["data"]["valid"] is False


def test_export_answers_an_exportable_keys_material(shared_vault: hvac.Client) -> None:
    vault = shared_vault
    t = vault.secrets.transit
    t.create_key(name="out", exportable=True)
    exported = t.export_key(name="out", key_type="encryption-key", version="latest")["data"]
    assert exported["type"] == "aes256-gcm96"
    assert len(base64.b64decode(exported["keys"]["1"])) == 32
    with pytest.raises(hx.InvalidRequest):
        t.export_key(name="out", key_type="signing-key")
    t.create_key(name="inside")
    with pytest.raises(hx.InvalidRequest, match="not exportable"):
        t.export_key(name="inside", key_type="encryption-key")


def test_encrypt_creates_a_missing_key_only_for_a_caller_who_may(
    module_service: Running, shared_vault: hvac.Client
) -> None:
    service, vault = module_service, shared_vault
    t = vault.secrets.transit
    assert t.encrypt_data(name="fresh", plaintext=b64(b"x"))["data"]["key_version"] == 1
    assert t.read_key(name="fresh")["data"]["type"] == "aes256-gcm96"
    user = hvac_client(service, token_for(service, "transit:encrypt:*"))
    # Vault's create capability, which this token lacks: 403, as Vault answers it.
    with pytest.raises(hx.Forbidden, match="permission denied"):
        user.secrets.transit.encrypt_data(name="other", plaintext=b64(b"x"))


def test_scopes_decide_as_on_the_native_routes(service, vault) -> None:
    vault.secrets.transit.create_key(name="scoped")
    user = hvac_client(service, token_for(service, "transit:encrypt:scoped"))
    sealed = user.secrets.transit.encrypt_data(name="scoped", plaintext=b64(b"x"))
    with pytest.raises(hx.Forbidden):
        user.secrets.transit.decrypt_data(name="scoped", ciphertext=sealed["data"]["ciphertext"])
    with pytest.raises(hx.Forbidden):
        user.secrets.transit.list_keys()
    assert '"event": "transit.decrypt", "outcome": "denied"' in service.audit()


def test_bad_and_missing_tokens_get_vaults_403(module_service: Running) -> None:
    service = module_service
    for token in ("not-a-token", None):
        status, body = curl(service, "POST", "/v1/transit/encrypt/k", token, {"plaintext": ""})
        assert (status, body) == (403, {"errors": ["permission denied"]})
    assert hvac_client(service, "not-a-token").is_authenticated() is False


def test_raw_shapes_over_curl(service, admin_token) -> None:
    status, body = curl(service, "GET", "/v1/transit/keys/none", admin_token)
    assert (status, body) == (404, {"errors": []})
    status, body = curl(service, "LIST", "/v1/transit/keys", admin_token)
    assert (status, body) == (404, {"errors": []})
    status, body = curl(service, "POST", "/v1/transit/keys/k", admin_token, {})
    assert status == 200
    assert data_of(body)["name"] == "k"
    status, body = curl(service, "LIST", "/v1/transit/keys", admin_token)
    assert (status, data_of(body)) == (200, {"keys": ["k"]})
    status, body = curl(service, "GET", "/v1/transit/keys?list=true", admin_token)
    assert (status, data_of(body)) == (200, {"keys": ["k"]})

    status, body = curl(
        service, "POST", "/v1/transit/encrypt/k", admin_token, {"plaintext": b64(b"p")}
    )
    assert status == 200
    assert set(data_of(body)) == {"ciphertext", "key_version"}
    ciphertext = body["data"]["ciphertext"]
    tampered = ciphertext[:-4] + ("AAAA" if not ciphertext.endswith("AAAA") else "BBBB")
    status, body = curl(
        service, "POST", "/v1/transit/decrypt/k", admin_token, {"ciphertext": tampered}
    )
    assert (status, body) == (400, {"errors": ["cipher: message authentication failed"]})
    status, body = curl(
        service, "POST", "/v1/transit/decrypt/gone", admin_token, {"ciphertext": ciphertext}
    )
    assert (status, body) == (400, {"errors": ["encryption key not found"]})
    status, body = curl(
        service,
        "POST",
        "/v1/transit/encrypt/k",
        admin_token,
        {"plaintext": b64(b"p"), "context": b64(b"tenant")},
    )
    assert (status, body) == (400, {"errors": ["key derivation (context) is not supported"]})
    status, body = curl(service, "POST", "/v1/transit/encrypt/k", admin_token, {"plaintxt": "x"})
    assert status == 400
    assert body["errors"] and all("plaintxt" in e or "plaintext" in e for e in body["errors"])
    status, body = curl(service, "GET", "/v1/transit/nowhere", admin_token)
    assert status == 404
    assert set(body) == {"errors"}


def test_no_plaintext_or_token_reaches_the_audit_log_or_answers(service, vault, admin_token):
    canary = b"canary-vault-plaintext-7f3a"
    t = vault.secrets.transit
    t.create_key(name="canary")
    sealed = t.encrypt_data(name="canary", plaintext=b64(canary))["data"]["ciphertext"]
    t.decrypt_data(name="canary", ciphertext=sealed)
    lookup = vault.auth.token.lookup_self()
    renewed = vault.auth.token.renew_self()
    audit = service.audit()
    for text in (b64(canary), canary.decode(), admin_token):
        assert text not in audit
        assert text not in str(lookup)
        assert text not in str(renewed)
    assert '"event": "transit.encrypt", "outcome": "success"' in audit


@pytest.mark.parametrize("key_type", ["ed25519", "hmac", "ecdsa-p256"])
def test_an_encrypt_naming_a_type_that_cannot_encrypt_creates_no_key(
    module_service: Running, shared_token: str, key_type: str
) -> None:
    service, admin_token = module_service, shared_token
    name = f"never-{key_type}"
    status, body = curl(
        service,
        "POST",
        f"/v1/transit/encrypt/{name}",
        admin_token,
        {"plaintext": b64(b"x"), "type": key_type},
    )
    assert (status, body) == (
        400,
        {"errors": [f"key type {key_type} not supported for this operation"]},
    )
    status, _ = curl(service, "GET", f"/v1/transit/keys/{name}", admin_token)
    assert status == 404
    # A type that encrypts is still made on the first encrypt.
    status, body = curl(
        service,
        "POST",
        f"/v1/transit/encrypt/{name}-ok",
        admin_token,
        {"plaintext": b64(b"x"), "type": "chacha20-poly1305"},
    )
    assert status == 200 and body["data"]["ciphertext"].startswith("vault:v1:")


def test_a_malformed_ciphertext_is_described_in_vaults_form(
    module_service: Running, shared_token: str
) -> None:
    service, admin_token = module_service, shared_token
    curl(service, "POST", "/v1/transit/keys/shape", admin_token, {})
    status, body = curl(
        service, "POST", "/v1/transit/decrypt/shape", admin_token, {"ciphertext": "garbage"}
    )
    assert status == 400
    assert body["errors"] == [
        "invalid ciphertext: the ciphertext is not in the form vault:v<N>:<base64>"
    ]
    status, body = curl(
        service,
        "POST",
        "/v1/transit/decrypt/shape",
        admin_token,
        {"batch_input": [{"ciphertext": "garbage"}]},
    )
    assert status == 400
    assert body["data"]["batch_results"][0]["error"] == (
        "invalid ciphertext: the ciphertext is not in the form vault:v<N>:<base64>"
    )


def test_a_batch_takes_its_key_version_from_the_items_as_vault_does(
    shared_vault: hvac.Client,
) -> None:
    vault = shared_vault
    t = vault.secrets.transit
    t.create_key(name="per-item")
    t.rotate_key(name="per-item")
    t.rotate_key(name="per-item")
    pinned = t.encrypt_data(
        name="per-item",
        batch_input=[{"plaintext": b64(b"a"), "key_version": 1}] * 2,
    )["data"]["batch_results"]
    assert [r["ciphertext"][:9] for r in pinned] == ["vault:v1:"] * 2
    # Beside a batch, the request's own key_version is not read (Vault reads the items').
    latest = t.encrypt_data(name="per-item", batch_input=[{"plaintext": b64(b"a")}], key_version=1)[
        "data"
    ]["batch_results"]
    assert latest[0]["ciphertext"].startswith("vault:v3:")
    rewrapped = t.rewrap_data(
        name="per-item",
        ciphertext=None,  # hvac's signature asks for it; a batch goes without
        batch_input=[{"ciphertext": r["ciphertext"], "key_version": 2} for r in pinned],
    )["data"]["batch_results"]
    assert [r["ciphertext"][:9] for r in rewrapped] == ["vault:v2:"] * 2
    # Items asking for different versions each get theirs, in input order.
    mixed = t.encrypt_data(
        name="per-item",
        batch_input=[
            {"plaintext": b64(b"a"), "key_version": 2, "reference": "a"},
            {"plaintext": b64(b"b")},
            {"plaintext": b64(b"c"), "key_version": 1, "reference": "c"},
            {"plaintext": b64(b"d"), "key_version": 2, "reference": "d"},
        ],
    )["data"]["batch_results"]
    assert [r["ciphertext"][:9] for r in mixed] == [
        "vault:v2:",
        "vault:v3:",
        "vault:v1:",
        "vault:v2:",
    ]
    assert [r.get("reference") for r in mixed] == ["a", None, "c", "d"]
    opened = t.decrypt_data(
        name="per-item",
        ciphertext=None,
        batch_input=[{"ciphertext": r["ciphertext"]} for r in mixed],
    )["data"]["batch_results"]
    assert [unb64(r["plaintext"]) for r in opened] == [b"a", b"b", b"c", b"d"]
    rewrapped = t.rewrap_data(
        name="per-item",
        ciphertext=None,
        batch_input=[
            {"ciphertext": mixed[2]["ciphertext"], "key_version": 2},
            {"ciphertext": mixed[0]["ciphertext"]},
        ],
    )["data"]["batch_results"]
    assert [r["ciphertext"][:9] for r in rewrapped] == ["vault:v2:", "vault:v3:"]


def test_a_mixed_version_batch_answers_as_one_batch(
    module_service: Running, shared_token: str
) -> None:
    service, admin_token = module_service, shared_token
    t = hvac_client(service, admin_token).secrets.transit
    t.create_key(name="mixed")
    t.rotate_key(name="mixed")
    t.update_key_configuration(name="mixed", min_encryption_version=2)
    batch = [
        {"plaintext": b64(b"old"), "key_version": 1},  # below min_encryption_version
        {"plaintext": b64(b"new"), "key_version": 2},
    ]
    status, body = curl(
        service, "POST", "/v1/transit/encrypt/mixed", admin_token, {"batch_input": batch}
    )
    results = body["data"]["batch_results"]
    assert (
        status == 400 and "error" in results[0] and results[1]["ciphertext"].startswith("vault:v2:")
    )
    status, body = curl(
        service,
        "POST",
        "/v1/transit/encrypt/mixed",
        admin_token,
        {"batch_input": batch, "partial_failure_response_code": 207},
    )
    assert status == 207 and len(body["data"]["batch_results"]) == 2
    # The batch limit counts the whole batch, not each version's part.
    limit = service.settings.transit_max_batch
    answers = []
    with service.client() as c:
        for versions in ((2,), (1, 2)):  # one version, and two: the same refusal
            too_many = [
                {"plaintext": "", "key_version": versions[i % len(versions)]}
                for i in range(limit + 1)
            ]
            answer = c.post(
                "/v1/transit/encrypt/mixed",
                json={"batch_input": too_many},
                headers={"X-Vault-Token": admin_token},
            )
            answers.append((answer.status_code, answer.json()))
    assert answers == [(400, {"errors": [f"batch_input has more than {limit} items"]})] * 2


@pytest.mark.parametrize(
    "path", ["encrypt/k", "decrypt/k", "rewrap/k", "sign/k", "hmac/k", "datakey/plaintext/k"]
)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_an_operation_path_by_another_method_is_405(
    module_service: Running, shared_token: str, path: str, method: str
) -> None:
    service, admin_token = module_service, shared_token
    status, body = curl(service, method, f"/v1/transit/{path}", admin_token)
    assert (status, body) == (405, {"errors": ["unsupported operation"]})


def test_a_body_past_the_limit_is_refused_in_vaults_shape(
    module_service: Running, shared_token: str
) -> None:
    service, admin_token = module_service, shared_token
    # Over the 64 KiB limit of the KV routes; the connection closes after the answer.
    status, body = curl(
        service, "POST", "/v1/secret/data/big", admin_token, {"data": {"v": "x" * 70_000}}
    )
    assert status == 413
    assert body == {"errors": ["the request body is larger than 65536 bytes"]}


def test_a_key_name_with_a_final_newline_is_refused_on_every_route(service, admin_token) -> None:
    # Python's "$" matches before a final newline: a name checked with it let
    # "evil\n" (sent as evil%0A) be created through the Vault routes.
    for method, path, body in (
        ("POST", "/v1/transit/keys/evil%0A", {}),
        ("POST", "/v1/transit/encrypt/evil%0A", {"plaintext": b64(b"p")}),
        ("POST", "/v1/transit/keys/evil%0A/rotate", {}),
    ):
        status, answer = curl(service, method, path, admin_token, body)
        assert (status, answer) == (400, {"errors": ["invalid key name"]}), path
    with service.client() as c:
        headers = {"Authorization": f"Bearer {admin_token}"}
        answer = c.post("/v1/keys/evil%0A/encrypt", json={"plaintext": b64(b"p")}, headers=headers)
        assert answer.status_code in (404, 422), answer.text
        assert c.get("/v1/keys", headers=headers).json()["keys"] == []


def test_vault_requests_refused_for_their_shape_are_audited(service, vault, admin_token) -> None:
    create(vault, "shaped", "aes256-gcm96")
    limit = service.settings.transit_max_batch
    with service.client() as c:
        for body in (
            {"plaintext": 5},  # the model refuses it
            {"batch_input": [{"plaintext": ""}] * (limit + 1)},
            {"batch_input": []},
        ):
            r = c.post(
                "/v1/transit/encrypt/shaped", json=body, headers={"X-Vault-Token": admin_token}
            )
            assert r.status_code == 400, body
    records = [
        (r["event"], r["outcome"], r.get("detail"))
        for r in map(json.loads, service.audit().splitlines())
        if r["event"] == "transit.encrypt"
    ]
    assert records == [
        ("transit.encrypt", "failure", "key=shaped error=validation_error"),
        ("transit.encrypt", "failure", "key=shaped error=batch_too_large"),
        ("transit.encrypt", "failure", "key=shaped error=invalid_request"),
    ]
