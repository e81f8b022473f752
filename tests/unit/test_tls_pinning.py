"""SPKI pins: computing, parsing and checking them."""

from __future__ import annotations

import base64
import hashlib
import ssl

import pytest
from cryptography.hazmat.primitives import serialization

from sealbox.exceptions import ConfigError, PinMismatchError, TLSConfigError
from sealbox.tls.ca import CertificateAuthority
from sealbox.tls.pinning import (
    check_pin,
    context_pins,
    parse_pin,
    parse_pins,
    pin_context,
    pin_from_file,
    spki_pin,
)


@pytest.fixture(scope="module")
def issued():
    return CertificateAuthority.generate().issue_server(["localhost"])


def independent_pin(cert) -> str:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256//" + base64.b64encode(hashlib.sha256(spki).digest()).decode()


def test_pin_is_sha256_of_spki_in_every_input_form(issued):
    cert = issued.certificate
    expected = independent_pin(cert)
    assert spki_pin(cert) == expected
    assert spki_pin(cert.public_key()) == expected
    assert spki_pin(cert.public_bytes(serialization.Encoding.DER)) == expected
    assert issued.pin == expected
    assert len(expected) == len("sha256//") + 44


def test_pin_differs_between_keys():
    ca = CertificateAuthority.generate()
    a = ca.issue_server(["a.test"])
    b = ca.issue_server(["a.test"])
    assert a.pin != b.pin
    # The same key renewed keeps its pin; the certificate bytes differ.
    renewed = ca.renew(a.certificate, key=a.private_key)
    assert renewed.pin == a.pin
    assert renewed.certificate.serial_number != a.certificate.serial_number


def test_parse_pin_round_trip(issued):
    digest = parse_pin(issued.pin)
    assert len(digest) == 32
    assert "sha256//" + base64.b64encode(digest).decode() == issued.pin
    assert parse_pin(f"  {issued.pin}\n") == digest


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "does not start with 'sha256//'"),
        ("sha1//AAAA", "does not start with 'sha256//'"),
        ("sha256//not base64!", "is not valid base64"),
        ("sha256//" + base64.b64encode(b"x" * 20).decode(), "holds 20 bytes"),
    ],
)
def test_parse_pin_errors_are_precise_and_share_one_code(text, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_pin(text)
    # One code for every malformed pin (bad base64 and a wrong length were bad_config).
    assert caught.value.code == "bad_pin"


def test_parse_pin_rejects_non_strings():
    with pytest.raises(TypeError):
        parse_pin(b"sha256//x")  # type: ignore[arg-type]


def test_parse_pins_accepts_curl_list_form(issued):
    other = CertificateAuthority.generate().issue_server(["x.test"]).pin
    assert parse_pins(f"{issued.pin};{other}") == {parse_pin(issued.pin), parse_pin(other)}
    assert parse_pins([issued.pin, other, issued.pin]) == parse_pins(f"{other};{issued.pin};")


def test_check_pin(issued):
    der = issued.certificate.public_bytes(serialization.Encoding.DER)
    check_pin(der, frozenset({parse_pin(issued.pin)}))
    wrong = frozenset({hashlib.sha256(b"other").digest()})
    with pytest.raises(PinMismatchError) as info:
        check_pin(der, wrong)
    assert info.value.seen == issued.pin
    assert issued.pin in str(info.value)
    with pytest.raises(PinMismatchError):
        check_pin(None, wrong)


def test_pin_context(issued):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ConfigError, match="at least one pin"):
        pin_context(ctx, [])
    assert context_pins(ctx) == []
    assert pin_context(ctx, [issued.pin]) is ctx
    assert context_pins(ctx) == [issued.pin]
    # Still exactly an ssl.SSLContext: libraries that check the type keep their fast path.
    assert type(ctx) is ssl.SSLContext
    assert issubclass(ctx.sslsocket_class, ssl.SSLSocket)
    assert issubclass(ctx.sslobject_class, ssl.SSLObject)
    with pytest.raises(ConfigError, match="already uses custom"):
        pin_context(ctx, [issued.pin])


def test_pin_from_file(tmp_path, issued):
    cert = issued.certificate
    (tmp_path / "c.pem").write_bytes(issued.certificate_pem())
    (tmp_path / "c.der").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    (tmp_path / "pub.pem").write_bytes(
        cert.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (tmp_path / "k.pem").write_bytes(issued.private_key_pem())
    (tmp_path / "junk").write_bytes(b"hello")
    for name in ("c.pem", "c.der", "pub.pem"):
        assert pin_from_file(tmp_path / name) == issued.pin
    with pytest.raises(TLSConfigError, match="is a private key"):
        pin_from_file(tmp_path / "k.pem")
    with pytest.raises(TLSConfigError, match="not a PEM or DER certificate"):
        pin_from_file(tmp_path / "junk")
    with pytest.raises(TLSConfigError, match="does not exist"):
        pin_from_file(tmp_path / "missing")
