"""Settings whose value the running service could not use are refused by
``load_settings`` (code ``invalid_settings``) with the bound, before anything is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealbox.exceptions import ConfigError
from sealbox.service.serve import load_settings


def _refused(tmp_path: Path, **overrides: object) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(data_dir=tmp_path / "data", **overrides)
    assert caught.value.code == "invalid_settings"
    assert not (tmp_path / "data").exists()
    return caught.value


@pytest.mark.parametrize("window", [86_401, 10**20])
def test_a_throttle_window_over_a_day_is_an_invalid_setting(tmp_path: Path, window: int) -> None:
    # 10**20 was taken, and with Redis every sign-in then failed (503): EXPIRE refuses a
    # time it cannot hold, so no attempt could be counted.
    exc = _refused(tmp_path, throttle_window=window)
    assert exc.facts["settings"] == "SEALBOX_THROTTLE_WINDOW"
    assert "86400" in str(exc)
    assert load_settings(data_dir=tmp_path, throttle_window=86_400).throttle_window == 86_400


@pytest.mark.parametrize("name", ["reload_interval", "transit_cache_ttl"])
@pytest.mark.parametrize("value", ["inf", "1e300", "86401"])
def test_a_reload_interval_or_transit_cache_ttl_over_a_day_is_an_invalid_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    # An endless reload interval never renewed the development certificate, which the
    # service says it renews; an endless cache lifetime took away the bound on how stale
    # a worker's copy of a transit key may be.
    monkeypatch.chdir(tmp_path)
    setting = f"SEALBOX_{name.upper()}"
    monkeypatch.setenv(setting, value)
    assert _refused(tmp_path).facts["settings"] == setting
    monkeypatch.setenv(setting, "86400")
    assert getattr(load_settings(), name) == 86_400


@pytest.mark.parametrize("value", ["", "Secret", "a b", "-x"])
def test_a_kv_mount_list_that_cannot_be_read_names_what_a_mount_is_not_a_pattern(
    tmp_path: Path, value: str
) -> None:
    exc = _refused(tmp_path, vault_kv_mounts=value)
    assert str(exc) == (
        "invalid settings: SEALBOX_VAULT_KV_MOUNTS: not comma-separated mount names "
        "(each 1 to 64 lower-case letters, digits, _ and -, not starting with _ or -)"
    )


def test_kv_mounts_may_be_spaced_around_their_commas(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, vault_kv_mounts=" secret , kv-2 ,app_1 ")
    assert settings.kv_mounts() == ("secret", "kv-2", "app_1")


@pytest.mark.parametrize("name", ["redis_prefix", "first_party_client_id"])
def test_a_blank_redis_prefix_or_first_party_client_id_is_an_invalid_setting(
    tmp_path: Path, name: str
) -> None:
    # As an empty one is: a quoted unset variable (SEALBOX_REDIS_PREFIX=" $P") is not a
    # deployment's own prefix, nor a client_id a resource server can match.
    exc = _refused(tmp_path, **{name: "  "})
    assert exc.facts["settings"] == f"SEALBOX_{name.upper()}"
