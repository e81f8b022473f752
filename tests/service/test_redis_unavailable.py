"""When the service's Redis stops answering mid-flight, it fails closed with 503
``store_unavailable`` (never a 500, never a token let through), says nothing of Redis's
address, deletes no client whose tokens it could not refuse, and serves again as soon as
Redis answers. Real PostgreSQL and Redis, reached through a forwarder the test cuts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sealbox.accounts import redis_client
from sealbox.service.admin import create_user
from sealbox.service.client_admin import create_client, list_clients
from tests._tcp_proxy import Proxy, proxy_to
from tests.service.conftest import (
    PASSWORD,
    Running,
    bearer,
    login,
    make_settings,
    private_shared_state,
    run_service,
)


@pytest.fixture(scope="module")
def cut_off(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Proxy]]:
    # The clients' default socket timeout, made short (a request to a Redis that never
    # answers waits it out): it still comes from connect(), the URL names none.
    with (
        pytest.MonkeyPatch.context() as patch,
        private_shared_state("redis_down") as shared,
        proxy_to("127.0.0.1", 6379) as proxy,
    ):
        patch.setattr(redis_client, "SOCKET_TIMEOUT", 1.0)
        shared["redis_url"] = f"redis://127.0.0.1:{proxy.port}/15"
        data = tmp_path_factory.mktemp("redis-down") / "data"
        with run_service(make_settings(data, **shared)) as svc:
            create_user(svc.settings, "root", lambda _n: PASSWORD, ["clients:admin"])
            yield svc, proxy


def _refused(answer, proxy: Proxy) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "store_unavailable"
    assert answer.headers["retry-after"] == "5"
    assert "127.0.0.1" not in answer.text and str(proxy.port) not in answer.text


def test_requests_needing_redis_are_refused_with_503_while_it_is_gone(
    cut_off: tuple[Running, Proxy],
) -> None:
    svc, proxy = cut_off
    with svc.client() as c:
        token = login(c, "root").json()["access_token"]
        assert c.get("/users/me", headers=bearer(token)).status_code == 200
        proxy.cut()
        try:
            _refused(c.get("/users/me", headers=bearer(token)), proxy)  # the lean entry
            _refused(c.get("/clients", headers=bearer(token)), proxy)  # a FastAPI route
            _refused(c.post("/auth/token", data={"username": "root", "password": PASSWORD}), proxy)
        finally:
            proxy.restore()
        assert c.get("/users/me", headers=bearer(token)).status_code == 200
        assert login(c, "root").status_code == 200


def test_requests_needing_a_redis_that_accepts_and_never_answers_are_refused_with_503(
    cut_off: tuple[Running, Proxy],
) -> None:
    # Without a socket timeout of its own the client waits for ever: the test client's
    # (20 s) would give up first, and the request would hold its worker meanwhile.
    svc, proxy = cut_off
    with svc.client() as c:
        token = login(c, "root").json()["access_token"]
        proxy.hang()
        try:
            _refused(c.get("/users/me", headers=bearer(token)), proxy)  # revocations' client
            _refused(c.post("/auth/token", data={"username": "root", "password": "x"}), proxy)
        finally:
            proxy.restore()
        assert c.get("/users/me", headers=bearer(token)).status_code == 200


def test_a_client_deletion_sent_while_redis_is_gone_keeps_the_client_until_it_answers(
    cut_off: tuple[Running, Proxy],
) -> None:
    svc, proxy = cut_off
    create_client(svc.settings, "doomed", ["kv:read:secret/"])
    with svc.client() as c:
        token = login(c, "root").json()["access_token"]
        proxy.cut()
        try:
            _refused(c.delete("/clients/doomed", headers=bearer(token)), proxy)
        finally:
            proxy.restore()
        assert "doomed" in {client.name for client in list_clients(svc.settings)}
        assert c.delete("/clients/doomed", headers=bearer(token)).status_code == 204
    assert "doomed" not in {client.name for client in list_clients(svc.settings)}


def test_a_client_whose_tokens_redis_cannot_refuse_is_kept_over_http(
    cut_off: tuple[Running, Proxy],
) -> None:
    # Redis answers the token check (MGET) but not the refusal (SET): the deletion has
    # checked its caller, then cannot refuse the client's tokens, and deletes nothing.
    svc, proxy = cut_off
    create_client(svc.settings, "half-doomed", ["kv:read:secret/"])
    with svc.client() as c:
        token = login(c, "root").json()["access_token"]
        proxy.drop_on = b"$3\r\nSET\r\n"
        try:
            _refused(c.delete("/clients/half-doomed", headers=bearer(token)), proxy)
            assert c.get("/users/me", headers=bearer(token)).status_code == 200
        finally:
            proxy.drop_on = None
        assert "half-doomed" in {client.name for client in list_clients(svc.settings)}
        assert c.delete("/clients/half-doomed", headers=bearer(token)).status_code == 204
    assert "half-doomed" not in {client.name for client in list_clients(svc.settings)}
