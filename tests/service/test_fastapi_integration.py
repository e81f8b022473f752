"""sealbox.integrations.fastapi in an app of one's own: a resource server that verifies the
tokens of a running sealbox service, from its JWKS URL (fetched asynchronously, CA-verified
or pinned) or from a JWKS file, over real TLS on 127.0.0.1."""

# No `from __future__ import annotations`: the test apps' routes are closures over their
# dependencies, and FastAPI reads their annotations.

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx2
import pytest
import uvicorn
from fastapi import Depends, FastAPI

from sealbox.accounts import AccessClaims
from sealbox.integrations.fastapi import (
    BearerAuth,
    LocalJWKS,
    RemoteJWKS,
    install_error_handlers,
    optional_client_certificate,
    require_client_certificate,
)
from sealbox.jwt import SigningKeySet
from sealbox.service.admin import create_user
from sealbox.tls.client import secure_client
from sealbox.tls.pinning import pin_from_file
from sealbox.tls.server_session import ClientIdentity
from tests._uvicorn import uvicorn_in_thread
from tests.service.conftest import (
    PASSWORD,
    Running,
    bearer,
    free_port,
    login,
    make_settings,
    run_service,
)


def resource_app(issuer: Running, jwks_file: Path) -> FastAPI:
    jwks_url = f"{issuer.url}/.well-known/jwks.json"
    remote = RemoteJWKS(jwks_url, issuer="sealbox", audience="sealbox", ca=issuer.ca)
    local = LocalJWKS(jwks_file, issuer="sealbox", audience="sealbox")
    by_url = BearerAuth(
        remote, token_url=f"{issuer.url}/auth/token", scopes={"orders:read": "Read orders."}
    )
    by_file = BearerAuth(local, scheme_name="file")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        for source in app.state.remote_sources:
            await source.aclose()

    app = FastAPI(lifespan=lifespan)
    app.state.remote_sources = [remote]
    install_error_handlers(app)

    def answer(claims: AccessClaims) -> dict[str, Any]:
        return {"user": claims.username, "scopes": sorted(claims.scopes), "jti": claims.jti}

    @app.get("/remote/me")
    async def remote_me(claims: Annotated[AccessClaims, Depends(by_url)]) -> dict[str, Any]:
        return answer(claims)

    @app.get("/remote/orders")
    async def remote_orders(
        claims: Annotated[AccessClaims, by_url.require("orders:read")],
    ) -> dict[str, Any]:
        return answer(claims)

    @app.get("/file/me")
    async def file_me(claims: Annotated[AccessClaims, Depends(by_file)]) -> dict[str, Any]:
        return answer(claims)

    @app.get("/certificate")
    async def certificate(
        identity: Annotated[ClientIdentity, Depends(require_client_certificate)],
    ) -> dict[str, Any]:
        return identity.to_dict()

    return app


class Served:
    def __init__(self, issuer: Running, port: int) -> None:
        self.issuer = issuer
        self.port = port

    def client(self) -> httpx2.Client:
        return secure_client(
            ca=self.issuer.ca, base_url=f"https://localhost:{self.port}", timeout=20
        )


def serve(app: FastAPI, issuer: Running) -> Iterator[Served]:
    tls = Path(issuer.settings.data_dir) / "tls"
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ssl_keyfile=str(tls / "server.key"),
        ssl_certfile=str(tls / "server.crt"),
        log_level="warning",
    )
    with uvicorn_in_thread(config, "the resource app"):
        yield Served(issuer, port)


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(tmp_path_factory.mktemp("issuer") / "data")
    with run_service(settings) as running:
        create_user(settings, "alice", lambda _name: PASSWORD, ["orders:read"])
        create_user(settings, "bob", lambda _name: PASSWORD)
        yield running


@pytest.fixture(scope="module")
def resource(issuer: Running, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("resource")
    with issuer.client() as c:
        (folder / "jwks.json").write_text(c.get("/.well-known/jwks.json").text)
    server_pin = pin_from_file(Path(issuer.settings.data_dir) / "tls" / "server.crt")
    # A pin is checked on top of the chain (here the development CA), not instead of it.
    app = resource_app(issuer, folder / "jwks.json")
    jwks_url = f"{issuer.url}/.well-known/jwks.json"
    pinned = RemoteJWKS(
        jwks_url, issuer="sealbox", audience="sealbox", ca=issuer.ca, pins=[server_pin]
    )
    wrong = RemoteJWKS(
        jwks_url,
        issuer="sealbox",
        audience="sealbox",
        ca=issuer.ca,
        pins=["sha256//" + "A" * 43 + "="],
    )
    good_pin = BearerAuth(pinned, scheme_name="pinned")
    wrong_pin = BearerAuth(wrong, scheme_name="wrongly pinned")
    app.state.remote_sources += [pinned, wrong]

    @app.get("/pinned/good")
    async def pinned_good(claims: Annotated[AccessClaims, Depends(good_pin)]) -> dict[str, str]:
        return {"user": claims.username}

    @app.get("/pinned/wrong")
    async def pinned_wrong(claims: Annotated[AccessClaims, Depends(wrong_pin)]) -> dict[str, str]:
        return {"user": claims.username}

    yield from serve(app, issuer)


def token_of(issuer: Running, name: str) -> str:
    with issuer.client() as c:
        return str(login(c, name).json()["access_token"])


def test_a_token_of_the_issuer_verifies_through_its_jwks_url_into_typed_claims(
    issuer: Running, resource: Served
) -> None:
    token = token_of(issuer, "alice")
    with resource.client() as c:
        answer = c.get("/remote/me", headers=bearer(token))
    assert answer.status_code == 200
    body = answer.json()
    assert body["user"] == "alice"
    assert body["scopes"] == ["orders:read", "users:me"]
    assert len(body["jti"]) > 10


def test_the_scope_requirement_answers_403_insufficient_scope_with_the_challenge(
    issuer: Running, resource: Served
) -> None:
    with resource.client() as c:
        allowed = c.get("/remote/orders", headers=bearer(token_of(issuer, "alice")))
        refused = c.get("/remote/orders", headers=bearer(token_of(issuer, "bob")))
        anonymous = c.get("/remote/orders")
        garbage = c.get("/remote/orders", headers=bearer("not.a.token"))
    assert allowed.status_code == 200
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "insufficient_scope",
        "message": "this needs the scope orders:read",
    }
    assert refused.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="orders:read"'
    )
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert garbage.status_code == 401
    assert garbage.json()["error"] == "invalid_token"
    assert garbage.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_a_jwks_file_verifies_the_same_tokens_and_refuses_other_keys(
    issuer: Running, resource: Served
) -> None:
    stranger = SigningKeySet.generate("EdDSA")
    forged = stranger.issue("alice", audience="sealbox", issuer="sealbox", scope="orders:read")
    with resource.client() as c:
        good = c.get("/file/me", headers=bearer(token_of(issuer, "alice")))
        bad = c.get("/file/me", headers=bearer(forged))
    assert good.json()["user"] == "alice"
    assert bad.status_code == 401
    assert bad.json() == {"error": "invalid_token", "message": "the access token is not valid"}


def test_the_issuer_and_audience_are_required(issuer: Running, tmp_path: Path) -> None:
    keys = SigningKeySet.generate("EdDSA")
    (tmp_path / "jwks.json").write_text(json.dumps(keys.public_jwks()))
    source = LocalJWKS(tmp_path / "jwks.json", issuer="sealbox", audience="sealbox")
    right = keys.issue("u", audience="sealbox", issuer="sealbox")
    other_audience = keys.issue("u", audience="billing", issuer="sealbox")
    no_issuer = keys.issue("u", audience="sealbox")

    async def check() -> list[str]:
        results = [(await source.authenticate(right)).username]
        for token in (other_audience, no_issuer):
            try:
                await source.authenticate(token)
                results.append("accepted")
            except Exception as exc:  # noqa: BLE001 - the test records which
                results.append(type(exc).__name__)
        return results

    assert asyncio.run(check()) == ["u", "TokenError", "TokenError"]


def test_a_pinned_jwks_url_fetches_only_from_the_pinned_key(
    issuer: Running, resource: Served
) -> None:
    token = token_of(issuer, "alice")
    with resource.client() as c:
        good = c.get("/pinned/good", headers=bearer(token))
        wrong = c.get("/pinned/wrong", headers=bearer(token))
    assert good.json() == {"user": "alice"}
    # The issuer's key is refused, not the token: the route cannot check it right now.
    assert wrong.status_code == 503
    assert wrong.json()["error"] == "keys_unavailable"


def test_the_openapi_document_has_the_password_flow_and_the_route_scopes(
    issuer: Running, resource: Served
) -> None:
    with resource.client() as c:
        spec = c.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == f"{issuer.url}/auth/token"
    assert scheme["flows"]["password"]["scopes"] == {"orders:read": "Read orders."}
    assert spec["paths"]["/remote/orders"]["get"]["security"] == [
        {"OAuth2PasswordBearer": ["orders:read"]}
    ]
    assert spec["paths"]["/remote/me"]["get"]["security"] == [{"OAuth2PasswordBearer": []}]


def test_the_client_certificate_dependency_refuses_a_connection_without_one(
    resource: Served,
) -> None:
    # Plain uvicorn tells the app nothing of a client certificate: no identity.
    with resource.client() as c:
        answer = c.get("/certificate")
    assert answer.status_code == 403
    assert answer.json()["error"] == "client_certificate_required"


def test_the_client_certificate_dependency_reads_the_asgi_tls_extension(
    issuer: Running,
) -> None:
    # A server that implements the ASGI TLS extension hands the verified chain over in
    # the scope; hand the app such a scope, with a certificate the issuer's CA made.
    from sealbox.tls.ca import CertificateAuthority

    ca = CertificateAuthority.load(Path(issuer.settings.data_dir) / "tls")
    pem = ca.issue_client("worker-7").certificate_pem().decode()
    app = FastAPI()

    @app.get("/who")
    async def who(
        identity: Annotated[ClientIdentity | None, Depends(optional_client_certificate)],
    ) -> dict[str, Any]:
        return {"cn": identity.common_name if identity else None}

    async def call(extensions: dict[str, Any]) -> dict[str, Any]:
        sent: list[dict[str, Any]] = []
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "https",
            "path": "/who",
            "raw_path": b"/who",
            "query_string": b"",
            "headers": [],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 443),
            "extensions": extensions,
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return json.loads(b"".join(m.get("body", b"") for m in sent))

    assert asyncio.run(call({"tls": {"client_cert_chain": [pem]}})) == {"cn": "worker-7"}
    assert asyncio.run(call({})) == {"cn": None}
