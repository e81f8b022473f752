"""Encrypted PKCS#8 keys that ``openssl pkcs8 -topk8 -v2 CIPHER`` writes.

OpenSSL also encrypts with PBES2 ciphers pyca/cryptography does not read (Camellia,
ARIA): the right passphrase must not be called wrong, or the user retries it forever.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sealbox.exceptions import DecryptionError, UnsupportedAlgorithmError
from sealbox.keys.asymmetric import PrivateKey
from tests.conftest import require_tool

pytestmark = pytest.mark.interop

PASS = "pkcs8-ciphers-7e3b"


def _openssl_pkcs8(tmp_path: Path, *cipher: str) -> Path:
    openssl = require_tool("openssl")
    clear, encrypted = tmp_path / "clear.pem", tmp_path / "key.pem"
    to_pkcs8 = ["pkcs8", "-topk8", "-in", str(clear), "-out", str(encrypted)]
    for argv in (
        [openssl, "genpkey", "-algorithm", "ed25519", "-out", str(clear)],
        [openssl, *to_pkcs8, "-passout", f"pass:{PASS}", *cipher],
    ):
        p = subprocess.run(argv, capture_output=True, timeout=60, check=False)
        assert p.returncode == 0, p.stderr.decode()
    return encrypted


@pytest.mark.parametrize(
    ("cipher", "oid"),
    [("camellia-256-cbc", "1.2.392.200011.61.1.1.1.4"), ("aria-256-cbc", "1.2.410.200046.1.1.12")],
)
def test_pkcs8_key_in_a_cipher_pyca_cannot_read_is_unsupported_not_a_wrong_passphrase(
    tmp_path: Path, cipher: str, oid: str
) -> None:
    path = _openssl_pkcs8(tmp_path, "-v2", cipher)
    with pytest.raises(UnsupportedAlgorithmError, match=f"{cipher} \\({oid}\\)") as info:
        PrivateKey.load(path, PASS)
    assert PASS not in str(info.value)


@pytest.mark.parametrize("cipher", ["aes-128-cbc", "aes-192-cbc", "aes-256-cbc", "des3"])
def test_pkcs8_key_in_a_readable_cipher_loads_and_a_wrong_passphrase_says_so(
    tmp_path: Path, cipher: str
) -> None:
    path = _openssl_pkcs8(tmp_path, "-v2", cipher)
    assert PrivateKey.load(path, PASS).key_type.value == "ed25519"
    with pytest.raises(DecryptionError, match="wrong passphrase"):
        PrivateKey.load(path, PASS + "x")
