"""KV v2 edges read as Vault's engine reads them: a metadata write that names no setting
makes nothing, and ``options.cas`` decoded as Vault decodes it (``null`` is 0, text in
Go's bases), except where a reading would guess at the version a client meant.

One service per backend for the module; each test, and each of its cases, writes secret
paths of its own (:func:`_own` names a case's), so none reads what another left.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.service._vault import curl, data_of, hvac_client, token_for
from tests.service.conftest import Running

PARSE = (400, {"errors": ["error parsing check-and-set parameter"]})
MISMATCH = (400, {"errors": ["check-and-set parameter did not match the current version"]})


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    return module_service


@pytest.fixture(scope="module")
def token(service: Running) -> str:
    return token_for(service, "kv:admin")


def _own(case: Any) -> str:
    """A path segment for one parametrized case: its JSON in hex (any text, one segment)."""
    return json.dumps(case).encode().hex()


@pytest.mark.parametrize(
    "body",
    [None, {}, {"owner": "ops"}, {"delete_version_after": None}],
    ids=["no-body", "empty-object", "unknown-field-only", "null-duration-only"],
)
def test_a_metadata_write_naming_no_setting_makes_no_metadata(service, token, body) -> None:
    folder = f"empty/{_own(body)}"
    path = f"/v1/secret/metadata/{folder}/none"
    assert curl(service, "POST", path, token, body) == (204, None)
    assert curl(service, "GET", path, token)[0] == 404
    assert curl(service, "LIST", f"/v1/secret/metadata/{folder}", token)[0] == 404
    # Nothing was made: a write with check-and-set 0 still finds no version.
    written = curl(
        service,
        "POST",
        f"/v1/secret/data/{folder}/none",
        token,
        {"data": {"a": "b"}, "options": {"cas": 0}},
    )
    assert written[0] == 200 and data_of(written[1])["version"] == 1


def test_a_metadata_write_of_json_null_makes_no_metadata(service, token) -> None:
    # What `vault write -f secret/metadata/P` and Vault's Go client send for no fields.
    headers = {"X-Vault-Token": token, "Content-Type": "application/json"}
    with service.client() as client:
        path = "/v1/secret/metadata/empty/null"
        assert client.put(path, content=b"null", headers=headers).status_code == 204
        assert client.get(path, headers=headers).status_code == 404


def test_a_metadata_write_naming_no_setting_leaves_metadata_as_it_is(service, token) -> None:
    path = "/v1/secret/metadata/empty/kept"
    assert curl(service, "POST", path, token, {"max_versions": 4, "cas_required": True})[0] == 204
    before = data_of(curl(service, "GET", path, token)[1])
    assert curl(service, "POST", path, token, {}) == (204, None)
    assert data_of(curl(service, "GET", path, token)[1]) == before


def _write(service: Any, token: str, path: str, cas: Any) -> tuple[int, Any]:
    return curl(service, "POST", path, token, {"data": {"a": "b"}, "options": {"cas": cas}})


def test_a_null_cas_is_check_and_set_zero(service, token) -> None:
    path = "/v1/secret/data/cas/null"
    # 0: written only while the secret has no version...
    assert _write(service, token, path, None)[0] == 200
    # ...and refused once it has one (a missing cas would write version 2).
    assert _write(service, token, path, None) == MISMATCH
    kv = hvac_client(service, token).secrets.kv.v2
    assert kv.read_secret_metadata(path="cas/null")["data"]["current_version"] == 1


def test_a_null_cas_counts_as_given_where_cas_is_required(service, token) -> None:
    meta = "/v1/secret/metadata/cas/null-required"
    assert curl(service, "POST", meta, token, {"cas_required": True})[0] == 204
    assert _write(service, token, "/v1/secret/data/cas/null-required", None)[0] == 200


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("0x2", 2),
        ("0X2", 2),
        ("0o2", 2),
        ("0b10", 2),
        ("0x_2", 2),
        ("+0x2", 2),
        ("1_0", 10),
        ("02", 2),
        ("0_2", 2),
        ("00", 0),
    ],
)
def test_a_cas_in_gos_integer_spellings_is_that_number(service, token, text, version) -> None:
    path = f"/v1/secret/data/cas/spelt/{_own(text)}"
    for _ in range(version):
        assert curl(service, "POST", path, token, {"data": {"a": "b"}})[0] == 200
    written = _write(service, token, path, text)
    assert written[0] == 200, written
    assert data_of(written[1])["version"] == version + 1
    # The same text again names a version that is no longer the newest.
    assert _write(service, token, path, text) == MISMATCH


@pytest.mark.parametrize("text", ["-0x1", "-0b1", "-0_1"])
def test_a_negative_cas_in_another_base_matches_no_version(service, token, text) -> None:
    assert _write(service, token, f"/v1/secret/data/cas/negative-base/{_own(text)}", text) == (
        MISMATCH
    )


@pytest.mark.parametrize(
    "text",
    ["010", "0_10", "011", "08", "09", "0x", "0x1_", "1__0", "_1", "0b2", " 1", "1 ", "\u0661"],
)
def test_a_cas_text_that_is_ambiguous_or_not_go_integer_is_a_parse_error(
    service, token, text
) -> None:
    path = f"cas/ambiguous/{_own(text)}"
    # Eight versions: 010 (Go's octal 8) and 10 (decimal) are both plausible readings.
    for _ in range(8):
        assert (
            curl(service, "POST", f"/v1/secret/data/{path}", token, {"data": {"a": "b"}})[0] == 200
        )
    assert _write(service, token, f"/v1/secret/data/{path}", text) == PARSE
    kv = hvac_client(service, token).secrets.kv.v2
    assert kv.read_secret_metadata(path=path)["data"]["current_version"] == 8


@pytest.mark.parametrize("options", [0, False, "", "cas=1", 1])
def test_options_that_are_no_object_are_refused(service, token, options) -> None:
    path = f"/v1/secret/data/cas/options/{_own(options)}"
    body = {"data": {"a": "b"}, "options": options}
    assert curl(service, "POST", path, token, body) == (
        400,
        {"errors": ["options must be an object"]},
    )
    assert curl(service, "GET", f"/v1/secret/metadata/cas/options/{_own(options)}", token)[0] == 404


@pytest.mark.parametrize("options", [None, [], {}])
def test_options_null_or_empty_ask_for_no_check(service, token, options) -> None:
    path = f"/v1/secret/data/cas/no-options/{_own(options)}"
    for version in (1, 2):
        written = curl(service, "POST", path, token, {"data": {"a": "b"}, "options": options})
        assert written[0] == 200 and data_of(written[1])["version"] == version
