"""The ceiling of a transit call: a raw ASGI app that reads the request body and answers
bytes given in advance, served as sealbox serves (same TLS connection, same uvicorn).

What it costs per request is what HTTP, TLS and the event loop cost for that many bytes
in and out, with no framework, no JSON and no cryptography of the application's own.
``--answer PATH=FILE`` (repeatable) answers ``POST PATH`` with the bytes of ``FILE``.

Two more paths take the service's encrypt batch apart, step by step on the same stack:

- ``POST /batch-parse``: the body parsed and checked as the service's batch entry does
  (``transit_batch.lean_body``), then the answer of ``/batch``;
- ``POST /batch-seal``: that, then the items decoded, sealed under a key of this process
  and the answer written, by the service's own batch code; no token, scope, key lookup
  or audit line.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn

from sealbox.service.connection import connection_class
from sealbox.service.routes import transit_batch
from sealbox.service.serve import uvicorn_options
from sealbox.service.settings import ServiceSettings
from sealbox.transit.keys import TransitKey

Message = MutableMapping[str, Any]


def make_app(
    answers: dict[str, bytes],
) -> Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Any
]:
    key = TransitKey.generate("bench", "aes256-gcm")

    def staged(path: str, raw: bytes) -> bytes:
        body = transit_batch.lean_body("encrypt", raw)
        if body is None:
            raise RuntimeError(f"{path}: the batch entry would not take this body")
        if path == "/batch-parse":
            return answers["/batch"]
        # The service's own item loop (a private helper: this measures exactly it).
        tally = transit_batch._encrypt_items(body["batch_input"], key, 0)
        assert tally.pieces is not None, "a batch of plaintexts alone"
        return b"".join([b'{"batch_results":[', *tally.pieces, b"]}"])

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
        path = scope["path"]
        chunks: list[bytes] = []
        more = True
        while more:  # the whole body is read, as the service reads it
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        if path in ("/batch-parse", "/batch-seal"):
            body = staged(path, chunks[0] if len(chunks) == 1 else b"".join(chunks))
        else:
            body = answers.get(path, b"{}")
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
