"""At the floor of ``redis`` too: a pooled connection Redis closed while it sat idle (a
restart, its idle ``timeout``, a failover) is replaced at the next call, not handed out
to fail it. redis-py 5.0.1 to 5.0.7 and 8.1.0 hand it out: every request after Redis came
back was refused 503 once per such connection."""

from __future__ import annotations

import asyncio

import pytest

from sealbox.accounts.redis_client import connect
from tests._tcp_proxy import proxy_to

pytestmark = pytest.mark.redis


def test_a_connection_redis_closed_while_idle_is_replaced_at_the_next_call() -> None:
    async def run() -> None:
        with proxy_to("127.0.0.1", 6379) as proxy:
            client, _ = connect(f"redis://127.0.0.1:{proxy.port}/15")
            try:
                assert await client.ping()
                proxy.cut()  # Redis closes every connection, and is back at once
                proxy.restore()
                await asyncio.sleep(0.2)  # the close has reached the client
                assert await client.ping()
            finally:
                await client.aclose()

    asyncio.run(run())
