"""The signing keyset: JWT signing keys with key ids, rotation, JWKS export, encrypted storage.

A :class:`SigningKeySet` holds signing keys. Its *primary* key, the one *active*
key, signs every new token and puts its ``kid`` in the header; every *decrypt-only*
key still verifies the tokens it signed (and is published), until it is *disabled*
(kept, verifies nothing, not published) or *destroyed* (its material is erased).
These are the states of :class:`~sealbox.keysets.lifecycle.KeyState`, shared with
keyrings; a keyset file of the older words (``active`` for every key that verifies,
``retired`` for an erased one) loads as these. :meth:`SigningKeySet.rotate` adds a key
and makes it primary. The public halves are published with
:meth:`SigningKeySet.public_jwks`.

Algorithms: ``EdDSA`` (Ed25519, the default), ``ES256`` (P-256), ``RS256``
(RSA 2048 by default) and ``HS256`` (a random 32-byte secret; for services that
must share a secret with an older verifier: it cannot be published).

Key ids are RFC 7638 JWK thumbprints (random for HMAC keys). A keyset is only ever
stored sealed (:mod:`~sealbox.jwt.keyset_store`), under a passphrase or any
:class:`sealbox.keysets.sealed.Sealer`, written atomically with mode 0600.

Example::

    >>> keys = SigningKeySet.generate()                 # one Ed25519 key
    >>> token = keys.issue("user-42", audience="api", issuer="https://auth.example")
    >>> keys.verifier(audience="api", issuer="https://auth.example").verify(token)["sub"]
    'user-42'

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sealbox.exceptions import (
    ConfigError,
    FormatError,
    KeyNotFoundError,
    KeyStateError,
    TokenError,
)
from sealbox.jwt._jws import ALGORITHMS, encode_header, sign_compact
from sealbox.jwt.defaults import ACCESS_TOKEN_TYPE, DEFAULT_TTL, REGISTERED_CLAIMS
from sealbox.jwt.jwk import VerificationKey, only_key_for
from sealbox.jwt.keyset_file import (
    DEFAULT_ALGORITHM,
    FORMAT,
    HMAC_KEY_SIZE,
    MAX_FILE_SIZE,
    RSA_KEY_SIZES,
    SEALED_FORMAT,
    SERVICE_SEALED_FORMAT,
    SIGNING_ALGORITHMS,
    SigningEntry,
    claims_json,
    issue_times,
    new_entry,
    now_utc,
    parse_document,
    random_kid,
    render_document,
    settle_states,
)
from sealbox.jwt.keyset_store import SigningKeySetStorage
from sealbox.keysets.lifecycle import KeyState
from sealbox.keysets.sealed import format_time
from sealbox.secret import Secret

if TYPE_CHECKING:
    from sealbox.jwt.verify import TokenVerifier

__all__ = [
    "DEFAULT_ALGORITHM",
    "DEFAULT_TTL",
    "FORMAT",
    "HMAC_KEY_SIZE",
    "MAX_FILE_SIZE",
    "REGISTERED_CLAIMS",
    "RSA_KEY_SIZES",
    "SEALED_FORMAT",
    "SERVICE_SEALED_FORMAT",
    "SIGNING_ALGORITHMS",
    "KeyState",
    "KeyStatus",
    "SigningKeyInfo",
    "SigningKeySet",
]


KeyStatus = KeyState
"""The name of :class:`~sealbox.keysets.lifecycle.KeyState` before keyrings and keysets
shared it (``active`` and ``retired``, now ``destroyed``).

.. deprecated:: 0.1.0
   Use :class:`~sealbox.keysets.lifecycle.KeyState`.
"""


@dataclass(frozen=True, slots=True)
class SigningKeyInfo:
    """What a keyset tells about one of its keys. Never the material.

    Attributes:
        kid: the key id tokens carry in their header.
        alg: the JWS algorithm the key signs with.
        state: active (the primary key), decrypt-only, disabled or destroyed.
        primary: whether the key signs new tokens.
        created: when the key was made (UTC).
        destroyed: when it was destroyed, if it was.

    .. versionchanged:: 0.1.0
       ``state`` and ``destroyed``, in the words keyrings use; ``status`` and
       ``retired`` remain as their old names.
    """

    kid: str
    alg: str
    state: KeyState
    primary: bool
    created: datetime
    destroyed: datetime | None = None

    @property
    def status(self) -> KeyState:
        """The old name of :attr:`state`."""
        return self.state

    @property
    def retired(self) -> datetime | None:
        """The old name of :attr:`destroyed`."""
        return self.destroyed

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"kid", "alg", "state", "primary", "created", "destroyed"}`` for JSON."""
        return {
            "kid": self.kid,
            "alg": self.alg,
            "state": self.state.value,
            "primary": self.primary,
            "created": format_time(self.created),
            "destroyed": None if self.destroyed is None else format_time(self.destroyed),
        }


class SigningKeySet(SigningKeySetStorage):
    """Signing keys with ids, one primary; issues tokens and publishes a JWKS.

    Make one with :meth:`generate` or :meth:`load`. The ``repr`` shows key ids
    and algorithms only; the keyset cannot be pickled; the private keys come out
    only through :meth:`serialize_unencrypted`.

    A keyset is also a key source (:meth:`find`) for :class:`TokenVerifier`,
    with its active and decrypt-only keys, HMAC keys included.

    .. versionadded:: 0.1.0
    """

    # The others are SigningKeySetStorage's.
    __slots__ = ("_headers", "_signer", "_verifiers")

    def __init__(self, entries: Iterable[SigningEntry], primary: str) -> None:
        self._lock = threading.RLock()
        self._entries = {e.kid: e for e in entries}
        if primary not in self._entries or self._entries[primary].state is not KeyState.ACTIVE:
            raise FormatError("the primary key must be one of the keyset's active keys")
        self._primary = primary
        settle_states(self._entries, primary)
        for entry in self._entries.values():
            entry.publish()
        # The file this keyset came from, its keys then (a merge's base), its Argon2id costs.
        self._origin = None
        self._base: tuple[str | None, dict[str, KeyState]] = (None, {})
        self._sealed_kdf = None
        self._refresh()

    # -- making and changing ----------------------------------------------------------

    @classmethod
    def generate(
        cls,
        alg: str = DEFAULT_ALGORITHM,
        *,
        rsa_key_size: int = 2048,
        now: datetime | None = None,
    ) -> SigningKeySet:
        """Return a new keyset with one fresh primary key.

        Args:
            alg: ``EdDSA`` (default), ``ES256``, ``RS256`` or ``HS256``.
            rsa_key_size: modulus size for ``RS256`` (2048, 3072 or 4096).

        Raises:
            UnsupportedAlgorithmError: an algorithm the keyset cannot sign with.
        """
        entry = new_entry(alg, (), now, rsa_key_size)
        return cls([entry], entry.kid)

    def add_key(
        self, alg: str | None = None, *, rsa_key_size: int = 2048, now: datetime | None = None
    ) -> SigningKeyInfo:
        """Add a key that verifies but does not sign yet: it is decrypt-only.

        Publish it (it is in :meth:`public_jwks` at once), let verifiers' caches
        pick it up, then :meth:`set_primary`. :meth:`rotate` does both at once.

        Args:
            alg: the new key's algorithm; the primary's by default.
        """
        with self._lock:
            entry = new_entry(
                alg or self._entries[self._primary].alg, self._entries, now, rsa_key_size
            )
            entry.state = KeyState.DECRYPT_ONLY
            self._entries[entry.kid] = entry
            self._refresh()
            return self._info(entry)

    def rotate(
        self, alg: str | None = None, *, rsa_key_size: int = 2048, now: datetime | None = None
    ) -> SigningKeyInfo:
        """Add a fresh key and make it primary; the old primary becomes decrypt-only.

        Older keys keep verifying until they are disabled or destroyed.

        Returns:
            the new primary key.
        """
        with self._lock:
            info = self.add_key(alg, rsa_key_size=rsa_key_size, now=now)
            self.set_primary(info.kid)
            return self._info(self._entries[info.kid])

    def set_primary(self, kid: str) -> None:
        """Make a decrypt-only key the one that signs (active).

        The old primary key becomes decrypt-only.

        Raises:
            KeyNotFoundError: no such key.
            KeyStateError: the key is disabled or destroyed.
        """
        with self._lock:
            entry = self._get(kid)
            if not entry.state.usable:
                raise KeyStateError(
                    f"key {kid} is {entry.state.value} and cannot sign",
                    code="key_not_usable",
                    facts={"key_id": kid, "state": entry.state.value},
                )
            self._make_primary(entry)

    def disable(self, kid: str) -> None:
        """Stop a key from verifying and take it out of the JWKS, keeping its material.

        Disabling a disabled key does nothing; :meth:`enable` brings it back.

        Raises:
            KeyNotFoundError: no such key.
            KeyStateError: the key is the primary key, or destroyed.
        """
        with self._lock:
            entry = self._get(kid)
            self._refuse_primary(kid, "disabled")
            if entry.state is KeyState.DESTROYED:
                raise KeyStateError(
                    f"key {kid} is destroyed", code="key_destroyed", facts={"key_id": kid}
                )
            entry.state = KeyState.DISABLED
            entry.publish()
            self._refresh()

    def enable(self, kid: str) -> None:
        """Let a disabled key verify again (decrypt-only). Other keys are left as they are.

        Raises:
            KeyNotFoundError: no such key.
            KeyStateError: the key is destroyed.
        """
        with self._lock:
            entry = self._get(kid)
            if entry.state is KeyState.DESTROYED:
                raise KeyStateError(
                    f"key {kid} is destroyed and cannot be enabled again",
                    code="key_destroyed",
                    facts={"key_id": kid},
                )
            if entry.state is KeyState.DISABLED:
                entry.state = KeyState.DECRYPT_ONLY
                entry.publish()
                self._refresh()

    def destroy(self, kid: str, *, now: datetime | None = None) -> None:
        """Stop a key from verifying and erase its material. Destroying twice does nothing.

        A decrypt-only key may be destroyed directly (it need not be disabled first).
        Tokens it signed stop verifying at once: destroy a key once the longest token
        lifetime has passed since it stopped signing.

        .. versionadded:: 0.1.0
           The new name of :meth:`retire`.

        Raises:
            KeyNotFoundError: no such key.
            KeyStateError: the key is the primary key.
        """
        self._destroy(kid, now, "destroyed")

    def retire(self, kid: str, *, now: datetime | None = None) -> None:
        """:meth:`destroy`, by its older name."""
        self._destroy(kid, now, "retired")

    def _destroy(self, kid: str, now: datetime | None, verb: str) -> None:
        with self._lock:
            entry = self._get(kid)
            if entry.state is KeyState.DESTROYED:
                return
            self._refuse_primary(kid, verb)
            entry.state = KeyState.DESTROYED
            entry.destroyed = now_utc(now)
            entry.private = None
            entry.public = None
            self._refresh()

    def import_hmac_secret(
        self,
        secret: bytes | Secret[bytes],
        *,
        kid: str | None = None,
        primary: bool = False,
        now: datetime | None = None,
    ) -> SigningKeyInfo:
        """Add an existing HS256 secret, e.g. the one a python-jose service signed with.

        Args:
            secret: at least 32 bytes (RFC 7518 §3.2). A password is not a key.
            kid: its key id; random by default.
            primary: make it sign new tokens too (by default it only verifies).

        Raises:
            KeyFormatError: the secret is shorter than 32 bytes.
            ConfigError: the key id is taken.
        """
        raw = secret.expose_secret() if isinstance(secret, Secret) else bytes(secret)
        with self._lock:
            kid = kid or random_kid(self._entries)
            if kid in self._entries:
                raise ConfigError(f"the keyset already has a key {kid!r}")
            entry = SigningEntry(kid, "HS256", KeyState.DECRYPT_ONLY, now_utc(now), raw)
            self._entries[kid] = entry
            if primary:
                self._make_primary(entry)
            self._refresh()
            return self._info(entry)

    # -- reading ------------------------------------------------------------------------

    def keys(self) -> list[SigningKeyInfo]:
        """Every key, oldest first (keys made in the same second in the order they were added)."""
        with self._lock:
            ordered = sorted(self._entries.values(), key=lambda e: e.created)
            return [self._info(e) for e in ordered]

    def __iter__(self) -> Iterator[SigningKeyInfo]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, kid: object) -> bool:
        return kid in self._entries

    @property
    def primary(self) -> SigningKeyInfo:
        """The key that signs new tokens."""
        with self._lock:
            return self._info(self._entries[self._primary])

    def __repr__(self) -> str:
        with self._lock:
            keys = ", ".join(
                f"{e.kid}:{e.alg}{'*' if e.kid == self._primary else ''}"
                for e in self._entries.values()
                if e.state.usable
            )
        return f"SigningKeySet(active=[{keys}])"

    def __reduce__(self) -> Any:
        raise TypeError("SigningKeySet cannot be pickled: it would write private keys out in clear")

    # -- tokens -------------------------------------------------------------------------

    def issue(
        self,
        subject: str,
        *,
        audience: str | Iterable[str] | None = None,
        issuer: str | None = None,
        ttl: int = DEFAULT_TTL,
        scope: str | Iterable[str] | None = None,
        claims: Mapping[str, Any] | None = None,
        token_type: str | None = ACCESS_TOKEN_TYPE,
        not_before: int | None = None,
        now: float | None = None,
    ) -> str:
        """Issue a signed JWT access token with the primary key (RFC 9068 §2).

        The claims are ``iss``, ``sub``, ``aud``, ``iat``, ``nbf``, ``exp`` (``iat``
        + ``ttl``), a random 128-bit ``jti``, ``scope`` (space-separated, RFC 8693
        §4.2) and ``claims``. The header has ``alg``, ``kid`` and ``typ``.

        Args:
            subject: ``sub``, whom the token is about.
            audience: ``aud``, the service(s) that must accept it.
            issuer: ``iss``, who issued it (usually a URL).
            ttl: lifetime in seconds.
            scope: a space-separated string or an iterable of scope names.
            claims: further claims (not the registered ones above).
            token_type: the header's ``typ``: ``at+jwt`` for access tokens; ``None``
                to leave it out.
            not_before: ``nbf``, if not the issue time.
            now: the issue time (seconds since the epoch), instead of the clock.

        Raises:
            ConfigError: an empty subject, a ttl under 1, a scope item with a
                space, ``claims`` that overrides a registered claim or holds a NaN,
                a time (``now``, ``not_before``, ``exp``) outside 1970 to 9999, or
                an empty ``token_type``.
            TypeError: a claim that is not JSON-serializable, a time that is not a number.
        """
        if not isinstance(subject, str) or not subject:
            raise ConfigError("the subject (sub) must be a non-empty string")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
            raise ConfigError("ttl must be a whole number of seconds, at least 1")
        issued, nbf, exp = issue_times(time.time() if now is None else now, not_before, ttl)
        body: dict[str, Any] = {}
        if issuer is not None:
            if not isinstance(issuer, str) or not issuer:
                raise ConfigError("the issuer (iss) must be a non-empty string")
            body["iss"] = issuer
        body["sub"] = subject
        if audience is not None:
            body["aud"] = _audience(audience)
        body["iat"], body["nbf"], body["exp"] = issued, nbf, exp
        body["jti"] = secrets.token_urlsafe(16)
        if scope is not None:
            body["scope"] = _scope(scope)
        if claims:
            clash = REGISTERED_CLAIMS.intersection(claims)
            if clash:
                raise ConfigError(
                    f"claims may not set {', '.join(sorted(clash))}: use issue()'s arguments"
                )
            body.update(claims)
        return self.sign(body, token_type=token_type)

    def sign(self, claims: Mapping[str, Any], *, token_type: str | None = ACCESS_TOKEN_TYPE) -> str:
        """Sign exactly these claims with the primary key. No claim is added or checked.

        Prefer :meth:`issue`, which sets the time claims and a ``jti``.

        Raises:
            ConfigError: ``token_type`` is empty or not a string (no verifier asks for it).
        """
        kid, alg, impl, key, headers = self._signer
        h64 = headers.get(token_type)
        if h64 is None:
            if token_type is not None and (not isinstance(token_type, str) or not token_type):
                raise ConfigError("token_type must be a media type such as 'at+jwt', or None")
            # Encoded once per key and token type; the dict only ever gains entries.
            header = {"alg": alg, "kid": kid}
            if token_type is not None:
                header["typ"] = token_type
            h64 = headers[token_type] = encode_header(header)
        return sign_compact(h64, claims_json(claims), impl, key)

    def find(self, kid: str | None, *, alg: str | None = None) -> VerificationKey:
        """Return the key with this id that verifies (the :class:`KeySource` protocol).

        Raises:
            TokenError: no active or decrypt-only key has this id; or ``kid`` is
                ``None`` and not exactly one of them verifies ``alg``.
        """
        verifiers = self._verifiers
        if kid is None:
            return only_key_for(verifiers.values(), alg, "the keyset")
        key = verifiers.get(kid)
        if key is not None:
            return key
        raise TokenError(f"no active or decrypt-only key with id {kid[:60]!r} in the keyset")

    def verifier(self, **policy: Any) -> TokenVerifier:
        """Return a :class:`~sealbox.jwt.TokenVerifier` over this keyset's active keys.

        ``policy`` takes :class:`~sealbox.jwt.TokenVerifier`'s keyword arguments.
        """
        from sealbox.jwt.verify import TokenVerifier

        return TokenVerifier(self, **policy)

    def public_jwks(self) -> dict[str, Any]:
        """The JWK Set (RFC 7517 §5) of the active public keys, primary first.

        HMAC keys are secrets and never appear in it.
        """
        with self._lock:
            entries = sorted(
                (e for e in self._entries.values() if e.public is not None),
                key=lambda e: (e.kid != self._primary, e.created),
            )
            return {"keys": [e.public.to_jwk() for e in entries if not e.public.is_symmetric]}  # type: ignore[union-attr]

    # -- storage --------------------------------------------------------------------------

    def serialize_unencrypted(self) -> bytes:
        """Return the keyset as JSON **with its private keys in clear**.

        .. danger::

           The result is every signing key. Never store or send it as is:
           :meth:`save` and :meth:`encrypt` exist for that.
        """
        with self._lock:
            return render_document(self._primary, self._entries.values())

    @classmethod
    def from_unencrypted(cls, data: bytes) -> SigningKeySet:
        """Load a keyset from :meth:`serialize_unencrypted` output.

        Files in the older words (``status``: ``active``, ``retired``) load too.

        Raises:
            FormatError: the document is not a valid keyset (the message says what
                is wrong, never with key material).
        """
        entries, primary = parse_document(data)
        return cls(entries, primary)

    # -- internals ------------------------------------------------------------------------

    def _get(self, kid: str) -> SigningEntry:
        try:
            return self._entries[kid]
        except KeyError:
            raise KeyNotFoundError(
                f"no key {kid!r} in this keyset", facts={"key_id": kid}
            ) from None

    def _info(self, e: SigningEntry) -> SigningKeyInfo:
        return SigningKeyInfo(e.kid, e.alg, e.state, e.kid == self._primary, e.created, e.destroyed)

    def _make_primary(self, entry: SigningEntry) -> None:
        self._entries[self._primary].state = KeyState.DECRYPT_ONLY
        entry.state = KeyState.ACTIVE
        self._primary = entry.kid
        self._refresh()

    def _refuse_primary(self, kid: str, verb: str) -> None:
        if kid == self._primary:
            raise KeyStateError(
                f"key {kid} is the primary key and cannot be {verb}",
                hint="rotate first so that another key signs",
                code="primary_key",
                facts={"key_id": kid},
            )

    def _refresh(self) -> None:
        # Build the lookup tables, then swap them in: readers never see a half state.
        verifiers = {e.kid: e.public for e in self._entries.values() if e.public is not None}
        primary = self._entries[self._primary]
        self._verifiers = verifiers
        headers: dict[str | None, str] = {}
        impl = ALGORITHMS[primary.alg].impl
        self._signer = (primary.kid, primary.alg, impl, primary.private, headers)


def _audience(audience: str | Iterable[str]) -> str | list[str]:
    if isinstance(audience, str):
        if not audience:
            raise ConfigError("the audience (aud) must not be empty")
        return audience
    values = list(audience)
    if not values or not all(isinstance(a, str) and a for a in values):
        raise ConfigError("the audience (aud) must be a string or a list of non-empty strings")
    return values[0] if len(values) == 1 else values


def _scope(scope: str | Iterable[str]) -> str:
    if isinstance(scope, str):
        return " ".join(scope.split())
    items = list(scope)
    for item in items:
        if not isinstance(item, str) or not item or any(c.isspace() for c in item):
            raise ConfigError("each scope must be a non-empty string without spaces")
    return " ".join(items)
