"""The signing keyset: JWT signing keys with key ids, rotation, JWKS export, encrypted storage.

A :class:`SigningKeySet` holds signing keys. Its *primary* key signs every new
token and puts its ``kid`` in the header; every other *active* key still
verifies the tokens it signed, until it is *retired* (its material is then
erased). :meth:`SigningKeySet.rotate` adds a key and makes it primary. The
public halves are published with :meth:`SigningKeySet.public_jwks`.

Algorithms: ``EdDSA`` (Ed25519, the default), ``ES256`` (P-256), ``RS256``
(RSA 2048 by default) and ``HS256`` (a random 32-byte secret; for services that
must share a secret with an older verifier: it cannot be published).

Key ids are the RFC 7638 JWK thumbprint (SHA-256) of the public key; an HMAC
key gets a random id instead, so that nothing derived from the secret is shown.

A keyset is only ever stored sealed: :meth:`SigningKeySet.save` encrypts it
with a passphrase (Argon2id + AES-256-GCM, the format is in
``docs/formats.md``) or with any :class:`sealbox.keysets.sealed.Sealer`, and replaces
the file atomically with mode 0600.

Example::

    >>> keys = SigningKeySet.generate()                 # one Ed25519 key
    >>> token = keys.issue("user-42", audience="api", issuer="https://auth.example")
    >>> keys.verifier(audience="api", issuer="https://auth.example").verify(token)["sub"]
    'user-42'

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from sealbox._util.files import read_limited
from sealbox._util.merge import (
    Origin,
    merge_primary,
    merge_sources,
    merge_states,
    origin_of,
    save_merged,
)
from sealbox.exceptions import (
    ConcurrentChangeError,
    ConfigError,
    DecryptionError,
    FormatError,
    KeyFormatError,
    KeyNotFoundError,
    KeyStateError,
    TokenError,
    UnsupportedAlgorithmError,
)
from sealbox.hazmat import kdf
from sealbox.jwt._jws import ALGORITHMS, b64url_encode, encode_header, sign_compact
from sealbox.jwt.jwk import VerificationKey
from sealbox.keysets.sealed import PassphraseSealer, Sealer, format_time, parse_time
from sealbox.secret import Secret

if TYPE_CHECKING:
    from sealbox.jwt.verify import TokenVerifier

__all__ = [
    "DEFAULT_ALGORITHM",
    "DEFAULT_TTL",
    "REGISTERED_CLAIMS",
    "SIGNING_ALGORITHMS",
    "KeyStatus",
    "SigningKeyInfo",
    "SigningKeySet",
]

FORMAT: Final = "sealbox-jwt-keyset/1"
SEALED_FORMAT: Final = "sealbox-jwt-keyset-sealed/1"
MAX_FILE_SIZE: Final = 4 * 1024 * 1024
SIGNING_ALGORITHMS: Final = ("EdDSA", "ES256", "RS256", "HS256")
"""The algorithms a keyset can sign with."""
DEFAULT_ALGORITHM: Final = "EdDSA"
DEFAULT_TTL: Final = 900
"""Lifetime of an access token when none is given: 15 minutes."""
RSA_KEY_SIZES: Final = (2048, 3072, 4096)
HMAC_KEY_SIZE: Final = 32
REGISTERED_CLAIMS: Final = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope"})
"""Claims :meth:`SigningKeySet.issue` sets itself; ``claims=`` may not override them."""
ACCESS_TOKEN_TYPE: Final = "at+jwt"  # noqa: S105 - a media type, not a secret


class KeyStatus(enum.StrEnum):
    """The state of a signing key."""

    ACTIVE = "active"
    """Verifies tokens; the primary key also signs them. Published in the JWKS."""
    RETIRED = "retired"
    """Verifies nothing; its material is erased. Kept so its id is never reused."""


@dataclass(frozen=True, slots=True)
class SigningKeyInfo:
    """What a keyset tells about one of its keys. Never the material.

    Attributes:
        kid: the key id tokens carry in their header.
        alg: the JWS algorithm the key signs with.
        status: active or retired.
        primary: whether the key signs new tokens.
        created: when the key was made (UTC).
        retired: when it was retired, if it was.
    """

    kid: str
    alg: str
    status: KeyStatus
    primary: bool
    created: datetime
    retired: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as JSON-friendly values."""
        return {
            "kid": self.kid,
            "alg": self.alg,
            "status": self.status.value,
            "primary": self.primary,
            "created": format_time(self.created),
            "retired": None if self.retired is None else format_time(self.retired),
        }


class _Entry:
    __slots__ = ("alg", "created", "kid", "private", "public", "retired", "status")

    def __init__(  # noqa: PLR0917 - private record, built in two places
        self,
        kid: str,
        alg: str,
        status: KeyStatus,
        created: datetime,
        private: Any,
        retired: datetime | None = None,
    ) -> None:
        self.kid = kid
        self.alg = alg
        self.status = status
        self.created = created
        self.retired = retired
        self.private = private
        self.public: VerificationKey | None = None
        if private is not None:
            if alg == "HS256":
                self.public = VerificationKey.from_hmac_secret(private, alg=alg, kid=kid)
            else:
                self.public = VerificationKey.from_public_key(
                    private.public_key(), alg=alg, kid=kid
                )

    def __repr__(self) -> str:
        return f"_Entry(kid={self.kid!r}, alg={self.alg!r}, status={self.status.value!r})"


class SigningKeySet:
    """Signing keys with ids, one primary; issues tokens and publishes a JWKS.

    Make one with :meth:`generate` or :meth:`load`. The ``repr`` shows key ids
    and algorithms only; the keyset cannot be pickled; the private keys come out
    only through :meth:`serialize_unencrypted`.

    A keyset is also a key source (:meth:`find`) for :class:`TokenVerifier`,
    with its active keys, HMAC keys included.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_base",
        "_entries",
        "_headers",
        "_lock",
        "_origin",
        "_primary",
        "_signer",
        "_verifiers",
    )

    def __init__(self, entries: Iterable[_Entry], primary: str) -> None:
        self._lock = threading.RLock()
        self._entries = {e.kid: e for e in entries}
        if primary not in self._entries or self._entries[primary].status is not KeyStatus.ACTIVE:
            raise FormatError("the primary key must be one of the keyset's active keys")
        self._primary = primary
        # The file this keyset came from and its keys then: the base of a merge on save.
        self._origin: Origin | None = None
        self._base: tuple[str | None, dict[str, KeyStatus]] = (None, {})
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
        entry = _new_entry(alg, (), now, rsa_key_size)
        return cls([entry], entry.kid)

    def add_key(
        self, alg: str | None = None, *, rsa_key_size: int = 2048, now: datetime | None = None
    ) -> SigningKeyInfo:
        """Add an active key that verifies but does not sign yet.

        Publish it (it is in :meth:`public_jwks` at once), let verifiers' caches
        pick it up, then :meth:`set_primary`. :meth:`rotate` does both at once.

        Args:
            alg: the new key's algorithm; the primary's by default.
        """
        with self._lock:
            entry = _new_entry(
                alg or self._entries[self._primary].alg, self._entries, now, rsa_key_size
            )
            self._entries[entry.kid] = entry
            self._refresh()
            return self._info(entry)

    def rotate(
        self, alg: str | None = None, *, rsa_key_size: int = 2048, now: datetime | None = None
    ) -> SigningKeyInfo:
        """Add a fresh key and make it primary. Older keys keep verifying until retired.

        Returns:
            the new primary key.
        """
        with self._lock:
            info = self.add_key(alg, rsa_key_size=rsa_key_size, now=now)
            self.set_primary(info.kid)
            return self._info(self._entries[info.kid])

    def set_primary(self, kid: str) -> None:
        """Make an active key the one that signs.

        Raises:
            KeyNotFoundError: no such key.
            KeyStateError: the key is retired.
        """
        with self._lock:
            entry = self._get(kid)
            if entry.status is not KeyStatus.ACTIVE:
                raise KeyStateError(f"key {kid} is retired and cannot sign")
            self._primary = kid
            self._refresh()

    def retire(self, kid: str, *, now: datetime | None = None) -> None:
        """Stop a key from verifying and erase its material. Retiring twice does nothing.

        Tokens it signed stop verifying at once: retire a key once the longest
        token lifetime has passed since it stopped signing.

        Raises:
            KeyNotFoundError: no such key.
            KeyStateError: the key is the primary key.
        """
        with self._lock:
            entry = self._get(kid)
            if entry.status is KeyStatus.RETIRED:
                return
            if kid == self._primary:
                raise KeyStateError(
                    f"key {kid} is the primary key and cannot be retired",
                    hint="rotate first so that another key signs",
                )
            entry.status = KeyStatus.RETIRED
            entry.retired = _now(now)
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
            kid = kid or _random_kid(self._entries)
            if kid in self._entries:
                raise ConfigError(f"the keyset already has a key {kid!r}")
            entry = _Entry(kid, "HS256", KeyStatus.ACTIVE, _now(now), raw)
            self._entries[kid] = entry
            if primary:
                self._primary = kid
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
                if e.status is KeyStatus.ACTIVE
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
                space, or ``claims`` that overrides a registered claim.
            TypeError: a claim that is not JSON-serializable.
        """
        if not isinstance(subject, str) or not subject:
            raise ConfigError("the subject (sub) must be a non-empty string")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
            raise ConfigError("ttl must be a whole number of seconds, at least 1")
        issued = int(time.time() if now is None else now)
        body: dict[str, Any] = {}
        if issuer is not None:
            if not isinstance(issuer, str) or not issuer:
                raise ConfigError("the issuer (iss) must be a non-empty string")
            body["iss"] = issuer
        body["sub"] = subject
        if audience is not None:
            body["aud"] = _audience(audience)
        body["iat"] = issued
        body["nbf"] = issued if not_before is None else int(not_before)
        body["exp"] = issued + ttl
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
        """
        kid, alg, impl, key, headers = self._signer
        h64 = headers.get(token_type)
        if h64 is None:
            # Encoded once per key and token type; the dict only ever gains entries.
            header = {"alg": alg, "kid": kid}
            if token_type is not None:
                header["typ"] = token_type
            h64 = headers[token_type] = encode_header(header)
        payload = json.dumps(claims, separators=(",", ":")).encode()
        return sign_compact(h64, payload, impl, key)

    def find(self, kid: str | None) -> VerificationKey:
        """Return the active key with this id (the :class:`KeySource` protocol).

        Raises:
            TokenError: no active key has this id.
        """
        verifiers = self._verifiers
        key = verifiers.get(kid) if kid is not None else None
        if key is not None:
            return key
        if kid is None and len(verifiers) == 1:
            return next(iter(verifiers.values()))
        if kid is None:
            raise TokenError("the token names no key (kid) and the keyset has several")
        raise TokenError(f"no active key with id {kid[:60]!r} in the keyset")

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
            keys = [
                {
                    "kid": e.kid,
                    "alg": e.alg,
                    "status": e.status.value,
                    "created": format_time(e.created),
                    "retired": None if e.retired is None else format_time(e.retired),
                    "jwk": None if e.private is None else _private_jwk(e.alg, e.private),
                }
                for e in sorted(self._entries.values(), key=lambda e: e.created)
            ]
            doc = {"format": FORMAT, "primary": self._primary, "keys": keys}
        return json.dumps(doc, indent=2).encode() + b"\n"

    @classmethod
    def from_unencrypted(cls, data: bytes) -> SigningKeySet:
        """Load a keyset from :meth:`serialize_unencrypted` output.

        Raises:
            FormatError: the document is not a valid keyset (the message says what
                is wrong, never with key material).
        """
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, ValueError):
            raise FormatError("the keyset is not valid JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise FormatError(f"not a signing keyset: 'format' must be {FORMAT!r}")
        keys = doc.get("keys")
        if not isinstance(keys, list) or not keys:
            raise FormatError("the keyset has no keys")
        entries = [_parse_entry(k, i) for i, k in enumerate(keys)]
        if len({e.kid for e in entries}) != len(entries):
            raise FormatError("the keyset holds two keys with the same kid")
        primary = doc.get("primary")
        if not isinstance(primary, str):
            raise FormatError("'primary' must be a key id")
        return cls(entries, primary)

    def encrypt(
        self,
        passphrase: str | bytes | Secret[Any],
        *,
        kdf_params: kdf.Argon2idParams = kdf.ARGON2ID_DEFAULT,
    ) -> bytes:
        """Return the keyset sealed under a passphrase (Argon2id + AES-256-GCM)."""
        return _passphrase_sealer(passphrase, kdf_params).seal(self.serialize_unencrypted())

    @classmethod
    def decrypt(cls, data: bytes, passphrase: str | bytes | Secret[Any]) -> SigningKeySet:
        """Open a keyset sealed by :meth:`encrypt`.

        Raises:
            FormatError: not a sealed keyset, or Argon2id costs above the ceiling.
            DecryptionError: wrong passphrase, or the file was altered.
        """
        return cls.from_unencrypted(_passphrase_sealer(passphrase).open(data))

    def save(
        self,
        path: str | os.PathLike[str],
        passphrase: str | bytes | Secret[Any] | None = None,
        *,
        sealer: Sealer | None = None,
        kdf_params: kdf.Argon2idParams = kdf.ARGON2ID_DEFAULT,
        overwrite: bool = True,
        merge: bool = True,
    ) -> None:
        """Seal the keyset and write it to ``path`` atomically, mode 0600.

        Give a ``passphrase``, or a ``sealer`` for another protection (such as
        age recipients).

        Holds the file's lock from re-reading it to the rename. If the file changed
        since this keyset was read from it, its keys are merged in first (every key
        of both sides kept; a key retired on either side stays retired; of two new
        primaries the newer wins); ``merge=False`` replaces them instead.

        .. versionchanged:: 0.1.0
           Locked, and merges a file changed by another writer; ``merge``.

        Raises:
            StorageError: the file exists and ``overwrite`` is false, or it cannot
                be written. The old file is left as it was.
            ConcurrentChangeError: the file changed and cannot be opened with the
                same passphrase or sealer to merge (nothing was written).
            LockTimeoutError: another writer held the file too long.
        """
        chosen = _choose_sealer(passphrase, sealer, kdf_params)
        origin = save_merged(
            path,
            origin=self._origin,
            render=lambda: chosen.seal(self.serialize_unencrypted()),
            merge_from=lambda data, target: self._merge_from(chosen, data, target),
            limit=MAX_FILE_SIZE,
            what="keyset",
            overwrite=overwrite,
            merge=merge,
        )
        self._remember(origin)

    def _merge_from(self, sealer: Sealer, data: bytes, target: str) -> None:
        try:
            theirs = SigningKeySet.from_unencrypted(sealer.open(data))
        except (DecryptionError, FormatError):
            raise ConcurrentChangeError(
                f"keyset {target} was changed by another writer and cannot be opened to "
                "merge the changes",
                path=target,
                hint="load the keyset again and repeat the change",
            ) from None
        base_primary, base_states = (
            self._base if self._origin and self._origin[0] == target else (None, {})
        )
        with self._lock:
            states = merge_states(
                base_states,
                {e.kid: e.status for e in self._entries.values()},
                {e.kid: e.status for e in theirs._entries.values()},
                list(KeyStatus),
            )
            sources = merge_sources(
                self._entries,
                theirs._entries,
                lambda e: None if e.private is None else _private_jwk(e.alg, e.private),
                refuse=lambda kid: ConcurrentChangeError(
                    f"keyset {target}: another writer added a different key with the same "
                    f"kid {kid}",
                    path=target,
                    names=[kid],
                    hint="load the keyset again and repeat the change",
                ),
            )
            entries: dict[str, _Entry] = {}
            for kid, source in sources.items():
                mine, other = self._entries.get(kid), theirs._entries.get(kid)
                if states[kid] is KeyStatus.RETIRED:
                    retired = (mine or source).retired or (other or source).retired
                    entry = _Entry(
                        kid, source.alg, KeyStatus.RETIRED, source.created, None, retired
                    )
                else:
                    entry = _Entry(
                        kid, source.alg, KeyStatus.ACTIVE, source.created, source.private
                    )
                entries[kid] = entry

            def newer(ours: str, theirs: str) -> str:
                # One-second timestamps: within a second, the rotation saved last wins.
                return theirs if entries[theirs].created > entries[ours].created else ours

            primary = merge_primary(base_primary, self._primary, theirs._primary, newer)
            if entries[primary].status is not KeyStatus.ACTIVE:
                raise ConcurrentChangeError(
                    f"keyset {target}: the primary key {primary} was retired by another writer",
                    path=target,
                    names=[primary],
                    hint="load the keyset again and repeat the change",
                )
            self._entries = entries
            self._primary = primary
            self._refresh()

    def _remember(self, origin: Origin) -> None:
        with self._lock:
            self._origin = origin
            self._base = (self._primary, {e.kid: e.status for e in self._entries.values()})

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        passphrase: str | bytes | Secret[Any] | None = None,
        *,
        sealer: Sealer | None = None,
    ) -> SigningKeySet:
        """Read and open a keyset file written by :meth:`save`.

        Raises:
            StorageError: the file is missing, unreadable or too large.
            FormatError: the file is not a sealbox keyset.
            DecryptionError: wrong passphrase, or the file was altered.
        """
        chosen = _choose_sealer(passphrase, sealer, kdf.ARGON2ID_DEFAULT)
        data = read_limited(path, MAX_FILE_SIZE, "keyset")
        keyset = cls.from_unencrypted(chosen.open(data))
        keyset._remember(origin_of(path, data))
        return keyset

    # -- internals ------------------------------------------------------------------------

    def _get(self, kid: str) -> _Entry:
        try:
            return self._entries[kid]
        except KeyError:
            raise KeyNotFoundError(f"no key {kid!r} in this keyset") from None

    def _info(self, e: _Entry) -> SigningKeyInfo:
        return SigningKeyInfo(e.kid, e.alg, e.status, e.kid == self._primary, e.created, e.retired)

    def _refresh(self) -> None:
        # Build the lookup tables, then swap them in: readers never see a half state.
        verifiers = {e.kid: e.public for e in self._entries.values() if e.public is not None}
        primary = self._entries[self._primary]
        self._verifiers = verifiers
        headers: dict[str | None, str] = {}
        impl = ALGORITHMS[primary.alg].impl
        self._signer = (primary.kid, primary.alg, impl, primary.private, headers)


def _passphrase_sealer(
    passphrase: str | bytes | Secret[Any], kdf_params: kdf.Argon2idParams = kdf.ARGON2ID_DEFAULT
) -> PassphraseSealer:
    return PassphraseSealer(passphrase, format=SEALED_FORMAT, what="keyset", kdf_params=kdf_params)


def _choose_sealer(
    passphrase: str | bytes | Secret[Any] | None,
    sealer: Sealer | None,
    kdf_params: kdf.Argon2idParams,
) -> Sealer:
    if (passphrase is None) == (sealer is None):
        raise TypeError("give exactly one of passphrase and sealer")
    if sealer is not None:
        return sealer
    assert passphrase is not None
    return _passphrase_sealer(passphrase, kdf_params)


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


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)


def _random_kid(taken: Iterable[str]) -> str:
    used = set(taken)
    while True:
        kid = secrets.token_urlsafe(12)
        if kid not in used:
            return kid


_THUMBPRINT_MEMBERS: Final = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


def _thumbprint(public: VerificationKey) -> str:
    # RFC 7638 §3: the required members in lexicographic order, no whitespace.
    jwk = public.to_jwk()
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[public.kty]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url_encode(hashlib.sha256(canonical).digest())


def _new_entry(
    alg: str, taken: Iterable[str], now: datetime | None, rsa_key_size: int = 2048
) -> _Entry:
    if alg not in SIGNING_ALGORITHMS:
        raise UnsupportedAlgorithmError(
            f"a keyset cannot sign with {alg!r} (supported: {', '.join(SIGNING_ALGORITHMS)})"
        )
    taken = set(taken)
    created = _now(now)
    if alg == "HS256":
        return _Entry(_random_kid(taken), alg, KeyStatus.ACTIVE, created, os.urandom(HMAC_KEY_SIZE))
    private: Any
    if alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        if rsa_key_size not in RSA_KEY_SIZES:
            raise ConfigError(f"rsa_key_size must be one of {', '.join(map(str, RSA_KEY_SIZES))}")
        private = rsa.generate_private_key(public_exponent=65537, key_size=rsa_key_size)
    probe = VerificationKey.from_public_key(private.public_key(), alg=alg, kid=None)
    kid = _thumbprint(probe)
    if kid in taken:  # only if the same key were generated twice
        raise KeyStateError("the new key's id is already in the keyset")
    return _Entry(kid, alg, KeyStatus.ACTIVE, created, private)


def _private_jwk(alg: str, private: Any) -> dict[str, Any]:
    if alg == "HS256":
        return {"kty": "oct", "k": b64url_encode(private)}
    return ALGORITHMS[alg].impl.to_jwk(private)


def _load_private(alg: str, jwk: object, where: str) -> Any:
    if not isinstance(jwk, dict) or ("d" not in jwk and alg != "HS256"):
        raise KeyFormatError(f"{where}.jwk must be a private JWK")
    try:
        private = ALGORITHMS[alg].impl.from_jwk(jwk)
    except (ValueError, KeyError, TypeError, UnsupportedAlgorithm):
        raise KeyFormatError(f"{where}.jwk is not a valid {alg} private key") from None
    if alg == "HS256":
        ok = isinstance(private, bytes) and len(private) >= HMAC_KEY_SIZE
    elif alg == "ES256":
        ok = isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(
            private.curve, ec.SECP256R1
        )
    elif alg == "RS256":
        ok = isinstance(private, rsa.RSAPrivateKey) and private.key_size >= 2048
    else:
        ok = isinstance(private, ed25519.Ed25519PrivateKey)
    if not ok:
        raise KeyFormatError(f"{where}.jwk is not a usable {alg} private key")
    return private


def _parse_entry(obj: object, index: int) -> _Entry:
    where = f"keys[{index}]"
    if not isinstance(obj, dict):
        raise FormatError(f"{where} must be an object")
    kid = obj.get("kid")
    if not isinstance(kid, str) or not kid:
        raise FormatError(f"{where}.kid must be a non-empty string")
    alg = obj.get("alg")
    if alg not in SIGNING_ALGORITHMS:
        raise UnsupportedAlgorithmError(f"{where}: unknown signing algorithm {alg!r}")
    try:
        status = KeyStatus(str(obj.get("status")))
    except ValueError:
        raise FormatError(f"{where}.status must be active or retired") from None
    created = parse_time(obj.get("created"), f"{where}.created")
    retired_at = obj.get("retired")
    retired = None if retired_at is None else parse_time(retired_at, f"{where}.retired")
    raw = obj.get("jwk")
    if status is KeyStatus.RETIRED:
        if raw is not None:
            raise FormatError(f"{where} is retired but still holds key material")
        return _Entry(kid, str(alg), status, created, None, retired)
    return _Entry(kid, str(alg), status, created, _load_private(str(alg), raw, where), retired)
