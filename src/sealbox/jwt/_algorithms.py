"""The JWS signature algorithms (RFC 7518 §3, RFC 8037 §3.1), on pyca/cryptography directly.

One object per ``alg``: ``sign(message, key)``, ``verify(message, key, signature)``
and, for the keys a signing keyset holds, ``to_jwk(private_key)`` /
``from_jwk(jwk)``. Keys are pyca key objects (bytes for HMAC). ``verify`` answers
``False`` for anything that does not verify — a wrong signature, a signature of the
wrong length, a key of another curve — and never raises for those.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

__all__ = [
    "Algorithm",
    "ECDSAAlgorithm",
    "EdDSAAlgorithm",
    "HMACAlgorithm",
    "RSAAlgorithm",
]


class Algorithm(Protocol):
    """What the JWS code needs of an algorithm."""

    def sign(self, message: bytes, key: Any) -> bytes:
        """The signature of ``message`` under the private ``key``."""
        ...

    def verify(self, message: bytes, key: Any, signature: bytes) -> bool:
        """Whether ``signature`` is ``key``'s signature of ``message``."""
        ...

    def to_jwk(self, key: Any) -> dict[str, Any]:
        """A private key as a JWK (RFC 7517, RFC 7518 §6, RFC 8037 §2)."""
        ...

    def from_jwk(self, jwk: Mapping[str, Any]) -> Any:
        """A private key from a JWK. Raises ValueError, KeyError or TypeError when it is not one."""
        ...


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError("a JWK member is not a string")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _uint(value: int, size: int | None = None) -> str:
    length = size if size is not None else max(1, (value.bit_length() + 7) // 8)
    return _b64(value.to_bytes(length, "big"))


def _int(value: Any) -> int:
    return int.from_bytes(_unb64(value), "big")


class HMACAlgorithm:
    """HS256, HS384, HS512 (RFC 7518 §3.2)."""

    def __init__(self, digest: Callable[[], Any]) -> None:
        self._digest = digest

    def sign(self, message: bytes, key: bytes) -> bytes:
        return hmac.new(key, message, self._digest).digest()

    def verify(self, message: bytes, key: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(self.sign(message, key), signature)

    def to_jwk(self, key: bytes) -> dict[str, Any]:
        return {"kty": "oct", "k": _b64(key)}

    def from_jwk(self, jwk: Mapping[str, Any]) -> bytes:
        if jwk.get("kty") != "oct":
            raise ValueError("not an oct key")
        return _unb64(jwk["k"])


class RSAAlgorithm:
    """RS256/384/512 (PKCS #1 v1.5) and PS256/384/512 (PSS, salt of the hash's size)."""

    def __init__(self, hash_type: type[hashes.HashAlgorithm], *, pss: bool) -> None:
        self._hash = hash_type
        self._pss = pss

    def _padding(self) -> padding.AsymmetricPadding:
        if self._pss:
            # RFC 7518 §3.5: MGF1 with the same hash, a salt as long as the hash output.
            h = self._hash()
            return padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
        return padding.PKCS1v15()

    def sign(self, message: bytes, key: rsa.RSAPrivateKey) -> bytes:
        return key.sign(message, self._padding(), self._hash())

    def verify(self, message: bytes, key: Any, signature: bytes) -> bool:
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        try:
            key.verify(signature, message, self._padding(), self._hash())
        except InvalidSignature:
            return False
        return True

    def to_jwk(self, key: rsa.RSAPrivateKey) -> dict[str, Any]:
        n = key.private_numbers()
        pub = n.public_numbers
        return {
            "kty": "RSA",
            "n": _uint(pub.n),
            "e": _uint(pub.e),
            "d": _uint(n.d),
            "p": _uint(n.p),
            "q": _uint(n.q),
            "dp": _uint(n.dmp1),
            "dq": _uint(n.dmq1),
            "qi": _uint(n.iqmp),
        }

    def from_jwk(self, jwk: Mapping[str, Any]) -> rsa.RSAPrivateKey:
        if jwk.get("kty") != "RSA":
            raise ValueError("not an RSA key")
        public = rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"]))
        numbers = rsa.RSAPrivateNumbers(
            p=_int(jwk["p"]),
            q=_int(jwk["q"]),
            d=_int(jwk["d"]),
            dmp1=_int(jwk["dp"]),
            dmq1=_int(jwk["dq"]),
            iqmp=_int(jwk["qi"]),
            public_numbers=public,
        )
        return numbers.private_key()


_EC_CURVES: Final = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}


class ECDSAAlgorithm:
    """ES256, ES384, ES512 (RFC 7518 §3.4): signatures as R || S, each of the curve's size."""

    def __init__(
        self, hash_type: type[hashes.HashAlgorithm], curve: type[ec.EllipticCurve], crv: str
    ) -> None:
        self._hash = hash_type
        self._curve = curve
        self._crv = crv
        self._size = (curve().key_size + 7) // 8

    def sign(self, message: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
        r, s = decode_dss_signature(key.sign(message, ec.ECDSA(self._hash())))
        return r.to_bytes(self._size, "big") + s.to_bytes(self._size, "big")

    def verify(self, message: bytes, key: Any, signature: bytes) -> bool:
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, self._curve):
            return False
        if len(signature) != 2 * self._size:
            return False
        r = int.from_bytes(signature[: self._size], "big")
        s = int.from_bytes(signature[self._size :], "big")
        try:
            key.verify(encode_dss_signature(r, s), message, ec.ECDSA(self._hash()))
        except InvalidSignature:
            return False
        return True

    def to_jwk(self, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
        n = key.private_numbers()
        pub = n.public_numbers
        return {
            "kty": "EC",
            "crv": self._crv,
            "x": _uint(pub.x, self._size),
            "y": _uint(pub.y, self._size),
            "d": _uint(n.private_value, self._size),
        }

    def from_jwk(self, jwk: Mapping[str, Any]) -> ec.EllipticCurvePrivateKey:
        if jwk.get("kty") != "EC" or jwk.get("crv") != self._crv:
            raise ValueError(f"not an EC key on {self._crv}")
        public = ec.EllipticCurvePublicNumbers(_int(jwk["x"]), _int(jwk["y"]), self._curve())
        return ec.EllipticCurvePrivateNumbers(_int(jwk["d"]), public).private_key()


class EdDSAAlgorithm:
    """EdDSA (RFC 8037) and its fully specified names Ed25519 and Ed448 (RFC 9864)."""

    def sign(self, message: bytes, key: ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) -> bytes:
        return key.sign(message)

    def verify(self, message: bytes, key: Any, signature: bytes) -> bool:
        if not isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            return False
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def to_jwk(self, key: ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) -> dict[str, Any]:
        from cryptography.hazmat.primitives import serialization

        raw = serialization.Encoding.Raw
        private = key.private_bytes(
            raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        public = key.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
        crv = "Ed25519" if isinstance(key, ed25519.Ed25519PrivateKey) else "Ed448"
        return {"kty": "OKP", "crv": crv, "x": _b64(public), "d": _b64(private)}

    def from_jwk(self, jwk: Mapping[str, Any]) -> ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey:
        if jwk.get("kty") != "OKP":
            raise ValueError("not an OKP key")
        crv = jwk.get("crv")
        key: ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
        if crv == "Ed25519":
            key = ed25519.Ed25519PrivateKey.from_private_bytes(_unb64(jwk["d"]))
        elif crv == "Ed448":
            key = ed448.Ed448PrivateKey.from_private_bytes(_unb64(jwk["d"]))
        else:
            raise ValueError("not an EdDSA curve")
        if "x" in jwk and self.to_jwk(key)["x"] != jwk["x"]:
            raise ValueError("x is not the public key of d")
        return key
