"""What every secret source provides: the :class:`SecretSource` protocol.

A source answers one question — "what is the value of NAME?" — with a
:class:`~sealbox.secret.Secret` or ``None``, and can list the names it holds.
Sources never put a value into an exception message, a ``repr`` or a log line;
their errors name the source (``label``) and the secret's name only.

sealbox's sources register every value they return with the log redaction filter
(:func:`handed_out`), as :class:`~sealbox.secrets.SecretsChain` does, so a value looked
up straight from a source is masked in log lines too — except while a chain reads a
value as configuration (``get_int``, ``get_bool``: :func:`as_configuration`), so that a
port number or ``true`` is not masked wherever it appears.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from sealbox.exceptions import SecretSourceError
from sealbox.secret import Secret, register_secret

__all__ = [
    "NAME_PATTERN",
    "SecretSource",
    "as_configuration",
    "check_name",
    "handed_out",
    "utf8_text",
    "without_locals",
]

# False while a chain reads values as configuration (see as_configuration).
_register: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sealbox_secrets_register", default=True
)

# The names every source accepts: what a POSIX shell accepts as a variable name.
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@runtime_checkable
class SecretSource(Protocol):
    """A place secrets come from (environment, a file, Vault…)."""

    @property
    def label(self) -> str:
        """Where the values come from, for messages (``"environment"``, ``".env file x"``)."""
        ...

    def lookup(self, name: str) -> Secret[str] | None:
        """Return the value of ``name``, or ``None`` if this source does not have it.

        Raises:
            SecretSourceError: the source exists but could not be read.
        """
        ...

    def names(self) -> list[str]:
        """Every name this source holds, sorted."""
        ...


def check_name(name: str, where: str = "", *, show: bool = True) -> str:
    """Return ``name`` if it is a valid secret name, else raise a :class:`SecretSourceError`.

    ``show=False`` leaves the name out of the message: where the name was read from a
    file, not typed, a "name" may be a value that lost its ``NAME=`` (a wrapped line).
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        shown = name if show and isinstance(name, str) and len(name) <= 64 else "<name>"
        raise SecretSourceError(
            f"{where}{'' if not where else ': '}invalid secret name {shown!r} "
            "(letters, digits and _, not starting with a digit)"
        )
    return name


def utf8_text(path: object, raw: bytes) -> str:
    """``raw`` decoded as UTF-8, else a :class:`SecretSourceError` naming the file and the
    line that is not (never its text: the line may hold a value)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Lines end as python-dotenv's text mode ends them: \n, \r\n or \r.
        before = raw[: exc.start].splitlines(keepends=True)
        line = len(before) + (not before or before[-1].endswith((b"\n", b"\r")))
        raise SecretSourceError(f"{path}:{line}: not UTF-8 text") from None


def without_locals(exc: SecretSourceError) -> SecretSourceError:
    """``exc`` cut from the frames it was raised through and from the error it was raised
    while handling, to be raised again from a frame that holds no value.

    Error reporters show the locals of every frame of a traceback (Sentry by default, rich
    and structlog when asked, ``traceback``'s ``capture_locals``), and a hidden
    ``__context__`` is still reachable: a ``UnicodeDecodeError`` keeps every byte it was
    decoding, a ``JSONDecodeError`` its whole text.
    """
    exc.__context__ = None
    exc.__cause__ = None
    return exc.with_traceback(None)


def handed_out(value: str | Secret[str]) -> Secret[str]:
    """``value`` as the :class:`~sealbox.secret.Secret` a source returns, registered with
    the log redaction filter (:func:`sealbox.secret.register_secret`) unless read
    :func:`as_configuration`."""
    secret = value if isinstance(value, Secret) else Secret(value)
    if _register.get():
        register_secret(secret)
    return secret


@contextlib.contextmanager
def as_configuration() -> Iterator[None]:
    """While in this block, sources do not register the values they return: the caller
    reads them as configuration (a number, a flag), not as secrets."""
    token = _register.set(False)
    try:
        yield
    finally:
        _register.reset(token)
