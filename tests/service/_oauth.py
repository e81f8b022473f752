"""The service with optional mutual TLS, two client certificates, and registered clients."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from sealbox.service.admin import create_user
from sealbox.service.client_admin import create_client
from sealbox.service.serve import prepare
from sealbox.tls.ca import CertificateAuthority
from tests.service.conftest import (
    PASSWORD,
    Running,
    bearer,
    login,
    make_settings,
    private_shared_state,
    run_service,
)


@dataclass
class Registered:
    """A registered client: its id and its secret (``None`` for certificate-only)."""

    name: str
    client_id: str
    secret: str | None

    @property
    def basic(self) -> dict[str, str]:
        assert self.secret is not None
        raw = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@dataclass
class AuthServer:
    """The running service, its client certificates A and B, and a way to register clients."""

    svc: Running
    cert_a: tuple[Path, Path]
    cert_b: tuple[Path, Path]

    def client(self, cert: tuple[Path, Path] | None = None, **kw: Any) -> httpx2.Client:
        if cert is not None:
            kw.update(cert=cert[0], key=cert[1])
        return self.svc.client(**kw)

    def register(
        self,
        name: str,
        *scopes: str,
        cert: tuple[Path, Path] | None = None,
        secret: bool = True,
    ) -> Registered:
        made = create_client(
            self.svc.settings,
            name,
            scopes,
            certificate=cert[0] if cert is not None else None,
            with_secret=secret,
        )
        value = made.secret.expose_secret() if made.secret is not None else None
        return Registered(name, made.client.client_id, value)

    def client_token(self, client: Registered, scope: str = "", **kw: Any) -> httpx2.Response:
        data = {"grant_type": "client_credentials"}
        if scope:
            data["scope"] = scope
        with self.client(**kw) as c:
            return c.post("/auth/token", data=data, headers=client.basic)


def access_token(authz: AuthServer, client: Registered) -> str:
    """An access token the client credentials grant issues to ``client``."""
    answer = authz.client_token(client)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def live(authz: AuthServer, token: str) -> bool:
    """Whether the service still takes ``token`` (its Vault token lookup, 200 or 403)."""
    with authz.client() as c:
        answer = c.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": token})
    assert answer.status_code in {200, 403}, answer.text
    return answer.status_code == 200


@contextmanager
def auth_server(tmp_path: Path, **overrides: Any) -> Iterator[AuthServer]:
    """The service over TLS where client certificates are optional (client CA set, no --mtls)."""
    data = tmp_path / "data"
    settings = make_settings(data, client_ca=data / "tls" / "ca.crt", **overrides)
    prepare(settings)
    ca = CertificateAuthority.load(data / "tls")
    cert_a = ca.issue_client("reporter-a").write(tmp_path / "a")
    cert_b = ca.issue_client("reporter-b").write(tmp_path / "b")
    with run_service(settings) as svc:
        yield AuthServer(
            svc, (Path(cert_a[0]), Path(cert_a[1])), (Path(cert_b[0]), Path(cert_b[1]))
        )


@contextmanager
def auth_server_on(backend: str, tmp_path: Path, name: str) -> Iterator[AuthServer]:
    """:func:`auth_server` on SQLite (``backend`` ``"sqlite"``), or on PostgreSQL and Redis
    under a schema and key prefix of its own named after ``name``."""
    if backend == "sqlite":
        with auth_server(tmp_path) as server:
            yield server
        return
    with private_shared_state(name) as shared, auth_server(tmp_path, **shared) as server:
        yield server


def robot_with_token(authz: AuthServer) -> tuple[Registered, str]:
    """Client ``robot`` (scope ``users:me``), and an access token it holds: the client a
    client-ending test disables, deletes or rotates."""
    robot = authz.register("robot", "users:me")
    return robot, access_token(authz, robot)


def clients_admin(authz: AuthServer, c: httpx2.Client) -> dict[str, str]:
    """The bearer header of ``root``, a user made with ``clients:admin``, logged in on ``c``."""
    create_user(authz.svc.settings, "root", lambda _n: PASSWORD, ["clients:admin", "users:me"])
    return bearer(login(c, "root").json()["access_token"])


def client_change_command(command: str, change: str, data: Path) -> list[Any]:
    """The command line of a client change (:func:`send_client_change`'s, for ``robot``)."""
    extra = {"delete": ["--yes"], "rotate": ["--revoke-tokens"]}.get(change, [])
    return ["clients", command, "robot", "--data-dir", data, *extra]


def shown_robot(cli: Any, data: Path) -> bytes:
    """What ``sealbox clients show robot --json`` prints: the client as it stands."""
    out: bytes = cli(["clients", "show", "robot", "--json", "--data-dir", data]).out
    return out


def send_client_change(c: httpx2.Client, change: str, admin: dict[str, str]) -> httpx2.Response:
    """Disable, delete or rotate (with the tokens ended) client ``robot`` over HTTP."""
    if change == "delete":
        return c.delete("/clients/robot", headers=admin)
    if change == "rotate":
        body = {"revoke_tokens": True}
        return c.post("/clients/robot/rotate-secret", json=body, headers=admin)
    return c.post("/clients/robot/disable", headers=admin)


def audit_records(path: Path, event: str) -> list[tuple[str, str]]:
    """The outcome and detail of each record of ``event`` in the audit log at ``path``."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [(r["outcome"], r["detail"]) for r in records if r["event"] == event]
