"""The hybrid post-quantum recipient type, ML-KEM-768 + X25519 (age.md, "MLKEM768-X25519").

Identities are 32 random bytes written ``AGE-SECRET-KEY-PQ-1…``; recipients are
the 1,216-byte MLKEM768-X25519 public key (ML-KEM-768 encapsulation key, then the
X25519 public key) written ``age1pq1…``. The stanza is
``-> mlkem768x25519 <enc>`` whose body is the HPKE (RFC 9180) base-mode
ciphertext of the file key with KEM MLKEM768-X25519 (draft-ietf-hpke-pq),
HKDF-SHA256, ChaCha20Poly1305 and ``info="age-encryption.org/mlkem768x25519"``.
All of it runs in pyca/cryptography's HPKE.

The 32-byte identity seed expands (SHAKE256, 96 bytes) into the ML-KEM-768 seed
(64 bytes) and the X25519 private key (32 bytes), as the hybrid KEM specifies.

Post-quantum recipients cannot be mixed with classic ones in a file: the file
would be no stronger than its weakest recipient.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import hashlib
import os
from typing import ClassVar, Final, NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from sealbox.age import bech32
from sealbox.age._crypto import WRAPPED_KEY_SIZE
from sealbox.age.format import Stanza, b64decode, b64encode
from sealbox.age.x25519 import exchange, refuse_low_order
from sealbox.exceptions import FormatError, KeyFormatError

__all__ = [
    "IDENTITY_HRP",
    "MLKEM768X25519_LABEL",
    "RECIPIENT_HRP",
    "STANZA_TYPE",
    "HybridIdentity",
    "HybridRecipient",
]

MLKEM768X25519_LABEL: Final = b"age-encryption.org/mlkem768x25519"
STANZA_TYPE: Final = "mlkem768x25519"
RECIPIENT_HRP: Final = "age1pq"
IDENTITY_HRP: Final = "AGE-SECRET-KEY-PQ-"
SEED_SIZE: Final = 32
MLKEM_PUBLIC_SIZE: Final = 1184
PUBLIC_SIZE: Final = MLKEM_PUBLIC_SIZE + 32
MLKEM_CIPHERTEXT_SIZE: Final = 1088
ENC_SIZE: Final = MLKEM_CIPHERTEXT_SIZE + 32
POSTQUANTUM: Final = frozenset({"postquantum"})

_SUITE: Final = hpke.Suite(
    hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305
)


class HybridRecipient:
    """An MLKEM768-X25519 public key (``age1pq1…``)."""

    __slots__ = ("_key", "_raw")
    labels: ClassVar[frozenset[str]] = POSTQUANTUM
    exclusive: ClassVar[bool] = False

    def __init__(self, public_key: bytes, *, _own: bool = False) -> None:
        if len(public_key) != PUBLIC_SIZE:
            raise KeyFormatError(f"an MLKEM768-X25519 public key is {PUBLIC_SIZE} bytes")
        self._raw = bytes(public_key)
        if not _own:  # an identity's own public key (_own) is never of small order
            refuse_low_order(
                self._raw[MLKEM_PUBLIC_SIZE:], "X25519 half of the post-quantum recipient"
            )
        try:
            self._key = hpke.MLKEM768X25519PublicKey(
                mlkem.MLKEM768PublicKey.from_public_bytes(self._raw[:MLKEM_PUBLIC_SIZE]),
                x25519.X25519PublicKey.from_public_bytes(self._raw[MLKEM_PUBLIC_SIZE:]),
            )
        except ValueError:
            raise KeyFormatError("invalid MLKEM768-X25519 public key") from None

    @classmethod
    def parse(cls, text: str) -> HybridRecipient:
        """Parse an ``age1pq1…`` string.

        Raises:
            KeyFormatError: not a valid post-quantum recipient.
        """
        hrp, data = bech32.decode(text.strip())
        if hrp != RECIPIENT_HRP:
            raise KeyFormatError(f"not a post-quantum recipient: the prefix is {hrp!r}")
        return cls(data)

    def public_bytes(self) -> bytes:
        """The raw 1,216-byte public key."""
        return self._raw

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Wrap ``file_key`` in an ``mlkem768x25519`` stanza (HPKE SealBase)."""
        sealed = _SUITE.encrypt(file_key, self._key, info=MLKEM768X25519_LABEL)
        enc, body = sealed[:ENC_SIZE], sealed[ENC_SIZE:]
        return [Stanza(STANZA_TYPE, (b64encode(enc),), body)]

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self._raw)

    def __repr__(self) -> str:
        text = str(self)
        return f"HybridRecipient('{text[:16]}…{text[-8:]}')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HybridRecipient) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash((HybridRecipient, self._raw))


class HybridIdentity:
    """An MLKEM768-X25519 private key (``AGE-SECRET-KEY-PQ-1…``). Never printed."""

    __slots__ = ("_key", "_recipient", "_seed", "_x25519")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise ValueError("a post-quantum identity is a 32-byte seed")
        self._seed = bytes(seed)
        expanded = hashlib.shake_256(self._seed).digest(96)
        kem = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        self._x25519 = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
        self._key = hpke.MLKEM768X25519PrivateKey(kem, self._x25519)
        self._recipient = HybridRecipient(
            kem.public_key().public_bytes_raw() + self._x25519.public_key().public_bytes_raw(),
            _own=True,
        )

    @classmethod
    def generate(cls) -> HybridIdentity:
        """Return a new random identity."""
        return cls(os.urandom(SEED_SIZE))

    @classmethod
    def parse(cls, text: str) -> HybridIdentity:
        """Parse an ``AGE-SECRET-KEY-PQ-1…`` string.

        Raises:
            KeyFormatError: not a valid post-quantum identity (never quoted).
        """
        hrp, data = bech32.decode(text.strip())
        if hrp.upper() != IDENTITY_HRP:
            raise KeyFormatError("not a post-quantum identity: it must start AGE-SECRET-KEY-PQ-1")
        if len(data) != SEED_SIZE:
            raise KeyFormatError("a post-quantum identity holds 32 bytes")
        return cls(data)

    def recipient(self) -> HybridRecipient:
        """The matching public key."""
        return self._recipient

    def expose_secret(self) -> str:
        """The identity as ``AGE-SECRET-KEY-PQ-1…``: the one way the secret comes out."""
        return bech32.encode(IDENTITY_HRP, self._seed)

    def unwrap(self, stanza: Stanza) -> bytes | None:
        """Unwrap an ``mlkem768x25519`` stanza (HPKE OpenBase); ``None`` otherwise.

        Raises:
            FormatError: wrong arguments, an *enc* that is not 1,120 canonical
                bytes, a low-order X25519 part, or a body that is not 32 bytes.
        """
        if stanza.type != STANZA_TYPE:
            return None
        if len(stanza.args) != 1:
            raise FormatError("an mlkem768x25519 stanza must have exactly one argument")
        enc = b64decode(stanza.args[0], "mlkem768x25519 encapsulated key")
        if len(enc) != ENC_SIZE:
            raise FormatError(f"the mlkem768x25519 encapsulated key is not {ENC_SIZE} bytes")
        if len(stanza.body) != WRAPPED_KEY_SIZE:
            raise FormatError("the mlkem768x25519 stanza body is not 32 bytes")
        # HPKE reports an all-zero X25519 result as a failed tag; it is a malformed
        # stanza, not a stanza for someone else, so check it first.
        exchange(self._x25519, enc[MLKEM_CIPHERTEXT_SIZE:])
        try:
            return _SUITE.decrypt(enc + stanza.body, self._key, info=MLKEM768X25519_LABEL)
        except InvalidTag:
            return None

    def __repr__(self) -> str:
        return f"HybridIdentity(recipient={self._recipient!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("an identity holds a private key and cannot be pickled")
