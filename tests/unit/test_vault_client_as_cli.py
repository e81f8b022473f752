"""The Vault client configured and behaving as a user of Vault's own CLI expects.

Vault cannot run here: real hvac calls go over real HTTPS to tests/fakes/vault.py, which
follows Vault's published HTTP API (a standby that does not forward answers 307 to the
active node's address; a denied path answers 403 ``permission denied``). The client
certificate variables are those Vault's CLI reads (``VAULT_CLIENT_CERT``,
``VAULT_CLIENT_KEY``).
"""

from __future__ import annotations

import logging
import ssl

import pytest

from sealbox.exceptions import ConfigError, KeyProviderError, SecretSourceError
from sealbox.keysets.envelope import VaultTransitProvider
from sealbox.secrets import VaultKV2Source
from tests.fakes.vault import FakeVaultServer, fake_vault

pytest.importorskip("hvac")
trustme = pytest.importorskip("trustme")

TOKEN = "hvs.as-cli-canary-token-91f3"
VALUE = "as-cli-canary-value-6b0e"
VARIABLES = (
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "VAULT_NAMESPACE",
    "VAULT_CACERT",
    "VAULT_CAPATH",
    "VAULT_CLIENT_CERT",
    "VAULT_CLIENT_KEY",
    "VAULT_SKIP_VERIFY",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.vault-token


# -- standby redirects ---------------------------------------------------------------


def test_a_standby_redirect_to_another_address_is_refused_without_sending_the_token(
    vault_ca, vault_ca_file
) -> None:
    # A standby that does not forward answers 307 to the active node's api_addr, another
    # host (here another port): the token (and a write's values) would go wherever the
    # Location points, so the request is not followed there.
    with fake_vault(vault_ca, TOKEN) as active, fake_vault(vault_ca, TOKEN) as standby:
        active.vault.put("app/prod", {"DB_PASSWORD": VALUE})
        standby.vault.standby_of = active.url
        src = VaultKV2Source(standby.url, "app/prod", token=TOKEN, ca=vault_ca_file)
        with pytest.raises(SecretSourceError, match="redirected") as info:
            src.names()
        with pytest.raises(SecretSourceError, match="redirected"):
            src.write({"DB_PASSWORD": VALUE + "-new"})
    assert info.value.code == "vault_redirect_refused"
    assert info.value.facts == {"to": active.url}
    assert "active node" in (info.value.hint or "")
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
    assert active.vault.requests == []  # neither the token nor the values went there
    assert len(standby.vault.requests) == 2


def test_a_redirect_to_the_same_address_keeps_the_token_and_is_followed(
    vault_ca, vault_ca_file
) -> None:
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"DB_PASSWORD": VALUE})
        srv.vault.standby_of, srv.vault.standby_redirects = srv.url, 1
        src = VaultKV2Source(srv.url, "app/prod", token=TOKEN, ca=vault_ca_file)
        assert src.lookup("DB_PASSWORD").expose_secret() == VALUE
    followed = srv.vault.requests[1]
    assert followed[1] == "/v1/secret/data/app/prod" and followed[2]["x-vault-token"] == TOKEN


def test_a_transit_standby_redirect_to_another_address_is_a_provider_error(
    vault_ca, vault_ca_file
) -> None:
    with fake_vault(vault_ca, TOKEN) as active, fake_vault(vault_ca, TOKEN) as standby:
        active.vault.transit_key("app")
        standby.vault.standby_of = active.url
        provider = VaultTransitProvider("app", url=standby.url, token=TOKEN, ca=vault_ca_file)
        with pytest.raises(KeyProviderError, match="redirected") as info:
            provider.wrap(b"k" * 32)
    assert info.value.code == "vault_redirect_refused"
    assert active.vault.requests == []


# -- permission denied ---------------------------------------------------------------


def test_permission_denied_names_the_policy_path_and_capability_never_the_token(
    vault_ca, vault_ca_file
) -> None:
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"DB_PASSWORD": VALUE})
        src = VaultKV2Source(srv.url, "app/prod", token=TOKEN, ca=vault_ca_file)
        srv.vault.tokens.clear()  # expired or revoked mid-use: Vault answers 403
        with pytest.raises(SecretSourceError, match=r"permission denied \(403\)") as read:
            src.names()
        with pytest.raises(SecretSourceError) as write:
            src.write({"DB_PASSWORD": "x"})
        with pytest.raises(SecretSourceError) as metadata:
            src.metadata()
    assert read.value.code == "vault_permission_denied"
    assert read.value.facts == {"path": "secret/data/app/prod", "capability": "read"}
    assert 'path "secret/data/app/prod"' in (read.value.hint or "")
    assert "expired" in (read.value.hint or "")
    assert write.value.facts == {"path": "secret/data/app/prod", "capability": "update"}
    assert metadata.value.facts == {"path": "secret/metadata/app/prod", "capability": "read"}
    for info in (read, write, metadata):
        assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
        assert TOKEN not in (info.value.hint or "")


def test_a_denied_transit_datakey_names_the_datakey_policy_path(vault_ca, vault_ca_file) -> None:
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.transit_key("app")
        srv.vault.deny(TOKEN, "transit/datakey/plaintext/app")
        provider = VaultTransitProvider("app", url=srv.url, token=TOKEN, ca=vault_ca_file)
        with pytest.raises(KeyProviderError, match=r"permission denied for datakey") as info:
            provider.generate_data_key()
    assert "transit/datakey/plaintext/app" in (info.value.hint or "")


# -- client certificates (VAULT_CLIENT_CERT, VAULT_CLIENT_KEY) ------------------------


def _mtls_vault(ca: trustme.CA, client_ca: trustme.CA) -> FakeVaultServer:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    ctx.verify_mode = ssl.CERT_REQUIRED
    client_ca.configure_trust(ctx)
    return FakeVaultServer(ctx)


def test_the_client_certificate_comes_from_vault_client_cert_and_key_when_the_client_is_made(
    monkeypatch, vault_ca, vault_ca_file, tmp_path
) -> None:
    client_ca = trustme.CA()
    leaf = client_ca.issue_cert("sealbox-client")
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    with _mtls_vault(vault_ca, client_ca) as srv:
        srv.vault.tokens.add(TOKEN)
        srv.vault.put("app/prod", {"DB_PASSWORD": VALUE})
        # Set after hvac was imported: hvac reads these once, at its import.
        monkeypatch.setenv("VAULT_CLIENT_CERT", str(cert))
        monkeypatch.setenv("VAULT_CLIENT_KEY", str(key))
        src = VaultKV2Source(srv.url, "app/prod", token=TOKEN, ca=vault_ca_file)
        assert src.lookup("DB_PASSWORD").expose_secret() == VALUE
        provider = VaultTransitProvider("app", url=srv.url, token=TOKEN, ca=vault_ca_file)
        assert provider.unwrap(provider.wrap(b"k" * 32)) == b"k" * 32


@pytest.mark.parametrize("missing", ["VAULT_CLIENT_CERT", "VAULT_CLIENT_KEY"])
def test_a_client_certificate_file_that_does_not_exist_is_a_config_error_when_made(
    monkeypatch, tmp_path, vault_ca_file, missing
) -> None:
    present = tmp_path / "present.pem"
    present.write_text("not read before a request\n")
    monkeypatch.setenv("VAULT_CLIENT_CERT", str(present))
    monkeypatch.setenv("VAULT_CLIENT_KEY", str(present))
    monkeypatch.setenv(missing, str(tmp_path / "absent.pem"))
    with pytest.raises(ConfigError, match=missing) as info:
        VaultKV2Source("https://127.0.0.1:1", "app/prod", token=TOKEN, ca=vault_ca_file)
    assert info.value.code == "vault_client_cert_missing"


# -- VAULT_SKIP_VERIFY, VAULT_CAPATH -------------------------------------------------


def test_vault_skip_verify_never_turns_verification_off_and_says_so(
    monkeypatch, vault_ca, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="sealbox.vault")
    monkeypatch.setenv("VAULT_SKIP_VERIFY", "true")
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"DB_PASSWORD": VALUE})
        src = VaultKV2Source(srv.url, "app/prod", token=TOKEN)  # no CA: not trusted
        with pytest.raises(SecretSourceError, match="TLS verification") as info:
            src.names()
    assert "VAULT_SKIP_VERIFY" in (info.value.hint or "")
    warned = [r.getMessage() for r in caplog.records if r.name == "sealbox.vault"]
    assert any("VAULT_SKIP_VERIFY" in w and "ignored" in w for w in warned)
    assert srv.vault.bodies == []


def test_the_ca_directory_comes_from_vault_capath_when_vault_cacert_is_unset(
    monkeypatch, vault_ca, tmp_path
) -> None:
    # Vault's CLI reads every PEM file of VAULT_CAPATH; OpenSSL reads a folder by
    # hashed names, so the files here carry no such names.
    folder = tmp_path / "cas"
    folder.mkdir()
    vault_ca.cert_pem.write_to_path(str(folder / "vault-ca.pem"))
    trustme.CA().cert_pem.write_to_path(str(folder / "other-ca.pem"))
    (folder / "README").write_text("not a certificate\n")
    monkeypatch.setenv("VAULT_CAPATH", str(folder))
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"DB_PASSWORD": VALUE})
        src = VaultKV2Source(srv.url, "app/prod", token=TOKEN)
        assert src.lookup("DB_PASSWORD").expose_secret() == VALUE


def test_a_client_certificate_without_its_key_is_a_config_error_as_in_vaults_cli(
    monkeypatch, tmp_path, vault_ca_file
) -> None:
    cert = tmp_path / "client.pem"
    cert.write_text("not read\n")
    monkeypatch.setenv("VAULT_CLIENT_CERT", str(cert))
    with pytest.raises(ConfigError, match="VAULT_CLIENT_KEY") as info:
        VaultTransitProvider("app", url="https://127.0.0.1:1", token=TOKEN, ca=vault_ca_file)
    assert info.value.code == "vault_client_cert_incomplete"
