"""``create_app()`` without settings reads ``SEALBOX_*`` as ``sealbox serve`` does: a bad
value is the coded ``invalid_settings`` error naming the variable, never pydantic's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealbox.exceptions import ConfigError
from sealbox.service.app import app_from_env, create_app


@pytest.mark.parametrize("make", [create_app, app_from_env], ids=["create_app", "app_from_env"])
def test_an_app_built_from_a_bad_environment_raises_the_coded_settings_error(
    make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("SEALBOX_PORT", "not-a-port")
    with pytest.raises(ConfigError) as caught:
        make()
    assert caught.value.code == "invalid_settings"
    assert caught.value.facts["settings"] == "SEALBOX_PORT"
    assert "not-a-port" not in str(caught.value)
