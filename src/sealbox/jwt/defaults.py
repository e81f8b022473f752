"""What a signing keyset signs with and what it issues when nothing else is said.

Kept apart from :mod:`sealbox.jwt.keyset` so that reading these names (a command line's
choices, a verifier's settings) loads no keyset machinery.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "DEFAULT_ALGORITHM",
    "DEFAULT_TTL",
    "HMAC_KEY_SIZE",
    "MAX_LEEWAY",
    "REGISTERED_CLAIMS",
    "RSA_KEY_SIZES",
    "SIGNING_ALGORITHMS",
    "is_hmac",
]

SIGNING_ALGORITHMS: Final = ("EdDSA", "ES256", "RS256", "HS256")
"""The algorithms a keyset can sign with."""


def is_hmac(alg: str) -> bool:
    """Whether ``alg`` is an HMAC algorithm (``HS256``…): a shared secret, never in a JWKS."""
    return alg.upper().startswith("HS")


DEFAULT_ALGORITHM: Final = "EdDSA"
RSA_KEY_SIZES: Final = (2048, 3072, 4096)
HMAC_KEY_SIZE: Final = 32
DEFAULT_TTL: Final = 900
"""Lifetime of an access token when none is given: 15 minutes."""
REGISTERED_CLAIMS: Final = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope"})
"""Claims :meth:`~sealbox.jwt.SigningKeySet.issue` sets itself; ``claims=`` cannot override."""
ACCESS_TOKEN_TYPE: Final = "at+jwt"  # noqa: S105 - a media type, not a secret
MAX_LEEWAY: Final = 300
"""The most clock skew, in seconds, a :class:`~sealbox.jwt.TokenVerifier` allows."""
