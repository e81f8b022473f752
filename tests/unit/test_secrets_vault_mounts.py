"""VaultKV2Source tells a KV version 1 mount (or another engine's) from a KV v2 one.

Vault's ``GET /v1/sys/internal/ui/mounts/{path}`` (what Vault's CLI asks before a ``kv``
command) names the mount's engine (``type``) and, for KV, its ``options.version``. The
source asks it before its first write, and after a read that found nothing or an answer
of another shape, so that a KV v1 mount is refused as such rather than as "no such
secret". The fake (tests/fakes/vault.py) serves that endpoint and KV v1's API.
"""

from __future__ import annotations

import pytest

from sealbox.exceptions import SecretSourceError
from sealbox.secrets import VaultKV2Source
from tests.fakes.vault import fake_vault_http

pytest.importorskip("hvac")

TOKEN = "hvs.mounts-canary-token-1e07"
VALUE = "mounts-canary-value-c3a9"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path) -> None:
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def _preflights(srv) -> int:
    return sum(1 for _, p, _ in srv.vault.requests if p.startswith("/v1/sys/internal/ui/mounts/"))


@pytest.mark.parametrize("version", ["1", None])
def test_reading_a_kv_v1_mount_is_refused_as_kv_version_1(version) -> None:
    with fake_vault_http(TOKEN) as srv:
        srv.vault.kv_mounts[("", "kv")] = version
        srv.vault.put_v1("app", {"API_KEY": VALUE}, mount="kv")
        source = VaultKV2Source(srv.url, "app", mount="kv", token=TOKEN)
        with pytest.raises(SecretSourceError, match="KV version 1") as info:
            source.names()
    assert info.value.code == "vault_kv_v1_mount"
    assert info.value.facts == {"mount": "kv"}
    assert "enable-versioning" in (info.value.hint or "")
    assert VALUE not in str(info.value) and TOKEN not in str(info.value)


def test_a_kv_v1_secret_at_the_v2_data_path_is_refused_not_read_as_unexpected() -> None:
    with fake_vault_http(TOKEN) as srv:
        srv.vault.kv_mounts[("", "kv")] = "1"
        srv.vault.put_v1("data/app", {"API_KEY": VALUE}, mount="kv")
        source = VaultKV2Source(srv.url, "app", mount="kv", token=TOKEN)
        with pytest.raises(SecretSourceError) as info:
            source.lookup("API_KEY")
    assert info.value.code == "vault_kv_v1_mount"


def test_writing_to_a_kv_v1_mount_is_refused_before_anything_is_written() -> None:
    with fake_vault_http(TOKEN) as srv:
        srv.vault.kv_mounts[("", "kv")] = "1"
        source = VaultKV2Source(srv.url, "app", mount="kv", token=TOKEN)
        with pytest.raises(SecretSourceError) as info:
            source.write({"API_KEY": VALUE})
        assert info.value.code == "vault_kv_v1_mount"
        assert [m for m, _, _ in srv.vault.requests] == ["GET"]
        assert srv.vault.kv1 == {} and srv.vault.kv == {}


def test_a_mount_of_another_engine_is_refused_as_not_kv() -> None:
    with fake_vault_http(TOKEN) as srv:
        source = VaultKV2Source(srv.url, "app", mount="transit", token=TOKEN)
        with pytest.raises(SecretSourceError, match="'transit' engine") as info:
            source.write({"API_KEY": VALUE})
    assert info.value.code == "vault_not_kv_mount"
    assert info.value.facts == {"mount": "transit", "type": "transit"}


def test_a_mount_given_with_part_of_the_path_names_the_real_mount() -> None:
    with fake_vault_http(TOKEN) as srv:
        srv.vault.put("team/app", {"API_KEY": VALUE})
        source = VaultKV2Source(srv.url, "app", mount="secret/team", token=TOKEN)
        with pytest.raises(SecretSourceError, match="mounted at 'secret'") as info:
            source.names()
    assert info.value.code == "vault_not_a_mount"
    assert info.value.facts == {"mount": "secret/team", "mounted_at": "secret"}


def test_a_missing_secret_on_a_kv_v2_mount_is_still_no_such_secret() -> None:
    with fake_vault_http(TOKEN) as srv:
        srv.vault.put("other", {"API_KEY": VALUE})
        source = VaultKV2Source(srv.url, "app", token=TOKEN)
        with pytest.raises(SecretSourceError, match=r"no such secret \(404\)"):
            source.names()


def test_the_mount_is_asked_about_once_before_writes_and_never_after_a_kv2_read() -> None:
    with fake_vault_http(TOKEN) as srv:
        srv.vault.put("app", {"API_KEY": VALUE})
        writer = VaultKV2Source(srv.url, "app", token=TOKEN)
        writer.write({"API_KEY": "2"})
        writer.write({"API_KEY": "3"})
        assert _preflights(srv) == 1
        reader = VaultKV2Source(srv.url, "app", token=TOKEN)
        assert reader.lookup("API_KEY").expose_secret() == "3"
        reader.write({"API_KEY": "4"})  # the read was KV v2's own answer
        assert _preflights(srv) == 1


def test_a_write_goes_ahead_when_vault_does_not_say_what_the_mount_is() -> None:
    # Vault answers the look-up 403 for a mount the token has no path in: not evidence.
    with fake_vault_http(TOKEN) as srv:
        source = VaultKV2Source(srv.url, "app", mount="fresh", token=TOKEN)
        assert source.write({"API_KEY": VALUE}) == 1
        assert source.write({"API_KEY": VALUE}) == 2
        assert _preflights(srv) == 1  # Vault answered: it is not asked again


def test_the_mount_look_up_is_sent_in_the_namespace() -> None:
    with fake_vault_http(TOKEN) as srv:
        srv.vault.kv_mounts[("team-a", "kv")] = "1"
        source = VaultKV2Source(srv.url, "app", mount="kv", namespace="team-a", token=TOKEN)
        with pytest.raises(SecretSourceError) as info:
            source.write({"API_KEY": VALUE})
        assert info.value.code == "vault_kv_v1_mount"
        assert srv.vault.requests[0][2]["x-vault-namespace"] == "team-a"
