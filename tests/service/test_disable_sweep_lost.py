"""Disabling a client when Redis stops answering after the disable is committed, during the
second sweep (the password logins through the client that raced it): the disable stands,
and the caller is told so, and that the tokens were ended in part, as for a rotation ending
the tokens (:mod:`tests.service.test_rotate_sweep_lost`, whose forwarder cuts Redis here
too). ``POST /clients/NAME/disable`` answers 200 with ``"tokens_ended": "in part"`` (not a
503, which would say nothing was done); ``sealbox clients disable NAME`` exits 1 with code
``tokens_partly_ended`` and a hint. The audit log records the disable either way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests._tcp_proxy import forwarding
from tests.service._oauth import auth_server
from tests.service.conftest import bearer, private_shared_state
from tests.service.test_rotate_sweep_lost import CutAtSecond, _arm, cli_env


@pytest.fixture
def shared() -> Iterator[dict[str, Any]]:
    with private_shared_state("dissweep") as state:
        yield state


@pytest.fixture
def proxy(shared: dict[str, Any]) -> Iterator[CutAtSecond]:
    with forwarding(str(shared["redis_url"]), CutAtSecond) as (forwarder, _url):
        yield forwarder


def _disables(data: Path) -> list[str]:
    records = [json.loads(line) for line in (data / "audit.log").read_text().splitlines()]
    return [r["detail"] for r in records if r["event"] == "client_disable"]


def test_the_disable_route_says_the_client_is_disabled_when_redis_stops_during_the_second_sweep(
    tmp_path: Path, shared: dict[str, Any], proxy: CutAtSecond
) -> None:
    proxied = {**shared, "redis_url": proxy.url(urlsplit(str(shared["redis_url"])))}
    with auth_server(tmp_path, **proxied) as server:
        admin = server.register("admin", "clients:admin", "users:me")
        token = server.client_token(admin).json()["access_token"]
        client = server.register("reporting", "users:me")
        logins = _arm(proxy, server, client)
        with server.client() as c:
            answer = c.post("/clients/reporting/disable", headers=bearer(token))
        assert logins == [200, 200]
        assert (proxy.paused, proxy.seen) == (True, 2)  # the second sweep was cut
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["name"], body["disabled"], body["tokens_ended"]) == (
            "reporting",
            True,
            "in part",
        )
        proxy.restore()
        assert server.client_token(client).status_code == 401  # disabled: it stands
        # Recorded in its transaction, then what the sweep after the commit left undone.
        assert _disables(server.svc.settings.data_dir) == [
            "reporting; tokens ended",
            "reporting; tokens ended in part",
        ]


def test_a_disable_with_every_sweep_made_says_nothing_of_tokens_ended_in_part(
    tmp_path: Path, shared: dict[str, Any]
) -> None:
    with auth_server(tmp_path, **shared) as server:
        admin = server.register("admin", "clients:admin", "users:me")
        token = server.client_token(admin).json()["access_token"]
        server.register("reporting", "users:me")
        with server.client() as c:
            answer = c.post("/clients/reporting/disable", headers=bearer(token))
        assert answer.status_code == 200, answer.text
        assert answer.json()["disabled"] is True
        assert "tokens_ended" not in answer.json()
        assert _disables(server.svc.settings.data_dir) == ["reporting; tokens ended"]


def test_the_command_line_says_the_client_is_disabled_when_redis_stops_during_the_second_sweep(
    tmp_path: Path, shared: dict[str, Any], proxy: CutAtSecond, cli
) -> None:
    with auth_server(tmp_path, **shared) as server:
        client = server.register("reporting", "users:me")
        logins = _arm(proxy, server, client)
        data = server.svc.settings.data_dir
        env = cli_env(shared, proxy)
        r = cli(["clients", "disable", "reporting", "--data-dir", data], env=env)
        assert logins == [200, 200]
        assert (proxy.paused, proxy.seen) == (True, 2)
        assert r.code == 1, r.stderr
        assert "sealbox: error: the access tokens of client 'reporting' cannot be refused" in (
            r.stderr
        )
        assert "; the change is made, but the sessions of the password logins" in r.stderr
        assert "sealbox: hint: the change stands" in r.stderr
        assert server.client_token(client).status_code == 401  # disabled: it stands
        assert _disables(data) == [
            f"reporting ({client.client_id}); command line; tokens ended",
            f"reporting ({client.client_id}); command line; tokens ended in part",
        ]
