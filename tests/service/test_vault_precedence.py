"""What Vault answers first, and what it answers where it has no operation: the body's
JSON before the token, ``HEAD`` as an operation of its own, and the mount lookup of a
path no engine serves.

Vault parses a ``POST`` or ``PUT`` body while it builds the request, before its core reads
the token: a body that is not JSON is 400 ``error parsing JSON`` whatever the token. A
``HEAD`` is Vault's header operation, which none of the engines sealbox speaks for takes
(405 once the token is read), and which the ``sys/`` routes of their own answer only on
``sys/health``. ``sys/internal/ui/mounts/<path>`` answers a path under no mount with 403,
so that it cannot be used to list the mounts.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.service._transit import ALL_SCOPES
from tests.service._vault import token_for
from tests.service.conftest import Running

NOT_JSON = {"errors": ["error parsing JSON"]}
DENIED = {"errors": ["permission denied"]}


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    return module_service


@pytest.fixture(scope="module")
def token(service: Running) -> str:
    return token_for(service, *ALL_SCOPES, "kv:admin")


def send(
    service: Running, method: str, path: str, token: str | None, raw: bytes | None = None
) -> tuple[int, Any]:
    """(status, JSON body or None) of one request."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-Vault-Token"] = token
    with service.client() as client:
        answer = client.request(method, path, content=raw, headers=headers)
    return answer.status_code, (answer.json() if answer.content else None)


BODY_PATHS = (
    "/v1/secret/data/precedence/app",
    "/v1/secret/metadata/precedence/app",
    "/v1/transit/keys/precedence-key",
    "/v1/transit/encrypt/precedence-key",  # the lean entry hands it on
    "/v1/transit/hmac/precedence-key",
    "/v1/auth/token/renew-self",
    "/v1/nothing-mounted/here",
)


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("path", BODY_PATHS)
def test_a_body_that_is_not_json_is_refused_before_a_missing_or_bad_token_as_vault_does(
    service: Running, method: str, path: str
) -> None:
    for sent in (None, "not-a-token"):
        assert send(service, method, path, sent, b"{bad") == (400, NOT_JSON), sent


@pytest.mark.parametrize(
    "path",
    [
        "/v1/nothing-mounted/here",  # the router's 404 comes after the body
        "/v1/transit/encrypt/not a key",  # and so does the key name's 400
        "/v1/transit/keys/precedence-key/not-an-action",
    ],
)
def test_a_body_that_is_not_json_is_refused_before_the_path_is_judged(
    service: Running, token: str, path: str
) -> None:
    assert send(service, "POST", path, token, b"{bad") == (400, NOT_JSON)


def test_a_well_formed_body_without_a_token_is_still_permission_denied(
    service: Running,
) -> None:
    assert send(service, "POST", BODY_PATHS[0], None, b'{"data": {}}') == (403, DENIED)


def test_a_delete_body_is_not_read_so_its_token_is_judged_first_as_vault_does(
    service: Running,
) -> None:
    # Vault reads a DELETE's fields from its query, never from its body.
    assert send(service, "DELETE", BODY_PATHS[0], None, b"{bad") == (403, DENIED)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/secret/data/precedence/app",
        "/v1/secret/metadata/precedence/app",
        "/v1/transit/keys/precedence-key",
        "/v1/auth/token/lookup-self",
        "/v1/sys/internal/ui/mounts/secret",
    ],
)
def test_head_is_vaults_header_operation_that_these_paths_do_not_take(
    service: Running, token: str, path: str
) -> None:
    # Answered as its GET would be, a HEAD told whether a secret exists to a caller
    # whose Vault would have refused the operation.
    assert send(service, "HEAD", path, None) == (403, None)
    assert send(service, "HEAD", path, token) == (405, None)


def test_head_of_sys_health_is_its_status_and_of_the_other_open_routes_405(
    service: Running,
) -> None:
    assert send(service, "HEAD", "/v1/sys/health", None) == (200, None)
    for route in ("seal-status", "leader", "init"):
        assert send(service, "HEAD", f"/v1/sys/{route}", None) == (405, None), route


def test_the_mount_lookup_of_a_path_under_no_mount_is_403_as_vaults_preflight_check(
    service: Running, token: str
) -> None:
    assert send(service, "GET", "/v1/sys/internal/ui/mounts/other/x", token) == (
        403,
        {
            "errors": [
                (
                    "preflight capability check returned 403, please ensure client's "
                    'policies grant access to path "other/x/"'
                )
            ]
        },
    )


def test_the_mount_lookup_by_another_method_is_405_as_the_path_is_there(
    service: Running, token: str
) -> None:
    assert send(service, "POST", "/v1/sys/internal/ui/mounts/secret", token, b"{}") == (
        405,
        {"errors": ["unsupported operation"]},
    )
