"""The routes of bench._fastapi_server called in this process through ASGI, with no
server, HTTP parsing or TLS: what each route costs the app itself, per request.

Run by suite_fastapi once its server has stopped (the app claims the data folder), with
the suite's ``SEALBOX_*`` environment: ``python -m bench._fastapi_inprocess ROUNDS CALLS``.
Prints JSON: for each route, the CPU microseconds per request of each round (the routes
in rotating order, each first in turn).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

USER, PASSWORD = "bench-user", "bench password 1"
ROUTES = ("/orders", "/orders-open", "/orders-noop", "/orders-noop-scoped", "/orders-lookup")


async def _call(
    app: Any, state: dict[str, Any], method: str, path: str, headers: list[Any], body: bytes = b""
) -> list[dict[str, Any]]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8443),
        "state": dict(state),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def _main(rounds: int, calls: int) -> dict[str, list[float]]:
    from bench._fastapi_server import app

    state: dict[str, Any] = {}
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[Any] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}, inbox.get, outbox.put)
    )
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started
    form = f"grant_type=password&username={USER}&password={PASSWORD.replace(' ', '+')}".encode()
    form_headers = [
        (b"host", b"localhost"),
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", str(len(form)).encode()),
    ]
    answer = await _call(app, state, "POST", "/auth/token", form_headers, form)
    token = json.loads(answer[1]["body"])["access_token"]
    headers = [(b"host", b"localhost:8443"), (b"authorization", f"Bearer {token}".encode())]
    for path in ROUTES:
        answer = await _call(app, state, "GET", path, headers)
        assert answer[0]["status"] == 200, (path, answer)
    costs: dict[str, list[float]] = {path: [] for path in ROUTES}
    for i in range(rounds):
        k = i % len(ROUTES)
        for path in ROUTES[k:] + ROUTES[:k]:
            cpu0 = time.process_time()
            for _ in range(calls):
                await _call(app, state, "GET", path, headers)
            costs[path].append((time.process_time() - cpu0) / calls * 1e6)
    await inbox.put({"type": "lifespan.shutdown"})
    await outbox.get()
    await lifespan
    return costs


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_main(int(sys.argv[1]), int(sys.argv[2])))))
