"""Helpers for the Vault-protocol tests: tokens with scopes, hvac clients, curl."""

from __future__ import annotations

import json
import subprocess
import warnings
from typing import Any

import hvac

from tests.conftest import require_tool
from tests.service._transit import add_user
from tests.service.conftest import Running, login

_count = iter(range(1, 1_000_000))


def token_for(service: Any, *scopes: str) -> str:
    """An access token of a new account holding exactly ``scopes``."""
    name = f"vault{next(_count)}"
    add_user(service.settings, name, list(scopes))
    with service.client() as c:
        return str(login(c, name).json()["access_token"])


def hvac_client(service: Any, token: str) -> hvac.Client:
    """hvac, as users make it, trusting the service's CA."""
    return hvac.Client(url=service.url, token=token, verify=str(service.ca))


def read(client: hvac.Client, path: str, **kw: Any) -> dict[str, Any]:
    """``read_secret_version`` with hvac 2's choice made explicit (no warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return client.secrets.kv.v2.read_secret_version(
            path=path, raise_on_deleted_version=kw.pop("raise_on_deleted_version", True), **kw
        )


def curl(
    service: Running, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    """The real curl: (status, JSON body or None)."""
    args = [require_tool("curl"), "-sS", "--cacert", str(service.ca), "-X", method]
    args += ["-o", "-", "-w", "\n%{http_code}"]
    if token is not None:
        args += ["-H", f"X-Vault-Token: {token}"]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
    out = subprocess.run(
        [*args, f"{service.url}{path}"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    text, _, status = out.rpartition("\n")
    return int(status), json.loads(text) if text.strip() else None


ENVELOPE = frozenset(
    {
        "request_id",
        "lease_id",
        "renewable",
        "lease_duration",
        "data",
        "wrap_info",
        "warnings",
        "auth",
    }
)


def data_of(body: Any) -> Any:
    """The ``data`` of an answer in Vault's envelope (checking the envelope's members)."""
    assert set(body) == ENVELOPE, body
    assert (body["lease_id"], body["renewable"], body["lease_duration"]) == ("", False, 0)
    assert len(body["request_id"]) == 36
    return body["data"]
