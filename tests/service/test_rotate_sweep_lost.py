"""A rotation ending a client's tokens when Redis stops answering after the new secret is
committed, during the second sweep (the password logins through the client that raced the
rotation): the new secret is never lost. ``sealbox clients rotate-secret NAME
--revoke-tokens`` prints it and exits 1 saying the change stands and how to finish it;
``POST /clients/NAME/rotate-secret`` answers it, saying the tokens were ended in part. The
audit log records the rotation either way.

Redis is the real one, reached through a forwarder: while the first sweep writes the
family of the login it read, another login through the client is made (the race the second
sweep is for), and the forwarder closes everything when the second sweep writes that
login's family."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import pytest

from tests._tcp_proxy import Proxy, forwarding
from tests.service._oauth import AuthServer, Registered, auth_server
from tests.service.conftest import PASSWORD, bearer, private_shared_state, register


def _writes_user_family(data: bytes) -> bool:
    """Whether client data to Redis writes a user's refresh family (not a client's)."""
    return b"\r\nSET\r\n" in data and b"jti:family:" in data and b"family:client:" not in data


class CutAtSecond(Proxy):
    """Forwards to ``target``. Once ``armed``, of the client data writing a
    user's family: the first waits for ``meanwhile()``
    before it is sent (the first sweep's, of the login it read); the second (the second
    sweep's, of the login made meanwhile) is not sent, every connection is closed, and
    new ones are closed at once, as a Redis that went away mid-command looks, until
    ``restore()``."""

    def __init__(self, target: tuple[str, int]) -> None:
        super().__init__(target)
        self._seen_lock = threading.Lock()
        self.armed = False
        self.meanwhile: Callable[[], None] = lambda: None
        self.paused = False
        self.seen = 0
        self.watch = self._look

    def url(self, redis: SplitResult) -> str:
        return redis._replace(netloc=f"{redis.hostname}:{self.port}").geturl()

    def restore(self) -> None:
        self.armed = False
        super().restore()

    def _look(self, data: bytes) -> bool:
        if not (self.armed and _writes_user_family(data)):
            return True
        with self._seen_lock:
            self.seen += 1
            if self.seen == 2:
                return False
        if not self.paused:
            self.paused = True
            self.meanwhile()
        return True


@pytest.fixture
def shared() -> Iterator[dict[str, Any]]:
    with private_shared_state("rotsweep") as state:
        yield state


@pytest.fixture
def proxy(shared: dict[str, Any]) -> Iterator[CutAtSecond]:
    with forwarding(str(shared["redis_url"]), CutAtSecond) as (forwarder, _url):
        yield forwarder


def _login(server: AuthServer, client: Registered, answers: list[int]) -> Callable[[], None]:
    """A password login of ann through ``client``; its status goes to ``answers``."""

    def login() -> None:
        form = {"grant_type": "password", "username": "ann", "password": PASSWORD}
        with server.client() as c:
            answers.append(c.post("/auth/token", data=form, headers=client.basic).status_code)

    return login


def cli_env(shared: dict[str, Any], proxy: CutAtSecond) -> dict[str, str]:
    """The environment of a ``sealbox clients`` command on the service's state, its Redis
    reached through ``proxy``."""
    return {
        "SEALBOX_DATABASE_URL": str(shared["database_url"]),
        "SEALBOX_REDIS_URL": proxy.url(urlsplit(str(shared["redis_url"]))),
        "SEALBOX_REDIS_PREFIX": str(shared["redis_prefix"]),
    }


def _arm(proxy: CutAtSecond, server: AuthServer, client: Registered) -> list[int]:
    answers: list[int] = []
    with server.client() as c:
        register(c, "ann")
    _login(server, client, answers)()  # a login through the client, the first sweep reads
    proxy.armed = True
    # Another login while the first sweep writes that family: one it does not see.
    proxy.meanwhile = _login(server, client, answers)
    return answers


def _rotations(data: Path) -> list[str]:
    records = [json.loads(line) for line in (data / "audit.log").read_text().splitlines()]
    return [r["detail"] for r in records if r["event"] == "client_rotate"]


def test_the_command_line_shows_the_new_secret_when_redis_stops_during_the_second_sweep(
    tmp_path: Path, shared: dict[str, Any], proxy: CutAtSecond, cli
) -> None:
    with auth_server(tmp_path, **shared) as server:
        client = server.register("reporting", "users:me")
        logins = _arm(proxy, server, client)
        data = server.svc.settings.data_dir
        env = cli_env(shared, proxy)
        args = ["clients", "rotate-secret", "reporting", "--revoke-tokens", "--json"]
        r = cli([*args, "--data-dir", data], env=env)
        assert logins == [200, 200]
        assert (proxy.paused, proxy.seen) == (True, 2)  # the second sweep was cut
        assert r.code == 1, r.stderr
        secret = json.loads(r.out)["client_secret"]
        assert secret and secret != client.secret
        assert "the secret is shown this once" in r.stderr
        assert "sealbox: error: the access tokens of client 'reporting' cannot be refused" in (
            r.stderr
        )
        assert "; the change is made, but the sessions of the password logins" in r.stderr
        assert "sealbox: hint: the change stands, and any new secret is the one shown" in (r.stderr)
        assert secret not in r.stderr
        # The secret shown is the client's now: it gets a token, the old one does not.
        renewed = Registered(client.name, client.client_id, secret)
        assert server.client_token(renewed).status_code == 200
        assert server.client_token(client).status_code == 401
        # Recorded in its transaction, then what the sweep after the commit left undone.
        assert _rotations(data) == [
            f"reporting ({client.client_id}); command line; tokens ended",
            f"reporting ({client.client_id}); command line; tokens ended in part",
        ]


def test_the_rotate_route_answers_the_new_secret_when_redis_stops_during_the_second_sweep(
    tmp_path: Path, shared: dict[str, Any], proxy: CutAtSecond
) -> None:
    proxied = {**shared, "redis_url": proxy.url(urlsplit(str(shared["redis_url"])))}
    with auth_server(tmp_path, **proxied) as server:
        admin = server.register("admin", "clients:admin", "users:me")
        token = server.client_token(admin).json()["access_token"]
        client = server.register("reporting", "users:me")
        logins = _arm(proxy, server, client)
        with server.client() as c:
            answer = c.post(
                "/clients/reporting/rotate-secret",
                json={"revoke_tokens": True},
                headers=bearer(token),
            )
        assert logins == [200, 200]
        assert (proxy.paused, proxy.seen) == (True, 2)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["tokens_ended"] == "in part"
        proxy.restore()
        renewed = Registered(client.name, client.client_id, body["client_secret"])
        assert server.client_token(renewed).status_code == 200
        assert _rotations(server.svc.settings.data_dir) == [
            "reporting; tokens ended",
            "reporting; tokens ended in part",
        ]
