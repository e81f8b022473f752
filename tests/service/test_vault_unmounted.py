"""A ``/v1/`` path that no engine serves (``/v1/team/foo`` with no ``team`` KV mount) is
answered as Vault answers it, never with sealbox's own error shape.

Vault checks the token (and its policy) before its router looks for the mount: without a
valid token the answer is 403 ``permission denied``; with one, the router finds no mount
and answers 404 ``no handler for route "<path>". route entry not found.``. A method Vault
has no operation for is 405 before either, as on every Vault path.
"""

from __future__ import annotations

from typing import Any

import hvac
import hvac.exceptions as hx
import pytest

from tests.service._transit import ALL_SCOPES
from tests.service._vault import hvac_client, token_for
from tests.service.conftest import Running


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    return module_service


@pytest.fixture(scope="module")
def token(service: Running) -> str:
    return token_for(service, *ALL_SCOPES, "kv:admin")


def send(
    service: Running, method: str, path: str, token: str | None, body: Any = None
) -> tuple[int, Any]:
    headers = {} if token is None else {"X-Vault-Token": token}
    with service.client() as client:
        answer = client.request(method, path, headers=headers, json=body)
    return answer.status_code, answer.json()


def no_handler(path: str) -> dict[str, Any]:
    return {"errors": [f'no handler for route "{path}". route entry not found.']}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/team/foo"),
        ("POST", "/v1/team/data/foo"),
        ("LIST", "/v1/team/metadata"),
        ("DELETE", "/v1/pki/issue/web"),
        ("GET", "/v1/"),
    ],
)
def test_an_unmounted_path_is_403_without_a_token_then_404_no_handler_as_in_vault(
    service: Running, token: str, method: str, path: str
) -> None:
    body = {"data": {"a": "b"}} if method == "POST" else None
    for sent in (None, "not-a-token"):
        assert send(service, method, path, sent, body) == (403, {"errors": ["permission denied"]})
    assert send(service, method, path, token, body) == (404, no_handler(path[4:]))


def test_an_auth_method_sealbox_lacks_is_no_handler_as_an_unmounted_auth_path(
    service: Running, token: str
) -> None:
    path = "/v1/auth/approle/login"
    body = {"role_id": "r", "secret_id": "s"}
    assert send(service, "POST", path, None, body) == (403, {"errors": ["permission denied"]})
    assert send(service, "POST", path, token, body) == (404, no_handler("auth/approle/login"))


def test_a_method_vault_has_no_operation_for_is_405_on_an_unmounted_path_too(
    service: Running,
) -> None:
    assert send(service, "PROPFIND", "/v1/team/foo", None) == (
        405,
        {"errors": ["unsupported operation"]},
    )


def test_hvac_reading_an_unmounted_kv_path_raises_invalid_path(
    service: Running, token: str
) -> None:
    client: hvac.Client = hvac_client(service, token)
    with pytest.raises(hx.InvalidPath, match="no handler for route"):
        client.secrets.kv.v2.read_secret_version(
            path="foo", mount_point="team", raise_on_deleted_version=True
        )
    with pytest.raises(hx.Forbidden):
        hvac_client(service, "not-a-token").read("team/foo")


def test_sealbox_own_routes_under_v1_are_not_taken_for_vault_paths(
    service: Running, token: str
) -> None:
    # /v1/keys is sealbox's own transit API (which reads no X-Vault-Token): its
    # refusals keep sealbox's shape.
    status, body = send(service, "GET", "/v1/keys/none-such", token)
    assert status == 401
    assert "errors" not in body
