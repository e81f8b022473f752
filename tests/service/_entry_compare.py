"""What the lean-entry tests compare: answers reduced to what is not random, the transit
audit records, and a runtime with one part broken."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2

from sealbox.exceptions import StoreUnavailableError
from sealbox.service.app import ServiceApp
from sealbox.service.audit import AuditUnavailableError
from tests.service.conftest import Running

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]

# Random parts of an answer: ciphertexts, signatures and HMACs keep only their version,
# a data key's plaintext only its length, a Vault request id nothing.
_VERSIONED = re.compile(rb"(sealbox|vault):v(\d+):[A-Za-z0-9+/=]+")
_DATA_KEY = re.compile(rb'"plaintext":"([A-Za-z0-9+/=]{20,})"')
_REQUEST_ID = re.compile(rb'"request_id":"[0-9a-f-]{36}"')


def answer_of(response: httpx2.Response, *, data_key: bool = False) -> Answer:
    """Status, headers (the date aside) and body, with the random parts reduced."""
    headers = [(k.lower(), v) for k, v in response.headers.raw if k.lower() != b"date"]
    body = _VERSIONED.sub(lambda m: b"<" + m[1] + b" v" + m[2] + b">", response.content)
    body = _REQUEST_ID.sub(b'"request_id":"<id>"', body)
    if data_key:
        body = _DATA_KEY.sub(lambda m: b'"plaintext":"<%d>"' % len(m[1]), body)
    return response.status_code, headers, body


def transit_audit(service: Running) -> list[tuple[Any, ...]]:
    """The transit records of the service's audit log, in order."""
    records = [json.loads(line) for line in service.audit().splitlines() if '"transit.' in line]
    return [(r["event"], r["outcome"], r["user"], r["address"], r.get("detail")) for r in records]


def service_app(service: Running) -> ServiceApp:
    app = service.server.config.app
    assert isinstance(app, ServiceApp)
    return app


@contextmanager
def broken(service: Running, what: str) -> Iterator[None]:
    """The service with one part broken while the block runs: ``internal`` (reading a key
    raises an unexpected error), ``redis`` (it finds Redis not answering) or ``audit``
    (the audit log cannot be written)."""
    runtime = service_app(service).state.runtime
    replacement: Any
    if what in ("internal", "redis"):
        failure: Exception = (
            RuntimeError("canary-internal-detail")
            if what == "internal"
            else StoreUnavailableError("Redis", "reading a key", "ConnectionError")
        )

        async def fails(*_args: Any, **_kw: Any) -> Any:
            raise failure

        target, attribute, replacement = runtime.transit, "get", fails
    else:

        def unwritable(*_args: Any, **_kw: Any) -> None:
            raise AuditUnavailableError("the audit log cannot be written: disk full")

        target, attribute, replacement = runtime.audit, "record", unwritable
    setattr(target, attribute, replacement)
    try:
        yield
    finally:
        delattr(target, attribute)


def counted(monkeypatch: Any, module: Any, name: str) -> list[str]:
    """The operations for which ``module.name(operation, raw)`` took the body (gave
    something other than ``None``), counted from now on."""
    calls: list[str] = []
    real = getattr(module, name)

    def counting(operation: str, raw: bytes) -> Any:
        body = real(operation, raw)
        if body is not None:
            calls.append(operation)
        return body

    monkeypatch.setattr(module, name, counting)
    return calls
