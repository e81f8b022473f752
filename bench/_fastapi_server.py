"""The app of examples/fastapi_app.py with more routes for suite_fastapi, each answering what
``GET /orders`` answers suite_fastapi's user:

- ``GET /orders-open``: without the bearer dependency (the anchor);
- ``GET /orders-noop``: behind a dependency that does nothing (what FastAPI's dependency
  machinery alone costs);
- ``GET /orders-noop-scoped``: behind a ``Security`` dependency with the scope, doing nothing
  (the shape of the guarded route, without sealbox's work);
- ``GET /orders-lookup``: behind a ``Security`` dependency that finds the ``Authorization``
  header and looks its value up in a dict: the least any token check can do, the ceiling
  of a guarded route under FastAPI.
- ``GET /orders-open-again``: ``/orders-open`` under another path, registered last: the
  open route measured against itself, which shows the measurement's own bias and spread.

Served by plain uvicorn, as the example is: ``uvicorn bench._fastapi_server:app …``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from fastapi import Depends, FastAPI, Request, Security

# examples/ is on the path only at run time, where mypy cannot follow it: the example's app
# is imported by name and typed here, so that the routes added below stay typed.
app: FastAPI = importlib.import_module("fastapi_app").app

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


@app.get("/orders-noop-scoped", dependencies=[Security(nothing, scopes=["orders:read"])])
async def orders_noop_scoped() -> dict[str, str]:
    """The same answer, behind a scoped security dependency that does nothing."""
    return {"user": "bench-user"}


_KNOWN: dict[bytes, str] = {}


async def lookup(request: Request) -> str | None:
    """The least a token check does: find the header, look its value up."""
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            return _KNOWN.get(value)
    return None


@app.get("/orders-lookup", dependencies=[Security(lookup, scopes=["orders:read"])])
async def orders_lookup() -> dict[str, str]:
    """The same answer, behind the header lookup."""
    return {"user": "bench-user"}


@app.get("/orders-open-again")
async def orders_open_again() -> dict[str, str]:
    """/orders-open again: the control the open route is measured against."""
    return {"user": "bench-user"}
