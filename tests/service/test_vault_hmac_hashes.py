"""Vault's ``transit/verify`` of an HMAC refuses a hash other than SHA-256 named in the body's
``hash_algorithm`` (what hvac's ``verify_signed_data`` sends), as in ``algorithm``: checked
as HMAC-SHA-256 whatever it named, a right SHA-512 tag would be ``valid: false`` instead of
a refusal saying the hash is not offered."""

from __future__ import annotations

import base64

import hvac.exceptions
import pytest

from tests.service._transit import ALL_SCOPES
from tests.service._vault import curl, hvac_client, token_for
from tests.service.conftest import Running

DATA = base64.b64encode(b"release 1.2").decode()


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    return module_service


@pytest.fixture(scope="module")
def token(service: Running) -> str:
    return token_for(service, *ALL_SCOPES)


def test_hvac_verify_with_a_sha512_hash_algorithm_is_refused(service: Running, token: str) -> None:
    transit = hvac_client(service, token).secrets.transit
    transit.create_key(name="tags-512")
    tag = transit.generate_hmac(name="tags-512", hash_input=DATA)["data"]["hmac"]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="sha2-256"):
        transit.verify_signed_data(
            name="tags-512", hash_input=DATA, hmac=tag, hash_algorithm="sha2-512"
        )
    assert transit.verify_signed_data(name="tags-512", hash_input=DATA, hmac=tag)["data"]["valid"]


@pytest.mark.parametrize("field", ["hash_algorithm", "algorithm"])
def test_either_name_of_the_hash_in_the_body_is_checked(
    service: Running, token: str, field: str
) -> None:
    assert curl(service, "POST", f"/v1/transit/keys/tags-{field}", token)[0] == 200
    status, body = curl(service, "POST", f"/v1/transit/hmac/tags-{field}", token, {"input": DATA})
    assert status == 200, body
    tag = body["data"]["hmac"]
    status, body = curl(
        service,
        "POST",
        f"/v1/transit/verify/tags-{field}",
        token,
        {"input": DATA, "hmac": tag, field: "sha2-512"},
    )
    assert status == 400, body
    assert set(body) == {"errors"}
