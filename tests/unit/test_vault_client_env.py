"""The Vault clients and the environment a team using Vault's CLI and hvac already has.

Real hvac calls over real HTTPS to tests/fakes/vault.py (Vault's published HTTP API,
response wrapping included). What must not leak in: ``~/.netrc`` (its password would go
to Vault as basic auth), ``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE`` (a CA not named for
Vault). What is read: ``VAULT_CACERT``, ``VAULT_TLS_SERVER_NAME``. What is not read is
said once (``VAULT_WRAP_TTL``, ``VAULT_AGENT_ADDR``…). The token never shows.
"""

from __future__ import annotations

import base64
import logging
import ssl

import pytest

from sealbox.exceptions import KeyProviderError, SecretSourceError
from sealbox.keysets.envelope import VaultTransitProvider
from sealbox.secrets import VaultKV2Source, vault_client
from tests.fakes.vault import FakeVaultServer, fake_vault

pytest.importorskip("hvac")
trustme = pytest.importorskip("trustme")

TOKEN = "hvs.env-canary-token-3c9a51"
VALUE = "env-canary-value-8e27"
NETRC_PASSWORD = "netrc-canary-password-d41f"
# Vault's client variables sealbox does not read (vault_client.UNREAD_VARIABLES).
UNREAD = (
    "VAULT_AGENT_ADDR",
    "VAULT_HTTP_PROXY",
    "VAULT_PROXY_ADDR",
    "VAULT_MAX_RETRIES",
    "VAULT_CLIENT_TIMEOUT",
    "VAULT_WRAP_TTL",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path) -> None:
    for name in (
        "VAULT_ADDR",
        "VAULT_TOKEN",
        "VAULT_NAMESPACE",
        "VAULT_CACERT",
        "VAULT_CAPATH",
        "VAULT_CLIENT_CERT",
        "VAULT_CLIENT_KEY",
        "VAULT_SKIP_VERIFY",
        "VAULT_TLS_SERVER_NAME",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "NETRC",
        *UNREAD,
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.vault-token, no ~/.netrc
    monkeypatch.setattr(vault_client, "_warned", set())


def _no_token_anywhere(error: BaseException, caplog) -> None:
    shown = f"{error} {error!r} {getattr(error, 'hint', '')} {getattr(error, 'facts', '')}"
    assert TOKEN not in shown
    assert TOKEN not in caplog.text


# -- ~/.netrc -----------------------------------------------------------------------


def test_a_netrc_password_for_vaults_host_is_never_sent_to_vault(
    tmp_path, vault_ca, vault_ca_file
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login ops password {NETRC_PASSWORD}\n")
    netrc.chmod(0o600)
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"DB_PASSWORD": VALUE})
        srv.vault.transit_key("app")
        src = VaultKV2Source(srv.url, "app/prod", token=TOKEN, ca=vault_ca_file)
        assert src.lookup("DB_PASSWORD").expose_secret() == VALUE
        src.write({"DB_PASSWORD": VALUE + "-2"})
        provider = VaultTransitProvider("app", url=srv.url, token=TOKEN, ca=vault_ca_file)
        provider.unwrap(provider.wrap(b"k" * 32))
    assert len(srv.vault.requests) >= 4
    for _method, _path, headers in srv.vault.requests:
        assert "authorization" not in headers
        assert headers["x-vault-token"] == TOKEN
    basic = base64.b64encode(f"ops:{NETRC_PASSWORD}".encode()).decode()
    assert basic not in repr(srv.vault.requests)


# -- CA bundles not named for Vault; VAULT_CACERT ------------------------------------


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_ca_bundle_named_for_requests_or_curl_is_not_trusted_for_vault(
    monkeypatch, vault_ca, vault_ca_file, variable, caplog
) -> None:
    monkeypatch.setenv(variable, str(vault_ca_file))
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"DB_PASSWORD": VALUE})
        src = VaultKV2Source(srv.url, "app/prod", token=TOKEN)
        with pytest.raises(SecretSourceError, match="TLS verification") as info:
            src.names()
    assert info.value.code == "vault_tls_failed"
    hint = info.value.hint or ""
    assert "$VAULT_CACERT" in hint and f"${variable} is not read for Vault" in hint
    assert srv.vault.requests == []
    _no_token_anywhere(info.value, caplog)


def test_without_a_ca_the_system_store_is_found_as_vaults_cli_finds_it(
    monkeypatch, vault_ca, vault_ca_file
) -> None:
    # Vault's own client (Go) reads the system's roots from $SSL_CERT_FILE when set, as
    # OpenSSL does; requests alone would use its own bundle, not the system's.
    monkeypatch.setenv("SSL_CERT_FILE", str(vault_ca_file))
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"DB_PASSWORD": VALUE})
        src = VaultKV2Source(srv.url, "app/prod", token=TOKEN)
        assert src.lookup("DB_PASSWORD").expose_secret() == VALUE
        # Only that store: a certificate from another CA is still refused.
        other = trustme.CA()
        with (
            fake_vault(other, TOKEN) as elsewhere,
            pytest.raises(SecretSourceError, match="TLS verification"),
        ):
            VaultKV2Source(elsewhere.url, "app/prod", token=TOKEN).names()


def test_vault_cacert_trusts_a_private_ca_and_a_wrong_one_is_refused_naming_it(
    monkeypatch, vault_ca, vault_ca_file, tmp_path, caplog
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"DB_PASSWORD": VALUE})
        monkeypatch.setenv("VAULT_CACERT", str(vault_ca_file))
        src = VaultKV2Source(srv.url, "app/prod", token=TOKEN)
        assert src.lookup("DB_PASSWORD").expose_secret() == VALUE
        monkeypatch.setenv("VAULT_CACERT", str(other))
        with pytest.raises(SecretSourceError, match="TLS verification") as info:
            VaultKV2Source(srv.url, "app/prod", token=TOKEN).names()
    assert info.value.code == "vault_tls_failed"
    assert "$VAULT_CACERT" in (info.value.hint or "")
    _no_token_anywhere(info.value, caplog)


# -- VAULT_TLS_SERVER_NAME -----------------------------------------------------------


@pytest.fixture
def named_vault(vault_ca):
    """A fake Vault on 127.0.0.1 whose certificate names only ``vault.internal``."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    vault_ca.issue_cert("vault.internal").configure_cert(ctx)
    with FakeVaultServer(ctx) as srv:
        srv.vault.tokens.add(TOKEN)
        srv.vault.put("app/prod", {"DB_PASSWORD": VALUE})
        srv.vault.transit_key("app")
        yield srv


def test_vault_tls_server_name_is_the_name_vaults_certificate_is_checked_for(
    monkeypatch, named_vault, vault_ca_file
) -> None:
    with pytest.raises(SecretSourceError, match="TLS verification"):
        VaultKV2Source(named_vault.url, "app/prod", token=TOKEN, ca=vault_ca_file).names()
    monkeypatch.setenv("VAULT_TLS_SERVER_NAME", "vault.internal")
    src = VaultKV2Source(named_vault.url, "app/prod", token=TOKEN, ca=vault_ca_file)
    assert src.lookup("DB_PASSWORD").expose_secret() == VALUE
    provider = VaultTransitProvider("app", url=named_vault.url, token=TOKEN, ca=vault_ca_file)
    assert provider.unwrap(provider.wrap(b"k" * 32)) == b"k" * 32
    # Another name is still checked, and refused.
    monkeypatch.setenv("VAULT_TLS_SERVER_NAME", "vault.elsewhere")
    with pytest.raises(SecretSourceError, match="TLS verification"):
        VaultKV2Source(named_vault.url, "app/prod", token=TOKEN, ca=vault_ca_file).names()


# -- response wrapping, VAULT_WRAP_TTL -----------------------------------------------


def test_a_wrapped_kv_answer_is_refused_as_wrapped_without_its_wrapping_token(
    vault_ca, vault_ca_file, caplog
) -> None:
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"DB_PASSWORD": VALUE})
        srv.vault.wrap_ttl = "300"
        src = VaultKV2Source(srv.url, "app/prod", token=TOKEN, ca=vault_ca_file)
        with pytest.raises(SecretSourceError, match="wrapped") as info:
            src.names()
    assert info.value.code == "vault_answer_wrapped"
    assert "X-Vault-Wrap-TTL" in (info.value.hint or "")
    assert "hvs.wrapping-" not in f"{info.value} {info.value.hint}"
    _no_token_anywhere(info.value, caplog)


def test_a_wrapped_transit_answer_is_refused_as_wrapped(vault_ca, vault_ca_file, caplog) -> None:
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.transit_key("app")
        srv.vault.wrap_ttl = "300"
        provider = VaultTransitProvider("app", url=srv.url, token=TOKEN, ca=vault_ca_file)
        with pytest.raises(KeyProviderError, match="wrapped") as info:
            provider.wrap(b"k" * 32)
    assert info.value.code == "vault_answer_wrapped"
    _no_token_anywhere(info.value, caplog)


def test_vault_wrap_ttl_and_the_other_unread_variables_are_named_once_and_change_nothing(
    monkeypatch, vault_ca, vault_ca_file, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="sealbox.vault")
    for name in UNREAD:
        monkeypatch.setenv(name, "5m" if name != "VAULT_AGENT_ADDR" else "http://127.0.0.1:9")
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"DB_PASSWORD": VALUE})
        for _ in range(2):
            src = VaultKV2Source(srv.url, "app/prod", token=TOKEN, ca=vault_ca_file)
            assert src.lookup("DB_PASSWORD").expose_secret() == VALUE
    assert all("x-vault-wrap-ttl" not in headers for _m, _p, headers in srv.vault.requests)
    warned = [r.getMessage() for r in caplog.records if r.name == "sealbox.vault"]
    for name in UNREAD:
        assert sum(f"${name} is set and not read" in w for w in warned) == 1
    assert TOKEN not in caplog.text
