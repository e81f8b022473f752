"""Vault's KV version 2 engine on ``sealbox serve``, driven by the real hvac client (and curl
for the raw shapes), on SQLite and on PostgreSQL with Redis.

Most tests share one service per backend for the module (``module_service``) and write
secret paths no other test of the module uses; a test that lists the mount's root, or
reads the whole audit log, has a service of its own.
"""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import hvac
import hvac.exceptions as hx
import pytest

from tests.service._vault import curl, data_of, hvac_client, read, token_for
from tests.service.conftest import Running, make_settings, run_service

CANARY = "canary-kv-value-91c4e2"


@pytest.fixture
def admin_token(service) -> str:
    return token_for(service, "kv:admin")


@pytest.fixture
def vault(service, admin_token) -> hvac.Client:
    return hvac_client(service, admin_token)


@pytest.fixture(scope="module")
def shared_token(module_service: Running) -> str:
    return token_for(module_service, "kv:admin")


@pytest.fixture
def shared_vault(module_service: Running, shared_token: str) -> hvac.Client:
    return hvac_client(module_service, shared_token)


def test_writes_make_versions_and_reads_pick_one(shared_vault: hvac.Client) -> None:
    vault = shared_vault
    kv = vault.secrets.kv.v2
    first = kv.create_or_update_secret(path="versions/db", secret={"password": "one"})["data"]
    assert first["version"] == 1
    assert first["deletion_time"] == ""
    assert first["destroyed"] is False
    kv.create_or_update_secret(path="versions/db", secret={"password": "two", "port": 5432})
    latest = read(vault, "versions/db")["data"]
    assert latest["data"] == {"password": "two", "port": 5432}
    assert latest["metadata"]["version"] == 2
    assert read(vault, "versions/db", version=1)["data"]["data"] == {"password": "one"}
    with pytest.raises(hx.InvalidPath):
        read(vault, "versions/db", version=3)
    with pytest.raises(hx.InvalidPath):
        read(vault, "versions/none")


def test_check_and_set(shared_vault: hvac.Client) -> None:
    vault = shared_vault
    kv = vault.secrets.kv.v2
    assert kv.create_or_update_secret(path="cas", secret={"a": "1"}, cas=0)["data"]["version"] == 1
    with pytest.raises(hx.InvalidRequest, match="did not match the current version"):
        kv.create_or_update_secret(path="cas", secret={"a": "x"}, cas=0)
    with pytest.raises(hx.InvalidRequest, match="did not match the current version"):
        kv.create_or_update_secret(path="cas", secret={"a": "x"}, cas=7)
    assert kv.create_or_update_secret(path="cas", secret={"a": "2"}, cas=1)["data"]["version"] == 2
    with warnings.catch_warnings():  # hvac's patch reads without raise_on_deleted_version
        warnings.simplefilter("ignore", DeprecationWarning)
        kv.patch(path="cas", secret={"b": "3"})  # hvac: read, then a write with cas
    assert read(vault, "cas")["data"]["data"] == {"a": "2", "b": "3"}

    kv.update_metadata(path="cas", cas_required=True)
    with pytest.raises(hx.InvalidRequest, match="check-and-set parameter required"):
        kv.create_or_update_secret(path="cas", secret={"a": "4"})
    assert kv.create_or_update_secret(path="cas", secret={"a": "4"}, cas=3)["data"]["version"] == 4


def test_soft_delete_undelete_and_destroy(shared_vault: hvac.Client) -> None:
    vault = shared_vault
    kv = vault.secrets.kv.v2
    for value in ("v1", "v2", "v3"):
        kv.create_or_update_secret(path="life", secret={"k": value})
    kv.delete_latest_version_of_secret(path="life")
    with pytest.raises(hx.InvalidPath):
        read(vault, "life")
    deleted = read(vault, "life", raise_on_deleted_version=False)["data"]
    assert deleted["data"] is None
    assert deleted["metadata"]["version"] == 3
    assert deleted["metadata"]["deletion_time"] != ""

    kv.delete_secret_versions(path="life", versions=[1])
    kv.undelete_secret_versions(path="life", versions=[1, 3])
    assert read(vault, "life")["data"]["data"] == {"k": "v3"}
    assert read(vault, "life", version=1)["data"]["data"] == {"k": "v1"}

    kv.destroy_secret_versions(path="life", versions=[2])
    with pytest.raises(hx.InvalidPath):
        read(vault, "life", version=2)
    kv.undelete_secret_versions(path="life", versions=[2])
    meta = kv.read_secret_metadata(path="life")["data"]
    assert meta["versions"]["2"]["destroyed"] is True
    assert meta["versions"]["1"]["deletion_time"] == ""
    assert meta["current_version"] == 3


def test_metadata_and_max_versions(shared_vault: hvac.Client) -> None:
    vault = shared_vault
    kv = vault.secrets.kv.v2
    kv.update_metadata(path="trim", max_versions=2, custom_metadata={"owner": "ops"})
    for n in range(4):
        kv.create_or_update_secret(path="trim", secret={"n": str(n)})
    meta = kv.read_secret_metadata(path="trim")["data"]
    assert meta["max_versions"] == 2
    assert meta["current_version"] == 4
    assert meta["oldest_version"] == 3
    assert sorted(meta["versions"]) == ["3", "4"]
    assert meta["custom_metadata"] == {"owner": "ops"}
    with pytest.raises(hx.InvalidPath):
        read(vault, "trim", version=2)
    assert read(vault, "trim")["data"]["metadata"]["custom_metadata"] == {"owner": "ops"}

    kv.delete_metadata_and_all_versions(path="trim")
    with pytest.raises(hx.InvalidPath):
        kv.read_secret_metadata(path="trim")
    with pytest.raises(hx.InvalidPath):
        read(vault, "trim")


def test_list_shows_secrets_and_folders(service, vault: hvac.Client, admin_token) -> None:
    kv = vault.secrets.kv.v2
    for path in ("team/a", "team/b", "team/deep/c", "other", "100%_odd/x"):
        kv.create_or_update_secret(path=path, secret={"k": "v"})
    assert kv.list_secrets(path="team")["data"]["keys"] == ["a", "b", "deep/"]
    assert kv.list_secrets(path="")["data"]["keys"] == ["100%_odd/", "other", "team/"]
    assert kv.list_secrets(path="100%_odd")["data"]["keys"] == ["x"]
    with pytest.raises(hx.InvalidPath):
        kv.list_secrets(path="nothing")
    status, body = curl(service, "LIST", "/v1/secret/metadata/team/deep", admin_token)
    assert (status, data_of(body)) == (200, {"keys": ["c"]})
    status, body = curl(service, "GET", "/v1/secret/metadata/team?list=true", admin_token)
    assert (status, data_of(body)) == (200, {"keys": ["a", "b", "deep/"]})


def test_raw_shapes_over_curl(module_service: Running, shared_token: str) -> None:
    service, admin_token = module_service, shared_token
    status, body = curl(service, "POST", "/v1/secret/data/raw", admin_token, {"data": {"k": "v"}})
    assert status == 200
    assert set(data_of(body)) == {
        "created_time",
        "custom_metadata",
        "deletion_time",
        "destroyed",
        "version",
    }
    status, body = curl(service, "GET", "/v1/secret/data/raw", admin_token)
    assert status == 200
    assert data_of(body)["data"] == {"k": "v"}
    assert curl(service, "GET", "/v1/secret/data/none", admin_token) == (404, {"errors": []})
    assert curl(service, "DELETE", "/v1/secret/data/raw", admin_token) == (204, None)
    status, body = curl(service, "GET", "/v1/secret/data/raw", admin_token)
    assert status == 404
    deleted = data_of(body)
    assert deleted["data"] is None
    assert deleted["metadata"]["deletion_time"]
    status, body = curl(service, "POST", "/v1/secret/data/raw", admin_token, {"data": "text"})
    assert (status, body) == (400, {"errors": ["no data provided"]})
    status, body = curl(service, "POST", "/v1/secret/data/a//b", admin_token, {"data": {}})
    assert (status, body) == (
        400,
        {"errors": ["a secret path may not have empty, '.' or '..' segments"]},
    )
    status, body = curl(service, "POST", "/v1/secret/nowhere/x", admin_token, {})
    assert status == 404
    assert set(body) == {"errors"}
    status, body = curl(service, "GET", "/v1/secret/data/raw", "bad-token")
    assert (status, body) == (403, {"errors": ["permission denied"]})


def test_scopes_name_path_prefixes(service, vault: hvac.Client) -> None:
    vault.secrets.kv.v2.create_or_update_secret(path="app/db", secret={"k": "v"})
    vault.secrets.kv.v2.create_or_update_secret(path="ops/root", secret={"k": "v"})
    reader = hvac_client(service, token_for(service, "kv:read:secret/app/"))
    assert read(reader, "app/db")["data"]["data"] == {"k": "v"}
    assert reader.secrets.kv.v2.list_secrets(path="app")["data"]["keys"] == ["db"]
    for denied in (
        lambda: read(reader, "ops/root"),
        lambda: reader.secrets.kv.v2.list_secrets(path=""),
        lambda: reader.secrets.kv.v2.create_or_update_secret(path="app/db", secret={"k": "x"}),
    ):
        with pytest.raises(hx.Forbidden):
            denied()

    writer = hvac_client(service, token_for(service, "kv:write:secret/app/", "kv:read:*"))
    writer.secrets.kv.v2.create_or_update_secret(path="app/db", secret={"k": "w"})
    writer.secrets.kv.v2.delete_secret_versions(path="app/db", versions=[1])
    writer.secrets.kv.v2.undelete_secret_versions(path="app/db", versions=[1])
    with pytest.raises(hx.Forbidden):
        writer.secrets.kv.v2.destroy_secret_versions(path="app/db", versions=[1])
    with pytest.raises(hx.Forbidden):
        writer.secrets.kv.v2.delete_metadata_and_all_versions(path="app/db")
    with pytest.raises(hx.Forbidden):
        writer.secrets.kv.v2.create_or_update_secret(path="ops/root", secret={"k": "x"})
    transit_only = hvac_client(service, token_for(service, "transit:admin"))
    with pytest.raises(hx.Forbidden):
        read(transit_only, "app/db")
    assert '"event": "kv.destroy", "outcome": "denied"' in service.audit()


def test_values_are_sealed_at_rest_and_never_logged(
    module_service: Running, shared_vault: hvac.Client
) -> None:
    # Every stored value is checked, other tests' too: each must be sealed as well.
    service, vault = module_service, shared_vault
    from sqlalchemy import select

    from sealbox.service.db import make_engine, sessionmaker
    from sealbox.service.vault.kv_store import KVVersionRecord

    vault.secrets.kv.v2.create_or_update_secret(path="canary", secret={"value": CANARY})
    assert read(vault, "canary")["data"]["data"] == {"value": CANARY}

    async def rows() -> list[bytes]:
        engine = make_engine(service.settings.resolved_database_url())
        try:
            async with sessionmaker(engine)() as session:
                found = await session.execute(select(KVVersionRecord.value))
                return [bytes(v) for v in found.scalars() if v is not None]
        finally:
            await engine.dispose()

    stored = asyncio.run(rows())
    assert stored
    assert all(CANARY.encode() not in value for value in stored)
    assert all(b'"aes-256-gcm"' in value for value in stored)
    database = Path(service.settings.data_dir) / "sealbox.db"
    if database.exists():
        for name in ("sealbox.db", "sealbox.db-wal"):
            file = database.with_name(name)
            if file.exists():
                assert CANARY.encode() not in file.read_bytes()
    audit = service.audit()
    assert '"event": "kv.write", "outcome": "success"' in audit
    assert CANARY not in audit


def test_a_sealed_value_copied_to_another_path_does_not_open(
    module_service: Running, shared_vault: hvac.Client
) -> None:
    service, vault = module_service, shared_vault
    from sqlalchemy import select, update

    from sealbox.service.db import make_engine, sessionmaker
    from sealbox.service.vault.kv_store import KVSecretRecord, KVVersionRecord

    kv = vault.secrets.kv.v2
    kv.create_or_update_secret(path="from", secret={"k": CANARY})
    kv.create_or_update_secret(path="to", secret={"k": "other"})

    async def copy() -> None:
        engine = make_engine(service.settings.resolved_database_url())
        try:
            async with sessionmaker(engine).begin() as session:
                ids = dict(
                    (await session.execute(select(KVSecretRecord.path, KVSecretRecord.id))).all()
                )
                value = (
                    await session.execute(
                        select(KVVersionRecord.value).where(
                            KVVersionRecord.secret_id == ids["from"]
                        )
                    )
                ).scalar_one()
                await session.execute(
                    update(KVVersionRecord)
                    .where(KVVersionRecord.secret_id == ids["to"])
                    .values(value=value)
                )
        finally:
            await engine.dispose()

    asyncio.run(copy())
    with pytest.raises(hx.InternalServerError):
        read(vault, "to")


def test_other_mounts_are_configurable(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", vault_kv_mounts="secret, team-kv")
    with run_service(settings) as service:
        client = hvac_client(service, token_for(service, "kv:admin"))
        kv = client.secrets.kv.v2
        kv.create_or_update_secret(path="p", secret={"k": "team"}, mount_point="team-kv")
        kv.create_or_update_secret(path="p", secret={"k": "secret"})
        assert read(client, "p", mount_point="team-kv")["data"]["data"] == {"k": "team"}
        assert read(client, "p")["data"]["data"] == {"k": "secret"}
        scoped = hvac_client(service, token_for(service, "kv:read:team-kv/"))
        assert read(scoped, "p", mount_point="team-kv")["data"]["data"] == {"k": "team"}
        with pytest.raises(hx.Forbidden):
            read(scoped, "p")
        with pytest.raises(hx.InvalidPath):
            kv.create_or_update_secret(path="p", secret={"k": "x"}, mount_point="elsewhere")


def test_a_kv_mount_cannot_take_a_reserved_path(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="transit cannot be a KV mount"):
        make_settings(tmp_path / "data", vault_kv_mounts="secret,transit")


def test_token_self_lookup_and_renewal(
    module_service: Running, shared_vault: hvac.Client, shared_token: str
) -> None:
    service, vault, admin_token = module_service, shared_vault, shared_token
    assert vault.is_authenticated() is True
    looked = vault.auth.token.lookup_self()["data"]
    assert looked["policies"] == ["kv:admin"]
    assert 0 < looked["ttl"] <= looked["creation_ttl"]
    assert looked["renewable"] is False
    renewed = vault.auth.token.renew_self()["auth"]
    assert 0 < renewed["lease_duration"] <= looked["creation_ttl"]
    assert renewed["renewable"] is False
    assert admin_token not in str(looked) + str(renewed)
    bearer = hvac.Client(url=service.url, verify=str(service.ca))
    bearer.session.headers["Authorization"] = f"Bearer {admin_token}"
    assert bearer.adapter.get("/v1/auth/token/lookup-self")["data"]["policies"] == ["kv:admin"]


def test_health_and_the_mount_lookup_of_vaults_command_line(
    module_service: Running, shared_token: str
) -> None:
    service, admin_token = module_service, shared_token
    health = hvac.Client(url=service.url, verify=str(service.ca)).sys.read_health_status(
        method="GET"
    )
    assert (health["initialized"], health["sealed"], health["standby"]) == (True, False, False)
    status, body = curl(service, "GET", "/v1/sys/internal/ui/mounts/secret/app/db", admin_token)
    assert status == 200
    assert (body["data"]["type"], body["data"]["options"], body["data"]["path"]) == (
        "kv",
        {"version": "2"},
        "secret/",
    )
    status, body = curl(service, "GET", "/v1/sys/internal/ui/mounts/transit/keys", admin_token)
    assert (status, body["data"]["type"]) == (200, "transit")
    status, body = curl(service, "GET", "/v1/sys/internal/ui/mounts/other/x", admin_token)
    assert (status, body["errors"][0][:36]) == (403, "preflight capability check returned ")
    assert curl(service, "GET", "/v1/sys/internal/ui/mounts/secret/x") == (
        403,
        {"errors": ["permission denied"]},
    )
    status, body = curl(service, "GET", "/v1/sys/mounts", admin_token)
    assert status == 404
    assert set(body) == {"errors"}


def test_a_request_for_a_huge_path_is_refused_before_any_audit_record_holds_it(service) -> None:
    # Every route checks a path's length before it records a refusal: one request makes
    # no record that log shippers (8 KiB lines) would split or drop.
    reader = token_for(service, "kv:read:secret/app/")
    huge = "ops/" + "x" * 12_000
    answers = [
        curl(service, "GET", f"/v1/secret/data/{huge}", reader),
        curl(service, "LIST", f"/v1/secret/metadata/{huge}", reader),
        curl(service, "GET", f"/v1/secret/metadata/{huge}", reader),
        curl(service, "POST", f"/v1/secret/data/{huge}", reader, {"data": {"k": "v"}}),
        curl(service, "DELETE", f"/v1/secret/metadata/{huge}", reader),
        curl(service, "POST", f"/v1/secret/delete/{huge}", reader, {"versions": [1]}),
        curl(service, "POST", f"/v1/secret/undelete/{huge}", reader, {"versions": [1]}),
        curl(service, "POST", f"/v1/secret/destroy/{huge}", reader, {"versions": [1]}),
        curl(service, "DELETE", f"/v1/secret/data/{huge}", reader),
        curl(service, "POST", f"/v1/secret/metadata/{huge}", reader, {"max_versions": 2}),
        curl(service, "PATCH", f"/v1/secret/data/{huge}", reader, {"data": {"k": "v"}}),
    ]
    assert {status for status, _ in answers} == {400, 405}
    assert max(len(line) for line in service.audit().splitlines()) < 2_000
