"""Key-encryption providers: who wraps and unwraps the data keys of envelopes.

A provider holds (or can reach) key-encryption keys. It wraps a key blob into a
:class:`~sealbox.keysets.envelope.format.WrappedKey`, unwraps it again, and rewraps it to
its newest key. Three come with sealbox:

:class:`KeyringProvider`
    a local :class:`~sealbox.Keyring`: the blob is sealed as a keyring token
    (associated data ``sealbox-envelope/1 wrapped key``, so that it never opens
    as an ordinary field token); rotation is ``Keyring.rotate``.
:class:`AgeProvider`
    age recipients: the blob is encrypted as a small age file; unwrapping needs
    an identity; a new set of recipients is a new key.
:class:`~sealbox.keysets.envelope.vault.VaultTransitProvider`
    a named key of HashiCorp Vault's Transit engine, through hvac.

Anything with the methods of :class:`KeyProvider` can be used instead (a cloud
KMS, an HSM).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from sealbox.exceptions import (
    ConfigError,
    DecryptionError,
    FormatError,
    KeyStateError,
    SealboxError,
)
from sealbox.keysets.envelope.format import WrappedKey
from sealbox.keysets.fields import token_key_id

if TYPE_CHECKING:
    from sealbox.age import Identity, Recipient
    from sealbox.keysets.keyring import Keyring

__all__ = ["AgeProvider", "KeyProvider", "KeyringProvider", "check_providers"]

WRAP_ASSOCIATED_DATA: Final = b"sealbox-envelope/1 wrapped key"


@runtime_checkable
class KeyProvider(Protocol):
    """What :class:`~sealbox.keysets.envelope.EnvelopeCipher` needs from a key-encryption provider.

    ``name`` is written into every envelope (``[a-z0-9-]``, at most 32 characters).
    Methods raise sealbox exceptions only: :class:`~sealbox.exceptions.DecryptionError`
    when a wrapped key does not open, :class:`~sealbox.exceptions.KeyProviderError`
    and its relatives when the provider fails.
    """

    name: str

    def wrap(self, key_blob: bytes) -> WrappedKey:
        """Wrap ``key_blob`` under the newest key-encryption key."""
        ...

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        """Return the key blob inside ``wrapped``."""
        ...

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        """Wrap the same key blob under the newest key-encryption key."""
        ...

    def is_current(self, wrapped: WrappedKey) -> bool:
        """Whether ``wrapped`` is already under the newest key-encryption key."""
        ...

    def handles(self, wrapped: WrappedKey) -> bool:
        """Whether this provider can unwrap ``wrapped`` (its name and key match)."""
        ...


class RetiredKeyError(KeyStateError, DecryptionError):
    """The keyring key that wrapped an envelope's data key is disabled or destroyed.

    A :class:`~sealbox.exceptions.KeyStateError` (code ``key_not_usable`` or
    ``key_destroyed``; ``facts``: provider, key id, state) that is still a
    :class:`~sealbox.exceptions.DecryptionError`, as such envelopes raised before, so
    code that caught that keeps working and another keyring holding the key gets its turn.
    """

    def __init__(self, message: str, *, hint: str, code: str, facts: dict[str, str]) -> None:
        SealboxError.__init__(self, message, hint=hint, code=code, facts=facts)


class KeyringProvider:
    """Wrap data keys with a local :class:`~sealbox.Keyring`.

    The key id is the keyring key's id (8 hex digits). A rotated keyring wraps
    new data keys under its new primary key; older keys keep unwrapping until
    they are disabled; :meth:`rewrap` moves a wrapped key to the primary key
    (``Keyring.reseal``).

    Args:
        keyring: the keyring (kept by reference: rotating it is seen at once).
    """

    name = "keyring"

    __slots__ = ("keyring",)

    def __init__(self, keyring: Keyring) -> None:
        from sealbox.keysets.keyring import Keyring

        # Else a path or None fails at the first envelope, inside, as an AttributeError.
        if not isinstance(keyring, Keyring):
            raise TypeError(
                f"KeyringProvider takes a Keyring, not {type(keyring).__name__}: "
                "KeyringProvider(Keyring.load(path, passphrase))"
            )
        self.keyring = keyring

    def wrap(self, key_blob: bytes) -> WrappedKey:
        """Seal ``key_blob`` under the primary key."""
        token = self.keyring.seal(key_blob, WRAP_ASSOCIATED_DATA)
        return WrappedKey(self.name, f"{token_key_id(token):08x}", 0, token)

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        """Open the sealed key blob.

        Raises:
            RetiredKeyError: the key it names is disabled (code ``key_not_usable``) or
                destroyed (code ``key_destroyed``) in this keyring; a ``KeyStateError``
                and a ``DecryptionError``.
            DecryptionError: the key is unknown, or the wrapped key was altered or
                does not match the key id it names.
        """
        token = self._token(wrapped)
        try:
            return self.keyring.open(token, WRAP_ASSOCIATED_DATA)
        except DecryptionError:
            raise self._unusable(wrapped) or DecryptionError() from None

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        """Reseal the key blob under the primary key.

        Raises:
            as :meth:`unwrap`.
        """
        try:
            token = self.keyring.reseal(self._token(wrapped), WRAP_ASSOCIATED_DATA)
        except DecryptionError:
            raise self._unusable(wrapped) or DecryptionError() from None
        return WrappedKey(self.name, f"{token_key_id(token):08x}", 0, token)

    def _unusable(self, wrapped: WrappedKey) -> RetiredKeyError | None:
        # Asked only once opening failed. The header names the key in the clear, and its
        # state is the keyring holder's own: saying it tells an operator that nothing is
        # corrupt, only a key was retired too early (as Vault's min_decryption_version).
        key_id = int(wrapped.key_id, 16)
        info = next((k for k in self.keyring if k.id == key_id), None)
        if info is None or info.state.usable:
            return None
        state = info.state.value
        return RetiredKeyError(
            f"keyring key {wrapped.key_id} is {state}: it wrapped this envelope's data key",
            hint="rewrap envelopes to the primary key before disabling a key; a disabled "
            "key opens them again once enabled, a destroyed one never",
            code="key_destroyed" if state == "destroyed" else "key_not_usable",
            facts={"provider": self.name, "key_id": wrapped.key_id, "state": state},
        )

    def is_current(self, wrapped: WrappedKey) -> bool:
        """Whether the wrapped key is under the primary key."""
        return wrapped.key_id == f"{self.keyring.primary_id:08x}"

    def handles(self, wrapped: WrappedKey) -> bool:
        """Whether the envelope names this keyring and one of its keys."""
        if wrapped.provider != self.name:
            return False
        try:
            return int(wrapped.key_id, 16) in self.keyring
        except ValueError:
            return False

    def _token(self, wrapped: WrappedKey) -> bytes:
        token = wrapped.ciphertext
        try:
            named = token_key_id(token)
        except FormatError:
            raise DecryptionError from None
        # The header is not authenticated by itself: its fields must agree with the token.
        if f"{named:08x}" != wrapped.key_id or wrapped.version != 0:
            raise DecryptionError
        return token

    def __repr__(self) -> str:
        return f"KeyringProvider({self.keyring!r})"


class AgeProvider:
    """Wrap data keys to age recipients (X25519, ssh-ed25519, ssh-rsa, post-quantum…).

    The key blob is encrypted as a small binary age file. The key id names the set
    of recipients: by default ``age-`` and 16 hex digits of SHA-256 over the sorted
    recipient strings, so a new set of recipients is a new key, and
    :meth:`is_current` tells envelopes made for the old set.

    Args:
        recipients: who can unwrap new envelopes. Needed to wrap and rewrap.
        identities: the private keys (or passphrase) to unwrap with. Needed to
            decrypt and to rewrap.
        key_id: a name for this set of recipients, instead of the fingerprint
            (required for recipients without a public text form, such as a
            passphrase).

    Raises:
        ConfigError: neither recipients nor identities; a recipient without a
            public text form and no ``key_id``.
    """

    name = "age"

    __slots__ = ("_identities", "_recipients", "key_id")

    def __init__(
        self,
        recipients: Sequence[Recipient] = (),
        identities: Sequence[Identity] = (),
        *,
        key_id: str | None = None,
    ) -> None:
        if not recipients and not identities:
            raise ConfigError("an age provider needs recipients, identities or both")
        from sealbox.age._base import _check_items

        # The age functions' own checks, at construction rather than at the first envelope.
        _check_items(recipients, "wrap", "recipient")
        _check_items(identities, "unwrap", "identity")
        self._recipients = tuple(recipients)
        self._identities = tuple(identities)
        if key_id is None:
            key_id = _fingerprint(self._recipients) if self._recipients else "age"
        try:
            WrappedKey(self.name, key_id, 0, b"\x00")
        except ValueError as exc:
            raise ConfigError(f"{key_id!r} cannot name a key in an envelope: {exc}") from None
        self.key_id = key_id

    def wrap(self, key_blob: bytes) -> WrappedKey:
        """Encrypt ``key_blob`` to the recipients.

        Raises:
            ConfigError: the provider has no recipients.
        """
        from sealbox import age

        if not self._recipients:
            raise ConfigError(
                "this age provider has no recipients to wrap data keys to",
                hint="give recipients= (public keys) to encrypt and rewrap",
            )
        return WrappedKey(self.name, self.key_id, 0, age.encrypt(key_blob, self._recipients))

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        """Decrypt the key blob with the identities.

        Raises:
            ConfigError: the provider has no identities.
            NoIdentityMatchError: none of the identities opens it.
            DecryptionError: the wrapped key was altered.
        """
        from sealbox import age

        if not self._identities:
            raise ConfigError(
                "this age provider has no identities to unwrap data keys with",
                hint="give identities= (private keys) to decrypt and rewrap",
            )
        if wrapped.version != 0:
            raise DecryptionError  # age keys have no versions: the header was altered
        try:
            return age.decrypt(wrapped.ciphertext, self._identities)
        except FormatError:
            # A wrapped key that is not an age file was altered: opaque, like the rest.
            raise DecryptionError from None

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        """Unwrap with the identities and wrap again to the recipients."""
        return self.wrap(self.unwrap(wrapped))

    def is_current(self, wrapped: WrappedKey) -> bool:
        """Whether the envelope was wrapped to this set of recipients."""
        return wrapped.provider == self.name and wrapped.key_id == self.key_id

    def handles(self, wrapped: WrappedKey) -> bool:
        """Any age-wrapped key, when there are identities to try."""
        return wrapped.provider == self.name and bool(self._identities)

    def __repr__(self) -> str:
        return (
            f"AgeProvider(key_id={self.key_id!r}, recipients={len(self._recipients)}, "
            f"identities={len(self._identities)})"
        )


_METHODS: Final = ("wrap", "unwrap", "rewrap", "is_current", "handles")


def check_providers(provider: object, decrypt_with: object) -> tuple[KeyProvider, ...]:
    """``provider`` and the ``decrypt_with`` providers of a cipher, checked.

    Raises:
        TypeError: something that is not a provider (a keyring, a Vault key name, an age
            key), or one provider as ``decrypt_with``; the message names what to give.
    """
    if (
        isinstance(decrypt_with, str | bytes)
        or hasattr(decrypt_with, "unwrap")
        or not isinstance(decrypt_with, Iterable)
    ):
        raise TypeError(
            f"decrypt_with takes a list of providers, not one {type(decrypt_with).__name__}: "
            "decrypt_with=[provider]"
        )
    providers = (provider, *decrypt_with)
    for item in providers:
        if hasattr(item, "name") and all(callable(getattr(item, m, None)) for m in _METHODS):
            continue
        raise TypeError(
            f"a key-encryption provider is needed, not {type(item).__name__}: {_fix(item)}"
        )
    return providers


def _fix(item: object) -> str:
    from sealbox.keysets.keyring import Keyring

    if isinstance(item, Keyring):
        return "give KeyringProvider(keyring)"
    if isinstance(item, str):
        return (
            f"give VaultTransitProvider({item!r}) for a Vault Transit key, or "
            "KeyringProvider(Keyring.load(path, passphrase)) for a keyring file"
        )
    if hasattr(item, "recipient") and hasattr(item, "unwrap"):  # an age identity
        return "give AgeProvider(recipients=[identity.recipient()], identities=[identity])"
    if hasattr(item, "wrap"):  # an age recipient
        return "give AgeProvider(recipients=[recipient])"
    return (
        "give KeyringProvider(keyring), AgeProvider(…), VaultTransitProvider(…) or another "
        "object with the methods of sealbox.keysets.envelope.KeyProvider"
    )


def _fingerprint(recipients: Sequence[Recipient]) -> str:
    texts = []
    for r in recipients:
        text = str(r)
        if not text.startswith(("age1", "ssh-")):
            raise ConfigError(
                f"{type(r).__name__} has no public text form to name the key by",
                hint="give the age provider a key_id= for this set of recipients",
            )
        texts.append(text)
    digest = hashlib.sha256("\n".join(sorted(texts)).encode()).hexdigest()
    return f"age-{digest[:16]}"
