"""Every transit key type, in one registry: adding a type is adding one entry.

An entry (:class:`TransitKeyType`) says what the type is: its family (which fixes the
operations it supports), how fresh material is made, the primitive built from
material, how exported material is shown, the public key a key read shows, and which
signing options it takes. Everything else reads the registry: the key snapshots
(:mod:`sealbox.transit.keys`), the service's request validation and the command line's
``--type`` choices; tests hold the table below and the one in ``docs/transit.md`` to it.

=====================  ==========================================  ===================
type                   operations                                  material
=====================  ==========================================  ===================
``aes256-gcm``         encrypt, decrypt, rewrap, datakey           32 random bytes
``chacha20-poly1305``  encrypt, decrypt, rewrap, datakey           32 random bytes
``aes256-siv``         the same, deterministic (RFC 5297)          64 random bytes
``hmac``               hmac, verify (HMAC-SHA-256, RFC 2104)       32 random bytes
``ed25519``            sign, verify (RFC 8032)                     PKCS#8 PEM
``ecdsa-p256``         sign, verify (SHA-256, DER)                 PKCS#8 PEM
``rsa-3072``           sign, verify (PSS, SHA-256, 32-byte salt)   PKCS#8 PEM
=====================  ==========================================  ===================

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import enum
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from sealbox.exceptions import KeyFormatError, UnsupportedAlgorithmError
from sealbox.transit.errors import UnknownKeyTypeError, UnsupportedOperationError

__all__ = [
    "DATAKEY_BITS",
    "ENCRYPTION_TYPES",
    "HMAC_TYPES",
    "KEY_NAME_PATTERN",
    "KEY_TYPES",
    "OPERATIONS",
    "REGISTRY",
    "SCOPE_OPERATIONS",
    "SIGNING_TYPES",
    "VAULT_HASHES",
    "Family",
    "TransitKeyType",
    "check_hmac_algorithm",
    "check_sign_options",
    "export_text",
    "is_key_name",
    "key_type",
    "new_material",
    "types_for",
]

OPERATIONS: Final = ("encrypt", "decrypt", "rewrap", "datakey", "sign", "verify", "hmac")
"""The operations on a key, each guarded by the scope ``transit:<operation>:<name>``."""

SCOPE_OPERATIONS: Final = (*OPERATIONS, "export", "read")
"""What a ``transit:<operation>:<name>`` scope may name: the operations, reading a key's
export and reading its configuration."""

KEY_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
"""A transit key's name: 1-128 letters, digits, ``.``, ``_`` or ``-``, starting with a
letter or digit. Python's ``$`` also matches before a final newline: check a name with
:func:`is_key_name` (request models use the pattern, whose engine reads ``$`` as the end)."""

_KEY_NAME: Final = re.compile(KEY_NAME_PATTERN)


def is_key_name(name: object) -> bool:
    """Whether ``name`` is a whole key name (:data:`KEY_NAME_PATTERN`, ``"orders\\n"`` not)."""
    return type(name) is str and _KEY_NAME.fullmatch(name) is not None


DATAKEY_BITS: Final = (128, 256, 512)
HMAC_KEY_SIZE: Final = 32
SHA256: Final = "sha2-256"
MARSHALING: Final = "asn1"
"""The one ``marshaling_algorithm`` taken (Vault's default): DER for ECDSA, and standard
base64 of the signature for every type."""
# The hash names Vault Transit accepts in sign and verify.
VAULT_HASHES: Final = frozenset(
    {
        "sha1",
        "sha2-224",
        SHA256,
        "sha2-384",
        "sha2-512",
        "sha3-224",
        "sha3-256",
        "sha3-384",
        "sha3-512",
        "none",
    }
)


class Family(enum.StrEnum):
    """How a type's primitive is used; the family fixes the operations."""

    AEAD = "aead"
    """``encrypt``/``decrypt`` with associated data."""
    HMAC = "hmac"
    """``sign`` makes a tag, ``verify(data, tag)`` checks it."""
    SIGNATURE = "signature"
    """A private key: ``sign``, and ``public_key.verify(signature, data)``."""

    @property
    def operations(self) -> tuple[str, ...]:
        """The operations a key of this family supports (its own first)."""
        return _FAMILY_OPERATIONS[self]


_FAMILY_OPERATIONS: Final[dict[Family, tuple[str, ...]]] = {
    Family.AEAD: ("encrypt", "decrypt", "rewrap", "datakey"),
    Family.HMAC: ("hmac", "verify"),
    Family.SIGNATURE: ("sign", "verify"),
}


@dataclass(frozen=True, slots=True)
class TransitKeyType:
    """One key type: everything sealbox needs to know to make, use and show its keys.

    Attributes:
        name: the type's name on the wire (``aes256-gcm``).
        family: how the primitive is used, and so the operations supported.
        summary: the operations in words, for documentation tables.
        material: what one version's material is, in words.
        generate: fresh material for one version.
        primitive: the primitive keyed with a version's material.
        export: how exported material is shown (base64, or the PKCS#8 PEM).
        public_key: the public key a key read shows for a version (signing types).
        deterministic: the same input always gives the same ciphertext.
        slow: making or parsing material takes a while (run it off an event loop).
        slow_sign: each signature takes a while (batches run off an event loop).
        hash_algorithms: the ``hash_algorithm`` values sign and verify take;
            ``None``: any Vault hash name, ignored (the type hashes inside).
        signature_algorithm: the one ``signature_algorithm`` taken, when it matters.
        marshaling_algorithm: the one ``marshaling_algorithm`` taken, when it matters.
    """

    name: str
    family: Family
    summary: str
    material: str
    generate: Callable[[], bytes]
    primitive: Callable[[bytes], Any]
    export: Callable[[bytes], str]
    public_key: Callable[[Any], str] | None = None
    deterministic: bool = False
    slow: bool = False
    slow_sign: bool = False
    hash_algorithms: frozenset[str] | None = frozenset({SHA256})
    signature_algorithm: str | None = None
    marshaling_algorithm: str | None = None

    @property
    def operations(self) -> tuple[str, ...]:
        """The operations keys of this type support."""
        return self.family.operations

    def supports(self, operation: str) -> bool:
        """Whether keys of this type do ``operation``."""
        return operation in self.family.operations

    def require(self, operation: str, family: Family | None = None) -> None:
        """Refuse an operation this type does not do.

        Args:
            operation: one of :data:`OPERATIONS`.
            family: the family whose ``operation`` is meant (``verify`` is both a
                signature's and an HMAC's).

        Raises:
            UnsupportedOperationError: naming the types that do it.
        """
        if self.supports(operation) and family in (None, self.family):
            return
        fits = ", ".join(types_for(operation, family))
        raise UnsupportedOperationError(
            f"{self.name} keys cannot {operation}: use a key of type {fits}",
            facts={"type": self.name, "operation": operation},
        )


def _base64(material: bytes) -> str:
    return base64.b64encode(material).decode()


def _pem(material: bytes) -> str:
    return material.decode()


# The primitives are imported when a key is first made or used, not with the registry:
# the command line reads the type names on every start.
def _hazmat(cls: str) -> Any:
    from sealbox.hazmat import aead

    return getattr(aead, cls)


def _keyed(cls: str, name: str) -> Callable[[bytes], Any]:
    def build(material: bytes) -> Any:
        try:
            return _hazmat(cls)(material)
        except ValueError:
            # The primitive's own message names its algorithm, not the transit type, and
            # its ValueError carries no code.
            raise KeyFormatError(
                f"{name} transit key material cannot be {len(material)} bytes",
                facts={"type": name, "size": str(len(material))},
            ) from None

    return build


def _private_key() -> Any:
    from sealbox.keys.asymmetric import PrivateKey

    return PrivateKey


def _aead(name: str, cls: str, **kw: Any) -> TransitKeyType:
    return TransitKeyType(
        name=name,
        family=Family.AEAD,
        generate=lambda: bytes(_hazmat(cls).generate_key()),
        primitive=_keyed(cls, name),
        export=_base64,
        **kw,
    )


def _signing(name: str, kind: str, bits: int | None, **kw: Any) -> TransitKeyType:
    def generate() -> bytes:
        from sealbox.keys.asymmetric import KeyType

        key = _private_key().generate(KeyType[kind], bits=bits)
        return bytes(key.export_private(None, format="pem"))

    def primitive(material: bytes) -> Any:
        from sealbox.keys.asymmetric import KeyType

        key = _private_key().from_bytes(material, what="a transit key")
        # Material of another type or size would sign as something its type does not say
        # (an rsa-3072 key with 2048 bits, an ecdsa-p256 key making Ed25519 signatures).
        if key.key_type is not KeyType[kind] or (bits is not None and key.bits != bits):
            held = f"{key.key_type}" + (f" {key.bits}-bit" if key.key_type is KeyType.RSA else "")
            raise KeyFormatError(
                f"{name} transit key material is of another type or size ({held})",
                facts={"type": name, "held": held},
            )
        return key

    return TransitKeyType(
        name=name,
        family=Family.SIGNATURE,
        material="PKCS#8 PEM",
        generate=generate,
        primitive=primitive,
        export=_pem,
        slow=True,
        **kw,
    )


def _pem_public_key(primitive: Any) -> str:
    return str(primitive.public_key.pem().decode())


def _raw_public_key(primitive: Any) -> str:
    return base64.b64encode(primitive.public_key.raw()).decode()


_ENTRIES: Final[tuple[TransitKeyType, ...]] = (
    _aead(
        "aes256-gcm",
        "AES256GCM",
        summary="encrypt, decrypt, rewrap, datakey",
        material="32 random bytes",
    ),
    _aead(
        "chacha20-poly1305",
        "ChaCha20Poly1305",
        summary="encrypt, decrypt, rewrap, datakey",
        material="32 random bytes",
    ),
    _aead(
        "aes256-siv",
        "AES256SIV",
        summary="the same, deterministic (RFC 5297)",
        material="64 random bytes",
        deterministic=True,
    ),
    TransitKeyType(
        name="hmac",
        family=Family.HMAC,
        summary="hmac, verify (HMAC-SHA-256, RFC 2104)",
        material="32 random bytes",
        generate=lambda: os.urandom(HMAC_KEY_SIZE),
        primitive=_keyed("HMACSHA256", "hmac"),
        export=_base64,
    ),
    _signing(
        "ed25519",
        "ED25519",
        None,
        summary="sign, verify (RFC 8032)",
        public_key=_raw_public_key,
        # Ed25519 hashes inside (RFC 8032): a hash name Vault knows is ignored, as Vault does.
        hash_algorithms=None,
    ),
    _signing(
        "ecdsa-p256",
        "ECDSA_P256",
        None,
        summary="sign, verify (SHA-256, DER)",
        public_key=_pem_public_key,
        marshaling_algorithm=MARSHALING,
    ),
    _signing(
        "rsa-3072",
        "RSA",
        3072,
        summary="sign, verify (PSS, SHA-256, 32-byte salt)",
        public_key=_pem_public_key,
        slow_sign=True,
        signature_algorithm="pss",
    ),
)

REGISTRY: Final[Mapping[str, TransitKeyType]] = MappingProxyType({t.name: t for t in _ENTRIES})
"""Every key type by name, in the order the documentation lists them."""

KEY_TYPES: Final = tuple(REGISTRY)
"""Every key type's name, in the order the documentation lists them."""


def _of(family: Family) -> Mapping[str, TransitKeyType]:
    return MappingProxyType({n: t for n, t in REGISTRY.items() if t.family is family})


ENCRYPTION_TYPES: Final = _of(Family.AEAD)
"""The types that encrypt (a view of :data:`REGISTRY`)."""
HMAC_TYPES: Final = _of(Family.HMAC)
"""The types that make HMACs (a view of :data:`REGISTRY`)."""
SIGNING_TYPES: Final = _of(Family.SIGNATURE)
"""The types that sign (a view of :data:`REGISTRY`)."""


def types_for(operation: str, family: Family | None = None) -> tuple[str, ...]:
    """The names of the types that do ``operation`` (as ``family``'s operation, if given)."""
    return tuple(
        n for n, t in REGISTRY.items() if t.supports(operation) and family in (None, t.family)
    )


def key_type(name: str) -> TransitKeyType:
    """The registry's entry for ``name``.

    Raises:
        UnknownKeyTypeError: no type of that name.
    """
    found = REGISTRY.get(name)
    if found is None:
        raise UnknownKeyTypeError(
            f"unknown key type {name!r}: choose one of {', '.join(KEY_TYPES)}",
            facts={"type": name},
        )
    return found


def new_material(name: str) -> bytes:
    """Fresh key material for one version of a key of type ``name``.

    Signing types take a while (RSA up to a second): call it off an event loop.

    Raises:
        UnknownKeyTypeError: an unknown type.
    """
    return key_type(name).generate()


def export_text(name: str, material: bytes) -> str:
    """How an exported version's material is shown: base64 raw bytes, or the PKCS#8 PEM."""
    return key_type(name).export(material)


def check_sign_options(
    entry: TransitKeyType,
    *,
    hash_algorithm: str = SHA256,
    signature_algorithm: str = "pss",
    marshaling_algorithm: str = MARSHALING,
    prehashed: bool = False,
) -> None:
    """Refuse signing options (Vault's names) that ``entry`` does not offer.

    Raises:
        UnsupportedAlgorithmError: an option sealbox does not offer; never silently ignored.
    """
    if prehashed:
        raise UnsupportedAlgorithmError("prehashed input is not supported: send the data itself")
    # Checked for every type: Vault's jws writes any type's signature as unpadded base64url,
    # so a jws asked of an Ed25519 or RSA key would be answered in a form the caller misreads.
    if marshaling_algorithm != MARSHALING:
        shown = " (DER)" if entry.marshaling_algorithm == MARSHALING else ""
        raise UnsupportedAlgorithmError(f"{entry.name} signatures are {MARSHALING}{shown} only")
    if entry.hash_algorithms is None:
        if hash_algorithm not in VAULT_HASHES:
            raise UnsupportedAlgorithmError(
                f"hash_algorithm must be one of {', '.join(sorted(VAULT_HASHES))}"
            )
        return
    if hash_algorithm not in entry.hash_algorithms:
        raise UnsupportedAlgorithmError(
            f"hash_algorithm must be {' or '.join(sorted(entry.hash_algorithms))}"
        )
    wanted = entry.signature_algorithm
    if wanted is not None and signature_algorithm != wanted:
        raise UnsupportedAlgorithmError(f"{entry.name} keys sign with {wanted} only")


def check_hmac_algorithm(algorithm: str) -> None:
    """Refuse an HMAC ``algorithm`` other than ``sha2-256``.

    Raises:
        UnsupportedAlgorithmError: another hash.
    """
    if algorithm != SHA256:
        raise UnsupportedAlgorithmError(f"algorithm must be {SHA256}")
