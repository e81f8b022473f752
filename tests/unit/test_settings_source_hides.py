"""SealboxSettingsSource is refused by a model whose ValidationError would print the value
that failed: that value is a secret the chain decrypted."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from sealbox.exceptions import ConfigError
from sealbox.integrations.pydantic_settings import SealboxSettingsSource
from sealbox.secrets import EnvSource, SecretsChain

CANARY = "canary-5b1f0c2e9d"
CHAIN = SecretsChain(EnvSource(environ={"LIMIT": f"not-a-number-{CANARY}"}))


def _model(**config: Any) -> type[BaseSettings]:
    class Model(BaseSettings):
        model_config = SettingsConfigDict(**config)
        limit: int

        @classmethod
        def settings_customise_sources(cls, settings_cls, **_sources):  # type: ignore[no-untyped-def]
            return (SealboxSettingsSource(settings_cls, CHAIN),)

    return Model


def test_a_model_that_would_print_failing_values_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        _model()()
    assert caught.value.code == "input_shown_in_errors"
    assert caught.value.facts == {"model": "Model"}
    assert CANARY not in str(caught.value)
    assert "hide_input_in_errors=True" in (caught.value.hint or "")


def test_hide_input_in_errors_false_is_refused_too() -> None:
    with pytest.raises(ConfigError, match="would print a secret"):
        _model(hide_input_in_errors=False)()


def test_a_model_hiding_input_keeps_a_failing_value_out_of_its_error() -> None:
    with pytest.raises(ValidationError) as caught:
        _model(hide_input_in_errors=True)()
    assert "limit" in str(caught.value)
    assert CANARY not in str(caught.value)
