"""The Transit secrets engine of the fake Vault (tests/fakes/vault.py), after Vault's API docs.

Follows developer.hashicorp.com/vault/api-docs/secret/transit for what sealbox
uses: create, read and list keys, rotate, configure (``min_decryption_version``,
``min_encryption_version``), ``encrypt`` (with ``associated_data`` and
``key_version``), ``decrypt``, ``rewrap`` (which, as in Vault, takes no
associated data), ``datakey/plaintext|wrapped``, ``batch_input`` answered by
``batch_results`` with a per-item ``error``. Keys are ``aes256-gcm96``:
ciphertexts are ``vault:vN:`` + base64(nonce (12) | AES-256-GCM ciphertext | tag),
and error strings are Vault's own (``ciphertext or signature version is
disallowed by policy (too old)``, ``encryption key not found``…). Keys are
upserted by ``encrypt`` as Vault does for a token with the ``create`` capability.

Per-path denials (``FakeVault.deny(token, "transit/decrypt/app")``, checked by the
fake's dispatcher) answer 403 as a Vault policy without the capability would.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

TOO_OLD = "ciphertext or signature version is disallowed by policy (too old)"
NOT_FOUND = "encryption key not found"
AUTH_FAILED = "cipher: message authentication failed"


class UserError(Exception):
    """A per-item error: 400 for a single request, ``error`` in a batch result."""


@dataclass
class TransitKey:
    """One named key: its versions (material never leaves the fake) and configuration."""

    type: str = "aes256-gcm96"
    versions: dict[int, bytes] = field(default_factory=dict)
    created: dict[int, int] = field(default_factory=dict)
    min_decryption_version: int = 1
    min_encryption_version: int = 0
    deletion_allowed: bool = False
    exportable: bool = False

    @property
    def latest(self) -> int:
        return max(self.versions)

    def rotate(self) -> int:
        n = (max(self.versions) if self.versions else 0) + 1
        self.versions[n] = os.urandom(32)
        self.created[n] = int(time.time())
        return n

    def encrypt(self, plaintext: bytes, aad: bytes, version: int = 0) -> tuple[str, int]:
        if version == 0:
            version = self.latest
        if version > self.latest:
            raise UserError(
                "requested version for encryption is higher than the latest key version"
            )
        if self.min_encryption_version and version < self.min_encryption_version:
            raise UserError(
                "requested version for encryption is less than the minimum encryption key version"
            )
        nonce = os.urandom(12)
        sealed = nonce + AESGCM(self.versions[version]).encrypt(nonce, plaintext, aad or None)
        return f"vault:v{version}:{base64.b64encode(sealed).decode()}", version

    def decrypt(self, ciphertext: str, aad: bytes) -> bytes:
        if not ciphertext.startswith("vault:v"):
            raise UserError("invalid ciphertext: no prefix")
        parts = ciphertext[len("vault:v") :].split(":", 1)
        if len(parts) != 2:
            raise UserError("invalid ciphertext: wrong number of fields")
        try:
            version = int(parts[0])
        except ValueError:
            raise UserError("invalid ciphertext: version number could not be decoded") from None
        version = version or 1
        if version > self.latest:
            raise UserError("invalid ciphertext: version is too new")
        if self.min_decryption_version > 0 and version < self.min_decryption_version:
            raise UserError(TOO_OLD)
        try:
            raw = base64.b64decode(parts[1], validate=True)
        except (binascii.Error, ValueError):
            raise UserError("invalid ciphertext: could not decode base64") from None
        try:
            return AESGCM(self.versions[version]).decrypt(raw[:12], raw[12:], aad or None)
        except (InvalidTag, ValueError):
            raise UserError(AUTH_FAILED) from None

    def info(self, name: str) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": name,
            "deletion_allowed": self.deletion_allowed,
            "derived": False,
            "exportable": self.exportable,
            "allow_plaintext_backup": False,
            "keys": {str(n): t for n, t in self.created.items()},
            "latest_version": self.latest,
            "min_available_version": 0,
            "min_decryption_version": self.min_decryption_version,
            "min_encryption_version": self.min_encryption_version,
            "supports_encryption": True,
            "supports_decryption": True,
            "supports_derivation": True,
            "supports_signing": False,
            "imported": False,
        }


def _b64decode(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise UserError(f"missing {what}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise UserError(f"failed to base64-decode {what}") from None


def _envelope(data: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "request_id": secrets.token_hex(8),
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": data,
        "wrap_info": None,
        "warnings": None,
        "auth": None,
    }


def handle(
    handler: Any, method: str, namespace: str, mount: str, rest: list[str], token: str
) -> None:
    """Answer one request under a Transit mount (the caller checked the token)."""
    vault = handler.server.vault
    path = "/".join([mount, *rest])
    body = handler._body() if method == "POST" else {}
    op = rest[0] if rest else ""
    with vault.lock:
        keys: dict[str, TransitKey] = vault.transit.setdefault((namespace, mount), {})
        if op == "keys" and len(rest) == 1 and method == "GET":
            if not keys:
                return handler._error(404)
            return handler._send(200, _envelope({"keys": sorted(keys)}))
        if op == "keys" and len(rest) == 2:
            name = rest[1]
            if method == "GET":
                if name not in keys:
                    return handler._error(404)
                return handler._send(200, _envelope(keys[name].info(name)))
            key = keys.setdefault(name, TransitKey(type=body.get("type") or "aes256-gcm96"))
            if not key.versions:
                key.rotate()
            key.exportable = bool(body.get("exportable", False))
            return handler._send(204, None)
        if op == "keys" and len(rest) == 3 and rest[2] in ("rotate", "config"):
            key = keys.get(rest[1])
            if key is None:
                return handler._error(400, NOT_FOUND)
            if rest[2] == "rotate":
                key.rotate()
                return handler._send(204, None)
            return _configure(handler, key, body)
        if op in ("encrypt", "decrypt", "rewrap") and len(rest) == 2:
            name = rest[1]
            if name not in keys:
                if op != "encrypt":
                    return handler._error(400, NOT_FOUND)
                keys[name] = TransitKey(type=body.get("type") or "aes256-gcm96")
                keys[name].rotate()
            return _crypt(handler, op, keys[name], body)
        if op == "datakey" and len(rest) == 3 and rest[1] in ("plaintext", "wrapped"):
            key = keys.get(rest[2])
            if key is None:
                return handler._error(400, NOT_FOUND)
            bits = int(body.get("bits") or 256)
            if bits not in (128, 256, 512):
                return handler._error(400, "invalid bits; must be 128, 256, or 512")
            material = os.urandom(bits // 8)
            ciphertext, version = key.encrypt(material, b"")
            data: dict[str, Any] = {"ciphertext": ciphertext, "key_version": version}
            if rest[1] == "plaintext":
                data["plaintext"] = base64.b64encode(material).decode()
            return handler._send(200, _envelope(data))
    return handler._error(404, f"no handler for route '{path}'")


def _configure(handler: Any, key: TransitKey, body: dict[str, Any]) -> None:
    if "min_decryption_version" in body:
        value = int(body["min_decryption_version"])
        if value > key.latest:
            return handler._error(400, "cannot set min decryption version above latest version")
        key.min_decryption_version = max(value, 1)
    if "min_encryption_version" in body:
        key.min_encryption_version = int(body["min_encryption_version"])
    if "deletion_allowed" in body:
        key.deletion_allowed = bool(body["deletion_allowed"])
    return handler._send(204, None)


def _crypt(handler: Any, op: str, key: TransitKey, body: dict[str, Any]) -> None:
    batch = body.get("batch_input")
    items = batch if isinstance(batch, list) else [body]
    if isinstance(batch, list) and not batch:
        return handler._error(400, "missing batch input to process")
    results: list[dict[str, Any]] = []
    for item in items:
        try:
            results.append(_one(op, key, item, body))
        except UserError as exc:
            results.append({"error": str(exc)})
    if isinstance(batch, list):
        return handler._send(200, _envelope({"batch_results": results}))
    if "error" in results[0]:
        return handler._error(400, results[0]["error"])
    return handler._send(200, _envelope(results[0]))


def _one(op: str, key: TransitKey, item: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    version = int(item.get("key_version") or body.get("key_version") or 0)
    if op == "encrypt":
        plaintext = _b64decode(item.get("plaintext"), "plaintext")
        aad = (
            _b64decode(item["associated_data"], "associated_data")
            if item.get("associated_data")
            else b""
        )
        ciphertext, used = key.encrypt(plaintext, aad, version)
        return {"ciphertext": ciphertext, "key_version": used}
    ciphertext = item.get("ciphertext")
    if not isinstance(ciphertext, str) or not ciphertext:
        raise UserError("missing ciphertext to decrypt")
    if op == "decrypt":
        aad = (
            _b64decode(item["associated_data"], "associated_data")
            if item.get("associated_data")
            else b""
        )
        return {"plaintext": base64.b64encode(key.decrypt(ciphertext, aad)).decode()}
    # rewrap: Vault's endpoint has no associated_data; it decrypts and encrypts without.
    ciphertext, used = key.encrypt(key.decrypt(ciphertext, b""), b"", version)
    return {"ciphertext": ciphertext, "key_version": used}
