"""The request bodies of the transit routes, with Vault Transit's field names.

Unknown fields are refused (422), never ignored. Key types come from the library's
registry (:data:`sealbox.transit.registry.KEY_TYPES`).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Final, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from sealbox.transit.formats import MAX_VERSION
from sealbox.transit.registry import KEY_NAME_PATTERN, KEY_TYPES

__all__ = [
    "NAME_PATTERN",
    "REFERENCE_MAX_CHARS",
    "CiphertextItem",
    "CreateKey",
    "DatakeyItem",
    "DatakeyRequest",
    "DecryptRequest",
    "EncryptItem",
    "EncryptRequest",
    "HmacRequest",
    "InputItem",
    "KeyConfig",
    "KeyName",
    "KeyTypeName",
    "RewrapRequest",
    "SignRequest",
    "VerifyItem",
    "VerifyRequest",
]

NAME_PATTERN: Final = KEY_NAME_PATTERN

KeyName = Annotated[
    str,
    Path(
        pattern=NAME_PATTERN,
        description="1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
    ),
]
if TYPE_CHECKING:
    KeyTypeName = str
else:
    # The registry's types, in its order: adding a type to the registry adds it here.
    KeyTypeName = Literal[KEY_TYPES]
Base64 = Annotated[str, Field(description="base64, standard alphabet with padding")]
REFERENCE_MAX_CHARS = 256
Reference = Annotated[
    str | None,
    Field(default=None, max_length=REFERENCE_MAX_CHARS, description="Echoed in the result."),
]


def _answer_with_body(code: int | None) -> int | None:
    # The answer carries the batch results: a status that may not have a body (204,
    # 205, 304) would break the connection, and a redirect would not be followed sanely.
    if code is not None and (code in (204, 205) or 300 <= code <= 399):
        raise ValueError("must be a status that carries a body: 2xx but 204 and 205, or 4xx/5xx")
    return code


PartialCode = Annotated[
    int | None,
    Field(
        default=None,
        ge=200,
        le=599,
        description="Status of a batch in which some (not all) items failed; 400 by default. "
        "Any 2xx but 204 and 205, or any 4xx or 5xx: the answer carries the results.",
    ),
    AfterValidator(_answer_with_body),
]
KeyVersion = Annotated[
    int, Field(default=0, ge=0, le=MAX_VERSION, description="0: the latest version.")
]


class _Body(BaseModel):
    # Unknown fields are refused: a misspelt min_decryption_version must not pass silently.
    model_config = ConfigDict(extra="forbid")


class _Settings(_Body):
    # A key's settings take their JSON types only: `"min_decryption_version": true` read
    # as 1 would bring a retired version back, `"deletion_allowed": "yes"` as true.
    model_config = ConfigDict(extra="forbid", strict=True)


class CreateKey(_Settings):
    """A new key."""

    type: KeyTypeName = "aes256-gcm"
    exportable: bool = False


class KeyConfig(_Settings):
    """Configuration changes; fields left out keep their value."""

    min_decryption_version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    min_encryption_version: int | None = Field(default=None, ge=0, le=MAX_VERSION)
    deletion_allowed: bool | None = None
    exportable: bool | None = None


class EncryptItem(_Body):
    """One plaintext to encrypt."""

    plaintext: Base64 | None = None
    associated_data: Base64 = ""
    reference: Reference = None


class EncryptRequest(EncryptItem):
    """``plaintext`` or ``batch_input``."""

    key_version: KeyVersion = 0
    batch_input: list[EncryptItem] | None = None
    partial_failure_response_code: PartialCode = None


class CiphertextItem(_Body):
    """One ciphertext to decrypt or rewrap."""

    ciphertext: str | None = None
    associated_data: Base64 = ""
    reference: Reference = None


class DecryptRequest(CiphertextItem):
    """``ciphertext`` or ``batch_input``."""

    batch_input: list[CiphertextItem] | None = None
    partial_failure_response_code: PartialCode = None


class RewrapRequest(DecryptRequest):
    """``ciphertext`` or ``batch_input``, re-encrypted with ``key_version`` (the latest)."""

    key_version: KeyVersion = 0


class DatakeyItem(_Body):
    """One data key to make."""

    associated_data: Base64 = ""
    reference: Reference = None


class DatakeyRequest(DatakeyItem):
    """``type: plaintext`` answers the data key and its ciphertext; ``wrapped`` only the latter."""

    type: Literal["plaintext", "wrapped"] = "wrapped"
    bits: int = Field(default=256, description="128, 256 or 512")
    key_version: KeyVersion = 0
    batch_input: list[DatakeyItem] | None = None
    partial_failure_response_code: PartialCode = None


class InputItem(_Body):
    """One input to sign or HMAC."""

    input: Base64 | None = None
    reference: Reference = None


class SignRequest(InputItem):
    """``input`` or ``batch_input``."""

    key_version: KeyVersion = 0
    hash_algorithm: str = Field(
        default="sha2-256",
        description="sha2-256 (ed25519: any hash name Vault knows, ignored)",
    )
    signature_algorithm: str = Field(default="pss", description="RSA: pss")
    marshaling_algorithm: str = Field(default="asn1", description="ECDSA: asn1 (DER)")
    prehashed: bool = False
    batch_input: list[InputItem] | None = None
    partial_failure_response_code: PartialCode = None


class HmacRequest(InputItem):
    """``input`` or ``batch_input``."""

    key_version: KeyVersion = 0
    algorithm: str = Field(default="sha2-256", description="sha2-256")
    batch_input: list[InputItem] | None = None
    partial_failure_response_code: PartialCode = None


class VerifyItem(_Body):
    """One input with the ``signature`` (signing keys) or ``hmac`` (hmac keys) to check."""

    input: Base64 | None = None
    signature: str | None = None
    hmac: str | None = None
    reference: Reference = None


class VerifyRequest(VerifyItem):
    """``input`` with ``signature`` or ``hmac``, or ``batch_input``."""

    hash_algorithm: str = Field(
        default="sha2-256",
        description="sha2-256 (ed25519: any hash name Vault knows, ignored)",
    )
    signature_algorithm: str = Field(default="pss", description="RSA: pss")
    marshaling_algorithm: str = Field(default="asn1", description="ECDSA: asn1 (DER)")
    prehashed: bool = False
    algorithm: str = Field(default="sha2-256", description="HMAC: sha2-256")
    batch_input: list[VerifyItem] | None = None
    partial_failure_response_code: PartialCode = None
