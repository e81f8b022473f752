"""KV v2 as Vault's engine answers: a metadata write keeps ``updated_time``,
``custom_metadata`` limits count UTF-8 bytes, and ``options.cas`` is read as Vault
reads it (a negative number matches no version; anything else not a whole number is a
parse error).

One service per backend for the module; each test, and each of its cases, writes secret
paths of its own (named by the case's id), so none reads what another left.
"""

from __future__ import annotations

import hvac.exceptions as hx
import pytest

from tests.service._vault import curl, data_of, hvac_client, token_for
from tests.service.conftest import Running


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    return module_service


@pytest.fixture(scope="module")
def token(service: Running) -> str:
    return token_for(service, "kv:admin")


def _case(request: pytest.FixtureRequest) -> str:
    """The parametrized case's id, as a path segment of its own."""
    return str(request.node.callspec.id)


def test_a_metadata_write_leaves_updated_time_and_a_new_version_moves_it(service, token) -> None:
    kv = hvac_client(service, token).secrets.kv.v2
    kv.create_or_update_secret(path="times/app", secret={"k": "v"})
    before = kv.read_secret_metadata(path="times/app")["data"]
    kv.update_metadata(
        path="times/app",
        max_versions=5,
        cas_required=False,
        delete_version_after="1h",
        custom_metadata={"owner": "ops"},
    )
    after = kv.read_secret_metadata(path="times/app")["data"]
    assert after["max_versions"] == 5 and after["custom_metadata"] == {"owner": "ops"}
    assert (after["created_time"], after["updated_time"]) == (
        before["created_time"],
        before["updated_time"],
    )
    written = kv.create_or_update_secret(path="times/app", secret={"k": "w"})["data"]
    moved = kv.read_secret_metadata(path="times/app")["data"]
    assert moved["updated_time"] == written["created_time"] != before["updated_time"]
    assert moved["created_time"] == before["created_time"]


def test_metadata_written_first_is_created_and_updated_at_once(service, token) -> None:
    path = "/v1/secret/metadata/times/first"
    assert curl(service, "POST", path, token, {"max_versions": 3})[0] == 204
    made = data_of(curl(service, "GET", path, token)[1])
    assert made["updated_time"] == made["created_time"] != ""
    assert curl(service, "POST", path, token, {"cas_required": True})[0] == 204
    assert data_of(curl(service, "GET", path, token)[1])["updated_time"] == made["updated_time"]


@pytest.mark.parametrize(
    "custom",
    [
        {"\u00e9" * 64: "ops"},  # 128 bytes
        {"owner": "\u00e9" * 256},  # 512 bytes
        {"owner": "\u20ac" * 170 + "ab"},  # 512 bytes
        {f"k{i}": "v" for i in range(64)},
    ],
    ids=["key-128-bytes", "value-512-bytes", "value-3-byte-chars", "64-keys"],
)
def test_custom_metadata_at_vaults_byte_limits_is_taken(service, token, request, custom) -> None:
    kv = hvac_client(service, token).secrets.kv.v2
    path = f"limits/taken/{_case(request)}"
    kv.update_metadata(path=path, custom_metadata=custom)
    assert kv.read_secret_metadata(path=path)["data"]["custom_metadata"] == custom


REFUSED = "custom_metadata validation failed"


@pytest.mark.parametrize(
    ("custom", "message"),
    [
        (
            {"\u00e9" * 100: "ops"},
            f"{REFUSED}: length of key is 200 but must be 0 < len(key) <= 128",
        ),
        (
            {"owner": "\u00e9" * 257},
            f"{REFUSED}: length of value is 514 but must be 0 < len(value) <= 512",
        ),
        (
            {"\U0001f511" * 33: "ops"},
            f"{REFUSED}: length of key is 132 but must be 0 < len(key) <= 128",
        ),
        ({"owner": ""}, f"{REFUSED}: length of value is 0 but must be 0 < len(value) <= 512"),
        (
            {f"k{i}": "v" for i in range(65)},
            f"{REFUSED}: payload must contain at most 64 keys, provided 65",
        ),
    ],
    ids=["key-200-bytes", "value-514-bytes", "key-4-byte-chars", "empty-value", "65-keys"],
)
def test_custom_metadata_past_vaults_byte_limits_is_refused_in_its_words(
    service, token, request, custom, message
) -> None:
    path = f"/v1/secret/metadata/limits/refused/{_case(request)}"
    assert curl(service, "POST", path, token, {"custom_metadata": {"owner": "ops"}})[0] == 204
    assert curl(service, "POST", path, token, {"custom_metadata": custom}) == (
        400,
        {"errors": [message]},
    )
    assert data_of(curl(service, "GET", path, token)[1])["custom_metadata"] == {"owner": "ops"}
    with pytest.raises(hx.InvalidRequest, match="custom_metadata validation failed"):
        hvac_client(service, token).secrets.kv.v2.update_metadata(
            path=path.removeprefix("/v1/secret/metadata/"), custom_metadata=custom
        )


@pytest.mark.parametrize("cas", [-1, "-1", -(2**63)])
def test_a_negative_cas_matches_no_version(service, token, request, cas) -> None:
    path = f"/v1/secret/data/cas/negative/{_case(request)}"
    # Neither a secret with no version yet, nor one with versions.
    for _ in range(2):
        assert curl(
            service, "POST", path, token, {"data": {"a": "b"}, "options": {"cas": cas}}
        ) == (
            400,
            {"errors": ["check-and-set parameter did not match the current version"]},
        )
        assert curl(service, "POST", path, token, {"data": {"a": "b"}})[0] == 200
    kv = hvac_client(service, token).secrets.kv.v2
    with pytest.raises(hx.InvalidRequest, match="did not match the current version"):
        kv.create_or_update_secret(
            path=path.removeprefix("/v1/secret/data/"), secret={"a": "c"}, cas=-1
        )
    meta = kv.read_secret_metadata(path=path.removeprefix("/v1/secret/data/"))["data"]
    assert meta["current_version"] == 2


@pytest.mark.parametrize(
    "cas",
    ["one", "1.5", 1.5, 1.0, "", [1], {"v": 1}, True, 2**63, "9" * 30],
    ids=[
        "text",
        "fraction-text",
        "fraction",
        "one-point-zero",
        "empty-text",
        "list",
        "object",
        "boolean",
        "past-int64",
        "long-text",
    ],
)
def test_a_cas_that_is_no_whole_number_is_a_parse_error(service, token, request, cas) -> None:
    path = f"/v1/secret/data/cas/parse/{_case(request)}"
    assert curl(service, "POST", path, token, {"data": {"a": "b"}, "options": {"cas": cas}}) == (
        400,
        {"errors": ["error parsing check-and-set parameter"]},
    )
    assert curl(service, "GET", f"/v1/secret/metadata/cas/parse/{_case(request)}", token)[0] == 404
