"""Refused mutual-TLS clients learn why: a TLS alert (not a reset), and a log line on the server.

Driven by the real curl and openssl s_client.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from sealbox.service.serve import prepare
from sealbox.tls.ca import CertificateAuthority
from tests.conftest import require_tool
from tests.service.conftest import make_settings, run_service


@pytest.fixture
def mtls(tmp_path: Path):
    data = tmp_path / "data"
    settings = make_settings(data, mtls=True, client_ca=data / "tls" / "ca.crt")
    prepare(settings)
    ca = CertificateAuthority.load(data / "tls")
    good = ca.issue_client("billing-service").write(tmp_path / "good")
    server_only = ca.issue_server(["not-a-client.test"]).write(tmp_path / "server-only")
    stranger = CertificateAuthority.generate(name="another CA").issue_client("x")
    stranger_files = stranger.write(tmp_path / "stranger")
    with run_service(settings) as svc:
        yield svc, {"good": good, "server-only": server_only, "stranger": stranger_files}


def _curl(svc, cert: tuple[Path, Path] | None) -> subprocess.CompletedProcess[str]:
    args = [require_tool("curl"), "-sS", "--cacert", str(svc.ca), f"{svc.url}/health"]
    if cert is not None:
        args += ["--cert", str(cert[0]), "--key", str(cert[1])]
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.interop
@pytest.mark.parametrize(
    ("who", "alert", "logged"),
    [
        (None, "alert certificate required", "no client certificate"),
        (
            "stranger",
            "alert unknown ca",
            "client certificate refused: self-signed certificate in certificate chain",
        ),
        (
            "server-only",
            "alert unsupported certificate",
            "client certificate refused: unsuitable certificate purpose",
        ),
    ],
)
def test_curl_is_told_why_by_a_tls_alert(mtls, caplog, who, alert, logged) -> None:
    svc, certs = mtls
    r = _curl(svc, certs[who] if who else None)
    assert r.returncode != 0
    assert alert in r.stderr.lower(), r.stderr
    assert "reset by peer" not in r.stderr.lower()
    deadline = time.monotonic() + 5  # the server thread logs as it answers
    while logged not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "refused a TLS handshake from 127.0.0.1" in caplog.text
    assert logged in caplog.text


@pytest.mark.interop
def test_curl_with_the_right_certificate_gets_through(mtls) -> None:
    svc, certs = mtls
    r = _curl(svc, certs["good"])
    assert r.returncode == 0, r.stderr
    assert '"status":"ok"' in r.stdout


@pytest.mark.interop
def test_openssl_s_client_sees_the_alert(mtls) -> None:
    svc, _ = mtls
    r = subprocess.run(
        [
            require_tool("openssl"),
            "s_client",
            "-connect",
            f"127.0.0.1:{svc.settings.port}",
            "-servername",
            "localhost",
            "-CAfile",
            str(svc.ca),
            "-ign_eof",  # keep reading after the request is sent: the alert comes then
        ],
        input="GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = (r.stdout + r.stderr).lower()
    assert "alert certificate required" in output, output[-2000:]
