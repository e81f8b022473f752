"""A read lost to a kept-alive connection that Vault closed is sent again, once, on a new
connection; a write never is, nor a read that failed any other way.

A raw server on 127.0.0.1 (tests/_slow_server.py) answers the first request on each
connection as Vault's KV v2 does, without ``Connection: close``, and closes the connection
without answering when the next request comes on it (an orderly close, or a reset): what
Vault or a load balancer whose idle timeout fires as sealbox reuses the connection does.
hvac and requests talk to it for real.
"""

from __future__ import annotations

import json

import pytest

from sealbox.exceptions import SecretSourceError
from sealbox.secrets import VaultKV2Source
from sealbox.secrets.vault_http import session
from tests._slow_server import RawServer, Send

pytest.importorskip("hvac")

TOKEN = "hvs.reconnect-canary-token-7d2e"
VALUE = "reconnect-canary-value-41b8"

_READ = json.dumps(
    {
        "data": {
            "data": {"API_KEY": VALUE},
            "metadata": {"version": 1, "created_time": "2024-01-01T00:00:00Z"},
        }
    }
).encode()
_WRITTEN = json.dumps({"data": {"version": 2, "created_time": "2024-01-01T00:00:00Z"}}).encode()


def _vault_answer(srv: list[RawServer]):
    def answer(send: Send) -> None:
        body = _WRITTEN if srv[0].requests[-1].startswith(b"POST ") else _READ
        send(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    return answer


def _methods(srv: RawServer) -> list[str]:
    return [head.split(b" ", 1)[0].decode() for head in srv.requests]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path) -> None:
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_read_on_a_connection_vault_closed_is_sent_again_on_a_new_one(how) -> None:
    holder: list[RawServer] = []
    with RawServer(_vault_answer(holder), drop_reused=how) as srv:
        holder.append(srv)
        source = VaultKV2Source(srv.url, "app", token=TOKEN, retries=0)
        assert source.lookup("API_KEY").expose_secret() == VALUE
        source.reload()
        assert source.lookup("API_KEY").expose_secret() == VALUE
        # The second read went out on connection 0, which was closed unanswered; what
        # Vault received is two reads, the second on a new connection.
        assert srv.dropped == [0]
        assert _methods(srv) == ["GET", "GET"]
        assert srv.connections == [0, 1]
        assert all(b"/v1/secret/data/app" in head for head in srv.requests)


def test_a_read_over_tls_on_a_connection_vault_closed_is_sent_again(
    vault_ca, vault_ca_file
) -> None:
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    vault_ca.issue_cert("127.0.0.1").configure_cert(context)
    holder: list[RawServer] = []
    with RawServer(_vault_answer(holder), context, drop_reused="close") as srv:
        holder.append(srv)
        source = VaultKV2Source(srv.url, "app", token=TOKEN, ca=vault_ca_file)
        assert source.lookup("API_KEY").expose_secret() == VALUE
        source.reload()
        assert source.lookup("API_KEY").expose_secret() == VALUE
        assert srv.dropped == [0]
        assert srv.connections == [0, 1]


@pytest.mark.parametrize("method", ["GET", "HEAD", "LIST"])
def test_each_read_method_is_sent_again_after_the_close(method) -> None:
    holder: list[RawServer] = []
    with RawServer(_vault_answer(holder), drop_reused="reset") as srv:
        holder.append(srv)
        http = session(False)
        url = f"{srv.url}/v1/secret/metadata/app"
        assert http.request(method, url, timeout=10).status_code == 200
        assert http.request(method, url, timeout=10).status_code == 200
        assert _methods(srv) == [method, method]
        assert srv.connections == [0, 1]


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_write_on_a_connection_vault_closed_is_not_sent_again(how) -> None:
    holder: list[RawServer] = []
    with RawServer(_vault_answer(holder), drop_reused=how) as srv:
        holder.append(srv)
        source = VaultKV2Source(srv.url, "app", token=TOKEN)
        assert source.lookup("API_KEY").expose_secret() == VALUE
        with pytest.raises(SecretSourceError, match=r"cannot reach Vault \(ConnectionError\)"):
            source.write({"API_KEY": "new-value"})
        # The write went out once, on the reused connection, and no connection followed.
        assert srv.dropped == [0]
        assert _methods(srv) == ["GET"]
        assert srv.connections == [0]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_no_write_method_is_sent_again_after_the_close(method) -> None:
    import requests

    holder: list[RawServer] = []
    with RawServer(_vault_answer(holder), drop_reused="reset") as srv:
        holder.append(srv)
        http = session(False, read_retries=3)
        url = f"{srv.url}/v1/secret/data/app"
        assert http.get(url, timeout=10).status_code == 200
        with pytest.raises(requests.exceptions.ConnectionError):
            http.request(method, url, data=b'{"data": {}}', timeout=10)
        assert srv.dropped == [0]
        assert srv.connections == [0]


def test_a_read_closed_unanswered_on_a_new_connection_is_not_sent_again() -> None:
    # Closed on its first request: not a stale connection, but a server that drops reads.
    with RawServer(lambda send: None) as srv:
        source = VaultKV2Source(srv.url, "app", token=TOKEN)
        with pytest.raises(SecretSourceError, match=r"cannot reach Vault \(ConnectionError\)"):
            source.names()
        assert _methods(srv) == ["GET"]
        assert srv.connections == [0]


def test_a_read_whose_answer_began_on_a_reused_connection_is_not_sent_again() -> None:
    answers = iter([_READ, None])

    def answer(send: Send) -> bool:
        body = next(answers)
        if body is None:
            send(b"HTTP/1.1 2")  # and the close: the answer had begun
            return False
        send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        return True

    with RawServer(answer, keep_alive=True) as srv:
        source = VaultKV2Source(srv.url, "app", token=TOKEN)
        assert source.lookup("API_KEY").expose_secret() == VALUE
        source.reload()
        with pytest.raises(SecretSourceError, match=r"cannot reach Vault \(ConnectionError\)"):
            source.names()
        assert _methods(srv) == ["GET", "GET"]
        assert srv.connections == [0, 0]


def test_the_read_sent_again_takes_no_other_pooled_connection() -> None:
    import threading

    # Two reads at once leave two kept-alive connections in the pool, both of which the
    # server then drops when reused: the read sent again must open a new one.
    both_in = threading.Barrier(2, timeout=10)
    holder: list[RawServer] = []
    vault = _vault_answer(holder)

    def answer(send: Send) -> None:
        if len(holder[0].requests) <= 2:
            both_in.wait()
        vault(send)

    with RawServer(answer, drop_reused="close") as srv:
        holder.append(srv)
        http = session(False)
        url = f"{srv.url}/v1/secret/data/app"
        codes: list[int] = []
        threads = [
            threading.Thread(target=lambda: codes.append(http.get(url, timeout=10).status_code))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert codes == [200, 200]
        assert sorted(srv.connections) == [0, 1]
        assert http.get(url, timeout=10).json()["data"]["data"] == {"API_KEY": VALUE}
        assert len(srv.dropped) == 1
        assert sorted(srv.connections) == [0, 1, 2]
