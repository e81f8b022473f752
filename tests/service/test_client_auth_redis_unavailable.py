"""A client authentication needs the Redis of ``SEALBOX_REDIS_URL`` (its attempt is counted
there before the secret is checked): while Redis does not answer, the token endpoint,
revocation and introspection refuse it with 503 ``store_unavailable`` and ``Retry-After``
— never a token, never ``invalid_client`` (the secret is right), never a 500 — say nothing
of Redis's address or of the secret, and the same client authenticates as soon as Redis
answers again. Real PostgreSQL and Redis, reached through a forwarder the test cuts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sealbox.accounts import redis_client
from sealbox.service.client_admin import create_client
from tests._tcp_proxy import Proxy, proxy_to
from tests.service._oauth import Registered
from tests.service.conftest import (
    Running,
    make_settings,
    private_shared_state,
    run_service,
)


@pytest.fixture(scope="module")
def cut_off(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Running, Proxy, Registered]]:
    # A short socket timeout, so that a Redis that never answers is given up on soon.
    with (
        pytest.MonkeyPatch.context() as patch,
        private_shared_state("client_auth_redis_down") as shared,
        proxy_to("127.0.0.1", 6379) as proxy,
    ):
        patch.setattr(redis_client, "SOCKET_TIMEOUT", 1.0)
        shared["redis_url"] = f"redis://127.0.0.1:{proxy.port}/15"
        data = tmp_path_factory.mktemp("client-auth-redis-down") / "data"
        with run_service(make_settings(data, **shared)) as svc:
            made = create_client(svc.settings, "worker", ["orders:read"])
            assert made.secret is not None
            worker = Registered("worker", made.client.client_id, made.secret.expose_secret())
            yield svc, proxy, worker


def _refused(answer: Any, proxy: Proxy, worker: Registered) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "store_unavailable"
    assert answer.headers["retry-after"] == "5"
    assert "access_token" not in answer.text
    assert "127.0.0.1" not in answer.text and str(proxy.port) not in answer.text
    assert worker.secret is not None and worker.secret not in answer.text


def _grant(c: Any, worker: Registered) -> Any:
    return c.post("/auth/token", data={"grant_type": "client_credentials"}, headers=worker.basic)


def _posted_secret(c: Any, worker: Registered) -> Any:
    # client_secret_post: the same check, the credentials in the form.
    return c.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": worker.client_id,
            "client_secret": worker.secret,
        },
    )


@pytest.mark.parametrize("failure", ["cut", "hang"])
def test_a_client_authentication_is_refused_with_503_while_redis_does_not_answer(
    cut_off: tuple[Running, Proxy, Registered], failure: str
) -> None:
    svc, proxy, worker = cut_off
    with svc.client() as c:
        token = _grant(c, worker).json()["access_token"]
        getattr(proxy, failure)()
        try:
            _refused(_grant(c, worker), proxy, worker)
            _refused(_posted_secret(c, worker), proxy, worker)
            _refused(
                c.post("/auth/introspect", data={"token": token}, headers=worker.basic),
                proxy,
                worker,
            )
            _refused(
                c.post("/auth/revoke", data={"token": token}, headers=worker.basic),
                proxy,
                worker,
            )
        finally:
            proxy.restore()
        again = _grant(c, worker)
        assert again.status_code == 200, again.text
        seen = c.post("/auth/introspect", data={"token": token}, headers=worker.basic)
    assert seen.status_code == 200, seen.text
    assert seen.json()["active"] is True  # the refused revocation revoked nothing
