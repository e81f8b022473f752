"""OpenSSH private keys that ssh-keygen -Z encrypts with an AEAD cipher.

PROTOCOL.key puts the authentication tag of aes256-gcm@openssh.com and
chacha20-poly1305@openssh.com after the encrypted private section, outside its string:
such a file is whole, and its errors are the usual ones.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sealbox.exceptions import DecryptionError, UnsupportedAlgorithmError
from sealbox.keys.asymmetric import PrivateKey, PublicKey
from tests.conftest import require_tool

pytestmark = pytest.mark.interop

PASS = "aead-interop-51c7"


def _keygen(path: Path, cipher: str) -> None:
    argv = [require_tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", PASS, "-a", "2"]
    argv += ["-Z", cipher, "-C", "ops@example.com", "-f", str(path)]
    p = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    assert p.returncode == 0, p.stderr.decode()


def test_aes256_gcm_openssh_key_loads_with_its_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "id_ed25519"
    _keygen(path, "aes256-gcm@openssh.com")
    pub = PublicKey.load(path.with_name("id_ed25519.pub"))
    assert PrivateKey.load(path, PASS).public_key == pub
    assert PublicKey.load(path) == pub


def test_aes256_gcm_openssh_key_with_a_wrong_passphrase_is_a_decryption_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "id_ed25519"
    _keygen(path, "aes256-gcm@openssh.com")
    with pytest.raises(DecryptionError, match="wrong passphrase"):
        PrivateKey.load(path, PASS + "x")


def test_chacha20_poly1305_openssh_key_is_refused_by_its_cipher_name(tmp_path: Path) -> None:
    path = tmp_path / "id_ed25519"
    _keygen(path, "chacha20-poly1305@openssh.com")
    assert PublicKey.load(path) == PublicKey.load(path.with_name("id_ed25519.pub"))
    with pytest.raises(UnsupportedAlgorithmError, match=r"chacha20-poly1305@openssh\.com"):
        PrivateKey.load(path, PASS)
