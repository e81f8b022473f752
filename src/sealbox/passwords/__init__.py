"""Password hashing: :class:`PasswordHasher` (Argon2id, rehash, legacy hashes) and its profiles.

- :mod:`~sealbox.passwords.hasher`: hashing, verifying, upgrading bcrypt/Django/old
  Argon2 hashes at the next login, the ceilings on what a stored hash may cost,
  calibration (``_foreign``: the bcrypt, Django and passlib forms it verifies, and the
  refusal of other schemes; ``_werkzeug``: Werkzeug's, as Flask apps store them);
- :mod:`~sealbox.passwords.profiles`: named Argon2id parameter sets (RFC 9106, OWASP,
  the original recipe, a cheap one for tests).

May import: :mod:`sealbox.hazmat` and third-party ``argon2`` and ``bcrypt`` (legacy
hashes, loaded when one is checked).
"""

from __future__ import annotations

from sealbox.passwords.hasher import (
    ARGON2_MAX_MEMORY,
    ARGON2_MAX_WORK,
    BCRYPT_MAX_COST,
    MAX_PASSWORD_LENGTH,
    PBKDF2_MAX_ITERATIONS,
    PBKDF2_SHA512_MAX_ITERATIONS,
    HashTooCostlyError,
    PasswordCheck,
    PasswordHasher,
    calibrate,
    check_password_length,
    hash_scheme,
)

__all__ = [
    "ARGON2_MAX_MEMORY",
    "ARGON2_MAX_WORK",
    "BCRYPT_MAX_COST",
    "MAX_PASSWORD_LENGTH",
    "PBKDF2_MAX_ITERATIONS",
    "PBKDF2_SHA512_MAX_ITERATIONS",
    "HashTooCostlyError",
    "PasswordCheck",
    "PasswordHasher",
    "calibrate",
    "check_password_length",
    "hash_scheme",
]
