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
can use :class:`SealboxSettingsSource` in its own ``settings_customise_sources``. A
field typed :class:`sealbox.Secret` (or pydantic's ``SecretStr``) keeps the value
out of ``repr`` and ``model_dump``.

Each field is looked up as pydantic-settings' environment source looks it up: under
its alias (each of an ``AliasChoices``, the first name of an ``AliasPath``), or its name
with the model's ``env_prefix`` when it has no alias or the model validates by name;
lookups are case-sensitive unless the model sets ``case_sensitive=False``, in which case
the upper-case name is tried too. A value for a list, dict or model field (or an
``AliasPath``) is decoded from JSON. Values of fields typed as numbers, flags or choices
(``int``, ``float``, ``Decimal``, ``bool``, an ``Enum``, a ``Literal``) are read as
configuration, as ``SecretsChain.get_int`` reads them: they are not registered for log
redaction; every other value is, as ``SecretsChain.get`` registers it.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import types
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from sealbox.exceptions import ExtraNotInstalledError
from sealbox.secrets.chain import SecretsChain

try:
    from pydantic import AliasChoices, AliasPath, ValidationError
    from pydantic.fields import FieldInfo
    from pydantic_core import PydanticCustomError
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
                # Not chained: json's error keeps the whole text it failed on.
                raise SettingsError(
                    f'error parsing value for field "{field_name}" from source '
                    f'"{type(self).__name__}" (not JSON)'
                ) from None
        return values

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

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            # hide_input_in_errors hides the input from str(exc) only; errors() (which
            # web frameworks return to clients) would still carry it.
            raise _redacted(exc) from None

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


def _redacted(exc: ValidationError) -> ValidationError:
    """The same errors, with every input value replaced by ``**********``, and every value
    registered for redaction masked in the messages (a validator's ``ValueError`` may
    quote the value it refused)."""
    from sealbox.secret import REDACTED, redact

    return ValidationError.from_exception_data(
        exc.title,
        [
            {
                "type": PydanticCustomError(err["type"], redact(err["msg"])),
                "loc": err["loc"],
                "input": REDACTED,
            }
            for err in exc.errors(include_url=False, include_context=False, include_input=False)
        ],
        hide_input=True,
    )
