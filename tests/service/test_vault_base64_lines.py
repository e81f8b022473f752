"""Base64 with line breaks, as Vault takes it on its transit routes.

Vault decodes a request's base64 with Go's standard decoder, which skips ``\\r`` and
``\\n``: ``vault write transit/encrypt/orders plaintext=$(base64 < file)`` works for a file
of any size, though GNU ``base64`` breaks its output every 76 characters. The Vault-shaped
routes take the same text; any other character outside the alphabet (a space) is still
refused, and sealbox's own routes stay strict.
"""

from __future__ import annotations

import base64

import hvac.exceptions as hx
import pytest

from tests.service._transit import ALL_SCOPES, unb64
from tests.service._vault import curl, data_of, hvac_client, token_for
from tests.service.conftest import Running

DATA = b"canary-wrapped-lines-7c1e " * 8  # 208 bytes: three lines of GNU base64


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    return module_service


@pytest.fixture(scope="module")
def token(service: Running) -> str:
    token = token_for(service, *ALL_SCOPES)
    hvac_client(service, token).secrets.transit.create_key(name="lines")
    return token


def wrapped(data: bytes, newline: str = "\n") -> str:
    """``data`` as GNU ``base64`` writes it (76 characters a line), lines joined by ``newline``."""
    return base64.encodebytes(data).decode().rstrip("\n").replace("\n", newline)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_plaintext_broken_into_lines_is_encrypted_as_vault_takes_it(
    service: Running, token: str, newline: str
) -> None:
    transit = hvac_client(service, token).secrets.transit
    plaintext = wrapped(DATA, newline)
    assert newline in plaintext
    sealed = transit.encrypt_data(name="lines", plaintext=plaintext)["data"]["ciphertext"]
    opened = transit.decrypt_data(name="lines", ciphertext=sealed)["data"]["plaintext"]
    assert unb64(opened) == DATA


def test_batch_items_and_a_ciphertexts_base64_may_break_lines_too(
    service: Running, token: str
) -> None:
    transit = hvac_client(service, token).secrets.transit
    batch = [{"plaintext": wrapped(DATA), "reference": "a"}, {"plaintext": wrapped(DATA[:9])}]
    results = transit.encrypt_data(name="lines", batch_input=batch)["data"]
    sealed = [r["ciphertext"] for r in results["batch_results"]]
    assert results["batch_results"][0]["reference"] == "a"
    # A ciphertext's base64 after its prefix, broken as a line-wrapping tool breaks it.
    broken = sealed[0][:30] + "\n" + sealed[0][30:]
    opened = transit.decrypt_data(name="lines", ciphertext=broken)["data"]["plaintext"]
    assert unb64(opened) == DATA
    status, body = curl(
        service, "POST", "/v1/transit/decrypt/lines", token, {"ciphertext": sealed[1]}
    )
    assert (status, unb64(data_of(body)["plaintext"])) == (200, DATA[:9])


def test_other_characters_outside_the_alphabet_are_still_refused(
    service: Running, token: str
) -> None:
    transit = hvac_client(service, token).secrets.transit
    with pytest.raises(hx.InvalidRequest, match="plaintext is not valid base64"):
        transit.encrypt_data(name="lines", plaintext=wrapped(DATA).replace("\n", " \n"))
    with pytest.raises(hx.InvalidRequest, match="invalid ciphertext"):
        transit.decrypt_data(name="lines", ciphertext="vau\nlt:v1:" + "A" * 40)


def test_sealbox_own_route_stays_strict_about_line_breaks(service: Running, token: str) -> None:
    with service.client() as client:
        answer = client.post(
            "/v1/keys/lines/encrypt",
            json={"plaintext": wrapped(DATA)},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"] == "plaintext is not valid base64"
