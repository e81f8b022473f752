"""The development certificate is renewed in the running service; an operator's never is.

The service renews a due certificate at start-up, so these tests start it with a fresh
one and then put a due one in its place, as the passing of twenty-five days would: a
certificate of the same key and names, issued by the data folder's CA 25 days ago with a
30-day life (the CA, made before the service's first start, is older: a certificate
starts no earlier than its CA). The running service must renew it (once, whatever the
number of workers) and serve the renewal, without a restart and without dropping a
connection.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sealbox.service.provision import SERVER_NAMES, DataDir
from sealbox.service.serve import prepare
from sealbox.service.tls_setup import (
    EXPIRY_WARNING_DAYS,
    CertificateReloader,
    certificate_renewal,
    make_server_tls,
    tls_paths,
)
from sealbox.tls.ca import CertificateAuthority
from tests.service._workers import attempts, client_port, serving_worker, worker_pids
from tests.service.conftest import make_settings, reset_shared_state, serve_process, shared_env

# Found in the log once per renewal (tls_setup.CertificateRenewal.renew).
RENEWED = "renewed: valid until"
# Found in the log when a worker waits for the folder's lock (sealbox.storage.locked).
WAITING = "waiting for another writer of"
# Generous: a loaded machine may take long; the test ends as soon as the change is seen.
DEADLINE = 90.0


def _presented(port: int, ca: Path) -> x509.Certificate:
    """The certificate the service presents to a new connection, verified against ``ca``
    for ``localhost`` (the handshake fails otherwise)."""
    ctx = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as s,
        ctx.wrap_socket(s, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der
    return x509.load_der_x509_certificate(der)


def _days_ago(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def _folder_with_an_old_ca(data: Path) -> Path:
    """A data folder holding only a development CA made 60 days ago; its ``tls`` folder."""
    data.mkdir(mode=0o700)
    CertificateAuthority.init(data / "tls", name="sealbox development CA", now=_days_ago(60))
    return data / "tls"


def _presented_by(port: int, ca: Path, workers: list[int]) -> tuple[x509.Certificate, int | None]:
    """:func:`_presented`, and which of ``workers`` presented it."""
    ctx = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as s,
        ctx.wrap_socket(s, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        worker = serving_worker(workers, port, tls.getsockname()[1])
    assert der
    return x509.load_der_x509_certificate(der), worker


def _put_due_certificate(tls: Path) -> x509.Certificate:
    """Replace the folder's server certificate by a due one of the same key and names."""
    ca = CertificateAuthority.load(tls)
    key = serialization.load_pem_private_key((tls / "server.key").read_bytes(), None)
    issued = ca.issue_server(
        list(SERVER_NAMES),
        key=key,  # type: ignore[arg-type]
        now=_days_ago(25),
    )
    issued.write(tls / "server", overwrite=True)
    assert datetime.now(UTC) < issued.certificate.not_valid_after_utc  # due, not expired
    return issued.certificate


def _file_leaf(tls: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificates((tls / "server.crt").read_bytes())[0]


def _renewal_of(
    cert: x509.Certificate, due: x509.Certificate, ca_file: Path, *, not_: x509.Certificate
) -> bool:
    """Whether ``cert`` is a renewal of ``due`` by the CA in ``ca_file`` (and not ``not_``,
    the certificate before ``due``)."""
    ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
    if cert.serial_number in (due.serial_number, not_.serial_number):
        return False
    cert.verify_directly_issued_by(ca)
    return cert.not_valid_after_utc > due.not_valid_after_utc


def _log_so_far(cwd: Path, port: int) -> str:
    """What a running ``serve_process`` started in ``cwd`` has written to stderr."""
    return (cwd / f"serve-{port}.err").read_text(errors="replace")


def test_a_due_development_certificate_is_renewed_and_served_without_a_restart(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    tls = _folder_with_an_old_ca(data)
    env = {"SEALBOX_RELOAD_INTERVAL": "0.2", "SEALBOX_KEEP_ALIVE_TIMEOUT": "600"}
    with serve_process(tmp_path, "--log-level", "info", env=env, data_dir=data) as srv:
        first = _presented(srv.port, srv.ca)
        with srv.client() as kept:
            # A connection opened before the renewal, used again after it.
            r = kept.get("/health")
            assert r.status_code == 200
            kept_port = client_port(r)
            due = _put_due_certificate(tls)
            deadline = time.monotonic() + DEADLINE
            served = first
            while not _renewal_of(served, due, srv.ca, not_=first):
                assert time.monotonic() < deadline, "the due certificate was not renewed"
                time.sleep(0.2)
                with srv.client() as fresh:  # the service answers all along
                    assert fresh.get("/health").status_code == 200
                served = _presented(srv.port, srv.ca)
            r = kept.get("/health")
            assert r.status_code == 200
            assert client_port(r) == kept_port, "the open connection was dropped"
        # The renewal is the folder's certificate, with the same names and key.
        assert _file_leaf(tls) == served
        assert served.serial_number != first.serial_number
        assert served.subject == due.subject
        assert served.public_key() == due.public_key()
        assert served.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ) == due.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        assert srv.proc.poll() is None  # the same process throughout
    assert srv.stderr.count(RENEWED) == 1, srv.stderr
    assert "PRIVATE KEY" not in srv.stderr
    assert "Traceback" not in srv.stderr


@pytest.fixture
def shared() -> Iterator[dict[str, str]]:
    env = shared_env()
    reset_shared_state()
    yield env
    reset_shared_state()


def test_with_two_workers_one_renews_and_both_serve_the_renewal(
    tmp_path: Path, shared: dict[str, str]
) -> None:
    data = tmp_path / "data"
    tls = _folder_with_an_old_ca(data)
    env = {**shared, "SEALBOX_PASSWORD_PROFILE": "test", "SEALBOX_RELOAD_INTERVAL": "0.2"}
    with serve_process(
        tmp_path, "--workers", "2", "--log-level", "info", env=env, data_dir=data
    ) as srv:
        workers = worker_pids(srv.proc.pid, srv.port)
        assert len(workers) == 2, workers
        first = _file_leaf(tls)
        # Both workers must find the certificate due before either renews it: the folder's
        # lock is held here until each waits for it (each says so in the log).
        deadline = time.monotonic() + DEADLINE
        with DataDir(data).lock():
            due = _put_due_certificate(tls)
            while _log_so_far(tmp_path, srv.port).count(WAITING) < len(workers):
                assert time.monotonic() < deadline, "the workers did not try to renew"
                time.sleep(0.2)
        while not _renewal_of(_file_leaf(tls), due, srv.ca, not_=first):
            assert time.monotonic() < deadline, "the due certificate was not renewed"
            time.sleep(0.2)
        renewal = _file_leaf(tls)
        # Each worker comes to serve it: new connections until both have been seen to.
        serving: set[int] = set()
        for _ in attempts(DEADLINE):
            presented, worker = _presented_by(srv.port, srv.ca, workers)
            if presented == renewal and worker is not None:
                serving.add(worker)
            if serving == set(workers):
                break
        assert serving == set(workers), "a worker still serves the due certificate"
        with srv.client() as c:
            assert c.get("/health").status_code == 200
        # The file is still the first renewal: no second worker renewed it again.
        assert _file_leaf(tls) == renewal
    assert srv.stderr.count(RENEWED) == 1, srv.stderr
    assert "Traceback" not in srv.stderr


def test_an_operators_certificate_is_never_renewed_and_is_warned_of_near_its_expiry(
    tmp_path: Path,
) -> None:
    # Issued by the data folder's own CA, which could renew it: it is still left alone.
    data = tmp_path / "data"
    ca = CertificateAuthority.load(_folder_with_an_old_ca(data))
    # Due for renewal by sealbox's own rule, and EXPIRY_WARNING_DAYS - 4 days from expiry.
    days = 30
    issued = ca.issue_server(
        ["localhost", "127.0.0.1"],
        days=days,
        now=_days_ago(days - EXPIRY_WARNING_DAYS + 4),
    )
    cert, key = issued.write(tmp_path / "given" / "server")
    before = (cert.read_bytes(), key.read_bytes())
    env = {"SEALBOX_RELOAD_INTERVAL": "0.2"}
    with serve_process(
        tmp_path, "--cert", str(cert), "--key", str(key), env=env, data_dir=data
    ) as srv:
        deadline = time.monotonic() + DEADLINE
        while "does not renew a certificate it was given" not in _log_so_far(tmp_path, srv.port):
            assert time.monotonic() < deadline, "no warning of the coming expiry"
            time.sleep(0.2)
        assert _presented(srv.port, srv.ca) == issued.certificate
        assert (cert.read_bytes(), key.read_bytes()) == before
        assert not (data / "tls" / "server.crt").exists()
    warning = next(line for line in srv.stderr.splitlines() if "does not renew" in line)
    assert "WARNING" in warning
    assert str(cert) in warning
    assert f"{issued.certificate.not_valid_after_utc:%Y-%m-%d}" in warning
    assert RENEWED not in srv.stderr


def test_a_renewal_that_fails_is_logged_once_and_the_old_certificate_stays_in_service(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The folder's server certificate issued by another CA: the folder's CA cannot renew it.
    settings = make_settings(tmp_path / "data")
    prepare(settings)
    cert, key = tls_paths(settings)
    stranger = CertificateAuthority.generate(name="another CA", now=_days_ago(60))
    stranger.issue_server(list(SERVER_NAMES), now=_days_ago(25)).write(
        cert.with_suffix(""), overwrite=True
    )
    served = make_server_tls(settings)
    context = served.context

    async def run() -> CertificateReloader:
        reloader = CertificateReloader(
            cert, key, interval=0.02, renewal=certificate_renewal(settings)
        )
        reloader.start()
        try:
            await asyncio.sleep(0.5)  # many looks at the same due certificate
        finally:
            await reloader.stop()
        return reloader

    with caplog.at_level("INFO", logger="sealbox.service"):
        reloader = asyncio.run(run())
    failures = [r for r in caplog.records if "could not be renewed" in r.getMessage()]
    assert len(failures) == 1, [r.getMessage() for r in caplog.records]
    assert failures[0].levelname == "WARNING"
    assert "was not issued by this CA" in failures[0].getMessage()
    assert reloader.renewal is not None and reloader.renewal.renewals == 0
    assert served.context is context  # nothing was reloaded
