"""PEM public keys (RSA, Ed25519) as age recipients: the real `age` opens the files.

A PEM public key is the ``ssh-rsa`` or ``ssh-ed25519`` recipient of the same key, so
the file opens with the matching private key: sealbox's identities and ``age -d -i``.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from sealbox import age
from sealbox.exceptions import KeyFormatError, UnsupportedAlgorithmError
from sealbox.keys import KeyType, PrivateKey
from tests.conftest import require_tool

pytestmark = pytest.mark.interop


def _openssl_key(tmp_path: Path, algorithm: str, *opts: str) -> tuple[Path, Path]:
    openssl = require_tool("openssl")
    private, public = tmp_path / f"{algorithm}.pem", tmp_path / f"{algorithm}.pub.pem"
    subprocess.run(
        [openssl, "genpkey", "-algorithm", algorithm, *opts, "-out", str(private)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [openssl, "pkey", "-in", str(private), "-pubout", "-out", str(public)],
        check=True,
        capture_output=True,
    )
    return private, public


def _age_decrypt(identity: Path, blob: bytes) -> bytes:
    age_bin = require_tool("age")
    done = subprocess.run(
        [age_bin, "-d", "-i", str(identity)], input=blob, capture_output=True, check=True
    )
    return done.stdout


@pytest.mark.parametrize(
    ("algorithm", "opts", "stanza"),
    [
        ("ed25519", (), "ssh-ed25519"),
        ("rsa", ("-pkeyopt", "rsa_keygen_bits:2048"), "ssh-rsa"),
    ],
)
def test_an_openssl_pem_public_key_file_is_a_recipient_that_age_opens_with_the_private_key(
    tmp_path: Path, algorithm: str, opts: tuple[str, ...], stanza: str
) -> None:
    private, public = _openssl_key(tmp_path, algorithm, *opts)
    recipients = age.load_recipients(public)
    assert len(recipients) == 1
    assert str(recipients[0]).startswith(stanza + " ")
    blob = age.encrypt(b"attack at dawn", recipients)
    assert age.inspect(io.BytesIO(blob)).recipient_types == (stanza,)
    assert _age_decrypt(private, blob) == b"attack at dawn"
    assert age.decrypt(blob, age.load_identities(private)) == b"attack at dawn"


def test_pem_blocks_mix_with_recipient_lines_and_pkcs1_rsa_keys_in_one_file(
    tmp_path: Path,
) -> None:
    openssl = require_tool("openssl")
    ed_private, ed_public = _openssl_key(tmp_path, "ed25519")
    rsa_private, _ = _openssl_key(tmp_path, "rsa", "-pkeyopt", "rsa_keygen_bits:2048")
    pkcs1 = subprocess.run(
        [openssl, "rsa", "-in", str(rsa_private), "-RSAPublicKey_out"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    me = age.X25519Identity.generate()
    text = f"# team\n{me.recipient()}\n\n{ed_public.read_text()}# ops\n{pkcs1}"
    recipients = age.parse_recipients(text)
    assert [str(r).split()[0][:4] for r in recipients] == ["age1", "ssh-", "ssh-"]
    blob = age.encrypt(b"x", recipients)
    assert _age_decrypt(ed_private, blob) == b"x"
    assert _age_decrypt(rsa_private, blob) == b"x"
    assert age.decrypt(blob, [me]) == b"x"


def test_a_sealbox_pem_public_key_string_is_a_recipient(tmp_path: Path) -> None:
    key = PrivateKey.generate(KeyType.ED25519)
    pem = key.public_key.public_bytes("pem").decode()
    recipient = age.parse_recipient(pem)
    assert str(recipient) == key.public_key.public_bytes("openssh").decode().split("\n")[0]


def test_a_private_key_given_as_recipient_is_refused_without_quoting_it(tmp_path: Path) -> None:
    private, _ = _openssl_key(tmp_path, "ed25519")
    text = private.read_text()
    with pytest.raises(KeyFormatError) as info:
        age.load_recipients(private)
    assert info.value.code == "private_key_as_recipient"
    assert "line 1" in str(info.value)
    body = text.splitlines()[1]
    assert body not in str(info.value)
    assert body[:10] not in str(info.value)


def test_an_x25519_or_ec_pem_public_key_is_refused_with_its_type(tmp_path: Path) -> None:
    _, x25519 = _openssl_key(tmp_path, "x25519")
    with pytest.raises(UnsupportedAlgorithmError) as info:
        age.parse_recipient(x25519.read_text())
    assert info.value.code == "unsupported_recipient_key"
    assert "X25519" in str(info.value)
    _, ec = _openssl_key(tmp_path, "ec", "-pkeyopt", "ec_paramgen_curve:P-256")
    with pytest.raises(KeyFormatError) as file_info:
        age.load_recipients(ec)
    assert file_info.value.code == "unsupported_recipient_key"


def test_a_small_rsa_pem_key_is_refused_as_in_ssh_form(tmp_path: Path) -> None:
    _, public = _openssl_key(tmp_path, "rsa", "-pkeyopt", "rsa_keygen_bits:1024")
    with pytest.raises(KeyFormatError, match="at least 2048"):
        age.load_recipients(public)


def test_an_unknown_recipient_has_its_own_code_and_a_hint() -> None:
    with pytest.raises(KeyFormatError) as info:
        age.parse_recipient("team.pem")
    assert info.value.code == "unknown_recipient"
    assert "PEM public key" in (info.value.hint or "")


def test_a_secrets_file_records_a_pem_recipient_as_its_one_line_ssh_form(tmp_path: Path) -> None:
    from sealbox.secrets.sealed import SealedFile

    private, public = _openssl_key(tmp_path, "ed25519")
    path = tmp_path / "app.secrets"
    sealed = SealedFile.create(path, [public.read_text()])
    sealed.set("DB_PASSWORD", "canary-pem-recipient-7a1d")
    sealed.save()
    reloaded = SealedFile.load(path)
    assert [r.split()[0] for r in reloaded.recipients] == ["ssh-ed25519"]
    assert str(age.parse_recipient(public.read_text())) == reloaded.recipients[0]
    value = reloaded.get("DB_PASSWORD", age.load_identities(private))
    assert value.expose_secret() == "canary-pem-recipient-7a1d"
