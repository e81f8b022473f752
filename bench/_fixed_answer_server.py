"""The ceiling of a transit call: a raw ASGI app that reads the request body and answers
bytes given in advance, served as sealbox serves (same TLS connection, same uvicorn).

What it costs per request is what HTTP, TLS and the event loop cost for that many bytes
in and out, with no framework, no JSON and no cryptography of the application's own.
``--answer PATH=FILE`` (repeatable) answers ``POST PATH`` with the bytes of ``FILE``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn

from sealbox.service.connection import connection_class
from sealbox.service.serve import uvicorn_options
from sealbox.service.settings import ServiceSettings

Message = MutableMapping[str, Any]


def make_app(
    answers: dict[str, bytes],
) -> Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Any
]:
    async def app(
        scope: Message,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        more = True
        while more:  # the whole body is read, as the service reads it
            more = (await receive()).get("more_body", False)
        body = answers.get(scope["path"], b"{}")
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--answer", action="append", default=[], metavar="PATH=FILE")
    args = parser.parse_args()
    answers = {}
    for spec in args.answer:
        path, _, file = spec.partition("=")
        answers[path] = Path(file).read_bytes()
    # mypy builds the settings' __init__ from the fields (pydantic's dataclass_transform),
    # without the _env_file that BaseSettings.__init__ takes.
    settings = ServiceSettings(_env_file=None, data_dir=args.data_dir, port=args.port)  # type: ignore[call-arg]
    config = uvicorn.Config(
        make_app(answers),
        http=connection_class(settings),
        **uvicorn_options(settings, log_level="warning"),
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
