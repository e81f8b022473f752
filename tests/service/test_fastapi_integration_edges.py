"""sealbox.integrations.fastapi as an outside user embeds it in an app of their own: scopes
asked for FastAPI's way, websocket routes, an app without sealbox's error handlers, an
issuer's JWKS server that is down or slow, and client certificates the server did not
verify. The apps are served by uvicorn over real TLS on 127.0.0.1, the JWKS server is a
real HTTPS server there; tokens come from a signing keyset of the test's own."""

# No `from __future__ import annotations`: the test apps' routes are closures over their
# dependencies, and FastAPI reads their annotations.

import asyncio
import base64
import dataclasses
import gc
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Security, WebSocket

from sealbox.accounts import AccessClaims
from sealbox.exceptions import TokenError
from sealbox.integrations.fastapi import (
    BearerAuth,
    LocalJWKS,
    RemoteJWKS,
    install_error_handlers,
    optional_client_certificate,
    require_client_certificate,
)
from sealbox.jwt import SigningKeySet
from sealbox.tls.ca import CertificateAuthority
from sealbox.tls.server_session import ClientIdentity
from tests.service._own_app import Served, serve
from tests.service.conftest import bearer, free_port
from tests.unit.test_jwt_remote import JWKSServer, _Handler, https_jwks_server, make_tls, url

ISSUER = "https://issuer.test"
AUDIENCE = "orders-api"
KEYS = SigningKeySet.generate("EdDSA")


def issue(subject: str = "alice", scope: str = "", keys: SigningKeySet = KEYS) -> str:
    return keys.issue(subject, audience=AUDIENCE, issuer=ISSUER, scope=scope)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The CA file and the server's certificate chain with its key (for 127.0.0.1)."""
    folder = tmp_path_factory.mktemp("tls")
    _context, ca = make_tls(folder)
    return ca, folder / "server.pem"


@pytest.fixture
def jwks_server(tls: tuple[Path, Path]) -> Iterator[JWKSServer]:
    with https_jwks_server(tls[1]) as srv:
        yield srv


# --- scopes asked for FastAPI's way --------------------------------------------------


def scoped_app(handlers: bool = True) -> FastAPI:
    auth = BearerAuth(LocalJWKS(KEYS, issuer=ISSUER, audience=AUDIENCE))
    app = FastAPI()
    if handlers:
        install_error_handlers(app)

    async def current_user(claims: Annotated[AccessClaims, Depends(auth)]) -> AccessClaims:
        return claims

    @app.get("/security")
    async def security(
        claims: Annotated[AccessClaims, Security(auth, scopes=["orders:read"])],
    ) -> dict[str, str]:
        return {"user": claims.username}

    # FastAPI's tutorial shape: the scopes on a dependency of the user's that takes the bearer.
    @app.get("/nested")
    async def nested(
        claims: Annotated[AccessClaims, Security(current_user, scopes=["orders:write"])],
    ) -> dict[str, str]:
        return {"user": claims.username}

    @app.get("/required")
    async def required(
        claims: Annotated[AccessClaims, auth.require("orders:read")],
    ) -> dict[str, str]:
        return {"user": claims.username}

    @app.get("/plain")
    async def plain(claims: Annotated[AccessClaims, Depends(auth)]) -> dict[str, str]:
        return {"user": claims.username}

    return app


@pytest.fixture(scope="module")
def scoped(tls: tuple[Path, Path]) -> Iterator[Served]:
    yield from serve(scoped_app(), *tls)


def test_scopes_given_to_security_around_the_bearer_are_required(scoped: Served) -> None:
    # The OpenAPI document says these routes need the scopes: a token without them must
    # not pass (it did: only auth.require() checked scopes).
    reader = issue(scope="orders:read")
    with scoped.client() as c:
        allowed = c.get("/security", headers=bearer(reader))
        refused = c.get("/security", headers=bearer(issue(scope="users:me")))
        nested_refused = c.get("/nested", headers=bearer(reader))
        nested_allowed = c.get("/nested", headers=bearer(issue(scope="orders:write")))
        plain = c.get("/plain", headers=bearer(issue()))
        spec = c.get("/openapi.json").json()
    assert allowed.json() == {"user": "alice"}
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "insufficient_scope",
        "message": "this needs the scope orders:read",
    }
    assert refused.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="orders:read"'
    )
    assert nested_refused.status_code == 403
    assert nested_refused.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="orders:write"'
    )
    assert nested_allowed.json() == {"user": "alice"}
    assert plain.json() == {"user": "alice"}
    assert spec["paths"]["/security"]["get"]["security"] == [
        {"OAuth2PasswordBearer": ["orders:read"]}
    ]
    assert spec["paths"]["/nested"]["get"]["security"] == [
        {"OAuth2PasswordBearer": ["orders:write"]}
    ]
    # FastAPI's own parameters of the dependency are not the route's.
    assert "parameters" not in spec["paths"]["/security"]["get"]


def test_a_named_requirement_declares_its_scope_to_fastapi_and_still_serves_any_dependency(
    tls: tuple[Path, Path],
) -> None:
    auth = BearerAuth(LocalJWKS(KEYS, issuer=ISSUER, audience=AUDIENCE))
    needed = auth.require("orders:read")
    if not dataclasses.is_dataclass(needed) or not hasattr(needed, "scope"):
        pytest.skip("this FastAPI has no dependency scopes (they came after 0.115)")
    # Declared, FastAPI need not work the scope out again on every guarded request.
    assert needed.scope == "request"
    app = FastAPI()
    install_error_handlers(app)
    closed: list[str] = []

    # A yielding dependency of the app's, closed as soon as the route returns, that takes
    # the caller: FastAPI refuses a "request" dependency under a "function" one only when
    # the one beneath yields, and the bearer does not.
    async def session(caller: Annotated[AccessClaims, needed]) -> AsyncIterator[str]:
        yield caller.username
        closed.append(caller.username)

    @app.get("/orders")
    async def orders(user: Annotated[str, Depends(session, scope="function")]) -> dict[str, str]:
        return {"user": user}

    with contextmanager(serve)(app, *tls) as served, served.client() as c:
        allowed = c.get("/orders", headers=bearer(issue(scope="orders:read")))
        refused = c.get("/orders", headers=bearer(issue(scope="users:me")))
        spec = c.get("/openapi.json").json()
    assert allowed.json() == {"user": "alice"}
    assert closed == ["alice"]
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert spec["paths"]["/orders"]["get"]["security"] == [
        {"OAuth2PasswordBearer": ["orders:read"]}
    ]


@pytest.mark.parametrize("value", ["Bearer   ", "Bearer \t ", "Bearer"])
def test_a_bearer_scheme_followed_by_spaces_alone_is_no_token_not_an_invalid_one(
    value: str,
) -> None:
    # RFC 6750 §3.1: a request without a token gets the bare challenge, no error code;
    # "Bearer   " was answered invalid_token, for a token the client never sent.
    from starlette.requests import Request

    from sealbox.integrations.fastapi import ApiError

    auth = BearerAuth(LocalJWKS(KEYS, issuer=ISSUER, audience=AUDIENCE))
    scope = {"type": "http", "headers": [(b"authorization", value.encode())]}
    with pytest.raises(ApiError) as refused:
        asyncio.run(auth(Request(scope)))
    assert refused.value.status_code == 401
    assert refused.value.code == "not_authenticated"
    assert refused.value.headers == {"WWW-Authenticate": "Bearer"}
    padded = {"type": "http", "headers": [(b"authorization", f"bearer  {issue()} ".encode())]}
    assert asyncio.run(auth(Request(padded))).username == "alice"


@pytest.fixture(scope="module")
def without_handlers(tls: tuple[Path, Path]) -> Iterator[Served]:
    yield from serve(scoped_app(handlers=False), *tls)


def test_without_sealboxs_error_handlers_refusals_keep_their_status_and_challenge(
    without_handlers: Served,
) -> None:
    # An app that never called install_error_handlers(app): FastAPI's own answer to an
    # HTTPException, not a 500 for every request without a token.
    with without_handlers.client() as c:
        anonymous = c.get("/plain")
        garbage = c.get("/plain", headers=bearer("not.a.token"))
        unscoped = c.get("/required", headers=bearer(issue()))
        allowed = c.get("/required", headers=bearer(issue(scope="orders:read")))
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json() == {"detail": "a bearer access token is required"}
    assert garbage.status_code == 401
    assert garbage.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert unscoped.status_code == 403
    assert unscoped.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="orders:read"'
    )
    assert allowed.json() == {"user": "alice"}


def test_dependency_overrides_replace_the_bearer_and_a_named_requirement(
    tls: tuple[Path, Path],
) -> None:
    # As docs/fastapi.md tells a user's tests to do it.
    auth = BearerAuth(LocalJWKS(KEYS, issuer=ISSUER, audience=AUDIENCE))
    orders_read = auth.require("orders:read")
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/plain")
    async def plain(claims: Annotated[AccessClaims, Depends(auth)]) -> dict[str, str]:
        return {"user": claims.username}

    @app.get("/security")
    async def security(
        claims: Annotated[AccessClaims, Security(auth, scopes=["admin"])],
    ) -> dict[str, str]:
        return {"user": claims.username}

    @app.get("/named")
    async def named(claims: Annotated[AccessClaims, orders_read]) -> dict[str, str]:
        return {"user": claims.username}

    @app.get("/unnamed")
    async def unnamed(
        claims: Annotated[AccessClaims, auth.require("orders:read")],
    ) -> dict[str, str]:
        return {"user": claims.username}

    tester = AccessClaims(
        username="tester", scopes=frozenset(), jti="t", expires=time.time() + 60, claims={}
    )
    app.dependency_overrides[auth] = lambda: tester
    app.dependency_overrides[orders_read.dependency] = lambda: tester
    with contextmanager(serve)(app, *tls) as served, served.client() as c:
        answers = {path: c.get(path) for path in ("/plain", "/security", "/named", "/unnamed")}
    assert {p: a.json() for p, a in answers.items() if a.status_code == 200} == {
        "/plain": {"user": "tester"},
        "/security": {"user": "tester"},
        "/named": {"user": "tester"},
    }
    assert answers["/unnamed"].status_code == 401


# --- websocket routes ------------------------------------------------------------------
# The uvicorn here has no websocket implementation installed (neither websockets nor
# wsproto): the app is handed a websocket scope directly, as a server hands it over.


def websocket_app() -> FastAPI:
    auth = BearerAuth(LocalJWKS(KEYS, issuer=ISSUER, audience=AUDIENCE))
    app = FastAPI()
    install_error_handlers(app)
    live = APIRouter(prefix="/live")

    @live.websocket("/orders")
    async def orders(
        websocket: WebSocket, claims: Annotated[AccessClaims, auth.require("orders:read")]
    ) -> None:
        await websocket.accept()
        await websocket.send_text(claims.username)
        await websocket.close()

    @live.websocket("/me")
    async def me(websocket: WebSocket, claims: Annotated[AccessClaims, Depends(auth)]) -> None:
        await websocket.accept()
        await websocket.send_text(claims.username)
        await websocket.close()

    @live.websocket("/peer")
    async def peer(
        websocket: WebSocket,
        identity: Annotated[ClientIdentity | None, Depends(optional_client_certificate)],
    ) -> None:
        await websocket.accept()
        await websocket.send_text(identity.common_name if identity else "none")
        await websocket.close()

    @live.websocket("/worker")
    async def worker(
        websocket: WebSocket,
        identity: Annotated[ClientIdentity, Depends(require_client_certificate)],
    ) -> None:
        await websocket.accept()
        await websocket.send_text(identity.common_name)
        await websocket.close()

    app.include_router(live, prefix="/v1")
    return app


def connect(app: FastAPI, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """What the app sends on a websocket connection to ``path`` (denial responses allowed)."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "wss",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 443),
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def denial(sent: list[dict[str, Any]]) -> tuple[int, dict[str, str], dict[str, Any]]:
    start, *bodies = sent
    assert start["type"] == "websocket.http.response.start"
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, json.loads(b"".join(b.get("body", b"") for b in bodies))


def test_the_bearer_guards_websocket_routes_of_a_prefixed_router() -> None:
    app = websocket_app()
    accepted = connect(app, "/v1/live/orders", bearer(issue(scope="orders:read")))
    assert [m["type"] for m in accepted] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    assert accepted[1]["text"] == "alice"
    assert connect(app, "/v1/live/me", bearer(issue("bob")))[1]["text"] == "bob"
    # Refusals are the HTTP answers of the handshake (the ASGI denial response).
    status, headers, body = denial(connect(app, "/v1/live/me", {}))
    assert (status, body["error"]) == (401, "not_authenticated")
    assert headers["www-authenticate"] == "Bearer"
    status, headers, body = denial(connect(app, "/v1/live/me", bearer("not.a.token")))
    assert (status, body["error"]) == (401, "invalid_token")
    status, headers, body = denial(connect(app, "/v1/live/orders", bearer(issue())))
    assert (status, body["error"]) == (403, "insufficient_scope")
    assert headers["www-authenticate"] == ('Bearer error="insufficient_scope", scope="orders:read"')


def test_the_client_certificate_dependencies_work_on_websocket_routes() -> None:
    ca = CertificateAuthority.generate(name="edge test CA")
    pem = ca.issue_client("worker-9").certificate_pem().decode()
    app = websocket_app()

    def with_tls(path: str, chain: list[str]) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "wss",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 443),
            "subprotocols": [],
            "extensions": {
                "websocket.http.response": {},
                "tls": {"client_cert_chain": chain, "client_cert_error": None},
            },
        }
        incoming = [{"type": "websocket.connect"}]

        async def receive() -> dict[str, Any]:
            return incoming.pop(0) if incoming else {"type": "websocket.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        asyncio.run(app(scope, receive, send))
        return sent

    assert with_tls("/v1/live/peer", [pem])[1]["text"] == "worker-9"
    assert with_tls("/v1/live/peer", [])[1]["text"] == "none"
    assert with_tls("/v1/live/worker", [pem])[1]["text"] == "worker-9"
    status, _headers, body = denial(with_tls("/v1/live/worker", []))
    assert (status, body["error"]) == (403, "client_certificate_required")


# --- client certificates the server did not verify ------------------------------------


def test_a_client_certificate_the_server_failed_to_verify_is_no_identity() -> None:
    # The ASGI TLS extension: a server configured to let the connection through anyway
    # passes the chain with client_cert_error set. It is not a verified certificate.
    stranger = CertificateAuthority.generate(name="not the server CA")
    pem = stranger.issue_client("trusted-worker").certificate_pem().decode()
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/who")
    async def who(
        identity: Annotated[ClientIdentity | None, Depends(optional_client_certificate)],
    ) -> dict[str, Any]:
        return {"cn": identity.common_name if identity else None}

    @app.get("/jobs")
    async def jobs(
        identity: Annotated[ClientIdentity, Depends(require_client_certificate)],
    ) -> dict[str, Any]:
        return {"cn": identity.common_name}

    def call(path: str, tls: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "https",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 443),
            "extensions": {"tls": tls},
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        asyncio.run(app(scope, receive, send))
        return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent))

    failed = {"client_cert_chain": [pem], "client_cert_error": "unable to get local issuer"}
    assert call("/who", failed) == (200, {"cn": None})
    status, body = call("/jobs", failed)
    assert (status, body["error"]) == (403, "client_certificate_required")
    verified = {"client_cert_chain": [pem], "client_cert_error": None}
    assert call("/who", verified) == (200, {"cn": "trusted-worker"})
    assert call("/jobs", {"client_cert_chain": [pem]}) == (200, {"cn": "trusted-worker"})


# --- an issuer's JWKS server that is down or slow --------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_concurrent_requests_share_one_failed_first_fetch(
    jwks_server: JWKSServer, tls: tuple[Path, Path]
) -> None:
    # The issuer is down when the app starts: the requests that arrive together wait for
    # one fetch and share its outcome, instead of each fetching in turn (each waiting for
    # every fetch before its own: a black-holed issuer held the last one N timeouts).
    jwks_server.status = 503
    entered, release = threading.Event(), threading.Event()
    original = _Handler.do_GET

    def stalled_get(handler: _Handler) -> None:
        entered.set()
        release.wait(30)
        original(handler)

    async def run() -> list[Any]:
        source = RemoteJWKS(url(jwks_server), issuer=ISSUER, audience=AUDIENCE, ca=tls[0])
        tokens = [issue(f"user-{n}") for n in range(12)]
        tasks = [asyncio.ensure_future(source.authenticate(t)) for t in tokens]
        # Every request is waiting once the first one's fetch reached the server.
        assert await asyncio.to_thread(entered.wait, 10)
        release.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await source.aclose()
        return results

    _Handler.do_GET = stalled_get
    try:
        results = asyncio.run(run())
    finally:
        release.set()
        _Handler.do_GET = original
    assert jwks_server.hits == 1
    assert all(isinstance(r, TokenError) for r in results)
    assert {r.code for r in results} == {"jwks_unreachable"}


def test_a_slow_refresh_holds_up_only_the_requests_that_need_it(
    jwks_server: JWKSServer, tls: tuple[Path, Path]
) -> None:
    # The cached set has expired and the issuer is slow to answer: requests whose key is
    # in the cached set go on with it, rather than all wait for the fetch (up to its
    # timeout, each time the set expires).
    jwks_server.publish(KEYS)
    clock = Clock()
    entered, release = threading.Event(), threading.Event()
    original = _Handler.do_GET

    def stalled_get(handler: _Handler) -> None:
        entered.set()
        release.wait(30)
        original(handler)

    async def run() -> None:
        source = RemoteJWKS(
            url(jwks_server), issuer=ISSUER, audience=AUDIENCE, ca=tls[0], clock=clock
        )
        assert (await source.authenticate(issue("first"))).username == "first"
        clock.now += 301  # past the 5 minutes the set is kept
        _Handler.do_GET = stalled_get
        refreshing = asyncio.ensure_future(source.authenticate(issue("refreshing")))
        assert await asyncio.to_thread(entered.wait, 10)
        # The fetch is under way and stalled: a token of a cached key passes meanwhile.
        claims = await asyncio.wait_for(source.authenticate(issue("meanwhile")), 10)
        assert claims.username == "meanwhile"
        assert not refreshing.done()
        release.set()
        assert (await refreshing).username == "refreshing"
        await source.aclose()

    try:
        asyncio.run(run())
    finally:
        release.set()
        _Handler.do_GET = original
    assert jwks_server.hits == 2


def test_a_flood_of_unknown_key_ids_makes_one_fetch(
    jwks_server: JWKSServer, tls: tuple[Path, Path]
) -> None:
    # Tokens of another issuer's keys (key ids the set lacks), many at once, at start-up
    # and again with the set cached: one fetch, then none within min_refresh_interval.
    jwks_server.publish(KEYS)
    strangers = [SigningKeySet.generate("EdDSA") for _ in range(3)]

    async def run() -> list[Any]:
        source = RemoteJWKS(url(jwks_server), issuer=ISSUER, audience=AUDIENCE, ca=tls[0])
        forged = [issue(f"u{n}", keys=strangers[n % 3]) for n in range(30)]
        first = await asyncio.gather(
            *(source.authenticate(t) for t in forged), return_exceptions=True
        )
        again = await asyncio.gather(
            *(source.authenticate(t) for t in forged), return_exceptions=True
        )
        assert (await source.authenticate(issue())).username == "alice"
        await source.aclose()
        return first + again

    results = asyncio.run(run())
    assert jwks_server.hits == 1
    assert {type(r).__name__ for r in results} == {"TokenError"}
    assert {str(r) for r in results} == {"the access token is not valid"}


def test_an_issuer_whose_keys_cannot_be_fetched_is_a_503_not_a_401_or_500(
    jwks_server: JWKSServer, tls: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    # The token may be good: a 401 would have clients drop it and sign in again just when
    # the issuer cannot answer. Junk for a key set, nothing listening, a key no pin fits.
    jwks_server.body = b"<html>502 Bad Gateway</html>"
    junk = RemoteJWKS(url(jwks_server), issuer=ISSUER, audience=AUDIENCE, ca=tls[0])
    closed = f"https://127.0.0.1:{free_port()}/.well-known/jwks.json"
    nothing = RemoteJWKS(closed, issuer=ISSUER, audience=AUDIENCE, ca=tls[0])
    other_key = "sha256//" + base64.b64encode(bytes(32)).decode()
    pinned = RemoteJWKS(
        url(jwks_server), issuer=ISSUER, audience=AUDIENCE, ca=tls[0], pins=[other_key]
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        for source in (junk, nothing, pinned):
            await source.aclose()

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)
    by_junk, by_nothing, by_pinned = BearerAuth(junk), BearerAuth(nothing), BearerAuth(pinned)

    @app.get("/junk")
    async def junk_route(claims: Annotated[AccessClaims, Depends(by_junk)]) -> dict[str, str]:
        return {"user": claims.username}

    @app.get("/nothing")
    async def nothing_route(
        claims: Annotated[AccessClaims, by_nothing.require("orders:read")],
    ) -> dict[str, str]:
        return {"user": claims.username}

    @app.get("/pinned")
    async def pinned_route(claims: Annotated[AccessClaims, Depends(by_pinned)]) -> dict[str, str]:
        return {"user": claims.username}

    token = issue()
    with (
        caplog.at_level(logging.WARNING, logger="sealbox.integrations.fastapi"),
        contextmanager(serve)(app, *tls) as served,
        served.client() as c,
    ):
        answers = [c.get(path, headers=bearer(token)) for path in ("/junk", "/nothing", "/pinned")]
    for answer in answers:
        assert answer.status_code == 503
        assert answer.json() == {
            "error": "keys_unavailable",
            "message": "the keys that verify access tokens cannot be fetched: try again later",
        }
        assert answer.headers["retry-after"] == "30"
        assert "www-authenticate" not in answer.headers
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("cannot verify access tokens" in w for w in warnings) == 3
    assert any(closed in w for w in warnings)
    assert token not in caplog.text


def test_an_app_whose_lifespan_runs_again_fetches_with_a_new_client(
    jwks_server: JWKSServer, tls: tuple[Path, Path]
) -> None:
    # docs/fastapi.md: close the source in the lifespan's exit. An app started again in
    # the same process (a user's tests, one test client each) used the closed client on
    # its next fetch: RuntimeError, a 500.
    jwks_server.publish(KEYS)
    source = RemoteJWKS(url(jwks_server), issuer=ISSUER, audience=AUDIENCE, ca=tls[0])
    auth = BearerAuth(source)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await source.aclose()

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)

    @app.get("/me")
    async def me(claims: Annotated[AccessClaims, Depends(auth)]) -> dict[str, str]:
        return {"user": claims.username}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    with contextmanager(serve)(app, *tls) as served, served.client() as c:
        assert c.get("/health").json() == {"status": "ok"}
    with contextmanager(serve)(app, *tls) as served, served.client() as c:
        answer = c.get("/me", headers=bearer(issue()))
    assert answer.status_code == 200
    assert answer.json() == {"user": "alice"}
    assert jwks_server.hits == 1


# Left open, each loop's client keeps a connection that loop never closed (nor can, once
# it is gone): collected below, their transports warn, as they would in the app.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("closed", [True, False], ids=["closed-in-lifespan", "left-open"])
def test_a_source_used_from_a_second_event_loop_fetches_there_too(
    jwks_server: JWKSServer, tls: tuple[Path, Path], closed: bool
) -> None:
    # An app started again in the same process runs in a new event loop (uvicorn run
    # twice, a test client per test). Requests waiting there for a fetch met the first
    # loop's asyncio lock ("bound to a different event loop"), and a client left open
    # fetched over a keep-alive connection of the first loop ("Event loop is closed"):
    # RuntimeErrors, 500s.
    clock = Clock()
    held = [RemoteJWKS(url(jwks_server), issuer=ISSUER, audience=AUDIENCE, ca=tls[0], clock=clock)]
    original = _Handler.do_GET

    def one_run(keys: SigningKeySet) -> list[Any]:
        jwks_server.publish(keys)
        entered, release = threading.Event(), threading.Event()

        def stalled_get(handler: _Handler) -> None:
            entered.set()
            release.wait(30)
            original(handler)

        async def run() -> list[Any]:
            tokens = [issue(f"user-{n}", keys=keys) for n in range(5)]
            tasks = [asyncio.ensure_future(held[0].authenticate(t)) for t in tokens]
            assert await asyncio.to_thread(entered.wait, 10)
            release.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            if closed:
                await held[0].aclose()  # as the lifespan's exit does
            return results

        _Handler.do_GET = stalled_get
        try:
            return asyncio.run(run())
        finally:
            release.set()
            _Handler.do_GET = original

    _Handler.protocol_version = "HTTP/1.1"  # keep-alive, as an issuer's server has it
    try:
        first = one_run(KEYS)
        clock.now += 31  # past min_refresh_interval: the issuer's new key is fetched at once
        second = one_run(SigningKeySet.generate("EdDSA"))
    finally:
        _Handler.protocol_version = "HTTP/1.0"
    held.clear()  # with what it holds, a client the second loop never closed
    gc.collect()
    assert [getattr(r, "username", r) for r in first] == [f"user-{n}" for n in range(5)]
    assert [getattr(r, "username", r) for r in second] == [f"user-{n}" for n in range(5)]
    assert jwks_server.hits == 2


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _kidless_issuer() -> tuple[Any, dict[str, Any]]:
    """An issuer that never sets kid: a function making its tokens, and its JWKS."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def token(subject: str) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "exp": now + 60}
        head = _b64(json.dumps({"alg": "EdDSA", "typ": "at+jwt"}).encode())
        body = _b64(json.dumps(claims).encode())
        return f"{head}.{body}.{_b64(key.sign(f'{head}.{body}'.encode()))}"

    return token, {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}]}


def test_local_and_remote_sources_verify_kidless_tokens_when_asked(
    jwks_server: JWKSServer, tls: tuple[Path, Path], tmp_path: Path
) -> None:
    # An issuer that never sets kid could not be used by a FastAPI app at all: the
    # sources had no require_kid=False, which TokenVerifier and `sealbox jwt verify` have.
    token, jwks = _kidless_issuer()
    jwks_server.body = json.dumps(jwks).encode()
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))

    async def run() -> list[str]:
        strict = LocalJWKS(tmp_path / "jwks.json", issuer=ISSUER, audience=AUDIENCE)
        with pytest.raises(TokenError):
            await strict.authenticate(token("strict"))
        local = LocalJWKS(
            tmp_path / "jwks.json", issuer=ISSUER, audience=AUDIENCE, require_kid=False
        )
        remote = RemoteJWKS(
            url(jwks_server), issuer=ISSUER, audience=AUDIENCE, ca=tls[0], require_kid=False
        )
        try:
            return [
                (await local.authenticate(token("local"))).username,
                (await remote.authenticate(token("remote"))).username,
            ]
        finally:
            await remote.aclose()

    assert asyncio.run(run()) == ["local", "remote"]
