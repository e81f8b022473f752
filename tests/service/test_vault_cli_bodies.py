"""Request bodies that Vault's own command line and Go client send, taken as Vault takes them.

``vault write -f PATH`` (how Vault's documentation creates and rotates a transit key) and
the Go client's ``Logical().Write(path, nil)`` send the JSON text ``null``: Vault reads it as
no fields at all, as it reads an empty body. A metadata write that names no setting (``{}``,
``null``, an empty body) is answered 204 and makes nothing, as Vault's KV engine returns
before it reads or writes any metadata when none of its settings is given.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.service._transit import ALL_SCOPES
from tests.service._vault import data_of, token_for
from tests.service.conftest import Running


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    return module_service


@pytest.fixture(scope="module")
def token(service: Running) -> str:
    return token_for(service, *ALL_SCOPES, "kv:admin")


def send(service: Running, token: str, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    headers = {"X-Vault-Token": token, "Content-Type": "application/json"}
    with service.client() as client:
        answer = client.request(method, path, content=raw, headers=headers)
    return answer.status_code, (answer.json() if answer.content else None)


@pytest.mark.parametrize("raw", [b"null", b" null\n"])
def test_a_null_body_as_vault_write_force_sends_it_is_taken_as_no_fields(
    service: Running, token: str, raw: bytes
) -> None:
    name = f"cli-null-{len(raw)}"
    status, body = send(service, token, "PUT", f"/v1/transit/keys/{name}", raw)
    assert status == 200, body
    assert data_of(body)["type"] == "aes256-gcm96"
    status, body = send(service, token, "PUT", f"/v1/transit/keys/{name}/rotate", raw)
    assert (status, data_of(body)["latest_version"]) == (200, 2)
    status, body = send(service, token, "PUT", f"/v1/transit/datakey/plaintext/{name}", raw)
    assert status == 200, body
    assert data_of(body)["key_version"] == 2
    status, _ = send(service, token, "PUT", f"/v1/secret/metadata/cli-null/{name}", raw)
    assert status == 204
    status, body = send(service, token, "PUT", "/v1/auth/token/renew-self", raw)
    assert status == 200, body


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/transit/encrypt/cli-null-refused", "give plaintext or batch_input"),
        ("/v1/transit/decrypt/cli-null-refused", "give ciphertext or batch_input"),
        ("/v1/secret/data/cli-null/refused", "no data provided"),
        ("/v1/secret/delete/cli-null/refused", "no version number provided"),
    ],
)
def test_a_null_body_where_a_field_is_needed_is_refused_as_an_empty_one(
    service: Running, token: str, path: str, message: str
) -> None:
    for raw in (b"null", b"{}"):
        assert send(service, token, "PUT", path, raw) == (400, {"errors": [message]}), raw


@pytest.mark.parametrize("raw", [b"", b"{}", b"null"])
def test_a_metadata_write_with_no_setting_is_answered_and_makes_no_metadata(
    service: Running, token: str, raw: bytes
) -> None:
    path = f"cli-meta/empty-{len(raw)}"
    assert send(service, token, "PUT", f"/v1/secret/metadata/{path}", raw) == (204, None)
    status, body = send(service, token, "GET", f"/v1/secret/metadata/{path}", b"")
    assert status == 404, body
