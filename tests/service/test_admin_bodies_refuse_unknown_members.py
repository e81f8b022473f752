"""The ``/users`` and ``/clients`` admin routes refuse a JSON body with a member they do not
know, as the transit key admin routes do: 422 ``validation_error`` naming the member (never
its value), and nothing changed. A misspelt member would otherwise be dropped and the rest
acted on: ``{"revoke-tokens": true}`` would rotate a secret and leave the old tokens live,
``{"scope": [...]}`` register a client holding nothing. Real service over HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sealbox.service.admin import create_user
from tests.service._oauth import AuthServer, auth_server
from tests.service.conftest import PASSWORD, bearer, login, register

CANARY = "canary-unknown-member-7d1e"


@pytest.fixture(scope="module")
def authz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("admin-bodies")) as server:
        create_user(
            server.svc.settings,
            "root",
            lambda _name: PASSWORD,
            ["users:admin", "clients:admin", "orders:read"],
        )
        with server.client() as c:
            assert register(c, "lena").status_code == 201
        server.register("reporter", "orders:read")
        yield server


@pytest.mark.parametrize(
    ("path", "body", "member"),
    [
        ("/users/lena/scopes", {"scopes": ["orders:read"], "also": CANARY}, "also"),
        ("/users/lena/password", {"password": CANARY, "Password": CANARY}, "Password"),
        ("/users/import", {"users": [], "skipInvalid": True}, "skipInvalid"),
        ("/clients", {"name": "billing", "scope": [CANARY]}, "scope"),
        ("/clients/reporter/scopes", {"scopes": ["orders:read"], "also": CANARY}, "also"),
        ("/clients/reporter/rotate-secret", {"revoke-tokens": True}, "revoke-tokens"),
    ],
)
def test_an_admin_body_with_an_unknown_member_is_refused_and_changes_nothing(
    authz: AuthServer, path: str, body: dict[str, Any], member: str
) -> None:
    with authz.client() as c:
        admin = bearer(login(c, "root").json()["access_token"])
        before = (c.get("/users", headers=admin).json(), c.get("/clients", headers=admin).json())
        r = c.post(path, json=body, headers=admin)
        after = (c.get("/users", headers=admin).json(), c.get("/clients", headers=admin).json())
        still = login(c, "lena")
    assert r.status_code == 422, r.text
    answer = r.json()
    assert answer["error"] == "validation_error"
    assert ["body", member] in [d["loc"] for d in answer["details"]], answer
    assert CANARY not in r.text
    assert after == before
    assert still.status_code == 200, still.text  # the password was not reset


def test_the_openapi_document_shows_the_admin_bodies_take_no_other_member(
    authz: AuthServer,
) -> None:
    with authz.client() as c:
        schemas = c.get("/openapi.json").json()["components"]["schemas"]
    # Two models named alike get their module's path in their name.
    admin_bodies = [
        name
        for name in schemas
        if name in {"ImportIn", "NewClient", "SecretRotation"}
        or name.startswith(
            ("sealbox__service__routes__admin_users__", "sealbox__service__routes__oauth__")
        )
    ]
    assert len(admin_bodies) == 6, admin_bodies
    for name in admin_bodies:
        assert schemas[name].get("additionalProperties") is False, name
