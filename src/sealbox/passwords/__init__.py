"""Password hashing: :class:`PasswordHasher` (Argon2id, rehash, legacy hashes) and its profiles.

- :mod:`~sealbox.passwords.hasher`: hashing, verifying, upgrading bcrypt/Django/old
  Argon2 hashes at the next login, calibration (``_foreign``: the bcrypt, Django and
  passlib forms it verifies, and the refusal of other schemes);
- :mod:`~sealbox.passwords.profiles`: named Argon2id parameter sets (RFC 9106, OWASP,
  the original recipe, a cheap one for tests).

May import: :mod:`sealbox.hazmat` and third-party ``argon2`` and ``bcrypt`` (legacy
hashes, loaded when one is checked).
"""

from __future__ import annotations

from sealbox.passwords.hasher import (
    BCRYPT_MAX_COST,
    MAX_PASSWORD_LENGTH,
    PBKDF2_MAX_ITERATIONS,
    PasswordCheck,
    PasswordHasher,
    calibrate,
)

__all__ = [
    "BCRYPT_MAX_COST",
    "MAX_PASSWORD_LENGTH",
    "PBKDF2_MAX_ITERATIONS",
    "PasswordCheck",
    "PasswordHasher",
    "calibrate",
]
