"""Time-based one-time passwords (RFC 6238) as a second factor, and its recovery codes.

- **Codes.** HOTP (RFC 4226 §5.3: HMAC, dynamic truncation, ``mod 10^digits``) over the
  time step ``floor(unix time / 30)`` (RFC 6238 §4.2), HMAC-SHA-1 and 6 digits: what every
  authenticator app computes from an ``otpauth://`` URI. :func:`match_step` accepts the
  current step and one on either side (RFC 6238 §5.2 recommends at most one step of
  network delay) and returns the step it matched, so that the caller can refuse any code
  of that step or an earlier one from then on (§5.2: "the verifier MUST NOT accept the
  second attempt of the same OTP"); :mod:`sealbox.accounts.totp_store` records it with a
  conditional ``UPDATE``.
- **Secrets.** 160 random bits (RFC 4226 §4 R6 recommends 160), shown to the user once in
  unpadded base32 and in a Key Uri Format URI (``otpauth://totp/Issuer:name?secret=…``);
  stored sealed under the service's master key by :class:`TotpSecretSealer`, bound to the
  account's id.
- **Recovery codes.** Ten codes of 80 random bits each (``xxxx-xxxx-xxxx-xxxx``, base32,
  lower case). With that much entropy a guess is hopeless whatever the hash, so each is
  stored as its SHA-256 (a lookup by digest, no per-code salt or Argon2 needed).

Clocks are injectable: every function that depends on the time takes ``now``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlencode, urlsplit

from sealbox.exceptions import DecryptionError, SealboxError, UnsupportedAlgorithmError
from sealbox.keysets.key_sealer import KeySealer

__all__ = [
    "DIGITS",
    "PERIOD",
    "RECOVERY_CODES",
    "SECRET_BYTES",
    "SKEW",
    "Enrolment",
    "TotpError",
    "TotpSecretSealer",
    "authenticator_issuer",
    "decode_secret",
    "encode_secret",
    "hash_recovery_code",
    "hotp",
    "is_totp_code",
    "match_step",
    "new_recovery_codes",
    "new_secret",
    "normalize_recovery_code",
    "otpauth_uri",
    "time_step",
    "totp",
]

DIGITS: Final = 6
PERIOD: Final = 30  # seconds, RFC 6238 §5.2's recommended time step
SKEW: Final = 1  # steps accepted on either side of the current one
SECRET_BYTES: Final = 20  # 160 bits, RFC 4226 §4 R6
RECOVERY_CODES: Final = 10
RECOVERY_CODE_BYTES: Final = 10  # 80 bits: 16 base32 characters
SEALED_FORMAT: Final = "sealbox-totp-secret/1"
_ALGORITHMS: Final = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


class TotpError(SealboxError):
    """A second-factor operation was refused.

    Codes: ``totp_code_invalid`` (a wrong, expired or already used code: opaque),
    ``mfa_required`` (a login of an account with a second factor came without a code),
    ``totp_already_enabled`` (enrolment asked for while a confirmed factor exists),
    ``totp_not_pending`` (confirmation without an enrolment under way),
    ``totp_not_enabled`` (disabling without a confirmed factor).
    """

    code = "totp_code_invalid"


# -- RFC 4226 / RFC 6238 ------------------------------------------------------------------


def hotp(key: bytes, counter: int, *, digits: int = DIGITS, algorithm: str = "sha1") -> str:
    """The HOTP value of ``counter`` (RFC 4226 §5.3), ``digits`` decimal digits.

    Args:
        key: the shared secret (raw bytes).
        counter: the moving factor, 0 to 2**64 - 1.
        digits: 6 to 10.
        algorithm: ``sha1`` (HOTP's, and every authenticator's default), ``sha256`` or
            ``sha512`` (RFC 6238 §1.2).

    Raises:
        ValueError: ``digits`` or ``counter`` out of range.
        UnsupportedAlgorithmError: another ``algorithm``.
    """
    if not 6 <= digits <= 10:  # RFC 4226 §5.3: at least 6 digits
        raise ValueError("digits must be 6 to 10")
    if not 0 <= counter < 2**64:
        raise ValueError("the counter must fit in 8 bytes")
    if algorithm not in _ALGORITHMS:
        raise UnsupportedAlgorithmError(
            f"TOTP takes sha1, sha256 or sha512, not {algorithm!r}",
            facts={"algorithm": algorithm},
        )
    digest = hmac.new(key, struct.pack(">Q", counter), _ALGORITHMS[algorithm]).digest()
    # Dynamic truncation: the low nibble of the last byte picks 4 bytes; drop the top bit.
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def time_step(now: float, *, period: int = PERIOD) -> int:
    """The time step of unix time ``now`` (RFC 6238 §4.2, T0 = 0)."""
    return int(now // period)


def totp(
    key: bytes,
    now: float,
    *,
    digits: int = DIGITS,
    period: int = PERIOD,
    algorithm: str = "sha1",
) -> str:
    """The TOTP value at unix time ``now`` (RFC 6238 §4.2)."""
    return hotp(key, time_step(now, period=period), digits=digits, algorithm=algorithm)


def is_totp_code(text: str) -> bool:
    """Whether ``text`` has the shape of a code (6 ASCII digits, spaces allowed)."""
    code = text.replace(" ", "")
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def match_step(
    key: bytes, code: str, now: float, *, skew: int = SKEW, after: int = -1
) -> int | None:
    """The time step whose code ``code`` is, within ``skew`` steps of ``now``; or ``None``.

    Steps up to ``after`` (the last one accepted for this key) never match: a code is
    accepted once. Every candidate is computed and compared in constant time, so the
    answer's timing does not say which step matched.
    """
    code = code.replace(" ", "")
    if not is_totp_code(code):
        return None
    current = time_step(now)
    found = None
    # No step before 0: a clock fallen back to 1970 gets an answer, not a ValueError.
    for step in range(max(current - skew, 0), current + skew + 1):
        if hmac.compare_digest(hotp(key, step).encode(), code.encode()) and step > after:
            found = step
    return found


# -- secrets ------------------------------------------------------------------------------


def new_secret() -> bytes:
    """A new shared secret: 160 random bits."""
    return secrets.token_bytes(SECRET_BYTES)


def encode_secret(key: bytes) -> str:
    """The secret as authenticator apps take it: base32, upper case, no padding."""
    return base64.b32encode(key).decode().rstrip("=")


def decode_secret(text: str) -> bytes:
    """The raw secret of a base32 text (case, spaces and padding ignored).

    Raises:
        ValueError: not base32.
    """
    clean = text.replace(" ", "").upper().rstrip("=")
    try:
        return base64.b32decode(clean + "=" * (-len(clean) % 8))
    except binascii.Error:
        raise ValueError("the secret is not base32") from None


def authenticator_issuer(issuer: str) -> str:
    """The name an authenticator shows for ``issuer``: its host when it is a URL.

    The Key Uri Format allows no colon in the issuer (authenticators split the label on
    it), and an OAuth issuer is an ``https`` URL (RFC 8414 §2); any other colon, an IPv6
    host's too, becomes a space.
    """
    parts = urlsplit(issuer)
    if parts.scheme and parts.hostname:
        issuer = parts.hostname
    return issuer.replace(":", " ")


def otpauth_uri(
    secret: str,
    account: str,
    issuer: str,
    *,
    algorithm: str = "sha1",
    digits: int = DIGITS,
    period: int = PERIOD,
) -> str:
    """The Key Uri Format URI of a TOTP secret (what a QR code for an authenticator holds).

    ``otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=ISSUER``, the label's parts
    percent-encoded; ``ISSUER`` is :func:`authenticator_issuer`'s. ``algorithm``,
    ``digits`` and ``period`` are named only when they are not the defaults every
    authenticator assumes (SHA1, 6, 30): a shorter URI is a smaller QR code.
    """
    issuer = authenticator_issuer(issuer)
    label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
    params: dict[str, str | int] = {"secret": secret, "issuer": issuer}
    if algorithm != "sha1":
        params["algorithm"] = algorithm.upper()
    if digits != DIGITS:
        params["digits"] = digits
    if period != PERIOD:
        params["period"] = period
    return f"otpauth://totp/{label}?{urlencode(params, quote_via=quote)}"


@dataclass(frozen=True, slots=True, repr=False)
class Enrolment:
    """A second factor being set up: what the user copies into an authenticator, once."""

    secret: str
    otpauth_uri: str

    def __repr__(self) -> str:
        return "Enrolment(secret=<hidden>)"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("an Enrolment holds a secret and cannot be pickled")


class TotpSecretSealer:
    """Seal TOTP secrets at rest under the service's master key, each bound to its account.

    A :class:`~sealbox.keysets.key_sealer.KeySealer` document (AES-256-GCM, format
    ``sealbox-totp-secret/1``) whose plaintext starts with the account id (8 bytes, big
    endian): a sealed secret copied to another account's row does not open there.
    """

    __slots__ = ("_sealer",)

    def __init__(self, master_key: bytes) -> None:
        self._sealer = KeySealer(
            master_key, SEALED_FORMAT, what="TOTP secret", key_name="master key"
        )

    def __repr__(self) -> str:
        return "TotpSecretSealer()"

    def seal(self, user_id: int, key: bytes) -> bytes:
        """The stored form of ``key``, the secret of account ``user_id``."""
        return self._sealer.seal(struct.pack(">Q", user_id) + key)

    def open(self, user_id: int, sealed: bytes) -> bytes:
        """The secret of account ``user_id`` from its stored form.

        Raises:
            DecryptionError: a wrong master key, an altered row, or another account's.
        """
        plain = self._sealer.open(sealed)
        if plain[:8] != struct.pack(">Q", user_id):
            raise DecryptionError("the TOTP secret belongs to another account")
        return plain[8:]


# -- recovery codes -----------------------------------------------------------------------


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """``count`` new recovery codes, ``xxxx-xxxx-xxxx-xxxx`` (80 random bits each)."""
    codes = []
    for _ in range(count):
        text = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode().lower()
        codes.append("-".join(text[i : i + 4] for i in range(0, len(text), 4)))
    return codes


def normalize_recovery_code(text: str) -> str:
    """A recovery code as typed, reduced to its 16 characters (case, dashes, spaces ignored)."""
    return "".join(c for c in text.lower() if c not in "- ")


def hash_recovery_code(text: str) -> bytes:
    """The stored form of a recovery code: SHA-256 of its normalised text."""
    return hashlib.sha256(normalize_recovery_code(text).encode()).digest()
