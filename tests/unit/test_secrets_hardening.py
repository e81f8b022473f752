"""Secret sources against hostile peers and files: a Vault (or a man in the middle of a
plain-http development address) that trickles or floods its answer, values read straight
from a source reaching a log line, NUL characters in ``.env`` values, and KV v2 versions
deleted, undeleted, destroyed or wiped with their metadata.

Vault cannot run here. The slow and oversized answers come from a raw socket server on
127.0.0.1 (tests/_slow_server.py), spoken to by real hvac and requests; the deletion
routes are the fake of Vault's published API (tests/fakes/vault.py), over real HTTPS.
"""

from __future__ import annotations

import gzip
import io
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from sealbox import age
from sealbox.exceptions import ConfigError, SecretSourceError
from sealbox.secret import install_log_redaction
from sealbox.secrets import DotenvSource, EnvSource, SecretsChain, VaultKV2Source
from sealbox.secrets.sealed import SealedFile, SealedFileSource
from sealbox.secrets.vault_http import MAX_ANSWER_SIZE
from tests._slow_server import RawServer, Send
from tests.fakes.vault import FakeVaultServer, fake_vault

hvac = pytest.importorskip("hvac")
pytest.importorskip("trustme")

TOKEN = "hvs.canary-hardening-token-90ab"
JSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
ANSWER = b'{"data": {"data": {"A": "x"}, "metadata": {"version": 1}}}'


pytestmark = pytest.mark.usefixtures("no_vault_environment")


def _read_through(srv: RawServer, timeout: int = 1) -> SecretSourceError:
    src = VaultKV2Source(srv.url, "app/prod", token=TOKEN, timeout=timeout)
    with pytest.raises(SecretSourceError) as info:
        src.names()
    assert TOKEN not in str(info.value)
    return info.value


# -- 1. a whole Vault call has a deadline, and its answer a size limit ---------------------


def _trickled_head(send: Send) -> None:
    # A status line and headers a byte every 50 ms: each read gets a byte long before the
    # per-read timeout, so only a deadline on the whole call ends it (5 s of bytes here).
    send(JSON_HEAD + b"X-Slow: " + b"a" * 100, delay=0.05)


def _trickled_body(send: Send) -> None:
    body = b" " * 100 + ANSWER
    send(JSON_HEAD + b"Content-Length: %d\r\n\r\n" % len(body))
    send(body, delay=0.05)


def test_a_vault_answer_whose_headers_trickle_ends_at_the_timeout() -> None:
    with RawServer(_trickled_head) as srv:
        error = _read_through(srv)
        assert srv.client_left.wait(5)  # the call let go of the connection, early
    assert error.code == "vault_timeout"
    assert "did not answer in time" in str(error)


def test_a_vault_answer_whose_body_trickles_ends_at_the_timeout() -> None:
    with RawServer(_trickled_body) as srv:
        error = _read_through(srv)
        assert srv.client_left.wait(5)
    assert error.code == "vault_timeout"


def test_a_vault_that_never_finishes_the_tls_handshake_ends_at_the_timeout() -> None:
    # The server accepts, then says nothing: the ClientHello is never answered.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"https://127.0.0.1:{listener.getsockname()[1]}"
        src = VaultKV2Source(url, "app/prod", token=TOKEN, timeout=1)
        with pytest.raises(SecretSourceError) as info:
            src.names()
    assert info.value.code == "vault_timeout"


@pytest.mark.parametrize("connection", ["kept", "closed"])
def test_the_deadline_spans_a_redirect_too(connection: str) -> None:
    # Each hop is well under the 2 s timeout (0.8 s, then 1.6 s of trickled bytes); the
    # two together are not, and a slow machine only makes them longer. The 307 says what
    # becomes of its connection, as an HTTP/1.1 server must: one that closes it unsaid
    # races the client, which may send the redirected request on it just before the
    # close and get a reset instead of the deadline.
    keep = connection == "kept"

    def answer(send: Send) -> None:
        if len(srv.requests) == 1:
            head = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: %s/v1/secret/data/app/prod\r\n"
            close = b"" if keep else b"Connection: close\r\n"
            send(head % srv.url.encode() + close + b"Content-Length: 0\r\n")
            send(b"X-Pad: abcde\r\n\r\n", delay=0.05)
        else:
            send(JSON_HEAD + b"Content-Length: %d\r\n\r\n" % len(ANSWER) + ANSWER[:-32])
            send(ANSWER[-32:], delay=0.05)

    with RawServer(answer, keep_alive=keep) as srv:
        error = _read_through(srv, timeout=2)
        # The server saw the redirected request, and the call leave in its answer.
        assert len(srv.requests) == 2
        assert srv.client_left.wait(5)
    assert error.code == "vault_timeout"


def test_an_answer_declaring_more_than_the_limit_is_refused_before_it_is_read() -> None:
    def answer(send: Send) -> None:
        send(JSON_HEAD + b"Content-Length: %d\r\n\r\n{" % (1 << 40))
        send(b" " * 1000, delay=0.05)  # and then nothing much: no need to wait for it

    with RawServer(answer) as srv:
        error = _read_through(srv, timeout=30)
    assert error.code == "vault_answer_too_large"
    assert f"larger than {MAX_ANSWER_SIZE} bytes" in str(error)


def test_an_endless_chunked_answer_is_refused_at_the_limit() -> None:
    def answer(send: Send) -> None:
        send(JSON_HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b" " * 65536
        for _ in range(4 * MAX_ANSWER_SIZE // len(chunk)):
            if not send(b"%x\r\n%s\r\n" % (len(chunk), chunk)):
                return

    with RawServer(answer) as srv:
        error = _read_through(srv, timeout=30)
    assert error.code == "vault_answer_too_large"


def test_a_compressed_answer_is_limited_by_its_size_once_decompressed() -> None:
    packed = gzip.compress(b"{" + b" " * (2 * MAX_ANSWER_SIZE) + b"}", 9)
    assert len(packed) < MAX_ANSWER_SIZE // 50

    def answer(send: Send) -> None:
        head = JSON_HEAD + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
        send(head % len(packed) + packed)

    with RawServer(answer) as srv:
        error = _read_through(srv, timeout=30)
    assert error.code == "vault_answer_too_large"


def test_an_answer_within_the_limit_and_the_time_is_read(vault_ca, vault_ca_file) -> None:
    big = "v" * (MAX_ANSWER_SIZE // 2)
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"BIG": big})
        src = VaultKV2Source(srv.url, "app/prod", token=TOKEN, ca=vault_ca_file, timeout=30)
        assert src.lookup("BIG").expose_secret() == big


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf")])
def test_a_timeout_that_bounds_nothing_is_a_config_error(timeout) -> None:
    with pytest.raises(ConfigError) as info:
        VaultKV2Source("https://vault.invalid", "app/prod", token=TOKEN, timeout=timeout)
    assert info.value.code == "vault_bad_timeout"
    with pytest.raises(TypeError):
        VaultKV2Source("https://vault.invalid", "p", token=TOKEN, timeout="10")  # type: ignore[arg-type]


# -- 3. a value read straight from a source is redacted from logs ---------------------------


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose handler has sealbox's redaction installed, as an app sets it up."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    install_log_redaction(handler)
    logger = logging.getLogger("tests.secrets_hardening")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, out
    logger.removeHandler(handler)


def _vault_source(tmp: Path, value: str, ca: object, ca_file: Path) -> Iterator[object]:
    with fake_vault(ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"NAME": value})
        yield VaultKV2Source(srv.url, "app/prod", token=TOKEN, ca=ca_file)


def _sealed_source(tmp: Path, value: str, *_: object) -> Iterator[object]:
    ident = age.X25519Identity.generate()
    sealed = SealedFile.create(tmp / "secrets.env", [str(ident.recipient())])
    sealed.set("NAME", value)
    sealed.save()
    yield SealedFileSource(tmp / "secrets.env", [ident])


def _dotenv_source(tmp: Path, value: str, *_: object) -> Iterator[object]:
    (tmp / ".env").write_text(f"NAME={value}\n")
    yield DotenvSource(tmp / ".env")


def _env_source(tmp: Path, value: str, *_: object) -> Iterator[object]:
    yield EnvSource(environ={"NAME": value})


@pytest.mark.parametrize(
    "make", [_vault_source, _sealed_source, _dotenv_source, _env_source], ids=lambda f: f.__name__
)
def test_a_value_looked_up_straight_from_a_source_never_reaches_a_log_line(
    make, log, tmp_path, vault_ca, vault_ca_file
) -> None:
    canary = f"canary-direct-{make.__name__}-7c1e"
    logger, out = log
    for source in make(tmp_path, canary, vault_ca, vault_ca_file):
        value = source.lookup("NAME")
        assert value is not None and value.expose_secret() == canary
        logger.info("connecting with %s", value.expose_secret())
        logger.info("and again: " + value.expose_secret())  # as careless code does
    assert "connecting with" in out.getvalue()
    assert canary not in out.getvalue()


def test_values_read_as_configuration_by_typed_getters_are_still_not_registered(log) -> None:
    logger, out = log
    chain = SecretsChain(
        EnvSource(environ={"PORT": "48213", "DEBUG": "true", "LOG_LEVEL": " WARNING "})
    )
    assert chain.get_int("PORT") == 48213 and chain.get_bool("DEBUG") is True
    assert chain.get_text("LOG_LEVEL") == "WARNING"
    assert chain.get_text("MISSING_NAME", "INFO") == "INFO"
    assert chain.source_of("PORT") == "environment"
    logger.info("listening on 48213, debug true, level WARNING")
    assert "listening on 48213, debug true, level WARNING" in out.getvalue()
    with pytest.raises(SecretSourceError):
        chain.get_text("MISSING_NAME")


# -- 4. a NUL character in a .env value ---------------------------------------------------


@pytest.mark.parametrize(
    "line", ["TOKEN=abc\0canary-nul-1", "TOKEN='abc\0canary-nul-1'", 'TOKEN="abc\0canary-nul-1"']
)
def test_a_dotenv_value_holding_a_nul_is_refused_naming_file_and_line(tmp_path, line) -> None:
    path = tmp_path / ".env"
    path.write_bytes(f"# settings\nOTHER=1\n{line}\n".encode())
    with pytest.raises(SecretSourceError) as info:
        DotenvSource(path)
    message = str(info.value)
    assert f"{path}:3" in message and "TOKEN" in message and "NUL" in message
    assert "canary-nul" not in message and "\0" not in message
    assert info.value.code == "dotenv_nul"
    assert info.value.facts == {"path": str(path), "line": "3", "name": "TOKEN"}


# -- 5. deleted, undeleted, destroyed and wiped KV v2 secrets -------------------------------


@pytest.fixture
def vault(vault_ca) -> Iterator[FakeVaultServer]:
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.put("app/prod", {"A": "one"})
        srv.vault.put("app/prod", {"A": "two"})
        yield srv


@pytest.fixture
def client(vault, vault_ca_file) -> object:
    """An hvac client of the fake, as an operator's tooling would use it."""
    return hvac.Client(url=vault.url, token=TOKEN, verify=str(vault_ca_file))


@pytest.fixture
def kv(client) -> object:
    return client.secrets.kv.v2


def _read(vault, ca_file, version=None) -> str:
    src = VaultKV2Source(vault.url, "app/prod", token=TOKEN, ca=ca_file, version=version)
    value = src.lookup("A")
    assert value is not None
    return value.expose_secret()


def _refusal(vault, ca_file, version=None) -> SecretSourceError:
    src = VaultKV2Source(vault.url, "app/prod", token=TOKEN, ca=ca_file, version=version)
    with pytest.raises(SecretSourceError) as info:
        src.names()
    return info.value


def test_a_soft_deleted_latest_version_is_reported_as_deleted(vault, vault_ca_file, kv) -> None:
    kv.delete_latest_version_of_secret(path="app/prod")
    assert vault.vault.requests[-1][:2] == ("DELETE", "/v1/secret/data/app/prod")
    error = _refusal(vault, vault_ca_file)
    assert error.code == "vault_version_deleted"
    assert "version 2 was deleted (404)" in str(error)
    assert error.facts == {"version": "2"}
    assert _read(vault, vault_ca_file, version=1) == "one"  # the older version is untouched
    meta = VaultKV2Source(vault.url, "app/prod", token=TOKEN, ca=vault_ca_file).metadata()
    assert meta["versions"]["2"]["deletion_time"] and not meta["versions"]["1"]["deletion_time"]


def test_deleted_versions_come_back_when_undeleted(vault, vault_ca_file, kv) -> None:
    kv.delete_secret_versions(path="app/prod", versions=[1, 2])
    assert vault.vault.requests[-1][:2] == ("POST", "/v1/secret/delete/app/prod")
    assert _refusal(vault, vault_ca_file, version=1).code == "vault_version_deleted"
    kv.undelete_secret_versions(path="app/prod", versions=[2])
    assert vault.vault.requests[-1][:2] == ("POST", "/v1/secret/undelete/app/prod")
    assert _read(vault, vault_ca_file) == "two"
    assert _refusal(vault, vault_ca_file, version=1).code == "vault_version_deleted"


def test_a_destroyed_version_is_reported_as_destroyed_and_stays_so(
    vault, vault_ca_file, kv
) -> None:
    kv.destroy_secret_versions(path="app/prod", versions=[2])
    assert vault.vault.bodies[-1] == {"versions": [2]}
    error = _refusal(vault, vault_ca_file)
    assert error.code == "vault_version_destroyed"
    assert "version 2 was destroyed (404)" in str(error)
    assert "undelete" not in (error.hint or "")  # a destroyed version cannot come back
    kv.undelete_secret_versions(path="app/prod", versions=[2])
    assert _refusal(vault, vault_ca_file).code == "vault_version_destroyed"
    # Deleted and then destroyed: destroyed is what counts.
    kv.delete_secret_versions(path="app/prod", versions=[1])
    kv.destroy_secret_versions(path="app/prod", versions=[1])
    assert _refusal(vault, vault_ca_file, version=1).code == "vault_version_destroyed"


def test_a_new_version_written_over_a_deleted_one_is_read(vault, vault_ca_file, kv) -> None:
    kv.delete_latest_version_of_secret(path="app/prod")
    src = VaultKV2Source(vault.url, "app/prod", token=TOKEN, ca=vault_ca_file)
    assert src.write({"A": "three"}, cas=2) == 3
    assert src.lookup("A").expose_secret() == "three"


def test_a_secret_whose_metadata_was_deleted_is_no_such_secret(vault, vault_ca_file, kv) -> None:
    kv.delete_metadata_and_all_versions(path="app/prod")
    assert vault.vault.requests[-1][:2] == ("DELETE", "/v1/secret/metadata/app/prod")
    error = _refusal(vault, vault_ca_file)
    assert "no such secret (404)" in str(error) and "deleted" not in str(error)
    src = VaultKV2Source(vault.url, "app/prod", token=TOKEN, ca=vault_ca_file)
    with pytest.raises(SecretSourceError, match=r"no such secret \(404\)"):
        src.metadata()
    assert src.write({"A": "fresh"}, cas=0) == 1  # the path starts over at version 1


@pytest.mark.parametrize("action", ["delete", "undelete", "destroy"])
def test_deletion_routes_need_the_versions_listed(vault, vault_ca_file, client, action) -> None:
    with pytest.raises(hvac.exceptions.InvalidRequest, match="no version number provided"):
        client.adapter.post(f"/v1/secret/{action}/app/prod", json={})
    assert _read(vault, vault_ca_file) == "two"
