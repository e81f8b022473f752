"""Every error sealbox raises on purpose.

The tree::

    SealboxError                        never raised directly; catch it to catch everything
    ├── DecryptionError                 opaque: a token, file or stanza did not authenticate
    │   └── NoIdentityMatchError        no identity could open an age file (holds the causes)
    ├── InvalidSignatureError           a signature did not verify
    │   └── SignerNotAllowedError       well formed, but another key, principal or namespace
    ├── TokenError                      a JWT was refused
    │   ├── TokenExpiredError
    │   └── TokenNotYetValidError
    ├── PasswordMismatchError           a password did not match its hash
    ├── KeyNotFoundError (LookupError)  no key with that id in a keyring or keyset
    ├── KeyStateError                   an operation the key's state forbids
    ├── UnsupportedAlgorithmError       an algorithm or key type sealbox does not handle
    ├── FormatError (ValueError)        input is not in the expected format (precise, quotes it)
    │   └── KeyFormatError              a key file or key string could not be parsed
    ├── ConfigError (ValueError)        a setting or parameter is out of range
    │   └── PasswordTooLongError        a password is over the hasher's length limit
    ├── SecretSourceError               a secret could not be loaded from its source
    ├── KeyProviderError                a key-encryption provider (Vault Transit…) failed or refused
    ├── ExtraNotInstalledError          (ImportError) an optional part needs an extra
    ├── TLSError
    │   ├── TLSConfigError              a certificate, key or CA file is unusable
    │   └── PinMismatchError            the server's public key matched no pin
    └── StorageError                    a file or a database could not be read or written safely
        ├── LockTimeoutError            another writer held a file's lock too long
        ├── ConcurrentChangeError       a file changed since it was read, beyond merging
        └── StoreUnavailableError       Redis or the database did not answer (a check refuses)

Authentication failures (``DecryptionError``, ``InvalidSignatureError``,
``PasswordMismatchError``) carry a fixed message and never say why: no oracle.
Parse errors say exactly what is wrong, never with key material in the text.
Misuse of the API (wrong types, wrong sizes) raises the builtin ``TypeError`` or
``ValueError``, as pyca/cryptography does. Errors from third-party libraries are
translated here with ``raise ... from exc``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

__all__ = [
    "ConcurrentChangeError",
    "ConfigError",
    "DecryptionError",
    "ExtraNotInstalledError",
    "FormatError",
    "InvalidSignatureError",
    "KeyFormatError",
    "KeyNotFoundError",
    "KeyProviderError",
    "KeyStateError",
    "LockTimeoutError",
    "NoIdentityMatchError",
    "PasswordMismatchError",
    "PasswordTooLongError",
    "PinMismatchError",
    "SealboxError",
    "SecretSourceError",
    "SignerNotAllowedError",
    "StorageError",
    "StoreUnavailableError",
    "TLSConfigError",
    "TLSError",
    "TokenError",
    "TokenExpiredError",
    "TokenNotYetValidError",
    "UnsupportedAlgorithmError",
]


class SealboxError(Exception):
    """Root of every sealbox exception. Never raised directly.

    Attributes:
        code: a stable, machine-readable name of what went wrong (``"file_exists"``,
            ``"passphrase_needed"``…). Each class has one; a raise site may name a
            more precise one. Programs branch on it, never on the message; the
            command-line tool and the service map codes to their own advice and
            statuses.
        facts: public facts about the error, by name (``{"path": …}``), for those
            maps to quote. Never a secret.
        hint: one line telling a library user what to do next, in the library's
            terms (never a command-line flag).

    .. versionchanged:: 0.1.0
       ``code`` and ``facts``.
    """

    code: str = "error"
    hint: str | None = None

    def __init__(
        self,
        message: str = "",
        *,
        hint: str | None = None,
        code: str | None = None,
        facts: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint
        if code is not None:
            self.code = code
        self.facts: dict[str, str] = dict(facts or {})


class DecryptionError(SealboxError):
    """Decryption failed: wrong key, tampered or truncated data, wrong associated data.

    The message is deliberately the same for every cause.
    """

    code = "decryption_failed"

    def __init__(
        self,
        message: str = "decryption failed",
        *,
        hint: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, code=code)


class NoIdentityMatchError(DecryptionError):
    """None of the identities given could unwrap the file key of an age file.

    Attributes:
        errors: what each identity reported, in order (their messages are opaque too).
        stanza_types: the recipient types the file is encrypted to (``("scrypt",)``
            for a passphrase), when known.

    .. versionchanged:: 0.1.0
       ``stanza_types``; a passphrase that does not open a passphrase-encrypted
       file is reported as ``incorrect passphrase``.
    """

    code = "no_identity_matched"

    def __init__(
        self,
        message: str = "no identity matched any of the recipients",
        *,
        errors: Sequence[Exception] = (),
        stanza_types: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.errors: tuple[Exception, ...] = tuple(errors)
        self.stanza_types: tuple[str, ...] = tuple(stanza_types)


class InvalidSignatureError(SealboxError):
    """A signature did not verify. The message never says why."""

    code = "invalid_signature"

    def __init__(
        self, message: str = "signature verification failed", *, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)


class SignerNotAllowedError(InvalidSignatureError):
    """The verifier's policy refuses a signature before any cryptography is checked.

    The signature was made by another key than the one trusted, for another
    namespace, or by a key that an allowed-signers file does not accept for the
    principal. Unlike the fixed message of :class:`InvalidSignatureError`, the
    message says which: it holds only public facts (fingerprints, principals,
    namespaces), so it gives an attacker nothing.

    .. versionadded:: 0.1.0
    """

    code = "signer_not_allowed"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        code: str | None = None,
        facts: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        if code is not None:
            self.code = code
        self.facts = dict(facts or {})


class TokenError(SealboxError):
    """A token (JWT) was refused: bad signature, wrong audience, unknown key id…"""

    code = "invalid_token"


class TokenExpiredError(TokenError):
    """The token's ``exp`` is in the past (beyond the allowed leeway)."""

    code = "token_expired"


class TokenNotYetValidError(TokenError):
    """The token's ``nbf`` or ``iat`` is in the future (beyond the allowed leeway)."""

    code = "token_not_yet_valid"


class PasswordMismatchError(SealboxError):
    """A password did not match its hash."""

    code = "password_mismatch"

    def __init__(
        self, message: str = "password does not match", *, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)


class KeyNotFoundError(SealboxError, LookupError):
    """No key with the requested id exists in the keyring or keyset."""

    code = "key_not_found"

    def __str__(self) -> str:
        # LookupError's str() would quote the message like a dict key.
        return str(self.args[0]) if self.args else ""


class KeyStateError(SealboxError):
    """The key's state forbids the operation (e.g. disabling the primary key)."""

    code = "key_state"


class UnsupportedAlgorithmError(SealboxError):
    """An algorithm, key type or format version that sealbox does not handle."""

    code = "unsupported_algorithm"


class FormatError(SealboxError, ValueError):
    """Input is not in the expected format.

    The message says precisely what is wrong and where, and may quote the
    offending line of a header; it never contains key material.
    """

    code = "bad_format"


class KeyFormatError(FormatError):
    """A key file or key string could not be parsed."""

    code = "bad_key_format"


class ConfigError(SealboxError, ValueError):
    """A parameter or setting is invalid or out of range."""

    code = "bad_config"


class PasswordTooLongError(ConfigError):
    """A password is longer than the hasher accepts (a guard against hashing megabytes).

    Attributes:
        limit: the longest password accepted, in characters (bytes for ``bytes``).
    """

    code = "password_too_long"

    def __init__(self, limit: int, *, hint: str | None = None) -> None:
        super().__init__(f"the password is longer than {limit} characters", hint=hint)
        self.limit = limit


class SecretSourceError(SealboxError):
    """A secret could not be loaded from its source (names only, never values)."""

    code = "secret_source"


class KeyProviderError(SealboxError):
    """A key-encryption provider could not do what was asked.

    Raised by :mod:`sealbox.keysets.envelope` when the service that holds a key-encryption
    key (HashiCorp Vault Transit…) is unreachable, sealed, refuses the credentials or
    the operation. The message names the provider, the key and the HTTP status; it
    never holds a key, a wrapped key or a token.

    .. versionadded:: 0.1.0
    """

    code = "key_provider"


class ExtraNotInstalledError(SealboxError, ImportError):
    """An optional part of sealbox was used without its extra installed."""

    code = "extra_not_installed"

    def __init__(self, extra: str, module: str) -> None:
        # The install command is in the message too: a library user sees only that.
        super().__init__(
            f"this feature needs the {module!r} package, which is not installed "
            f"(pip install 'sealbox[{extra}]')",
            hint=f"pip install 'sealbox[{extra}]'",
        )
        self.extra = extra
        self.module = module


class TLSError(SealboxError):
    """Root of TLS errors."""

    code = "tls"


class TLSConfigError(TLSError):
    """A certificate, key or CA file is missing, unreadable, expired or mismatched."""

    code = "tls_config"


class PinMismatchError(TLSError):
    """The server's public key matched none of the configured pins.

    Attributes:
        seen: the pin of the key the server presented, as ``sha256//BASE64``.
    """

    code = "pin_mismatch"

    def __init__(self, seen: str, *, hint: str | None = None) -> None:
        super().__init__(f"server public key {seen} matches no configured pin", hint=hint)
        self.seen = seen


class StorageError(SealboxError):
    """A file could not be read or written safely (nothing was changed on disk), or a
    database could not be opened (code ``database_unavailable``)."""

    code = "storage"


class LockTimeoutError(StorageError):
    """Another writer held the lock of a file for longer than the timeout allows.

    Attributes:
        path: the file whose lock was awaited.
        timeout: the seconds waited.

    .. versionadded:: 0.1.0
    """

    code = "lock_timeout"

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__(
            f"gave up after {timeout:g} s waiting for another writer of {path} to finish",
            hint="if no sealbox process is working on that file, try again; "
            "set SEALBOX_LOCK_TIMEOUT to wait longer",
        )
        self.path = path
        self.timeout = timeout


class ConcurrentChangeError(StorageError):
    """A file changed on disk after it was read, and the two changes cannot be merged.

    Nothing was written. Read the file again and repeat the change.

    Attributes:
        path: the file.
        names: what conflicts (key ids, secret names), when known.

    .. versionadded:: 0.1.0
    """

    code = "concurrent_change"

    def __init__(
        self, message: str, *, path: str, names: Sequence[str] = (), hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.names: tuple[str, ...] = tuple(names)


# The client library's exceptions for an answer that refuses (redis-py's names).
_REFUSALS: Final = ("Authentication", "NoPermission", "Response")


class StoreUnavailableError(StorageError):
    """A server sealbox keeps shared state in (Redis, or a PostgreSQL database) did not
    answer, or dropped the connection in use.

    A check that needed it (is this token revoked, may this sign-in be tried) refuses
    rather than lets a request through. A change that was being recorded may be
    recorded in part (revocations are written to the database first, and copied to
    Redis again at start-up): repeating it once Redis answers completes it. The
    service and :mod:`sealbox.integrations.fastapi` answer it with ``503`` and code
    ``store_unavailable``. The message names the server and what was being done, never
    its address (a URL may carry a password).

    Its code is ``store_unavailable``, or ``database_unavailable`` for a database (whose
    settings are not Redis's); a statement it did not answer may have been applied. A
    server that answered but refused to let sealbox in says what it refused
    (``refused``: ``"the credentials of user 'sealbox'"``), with a ``hint`` and ``facts``
    of its own (``facts["failed"]``: ``"credentials"``, ``"database"``).

    A subclass whose failure is neither (an SQLite file on a full disk) gives its own
    ``message``; the rest (code, hint, facts, attributes) is made here as for any other.

    Attributes:
        store: the server's kind (``"Redis"``, ``"PostgreSQL"``).
        operation: what was being done (``"checking a token's revocation"``).
        cause: the name of the client library's exception (``"ConnectionError"``),
            and for a ``unix://`` Redis socket, after a colon, what is wrong with its
            path (``"ConnectionError: the socket /run/redis.sock does not exist"``).
        refused: what the server refused (``None``: it did not answer).

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.1.0
       ``message``.
    """

    code = "store_unavailable"

    def __init__(
        self,
        store: str,
        operation: str,
        cause: str,
        *,
        code: str | None = None,
        refused: str | None = None,
        hint: str | None = None,
        facts: Mapping[str, str] | None = None,
        message: str | None = None,
    ) -> None:
        # A server that answered with a refusal (a wrong password, a user without the
        # right, a database number it does not have) is no server that did not answer.
        if refused is None and cause.startswith(_REFUSALS):
            refused = "the request"
            hint = hint or f"check the user, password and database number given for {store}"
        said = "did not answer" if refused is None else f"refused {refused}"
        super().__init__(
            message or f"{store} {said} while {operation} ({cause})",
            hint=hint or f"try again once {store} answers",
            code=code,
            facts={**(facts or {}), "store": store, "operation": operation, "cause": cause},
        )
        self.store = store
        self.operation = operation
        self.cause = cause
        self.refused = refused
