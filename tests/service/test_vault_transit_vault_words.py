"""Transit refusals on the Vault-shaped routes answered with Vault's status and names.

- An ``encrypt`` that names a missing key is, in Vault, a *create* (its existence check
  says the key is not there), which a token without the ``create`` capability may not do:
  Vault answers 403 ``permission denied`` before the engine runs. In sealbox a token
  without ``transit:admin`` may not create keys, so it gets the same 403 (never
  ``encryption key not found``, which Vault only gives when the key goes between the check
  and the write), and no key is made.
- A key type is named as Vault names it (``aes256-gcm96``): an unknown one is refused
  with Vault's ``unknown key type <name>``, and the choices listed are Vault's names of
  sealbox's types, never sealbox's own spellings (``aes256-gcm``).
"""

from __future__ import annotations

import hvac.exceptions as hx
import pytest

from tests.service._transit import ALL_SCOPES, b64
from tests.service._vault import curl, data_of, hvac_client, token_for
from tests.service.conftest import Running

CHOICES = "aes256-gcm96, chacha20-poly1305, aes256-siv, hmac, ed25519, ecdsa-p256, rsa-3072"


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    return module_service


@pytest.fixture(scope="module")
def admin(service: Running) -> str:
    return token_for(service, *ALL_SCOPES)


@pytest.fixture(scope="module")
def encrypter(service: Running) -> str:
    return token_for(service, "transit:encrypt:*", "transit:read:*")


def test_encrypt_naming_a_missing_key_is_403_for_a_token_that_may_not_create_it(
    service: Running, admin: str, encrypter: str
) -> None:
    user = hvac_client(service, encrypter)
    with pytest.raises(hx.Forbidden, match="permission denied"):
        user.secrets.transit.encrypt_data(name="words-missing", plaintext=b64(b"x"))
    status, body = curl(
        service, "POST", "/v1/transit/encrypt/words-missing", encrypter, {"plaintext": b64(b"x")}
    )
    assert (status, body) == (403, {"errors": ["permission denied"]})
    batch = {"batch_input": [{"plaintext": b64(b"a")}, {"plaintext": b64(b"b")}]}
    status, body = curl(service, "POST", "/v1/transit/encrypt/words-missing", encrypter, batch)
    assert (status, body) == (403, {"errors": ["permission denied"]})
    # Nothing was made; an admin's encrypt still creates the key, as Vault's create does.
    assert curl(service, "GET", "/v1/transit/keys/words-missing", admin) == (404, {"errors": []})
    status, body = curl(
        service, "POST", "/v1/transit/encrypt/words-missing", admin, {"plaintext": b64(b"x")}
    )
    assert (status, data_of(body)["key_version"]) == (200, 1)
    assert user.secrets.transit.encrypt_data(name="words-missing", plaintext=b64(b"x"))


def test_other_operations_on_a_missing_key_keep_vaults_400_encryption_key_not_found(
    service: Running, encrypter: str
) -> None:
    # Vault's decrypt, rewrap and datakey have no existence check: no create is asked.
    token = token_for(service, "transit:decrypt:*", "transit:datakey:*")
    status, body = curl(
        service,
        "POST",
        "/v1/transit/decrypt/words-gone",
        token,
        {"ciphertext": "vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
    )
    assert (status, body) == (400, {"errors": ["encryption key not found"]})
    status, body = curl(service, "POST", "/v1/transit/datakey/plaintext/words-gone", token, {})
    assert (status, body) == (400, {"errors": ["encryption key not found"]})


@pytest.mark.parametrize("named", ["aes256-gcm", "aes-256-gcm", "bogus"])
def test_an_unknown_key_type_is_refused_in_vaults_words_with_vaults_names(
    service: Running, admin: str, named: str
) -> None:
    expected = (400, {"errors": [f"unknown key type {named}: choose one of {CHOICES}"]})
    assert curl(service, "POST", "/v1/transit/keys/words-typed", admin, {"type": named}) == (
        expected
    )
    plain = {"plaintext": b64(b"x"), "type": named}
    assert curl(service, "POST", "/v1/transit/encrypt/words-typed", admin, plain) == expected
    assert curl(service, "GET", "/v1/transit/keys/words-typed", admin) == (404, {"errors": []})


@pytest.mark.parametrize("named", ["aes128-gcm96", "rsa-2048", "ecdsa-p384"])
def test_a_vault_key_type_sealbox_lacks_is_named_as_not_supported(
    service: Running, admin: str, named: str
) -> None:
    status, body = curl(service, "POST", "/v1/transit/keys/words-lacking", admin, {"type": named})
    assert (status, body) == (
        400,
        {"errors": [f"key type {named} is not supported here: choose one of {CHOICES}"]},
    )


def test_hvac_create_key_with_each_vault_name_makes_that_type(service: Running, admin: str):
    client = hvac_client(service, admin)
    for named in CHOICES.split(", "):
        name = f"words-{named}"
        if named in ("hmac", "aes256-siv"):  # hvac's create_key does not know them
            created = client.adapter.post(f"/v1/transit/keys/{name}", json={"type": named})
        else:
            created = client.secrets.transit.create_key(name=name, key_type=named)
        assert created["data"]["type"] == named
