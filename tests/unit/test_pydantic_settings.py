from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from sealbox.integrations.pydantic_settings import SealboxSettings, SealboxSettingsSource
from sealbox.secret import Secret
from sealbox.secrets import EnvSource, SecretsChain

CANARY = "canary-settings-9b41"

CHAIN = SecretsChain(
    EnvSource(
        environ={
            "APP_DATABASE_URL": f"postgresql://u:{CANARY}@db/app",
            "APP_API_TOKEN": CANARY,
            "APP_PORT": "8080",
            "APP_BAD_PORT": f"{CANARY}-not-a-number",
        }
    )
)


class Settings(SealboxSettings):
    model_config = SettingsConfigDict(env_prefix="APP_", hide_input_in_errors=True)

    database_url: SecretStr
    api_token: Secret[str]
    port: int = 8000
    missing: str = "default"
    sealbox_chain = CHAIN


def test_values_come_from_the_chain() -> None:
    s = Settings()
    assert s.database_url.get_secret_value().endswith("@db/app")
    assert s.api_token.expose_secret() == CANARY
    assert s.port == 8080 and s.missing == "default"
    for text in (repr(s), str(s), str(s.model_dump()), s.model_dump_json()):
        assert CANARY not in text


def test_init_arguments_win() -> None:
    assert Settings(port=1).port == 1


class Broken(SealboxSettings):
    model_config = SettingsConfigDict(env_prefix="APP_BAD_")
    port: int
    sealbox_chain = CHAIN


def test_validation_errors_hide_the_input() -> None:
    with pytest.raises(ValidationError) as info:
        Broken()
    assert "port" in str(info.value)
    assert CANARY not in str(info.value)
    assert CANARY not in repr(info.value.errors())


def test_case_insensitive_lookup() -> None:
    class Lower(SealboxSettings):
        model_config = SettingsConfigDict(env_prefix="app_", case_sensitive=False)
        port: int
        sealbox_chain = CHAIN

    assert Lower().port == 8080


def test_source_in_a_plain_base_settings() -> None:
    from pydantic_settings import BaseSettings

    class Plain(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="APP_")
        port: int

        @classmethod
        def settings_customise_sources(
            cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
        ):
            return (SealboxSettingsSource(settings_cls, CHAIN),)

    assert Plain().port == 8080
    assert (
        repr(SealboxSettingsSource(Plain, CHAIN))
        == "SealboxSettingsSource(SecretsChain(environment))"
    )


def test_without_a_chain_it_is_plain_base_settings(monkeypatch) -> None:
    class Env(SealboxSettings):
        model_config = SettingsConfigDict(env_prefix="SBX_T_")
        port: int = 1

    monkeypatch.setenv("SBX_T_PORT", "9")
    assert Env().port == 9
