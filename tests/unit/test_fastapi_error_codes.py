"""The errors of an app using sealbox.integrations.fastapi: the stable code of its own
``HTTPException`` (``install_error_handlers``), and the token endpoint's errors in OpenAPI."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.

import asyncio

import httpx2
import pytest
from fastapi import FastAPI, HTTPException

from sealbox.integrations.fastapi import install_error_handlers


def _answer(status: int) -> httpx2.Response:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/refused")
    async def refused() -> None:
        raise HTTPException(status, "not your order")

    async def call() -> httpx2.Response:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="https://app") as c:
            return await c.get("/refused")

    return asyncio.run(call())


def test_an_apps_own_403_is_forbidden_not_a_missing_scope() -> None:
    answer = _answer(403)
    assert answer.status_code == 403
    # RFC 6750 §3.1 keeps insufficient_scope for a token that lacks a scope, with a challenge.
    assert answer.json() == {"error": "forbidden", "message": "not your order"}
    assert "www-authenticate" not in answer.headers


@pytest.mark.parametrize(
    ("status", "code"), [(401, "not_authenticated"), (404, "not_found"), (429, "too_many_requests")]
)
def test_an_apps_own_http_exception_keeps_its_status_and_gets_its_code(
    status: int, code: str
) -> None:
    answer = _answer(status)
    assert answer.status_code == status
    assert answer.json()["error"] == code


@pytest.mark.parametrize("status", [500, 502, 503])
def test_an_apps_own_5xx_is_an_internal_error_not_the_clients_invalid_request(
    status: int,
) -> None:
    # `raise HTTPException(503, "the database is down")` was answered invalid_request:
    # a client reading the code would change its request instead of trying again.
    answer = _answer(status)
    assert answer.status_code == status
    assert answer.json() == {"error": "internal_error", "message": "not your order"}


def _crash(**options: bool) -> httpx2.Response:
    app = FastAPI()
    install_error_handlers(app, **options)

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("canary-internal-detail")

    async def call() -> httpx2.Response:
        # Starlette raises the exception again once it is answered (for the server's log).
        transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx2.AsyncClient(transport=transport, base_url="https://app") as c:
            return await c.get("/crash")

    return asyncio.run(call())


def test_an_unhandled_exception_is_the_json_internal_error_without_its_text() -> None:
    answer = _crash()
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal_error", "message": "internal error"}
    assert "canary-internal-detail" not in answer.text
    # An app whose own middleware answers them keeps Starlette's answer.
    kept = _crash(internal_errors=False)
    assert kept.status_code == 500 and kept.text == "Internal Server Error"


def test_the_openapi_document_shows_the_token_endpoints_errors_as_rfc_6749_errors() -> None:
    from sealbox.integrations.fastapi import auth_router

    app = FastAPI()
    app.include_router(auth_router(lambda _request: None))
    spec = app.openapi()
    token = spec["paths"]["/auth/token"]["post"]["responses"]
    # Its malformed forms are 400 invalid_request: FastAPI's 422 is never answered there.
    assert set(token) == {"200", "4XX"}
    body = token["4XX"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(spec["components"]["schemas"][body]["properties"]) == {
        "error",
        "error_description",
        "message",
    }
