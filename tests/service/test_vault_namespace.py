"""A Vault namespace (``X-Vault-Namespace``, what ``VAULT_NAMESPACE`` and hvac's
``namespace=`` send) is refused, never ignored.

sealbox has one set of keys and secrets, Vault's root namespace. A client that names
another namespace expects its tenant's keys: answered from the root namespace, two tenants
configured with the same key name would share one key. So the request is refused (after
its token, as response wrapping is), as the same namespace named in the path
(``/v1/team-a/transit/…``) already is; the root namespace (no header, empty, ``root``) is
served.
"""

from __future__ import annotations

import hvac
import hvac.exceptions as hx
import pytest

from tests.service._transit import ALL_SCOPES, b64
from tests.service._vault import data_of, token_for
from tests.service.conftest import Running

REFUSAL = {"errors": ["namespaces (X-Vault-Namespace) are not supported: only the root is served"]}


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    return module_service


@pytest.fixture(scope="module")
def token(service: Running) -> str:
    token = token_for(service, *ALL_SCOPES, "kv:admin")
    with service.client() as client:
        client.post("/v1/transit/keys/tenant-key", headers={"X-Vault-Token": token})
        client.post(
            "/v1/secret/data/tenant",
            json={"data": {"password": "canary-ns-5d0a"}},
            headers={"X-Vault-Token": token},
        )
    return token


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/transit/encrypt/tenant-key", {"plaintext": b64(b"x")}),  # the lean entry
        ("POST", "/v1/transit/hmac/tenant-key", {"input": b64(b"x")}),
        ("GET", "/v1/transit/keys/tenant-key", None),
        ("GET", "/v1/secret/data/tenant", None),
    ],
)
def test_a_request_naming_a_namespace_is_refused_not_answered_from_the_root(
    service: Running, token: str, method: str, path: str, body: object
) -> None:
    headers = {"X-Vault-Token": token, "X-Vault-Namespace": "team-a"}
    with service.client() as client:
        answer = client.request(method, path, json=body, headers=headers)
    assert (answer.status_code, answer.json()) == (400, REFUSAL), answer.text
    assert "canary-ns" not in answer.text


def test_hvac_with_a_namespace_gets_the_refusal(service: Running, token: str) -> None:
    client = hvac.Client(url=service.url, token=token, verify=str(service.ca), namespace="team-a")
    with pytest.raises(hx.InvalidRequest, match="namespaces"):
        client.secrets.transit.encrypt_data(name="tenant-key", plaintext=b64(b"x"))


def test_a_stranger_naming_a_namespace_is_denied_first(service: Running) -> None:
    headers = {"X-Vault-Token": "nope", "X-Vault-Namespace": "team-a"}
    with service.client() as client:
        answer = client.post("/v1/transit/encrypt/tenant-key", json={}, headers=headers)
    assert answer.status_code == 403


@pytest.mark.parametrize("root", ["", "root", "root/", "/"])
def test_the_root_namespace_is_served(service: Running, token: str, root: str) -> None:
    headers = {"X-Vault-Token": token, "X-Vault-Namespace": root}
    with service.client() as client:
        answer = client.post(
            "/v1/transit/encrypt/tenant-key", json={"plaintext": b64(b"x")}, headers=headers
        )
    assert answer.status_code == 200, answer.text
    assert data_of(answer.json())["ciphertext"].startswith("vault:v1:")
