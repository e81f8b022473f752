"""sealbox.hazmat.bindings: pyca's own ChaCha20-Poly1305 and X25519, by the short path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers import aead

from sealbox import age
from sealbox.hazmat import bindings


def test_the_aead_is_pycas_own_class():
    assert bindings.ChaCha20Poly1305 is aead.ChaCha20Poly1305


def test_x25519_keys_are_pycas_keys_and_agree_with_the_public_api():
    raw = os.urandom(32)
    ours = bindings.x25519_private_key(raw)
    theirs = x25519.X25519PrivateKey.from_private_bytes(raw)
    assert isinstance(ours, x25519.X25519PrivateKey)
    assert ours.private_bytes_raw() == theirs.private_bytes_raw()
    peer = x25519.X25519PrivateKey.generate()
    public = bindings.x25519_public_key(peer.public_key().public_bytes_raw())
    assert isinstance(public, x25519.X25519PublicKey)
    assert ours.exchange(public) == peer.exchange(theirs.public_key())


def test_a_small_decrypt_loads_neither_the_cipher_package_nor_the_openssl_backend(
    tmp_path: Path,
):
    identity = age.X25519Identity.generate()
    key = tmp_path / "key.txt"
    key.write_text(age.identity_file(identity))
    sealed = tmp_path / "small.age"
    sealed.write_bytes(age.encrypt(b"hello", [identity.recipient()]))
    code = (
        "import sys, json\n"
        "from sealbox.cli._direct import run_direct\n"
        f"status = run_direct(['decrypt', '-i', {str(key)!r}, '-o', {str(tmp_path / 'out')!r},"
        f" {str(sealed)!r}])\n"
        "print(json.dumps([status, sorted(sys.modules)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    status, loaded = json.loads(out.stdout.splitlines()[-1])
    assert status == 0
    assert (tmp_path / "out").read_bytes() == b"hello"
    assert "cryptography.hazmat.backends.openssl.backend" not in loaded
    assert "cryptography.hazmat.primitives.ciphers" not in loaded
    assert "click" not in loaded
