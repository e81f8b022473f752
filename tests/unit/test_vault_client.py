"""The Vault client shared by the KV source and the Transit provider: plain http only to a
loopback development server (with one warning), and hvac's environment variables.

Real hvac calls against tests/fakes/vault.py, over plain HTTP and over HTTPS.
"""

from __future__ import annotations

import logging
import socket

import pytest

from sealbox.exceptions import ConfigError, SecretSourceError
from sealbox.keysets.envelope import VaultTransitProvider
from sealbox.secrets import VaultKV2Source
from sealbox.secrets.vault_client import is_loopback_http
from tests.fakes.vault import fake_vault, fake_vault_http

pytest.importorskip("hvac")

TOKEN = "hvs.client-canary-token-0b7e"
VALUE = "canary-client-value-4d21"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path) -> None:
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "sealbox.vault"]


def test_plain_http_to_127_0_0_1_reads_secrets_with_one_warning(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="sealbox.vault")
    with fake_vault_http(TOKEN) as srv:
        srv.vault.put("app/dev", {"DB_PASSWORD": VALUE})
        assert srv.url.startswith("http://127.0.0.1:")
        first = VaultKV2Source(srv.url, "app/dev", token=TOKEN)
        second = VaultKV2Source(srv.url, "app/dev", token=TOKEN)
        assert first.lookup("DB_PASSWORD").expose_secret() == VALUE
        assert second.lookup("DB_PASSWORD").expose_secret() == VALUE
    warned = _warnings(caplog)
    assert len(warned) == 1
    assert srv.url in warned[0] and "plain http" in warned[0]
    assert TOKEN not in caplog.text and VALUE not in caplog.text


def test_plain_http_to_the_ipv6_loopback_works_for_transit() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        server = fake_vault_http(TOKEN, host="::1")
        srv = server.__enter__()
    except OSError as exc:
        pytest.skip(f"cannot listen on ::1: {exc}")
    try:
        srv.vault.transit_key("app")
        assert srv.url.startswith("http://[::1]:")
        provider = VaultTransitProvider("app", url=srv.url, token=TOKEN)
        wrapped = provider.wrap(b"k" * 32)
        assert provider.unwrap(wrapped) == b"k" * 32
    finally:
        server.__exit__(None, None, None)


@pytest.mark.parametrize(
    "url",
    ["http://vault.example:8200", "http://10.0.0.5:8200", "http://localhost.example:8200"],
)
def test_plain_http_to_any_other_host_is_refused_with_its_code(url: str) -> None:
    with pytest.raises(ConfigError, match="not https") as info:
        VaultKV2Source(url, "app/dev", token=TOKEN)
    assert info.value.code == "vault_not_https"
    assert info.value.facts == {"url": url}
    with pytest.raises(ConfigError, match="not https"):
        VaultTransitProvider("app", url=url, token=TOKEN)


@pytest.mark.parametrize(
    "url",
    [
        "https://reader:canary-vault-url-pw@[::1:8200",  # an IPv6 address without its ]
        "https://reader:canary-vault-url-pw@vault.example:port",
        "https://reader:canary-vault-url-pw@vault.example:99999",
    ],
)
def test_a_vault_url_that_cannot_be_parsed_is_a_config_error_without_its_password(
    url: str,
) -> None:
    for make in (
        lambda: VaultKV2Source(url, "app/dev", token=TOKEN),
        lambda: VaultTransitProvider("app", url=url, token=TOKEN),
    ):
        with pytest.raises(ConfigError) as info:
            make()
        assert info.value.code == "vault_bad_url"
        assert "canary-vault-url-pw" not in str(info.value)
        assert "canary-vault-url-pw" not in repr(info.value.facts)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8200", True),
        ("http://127.8.9.10:8200", True),
        ("http://[::1]:8200", True),
        ("http://localhost:8200", True),
        ("http://LOCALHOST.:8200", True),
        ("https://127.0.0.1:8200", False),
        ("http://0.0.0.0:8200", False),
        ("http://[::ffff:10.0.0.1]:8200", False),
        ("http://localhost.attacker.example", False),
    ],
)
def test_which_addresses_count_as_loopback(url: str, loopback: bool) -> None:
    assert is_loopback_http(url) is loopback


def test_address_token_namespace_and_ca_come_from_hvacs_variables(
    monkeypatch, vault_ca, vault_ca_file
) -> None:
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"DB_PASSWORD": "team-b"}, namespace="team-b")
        srv.vault.transit_mounts.add(("team-b", "transit"))
        srv.vault.transit_key("app", namespace="team-b")
        monkeypatch.setenv("VAULT_ADDR", srv.url)
        monkeypatch.setenv("VAULT_TOKEN", TOKEN)
        monkeypatch.setenv("VAULT_NAMESPACE", "team-b")
        monkeypatch.setenv("VAULT_CACERT", str(vault_ca_file))
        source = VaultKV2Source(None, "app/prod")
        assert source.url == srv.url
        assert source.lookup("DB_PASSWORD").expose_secret() == "team-b"
        headers = srv.vault.requests[-1][2]
        assert headers["x-vault-token"] == TOKEN
        assert headers["x-vault-namespace"] == "team-b"
        provider = VaultTransitProvider("app")
        assert provider.unwrap(provider.wrap(b"d" * 32)) == b"d" * 32


def test_arguments_win_over_the_environment(monkeypatch, vault_ca, vault_ca_file) -> None:
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"DB_PASSWORD": VALUE})
        monkeypatch.setenv("VAULT_ADDR", "https://vault.example:8200")
        monkeypatch.setenv("VAULT_TOKEN", "hvs.not-this-one")
        monkeypatch.setenv("VAULT_CACERT", "/nonexistent/ca.pem")
        source = VaultKV2Source(srv.url, "app/prod", token=TOKEN, ca=vault_ca_file)
        assert source.lookup("DB_PASSWORD").expose_secret() == VALUE
        assert srv.vault.requests[-1][2]["x-vault-token"] == TOKEN


def test_the_token_vault_login_saved_is_used_when_vault_token_is_unset(tmp_path) -> None:
    (tmp_path / ".vault-token").write_text(TOKEN + "\n")
    with fake_vault_http(TOKEN) as srv:
        srv.vault.put("app/dev", {"DB_PASSWORD": VALUE})
        assert VaultKV2Source(srv.url, "app/dev").lookup("DB_PASSWORD").expose_secret() == VALUE


def test_an_approle_login_is_not_replaced_by_a_token_in_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "hvs.someone-elses-token")
    with fake_vault_http() as srv:
        srv.vault.approles["role-1"] = "secret-id-canary"
        srv.vault.put("app/dev", {"DB_PASSWORD": VALUE})
        source = VaultKV2Source(srv.url, "app/dev", approle=("role-1", "secret-id-canary"))
        assert source.lookup("DB_PASSWORD").expose_secret() == VALUE
        paths = [path for _, path, _ in srv.vault.requests]
        assert paths[0] == "/v1/auth/approle/login"
        tokens = {headers.get("x-vault-token") for _, _, headers in srv.vault.requests}
        assert "hvs.someone-elses-token" not in tokens


def test_no_address_and_no_token_are_refused_with_their_codes() -> None:
    with pytest.raises(ConfigError) as info:
        VaultKV2Source(None, "app/dev", token=TOKEN)
    assert info.value.code == "vault_address_needed"
    assert "VAULT_ADDR" in str(info.value)
    with pytest.raises(ConfigError, match="exactly one") as info:
        VaultTransitProvider("app", url="https://vault.example:8200")
    assert info.value.code == "vault_credentials_needed"
    assert "VAULT_TOKEN" in (info.value.hint or "")


def test_an_unreachable_plain_http_server_is_a_source_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = VaultKV2Source(f"http://127.0.0.1:{port}", "app/dev", token=TOKEN, timeout=2)
    with pytest.raises(SecretSourceError, match="cannot reach Vault"):
        source.lookup("X")


def test_a_password_in_the_vault_address_is_never_shown(caplog) -> None:
    # A proxy in front of Vault may take basic auth in the address (VAULT_ADDR=
    # https://user:pass@vault…): errors, labels, reprs and the warning show the
    # address without it.
    caplog.set_level(logging.WARNING, logger="sealbox.vault")
    password = "canary-url-password-77aa"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://ops:{password}@127.0.0.1:{port}"
    source = VaultKV2Source(url, "app/dev", token=TOKEN, timeout=2)
    shown = [repr(source), source.label]
    with pytest.raises(SecretSourceError) as unreachable:
        source.names()
    shown.append(str(unreachable.value))
    with pytest.raises(ConfigError) as refused:
        VaultKV2Source(f"http://ops:{password}@vault.example:8200", "app", token=TOKEN)
    shown += [str(refused.value), repr(refused.value.facts)]
    assert all(password not in text for text in shown), shown
    assert password not in caplog.text
    assert "127.0.0.1" in source.label and "vault.example" in str(refused.value)
