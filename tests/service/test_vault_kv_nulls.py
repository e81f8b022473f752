"""A KV v2 metadata write's ``null`` settings read as Vault reads them: a ``null``
``max_versions``, ``cas_required`` or ``custom_metadata`` is given, as that field's zero
value (0, false, no custom metadata), and a ``null`` ``delete_version_after`` is not;
empty text for ``max_versions`` or ``cas_required`` is read as 0 or false too."""

from __future__ import annotations

from typing import Any

import pytest

from tests.service._vault import curl, data_of, token_for


# One service for the module: each test writes metadata under a path of its own.
@pytest.fixture(scope="module")
def admin_token(module_service) -> str:
    return token_for(module_service, "kv:admin")


def _metadata(service: Any, token: str, path: str) -> dict[str, Any]:
    status, body = curl(service, "GET", path, token)
    assert status == 200, body
    return dict(data_of(body))


def test_a_null_max_versions_sets_it_to_zero(module_service, admin_token) -> None:
    service, token = module_service, admin_token
    path = "/v1/secret/metadata/nulls/max"
    assert curl(service, "POST", path, token, {"max_versions": 5})[0] == 204
    assert curl(service, "POST", path, token, {"max_versions": None}) == (204, None)
    assert _metadata(service, token, path)["max_versions"] == 0


def test_a_null_cas_required_turns_it_off(module_service, admin_token) -> None:
    service, token = module_service, admin_token
    path = "/v1/secret/metadata/nulls/cas"
    assert curl(service, "POST", path, token, {"cas_required": True})[0] == 204
    assert curl(service, "PUT", path, token, {"cas_required": None}) == (204, None)
    assert _metadata(service, token, path)["cas_required"] is False
    # Off: a write without check-and-set is taken again.
    written = curl(service, "POST", "/v1/secret/data/nulls/cas", token, {"data": {"a": "b"}})
    assert written[0] == 200


def test_a_null_custom_metadata_clears_it(module_service, admin_token) -> None:
    service, token = module_service, admin_token
    path = "/v1/secret/metadata/nulls/custom"
    body = {"custom_metadata": {"owner": "ops"}, "max_versions": 3}
    assert curl(service, "POST", path, token, body)[0] == 204
    assert curl(service, "POST", path, token, {"custom_metadata": None}) == (204, None)
    after = _metadata(service, token, path)
    assert after["custom_metadata"] is None
    assert after["max_versions"] == 3  # the other settings stay as they are


def test_a_write_of_null_settings_only_makes_metadata(module_service, admin_token) -> None:
    service, token = module_service, admin_token
    path = "/v1/secret/metadata/nulls/made"
    body = {"max_versions": None, "cas_required": None, "custom_metadata": None}
    assert curl(service, "POST", path, token, body) == (204, None)
    made = _metadata(service, token, path)
    assert (made["max_versions"], made["cas_required"], made["custom_metadata"]) == (
        0,
        False,
        None,
    )
    assert made["current_version"] == 0 and made["versions"] == {}


def test_a_null_delete_version_after_leaves_it_as_it_is(module_service, admin_token) -> None:
    service, token = module_service, admin_token
    path = "/v1/secret/metadata/nulls/dva"
    assert curl(service, "POST", path, token, {"delete_version_after": "1h"})[0] == 204
    body = {"delete_version_after": None, "max_versions": 2}
    assert curl(service, "POST", path, token, body) == (204, None)
    after = _metadata(service, token, path)
    assert (after["delete_version_after"], after["max_versions"]) == ("1h0m0s", 2)


def test_other_refusals_stand(module_service, admin_token) -> None:
    service, token = module_service, admin_token
    path = "/v1/secret/metadata/nulls/refused"
    for body in ({"max_versions": -1}, {"cas_required": "maybe"}, {"custom_metadata": []}):
        assert curl(service, "POST", path, token, body)[0] == 400, body
    assert curl(service, "GET", path, token)[0] == 404


def test_empty_text_max_versions_sets_it_to_zero(module_service, admin_token) -> None:
    # `vault write secret/metadata/P max_versions=` sends "", which Vault reads as 0.
    service, token = module_service, admin_token
    path = "/v1/secret/metadata/nulls/blank-max"
    assert curl(service, "POST", path, token, {"max_versions": 5})[0] == 204
    assert curl(service, "POST", path, token, {"max_versions": ""}) == (204, None)
    assert _metadata(service, token, path)["max_versions"] == 0


def test_empty_text_cas_required_turns_it_off(module_service, admin_token) -> None:
    service, token = module_service, admin_token
    path = "/v1/secret/metadata/nulls/blank-cas"
    assert curl(service, "POST", path, token, {"cas_required": True})[0] == 204
    assert curl(service, "PUT", path, token, {"cas_required": ""}) == (204, None)
    assert _metadata(service, token, path)["cas_required"] is False


def test_other_text_settings_are_still_refused(module_service, admin_token) -> None:
    service, token = module_service, admin_token
    path = "/v1/secret/metadata/nulls/blank-refused"
    for body in ({"max_versions": " "}, {"cas_required": " "}, {"custom_metadata": ""}):
        assert curl(service, "POST", path, token, body)[0] == 400, body
    assert curl(service, "GET", path, token)[0] == 404
