"""The service's TLS: mutual TLS with client identity, and certificates reloaded live."""

from __future__ import annotations

import hashlib
import socket
import ssl
import time
from pathlib import Path

import httpx2
import pytest

from sealbox.service.serve import prepare
from sealbox.tls.ca import CertificateAuthority
from tests.service.conftest import make_settings, run_service, serve_process


def _served_fingerprint(port: int, ca: Path) -> str:
    ctx = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as s,
        ctx.wrap_socket(s, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der
    return hashlib.sha256(der).hexdigest()


@pytest.fixture
def mtls(tmp_path: Path):
    data = tmp_path / "data"
    settings = make_settings(data, mtls=True, client_ca=data / "tls" / "ca.crt")
    prepare(settings)
    ca = CertificateAuthority.load(data / "tls")
    good = ca.issue_client("billing-service").write(tmp_path / "good")
    other_ca = CertificateAuthority.generate(name="another CA")
    stranger = other_ca.issue_client("billing-service").write(tmp_path / "stranger")
    with run_service(settings) as svc:
        yield svc, good, stranger


def test_mtls_without_a_client_ca_takes_the_data_folders_ca_as_documented(
    tmp_path: Path,
) -> None:
    # docs/service.md: --mtls requires a certificate "signed by --client-ca (by default
    # the data folder's CA)"; the start-up check once refused it for want of a client CA.
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    env["SEALBOX_PASSWORD_PROFILE"] = "test"
    command = [sys.executable, "-m", "sealbox", "serve", "--data-dir", str(tmp_path / "d")]
    done = subprocess.run(
        [*command, "--mtls", "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    prepare(make_settings(tmp_path / "data", mtls=True))


def test_mtls_refuses_clients_without_a_certificate(mtls) -> None:
    svc, _, _ = mtls
    with svc.client() as c, pytest.raises(httpx2.HTTPError):
        c.get("/health")


def test_mtls_refuses_certificates_from_another_ca(mtls) -> None:
    svc, _, stranger = mtls
    with svc.client(cert=stranger[0], key=stranger[1]) as c, pytest.raises(httpx2.HTTPError):
        c.get("/health")


def test_mtls_exposes_the_verified_identity(mtls) -> None:
    svc, good, _ = mtls
    with svc.client(cert=good[0], key=good[1]) as c:
        assert c.get("/health").status_code == 200
        c.post("/auth/register", json={"username": "u", "password": "a good password"})
        token = c.post("/auth/token", data={"username": "u", "password": "a good password"}).json()[
            "access_token"
        ]
        me = c.get("/users/me", headers={"Authorization": f"Bearer {token}"}).json()
    ident = me["client_certificate"]
    assert ident["common_name"] == "billing-service"
    assert ident["dns_names"] == ["billing-service"]
    assert ident["issuer"] == "sealbox development CA"
    leaf = (
        good[0].read_bytes().split(b"-----END CERTIFICATE-----")[0] + b"-----END CERTIFICATE-----\n"
    )
    der = ssl.PEM_cert_to_DER_cert(leaf.decode())
    assert ident["fingerprint"] == hashlib.sha256(der).hexdigest()


def test_a_renewed_certificate_is_served_without_restart(service, tmp_path: Path) -> None:
    port, ca_file = service.settings.port, service.ca
    before = _served_fingerprint(port, ca_file)
    with service.client() as c:
        assert c.get("/health").status_code == 200  # a keep-alive connection, opened now
        ca = CertificateAuthority.load(Path(service.settings.data_dir) / "tls")
        ca.issue_server(["localhost", "127.0.0.1"]).write(
            Path(service.settings.data_dir) / "tls" / "server", overwrite=True
        )
        deadline = time.monotonic() + 10
        after = before
        while after == before and time.monotonic() < deadline:
            time.sleep(0.1)
            after = _served_fingerprint(port, ca_file)
        assert after != before
        # The connection opened before the reload still works.
        assert c.get("/health").status_code == 200


def test_a_broken_renewal_keeps_the_old_certificate(service) -> None:
    port, ca_file = service.settings.port, service.ca
    before = _served_fingerprint(port, ca_file)
    key = Path(service.settings.data_dir) / "tls" / "server.key"
    key.write_text("not a key")
    time.sleep(0.6)
    assert _served_fingerprint(port, ca_file) == before


def test_sighup_reloads_the_certificate(tmp_path: Path) -> None:
    import signal

    data = tmp_path / "data"
    # No file watching: only SIGHUP reloads.
    with serve_process(tmp_path, env={"SEALBOX_RELOAD_INTERVAL": "0"}, data_dir=data) as srv:
        before = _served_fingerprint(srv.port, srv.ca)
        ca = CertificateAuthority.load(data / "tls")
        ca.issue_server(["localhost", "127.0.0.1"]).write(data / "tls" / "server", overwrite=True)
        time.sleep(0.5)
        assert _served_fingerprint(srv.port, srv.ca) == before  # not watched
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        after = before
        while after == before and time.monotonic() < deadline:
            time.sleep(0.1)
            after = _served_fingerprint(srv.port, srv.ca)
        assert after != before
        assert srv.proc.poll() is None  # still the same process
    assert "Traceback" not in srv.stderr


def test_a_broken_renewal_is_logged_once_and_loaded_once_it_is_fixed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    from sealbox.service.tls_setup import CertificateReloader, make_server_tls, tls_paths

    settings = make_settings(tmp_path / "data")
    prepare(settings)
    cert, key = tls_paths(settings)
    make_server_tls(settings)
    good_key = key.read_bytes()

    async def run() -> CertificateReloader:
        reloader = CertificateReloader(cert, key, interval=0.02)
        reloader.start()
        try:
            key.write_text("not a key")
            await asyncio.sleep(0.4)  # many checks: the same broken files, said once
            key.write_bytes(good_key)  # fixed: a change, loaded at the next check
            await asyncio.sleep(0.4)
        finally:
            await reloader.stop()
        return reloader

    with caplog.at_level("INFO", logger="sealbox.service"):
        reloader = asyncio.run(run())
    failures = [r for r in caplog.records if "reload from" in r.getMessage()]
    # Before, the broken pair was tried and logged again at every check (every 2 s).
    assert len(failures) == 1, [r.getMessage() for r in failures]
    assert "stays in use" in failures[0].getMessage()
    assert reloader.reloads == 1
