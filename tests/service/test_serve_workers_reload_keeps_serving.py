"""SIGHUP to ``sealbox serve --workers N`` restarts its workers in turn; a new worker that
cannot serve (a certificate file half-written by a renewal job) leaves the running ones
in service, as a reload refused does."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.service._workers import worker_pids
from tests.service.conftest import private_shared_state, serve_process

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

_WAIT = 90.0
_REFUSED = "failed to start: the restart stops here, the running processes go on serving"


def _log(tmp_path: Path, port: int) -> str:
    return (tmp_path / f"serve-{port}.err").read_text(errors="replace")


def test_sighup_with_a_certificate_that_does_not_load_keeps_the_running_workers(
    tmp_path: Path,
) -> None:
    # The new workers were started on the broken file and took for serving: every
    # handshake then failed on a traceback, and no connection was ever answered.
    with private_shared_state("hupbadcert") as shared:
        env = {f"SEALBOX_{k.upper()}": v for k, v in shared.items()}
        env["SEALBOX_PASSWORD_PROFILE"] = "test"
        data, given = tmp_path / "data", tmp_path / "given"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
        check = [sys.executable, "-m", "sealbox", "serve", "--check", "--data-dir", str(data)]
        subprocess.run(check, env={**full_env, **env}, check=True, capture_output=True)
        given.mkdir()
        # The development certificate, served as an operator's own (clients trust its CA).
        cert = Path(shutil.copy(data / "tls" / "server.crt", given / "server.crt"))
        key = Path(shutil.copy(data / "tls" / "server.key", given / "server.key"))
        args = ("--workers", "2", "--cert", str(cert), "--key", str(key))
        with serve_process(tmp_path, *args, env=env, data_dir=data) as srv:
            deadline = time.monotonic() + _WAIT
            while len(before := worker_pids(srv.proc.pid, srv.port)) != 2:
                assert time.monotonic() < deadline, before
                time.sleep(0.05)
            cert.write_text("half a certificate\n")
            srv.proc.send_signal(signal.SIGHUP)
            while _REFUSED not in _log(tmp_path, srv.port):
                assert srv.proc.poll() is None, _log(tmp_path, srv.port)
                assert time.monotonic() < deadline, _log(tmp_path, srv.port)
                time.sleep(0.05)
            for _ in range(6):  # new connections, whichever worker takes them
                with srv.client() as c:
                    assert c.get("/health").status_code == 200
            assert sorted(worker_pids(srv.proc.pid, srv.port)) == sorted(before)
    assert "is not a PEM or DER certificate" in srv.stderr
