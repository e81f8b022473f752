"""pyca's ChaCha20-Poly1305 and X25519, reached without the modules around them.

The public modules that re-export these — ``cryptography.hazmat.primitives.ciphers.aead``
and ``…asymmetric.x25519`` — import more than they give: the first loads the whole
``ciphers`` package (every cipher, mode and the decrepit algorithms), the second loads
the OpenSSL backend object (RSA, EC, padding, ``random``) on the first
``from_private_bytes`` only to ask whether FIPS mode is on. A small ``sealbox
decrypt`` pays for each in start-up time. The names here are the very same objects,
taken from pyca's Rust bindings where the public modules take them; the FIPS check is
the one the backend makes. Should a release of cryptography move them, the public
modules are used instead.

Everything else in sealbox uses the public modules.
"""

from __future__ import annotations

from cryptography.hazmat.bindings._rust import openssl as _rust

# Spelled out rather than imported from typing (start-up time); type checkers know it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )

__all__ = ["ChaCha20Poly1305", "x25519_private_key", "x25519_public_key"]

try:
    ChaCha20Poly1305 = _rust.aead.ChaCha20Poly1305
    _from_private: Callable[[bytes], X25519PrivateKey] = _rust.x25519.from_private_bytes
    _from_public: Callable[[bytes], X25519PublicKey] = _rust.x25519.from_public_bytes
    _is_fips: Callable[[], bool] = _rust.is_fips_enabled
except AttributeError:  # pragma: no cover - a cryptography that moved them
    from cryptography.hazmat.primitives.asymmetric import x25519 as _x25519
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    _from_private = _x25519.X25519PrivateKey.from_private_bytes
    _from_public = _x25519.X25519PublicKey.from_public_bytes

    def _is_fips() -> bool:
        return False


def x25519_private_key(data: bytes) -> X25519PrivateKey:
    """``X25519PrivateKey.from_private_bytes``, with its refusal in FIPS mode."""
    if _is_fips():
        from cryptography.hazmat.primitives.asymmetric import x25519

        return x25519.X25519PrivateKey.from_private_bytes(data)
    return _from_private(data)


def x25519_public_key(data: bytes) -> X25519PublicKey:
    """``X25519PublicKey.from_public_bytes``, with its refusal in FIPS mode."""
    if _is_fips():
        from cryptography.hazmat.primitives.asymmetric import x25519

        return x25519.X25519PublicKey.from_public_bytes(data)
    return _from_public(data)
