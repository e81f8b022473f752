"""`sealbox jwt verify` with keys from elsewhere: a token without kid, a JWKS URL (--ca, --pin)."""

from __future__ import annotations

import json
import time

import pytest

from sealbox.jwt import SigningKeySet
from tests.cli._jwt import PASS, _through_click, issue


def _without_kid(private_pem: bytes, alg: str) -> str:
    """A token as an issuer that never sets kid makes it (PyJWT)."""
    import jwt as pyjwt

    claims = {"sub": "alice", "aud": "api", "iat": int(time.time()), "exp": int(time.time()) + 60}
    return pyjwt.encode(claims, private_pem, algorithm=alg, headers={"typ": "at+jwt"})


@pytest.fixture
def two_keys(tmp_path):
    """A JWKS with an EdDSA and an ES256 key, and the ES256 private key (PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    from sealbox.jwt import JWKSet, VerificationKey

    es = ec.generate_private_key(ec.SECP256R1())
    ed = ed25519.Ed25519PrivateKey.generate()
    jwks = JWKSet(
        [
            VerificationKey.from_public_key(ed.public_key(), alg="EdDSA", kid="ed"),
            VerificationKey.from_public_key(es.public_key(), alg="ES256", kid="es"),
        ]
    ).to_dict()
    pem = es.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "two.json"
    path.write_text(json.dumps(jwks))
    return path, pem, jwks


def test_verify_a_token_without_kid_with_the_one_key_of_its_algorithm(cli, two_keys):
    path, pem, jwks = two_keys
    token = _without_kid(pem, "ES256")
    result = cli(["jwt", "verify", "--jwks", path, "--aud", "api", token])
    assert result.code == 0, result.stderr
    assert json.loads(result.out)["sub"] == "alice"
    # Two ES256 keys: the token cannot say which.
    jwks["keys"].append({**jwks["keys"][1], "kid": "es-2"})
    path.write_text(json.dumps(jwks))
    result = cli(["jwt", "verify", "--jwks", path, "--aud", "api"], input=token.encode())
    assert result.code == 1
    assert result.stderr.splitlines() == [
        (
            "sealbox: error: the token has no key id (kid), and the key set holds 2 keys for "
            "ES256: it does not say which one to check it with"
        ),
        (
            "sealbox: hint: have the token's issuer give it a kid, or verify it with a JWKS "
            "(--jwks) that holds only one ES256 key"
        ),
    ]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    from tests._tls import make_pki

    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def jwks_server(pki, keyset_file):
    """A real HTTPS server on 127.0.0.1 serving the keyset's JWKS."""
    from sealbox.tls import server_context
    from tests._tls import TLSServer

    body = json.dumps(SigningKeySet.load(keyset_file, PASS).public_jwks()).encode()
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/jwk-set+json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    context = server_context(pki.path("server.crt"), pki.path("server.key"))
    with TLSServer(context, response=response) as server:
        yield server


def _pin(pki, name: str) -> str:
    from cryptography import x509

    from sealbox.tls import spki_pin

    return spki_pin(x509.load_pem_x509_certificate((pki.root / f"{name}.crt").read_bytes()))


def _remote(run, server, *args, token="a.b.c"):
    url = server.url("127.0.0.1") + ".well-known/jwks.json"
    return run(["jwt", "verify", "--jwks", url, "--aud", "api", *args, "-"], input=token.encode())


@pytest.mark.parametrize("path", ["direct", "click"])
def test_verify_with_a_jwks_url_trusted_by_its_ca(
    cli, keyset_file, jwks_server, pki, path, monkeypatch
):
    token = issue(cli, keyset_file, "--aud", "api")
    run = cli if path == "direct" else _through_click(monkeypatch)
    result = _remote(run, jwks_server, "--ca", pki.ca_file, token=token)
    assert result.code == 0, result.stderr
    assert json.loads(result.out)["sub"] == "alice"


def test_a_jwks_url_scheme_in_capitals_is_a_url_too(cli, keyset_file, jwks_server, pki):
    token = issue(cli, keyset_file, "--aud", "api")
    url = jwks_server.url("127.0.0.1").replace("https://", "HTTPS://") + ".well-known/jwks.json"
    # RFC 3986 §3.1: schemes compare case-insensitively; it was read as a file's name.
    result = cli(["jwt", "verify", "--jwks", url, "--aud", "api", "--ca", pki.ca_file, token])
    assert result.code == 0, result.stderr


@pytest.mark.parametrize("path", ["direct", "click"])
def test_verify_with_a_jwks_url_and_its_pin(cli, keyset_file, jwks_server, pki, path, monkeypatch):
    token = issue(cli, keyset_file, "--aud", "api")
    run = cli if path == "direct" else _through_click(monkeypatch)
    good = _remote(run, jwks_server, "--ca", pki.ca_file, "--pin", _pin(pki, "server"), token=token)
    assert good.code == 0, good.stderr
    wrong = _remote(
        run, jwks_server, "--ca", pki.ca_file, "--pin", _pin(pki, "backup"), token=token
    )
    assert wrong.code == 1
    assert wrong.out == ""
    assert wrong.stderr.splitlines()[0] == (
        f"sealbox: error: server public key {_pin(pki, 'server')} matches no configured pin"
    )
    # The connection with the wrong pin closed before its request was sent.
    assert [c.received > 0 for c in jwks_server.wait(2)] == [True, False]


def test_verify_with_a_jwks_url_nobody_vouches_for(cli, keyset_file, jwks_server, pki):
    token = issue(cli, keyset_file, "--aud", "api")
    url = jwks_server.url("127.0.0.1") + ".well-known/jwks.json"
    for extra in ([], ["--pin", _pin(pki, "server")]):  # a pin narrows trust, never widens it
        result = _remote(cli, jwks_server, *extra, token=token)
        assert result.code == 1
        assert result.stderr.splitlines() == [
            (
                f"sealbox: error: cannot fetch the key set from {url}: its certificate is not "
                "trusted: self-signed certificate in certificate chain"
            ),
            (
                "sealbox: hint: for an unknown CA, pass --ca with the one that issued the JWKS "
                "server's certificate; one for another name or past its dates needs the right "
                "URL or a renewed certificate"
            ),
        ]


def test_ca_and_pin_go_with_a_jwks_url_only(cli, jwks_file, pki):
    for extra in (["--ca", pki.ca_file], ["--pin", _pin(pki, "server")]):
        result = cli(["jwt", "verify", "--jwks", jwks_file, *extra, "a.b.c"])
        assert result.code == 2
        assert "--ca and --pin go with a JWKS URL" in result.stderr
    plain = cli(["jwt", "verify", "--jwks", "http://127.0.0.1:1/jwks.json", "a.b.c"])
    assert plain.code == 1
    assert "a JWK Set URL must be https, not http" in plain.stderr


@pytest.mark.parametrize("path", ["direct", "click"])
@pytest.mark.parametrize(
    ("pin", "why"),
    [
        ("garbage", "does not start with 'sha256//'"),
        ("sha256//not base64!", "is not valid base64"),
        ("sha256//AAAA", "holds 3 bytes; a SHA-256 pin holds 32"),
    ],
)
def test_a_malformed_pin_is_a_usage_error_before_any_connection(
    cli, jwks_server, pki, path, monkeypatch, pin, why
):
    run = cli if path == "direct" else _through_click(monkeypatch)
    before = len(jwks_server.connections)
    result = _remote(run, jwks_server, "--ca", pki.ca_file, "--pin", pin)
    assert result.code == 2, result.stderr
    assert result.stderr.splitlines()[0].startswith("sealbox: error: --pin: pin ")
    assert why in result.stderr
    assert len(jwks_server.connections) == before
