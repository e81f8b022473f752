"""Which comes first on the Vault-shaped routes, the method or the token, as in Vault.

Vault turns the HTTP method into an operation before it reads a token: a method it has no
operation for (``PROPFIND``, ``TRACE``, ``MKCOL``…) is 405 with the ``{"errors": […]}``
shape whatever the token, and so is any method but ``GET`` and ``HEAD`` on ``sys/health``
(a route of its own, that reads no token). A method Vault knows (``GET``, ``POST``,
``PUT``, ``DELETE``, ``PATCH``, ``LIST``, ``HEAD``, ``OPTIONS``) is checked against the
token first: without one it is 403, whether or not the path takes the method.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.service._transit import ALL_SCOPES
from tests.service._vault import token_for
from tests.service.conftest import Running

PATHS = (
    "/v1/secret/data/methods/app",
    "/v1/secret/metadata/methods/app",
    "/v1/transit/keys/methods-key",
    "/v1/transit/encrypt/methods-key",  # an operation's path: the lean entry takes POST
    "/v1/auth/token/lookup-self",
    "/v1/sys/health",
    "/v1/sys/internal/ui/mounts/secret",
)


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    return module_service


@pytest.fixture(scope="module")
def token(service: Running) -> str:
    return token_for(service, *ALL_SCOPES, "kv:admin")


def send(service: Running, method: str, path: str, token: str | None) -> tuple[int, Any]:
    headers = {} if token is None else {"X-Vault-Token": token}
    with service.client() as client:
        answer = client.request(method, path, headers=headers)
    return answer.status_code, answer.json()


@pytest.mark.parametrize("method", ["PROPFIND", "TRACE", "MKCOL"])
@pytest.mark.parametrize("path", PATHS)
def test_a_method_vault_has_no_operation_for_is_405_before_the_token_is_read(
    service: Running, token: str, method: str, path: str
) -> None:
    for sent in (None, "not-a-token", token):
        status, body = send(service, method, path, sent)
        assert status == 405, (method, path, sent is token, body)
        assert body == {"errors": ["unsupported operation"]}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_sys_health_by_another_method_is_405_without_a_token_as_vaults_own_route(
    service: Running, method: str
) -> None:
    assert send(service, method, "/v1/sys/health", None) == (
        405,
        {"errors": ["unsupported operation"]},
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/v1/transit/keys/methods-key"),
        ("DELETE", "/v1/transit/encrypt/methods-key"),
        ("DELETE", "/v1/auth/token/lookup-self"),
        ("LIST", "/v1/secret/data/methods/app"),
    ],
)
def test_a_method_vault_knows_is_checked_against_the_token_first(
    service: Running, token: str, method: str, path: str
) -> None:
    # Vault's token (and policy) check runs before its router finds that the path lacks
    # the operation: no token is 403, a token that may act there learns it is 405.
    assert send(service, method, path, None) == (403, {"errors": ["permission denied"]})
    assert send(service, method, path, token) == (405, {"errors": ["unsupported operation"]})


@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_lookup_self_answers_a_put_as_a_post_as_vault_reads_both_as_an_update(
    service: Running, token: str, method: str
) -> None:
    # Vault's lookup-self takes its read (GET) and update (POST or PUT) operations, and
    # its clients send either; so does the Vault command line's `vault token lookup`.
    status, body = send(service, method, "/v1/auth/token/lookup-self", token)
    assert status == 200, body
    assert "kv:admin" in body["data"]["policies"]


@pytest.mark.parametrize("query", ["?list=true", "?list=bogus"])
def test_sys_health_reads_no_list_parameter_as_vaults_own_route(
    service: Running, query: str
) -> None:
    status, body = send(service, "GET", "/v1/sys/health" + query, None)
    assert (status, body["initialized"], body["sealed"]) == (200, True, False)
