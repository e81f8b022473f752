"""TLS files that do not load are refused with their own code, the file in the facts and
a hint that says what to do, by the library, ``sealbox serve`` and ``sealbox ca``."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import load_pem_x509_certificates

from sealbox.exceptions import TLSConfigError
from sealbox.tls.context import server_context
from sealbox.tls.server_session import ServerTLS
from tests._tls import PKI, make_pki

PASSPHRASE = "correct horse"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def files(pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The server pair in the wrong shapes a tester met."""
    folder = tmp_path_factory.mktemp("shapes")
    key = serialization.load_pem_private_key(Path(pki.path("server.key")).read_bytes(), None)
    leaf = load_pem_x509_certificates(Path(pki.path("server.crt")).read_bytes())[0]
    shapes = {
        "cert": Path(pki.path("server.crt")).read_bytes(),
        "key": Path(pki.path("server.key")).read_bytes(),
        "der.crt": leaf.public_bytes(serialization.Encoding.DER),
        "der.key": key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "encrypted.key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(PASSPHRASE.encode()),
        ),
        "bad.crt": b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
        "bad.key": b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
    }
    out = {}
    for name, data in shapes.items():
        path = folder / name
        path.write_bytes(data)
        path.chmod(0o600)
        out[name] = path
    return out


CASES = {
    # name: (certificate, key, code, words of the hint)
    "der_certificate": ("der.crt", "key", "der_certificate", "openssl x509 -inform DER -in"),
    "der_private_key": ("cert", "der.key", "der_private_key", "openssl pkey -inform DER -in"),
    "key_unparsable": ("cert", "bad.key", "key_unparsable", "openssl pkey -in"),
    "certificate_unparsable": ("bad.crt", "key", "certificate_unparsable", "openssl x509 -in"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_file_in_the_wrong_shape_has_its_own_code_path_and_command(
    files: dict[str, Path], case: str
) -> None:
    cert_name, key_name, code, words = CASES[case]
    cert, key = files[cert_name], files[key_name]
    for build in (
        lambda: server_context(cert, key),
        lambda: ServerTLS(cert, key, None, mtls=False),
    ):
        with pytest.raises(TLSConfigError) as info:
            build()
        refused = files[cert_name if "certificate" in code else key_name]
        assert info.value.code == code
        assert info.value.facts["path"] == str(refused)
        assert words in (info.value.hint or "")
        assert str(refused) in (info.value.hint or "")


def test_an_encrypted_key_without_or_with_a_wrong_passphrase_says_which(
    files: dict[str, Path],
) -> None:
    key = files["encrypted.key"]
    with pytest.raises(TLSConfigError) as missing:
        ServerTLS(files["cert"], key, None, mtls=False)
    assert missing.value.code == "key_encrypted"
    assert missing.value.facts == {"path": str(key)}
    with pytest.raises(TLSConfigError) as wrong:
        server_context(files["cert"], key, password="not " + PASSPHRASE)
    assert wrong.value.code == "wrong_passphrase"
    assert wrong.value.facts == {"path": str(key)}
    assert wrong.value.hint and "passphrase" in wrong.value.hint
    assert PASSPHRASE not in str(wrong.value) + wrong.value.hint + repr(wrong.value.facts)
    server_context(files["cert"], key, password=PASSPHRASE)  # the right one loads


def test_a_key_of_another_certificate_is_a_key_mismatch_naming_both_files(pki: PKI) -> None:
    cert, key = pki.path("server.crt"), pki.path("backup.key")
    with pytest.raises(TLSConfigError) as info:
        ServerTLS(Path(cert), Path(key), None, mtls=False)
    assert info.value.code == "key_mismatch"
    assert info.value.facts == {"cert": cert, "key": key}


def test_a_ca_certificate_given_with_a_leafs_key_is_named_as_the_ca_certificate(
    pki: PKI,
) -> None:
    with pytest.raises(TLSConfigError) as info:
        ServerTLS(Path(pki.ca_file), Path(pki.path("server.key")), None, mtls=False)
    assert info.value.code == "ca_certificate_as_leaf"
    assert info.value.facts == {"path": pki.ca_file}


def test_a_leaf_given_with_its_cas_key_is_not_called_a_chain_out_of_order(pki: PKI) -> None:
    with pytest.raises(TLSConfigError) as info:
        server_context(pki.path("server.crt"), pki.path("ca/ca.key"))
    assert info.value.code == "ca_key_as_leaf_key"
    assert "not of its leaf" in str(info.value)


def _serve_refusal(cli, tmp_path: Path, cert: Path, key: Path) -> tuple[str, str]:
    result = cli(
        ["serve", "--data-dir", tmp_path / "data", "--port", "0", "--cert", cert, "--key", key],
        env={"SEALBOX_PASSWORD_PROFILE": "test"},
    )
    assert result.code == 1, result.stderr
    error, hint = result.stderr.strip().splitlines()[-2:]
    assert error.startswith("sealbox: error: ")
    assert hint.startswith("sealbox: hint: ")
    return error, hint


@pytest.mark.parametrize(
    ("cert_name", "key_name", "words"),
    [
        ("der.crt", "key", "openssl x509 -inform DER -in"),
        ("cert", "der.key", "openssl pkey -inform DER -in"),
        ("cert", "bad.key", "openssl pkey -in"),
        ("bad.crt", "key", "openssl x509 -in"),
        ("cert", "encrypted.key", "openssl pkey -in KEY -out PLAIN.key"),
    ],
)
def test_serve_shows_each_refused_file_with_a_hint(
    cli, tmp_path: Path, files: dict[str, Path], cert_name: str, key_name: str, words: str
) -> None:
    _, hint = _serve_refusal(cli, tmp_path, files[cert_name], files[key_name])
    assert words in hint


def test_serve_names_the_ca_certificate_and_the_mismatched_key(
    cli, tmp_path: Path, pki: PKI
) -> None:
    error, hint = _serve_refusal(cli, tmp_path, Path(pki.ca_file), Path(pki.path("server.key")))
    assert "starts with a CA certificate" in error
    assert "PREFIX.crt beside PREFIX.key" in hint
    error, hint = _serve_refusal(
        cli, tmp_path, Path(pki.path("server.crt")), Path(pki.path("backup.key"))
    )
    assert "does not match" in error
    assert f"give the key written together with {pki.path('server.crt')}" in hint


def test_ca_commands_show_a_wrong_ca_passphrase_and_a_der_key_with_a_hint(
    cli, tmp_path: Path
) -> None:
    env = {"SEALBOX_PASSWORD_PROFILE": "test", "SEALBOX_PASSPHRASE": PASSPHRASE}
    made = cli(["ca", "init", tmp_path / "ca", "--encrypt-key"], env=env)
    assert made.code == 0, made.stderr
    wrong = cli(
        ["ca", "issue", "server", tmp_path / "ca", "--san", "x.test", "-o", tmp_path / "x"],
        env={**env, "SEALBOX_PASSPHRASE": "not it"},
    )
    assert wrong.code == 1
    error, hint = wrong.stderr.strip().splitlines()[-2:]
    assert error.startswith("sealbox: error: cannot decrypt CA key ")
    assert hint.startswith("sealbox: hint: check the passphrase (--passphrase-file")
    assert str(tmp_path / "ca" / "ca.key") in hint
    assert "not it" not in wrong.stderr

    issued = cli(
        ["ca", "issue", "server", tmp_path / "ca", "--san", "a.test", "-o", tmp_path / "a"],
        env=env,
    )
    assert issued.code == 0, issued.stderr
    key = serialization.load_pem_private_key((tmp_path / "a.key").read_bytes(), None)
    (tmp_path / "a.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    der = cli(["ca", "renew", tmp_path / "ca", tmp_path / "a", "--now"], env=env)
    assert der.code == 1
    error, hint = der.stderr.strip().splitlines()[-2:]
    key_file = tmp_path / "a.key"
    assert error == (
        f"sealbox: error: key file {key_file} is a DER private key; TLS keys are read as PEM"
    )
    assert hint.startswith("sealbox: hint: convert it to PEM: (umask 077; openssl pkey -inform")
