"""A setting whose value the service could not start with is an invalid setting named by
``load_settings`` (code ``invalid_settings``), before anything is made: not a traceback
of the server's start-up after ``sealbox serve --check`` said the folder is ready."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealbox.exceptions import ConfigError
from sealbox.service.serve import load_settings


def test_an_unknown_password_profile_is_an_invalid_setting_naming_the_known_ones(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(data_dir=tmp_path / "data", password_profile="bogus")
    exc = caught.value
    assert exc.code == "invalid_settings"
    assert exc.facts["settings"] == "SEALBOX_PASSWORD_PROFILE"
    assert "rfc9106-low-memory" in str(exc)
    assert not (tmp_path / "data").exists()


def test_a_known_password_profile_is_accepted(tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path, password_profile="test").password_profile == "test"


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_database_url_is_an_invalid_setting_not_an_unreadable_url(
    tmp_path: Path, value: str
) -> None:
    # An unset shell variable in `SEALBOX_DATABASE_URL=$DB_URL` was "the database URL (not
    # shown: it may hold a password) is not one sealbox can open (ArgumentError)".
    with pytest.raises(ConfigError) as caught:
        load_settings(data_dir=tmp_path / "data", database_url=value)
    exc = caught.value
    assert exc.code == "invalid_settings"
    assert exc.facts["settings"] == "SEALBOX_DATABASE_URL"
    assert str(exc) == (
        "invalid settings: SEALBOX_DATABASE_URL: "
        "empty: leave it unset for the data folder's SQLite database"
    )
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("name", ["host", "issuer", "audience"])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_host_issuer_or_audience_is_an_invalid_setting(
    tmp_path: Path, name: str, value: str
) -> None:
    # An unset shell variable in `SEALBOX_HOST=$ADDRESS` listened on every interface (an
    # empty host is INADDR_ANY); an empty issuer signed tokens with `"iss": ""`.
    with pytest.raises(ConfigError) as caught:
        load_settings(data_dir=tmp_path / "data", **{name: value})
    exc = caught.value
    assert exc.code == "invalid_settings"
    setting = f"SEALBOX_{name.upper()}"
    assert exc.facts["settings"] == setting
    assert str(exc) == (
        f"invalid settings: {setting}: empty: give a value, or leave it unset for the default"
    )
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("name", ["data_dir", "cert", "key", "client_ca", "audit_log"])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_path_setting_is_an_invalid_setting_not_the_working_directory(
    tmp_path: Path, name: str, value: str
) -> None:
    # An unset shell variable in `SEALBOX_DATA_DIR=$DATA` was the path "", which is the
    # working directory: a first start wrote master.key and the database there.
    overrides = {name: value} if name == "data_dir" else {"data_dir": tmp_path / "d", name: value}
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    exc = caught.value
    assert exc.code == "invalid_settings"
    setting = f"SEALBOX_{name.upper()}"
    assert exc.facts["settings"] == setting
    assert str(exc) == (
        f"invalid settings: {setting}: empty: give a path, or leave it unset for the default"
    )


def test_a_refresh_token_lifetime_past_what_a_date_holds_is_an_invalid_setting(
    tmp_path: Path,
) -> None:
    # 10**14 seconds was taken, and every sign-in then failed (500): the refresh token's
    # expiry, now + ttl, is past the year 9999 and cannot be computed.
    with pytest.raises(ConfigError) as caught:
        load_settings(data_dir=tmp_path / "data", refresh_token_ttl=10**14)
    assert caught.value.code == "invalid_settings"
    assert caught.value.facts["settings"] == "SEALBOX_REFRESH_TOKEN_TTL"
    ten_years = 3650 * 24 * 3600
    assert load_settings(data_dir=tmp_path, refresh_token_ttl=ten_years).refresh_token_ttl == (
        ten_years
    )
    assert not (tmp_path / "data").exists()


def test_the_worker_health_check_timeout_is_a_setting_from_two_seconds_to_an_hour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings().worker_healthcheck_timeout == 30
    monkeypatch.setenv("SEALBOX_WORKER_HEALTHCHECK_TIMEOUT", "7.5")
    assert load_settings().worker_healthcheck_timeout == 7.5
    for bad in ("1", "3601", "soon"):
        monkeypatch.setenv("SEALBOX_WORKER_HEALTHCHECK_TIMEOUT", bad)
        with pytest.raises(ConfigError) as caught:
            load_settings()
        assert caught.value.facts["settings"] == "SEALBOX_WORKER_HEALTHCHECK_TIMEOUT"


def test_the_shutdown_timeout_is_a_setting_that_reaches_uvicorn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealbox.service.serve import uvicorn_options

    monkeypatch.chdir(tmp_path)
    assert uvicorn_options(load_settings())["timeout_graceful_shutdown"] == 10
    monkeypatch.setenv("SEALBOX_SHUTDOWN_TIMEOUT", "0.5")
    assert uvicorn_options(load_settings())["timeout_graceful_shutdown"] == 0.5
    for bad in ("-1", "3601", "soon"):
        monkeypatch.setenv("SEALBOX_SHUTDOWN_TIMEOUT", bad)
        with pytest.raises(ConfigError) as caught:
            load_settings()
        assert caught.value.facts["settings"] == "SEALBOX_SHUTDOWN_TIMEOUT"
