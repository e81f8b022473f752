"""The client-certificate dependency in an app of one's own, under the real uvicorn command.

docs/fastapi.md: plain uvicorn verifies client certificates but does not pass them to the
app; given sealbox's connection layer (``--http sealbox.service.connection:EnvConnection``)
it does, and bound tokens are checked against them.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from sealbox.accounts.binding import certificate_thumbprint, cnf_claim
from sealbox.jwt import SigningKeySet
from sealbox.tls.ca import CertificateAuthority
from sealbox.tls.client import secure_client
from tests.service.conftest import free_port

APP = """
from typing import Annotated

from fastapi import Depends, FastAPI

from sealbox.integrations.fastapi import (
    BearerAuth, LocalJWKS, install_error_handlers, require_client_certificate,
)
from sealbox.tls.server_session import ClientIdentity

auth = BearerAuth(LocalJWKS("jwks.json", issuer="sealbox", audience="sealbox"))
app = FastAPI()
install_error_handlers(app)


@app.get("/peer")
async def peer(p: Annotated[ClientIdentity, Depends(require_client_certificate)]) -> dict:
    return {"cn": p.common_name, "subject": p.subject}


@app.get("/me")
async def me(c: Annotated[object, Depends(auth)]) -> dict:
    return {"ok": True}
"""


@contextmanager
def _uvicorn(folder: Path, args: list[str], env: dict[str, str]) -> Iterator[int]:
    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    full.update(env)
    command = [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", str(folder)]
    with (folder / f"uvicorn-{port}.err").open("wb") as err:
        proc = subprocess.Popen(
            [*command, "--port", str(port), "--log-level", "warning", *args],
            cwd=folder,
            env=full,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None, (folder / f"uvicorn-{port}.err").read_text()
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("uvicorn-app")
    ca = CertificateAuthority.generate(name="app CA")
    (folder / "ca.crt").write_bytes(ca.certificate_pem())
    ca.issue_server(["localhost"]).write(folder / "server")
    ca.issue_client("worker").write(folder / "worker")
    ca.issue_client("intruder").write(folder / "intruder")
    (folder / "jwks.json").write_text(json.dumps(KEYS.public_jwks()))
    (folder / "app.py").write_text(APP)
    return folder


KEYS = SigningKeySet.generate()  # the issuer of the tokens the app's LocalJWKS accepts


def _client(pki: Path, port: int, who: str | None) -> httpx2.Client:
    options = {"cert": pki / f"{who}.crt", "key": pki / f"{who}.key"} if who else {}
    return secure_client(ca=pki / "ca.crt", base_url=f"https://localhost:{port}", **options)


def test_plain_uvicorn_verifies_the_certificate_but_does_not_pass_it_to_the_app(
    pki: Path,
) -> None:
    args = ["--ssl-keyfile", "server.key", "--ssl-certfile", "server.crt"]
    args += ["--ssl-ca-certs", "ca.crt", "--ssl-cert-reqs", "2"]
    with _uvicorn(pki, args, {}) as port, _client(pki, port, "worker") as c:
        answer = c.get("/peer")
    assert answer.status_code == 403
    assert answer.json()["error"] == "client_certificate_required"


def test_uvicorn_with_sealbox_connection_layer_passes_the_certificate_and_checks_binding(
    pki: Path,
) -> None:
    worker_pem = (pki / "worker.crt").read_text().split("-----END CERTIFICATE-----")[0]
    der = ssl.PEM_cert_to_DER_cert(worker_pem + "-----END CERTIFICATE-----\n")
    now = int(time.time())
    claims = {"iss": "sealbox", "aud": "sealbox", "sub": "w", "iat": now, "exp": now + 300}
    token = KEYS.sign({**claims, **cnf_claim(certificate_thumbprint(der))})
    env = {
        "SEALBOX_CERT": str(pki / "server.crt"),
        "SEALBOX_KEY": str(pki / "server.key"),
        "SEALBOX_CLIENT_CA": str(pki / "ca.crt"),
        "SEALBOX_MTLS": "true",
        "SEALBOX_DATA_DIR": str(pki / "unused"),
    }
    args = ["--http", "sealbox.service.connection:EnvConnection"]
    headers = {"Authorization": f"Bearer {token}"}
    with _uvicorn(pki, args, env) as port:
        with _client(pki, port, "worker") as c:
            peer = c.get("/peer")
            bound = c.get("/me", headers=headers)
        with _client(pki, port, "intruder") as c:
            stolen = c.get("/me", headers=headers)
    assert peer.status_code == 200, peer.text
    assert peer.json() == {"cn": "worker", "subject": "CN=worker"}
    assert bound.status_code == 200, bound.text
    assert stolen.status_code == 401
    assert stolen.json()["error"] == "invalid_token"
