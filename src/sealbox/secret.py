"""Secret values that do not leak, and a logging filter that redacts them.

:class:`Secret` wraps a ``str`` or ``bytes``. Its ``repr``, ``str`` and ``format``
show ``**********``; it refuses to be pickled; the value comes out only through
:meth:`Secret.expose_secret`, a name that is easy to grep for in review.

:class:`RedactingFilter` is a :class:`logging.Filter` that rewrites each record so
that registered secret values and recognisable key material never reach a handler:
PEM private keys, age identities (``AGE-SECRET-KEY-1…``, ``AGE-SECRET-KEY-PQ-1…``),
JWTs, and the credentials of ``Authorization`` headers. It redacts the message, its
arguments (by formatting the message first), the text of an attached exception
or stack, and the fields given with ``extra=``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import logging
import re
import threading
import warnings
from typing import Any, Generic, NoReturn, TypeVar
from urllib.parse import quote_from_bytes, quote_plus

__all__ = [
    "REDACTED",
    "RedactingFilter",
    "Redactor",
    "Secret",
    "default_redactor",
    "install_log_redaction",
    "redact",
    "register_secret",
    "unregister_secret",
]

REDACTED = "**********"

# Values shorter than this are not registered: redacting every "a" or "42" in a
# log would destroy the log and protect nothing (such a secret is guessable).
MIN_REGISTERED_LENGTH = 4

T = TypeVar("T", str, bytes)


class Secret(Generic[T]):
    """A ``str`` or ``bytes`` value that is never shown by accident.

    Args:
        value: the secret.
        register: also register the value with the default :class:`Redactor`, so
            :class:`RedactingFilter` removes it from log records.

    Example::

        >>> token = Secret("s3cr3t-api-token")
        >>> token
        Secret('**********')
        >>> f"{token}"
        '**********'
        >>> token.expose_secret()
        's3cr3t-api-token'
    """

    __slots__ = ("_value",)

    _value: T

    def __init__(self, value: T, *, register: bool = False) -> None:
        # __init__ called again on a made Secret would swap its value under whoever holds it.
        try:
            object.__getattribute__(self, "_value")
        except AttributeError:
            pass
        else:
            raise TypeError("Secret is immutable: it cannot be initialised again")
        if not isinstance(value, str | bytes):
            raise TypeError("Secret wraps str or bytes")
        # A subclass of bytes is kept as plain bytes (its methods could show the value). A
        # bytearray is refused above: the caller could change it after it was wrapped.
        object.__setattr__(self, "_value", value if isinstance(value, str) else bytes(value))
        if register:
            default_redactor.add(value)

    def expose_secret(self) -> T:
        """Return the wrapped value. Every call site is a place where it can leak."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, format_spec: str) -> str:
        return REDACTED

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        a: str | bytes = self._value
        b: str | bytes = other._value
        if isinstance(a, str) != isinstance(b, str):
            return False
        # surrogatepass: a value from os.environ holds a byte that is not UTF-8 as a lone
        # surrogate, and strict encoding would raise an error quoting that character.
        a_bytes = a.encode("utf-8", "surrogatepass") if isinstance(a, str) else a
        b_bytes = b.encode("utf-8", "surrogatepass") if isinstance(b, str) else b
        return hmac.compare_digest(a_bytes, b_bytes)

    # Hashing would let a secret be probed through dict and set timing.
    __hash__ = None  # type: ignore[assignment]

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secret cannot be pickled: it would write the value out in clear")

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("Secret cannot be pickled: it would write the value out in clear")

    def __getstate__(self) -> NoReturn:
        raise TypeError("Secret cannot be pickled: it would write the value out in clear")

    def __copy__(self) -> Secret[T]:
        return self

    def __class_getitem__(cls, item: Any) -> Any:
        # Secret[str] is Secret itself at run time (type checkers still see the parameter):
        # pydantic-settings takes a parameterised class with a pydantic schema for JSON, and
        # refused the plain text of a Secret[str] field from the environment or a .env file.
        return cls

    @classmethod
    def __get_pydantic_core_schema__(cls, source_type: Any, handler: Any) -> Any:
        """Let pydantic models (and pydantic-settings) use ``Secret`` as a field type.

        Input: a str, bytes or ``Secret``; output of ``model_dump``: ``**********``.
        The JSON schema is a write-only password string.
        """
        from pydantic_core import PydanticCustomError, core_schema

        def validate(value: Any) -> Secret[Any]:
            if isinstance(value, Secret):
                return value
            if isinstance(value, str):
                return Secret(value)
            if isinstance(value, bytes):
                return Secret(value)
            raise PydanticCustomError("secret_type", "a secret must be a string or bytes")

        return core_schema.no_info_plain_validator_function(
            validate,
            json_schema_input_schema=core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda _: REDACTED),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "string", "format": "password", "writeOnly": True}

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret[T]:
        return self


# Key material recognisable by its shape alone.
_PATTERNS: tuple[re.Pattern[str], ...] = (
    # PEM private keys of every kind (PKCS#1, PKCS#8, EC, OpenSSH, encrypted).
    re.compile(
        r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----.*?(-----END ([A-Z0-9]+ )*PRIVATE KEY-----|\Z)",
        re.DOTALL,
    ),
    # age identities: X25519 and the hybrid post-quantum one (Bech32, case-insensitive).
    re.compile(r"AGE-SECRET-KEY-(PQ-)?1[02-9AC-HJ-NP-Z]{20,}", re.IGNORECASE),
    # JWTs and JWEs: base64url header starting with '{"' then at least one more part.
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*){0,2}"),
    # sealbox's own opaque credentials: refresh tokens (sbr_, sealbox.accounts.store) and
    # client secrets (sbs_, sealbox.accounts.clients), 32 random bytes in base64url each.
    re.compile(r"sb[rs]_[A-Za-z0-9_-]{40,}"),
)
# Authorization / Proxy-Authorization header values, in "k: v", "k=v" and dict-repr forms,
# and as the (name, value) pairs of ASGI scopes, http.client and WSGI ("('k', 'v')").
_AUTH_HEADER = re.compile(
    r"""(?P<name>(proxy-)?authorization)"""
    r"""(?P<sep>['"]?\s*[:=]\s*['"]?|['"]\s*,\s*b?['"])"""
    r"""(?P<scheme>(bearer|basic|digest|token|negotiate)\s+)?(?P<cred>[^\s'",}\]]+)""",
    re.IGNORECASE,
)
# Text that each of _PATTERNS, then _AUTH_HEADER, needs to match at all: a line without it
# skips that pattern. The case-insensitive ones hold letters that match outside ASCII (the
# dotless i, the Kelvin sign), so in text that is not ASCII they are looked for with that flag.
_PEM_TEXT, _AGE_TEXT, _JWT_TEXT, _OPAQUE_TEXT, _AUTH_TEXT = (
    "-----BEGIN ",
    "age-secret-key-",
    "eyJ",
    "sb",
    "authorization",
)
_AGE_ANY_CASE = re.compile(re.escape(_AGE_TEXT), re.IGNORECASE)
_AUTH_ANY_CASE = re.compile(_AUTH_TEXT, re.IGNORECASE)


def _may_match(text: str) -> tuple[bool, bool, bool, bool, bool]:
    """Whether ``text`` may hold the fixed text of each of ``_PATTERNS`` and of
    ``_AUTH_HEADER`` (never ``False`` when it does)."""
    if text.isascii():
        lowered = text.lower()
        age, auth = _AGE_TEXT in lowered, _AUTH_TEXT in lowered
    else:
        age, auth = bool(_AGE_ANY_CASE.search(text)), bool(_AUTH_ANY_CASE.search(text))
    return _PEM_TEXT in text, age, _JWT_TEXT in text, _OPAQUE_TEXT in text, auth


class Redactor:
    """Replaces registered secret values and recognisable key material with ``**********``.

    Registered values are matched in their literal form, escaped as ``repr`` and JSON
    show them, percent-encoded as a URL holds them, and, for values of 8 bytes or more,
    in the hex and base64 encodings a log line is likely to hold.
    Registrations are counted: a value registered twice (two parts of a program that
    each hold it) stays masked until it is discarded twice.
    Registration is thread-safe.

    .. versionchanged:: 0.1.0
       :meth:`discard` removes one registration, not every one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Each form to mask -> how many registrations hold it (two values can share one).
        self._values: dict[str, int] = {}
        # Each registered value -> how many times, so discard() of another leaves it alone.
        self._registered: dict[str | bytes, int] = {}
        self._compiled: re.Pattern[str] | None = None

    def add(self, value: str | bytes | Secret[Any]) -> None:
        """Register a value to redact. Values shorter than 4 characters are ignored."""
        raw = _raw(value)
        forms = _forms(raw)
        if not forms:
            return
        with self._lock:
            self._registered[raw] = self._registered.get(raw, 0) + 1
            new = False
            for form in forms:
                count = self._values.get(form, 0)
                self._values[form] = count + 1
                new = new or count == 0
            if new:
                self._compiled = None

    def discard(self, value: str | bytes | Secret[Any]) -> None:
        """Remove one registration of a value (no error if it was not registered). The
        value stays masked while other registrations of it remain."""
        raw = _raw(value)
        forms = _forms(raw)
        with self._lock:
            count = self._registered.get(raw, 0)
            if count == 0:
                return
            if count == 1:
                del self._registered[raw]
            else:
                self._registered[raw] = count - 1
            for form in forms:
                left = self._values[form] - 1
                if left:
                    self._values[form] = left
                else:
                    del self._values[form]
                    self._compiled = None

    def clear(self) -> None:
        """Forget every registered value."""
        with self._lock:
            self._values.clear()
            self._registered.clear()
            self._compiled = None

    def _pattern(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._compiled is None and self._values:
                # Longest first, so a value that contains another is removed whole.
                ordered = sorted(self._values, key=len, reverse=True)
                self._compiled = re.compile("|".join(map(re.escape, ordered)))
            return self._compiled

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret it contains replaced by ``**********``."""
        # Read without the lock: add() and discard() replace the compiled pattern with
        # None in one store, so this sees the old pattern or builds the new one.
        pattern = self._compiled
        if pattern is None and self._values:
            pattern = self._pattern()
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        # A pattern whose fixed text is absent cannot match (a replacement only adds
        # asterisks, which none of that text holds): most lines skip every one.
        pem, age, jwt, opaque, auth = _may_match(text)
        if pem or age or jwt or opaque:
            for known, may in zip(_PATTERNS, (pem, age, jwt, opaque), strict=True):
                if may:
                    text = known.sub(REDACTED, text)
        return _AUTH_HEADER.sub(_redact_auth, text) if auth else text


def _redact_auth(m: re.Match[str]) -> str:
    return f"{m['name']}{m['sep']}{m['scheme'] or ''}{REDACTED}"


def _raw(value: str | bytes | Secret[Any]) -> str | bytes:
    """The value to register: a ``Secret``'s, and a ``bytes`` subclass as plain bytes."""
    raw = value.expose_secret() if isinstance(value, Secret) else value
    return raw if isinstance(raw, str) else bytes(raw)


def _forms(value: str | bytes) -> set[str]:
    # surrogatepass: a str from os.environ or argv holds lone surrogates for bytes that
    # are not UTF-8, and such a value is registered too.
    raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)
    if len(raw) < MIN_REGISTERED_LENGTH:
        return set()
    forms: set[str] = set()
    text = value if isinstance(value, str) else None
    if text is None:
        with contextlib.suppress(UnicodeDecodeError):
            text = raw.decode()
    forms.add(repr(raw)[2:-1])  # the b'...' form minus the quotes
    if text is not None:
        # A value with a backslash, a quote, a control character or a letter outside
        # ASCII is escaped where a log line shows it through %r (a dict, a list, an
        # exception's args) or as JSON: each escaped form is registered too.
        forms.add(text)
        forms.add(repr(text)[1:-1])
        forms.add(json.dumps(text)[1:-1])
        forms.add(json.dumps(text, ensure_ascii=False)[1:-1])
    # Percent-encoded as a URL's query or path carries it, which HTTP clients log: a
    # base64 token's + / = become %2B %2F %3D there.
    forms.add(quote_from_bytes(raw, safe=""))
    forms.add(quote_from_bytes(raw))
    forms.add(quote_plus(raw, safe=""))
    if len(raw) >= 8:
        forms.add(raw.hex())
        forms.add(raw.hex().upper())
        forms.add(base64.b64encode(raw).decode().rstrip("="))
        forms.add(base64.urlsafe_b64encode(raw).decode().rstrip("="))
    return {f for f in forms if len(f) >= MIN_REGISTERED_LENGTH}


default_redactor = Redactor()
"""The process-wide redactor that :class:`Secret` and the secret sources register with."""


def register_secret(value: str | bytes | Secret[Any]) -> None:
    """Register a value with the default redactor."""
    default_redactor.add(value)


def unregister_secret(value: str | bytes | Secret[Any]) -> None:
    """Forget a value registered with the default redactor."""
    default_redactor.discard(value)


def redact(text: str) -> str:
    """Redact ``text`` with the default redactor."""
    return default_redactor.redact(text)


class RedactingFilter(logging.Filter):
    """A logging filter that removes secrets from records before any handler sees them.

    The message is formatted with its arguments first and the result redacted, so a
    secret passed as an argument is caught too; the record then carries the redacted
    text and no arguments. Exception and stack text are formatted and redacted in the
    same way, and so are the fields given with ``extra=`` (which structured formatters
    print). The filter never drops a record.

    Attach it to *handlers* (a filter on a logger does not see records that propagate
    from child loggers); :func:`install_log_redaction` does that for you.

    Args:
        redactor: the :class:`Redactor` to use; the process-wide one by default.
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or default_redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact_ = self.redactor.redact
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not lose the record
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact_(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            # The formatter prints exc_text when present; without exc_info it cannot
            # reformat the original, unredacted exception.
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact_(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_(record.stack_info)
        # Fields given with extra={...}: JSON and key=value formatters print them.
        for name in record.__dict__.keys() - _RECORD_FIELDS:
            value = record.__dict__[name]
            redacted = _redact_field(value, redact_, 0)
            if redacted is not value:
                record.__dict__[name] = redacted
        return True


# What every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_FIELDS: frozenset[str] = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName"}
_PLAIN_TYPES = (int, float, bool, type(None))
_MAX_DEPTH = 8


def _redact_field(value: Any, redact_: Any, depth: int) -> Any:
    """``value`` with secrets removed from its text; the object itself when it holds none.

    Strings, and those inside dicts, lists and tuples, are redacted where they are (a
    JSON formatter still sees a dict); another object whose text holds a secret becomes
    that text, redacted. The caller's objects are never changed.
    """
    if isinstance(value, _PLAIN_TYPES):
        return value
    if depth < _MAX_DEPTH and type(value) in (dict, list, tuple):
        return _redact_container(value, redact_, depth + 1)
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ is the formatter's to report
        return value
    redacted = redact_(text)
    return value if redacted == text else redacted


def _redact_container(value: Any, redact_: Any, depth: int) -> Any:
    if isinstance(value, dict):
        pairs = [
            (_redact_field(k, redact_, depth), _redact_field(v, redact_, depth))
            for k, v in value.items()
        ]
        same = all(a is k and b is v for (a, b), (k, v) in zip(pairs, value.items(), strict=True))
        return value if same else dict(pairs)
    items = [_redact_field(v, redact_, depth) for v in value]
    same = all(a is b for a, b in zip(items, value, strict=True))
    return value if same else type(value)(items)


def install_log_redaction(
    target: logging.Logger | logging.Handler | None = None,
    redactor: Redactor | None = None,
) -> RedactingFilter:
    """Attach a :class:`RedactingFilter` to a handler, or to every handler of a logger.

    Args:
        target: a handler, or a logger whose current handlers get the filter
            (the root logger when omitted).
        redactor: the :class:`Redactor` to use; the process-wide one by default.

    Warns:
        RuntimeWarning: the logger has no handlers yet (logging is not configured), so
            nothing is covered: handlers added later do not get the filter.

    Returns:
        The filter, so it can be removed again. A handler that already has a
        :class:`RedactingFilter` of the same redactor keeps it, and gets no second one
        (an app started many times in one process, as in tests, installs it each time);
        that filter is returned.
    """
    flt = RedactingFilter(redactor)
    if isinstance(target, logging.Handler):
        for present in target.filters:
            if isinstance(present, RedactingFilter) and present.redactor is flt.redactor:
                return present
        target.addFilter(flt)
        return flt
    logger = target or logging.getLogger()
    if not logger.handlers:
        # Called before logging.basicConfig() or dictConfig(): there is nothing to attach
        # to, and handlers added later would get no filter. Said once per call site.
        warnings.warn(
            f"install_log_redaction: logger {logger.name!r} has no handlers yet, so no "
            "record is redacted; call it after configuring logging",
            RuntimeWarning,
            stacklevel=2,
        )
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(flt)
    return flt
