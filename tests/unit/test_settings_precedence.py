"""Where a setting comes from, as docs/service.md says: an option (an override of
``load_settings``) wins over the environment, which wins over ``.env``."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealbox.service.serve import load_settings


def test_the_environment_wins_over_dotenv_and_an_option_over_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SEALBOX_PORT=1111\nSEALBOX_ISSUER=from-dotenv\n")
    monkeypatch.setenv("SEALBOX_PORT", "2222")
    monkeypatch.delenv("SEALBOX_ISSUER", raising=False)
    settings = load_settings()
    assert (settings.port, settings.issuer) == (2222, "from-dotenv")
    assert load_settings(port=3333).port == 3333


def test_a_bad_value_in_dotenv_names_the_setting_never_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealbox.exceptions import ConfigError

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SEALBOX_REDIS_URL=redis://:canary-env-pw-41@h/0?foo=1\n")
    monkeypatch.delenv("SEALBOX_REDIS_URL", raising=False)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.facts["settings"] == "SEALBOX_REDIS_URL"
    assert "canary-env-pw-41" not in str(caught.value)
