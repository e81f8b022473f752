"""The token endpoint of ``auth_router`` answers RFC 6749 §5.2 errors (``error``,
``error_description``, no-store) in an app that never called ``install_error_handlers``,
as its OpenAPI entry says, not FastAPI's ``{"detail": …}``; and it and ``/auth/register``
answer 503 ``store_unavailable`` when their Redis is gone, not a 500, never stored. Plain uvicorn over real TLS on 127.0.0.1, real SQLite,
real Redis reached through a forwarder the test cuts."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.

from pathlib import Path

import pytest

from tests._tcp_proxy import Proxy
from tests.service._own_app import accounts_lifespan, auth_app, served_over_tls
from tests.service.conftest import PASSWORD


@pytest.mark.parametrize("handlers", [False, True], ids=["plain-fastapi", "sealbox-handlers"])
def test_token_endpoint_errors_are_rfc6749_whatever_the_app_handlers(
    tmp_path: Path, redis_proxy: tuple[Proxy, str], handlers: bool
) -> None:
    proxy, prefix = redis_proxy
    lifespan = accounts_lifespan(
        f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}",
        redis_url=f"redis://127.0.0.1:{proxy.port}/15",
        redis_prefix=prefix,
        users=["alice"],
    )
    app = auth_app(lifespan, handlers=handlers)
    wrong = {"username": "alice", "password": "not the password at all"}
    with served_over_tls(app, tmp_path) as c:
        answers = {
            "invalid_grant": c.post("/auth/token", data=wrong),
            "unsupported_grant_type": c.post("/auth/token", data={"grant_type": "implicit"}),
            "invalid_request": c.post("/auth/token", json=wrong),
            "invalid_client": c.post(
                "/auth/token", data={"grant_type": "client_credentials"}, auth=("nobody", "x")
            ),
        }
        schema = c.get("/openapi.json").json()
        proxy.cut()
        try:
            gone = [
                c.post("/auth/token", data=wrong),  # an attempt Redis must count
                c.post("/auth/register", json={"username": "bob", "password": PASSWORD}),
            ]
        finally:
            proxy.restore()
    # What the OpenAPI entry promises for the endpoint's 4XX answers.
    body = schema["paths"]["/auth/token"]["post"]["responses"]["4XX"]["content"]
    assert body["application/json"]["schema"]["$ref"].endswith("/OAuthErrorBody")
    for code, answer in answers.items():
        said = answer.json()
        assert said["error"] == code, answer.text
        assert said["error_description"], answer.text
        assert "detail" not in said
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["pragma"] == "no-cache"
        assert wrong["password"] not in answer.text
    assert answers["invalid_grant"].status_code == 400
    assert answers["invalid_client"].status_code == 401
    assert answers["invalid_client"].headers["www-authenticate"].startswith("Basic ")
    # A 503, never stored (RFC 6749 §5.1), on the token endpoint and on /auth/register.
    for answer in gone:
        assert answer.status_code == 503, answer.text
        said = answer.json()
        assert "Redis did not answer" in (said["message"] if "message" in said else said["detail"])
        assert answer.headers["retry-after"] == "5"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["pragma"] == "no-cache"
        assert str(proxy.port) not in answer.text
        assert wrong["password"] not in answer.text
        assert PASSWORD not in answer.text
    assert gone[0].json()["error"] == "store_unavailable"
