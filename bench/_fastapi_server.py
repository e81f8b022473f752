"""The app of examples/fastapi_app.py with two more routes for suite_fastapi: ``GET
/orders-open``, the body of ``GET /orders`` without the bearer dependency (the anchor), and
``GET /orders-noop``, the same with a dependency that does nothing (what FastAPI's
dependency machinery alone costs).

Served by plain uvicorn, as the example is: ``uvicorn bench._fastapi_server:app …``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from fastapi import Depends, Request
from fastapi_app import app

__all__ = ["app"]


@app.get("/orders-open")
async def orders_open() -> dict[str, str]:
    """The answer /orders gives suite_fastapi's user, for anyone."""
    return {"user": "bench-user"}


async def nothing(request: Request) -> None:
    """A dependency that takes the request, as the bearer dependency does, and does nothing."""


@app.get("/orders-noop", dependencies=[Depends(nothing)])
async def orders_noop() -> dict[str, str]:
    """The same answer, behind a dependency that does nothing."""
    return {"user": "bench-user"}
