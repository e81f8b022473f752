"""A wrong passphrase for an encrypted private key file says where the passphrase came from,
as it does for a keyring, a keyset or an age identity: with `$SEALBOX_PASSPHRASE` set
for another file, nothing else tells why a passphrase never typed is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

RIGHT = "the passphrase the key was made with"
WRONG = "a passphrase set for another file"


@pytest.fixture
def key(cli, tmp_path: Path) -> Path:
    made = cli(
        ["key", "generate", "--type", "ed25519", "-o", tmp_path / "release"],
        env={"SEALBOX_PASSPHRASE": RIGHT},
    )
    assert made.code == 0, made.stderr
    (tmp_path / "dist.tar.gz").write_bytes(b"release contents")
    return tmp_path / "release"


def test_sign_with_a_wrong_passphrase_from_the_environment_names_the_variable(
    cli, key: Path
) -> None:
    data = key.with_name("dist.tar.gz")
    r = cli(["sign", "-k", key, data], env={"SEALBOX_PASSPHRASE": WRONG})
    assert r.code == 1
    assert r.stderr == (
        f"sealbox: error: cannot decrypt key file {key}: wrong passphrase, or the file was "
        "altered\n"
        "sealbox: hint: the passphrase came from $SEALBOX_PASSPHRASE\n"
    )
    assert not data.with_name("dist.tar.gz.sig").exists()


def test_key_sign_with_a_wrong_passphrase_file_names_the_file(cli, key: Path) -> None:
    passphrase = key.with_name("passphrase.txt")
    passphrase.write_text(WRONG + "\n")
    out = key.with_name("dist.sig")
    r = cli(
        [
            "key",
            "sign",
            "-k",
            key,
            "--passphrase-file",
            passphrase,
            "-o",
            out,
            key.with_name("dist.tar.gz"),
        ],
        env={"SEALBOX_PASSPHRASE": RIGHT},
    )
    assert r.code == 1
    assert r.stderr.endswith(
        f"sealbox: hint: the passphrase came from passphrase file {passphrase}\n"
    )
    assert not out.exists()


def test_key_public_of_an_encrypted_pem_key_with_a_wrong_passphrase_names_its_source(
    cli, tmp_path: Path
) -> None:
    pem = tmp_path / "server"
    made = cli(
        ["key", "generate", "--type", "ecdsa", "--format", "pem", "-o", pem],
        env={"SEALBOX_PASSPHRASE": RIGHT},
    )
    assert made.code == 0, made.stderr
    r = cli(["key", "public", pem], env={"SEALBOX_PASSPHRASE": WRONG})
    assert r.code == 1
    assert r.stdout == b""
    assert r.stderr.endswith("sealbox: hint: the passphrase came from $SEALBOX_PASSPHRASE\n")
