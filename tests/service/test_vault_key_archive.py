"""A transit key read through Vault's API lists the versions it may still use, as Vault's
does: those below ``min_decryption_version`` are archived out of its ``keys``."""

from __future__ import annotations

import pytest

from tests.service._transit import ALL_SCOPES
from tests.service._vault import hvac_client, token_for


@pytest.mark.parametrize("key_type", ["aes256-gcm96", "ed25519"])
def test_keys_lists_only_versions_from_min_decryption_version(service, key_type: str) -> None:
    transit = hvac_client(service, token_for(service, *ALL_SCOPES)).secrets.transit
    transit.create_key(name="archived", key_type=key_type)
    transit.rotate_key(name="archived")
    transit.rotate_key(name="archived")

    answer = transit.update_key_configuration(name="archived", min_decryption_version=2)
    assert sorted(answer["data"]["keys"]) == ["2", "3"]
    read = transit.read_key(name="archived")["data"]
    assert sorted(read["keys"]) == ["2", "3"]
    assert (read["latest_version"], read["min_decryption_version"]) == (3, 2)

    # Lowering the minimum brings the archived version back, as in Vault.
    transit.update_key_configuration(name="archived", min_decryption_version=1)
    assert sorted(transit.read_key(name="archived")["data"]["keys"]) == ["1", "2", "3"]
