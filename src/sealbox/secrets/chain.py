"""A chain of secret sources with an explicit precedence.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Final, TypeVar, overload

from sealbox.exceptions import SecretSourceError
from sealbox.secret import Secret, register_secret
from sealbox.secrets.base import NAME_PATTERN, SecretSource, as_configuration, check_name

__all__ = ["SecretsChain"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
T = TypeVar("T")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SecretsChain:
    """Look secrets up in several sources; the first source that has a name wins.

    Example::

        chain = SecretsChain(
            EnvSource(),                                 # highest precedence
            SealedFileSource("secrets.env", identities),
            DotenvSource(".env", required=False),        # lowest
        )
        db_password = chain.get("DB_PASSWORD")           # a Secret
        port = chain.get_int("PORT", default=5432)
        chain.require(["DB_PASSWORD", "API_TOKEN"])      # every missing name at once

    Every value handed out as a :class:`~sealbox.secret.Secret` is also registered
    with the log redaction filter (:func:`sealbox.secret.register_secret`), so it is
    removed from log records that pass a :class:`~sealbox.secret.RedactingFilter`
    (sealbox's own sources register what they return, too, when used without a chain).
    Values read through the typed getters (``get_int``, ``get_bool``) are treated
    as configuration, not secrets, and are not registered, nor is a value looked up
    only to tell where it comes from (``source_of``).
    """

    def __init__(self, *sources: SecretSource) -> None:
        if not sources:
            raise ValueError("a SecretsChain needs at least one source")
        for s in sources:
            if not isinstance(s, SecretSource):
                raise TypeError(f"{type(s).__name__} is not a SecretSource")
        self.sources: tuple[SecretSource, ...] = sources

    def __repr__(self) -> str:
        return f"SecretsChain({', '.join(s.label for s in self.sources)})"

    def _find(self, name: str) -> tuple[Secret[str], SecretSource] | None:
        if not isinstance(name, str):
            raise TypeError(f"a secret name is a str, not {type(name).__name__}")
        check_name(name)
        for source in self.sources:
            value = source.lookup(name)
            if value is not None:
                return value, source
        return None

    def _missing(self, names: list[str]) -> SecretSourceError:
        where = ", ".join(s.label for s in self.sources)
        what = "secret" if len(names) == 1 else "secrets"
        return SecretSourceError(f"missing {what} {', '.join(names)} (looked in: {where})")

    @overload
    def get(self, name: str) -> Secret[str]: ...
    @overload
    def get(self, name: str, default: T) -> Secret[str] | T: ...

    def get(self, name: str, default: object = MISSING) -> object:
        """Return the value of ``name`` from the first source that has it.

        Raises:
            SecretSourceError: no source has it and no default was given.
        """
        found = self._find(name)
        if found is None:
            if default is MISSING:
                raise self._missing([name])
            return default
        register_secret(found[0])
        return found[0]

    def get_bytes(self, name: str) -> Secret[bytes]:
        """Return a base64-encoded value (standard or URL-safe alphabet) as bytes.

        Raises:
            SecretSourceError: missing, or not base64.
        """
        raw = _base64(self.get(name).expose_secret())
        if raw is None:
            # Raised here, where no local holds the text: error reporters show a frame's
            # locals (Sentry by default), and this text is a key that failed to decode.
            raise self._bad(name, "is not base64")
        secret = Secret(raw)
        register_secret(secret)
        return secret

    def _bad(self, name: str, problem: str) -> SecretSourceError:
        with as_configuration():
            found = self._find(name)
        where = found[1].label if found else "?"
        return SecretSourceError(f"{name} from {where} {problem}")

    @overload
    def get_text(self, name: str) -> str: ...
    @overload
    def get_text(self, name: str, default: T) -> str | T: ...

    def get_text(self, name: str, default: object = MISSING) -> object:
        """Return a configuration value as text, stripped, without registering it for
        redaction (as :meth:`get_int` and :meth:`get_bool` read it): a port, a flag or a
        log level, masked, would hide every number or word like it in the logs. Secrets
        are read with :meth:`get`.

        Raises:
            SecretSourceError: missing without a default.
        """
        with as_configuration():
            found = self._find(name)
        if found is None:
            if default is MISSING:
                raise self._missing([name])
            return default
        return found[0].expose_secret().strip()

    @overload
    def get_int(self, name: str) -> int: ...
    @overload
    def get_int(self, name: str, default: T) -> int | T: ...

    def get_int(self, name: str, default: object = MISSING) -> object:
        """Return a value parsed as a base-10 integer (configuration, not a secret).

        Raises:
            SecretSourceError: missing without a default, or not an integer (the
                message never contains the value).
        """
        text = self.get_text(name) if default is MISSING else self.get_text(name, None)
        if text is None:
            return default
        try:
            return int(text, 10)
        except ValueError:
            raise self._bad(name, "is not an integer") from None

    @overload
    def get_bool(self, name: str) -> bool: ...
    @overload
    def get_bool(self, name: str, default: T) -> bool | T: ...

    def get_bool(self, name: str, default: object = MISSING) -> object:
        """Return a value parsed as a boolean: 1/true/yes/on or 0/false/no/off, any case.

        Raises:
            SecretSourceError: missing without a default, or not one of those words.
        """
        text = self.get_text(name) if default is MISSING else self.get_text(name, None)
        if text is None:
            return default
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise self._bad(name, "is not a boolean (1/true/yes/on or 0/false/no/off)")

    def require(self, names: Iterable[str]) -> dict[str, Secret[str]]:
        """Return every named secret, or report **every** missing name at once.

        Raises:
            SecretSourceError: one or more names are missing (the message lists them
                all, and no values).
        """
        if isinstance(names, str | bytes):
            # A str is an iterable of one-letter names: "DB" would ask for D and B.
            raise TypeError("require() takes a list of names, not one str")
        wanted = list(dict.fromkeys(names))
        found: dict[str, Secret[str]] = {}
        missing: list[str] = []
        for name in wanted:
            hit = self._find(name)
            if hit is None:
                missing.append(name)
            else:
                found[name] = hit[0]
        if missing:
            raise self._missing(missing)
        for value in found.values():
            register_secret(value)
        return found

    def source_of(self, name: str) -> str | None:
        """The label of the source that provides ``name``, or ``None``."""
        with as_configuration():
            found = self._find(name)
        return None if found is None else found[1].label

    def names(self) -> list[str]:
        """Every name any source holds that :meth:`get` can ask for, sorted.

        A source may hold names no lookup accepts (an environment variable ``a-b``,
        a Vault key ``db.password``): they are left out.
        """
        found = {n for s in self.sources for n in s.names()}
        return sorted(n for n in found if NAME_PATTERN.fullmatch(n))


def _base64(value: str) -> bytes | None:
    """``value`` decoded from base64 (standard or URL-safe, padded or not); ``None`` if it
    is not base64."""
    text = value.strip().rstrip("=")
    standard = text.replace("-", "+").replace("_", "/")
    if len(standard) % 4 == 1:
        return None
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
