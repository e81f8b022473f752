"""The servers of the ``/users/me`` ladder (``bench/suite_ladder.py``), served as sealbox serves.

One worker, the same uvicorn options and TLS connection layer as ``sealbox serve``;
``--rung`` picks the application:

- ``raw``: a raw ASGI app (no framework) answering ``{"hello":"world"}`` — the ceiling;
  under ``/secured`` it adds the service's security headers to the answer;
- ``fastapi``: a bare FastAPI hello-world;
- ``middleware``: that hello-world inside the service's middlewares;
- ``service``: the service's application with the lean ``/users/me`` entry off, and
  three routes placed just before ``/users/me`` (so routing walks the same routes):
  ``/ladder/hello``, ``/ladder/verified`` (the bearer's signature check, cached, no
  revocation lookup) and ``/ladder/checked`` (the service's bearer dependency:
  signature and revocation); its ``/users/me`` is the FastAPI route;
- ``shipped``: the service's application as ``sealbox serve`` builds it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Annotated, Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request

from bench._hello_server import hello_app
from sealbox.accounts import Accounts, Caller
from sealbox.integrations.fastapi.bearer import authorization, bearer_token
from sealbox.service.app import add_service_middleware, create_app
from sealbox.service.connection import connection_class
from sealbox.service.deps import CallerDep
from sealbox.service.middleware import security_headers
from sealbox.service.routes.users import ME_PATH
from sealbox.service.serve import uvicorn_options
from sealbox.service.settings import ServiceSettings

RUNGS = ("raw", "fastapi", "middleware", "service", "shipped")
HELLO = b'{"hello":"world"}'
_RAW_HEADERS = [(b"content-length", b"17"), (b"content-type", b"application/json")]


async def raw_hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ceiling: an ASGI app answering a small JSON, with no framework."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    headers = _RAW_HEADERS
    if scope["path"] == "/secured":
        headers = [*headers, *security_headers(scope)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": HELLO})


async def _verified(request: Request) -> Caller:
    """Accounts.authenticate without its revocation lookup: the cached signature check."""
    token = bearer_token(authorization(request.scope))
    accounts: Accounts = request.app.state.runtime.accounts
    # Its first half, reached inside: the public method always looks revocation up.
    seen = accounts._callers.get(token) or accounts._verify(token, time.time())
    return seen.caller


def _ladder_routes(app: FastAPI) -> None:
    """The three ladder routes, moved just before the router of ``/users/me``."""
    api = APIRouter()

    @api.get("/ladder/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @api.get("/ladder/verified")
    async def verified(_caller: Annotated[Caller, Depends(_verified)]) -> dict[str, str]:
        return {"hello": "world"}

    @api.get("/ladder/checked")
    async def checked(_caller: CallerDep) -> dict[str, str]:
        return {"hello": "world"}

    app.include_router(api)
    routes = app.router.routes
    added = routes.pop()
    at = next(i for i, r in enumerate(routes) if _holds(r, ME_PATH))
    routes.insert(at, added)


def _holds(route: Any, path: str) -> bool:
    """Whether ``route`` is ``path``'s route, or an included router holding it."""
    if getattr(route, "path", None) == path:
        return True
    inner = getattr(route, "original_router", None) or getattr(route, "app", None)
    return any(_holds(r, path) for r in getattr(inner, "routes", ()))


def build(rung: str, settings: ServiceSettings) -> Any:
    """The application of ``rung``."""
    if rung == "raw":
        return raw_hello
    if rung == "fastapi":
        return hello_app()
    if rung == "middleware":
        app = hello_app()
        add_service_middleware(app, settings)
        return app
    if rung == "service":
        app = create_app(settings, users_fast_path=False)
        _ladder_routes(app)
        return app
    return create_app(settings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rung", choices=RUNGS, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    # mypy builds the settings' __init__ from the fields (pydantic's dataclass_transform),
    # without the _env_file that BaseSettings.__init__ takes.
    settings = ServiceSettings(_env_file=None, data_dir=args.data_dir, port=args.port)  # type: ignore[call-arg]
    config = uvicorn.Config(
        build(args.rung, settings),
        http=connection_class(settings),
        **uvicorn_options(settings, log_level="warning"),
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
