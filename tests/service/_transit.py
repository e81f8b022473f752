"""Helpers for the transit tests: accounts with scopes, tokens, key material from the database."""

from __future__ import annotations

import asyncio
import base64
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from sealbox.accounts.store import Store
from sealbox.passwords import PasswordHasher
from sealbox.service.db import make_engine, sessionmaker
from sealbox.service.provision import DataDir
from sealbox.service.settings import ServiceSettings
from sealbox.transit import OPERATIONS
from tests.service.conftest import PASSWORD, Running, bearer, login

ALL_SCOPES = ("transit:admin", *(f"transit:{op}:*" for op in OPERATIONS))

_names = itertools.count(1)
_HASH = PasswordHasher("test").hash(PASSWORD)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def add_user(settings: ServiceSettings, name: str, scopes: list[str]) -> None:
    """Create an account with exactly ``scopes`` (as ``sealbox users create`` does)."""

    async def create() -> None:
        engine = make_engine(settings.resolved_database_url())
        try:
            await Store(sessionmaker(engine), refresh_ttl=60).create_user(name, _HASH, scopes)
        finally:
            await engine.dispose()

    asyncio.run(create())


def key_material(settings: ServiceSettings, name: str) -> dict[int, bytes]:
    """Every version's material of key ``name``, opened with the master key (for canaries)."""
    from sqlalchemy import select

    from sealbox.service.db import TransitKeyRecord, TransitKeyVersionRecord
    from sealbox.transit import open_material

    master = DataDir(settings.data_dir).master_key()

    async def read() -> dict[int, bytes]:
        engine = make_engine(settings.resolved_database_url())
        try:
            async with sessionmaker(engine)() as session:
                record = (
                    await session.execute(
                        select(TransitKeyRecord).where(TransitKeyRecord.name == name)
                    )
                ).scalar_one()
                rows = (
                    await session.execute(
                        select(TransitKeyVersionRecord).where(
                            TransitKeyVersionRecord.key_id == record.id
                        )
                    )
                ).scalars()
                out = {}
                for row in rows:
                    raw = open_material(master, name, record.type, row.version, row.material)
                    assert raw not in row.material
                    out[row.version] = raw
                return out
        finally:
            await engine.dispose()

    return asyncio.run(read())


def material_forms(raw: bytes) -> list[str]:
    """How key material could show in text: hex, base64 (both alphabets), PEM body lines."""
    forms = [raw.hex(), raw.hex().upper()]
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        forms.append(enc(raw).decode().rstrip("="))
    if raw.startswith(b"-----BEGIN"):
        body = [line for line in raw.decode().splitlines() if not line.startswith("-----")]
        forms += [line for line in body if len(line) >= 16]
        der = base64.b64decode("".join(body))
        forms += [der[-32:].hex(), base64.b64encode(der[-33:]).decode()[:40]]
    return forms


@dataclass
class Transit:
    """A running service, one client on it, and accounts made on demand."""

    service: Running
    client: httpx2.Client
    responses: list[str] = field(default_factory=list)

    @property
    def settings(self) -> ServiceSettings:
        return self.service.settings

    def headers(self, *scopes: str) -> dict[str, str]:
        """A bearer header for a new account holding exactly ``scopes``."""
        name = f"user{next(_names)}"
        add_user(self.settings, name, list(scopes))
        token = login(self.client, name).json()["access_token"]
        return bearer(token)

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None):
        return self.client.post(path, json=body if body is not None else {}, headers=headers)

    def audit(self) -> str:
        return Path(self.settings.data_dir, "audit.log").read_text()
