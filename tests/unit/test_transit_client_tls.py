"""The transit client says why a TLS connection to the service failed: which check of
the certificate, or which part of the handshake (real TLS servers on 127.0.0.1)."""

from __future__ import annotations

import ssl

import pytest

from sealbox.exceptions import TLSError
from sealbox.secret import Secret
from sealbox.transit import TransitClient
from sealbox.transit.errors import ServiceUnreachableError
from tests._tls import TLSServer, make_pki, plain_server_context

TOKEN = Secret("t0ken")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    pki.ca.issue_server(["other.test"]).write(pki.root / "othername")
    return pki


def _refusal(url: str, ca: str) -> BaseException:
    with (
        TransitClient(url, token=TOKEN, ca=ca, timeout=5) as client,
        pytest.raises((TLSError, ServiceUnreachableError)) as exc,
    ):
        client.list_keys()
    return exc.value


@pytest.mark.parametrize(
    ("name", "ca", "reason"),
    [
        ("othername", "ca_file", "its certificate did not verify: Hostname mismatch"),
        ("expired", "ca_file", "its certificate did not verify: certificate has expired"),
        ("server", "other_ca_file", "its certificate is not trusted: "),
    ],
)
def test_a_certificate_that_does_not_verify_is_refused_with_its_reason(pki, name, ca, reason):
    context = plain_server_context(pki.path(f"{name}.crt"), pki.path(f"{name}.key"))
    with TLSServer(context) as srv:
        url = f"https://localhost:{srv.port}"
        exc = _refusal(url, getattr(pki, ca))
        assert srv.wait()[0].received == 0
    assert isinstance(exc, TLSError)
    assert exc.code == "server_unverified"
    assert str(exc).startswith(f"cannot verify the certificate of {url}: {reason}")
    failed = "issuer" if ca == "other_ca_file" else "certificate"
    assert exc.facts == {"url": url, "failed": failed}


def test_a_handshake_the_client_refuses_names_the_alert_not_a_stopped_service(pki):
    # TLS 1.2 with a CBC suite only: RFC 9325 has the client refuse it.
    context = plain_server_context(pki.path("server.crt"), pki.path("server.key"))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-ECDSA-AES128-SHA")
    with TLSServer(context) as srv:
        url = f"https://localhost:{srv.port}"
        exc = _refusal(url, pki.ca_file)
    assert isinstance(exc, ServiceUnreachableError)
    assert exc.code == "tls_handshake_failed"
    assert (
        str(exc)
        == f"cannot connect to {url}: the TLS handshake failed: sslv3 alert handshake failure"
    )
    assert "running" not in (exc.hint or "")


def test_pins_given_once_as_an_iterator_still_hold_after_the_client_reconnects(pki):
    from sealbox.exceptions import PinMismatchError

    # A pin of another key: every connection must be refused, the first and those
    # opened after close() alike (an iterator is read once).
    other = "sha256//" + "A" * 43 + "="
    context = plain_server_context(pki.path("server.crt"), pki.path("server.key"))
    with TLSServer(context) as srv:
        url = f"https://localhost:{srv.port}"
        client = TransitClient(url, token=TOKEN, ca=pki.ca_file, pins=iter([other]), timeout=5)
        for _ in range(2):
            with pytest.raises(PinMismatchError):
                client.list_keys()
            client.close()
        assert all(c.received == 0 for c in srv.wait(2))


def test_a_malformed_pin_is_refused_when_the_client_is_made(pki):
    from sealbox.exceptions import ConfigError

    with pytest.raises(ConfigError) as caught:
        TransitClient("https://localhost:1", token=TOKEN, pins=["sha256/not-a-pin"])
    assert caught.value.code == "bad_pin"


@pytest.mark.parametrize(("name", "words"), [("expired", "expired"), ("othername", "Hostname")])
def test_the_command_line_hints_at_ca_only_when_the_issuer_is_unknown(pki, cli, name, words):
    context = plain_server_context(pki.path(f"{name}.crt"), pki.path(f"{name}.key"))
    with TLSServer(context) as srv:
        url = f"https://localhost:{srv.port}"
        r = cli(
            ["transit", "keys", "list", "--url", url, "--ca", pki.ca_file],
            env={"SEALBOX_TOKEN": TOKEN.expose_secret()},
        )
    assert r.code == 1
    error, hint = r.stderr.splitlines()
    assert words in error
    assert hint.startswith("sealbox: hint: ")
    assert "--ca" not in hint  # the CA was given: its certificate itself failed
