"""A pydantic-settings source that reads from a :class:`~sealbox.secrets.SecretsChain`.

Example::

    from pydantic import SecretStr
    from sealbox.integrations.pydantic_settings import SealboxSettings, SealboxSettingsSource
    from sealbox.secrets import EnvSource, SecretsChain

    CHAIN = SecretsChain(EnvSource(), SealedFileSource("secrets.env", identities))

    class Settings(SealboxSettings):
        sealbox_chain = CHAIN
        database_url: SecretStr
        port: int = 8000

:class:`SealboxSettings` is ``BaseSettings`` with ``hide_input_in_errors=True``
(a value that fails validation is not printed in the ``ValidationError``) whose
sources are the keyword arguments, then the chain. Any other ``BaseSettings``
can use :class:`SealboxSettingsSource` in its own ``settings_customise_sources``, if it
sets ``hide_input_in_errors=True`` too (else the source refuses it: a
:class:`~sealbox.exceptions.ConfigError`, code ``input_shown_in_errors``). A
field typed :class:`sealbox.Secret` (or pydantic's ``SecretStr``) keeps the value
out of ``repr`` and ``model_dump``.

Each field is looked up as pydantic-settings' environment source looks it up: under
its alias (each of an ``AliasChoices``, the first name of an ``AliasPath``), or its name
with the model's ``env_prefix`` when it has no alias or the model validates by name;
lookups are case-sensitive unless the model sets ``case_sensitive=False``, in which case
the upper-case name is tried too. A name no :class:`SecretsChain` can hold (``db-url``:
not letters, digits and ``_``) is not looked up; a required field with no other name
says so in its "Field required" error. A value for a list, dict or model field (or an
``AliasPath``) is decoded from JSON. Values of fields typed as numbers, flags or choices
(``int``, ``float``, ``Decimal``, ``bool``, an ``Enum``, a ``Literal``) are read as
configuration, as ``SecretsChain.get_int`` reads them: they are not registered for log
redaction; every other value is, as ``SecretsChain.get`` registers it, and so is each
string inside a JSON value (a key of a list of keys, logged alone, is masked too).

With a chain, :class:`SealboxSettings` reads nothing but keyword arguments and the
chain, so the settings of pydantic-settings' own sources would be ignored: it refuses
``env_nested_delimiter``, ``env_file`` and ``secrets_dir`` in ``model_config`` (when
the class is made) and the ``_env_*``, ``_secrets_dir`` and ``_case_sensitive``
arguments (when it is called) with a :class:`~sealbox.exceptions.ConfigError`, code
``settings_not_read``. Put a :class:`~sealbox.secrets.DotenvSource` in the chain to read
a ``.env`` file; give a nested model's values as JSON (``DB='{"password": "…"}'``).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import types
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from sealbox.exceptions import ConfigError, ExtraNotInstalledError
from sealbox.secret import register_secret
from sealbox.secrets.base import NAME_PATTERN
from sealbox.secrets.chain import SecretsChain

try:
    from pydantic import AliasChoices, AliasPath, ValidationError
    from pydantic.fields import FieldInfo
    from pydantic_core import InitErrorDetails, PydanticCustomError
    from pydantic_settings import (
        BaseSettings,
        PydanticBaseSettingsSource,
        SettingsConfigDict,
        SettingsError,
    )
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ExtraNotInstalledError("settings", "pydantic-settings") from None

__all__ = ["SealboxSettings", "SealboxSettingsSource"]


class SealboxSettingsSource(PydanticBaseSettingsSource):
    """Feed a ``BaseSettings`` model from a :class:`SecretsChain`.

    Args:
        settings_cls: the settings model.
        chain: where the values come from.
    """

    def __init__(self, settings_cls: type[BaseSettings], chain: SecretsChain) -> None:
        if not settings_cls.model_config.get("hide_input_in_errors"):
            # pydantic's ValidationError prints the value that failed, here a secret
            # the chain decrypted: refused before any value is read, not found in a log.
            raise ConfigError(
                f"{settings_cls.__name__} would print a secret that fails validation in "
                "its ValidationError",
                hint="set hide_input_in_errors=True in the model's model_config, or base "
                "it on SealboxSettings",
                code="input_shown_in_errors",
                facts={"model": settings_cls.__name__},
            )
        super().__init__(settings_cls)
        self.chain = chain

    def _lookups(self, field: FieldInfo, field_name: str) -> list[tuple[str, str, bool]]:
        """``(key the model takes, name to look up, whether the value is JSON)`` in turn."""
        config = self.settings_cls.model_config
        alias = field.validation_alias
        paths: list[list[Any]] = []
        if config.get("validate_by_alias") is False:
            pass  # pydantic ignores the aliases
        elif isinstance(alias, AliasChoices):
            paths = [p if isinstance(p, list) else [p] for p in alias.convert_to_aliases()]
        elif isinstance(alias, AliasPath):
            paths = [alias.convert_to_aliases()]
        elif isinstance(alias, str):
            paths = [[alias]]
        found = [(str(path[0]), str(path[0]), len(path) > 1) for path in paths]
        if not paths or config.get("validate_by_name") or config.get("populate_by_name"):
            prefix = str(config.get("env_prefix") or "")
            found.append((field_name, f"{prefix}{field_name}", False))
        return found

    def _read(self, name: str, configuration: bool) -> str | None:
        names = [name]
        if not self.settings_cls.model_config.get("case_sensitive", False):
            names.append(name.upper())
        for candidate in dict.fromkeys(names):
            if configuration:
                # As get_int and get_bool read: not registered for redaction.
                text = self.chain.get_text(candidate, None)
                if text is not None:
                    return text
                continue
            value = self.chain.get(candidate, None)
            if value is not None:
                return value.expose_secret()
        return None

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        for key, name, value_is_complex in self._lookups(field, field_name):
            if not NAME_PATTERN.fullmatch(name):
                # No source of a chain can be asked for it (SecretsChain.names() leaves
                # such names out too): the other names are looked up, not the whole class
                # refused. SealboxSettings says so if the field then goes missing.
                continue
            configuration = _is_configuration(field.annotation) and not value_is_complex
            value = self._read(name, configuration)
            if value is not None:
                return value, key, value_is_complex
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, key, value_is_complex = self.get_field_value(field, field_name)
            if value is None:
                continue
            try:
                values[key] = self.prepare_field_value(field_name, field, value, value_is_complex)
            except ValueError:
                values[key] = _NOT_JSON
            if values[key] is _NOT_JSON:
                # Raised outside the handler, with this frame's values dropped: json's
                # error (even as a hidden __context__) keeps the whole text it failed on,
                # and error reporters that show a frame's locals (Sentry by default,
                # rich, capture_locals) would show the text and the values read so far.
                del value, values
                raise SettingsError(
                    f'error parsing value for field "{field_name}" from source '
                    f'"{type(self).__name__}" (not JSON)'
                )
            decoded = isinstance(values[key], dict | list)
            if decoded and (value_is_complex or not _is_configuration(field.annotation)):
                # The JSON text was registered whole; one of its secrets logged alone
                # (a key of a key list) would not match it.
                _register_strings(values[key], 0)
        return values

    def _unreadable(self) -> dict[str, str]:
        """The fields with no name this source can look up: ``{key: field name}``."""
        found: dict[str, str] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            lookups = self._lookups(field, field_name)
            if lookups and not any(NAME_PATTERN.fullmatch(name) for _, name, _ in lookups):
                found.update((key, field_name) for key, _, _ in lookups)
        return found

    def __repr__(self) -> str:
        return f"SealboxSettingsSource({self.chain!r})"


class SealboxSettings(BaseSettings):
    """``BaseSettings`` that reads from ``sealbox_chain`` and hides input in errors.

    Set the class variable ``sealbox_chain`` to a :class:`SecretsChain`; the
    model then reads keyword arguments first, then the chain (and nothing else:
    put an :class:`~sealbox.secrets.EnvSource` in the chain to read the
    environment). Without a chain it behaves like ``BaseSettings``.
    """

    model_config = SettingsConfigDict(hide_input_in_errors=True)
    sealbox_chain: ClassVar[SecretsChain | None] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.sealbox_chain is not None:
            _check_config(cls)

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        if cls.sealbox_chain is not None:
            # The chain may have been set after the class was made.
            _check_config(cls)
            for name in values:
                if name.startswith(_NOT_READ_ARGUMENTS):
                    raise _not_read(name)
        error: ValidationError | None = None
        try:
            super().__init__(**values)
        except ValidationError as exc:
            error = exc
        if error is not None:
            # hide_input_in_errors hides the input from str(exc) only; errors() (which
            # web frameworks return to clients) would still carry it. Raised outside the
            # handler, so the original is not kept as the new error's __context__ either;
            # and without the keyword arguments, which error reporters showing a frame's
            # locals would show.
            del values
            unreadable = {}
            if cls.sealbox_chain is not None:
                unreadable = SealboxSettingsSource(cls, cls.sealbox_chain)._unreadable()
            error = _redacted(error, unreadable)
            raise error

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if cls.sealbox_chain is None:
            return (init_settings, env_settings, dotenv_settings, file_secret_settings)
        return (init_settings, SealboxSettingsSource(settings_cls, cls.sealbox_chain))


# Settings of the sources a chain replaces: with a chain they would be ignored.
_NOT_READ_CONFIG = ("env_nested_delimiter", "env_file", "secrets_dir")
_NOT_READ_ARGUMENTS = ("_env_", "_secrets_dir", "_case_sensitive")


def _not_read(setting: str) -> ConfigError:
    return ConfigError(
        f"{setting} is not read by a SealboxSettings with a sealbox_chain: the chain "
        "replaces the environment, .env and secrets-directory sources",
        code="settings_not_read",
        facts={"setting": setting},
        hint="put an EnvSource or a DotenvSource in the chain; give nested values as JSON",
    )


def _check_config(cls: type[BaseSettings]) -> None:
    for setting in _NOT_READ_CONFIG:
        if cls.model_config.get(setting) is not None:
            raise _not_read(setting)


def _register_strings(value: Any, depth: int) -> None:
    """Register each string inside a decoded JSON value (not the keys of its objects:
    they are names); the redactor skips those too short to mask."""
    if isinstance(value, str):
        register_secret(value)
    elif depth < _MAX_DEPTH and isinstance(value, dict):
        for item in value.values():
            _register_strings(item, depth + 1)
    elif depth < _MAX_DEPTH and isinstance(value, list | tuple):
        for item in value:
            _register_strings(item, depth + 1)


_MAX_DEPTH = 32
# Marks a field whose value is not JSON (None is a value JSON can hold).
_NOT_JSON: Any = object()


def _is_configuration(annotation: Any) -> bool:
    """Whether a field's type makes its value configuration: a number, a flag or a choice
    (optional or not), as opposed to text, which may be a secret."""
    origin = get_origin(annotation)
    if origin is Literal:
        return True
    if origin is Annotated:
        return _is_configuration(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(annotation) if a is not type(None)]
        return bool(args) and all(map(_is_configuration, args))
    return isinstance(annotation, type) and issubclass(annotation, int | float | Decimal | Enum)


def _redacted(exc: ValidationError, unreadable: dict[str, str]) -> ValidationError:
    """The same errors, with every input value replaced by ``**********``, and every value
    registered for redaction masked in the messages (a validator's ``ValueError`` may
    quote the value it refused); a missing field in ``unreadable`` says why."""
    from sealbox.secret import REDACTED, Redactor, Secret, redact

    errors: list[InitErrorDetails] = []
    for err in exc.errors(include_url=False, include_context=False):
        # The value refused is masked in the message too, registered or not: a validator
        # may quote a keyword argument, which nothing registered.
        refused = Redactor()
        if isinstance(err.get("input"), str | bytes | Secret):
            refused.add(err["input"])
        message = refused.redact(redact(err["msg"]))
        key = err["loc"][0] if err["loc"] else None
        if err["type"] == "missing" and isinstance(key, str) and key in unreadable:
            message += (
                f": setting {unreadable[key]!r} is looked up under {key!r}, a name no "
                "SecretsChain holds (letters, digits and _, not starting with a digit)"
            )
        errors.append(
            {
                "type": PydanticCustomError(err["type"], message),
                "loc": err["loc"],
                "input": REDACTED,
            }
        )
    return ValidationError.from_exception_data(exc.title, errors, hide_input=True)
