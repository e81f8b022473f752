"""sealbox.service's entry points: what `sealbox serve` and `sealbox users create` call.

Their errors carry codes and facts and name no command-line flag; the CLI turns the
codes into flag hints.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import sealbox.service as service
from sealbox.cli._hints import hint_for
from sealbox.exceptions import ConfigError, SealboxError
from tests.service.conftest import PASSWORD, make_settings


def test_every_entry_point_loads() -> None:
    assert service.__all__ == sorted(service.__all__)
    for name in service.__all__:
        assert getattr(service, name).__doc__, name
    with pytest.raises(AttributeError):
        _ = service.no_such_entry_point


@pytest.mark.parametrize(
    ("overrides", "code", "facts", "flag"),
    [
        (
            {"cert": "x.crt"},
            "cert_without_key",
            {"given": "certificate", "missing": "key"},
            "--key",
        ),
        (
            {"key": "x.key"},
            "cert_without_key",
            {"given": "key", "missing": "certificate"},
            "--cert",
        ),
        (
            {"cert": "x.crt", "key": "x.key", "mtls": True},
            "mtls_needs_client_ca",
            {},
            "--client-ca",
        ),
        ({"workers": 2}, "workers_need_redis", {"workers": "2"}, None),
        (
            {"workers": 2, "redis_url": "redis://127.0.0.1:6379/0"},
            "workers_need_database",
            {"workers": "2"},
            None,
        ),
    ],
)
def test_settings_that_cannot_work_together_are_refused_with_a_code(
    tmp_path: Path, overrides: dict[str, object], code: str, facts: dict[str, str], flag: str | None
) -> None:
    settings = make_settings(tmp_path / "d", **overrides)
    with pytest.raises(ConfigError) as info:
        service.prepare(settings)
    assert info.value.code == code
    assert info.value.facts == facts
    assert "--" not in str(info.value) and "--" not in (info.value.hint or "")
    if flag is not None:
        assert flag in (hint_for(info.value) or "")
    assert not (tmp_path / "d").exists()  # refused before anything is created


def test_invalid_settings_name_the_setting_never_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEALBOX_DATABASE_URL", "postgresql+asyncpg://u:canary-pass-31@db/x")
    with pytest.raises(ConfigError) as info:
        service.load_settings(data_dir=tmp_path, workers=0, port=None)
    assert info.value.code == "invalid_settings"
    assert info.value.facts == {"settings": "SEALBOX_WORKERS"}
    assert str(info.value).startswith("invalid settings: SEALBOX_WORKERS: ")
    assert "canary-pass-31" not in repr(info.value.__dict__) + str(info.value)


def test_the_address_and_the_trust_file_clients_are_told(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, port=8443)
    assert service.service_url(settings) == "https://localhost:8443"
    assert service.client_trust_file(settings) == tmp_path / "tls" / "ca.crt"
    given = make_settings(tmp_path, host="10.0.0.5", port=9000, cert="c.pem", key="k.pem")
    assert service.service_url(given) == "https://10.0.0.5:9000"
    assert service.client_trust_file(given) is None


def test_create_user_maps_the_name_then_asks_for_the_password(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "d")
    asked: list[str] = []

    def password(name: str) -> str:
        asked.append(name)
        return PASSWORD

    fullwidth = "\uff21\uff2c\uff29\uff23\uff25"  # ALICE in fullwidth letters
    name, granted = service.create_user(settings, fullwidth, password, ["transit:admin"])
    assert (name, granted, asked) == ("alice", ["transit:admin", "users:me"], ["alice"])
    with pytest.raises(ConfigError) as info:
        service.create_user(settings, "Alice", password)
    assert info.value.code == "username_taken"
    assert info.value.facts == {"username": "alice"}
    with pytest.raises(ConfigError) as info:
        service.create_user(settings, "bob", lambda _name: "short")
    assert info.value.code == "weak_password"
    with pytest.raises(SealboxError, match="U\\+200B"):
        service.create_user(settings, "bo\u200bb", password)


def test_a_folder_that_was_never_provisioned_says_so_with_a_code(tmp_path: Path) -> None:
    from sealbox.service.provision import DataDir

    with pytest.raises(ConfigError) as info:
        DataDir(tmp_path).master_key()
    assert info.value.code == "service_not_provisioned"
    assert "sealbox serve" not in (info.value.hint or "")
    assert hint_for(info.value) == "run 'sealbox serve' once to provision the data folder"
