from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from sealbox.exceptions import ConfigError
from sealbox.integrations.pydantic_settings import SealboxSettings, SealboxSettingsSource
from sealbox.secret import REDACTED, Secret, redact
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
        model_config = SettingsConfigDict(env_prefix="APP_", hide_input_in_errors=True)
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


DASHED = SecretsChain(
    EnvSource(environ={"db-url": f"postgresql://u:{CANARY}@db/x", "DB_URL": "from-db-url"})
)


def test_an_alias_the_chain_cannot_hold_is_not_looked_up_and_the_others_are() -> None:
    # The whole class failed with "invalid secret name 'db-url'", naming no setting.
    class Settings(SealboxSettings):
        sealbox_chain = DASHED
        either: str = Field(validation_alias=AliasChoices("db-url", "DB_URL"))
        dashed: str = Field("default", validation_alias="db-url")

    s = Settings()
    assert s.either == "from-db-url" and s.dashed == "default"
    assert Settings(**{"db-url": "given"}).dashed == "given"


def test_a_required_setting_the_chain_cannot_look_up_says_which_and_why() -> None:
    class Settings(SealboxSettings):
        sealbox_chain = DASHED
        database_url: SecretStr = Field(validation_alias="db-url")

    with pytest.raises(ValidationError) as info:
        Settings()
    text = str(info.value)
    assert "database_url" in text and "'db-url'" in text and "letters, digits and _" in text
    assert CANARY not in text


def test_env_nested_delimiter_is_refused_when_the_class_is_made() -> None:
    # DB__PASSWORD did not fill db.password, and nothing said so.
    with pytest.raises(ConfigError, match="env_nested_delimiter") as info:

        class Settings(SealboxSettings):
            model_config = SettingsConfigDict(env_nested_delimiter="__")
            sealbox_chain = CHAIN
            port: int = 1

    assert info.value.code == "settings_not_read"
    assert info.value.facts == {"setting": "env_nested_delimiter"}


def test_a_chain_set_after_the_class_was_made_is_checked_when_settings_are_read() -> None:
    class Settings(SealboxSettings):
        model_config = SettingsConfigDict(env_file=".env")
        port: int = 1

    Settings.sealbox_chain = CHAIN
    with pytest.raises(ConfigError, match="env_file"):
        Settings()


@pytest.mark.parametrize(
    "argument", ["_env_file", "_env_prefix", "_secrets_dir", "_case_sensitive"]
)
def test_source_arguments_the_chain_replaces_are_refused(argument: str, tmp_path) -> None:
    # Settings(_env_file=...) read nothing from the file, silently.
    (tmp_path / ".env").write_text("APP_PORT=1\n")
    value = {"_env_file": tmp_path / ".env", "_env_prefix": "X_", "_case_sensitive": True}
    with pytest.raises(ConfigError, match=argument) as info:
        Settings(**{argument: value.get(argument, tmp_path)})
    assert info.value.facts == {"setting": argument}


def test_every_string_inside_a_json_value_is_registered_for_redaction() -> None:
    # The JSON text was registered whole: one of its secrets logged alone was not masked.
    inner, other = "inner-canary-4c1d", 'quoted-"canary"-77'
    chain = SecretsChain(
        EnvSource(
            environ={
                "KEYS": json.dumps({"primary": inner, "port": 8443, "on": True, "x": "ab"}),
                "TOKENS": json.dumps([other, 1234]),
            }
        )
    )

    class Settings(SealboxSettings):
        model_config = SettingsConfigDict(case_sensitive=True)
        sealbox_chain = chain
        KEYS: dict[str, Any]
        TOKENS: list[Secret[str] | int]

    s = Settings()
    assert s.KEYS["primary"] == inner
    assert redact(f"key {inner} token {other}") == f"key {REDACTED} token {REDACTED}"
    # Numbers, flags, the keys of a dict and text too short to mask stay readable.
    line = "port 8443 on True 1234 primary x ab"
    assert redact(line) == line
