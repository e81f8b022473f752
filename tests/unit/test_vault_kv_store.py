"""The KV v2 engine's rules on a real SQLite database, without HTTP."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from sealbox.exceptions import DecryptionError
from sealbox.service.db import make_engine, migrate, sessionmaker
from sealbox.service.vault.kv_store import (
    DEFAULT_MAX_VERSIONS,
    CheckAndSetError,
    KVStore,
    SecretNotFoundError,
)

MASTER = os.urandom(32)
CANARY = "canary-kv-store-value-0c7d"


def run(tmp_path: Path, scenario) -> None:
    async def main() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'kv.db'}")
        await migrate(engine)
        try:
            await scenario(KVStore(sessionmaker(engine), MASTER))
        finally:
            await engine.dispose()

    asyncio.run(main())


def test_concurrent_writes_make_one_version_each(tmp_path: Path) -> None:
    async def scenario(store: KVStore) -> None:
        written = await asyncio.gather(
            *(store.write("secret", "busy", {"n": n}) for n in range(12))
        )
        assert sorted(w["version"] for w in written) == list(range(1, 13))
        meta = await store.metadata("secret", "busy")
        assert meta["current_version"] == 12
        assert meta["oldest_version"] == 12 - DEFAULT_MAX_VERSIONS + 1
        assert len(meta["versions"]) == DEFAULT_MAX_VERSIONS

    run(tmp_path, scenario)


def test_concurrent_check_and_set_lets_one_writer_win(tmp_path: Path) -> None:
    async def scenario(store: KVStore) -> None:
        await store.write("secret", "cas", {"n": 0})
        outcomes = await asyncio.gather(
            *(store.write("secret", "cas", {"n": n}, cas=1) for n in range(8)),
            return_exceptions=True,
        )
        won = [o for o in outcomes if isinstance(o, dict)]
        lost = [o for o in outcomes if isinstance(o, CheckAndSetError)]
        assert len(won) == 1
        assert won[0]["version"] == 2
        assert len(lost) == 7
        assert all("did not match" in str(e) for e in lost)

    run(tmp_path, scenario)


def test_a_value_opens_only_where_it_was_written(tmp_path: Path) -> None:
    async def scenario(store: KVStore) -> None:
        await store.write("secret", "a", {"k": CANARY})
        other = KVStore(store._sessions, os.urandom(32))
        with pytest.raises(DecryptionError, match="cannot open the KV secret"):
            await other.read("secret", "a")
        found = await store.read("secret", "a")
        assert found.data == {"k": CANARY}
        assert CANARY not in repr(found)

    run(tmp_path, scenario)


def test_metadata_alone_then_check_and_set_zero(tmp_path: Path) -> None:
    async def scenario(store: KVStore) -> None:
        await store.write_metadata("secret", "pre", cas_required=True, max_versions=3)
        with pytest.raises(CheckAndSetError, match="required"):
            await store.write("secret", "pre", {"k": 1})
        with pytest.raises(SecretNotFoundError) as missing:
            await store.read("secret", "pre")
        assert missing.value.metadata is None
        assert (await store.write("secret", "pre", {"k": 1}, cas=0))["version"] == 1
        assert await store.list_folder("secret", "") == ["pre"]

    run(tmp_path, scenario)


def test_the_engine_imports_no_web_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys, sealbox.service.vault.kv_store; "
        "print(sorted(m for m in ('fastapi', 'starlette') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
