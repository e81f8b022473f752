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

Each field is looked up under its alias, or its name with the model's
``env_prefix``; lookups are case-sensitive unless the model sets
``case_sensitive=False``, in which case the upper-case name is tried too.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Any, ClassVar

from sealbox.exceptions import ExtraNotInstalledError
from sealbox.secrets.chain import SecretsChain

try:
    from pydantic import ValidationError
    from pydantic.fields import FieldInfo
    from pydantic_core import PydanticCustomError
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
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

    def _candidates(self, field: FieldInfo, field_name: str) -> list[str]:
        config = self.settings_cls.model_config
        prefix = str(config.get("env_prefix") or "")
        base = field.validation_alias if isinstance(field.validation_alias, str) else None
        names = [base or field.alias or f"{prefix}{field_name}"]
        if not config.get("case_sensitive", False):
            names.append(names[0].upper())
        return list(dict.fromkeys(names))

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        for name in self._candidates(field, field_name):
            value = self.chain.get(name, None)
            if value is not None:
                return value.expose_secret(), field_name, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, field_name)
            if value is not None:
                values[key] = value
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


def _redacted(exc: ValidationError) -> ValidationError:
    """The same errors, with every input value replaced by ``**********``."""
    from sealbox.secret import REDACTED

    return ValidationError.from_exception_data(
        exc.title,
        [
            {
                "type": PydanticCustomError(err["type"], err["msg"]),
                "loc": err["loc"],
                "input": REDACTED,
            }
            for err in exc.errors(include_url=False, include_context=False, include_input=False)
        ],
        hide_input=True,
    )
