"""At every uvicorn sealbox allows: docs/fastapi.md's command for an app of one's own,
``uvicorn app:app --http sealbox.service.connection:EnvConnection``, serves through
sealbox's connection layer. uvicorn before 0.36 refuses the option ("'…:EnvConnection' is
not one of 'auto', 'h11', 'httptools'", exit 2): its floor is 0.36."""

from __future__ import annotations

from pathlib import Path

from sealbox.tls.ca import CertificateAuthority
from tests.service.test_fastapi_client_cert_uvicorn import APP, _client, _uvicorn


def test_uvicorn_command_serves_through_the_connection_layer(tmp_path: Path) -> None:
    ca = CertificateAuthority.generate(name="smoke CA")
    (tmp_path / "ca.crt").write_bytes(ca.certificate_pem())
    ca.issue_server(["localhost"]).write(tmp_path / "server")
    ca.issue_client("worker").write(tmp_path / "worker")
    (tmp_path / "jwks.json").write_text('{"keys": []}')
    (tmp_path / "app.py").write_text(APP)
    env = {
        "SEALBOX_CERT": str(tmp_path / "server.crt"),
        "SEALBOX_KEY": str(tmp_path / "server.key"),
        "SEALBOX_CLIENT_CA": str(tmp_path / "ca.crt"),
        "SEALBOX_MTLS": "true",
        "SEALBOX_DATA_DIR": str(tmp_path / "unused"),
    }
    args = ["--http", "sealbox.service.connection:EnvConnection"]
    with _uvicorn(tmp_path, args, env) as port, _client(tmp_path, port, "worker") as c:
        peer = c.get("/peer")
    assert peer.status_code == 200, peer.text
    assert peer.json() == {"cn": "worker", "subject": "CN=worker"}
