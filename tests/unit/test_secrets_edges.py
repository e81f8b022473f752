"""Edge cases of the secret sources, the chain and `sealbox secrets run`.

Vault cannot run here: these drive real hvac calls over real HTTPS against the fake of
Vault's published API (tests/fakes/vault.py). Where a test needs an answer a proxy or a
misbehaving server would give (a wrong shape, a redirect), a handler of the fake answers
it once, as raw HTTP, before the fake's own routes take over again.
"""

from __future__ import annotations

import json
import logging
import ssl
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sealbox import age
from sealbox.exceptions import ConfigError, SecretSourceError
from sealbox.secret import RedactingFilter
from sealbox.secrets import EnvSource, SecretsChain, VaultKV2Source
from sealbox.secrets.env import changes_execution
from tests.conftest import run_sealbox
from tests.fakes.vault import FakeVaultServer, _Handler

pytest.importorskip("trustme")

CANARY = "canary-edges-value-3f9b"
TOKEN = "hvs.canary-edges-token-c41d"
JSON = {"Content-Type": "application/json"}


pytestmark = pytest.mark.usefixtures("no_vault_environment")


class _ScriptedHandler(_Handler):
    """The fake's handler, answering the queued raw answers first (one per request)."""

    def _dispatch(self, method: str) -> None:
        answers: list[tuple[int, dict[str, str], bytes]] = self.server.answers  # type: ignore[attr-defined]
        if not answers:
            return super()._dispatch(method)
        status, headers, body = answers.pop(0)
        headers_in = {k.lower(): v for k, v in self.headers.items()}
        self.server.vault.requests.append((method, self.path, headers_in))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None


@contextmanager
def scripted_vault(ca: Any) -> Iterator[FakeVaultServer]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    with FakeVaultServer(ctx) as srv:
        srv._server.RequestHandlerClass = _ScriptedHandler
        srv._server.answers = []  # type: ignore[attr-defined]
        srv.vault.tokens.add(TOKEN)
        srv.vault.put("app/prod", {"DB_PASSWORD": CANARY})
        yield srv


@pytest.fixture
def server(vault_ca) -> Iterator[FakeVaultServer]:
    with scripted_vault(vault_ca) as srv:
        yield srv


def answer(srv: FakeVaultServer, status: int, body: bytes, headers: dict[str, str] = JSON):
    srv._server.answers.append((status, headers, body))  # type: ignore[attr-defined]


# -- Vault: paths, types, answers -----------------------------------------------------


@pytest.mark.parametrize(
    "path", ["../../auth/token/lookup-self", "app/../other", "app/./prod", "..", "/", ""]
)
def test_a_vault_path_with_a_dot_segment_is_refused_before_any_request(
    server, vault_ca_file, path
) -> None:
    # requests resolves dot segments: "../../auth/token/lookup-self" left the mount and
    # read the token's own description (whose "id" is the token) as if it were the secret.
    with pytest.raises(ConfigError) as info:
        VaultKV2Source(server.url, path, token=TOKEN, ca=vault_ca_file)
    assert info.value.code == "vault_bad_path"
    with pytest.raises(ConfigError):
        VaultKV2Source(server.url, "app/prod", mount="../sys", token=TOKEN, ca=vault_ca_file)
    assert server.vault.requests == []


def test_percent_signs_in_a_vault_path_are_sent_quoted_not_decoded(server, vault_ca_file) -> None:
    src = VaultKV2Source(server.url, "app%2f..%2fother", token=TOKEN, ca=vault_ca_file)
    with pytest.raises(SecretSourceError, match=r"no such secret \(404\)"):
        src.names()
    sent = [path for method, path, _ in server.vault.requests if method == "GET"]
    assert sent[0] == "/v1/secret/data/app%252f..%252fother"


def test_wrong_python_types_for_path_mount_version_and_values_are_type_errors(
    server, vault_ca_file
) -> None:
    for bad in (None, b"app/prod", 5):
        with pytest.raises(TypeError, match="path is given as a str"):
            VaultKV2Source(server.url, bad, token=TOKEN, ca=vault_ca_file)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="mount is given as a str"):
        VaultKV2Source(server.url, "p", mount=None, token=TOKEN, ca=vault_ca_file)  # type: ignore[arg-type]
    for bad in ("2", 1.5, True):
        with pytest.raises(TypeError, match="version is an int"):
            VaultKV2Source(server.url, "p", version=bad, token=TOKEN, ca=vault_ca_file)  # type: ignore[arg-type]
    src = VaultKV2Source(server.url, "app/prod", token=TOKEN, ca=vault_ca_file)
    with pytest.raises(TypeError, match="mapping"):
        src.write([("A", "b")])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        b'{"warnings": ["no data at all"]}',
        b'{"data": [1, 2]}',
        b'{"data": {"data": [1, 2], "metadata": {"version": 3}}}',
        b'{"data": {"data": "text", "metadata": null}}',
        b'{"data": {"data": {"A": "x"}, "metadata": [1]}}',
        b'{"data": null}',
    ],
)
def test_a_vault_answer_without_a_data_data_object_is_a_secret_source_error(
    server, vault_ca_file, body
) -> None:
    # Was: AttributeError from inside, or (no "data") an empty secret read as valid.
    answer(server, 200, body)
    src = VaultKV2Source(server.url, "app/prod", token=TOKEN, ca=vault_ca_file)
    with pytest.raises(SecretSourceError, match="unexpected answer to read"):
        src.names()
    assert src.lookup("DB_PASSWORD").expose_secret() == CANARY  # the next read is fine


def test_a_version_that_is_not_an_integer_is_not_reported_as_the_read_version(
    server, vault_ca_file
) -> None:
    answer(server, 200, b'{"data": {"data": {"A": "x"}, "metadata": {"version": "7"}}}')
    src = VaultKV2Source(server.url, "app/prod", token=TOKEN, ca=vault_ca_file)
    assert src.names() == ["A"]
    assert src.read_version is None


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (429, b'{"errors": ["rate limited"]}', r"limiting the rate of requests \(429\)"),
        (500, b'{"errors": ["internal error"]}', r"read failed \(InternalServerError\)"),
        (503, b'{"errors": ["Vault is sealed"]}', r"sealed or not ready \(503\)"),
        (200, b"<html>a proxy's page</html>", "unexpected answer to read"),
        (502, b"<html>bad gateway</html>", r"read failed \(BadGateway\)"),
    ],
)
def test_vault_error_answers_are_secret_source_errors_without_the_token(
    server, vault_ca_file, status, body, message
) -> None:
    headers = JSON if body.startswith(b"{") else {"Content-Type": "text/html"}
    answer(server, status, body, headers)
    # retries=0: the answer itself is reported (tests/unit/test_secrets_vault_retries.py
    # has the retries of the 429 and 5xx answers).
    src = VaultKV2Source(server.url, "app/prod", token=TOKEN, ca=vault_ca_file, retries=0)
    with pytest.raises(SecretSourceError, match=message) as info:
        src.lookup("DB_PASSWORD")
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(("destroyed", "word"), [(False, "deleted"), (True, "destroyed")])
def test_a_deleted_or_destroyed_version_is_reported_as_such(
    server, vault_ca_file, destroyed, word
) -> None:
    meta = {"deletion_time": "2024-01-01T00:00:00Z", "destroyed": destroyed, "version": 2}
    answer(server, 404, json.dumps({"data": {"data": None, "metadata": meta}}).encode())
    src = VaultKV2Source(server.url, "app/prod", token=TOKEN, ca=vault_ca_file)
    with pytest.raises(SecretSourceError, match=rf"version 2 was {word} \(404\)"):
        src.names()


class _Recorder(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.seen.append(dict(self.headers))  # type: ignore[attr-defined]
        body = b'{"data": {"data": {"STOLEN": "yes"}, "metadata": {"version": 1}}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_redirect_to_plain_http_is_refused_and_the_token_is_not_sent_in_clear(
    server, vault_ca_file
) -> None:
    plain = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    plain.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=plain.serve_forever, daemon=True)
    thread.start()
    try:
        where = f"http://127.0.0.1:{plain.server_address[1]}/v1/secret/data/app/prod"
        answer(server, 307, b"", {"Location": where})
        src = VaultKV2Source(server.url, "app/prod", token=TOKEN, ca=vault_ca_file)
        with pytest.raises(SecretSourceError, match=r"redirected .* plain http, refused") as info:
            src.names()
        assert TOKEN not in str(info.value)
        assert plain.seen == []  # type: ignore[attr-defined]
    finally:
        plain.shutdown()
        plain.server_close()


def test_a_redirect_to_https_is_followed(server, vault_ca_file) -> None:
    # Vault's standby nodes redirect to the active node with 307: that still works.
    answer(server, 307, b"", {"Location": f"{server.url}/v1/secret/data/app/prod"})
    src = VaultKV2Source(server.url, "app/prod", token=TOKEN, ca=vault_ca_file)
    assert src.lookup("DB_PASSWORD").expose_secret() == CANARY


def test_an_approle_token_that_expired_is_replaced_by_logging_in_again(
    server, vault_ca_file
) -> None:
    server.vault.approles["role-1"] = "secret-id-edges"
    src = VaultKV2Source(
        server.url, "app/prod", ca=vault_ca_file, approle=("role-1", "secret-id-edges")
    )
    assert src.lookup("DB_PASSWORD").expose_secret() == CANARY
    server.vault.tokens.discard(src._client.token)  # Vault answers 403 to an expired token
    server.vault.put("app/prod", {"DB_PASSWORD": "rotated-value"})
    src.reload()
    assert src.lookup("DB_PASSWORD").expose_secret() == "rotated-value"
    logins = [r for r in server.vault.requests if r[1] == "/v1/auth/approle/login"]
    assert len(logins) == 2
    # A token given by the caller is not replaced: its 403 is reported.
    fixed = VaultKV2Source(server.url, "app/prod", ca=vault_ca_file, token="hvs.gone")
    with pytest.raises(SecretSourceError, match=r"permission denied \(403\)"):
        fixed.names()


@pytest.mark.parametrize(
    "body", [b'{"auth": null}', b"{}", b'{"auth": {"client_token": 5}}', b"<html></html>"]
)
def test_an_approle_login_answer_without_a_client_token_is_a_secret_source_error(
    server, vault_ca_file, body
) -> None:
    # Was: KeyError or TypeError from inside hvac.
    server.vault.approles["role-1"] = "secret-id-edges"
    headers = JSON if body.startswith(b"{") else {"Content-Type": "text/html"}
    answer(server, 200, body, headers)
    src = VaultKV2Source(
        server.url, "app/prod", ca=vault_ca_file, approle=("role-1", "secret-id-edges")
    )
    with pytest.raises(SecretSourceError, match="AppRole login answered no usable client token"):
        src.names()
    assert src.lookup("DB_PASSWORD").expose_secret() == CANARY  # logs in again next time


@pytest.mark.parametrize("token", ["hvs.t\u00f6k\u20acn-canary", "hvs.canary\nX-Evil: 1", "hvs.x "])
def test_a_token_no_header_can_carry_is_a_config_error_that_does_not_quote_it(
    server, vault_ca_file, token
) -> None:
    # Was: a bare UnicodeEncodeError quoting a character of the token and its position,
    # or "cannot reach Vault (InvalidHeader)".
    with pytest.raises(ConfigError) as info:
        VaultKV2Source(server.url, "app/prod", token=token, ca=vault_ca_file)
    assert info.value.code == "vault_bad_token"
    assert "canary" not in str(info.value) and "\u20ac" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        VaultKV2Source(
            server.url, "app/prod", token=TOKEN, namespace="t\u00ebam\u20ac", ca=vault_ca_file
        )
    assert info.value.code == "vault_bad_namespace"


def test_concurrent_lookups_during_reloads_see_a_whole_version(server, vault_ca_file) -> None:
    server.vault.put("app/prod", {"A": "one-1", "B": "one-2"})
    src = VaultKV2Source(server.url, "app/prod", token=TOKEN, ca=vault_ca_file)
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                a = src.lookup("A")
                assert a is not None and a.expose_secret() in {"one-1", "two-1"}
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(10):
        server.vault.put("app/prod", {"A": ("one-1", "two-1")[i % 2], "B": "x"})
        src.reload()
    stop.set()
    for t in threads:
        t.join(10)
    assert errors == []


def test_a_vault_value_taken_through_a_chain_is_redacted_from_logs(
    server, vault_ca_file, caplog
) -> None:
    chain = SecretsChain(VaultKV2Source(server.url, "app/prod", token=TOKEN, ca=vault_ca_file))
    value = chain.get("DB_PASSWORD")
    caplog.handler.addFilter(RedactingFilter())
    caplog.set_level(logging.INFO)
    logging.getLogger("app").info("connecting with %s and %s", value.expose_secret(), TOKEN)
    assert CANARY not in caplog.text and TOKEN not in caplog.text


# -- the chain ------------------------------------------------------------------------


def test_chain_lookups_with_a_name_that_is_not_a_str_are_type_errors() -> None:
    chain = SecretsChain(EnvSource(environ={"A": "1"}))
    for bad in (5, None, b"A"):
        with pytest.raises(TypeError, match="a secret name is a str"):
            chain.get(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            chain.require([bad])  # type: ignore[list-item]


def test_require_with_one_str_is_a_type_error_not_one_name_per_letter() -> None:
    # Was: require("DB") asked for "D" and "B" ("missing secrets D, B").
    chain = SecretsChain(EnvSource(environ={"DB": "1", "D": "2", "B": "3"}))
    with pytest.raises(TypeError, match="list of names"):
        chain.require("DB")
    assert chain.require(["DB"])["DB"].expose_secret() == "1"


def test_chain_names_lists_only_names_that_get_accepts() -> None:
    chain = SecretsChain(EnvSource(environ={"a-b": "1", "OK": "2", "9X": "3", "x.y": "4"}))
    assert chain.names() == ["OK"]
    for name in chain.names():
        chain.get(name)


# -- `sealbox secrets run` ------------------------------------------------------------


def test_run_refuses_a_value_holding_a_nul_instead_of_failing_inside(cli, tmp_path: Path) -> None:
    # Was: "unexpected internal error (ValueError)" from os.execve.
    ident = age.X25519Identity.generate()
    key = tmp_path / "k.txt"
    key.write_text(age.identity_file(ident))
    sfile = tmp_path / "s.env"
    assert cli(["secrets", "init", sfile, "-r", str(ident.recipient())]).code == 0
    assert cli(["secrets", "set", sfile, "BLOB"], input=b"a\0" + CANARY.encode()).code == 0
    p = run_sealbox(["secrets", "run", sfile, "-i", key, "--", sys.executable, "-c", "print(1)"])
    assert p.returncode == 1, p.stderr
    assert b"BLOB holds a NUL character" in p.stderr and b"nothing was run" in p.stderr
    assert CANARY.encode() not in p.stderr + p.stdout and p.stdout == b""


@pytest.mark.parametrize(
    "name",
    ["ZDOTDIR", "GIT_CONFIG_PARAMETERS", "GIT_PROXY_COMMAND", "OPENSSL_CONF", "LUA_INIT_5_4",
     "SSLKEYLOGFILE", "git_pager"],
)  # fmt: skip
def test_startup_and_traffic_variables_count_as_changing_execution(name: str) -> None:
    # zsh reads $ZDOTDIR/.zshenv for every script; git runs GIT_CONFIG_PARAMETERS'
    # core.sshCommand; OpenSSL loads engines named in OPENSSL_CONF; SSLKEYLOGFILE
    # writes the TLS session keys out.
    assert changes_execution(name)
    assert not changes_execution("DB_PASSWORD")
