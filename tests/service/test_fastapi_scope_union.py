"""A route that asks one bearer for scopes in several places (two ``Security(auth, …)``
parameters, two ``auth.require(…)``, or both): a token lacking any of them is refused with
RFC 6750 §3.1's challenge naming every scope the route needs, not only those of the check
that failed, so a client asking for what the challenge names gets a token that passes.
The app is served by uvicorn over real TLS on 127.0.0.1."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.

from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Security

from sealbox.accounts import AccessClaims
from sealbox.integrations.fastapi import BearerAuth, LocalJWKS, install_error_handlers
from sealbox.jwt import SigningKeySet
from tests.service._own_app import Served, serve_in
from tests.service.conftest import bearer

ISSUER = "https://issuer.test"
AUDIENCE = "orders-api"
KEYS = SigningKeySet.generate("EdDSA")


def issue(scope: str) -> str:
    return KEYS.issue("alice", audience=AUDIENCE, issuer=ISSUER, scope=scope)


def union_app() -> FastAPI:
    auth = BearerAuth(LocalJWKS(KEYS, issuer=ISSUER, audience=AUDIENCE))
    other = BearerAuth(LocalJWKS(KEYS, issuer=ISSUER, audience=AUDIENCE))
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/security")
    async def security(
        reader: Annotated[AccessClaims, Security(auth, scopes=["orders:read"])],
        writer: Annotated[AccessClaims, Security(auth, scopes=["orders:write"])],
    ) -> dict[str, str]:
        return {"user": reader.username}

    @app.get("/required")
    async def required(
        reader: Annotated[AccessClaims, auth.require("orders:read")],
        writer: Annotated[AccessClaims, auth.require("orders:write")],
    ) -> dict[str, str]:
        return {"user": reader.username}

    @app.get("/mixed")
    def mixed(  # a sync route: the dependencies are solved the same way
        reader: Annotated[AccessClaims, auth.require("orders:read")],
        writer: Annotated[AccessClaims, Security(auth, scopes=["orders:write"])],
        plain: Annotated[AccessClaims, Depends(auth)],
    ) -> dict[str, str]:
        return {"user": plain.username}

    # Another bearer's scopes are that bearer's to name.
    @app.get("/two-bearers")
    async def two_bearers(
        reader: Annotated[AccessClaims, auth.require("orders:read")],
        audit: Annotated[AccessClaims, other.require("audit:read")],
    ) -> dict[str, str]:
        return {"user": reader.username}

    return app


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve_in(union_app(), tmp_path_factory.mktemp("tls"))


@pytest.mark.parametrize("path", ["/security", "/required", "/mixed"])
@pytest.mark.parametrize("held", ["", "orders:read", "orders:write"])
def test_the_challenge_names_every_scope_the_route_needs_of_the_bearer(
    served: Served, path: str, held: str
) -> None:
    with served.client() as c:
        refused = c.get(path, headers=bearer(issue(held)))
        assert refused.status_code == 403
        assert refused.json()["error"] == "insufficient_scope"
        assert refused.headers["WWW-Authenticate"] == (
            'Bearer error="insufficient_scope", scope="orders:read orders:write"'
        )
        # What the challenge named is enough.
        passed = c.get(path, headers=bearer(issue("orders:read orders:write")))
    assert (passed.status_code, passed.json()) == (200, {"user": "alice"})


def test_another_bearers_scopes_are_not_named_in_this_ones_challenge(served: Served) -> None:
    with served.client() as c:
        refused = c.get("/two-bearers", headers=bearer(issue("audit:read")))
        assert refused.headers["WWW-Authenticate"] == (
            'Bearer error="insufficient_scope", scope="orders:read"'
        )
        refused = c.get("/two-bearers", headers=bearer(issue("orders:read")))
        assert refused.headers["WWW-Authenticate"] == (
            'Bearer error="insufficient_scope", scope="audit:read"'
        )
