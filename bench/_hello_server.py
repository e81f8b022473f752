"""The anchor: a bare FastAPI hello-world, served as sealbox serves (same TLS, same uvicorn)."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from sealbox.service.connection import connection_class
from sealbox.service.serve import uvicorn_options
from sealbox.service.settings import ServiceSettings


def hello_app() -> FastAPI:
    """A FastAPI app whose one route, ``GET /hello``, answers ``{"hello": "world"}``."""
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app


app = hello_app()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    # mypy builds the settings' __init__ from the fields (pydantic's dataclass_transform),
    # without the _env_file that BaseSettings.__init__ takes.
    settings = ServiceSettings(_env_file=None, data_dir=args.data_dir, port=args.port)  # type: ignore[call-arg]
    config = uvicorn.Config(
        app,
        http=connection_class(settings),
        **uvicorn_options(settings, log_level="warning"),
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
