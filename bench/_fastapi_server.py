"""The app of examples/fastapi_app.py with one more route: ``GET /orders-open``, the body of
``GET /orders`` without the bearer dependency (the anchor of suite_fastapi).

Served by plain uvicorn, as the example is: ``uvicorn bench._fastapi_server:app …``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from fastapi_app import app

__all__ = ["app"]


@app.get("/orders-open")
async def orders_open() -> dict[str, str]:
    """The same answer as /orders, for anyone."""
    return {"user": "bench"}
