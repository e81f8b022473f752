"""Vault clients that log in with AppRole keep working past their token's end.

Real hvac calls over real HTTPS against the fake of Vault's published API
(tests/fakes/vault.py): its AppRole login answers a ``lease_duration`` (``token_ttl``), and
a test ends a token (``expire``), after which the fake answers it 403 as Vault does. A
token's end as the client sees it is read on a clock the tests move (no sleeping).
"""

from __future__ import annotations

import threading

import pytest

from sealbox.exceptions import KeyProviderError, SecretSourceError
from sealbox.keysets.envelope import VaultTransitProvider
from sealbox.secrets import VaultKV2Source, vault_login
from tests.fakes.vault import fake_vault

pytest.importorskip("hvac")
pytest.importorskip("trustme")

ROLE, SECRET_ID = "role-relogin", "secret-id-relogin-canary-4b7e"
TOKEN = "hvs.relogin-given-canary-token-90c2"
BLOB = b"relogin-canary-key-blob-5d1a-0123"
LOGIN = "/v1/auth/approle/login"

pytestmark = pytest.mark.usefixtures("no_vault_environment")


@pytest.fixture
def server(vault_ca):
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.transit_key("app")
        srv.vault.approles[ROLE] = SECRET_ID
        srv.vault.put("app/prod", {"DB_PASSWORD": "first"})
        yield srv


@pytest.fixture
def clock(monkeypatch):
    """The clock a token's end is read on, moved by hand: ``clock[0] += seconds``."""
    now = [1000.0]
    monkeypatch.setattr(vault_login, "_clock", lambda: now[0])
    return now


def transit(server, vault_ca_file, **kw) -> VaultTransitProvider:
    kw.setdefault("approle", (ROLE, SECRET_ID))
    return VaultTransitProvider(
        "app", url=server.url, ca=vault_ca_file, version_cache_seconds=0, **kw
    )


def kv(server, vault_ca_file, **kw) -> VaultKV2Source:
    kw.setdefault("approle", (ROLE, SECRET_ID))
    return VaultKV2Source(server.url, "app/prod", ca=vault_ca_file, **kw)


def logins(server) -> int:
    return sum(1 for _, path, _ in server.vault.requests if path == LOGIN)


def sent_with(server, token: str) -> int:
    return sum(1 for _, _, h in server.vault.requests if h.get("x-vault-token") == token)


def test_transit_keeps_wrapping_and_unwrapping_after_its_token_expired(
    server, vault_ca_file
) -> None:
    p = transit(server, vault_ca_file)
    wrapped = p.wrap(BLOB)
    first = p._client.token
    server.vault.expire(first)
    assert p.unwrap(wrapped) == BLOB
    assert p.unwrap(p.wrap(BLOB)) == BLOB
    assert logins(server) == 2  # exactly one more
    assert p._client.token != first
    # The ended token was sent once (the decrypt answered 403), then never again.
    assert sent_with(server, first) == 2


def test_transit_logs_in_again_before_using_a_token_at_its_end(
    server, vault_ca_file, clock
) -> None:
    p = transit(server, vault_ca_file)
    wrapped = p.wrap(BLOB)
    first = p._client.token
    clock[0] += 3600 - vault_login.margin(3600) - 1
    assert p.unwrap(wrapped) == BLOB
    assert logins(server) == 1  # not yet at the margin
    clock[0] += 1
    count = len(server.vault.requests)
    assert p.rewrap(wrapped).version == 1
    # Logged in before the call, which went with the new token: no 403 was needed.
    paths = [(path, h.get("x-vault-token")) for _, path, h in server.vault.requests[count:]]
    assert paths == [(LOGIN, None), ("/v1/transit/rewrap/app", p._client.token)]
    assert p._client.token != first


def test_a_token_without_an_end_is_kept_however_long(server, vault_ca_file, clock) -> None:
    server.vault.token_ttl = 0  # Vault's lease_duration 0: the token has no end
    p = transit(server, vault_ca_file)
    wrapped = p.wrap(BLOB)
    clock[0] += 10 * 365 * 86400
    assert p.unwrap(wrapped) == BLOB
    assert logins(server) == 1


def test_kv_source_keeps_reading_after_its_token_expired(server, vault_ca_file, clock) -> None:
    src = kv(server, vault_ca_file)
    assert src.lookup("DB_PASSWORD").expose_secret() == "first"
    server.vault.expire(src._client.token)  # revoked: answered 403
    server.vault.put("app/prod", {"DB_PASSWORD": "second"})
    src.reload()
    assert src.lookup("DB_PASSWORD").expose_secret() == "second"
    assert logins(server) == 2
    # At its end (as Vault's lease_duration said), the token is replaced before a read.
    clock[0] += 3600
    server.vault.put("app/prod", {"DB_PASSWORD": "third"})
    src.reload()
    count = len(server.vault.requests)
    assert src.lookup("DB_PASSWORD").expose_secret() == "third"
    assert [path for _, path, _ in server.vault.requests[count:]] == [
        LOGIN,
        "/v1/secret/data/app/prod",
    ]
    assert src.metadata()["current_version"] == 3
    assert logins(server) == 3


def test_kv_write_refused_to_an_expired_token_is_done_once_after_a_new_login(
    server, vault_ca_file
) -> None:
    src = kv(server, vault_ca_file)
    assert src.names() == ["DB_PASSWORD"]
    server.vault.expire(src._client.token)
    # Vault refused the first (403, before doing anything): one version is written.
    assert src.write({"DB_PASSWORD": "written"}, cas=1) == 2
    assert logins(server) == 2
    assert src.lookup("DB_PASSWORD").expose_secret() == "written"


@pytest.mark.parametrize(
    ("path", "call"),
    [
        ("transit/encrypt/app", lambda p, w: p.wrap(BLOB)),
        ("transit/decrypt/app", lambda p, w: p.unwrap(w)),
        ("transit/rewrap/app", lambda p, w: p.rewrap_batch([w])),
        ("transit/datakey/plaintext/app", lambda p, w: p.generate_data_key()),
        ("transit/keys/app", lambda p, w: p.latest_version(refresh=True)),
    ],
)
def test_a_policy_403_to_a_new_token_is_refused_after_exactly_one_login(
    server, vault_ca_file, path, call
) -> None:
    p = transit(server, vault_ca_file)
    wrapped = p.wrap(BLOB)
    server.vault.deny("*", path)  # the role's policy lacks it, for every token
    before = sum(1 for _, seen, _ in server.vault.requests if seen == f"/v1/{path}")
    with pytest.raises(KeyProviderError) as info:
        call(p, wrapped)
    assert info.value.code == "vault_permission_denied"
    assert "token_policies" in (info.value.hint or "")
    assert "expired" not in (info.value.hint or "")
    assert logins(server) == 2
    sent = sum(1 for _, seen, _ in server.vault.requests if seen == f"/v1/{path}")
    assert sent - before == 2  # the call, and once more after the login


def test_a_kv_policy_403_to_a_new_token_is_refused_after_exactly_one_login(
    server, vault_ca_file
) -> None:
    server.vault.deny("*", "secret/data/app/prod")
    with pytest.raises(SecretSourceError) as info:
        kv(server, vault_ca_file).names()
    assert info.value.code == "vault_permission_denied"
    assert "expired" not in (info.value.hint or "")
    assert logins(server) == 2


def test_clients_given_a_token_or_a_client_never_log_in(server, vault_ca_file, clock) -> None:
    import hvac

    server.vault.expire(TOKEN)
    ready = hvac.Client(url=server.url, token=TOKEN, verify=str(vault_ca_file))
    for p in (
        transit(server, vault_ca_file, approle=None, token=TOKEN),
        transit(server, vault_ca_file, approle=None, client=ready),
    ):
        clock[0] += 86400
        with pytest.raises(KeyProviderError) as info:
            p.wrap(BLOB)
        assert info.value.code == "vault_permission_denied"
        assert "expired" in (info.value.hint or "")
    with pytest.raises(SecretSourceError, match=r"permission denied \(403\)") as info:
        kv(server, vault_ca_file, approle=None, token=TOKEN).names()
    assert "expired" in (info.value.hint or "")
    assert logins(server) == 0


def test_a_login_refused_403_is_reported_as_such_and_not_sent_again(server, vault_ca_file) -> None:
    # No AppRole at that mount: Vault checks the (missing) token first and answers 403.
    p = transit(server, vault_ca_file, approle_mount="approle-typo")
    with pytest.raises(KeyProviderError, match=r"AppRole login was refused \(403\)") as info:
        p.wrap(BLOB)
    assert info.value.code == "vault_login_refused"
    assert [path for _, path, _ in server.vault.requests] == ["/v1/auth/approle-typo/login"]
    assert SECRET_ID not in f"{info.value} {info.value.hint}"


def _together(count: int, work) -> list[BaseException]:
    """Run ``work`` on ``count`` threads let go at once; the exceptions they raised."""
    barrier, errors = threading.Barrier(count), []

    def run() -> None:
        barrier.wait()
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_threads_sharing_a_provider_across_its_token_end_log_in_once(
    server, vault_ca_file, clock
) -> None:
    p = transit(server, vault_ca_file)
    wrapped = p.wrap(BLOB)
    clock[0] += 3600
    assert _together(8, lambda: p.unwrap(wrapped)) == []
    assert logins(server) == 2


def test_threads_answered_403_with_the_same_token_log_in_once(server, vault_ca_file) -> None:
    p = transit(server, vault_ca_file)
    wrapped = p.wrap(BLOB)
    server.vault.expire(p._client.token)
    assert _together(8, lambda: p.unwrap(wrapped)) == []
    assert logins(server) == 2


def test_the_new_token_is_a_registered_secret(server, vault_ca_file) -> None:
    from sealbox.secret import redact

    p = transit(server, vault_ca_file)
    p.wrap(BLOB)
    server.vault.expire(p._client.token)
    p.wrap(BLOB)
    assert p._client.token not in redact(f"token {p._client.token}")
    assert repr(p._login) == "AppRoleLogin(mount='approle')"
