"""VaultKV2Source through real hvac calls against a fake Vault over real HTTPS.

Vault cannot run here; tests/fakes/vault.py follows Vault's published HTTP API.
"""

from __future__ import annotations

import logging

import pytest

from sealbox.exceptions import ConfigError, SecretSourceError
from sealbox.secret import RedactingFilter
from sealbox.secrets import SecretsChain, VaultKV2Source
from tests.fakes.vault import fake_vault

trustme = pytest.importorskip("trustme")

CANARY = "canary-vault-value-5a0c"
TOKEN = "hvs.canary-token-77d2"


pytestmark = pytest.mark.usefixtures("no_vault_environment")


@pytest.fixture
def server(vault_ca):
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"DB_PASSWORD": "v1-" + CANARY, "PORT": 5432})
        srv.vault.put("app/prod", {"DB_PASSWORD": CANARY, "PORT": 5432, "OPTS": {"a": 1}})
        yield srv


def source(server, vault_ca_file, **kw) -> VaultKV2Source:
    kw.setdefault("token", TOKEN)
    return VaultKV2Source(server.url, "app/prod", ca=vault_ca_file, **kw)


def test_read_latest_and_pinned_versions(server, vault_ca_file) -> None:
    src = source(server, vault_ca_file)
    assert src.lookup("DB_PASSWORD").expose_secret() == CANARY
    assert src.lookup("PORT").expose_secret() == "5432"
    assert src.lookup("OPTS").expose_secret() == '{"a": 1}'
    assert src.lookup("NOPE") is None
    assert src.names() == ["DB_PASSWORD", "OPTS", "PORT"]
    assert src.read_version == 2
    pinned = source(server, vault_ca_file, version=1)
    assert pinned.lookup("DB_PASSWORD").expose_secret() == "v1-" + CANARY
    assert pinned.read_version == 1
    gets = [r for r in server.vault.requests if r[0] == "GET"]
    assert gets[-1][1] == "/v1/secret/data/app/prod"
    assert gets[-1][2]["x-vault-token"] == TOKEN


def test_reads_once_until_reload(server, vault_ca_file) -> None:
    src = source(server, vault_ca_file)
    src.lookup("DB_PASSWORD")
    src.lookup("PORT")
    assert len([r for r in server.vault.requests if r[0] == "GET"]) == 1
    server.vault.put("app/prod", {"DB_PASSWORD": "rotated"})
    assert src.lookup("DB_PASSWORD").expose_secret() == CANARY
    src.reload()
    assert src.lookup("DB_PASSWORD").expose_secret() == "rotated"


def test_metadata_and_versions(server, vault_ca_file) -> None:
    meta = source(server, vault_ca_file).metadata()
    assert meta["current_version"] == 2
    assert sorted(meta["versions"]) == ["1", "2"]
    assert CANARY not in str(meta)


def test_check_and_set_write(server, vault_ca_file) -> None:
    src = source(server, vault_ca_file)
    assert src.write({"DB_PASSWORD": "new"}, cas=2) == 3
    assert src.lookup("DB_PASSWORD").expose_secret() == "new"
    with pytest.raises(SecretSourceError, match="check-and-set parameter did not match"):
        src.write({"DB_PASSWORD": "lost update"}, cas=2)
    assert src.lookup("DB_PASSWORD").expose_secret() == "new"
    fresh = VaultKV2Source(server.url, "app/new", ca=vault_ca_file, token=TOKEN)
    assert fresh.write({"K": "v"}, cas=0) == 1
    with pytest.raises(SecretSourceError, match="check-and-set"):
        fresh.write({"K": "again"}, cas=0)


def test_approle_login(server, vault_ca_file) -> None:
    server.vault.approles["role-1"] = "secret-id-canary"
    src = VaultKV2Source(
        server.url, "app/prod", ca=vault_ca_file, approle=("role-1", "secret-id-canary")
    )
    assert src.lookup("DB_PASSWORD").expose_secret() == CANARY
    login = [r for r in server.vault.requests if r[1] == "/v1/auth/approle/login"]
    assert len(login) == 1
    bad = VaultKV2Source(server.url, "app/prod", ca=vault_ca_file, approle=("role-1", "wrong"))
    with pytest.raises(SecretSourceError, match=r"refused \(400\): invalid role ID or secret ID"):
        bad.lookup("DB_PASSWORD")


def test_namespace_header(server, vault_ca_file) -> None:
    server.vault.put("app/prod", {"DB_PASSWORD": "team-a"}, namespace="team-a")
    src = source(server, vault_ca_file, namespace="team-a")
    assert src.lookup("DB_PASSWORD").expose_secret() == "team-a"
    assert server.vault.requests[-1][2]["x-vault-namespace"] == "team-a"
    assert "namespace team-a" in src.label


@pytest.mark.parametrize(
    ("setup", "kwargs", "message"),
    [
        (lambda v: None, {"token": "hvs.wrong"}, r"permission denied \(403\)"),
        (lambda v: None, {"version": 9}, r"version 9 of no such secret \(404\)"),
        (lambda v: setattr(v, "sealed", True), {}, r"sealed or not ready \(503\)"),
    ],
)
def test_vault_errors(server, vault_ca_file, setup, kwargs, message) -> None:
    setup(server.vault)
    src = source(server, vault_ca_file, **kwargs)
    with pytest.raises(SecretSourceError, match=message) as info:
        src.lookup("DB_PASSWORD")
    assert CANARY not in str(info.value) and TOKEN not in str(info.value)
    assert src.label in str(info.value)


def test_missing_path(server, vault_ca_file) -> None:
    src = VaultKV2Source(server.url, "app/none", ca=vault_ca_file, token=TOKEN)
    with pytest.raises(SecretSourceError, match=r"app/none: no such secret \(404\)"):
        src.names()


def test_tls_is_always_verified(server, tmp_path) -> None:
    with pytest.raises(ConfigError, match="not https") as info:
        VaultKV2Source("http://vault.example:8200", "app/prod", token=TOKEN)
    assert info.value.hint and "-dev-tls" in info.value.hint
    # The fake's certificate is from a private CA: without ca= the system store refuses it.
    src = VaultKV2Source(server.url, "app/prod", token=TOKEN)
    with pytest.raises(SecretSourceError, match="TLS verification") as info:
        src.lookup("DB_PASSWORD")
    assert info.value.hint == (
        "give the CA that signed it with ca=, $VAULT_CACERT or $VAULT_CAPATH "
        "($VAULT_SKIP_VERIFY is never honoured)"
    )
    other = trustme.CA()
    other_file = tmp_path / "other.pem"
    other.cert_pem.write_to_path(str(other_file))
    with pytest.raises(SecretSourceError, match="TLS verification"):
        VaultKV2Source(server.url, "app/prod", token=TOKEN, ca=other_file).lookup("X")


def test_a_ca_file_that_does_not_exist_is_a_config_error_when_the_source_is_made(
    tmp_path, monkeypatch
) -> None:
    # requests raised a bare OSError from inside the first read (no sealbox error, no
    # code), the same from $VAULT_CACERT.
    missing = tmp_path / "no-such-ca.pem"
    with pytest.raises(ConfigError, match="does not exist") as info:
        VaultKV2Source("https://vault.example:8200", "app/prod", token=TOKEN, ca=missing)
    assert info.value.code == "vault_ca_missing"
    assert info.value.facts["ca"] == str(missing)
    monkeypatch.setenv("VAULT_CACERT", str(missing))
    with pytest.raises(ConfigError, match="VAULT_CACERT") as info:
        VaultKV2Source("https://vault.example:8200", "app/prod", token=TOKEN)
    assert info.value.code == "vault_ca_missing"


def test_unreachable(vault_ca_file) -> None:
    src = VaultKV2Source(
        "https://127.0.0.1:9", "app/prod", token=TOKEN, ca=vault_ca_file, timeout=2
    )
    with pytest.raises(SecretSourceError, match="cannot reach Vault"):
        src.lookup("X")


def test_arguments() -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        VaultKV2Source("https://vault", "p")
    with pytest.raises(ConfigError, match="exactly one"):
        VaultKV2Source("https://vault", "p", token="t", approle=("a", "b"))
    with pytest.raises(ConfigError, match="version"):
        VaultKV2Source("https://vault", "p", token="t", version=0)


def test_canaries_in_chain_logs_and_reprs(server, vault_ca_file, caplog) -> None:
    src = source(server, vault_ca_file)
    chain = SecretsChain(src)
    value = chain.get("DB_PASSWORD")
    caplog.handler.addFilter(RedactingFilter())
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").debug("token header %s", TOKEN)
    logging.getLogger("app").info("password is %s", value.expose_secret())
    for text in (caplog.text, repr(src), repr(chain), repr(value), src.label):
        assert CANARY not in text and TOKEN not in text
