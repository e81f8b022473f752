"""Certificates that other tools made with a serial number that is not positive (RFC 5280
forbids it; pyca warns on parsing and on each read of the serial) are read without
pyca's warning reaching the user or the service's log."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import pytest

from sealbox.tls._load import load_certificates
from sealbox.tls.certinfo import CertificateInfo
from sealbox.tls.server_session import ClientIdentity
from tests.conftest import require_tool, run_sealbox


@pytest.fixture
def negative_serial(tmp_path: Path) -> Path:
    openssl = require_tool("openssl")
    crt = tmp_path / "old-client.crt"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", tmp_path / "old-client.key", "-out", crt,
         "-subj", "/CN=old-client", "-days", "10", "-set_serial", "-5"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return crt


def test_a_client_certificate_with_a_negative_serial_is_read_without_a_warning(
    negative_serial: Path,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        identity = ClientIdentity.from_pem(negative_serial.read_bytes())
        info = CertificateInfo.from_certificate(load_certificates(negative_serial)[0])
    assert identity.common_name == "old-client"
    assert identity.serial == "-5"
    assert info.serial == "-5"


def test_ca_inspect_of_a_negative_serial_prints_no_warning(negative_serial: Path) -> None:
    r = run_sealbox(["ca", "inspect", negative_serial], env={"PYTHONWARNINGS": "always"})
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    assert b"old-client" in r.stdout
