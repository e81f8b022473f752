"""sealbox's auth routes inside an app that has exception handlers of its own, or none of
sealbox's: the app's handlers keep answering its own routes, and the auth routes never echo
a password or a refresh token in a validation error. The OpenAPI security scheme lists the
scopes routes require (Swagger's Authorize offers them).

The app runs its own Accounts on its own SQLite database, served by plain uvicorn over real
TLS on 127.0.0.1."""

# No `from __future__ import annotations`: the test apps' routes are closures over their
# dependencies, and FastAPI reads their annotations.

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sealbox.accounts import AccountPolicy, Accounts, Caller, make_engine, migrate
from sealbox.integrations.fastapi import (
    BearerAuth,
    accounts_bearer,
    auth_router,
    install_error_handlers,
    jwks_router,
    users_router,
)
from sealbox.jwt import SigningKeySet
from tests.service._own_app import Served, serve_in, served_over_tls

PASSWORD_CANARY = "canary-password-"
TOKEN_CANARY = "sbr_canary-refresh-"


def accounts_of(request: Request) -> Accounts:
    opened: Accounts = request.app.state.accounts
    return opened


def own_app(database: Path, *, sealbox_handlers: bool, own_handlers: bool) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(f"sqlite+aiosqlite:///{database}")
        await migrate(engine)
        app.state.accounts = await Accounts.open(
            engine, SigningKeySet.generate("EdDSA"), AccountPolicy(), password_profile="test"
        )
        yield
        await app.state.accounts.close()
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    if own_handlers:
        # As FastAPI's documentation writes them: registered before sealbox's are installed,
        # and the validation one repeating what FastAPI reports (the input included).
        @app.exception_handler(StarletteHTTPException)
        async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
            return JSONResponse({"app_error": exc.detail}, status_code=exc.status_code)

        @app.exception_handler(RequestValidationError)
        async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
            return JSONResponse({"app_invalid": exc.errors()}, status_code=400)

    if sealbox_handlers:
        install_error_handlers(app)
    auth = accounts_bearer(accounts_of)
    app.include_router(auth_router(accounts_of, bearer=auth))
    app.include_router(users_router(accounts_of, bearer=auth))
    app.include_router(jwks_router(accounts_of))

    @app.get("/items/{number}")
    async def item(number: int) -> dict[str, int]:
        if number == 0:
            raise HTTPException(404, "no such item")
        return {"number": number}

    @app.get("/orders")
    async def orders(caller: Annotated[Caller, auth.require("orders:read")]) -> dict[str, str]:
        return {"user": caller.username}

    return app


@pytest.fixture(
    scope="module",
    params=[
        pytest.param((False, False), id="fastapi-handlers"),
        pytest.param((False, True), id="app-handlers"),
        pytest.param((True, True), id="app-and-sealbox-handlers"),
    ],
)
def served(request: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    sealbox_handlers, own_handlers = request.param
    folder = tmp_path_factory.mktemp("own-handlers")
    app = own_app(folder / "app.db", sealbox_handlers=sealbox_handlers, own_handlers=own_handlers)
    yield from serve_in(app, folder)


def test_the_auth_routes_never_echo_a_password_or_refresh_token_in_a_validation_error(
    served: Served,
) -> None:
    # Too long to be taken: FastAPI's own 422 (and an app's handler repeating exc.errors())
    # would show it back as the error's "input".
    password = PASSWORD_CANARY + "x" * 5000
    refresh_token = TOKEN_CANARY + "x" * 600
    with served.client() as c:
        answers = [
            c.post("/auth/register", json={"username": "alice", "password": password}),
            c.post("/auth/refresh", json={"refresh_token": refresh_token}),
            c.post("/auth/logout", json={"refresh_token": refresh_token}),
            c.post(
                "/auth/password",
                json={"current_password": password, "new_password": password},
            ),
        ]
    register, refresh, logout, password_change = answers
    assert register.status_code == 422
    assert register.json()["error"] == "validation_error"
    assert register.json()["details"][0]["loc"] == ["body", "password"]
    assert refresh.status_code == 422
    assert refresh.headers["cache-control"] == "no-store"
    assert refresh.json()["details"][0]["loc"] == ["body", "refresh_token"]
    # Without a token: refused before the body is read.
    assert logout.status_code == password_change.status_code == 401
    for answer in answers:
        assert PASSWORD_CANARY not in answer.text
        assert TOKEN_CANARY not in answer.text


def test_the_token_endpoint_still_answers_a_malformed_form_per_rfc_6749(served: Served) -> None:
    with served.client() as c:
        answer = c.post(
            "/auth/token", data={"grant_type": "password", "password": PASSWORD_CANARY * 400}
        )
    # Its ApiError: sealbox's JSON with sealbox's handlers, FastAPI's `detail` without them.
    assert answer.status_code == 400
    assert "the request is not valid: password:" in answer.text
    if "app_error" not in answer.json():  # the app's handler sends no headers of the error
        assert answer.headers["cache-control"] == "no-store"
    assert PASSWORD_CANARY not in answer.text


@pytest.fixture(scope="module")
def with_own_handlers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("own-handlers-kept")
    yield from serve_in(
        own_app(folder / "app.db", sealbox_handlers=True, own_handlers=True), folder
    )


def test_install_error_handlers_keeps_the_handlers_the_app_registered_before_it(
    with_own_handlers: Served,
) -> None:
    with with_own_handlers.client() as c:
        missing = c.get("/items/0")
        unrouted = c.get("/nowhere")
        invalid = c.get("/items/seven")
        anonymous = c.get("/orders")
    # The app's own routes answer as the app wrote it.
    assert (missing.status_code, missing.json()) == (404, {"app_error": "no such item"})
    assert (unrouted.status_code, unrouted.json()) == (404, {"app_error": "Not Found"})
    assert invalid.status_code == 400
    assert invalid.json()["app_invalid"][0]["loc"] == ["path", "number"]
    # sealbox's refusals keep theirs: their own handler comes first.
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json()["error"] == "not_authenticated"


def test_the_routers_get_routes_answer_head_as_the_apps_own_do(served: Served) -> None:
    # docs/fastapi.md: FastAPI answers HEAD on a GET route with 405, and the routers follow
    # the app they are mounted in (`sealbox serve` answers HEAD itself, ahead of them).
    with served.client() as c:
        answers = [c.head(path) for path in ("/items/1", "/users/me", "/.well-known/jwks.json")]
        assert c.get("/.well-known/jwks.json").status_code == 200
    assert [a.status_code for a in answers] == [405] * 3
    # (The app's own handler, where it has one, sends no headers of the error.)
    assert {a.headers.get("allow", "GET") for a in answers} == {"GET"}


def openapi_of(app: FastAPI, folder: Path) -> dict[str, Any]:
    with served_over_tls(app, folder) as c:
        document: dict[str, Any] = c.get("/openapi.json").json()
    return document


def test_the_security_scheme_lists_the_scopes_routes_require(tmp_path: Path) -> None:
    app = own_app(tmp_path / "app.db", sealbox_handlers=True, own_handlers=False)
    document = openapi_of(app, tmp_path)
    scheme = document["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"] == {"tokenUrl": "/auth/token", "scopes": {"orders:read": ""}}
    assert document["paths"]["/orders"]["get"]["security"] == [
        {"OAuth2PasswordBearer": ["orders:read"]}
    ]


def test_scopes_a_bearer_describes_keep_their_description_beside_those_routes_add(
    tmp_path: Path,
) -> None:
    auth = BearerAuth(accounts_of, scopes={"invoices:read": "read the invoices"})
    app = FastAPI()

    @app.get("/invoices")
    async def invoices(
        caller: Annotated[Caller, auth.require("invoices:read", "invoices:list")],
    ) -> dict[str, str]:
        return {"user": caller.username}

    scheme = openapi_of(app, tmp_path)["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["scopes"] == {
        "invoices:read": "read the invoices",
        "invoices:list": "",
    }
