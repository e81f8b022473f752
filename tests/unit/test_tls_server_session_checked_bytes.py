"""The service's TLS engine (pyOpenSSL) serves the certificate, key and client CAs that
were checked, not the files as a renewal rewrote them between the check and the load."""

from __future__ import annotations

import shutil
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sealbox.tls import _load
from sealbox.tls.context import client_context
from sealbox.tls.server_session import ServerTLS, TLSSession
from tests._tls import PKI, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _swap_after_check(
    monkeypatch: pytest.MonkeyPatch, checked: str, swaps: dict[Path, Path]
) -> list[str]:
    """Once the validity check of the certificate named ``checked`` has passed, replace
    the files as a renewal would (each target gets a copy of its source)."""
    done: list[str] = []
    check = _load.check_validity

    def check_then_swap(cert, source, now=None):
        check(cert, source, now)
        if checked in source and not done:
            for target, replacement in swaps.items():
                shutil.copyfile(replacement, target)
            done.append(source)

    monkeypatch.setattr(_load, "check_validity", check_then_swap)
    return done


def _served_certificate(tls: ServerTLS, ctx: ssl.SSLContext) -> bytes:
    """A real handshake on 127.0.0.1: the DER of the certificate the server presented."""
    failure: list[BaseException] = []

    def serve(listener: socket.socket) -> None:
        conn, _ = listener.accept()
        conn.settimeout(10)
        session = TLSSession(tls.context)
        try:
            while True:
                data = conn.recv(65536)
                session.receive(data)
                if not data:
                    return
                done = session.handshake()
                conn.sendall(session.outgoing())
                if done:
                    while b"ping" not in session.read():
                        session.receive(conn.recv(65536))
                    session.write(b"pong")
                    conn.sendall(session.outgoing())
                    return
        except Exception as exc:  # noqa: BLE001 - shown by the test
            failure.append(exc)
        finally:
            conn.close()

    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = threading.Thread(target=serve, args=(listener,))
        server.start()
        try:
            with (
                socket.create_connection(listener.getsockname(), timeout=10) as raw,
                ctx.wrap_socket(raw, server_hostname="localhost") as client,
            ):
                client.sendall(b"ping")
                assert client.recv(10) == b"pong"
                served = client.getpeercert(binary_form=True)
        finally:
            server.join(10)
    assert not failure, failure
    assert served is not None
    return served


def _leaf_der(path: str | Path) -> bytes:
    leaf = x509.load_pem_x509_certificates(Path(path).read_bytes())[0]
    return leaf.public_bytes(serialization.Encoding.DER)


def _copy_pair(pki: PKI, name: str, folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "s.crt", folder / "s.key"
    shutil.copyfile(pki.path(f"{name}.crt"), cert)
    shutil.copyfile(pki.path(f"{name}.key"), key)
    return cert, key


def test_a_renewal_racing_the_reload_with_an_expired_pair_never_reaches_the_context(
    pki: PKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = _copy_pair(pki, "server", tmp_path)
    tls = ServerTLS(cert, key, None, mtls=False)
    # A renewal writes the backup pair; the reload checks it, then another write puts an
    # expired (matching) pair in place before the context is loaded.
    shutil.copyfile(pki.path("backup.crt"), cert)
    shutil.copyfile(pki.path("backup.key"), key)
    swapped = _swap_after_check(
        monkeypatch,
        str(cert),
        {cert: Path(pki.path("expired.crt")), key: Path(pki.path("expired.key"))},
    )
    tls.context = tls.renewed()
    assert swapped  # the files really changed between the check and the load
    served = _served_certificate(tls, client_context(ca=pki.ca_file))
    assert served == _leaf_der(pki.path("backup.crt"))


def test_a_certificate_replaced_after_the_check_is_not_loaded_beside_the_checked_key(
    pki: PKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = _copy_pair(pki, "server", tmp_path)
    swapped = _swap_after_check(monkeypatch, str(cert), {cert: Path(pki.path("backup.crt"))})
    tls = ServerTLS(cert, key, None, mtls=False)  # no tls_files_changed: the checked pair
    assert swapped
    served = _served_certificate(tls, client_context(ca=pki.ca_file))
    assert served == _leaf_der(pki.path("server.crt"))


def test_a_client_ca_file_replaced_after_the_check_is_not_the_one_trusted(
    pki: PKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = _copy_pair(pki, "server", tmp_path)
    client_ca = tmp_path / "clients.crt"
    shutil.copyfile(pki.ca_file, client_ca)
    swapped = _swap_after_check(monkeypatch, str(client_ca), {client_ca: Path(pki.other_ca_file)})
    tls = ServerTLS(cert, key, client_ca, mtls=True)
    assert swapped
    alice = client_context(ca=pki.ca_file, cert=pki.path("alice.crt"), key=pki.path("alice.key"))
    # Alice's certificate, from the CA that was checked, is accepted.
    assert _served_certificate(tls, alice) == _leaf_der(pki.path("server.crt"))
