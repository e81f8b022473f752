"""Records of the original recipes, made with pyca/cryptography as those recipes made them.

Nothing here calls sealbox: the Fernet key is derived here, the AES-GCM record comes from
the classic ``Cipher(AES, GCM)`` encryptor, so the tests check sealbox against the recipes
rather than against itself.
"""

from __future__ import annotations

import base64
import json
import os

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC


def recipe_fernet_key(password: bytes, salt: bytes) -> bytes:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=100_000)
    return base64.urlsafe_b64encode(kdf.derive(password))


def fernet_token(password: bytes, plain: bytes, salt: bytes) -> bytes:
    return Fernet(recipe_fernet_key(password, salt)).encrypt(plain)


def fernet_file(password: bytes, plain: bytes, salt: bytes | None = None) -> bytes:
    """The file recipe: ``salt + token``, written as bytes."""
    salt = os.urandom(16) if salt is None else salt
    return salt + fernet_token(password, plain, salt)


def fernet_json(password: bytes, plain: bytes, *, token_as: str = "base64") -> bytes:
    """The JSON recipe: ``{"salt": b64, "ciphertext": b64(token)}`` (or hex, or the token)."""
    salt = os.urandom(16)
    token = fernet_token(password, plain, salt)
    if token_as == "hex":
        doc = {"salt": salt.hex(), "ciphertext": token.hex()}
    elif token_as == "text":
        doc = {"salt": base64.b64encode(salt).decode(), "ciphertext": token.decode()}
    else:
        doc = {
            "salt": base64.b64encode(salt).decode(),
            "ciphertext": base64.b64encode(token).decode(),
        }
    return json.dumps(doc).encode()


def aes_gcm_record(key: bytes, plain: bytes) -> dict[str, bytes]:
    """The AES-GCM recipe's return value: ``{"iv", "ciphertext", "tag"}`` as bytes."""
    iv = os.urandom(12)
    encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    ciphertext = encryptor.update(plain) + encryptor.finalize()
    return {"iv": iv, "ciphertext": ciphertext, "tag": encryptor.tag}


def aes_gcm_json(key: bytes, plain: bytes, *, encoding: str = "base64") -> bytes:
    """The record stored as JSON, every field in ``hex``, ``base64`` or ``urlsafe`` (unpadded)."""
    record = aes_gcm_record(key, plain)
    if encoding == "hex":
        doc = {k: v.hex() for k, v in record.items()}
    elif encoding == "urlsafe":
        doc = {k: base64.urlsafe_b64encode(v).decode().rstrip("=") for k, v in record.items()}
    else:
        doc = {k: base64.b64encode(v).decode() for k, v in record.items()}
    return json.dumps(doc).encode()


def aes_gcm_raw(key: bytes, plain: bytes) -> bytes:
    """The record stored as bytes: ``iv || ciphertext || tag``."""
    record = aes_gcm_record(key, plain)
    return record["iv"] + record["ciphertext"] + record["tag"]
