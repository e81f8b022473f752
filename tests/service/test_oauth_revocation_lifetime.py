"""How long a revoked access token stays revoked (RFC 7009 §2): past its ``exp`` by more
than the leeway the service still accepts it with, on SQLite and on PostgreSQL with Redis.

A revocation kept only until ``exp`` is forgotten (Redis expires the key, another worker
or a restart reads the lists without it) while the verifier still takes the token for
its leeway: the revoked token would work again for those seconds.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from sealbox.accounts.core import LEEWAY
from sealbox.service.db import make_engine
from sealbox.service.settings import ServiceSettings
from tests.service._oauth import AuthServer, auth_server_on
from tests.service.conftest import REDIS_URL, bearer, login, register


@pytest.fixture(params=["sqlite", "postgres"])
def authz(request, tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server_on(request.param, tmp_path, "revocation_lifetime") as server:
        yield server


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _recorded_until(settings: ServiceSettings, jti: str) -> float:
    """When the database lets the revocation of ``jti`` go (seconds since the epoch)."""

    async def read() -> Any:
        engine = make_engine(settings.resolved_database_url())
        try:
            async with engine.connect() as conn:
                row = await conn.execute(
                    text("SELECT expires_at FROM revoked_tokens WHERE jti = :jti"), {"jti": jti}
                )
                return row.scalar_one()
        finally:
            await engine.dispose()

    value = asyncio.run(read())
    if isinstance(value, str):  # SQLite: text without a zone, in UTC
        value = datetime.fromisoformat(value)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _redis_until(settings: ServiceSettings, jti: str) -> float:
    """When Redis lets the revocation of ``jti`` go (seconds since the epoch)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        at = client.execute_command("EXPIRETIME", f"{settings.redis_prefix}jti:{jti}")
    finally:
        client.close()
    assert at > 0, "the revocation is not in Redis"
    return float(at)


def _revoked_until(authz: AuthServer, token: str, revoke_with: dict[str, str]) -> list[float]:
    with authz.client() as c:
        assert c.post("/auth/revoke", data={"token": token}, headers=revoke_with).status_code == 200
    settings, jti = authz.svc.settings, _claims(token)["jti"]
    kept = [_recorded_until(settings, jti)]
    if settings.redis_url is not None:
        kept.append(_redis_until(settings, jti))
    return kept


def test_a_revoked_client_token_stays_revoked_while_the_leeway_still_accepts_it(authz) -> None:
    client = authz.register("reporting", "transit:admin")
    token = authz.client_token(client).json()["access_token"]
    accepted_until = _claims(token)["exp"] + LEEWAY
    for until in _revoked_until(authz, token, client.basic):
        assert until >= accepted_until, (until, accepted_until)
    with authz.client() as c:
        assert c.get("/v1/keys", headers=bearer(token)).status_code == 401


def test_a_revoked_users_access_token_stays_revoked_while_the_leeway_still_accepts_it(
    authz,
) -> None:
    rs = authz.register("resource-server", "tokens:revoke")
    with authz.client() as c:
        register(c, "alice")
        token = login(c, "alice").json()["access_token"]
    accepted_until = _claims(token)["exp"] + LEEWAY
    for until in _revoked_until(authz, token, rs.basic):
        assert until >= accepted_until, (until, accepted_until)
