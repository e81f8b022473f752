"""A key's ``min_decryption_version`` of 0 is taken as 1 with Vault's warning, as Vault
takes it (key versions start at 1), rather than refused."""

from __future__ import annotations

import pytest

from tests.service._transit import ALL_SCOPES
from tests.service._vault import curl, hvac_client, token_for
from tests.service.conftest import Running

WARNING = "since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1"


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    return module_service


@pytest.fixture(scope="module")
def token(service: Running) -> str:
    return token_for(service, *ALL_SCOPES)


def test_hvac_sets_a_min_decryption_version_of_zero_as_one(service: Running, token: str) -> None:
    transit = hvac_client(service, token).secrets.transit
    transit.create_key(name="zero-min")
    transit.rotate_key(name="zero-min")
    transit.update_key_configuration(name="zero-min", min_decryption_version=2)
    answer = transit.update_key_configuration(name="zero-min", min_decryption_version=0)
    assert answer["data"]["min_decryption_version"] == 1
    assert answer["warnings"] == [WARNING]


def test_a_zero_given_as_text_is_taken_too_and_a_negative_one_is_refused(
    service: Running, token: str
) -> None:
    assert curl(service, "POST", "/v1/transit/keys/zero-text", token)[0] == 200
    status, body = curl(
        service, "POST", "/v1/transit/keys/zero-text/config", token, {"min_decryption_version": "0"}
    )
    assert (status, body["data"]["min_decryption_version"], body["warnings"]) == (200, 1, [WARNING])
    status, body = curl(
        service, "POST", "/v1/transit/keys/zero-text/config", token, {"min_decryption_version": -1}
    )
    assert status == 400
    assert set(body) == {"errors"}


def test_a_configuration_without_it_has_no_warning(service: Running, token: str) -> None:
    transit = hvac_client(service, token).secrets.transit
    transit.create_key(name="no-zero")
    answer = transit.update_key_configuration(name="no-zero", deletion_allowed=True)
    assert answer["warnings"] is None
