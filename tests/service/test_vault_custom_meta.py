"""KV v2 ``custom_metadata`` is taken as Vault takes it: whole numbers and booleans are
stored as their text, and empty or unprintable names and values are refused with 400."""

from __future__ import annotations

import hvac.exceptions as hx
import pytest

from tests.service._vault import curl, data_of, hvac_client, token_for


def test_numbers_and_booleans_are_stored_as_text(service) -> None:
    kv = hvac_client(service, token_for(service, "kv:admin")).secrets.kv.v2
    kv.create_or_update_secret(path="meta/app", secret={"k": "v"})
    kv.update_metadata(path="meta/app", custom_metadata={"replicas": 3, "on": True, "off": False})
    stored = {"replicas": "3", "on": "1", "off": "0"}
    assert kv.read_secret_metadata(path="meta/app")["data"]["custom_metadata"] == stored
    version = kv.read_secret_version(path="meta/app", raise_on_deleted_version=True)
    assert version["data"]["metadata"]["custom_metadata"] == stored


@pytest.mark.parametrize(
    "custom",
    [{"owner": ""}, {"": "ops"}, {"owner": "ops\nteam"}, {"own\ter": "ops"}, {"a": 1.5}],
)
def test_empty_or_unprintable_names_and_values_are_refused(service, custom) -> None:
    token = token_for(service, "kv:admin")
    path = "/v1/secret/metadata/meta/refused"
    assert curl(service, "POST", path, token, {"custom_metadata": {"owner": "ops"}})[0] == 204
    status, body = curl(service, "POST", path, token, {"custom_metadata": custom})
    assert status == 400
    assert set(body) == {"errors"} and len(body["errors"]) == 1
    status, body = curl(service, "GET", path, token)
    assert data_of(body)["custom_metadata"] == {"owner": "ops"}
    with pytest.raises(hx.InvalidRequest):
        hvac_client(service, token).secrets.kv.v2.update_metadata(
            path="meta/refused", custom_metadata=custom
        )
