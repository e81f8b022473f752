"""KV version 2's ``delete_version_after`` on ``sealbox serve``: Vault's durations taken
and shown as Vault shows them, each version written with its deletion time, and a
version whose deletion time has passed read as deleted (real hvac and raw JSON, on
SQLite and on PostgreSQL with Redis).

A deletion time is made to have passed by moving the version's times back in the
database, as the hours going by would: the tests never wait for the clock.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import hvac.exceptions as hx
import pytest

from tests.service._vault import data_of, hvac_client, read, token_for
from tests.service.conftest import Running

PATH = "/v1/secret/metadata/{}"
REFUSED = (
    "delete_version_after must be a duration such as 30m, 1h30m or 768h, "
    "or whole seconds, and not negative"
)


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    return module_service


@pytest.fixture(scope="module")
def token(service: Running) -> str:
    return token_for(service, "kv:admin")


def send(service: Running, token: str, method: str, path: str, body: Any = None):
    content = None if body is None else json.dumps(body).encode()
    headers = {"X-Vault-Token": token, "Content-Type": "application/json"}
    with service.client() as client:
        answer = client.request(method, path, content=content, headers=headers)
    return answer.status_code, (answer.json() if answer.content else None)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _move_back(service: Running, path: str, by: timedelta) -> None:
    """Move every time of ``path``'s versions ``by`` into the past."""
    from sqlalchemy import select, update

    from sealbox.service.db import make_engine, sessionmaker
    from sealbox.service.vault.kv_store import KVSecretRecord, KVVersionRecord

    async def move() -> None:
        engine = make_engine(service.settings.resolved_database_url())
        try:
            async with sessionmaker(engine).begin() as session:
                secret_id = (
                    await session.execute(
                        select(KVSecretRecord.id).where(KVSecretRecord.path == path)
                    )
                ).scalar_one()
                rows = (
                    await session.execute(
                        select(KVVersionRecord).where(KVVersionRecord.secret_id == secret_id)
                    )
                ).scalars()
                for row in list(rows):
                    await session.execute(
                        update(KVVersionRecord)
                        .where(
                            KVVersionRecord.secret_id == secret_id,
                            KVVersionRecord.version == row.version,
                        )
                        .values(
                            created_at=row.created_at - by,
                            deleted_at=None if row.deleted_at is None else row.deleted_at - by,
                        )
                    )
        finally:
            await engine.dispose()

    asyncio.run(move())


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("30m", "30m0s"),
        ("1h30m", "1h30m0s"),
        ("768h", "768h0m0s"),
        ("1.5h", "1h30m0s"),
        ("7d", "168h0m0s"),
        ("45", "45s"),
        (90, "1m30s"),
        ("0s", "0s"),
        ("", "0s"),
    ],
)
def test_delete_version_after_takes_go_durations_and_seconds_and_shows_them_as_vault_does(
    service: Running, token: str, given: Any, shown: str
) -> None:
    path = f"dva-{given!r}".replace("'", "").replace(".", "_") or "dva-empty"
    body = {"delete_version_after": given}
    assert send(service, token, "POST", PATH.format(path), body) == (204, None)
    status, meta = send(service, token, "GET", PATH.format(path))
    assert status == 200
    assert data_of(meta)["delete_version_after"] == shown


@pytest.mark.parametrize("given", [1.0, 1.5, "1.0", "-1h", -5, "x", "1 h", True, [1], {"s": 1}])
def test_a_delete_version_after_vault_refuses_is_refused_with_400(
    service: Running, token: str, given: Any
) -> None:
    # Vault reads JSON numbers as their text: 1.0 is neither whole seconds nor a duration.
    status, body = send(
        service, token, "POST", PATH.format("dva-refused"), {"delete_version_after": given}
    )
    assert status == 400
    assert body == {"errors": [REFUSED]}


def test_a_version_is_written_with_its_deletion_time_and_reads_until_it_passes(
    service: Running, token: str
) -> None:
    vault = hvac_client(service, token)
    kv = vault.secrets.kv.v2
    kv.update_metadata(path="expiring", delete_version_after="1h")
    written = kv.create_or_update_secret(path="expiring", secret={"k": "v1"})["data"]
    assert _when(written["deletion_time"]) - _when(written["created_time"]) == timedelta(hours=1)
    answer = read(vault, "expiring")["data"]
    assert answer["data"] == {"k": "v1"}  # the deletion time is still to come
    assert answer["metadata"]["deletion_time"] == written["deletion_time"]

    _move_back(service, "expiring", timedelta(hours=2))
    with pytest.raises(hx.InvalidPath):
        read(vault, "expiring")
    status, body = send(service, token, "GET", "/v1/secret/data/expiring")
    assert status == 404
    assert body["data"]["data"] is None
    assert body["data"]["metadata"]["deletion_time"] != ""

    kv.undelete_secret_versions(path="expiring", versions=[1])
    assert read(vault, "expiring")["data"]["data"] == {"k": "v1"}


def test_deleting_a_version_whose_deletion_time_is_to_come_deletes_it_now(
    service: Running, token: str
) -> None:
    vault = hvac_client(service, token)
    kv = vault.secrets.kv.v2
    kv.update_metadata(path="expiring-later", delete_version_after="768h")
    written = kv.create_or_update_secret(path="expiring-later", secret={"k": "v"})["data"]
    kv.delete_secret_versions(path="expiring-later", versions=[1])
    with pytest.raises(hx.InvalidPath):
        read(vault, "expiring-later")
    meta = kv.read_secret_metadata(path="expiring-later")["data"]
    assert _when(meta["versions"]["1"]["deletion_time"]) < _when(written["deletion_time"])


def test_versions_written_before_delete_version_after_keep_no_deletion_time(
    service: Running, token: str
) -> None:
    vault = hvac_client(service, token)
    kv = vault.secrets.kv.v2
    kv.create_or_update_secret(path="before", secret={"k": "old"})
    kv.update_metadata(path="before", delete_version_after="1h")
    kv.create_or_update_secret(path="before", secret={"k": "new"})
    versions = kv.read_secret_metadata(path="before")["data"]["versions"]
    assert versions["1"]["deletion_time"] == ""
    assert versions["2"]["deletion_time"] != ""
    _move_back(service, "before", timedelta(hours=2))
    assert read(vault, "before", version=1)["data"]["data"] == {"k": "old"}
