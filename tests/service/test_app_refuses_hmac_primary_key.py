"""An app served without ``sealbox serve`` (a program calling ``create_app(settings)`` and
its own server, or opening a :class:`Runtime`) refuses a signing keyset whose primary key
is an HMAC key at start, with the error ``prepare()`` gives: it would otherwise sign every
token with a key the service verifies nothing with, and answer 401 after each sign-in."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sealbox.exceptions import ConfigError
from sealbox.service.app import create_app
from sealbox.service.runtime import Runtime
from tests.service.conftest import make_settings
from tests.service.test_service_hmac_key_not_verified import _primary_hmac


def _expected(data: Path, kid: str) -> dict[str, str]:
    return {"key_id": kid, "algorithm": "HS256", "folder": str(data), "failed": "primary"}


def test_create_app_refuses_to_start_when_the_primary_key_is_an_hmac_key(tmp_path: Path) -> None:
    data, kid = _primary_hmac(tmp_path)
    app = create_app(make_settings(data))

    async def start() -> None:
        # What a server runs at start: the app's lifespan.
        async with app.router.lifespan_context(app):
            pytest.fail("the app started with an HMAC primary key")

    with pytest.raises(ConfigError) as info:
        asyncio.run(start())
    assert info.value.code == "service_key_symmetric"
    assert info.value.facts == _expected(data, kid)
    assert f"the primary key {kid} of the signing keyset" in str(info.value)


def test_runtime_open_refuses_an_hmac_primary_key(tmp_path: Path) -> None:
    data, kid = _primary_hmac(tmp_path)
    with pytest.raises(ConfigError) as info:
        asyncio.run(Runtime.open(make_settings(data)))
    assert info.value.code == "service_key_symmetric"
    assert info.value.facts == _expected(data, kid)
