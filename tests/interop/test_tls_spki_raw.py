"""A pin is the SHA-256 of the certificate's SubjectPublicKeyInfo as it is encoded in the
certificate (RFC 7469 section 2.4), the bytes curl's --pinnedpubkey and the openssl pipeline
hash: never a re-encoding of the key, which differs for a compressed EC point and for an
RSA-PSS key (pyca writes both in another form)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sealbox.tls.ca import CertificateAuthority
from sealbox.tls.client import secure_client
from sealbox.tls.pinning import pin_from_bytes, pin_from_file, spki_pin
from tests._tls import openssl_server
from tests.conftest import require_tool

pytestmark = pytest.mark.interop

_LEAF_EXTENSIONS = (
    "basicConstraints=critical,CA:FALSE\n"
    "keyUsage=critical,digitalSignature\n"
    "extendedKeyUsage=serverAuth\n"
    "subjectAltName=DNS:localhost\n"
    "subjectKeyIdentifier=hash\n"
    "authorityKeyIdentifier=keyid\n"
)


def _run(*argv: str, data: bytes | None = None) -> bytes:
    return subprocess.run(argv, input=data, capture_output=True, check=True).stdout


def _pin_by_openssl(cert: Path) -> str:
    """The pipeline curl's documentation gives for --pinnedpubkey."""
    pub = _run("openssl", "x509", "-in", str(cert), "-pubkey", "-noout")
    der = _run("openssl", "pkey", "-pubin", "-outform", "der", data=pub)
    digest = _run("openssl", "dgst", "-sha256", "-binary", data=der)
    return "sha256//" + _run("openssl", "base64", "-A", data=digest).decode().strip()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sealbox CA, and leaves it signed through openssl for keys pyca re-encodes."""
    require_tool("openssl")
    root = tmp_path_factory.mktemp("spki")
    CertificateAuthority.init(root / "ca", name="SPKI CA")
    (root / "leaf.ext").write_text(_LEAF_EXTENSIONS)
    for name in ("compressed", "pss"):
        key = root / f"{name}.key"
        if name == "compressed":
            # A P-256 key whose point the certificate holds compressed (RFC 5480 allows it).
            _run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                 "-out", str(root / "plain.key"))  # fmt: skip
            _run("openssl", "ec", "-in", str(root / "plain.key"), "-conv_form", "compressed",
                 "-out", str(key))  # fmt: skip
        else:
            _run("openssl", "genpkey", "-algorithm", "rsa-pss",
                 "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key))  # fmt: skip
        _run("openssl", "req", "-new", "-key", str(key), "-subj", "/CN=localhost",
             "-out", str(root / f"{name}.csr"))  # fmt: skip
        _run("openssl", "x509", "-req", "-in", str(root / f"{name}.csr"),
             "-CA", str(root / "ca" / "ca.crt"), "-CAkey", str(root / "ca" / "ca.key"),
             "-set_serial", "0x1234567890abcdef", "-days", "5",
             "-extfile", str(root / "leaf.ext"), "-out", str(root / f"{name}.crt"))  # fmt: skip
    return root


@pytest.mark.parametrize("name", ["compressed", "pss"])
def test_the_pin_of_a_certificate_hashes_its_public_key_as_encoded_in_it(pki, name):
    cert = pki / f"{name}.crt"
    expected = _pin_by_openssl(cert)
    assert pin_from_file(cert) == expected
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    assert spki_pin(loaded) == expected
    assert spki_pin(loaded.public_bytes(serialization.Encoding.DER)) == expected


def test_the_pin_of_a_pem_public_key_hashes_the_key_as_encoded(pki):
    pub = _run("openssl", "pkey", "-in", str(pki / "compressed.key"), "-pubout")
    assert b"BEGIN PUBLIC KEY" in pub
    digest = _run(
        "openssl", "dgst", "-sha256", "-binary",
        data=_run("openssl", "pkey", "-pubin", "-outform", "der", data=pub),
    )  # fmt: skip
    expected = "sha256//" + _run("openssl", "base64", "-A", data=digest).decode().strip()
    assert pin_from_bytes(pub) == expected


@pytest.mark.parametrize("name", ["compressed", "pss"])
def test_a_server_pinned_with_curls_pin_of_its_key_is_accepted(pki, name):
    pin = _pin_by_openssl(pki / f"{name}.crt")
    with (
        openssl_server(
            "-cert", str(pki / f"{name}.crt"), "-key", str(pki / f"{name}.key"), "-www"
        ) as port,  # fmt: skip
        secure_client(ca=pki / "ca" / "ca.crt", pins=[pin], timeout=10) as client,
    ):
        response = client.get(f"https://localhost:{port}/")
    assert isinstance(response, httpx2.Response)
    assert response.status_code == 200
