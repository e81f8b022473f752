"""Rotation under load, and workers that learn of each other's key changes.

Real HTTPS clients on threads encrypt, decrypt and rewrap while keys rotate: not one
request may fail. Two servers sharing PostgreSQL and Redis (as in test_scale_out.py)
see each other's rotations and configuration at once; two servers sharing SQLite
without Redis see them within the cache TTL.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.service._transit import ALL_SCOPES, Transit, add_user, b64, unb64
from tests.service.conftest import (
    REDIS_PREFIX,
    REDIS_URL,
    Running,
    bearer,
    login,
    make_settings,
    reset_shared_state,
    run_service,
    shared_settings,
)

ROUNDS_OF_ROTATION = 8
USES_PER_VERSION = 4  # encryptions with each version before the next rotation
# Only turns a change that never arrives into a failure; never reached on a slow machine.
GUARD = 30.0
CHANNEL = f"{REDIS_PREFIX}transit:keys"


@pytest.fixture
def shared():
    settings = shared_settings()
    reset_shared_state()
    yield settings
    reset_shared_state()


def wait_until(check: Callable[[], bool]) -> None:
    """Poll ``check`` until it holds (fail after :data:`GUARD` seconds)."""
    deadline = time.monotonic() + GUARD
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not seen within {GUARD} s")
        time.sleep(0.02)


def churn(
    servers: list[Running], headers: dict[str, str], stop: threading.Event, seen: Counter
) -> list[str]:
    """One client: encrypt through one server, decrypt and rewrap through the next.

    Returns every failure seen (the test wants none).
    """
    failures: list[str] = []
    clients = [s.client() for s in servers]
    kept: list[tuple[bytes, str, str]] = []
    turn = 0

    def post(client, op: str, body: dict):
        return client.post(f"/v1/keys/live/{op}", json=body, headers=headers)

    try:
        while not stop.is_set():
            first, second = clients[turn % len(clients)], clients[(turn + 1) % len(clients)]
            turn += 1
            plaintext, ad = os.urandom(24), b64(b"row:%d" % turn)
            r = post(first, "encrypt", {"plaintext": b64(plaintext), "associated_data": ad})
            if r.status_code != 200:
                failures.append(f"encrypt {r.status_code} {r.text}")
                continue
            seen[r.json()["key_version"]] += 1
            kept.append((plaintext, r.json()["ciphertext"], ad))
            # The new ciphertext and an older one open through the other server.
            for old_plain, old_ct, old_ad in (kept[-1], kept[len(kept) // 2]):
                r = post(second, "decrypt", {"ciphertext": old_ct, "associated_data": old_ad})
                if r.status_code != 200 or unb64(r.json()["plaintext"]) != old_plain:
                    failures.append(f"decrypt {r.status_code} {r.text}")
            # Rewrapped through the other server, it still holds the same plaintext.
            r = post(second, "rewrap", {"ciphertext": kept[0][1], "associated_data": kept[0][2]})
            if r.status_code != 200:
                failures.append(f"rewrap {r.status_code} {r.text}")
                continue
            body = {"ciphertext": r.json()["ciphertext"], "associated_data": kept[0][2]}
            r = post(first, "decrypt", body)
            if r.status_code != 200 or unb64(r.json()["plaintext"]) != kept[0][0]:
                failures.append(f"decrypt after rewrap {r.status_code} {r.text}")
        # At the end, everything kept opens in one batch.
        items = [{"ciphertext": ct, "associated_data": ad} for _, ct, ad in kept]
        r = post(clients[-1], "decrypt", {"batch_input": items})
        if r.status_code != 200:
            failures.append(f"batch decrypt {r.status_code} {r.text[:300]}")
        elif [unb64(x["plaintext"]) for x in r.json()["batch_results"]] != [p for p, _, _ in kept]:
            failures.append("batch decrypt gave other plaintexts")
    finally:
        for c in clients:
            c.close()
    return failures


def run_churn(servers: list[Running], rotate: Callable[[int], None], clients: int = 3) -> Counter:
    headers_server = servers[0]
    with headers_server.client() as c:
        add_user(
            headers_server.settings,
            "churn",
            ["transit:encrypt:live", "transit:decrypt:live", "transit:rewrap:live"],
        )
        headers = bearer(login(c, "churn").json()["access_token"])
    stop = threading.Event()
    seen: Counter = Counter()
    results: list[list[str]] = [[] for _ in range(clients)]

    def worker(i: int) -> None:
        results[i] = churn(servers, headers, stop, seen)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for th in threads:
        th.start()
    try:
        # Each rotation waits for the clients to have used the version before it (the key
        # starts at version 1; rotation n makes version n + 2), however slow they are.
        for n in range(ROUNDS_OF_ROTATION + 1):
            wait_until(
                lambda v=n + 1: (
                    seen[v] >= USES_PER_VERSION or not all(th.is_alive() for th in threads)
                )
            )
            if n < ROUNDS_OF_ROTATION:
                rotate(n)
    finally:
        stop.set()
        for th in threads:
            th.join(60)
    failures = [f for r in results for f in r]
    assert failures == [], failures[:5]
    return seen


def test_thirty_rotations_at_once_make_thirty_versions(service) -> None:
    from tests.service._workers import together

    with service.client() as c:
        t = Transit(service, c)
        admin = t.headers(*ALL_SCOPES)
        assert t.post("/v1/keys/burst", {}, admin).status_code == 201
        clients = [service.client() for _ in range(30)]
        try:
            answers = together(
                clients, lambda _i, cl: cl.post("/v1/keys/burst/rotate", headers=admin)
            )
        finally:
            for cl in clients:
                cl.close()
        assert [a.status_code for a in answers] == [200] * 30, [
            a.text for a in answers if a.status_code != 200
        ]
        info = c.get("/v1/keys/burst", headers=admin).json()
    assert info["latest_version"] == 31
    assert sorted(int(v) for v in info["keys"]) == list(range(1, 32))


def test_concurrent_rotations_audit_each_version_they_made_once(tmp_path: Path, shared) -> None:
    # Two servers on one database rotate at once: each rotation's audit record names the
    # version it made, not whatever the key's latest was when it was read back, so the
    # log accounts for every version exactly once.
    from tests.service._workers import together

    data = tmp_path / "data"
    with (
        run_service(make_settings(data, **shared)) as a,
        run_service(make_settings(data, **shared)) as b,
        a.client() as c,
    ):
        add_user(a.settings, "ops", list(ALL_SCOPES))
        admin = bearer(login(c, "ops").json()["access_token"])
        assert c.post("/v1/keys/audited", json={}, headers=admin).status_code == 201
        clients = [(a if i % 2 else b).client() for i in range(24)]
        try:
            answers = together(
                clients, lambda _i, cl: cl.post("/v1/keys/audited/rotate", headers=admin)
            )
        finally:
            for cl in clients:
                cl.close()
        assert [r.status_code for r in answers] == [200] * 24
        assert c.get("/v1/keys/audited", headers=admin).json()["latest_version"] == 25
        audit = a.audit()
    made = [
        line.split('"detail": "key=audited version=')[1].split('"')[0]
        for line in audit.splitlines()
        if '"transit.rotate"' in line and "key=audited " in line
    ]
    assert sorted(made, key=int) == [str(v) for v in range(2, 26)]


def test_clients_see_no_failures_while_keys_rotate(service) -> None:
    with service.client() as c:
        t = Transit(service, c)
        admin = t.headers(*ALL_SCOPES)
        assert t.post("/v1/keys/live", {}, admin).status_code == 201

        def rotate(_n: int) -> None:
            assert t.post("/v1/keys/live/rotate", None, admin).status_code == 200

        seen = run_churn([service], rotate)
    # Every version was used while the clients ran.
    assert sorted(seen) == list(range(1, ROUNDS_OF_ROTATION + 2)), seen


def test_two_servers_share_rotations_without_a_failure(tmp_path: Path, shared) -> None:
    data = tmp_path / "data"
    with (
        run_service(make_settings(data, **shared)) as a,
        run_service(make_settings(data, **shared)) as b,
        a.client() as ca,
        b.client() as cb,
    ):
        add_user(a.settings, "ops", list(ALL_SCOPES))
        admin = bearer(login(ca, "ops").json()["access_token"])
        assert ca.post("/v1/keys/live", json={}, headers=admin).status_code == 201

        def rotate(n: int) -> None:
            # Rotations through either server.
            client = ca if n % 2 == 0 else cb
            assert client.post("/v1/keys/live/rotate", headers=admin).status_code == 200

        seen = run_churn([a, b], rotate)
    assert sorted(seen) == list(range(1, ROUNDS_OF_ROTATION + 2)), seen


def test_a_change_through_one_server_reaches_the_other(tmp_path: Path, shared) -> None:
    # The cache is trusted for an hour here: only the Redis announcement can bring B the
    # news within the test (wait_until's guard is far shorter).
    data = tmp_path / "data"
    cached = {**shared, "transit_cache_ttl": 3600}
    with (
        run_service(make_settings(data, **cached)) as a,
        run_service(make_settings(data, **cached)) as b,
        a.client() as ca,
        b.client() as cb,
    ):
        add_user(a.settings, "ops", list(ALL_SCOPES))
        admin = bearer(login(ca, "ops").json()["access_token"])

        def encrypt(client) -> dict:
            return client.post(
                "/v1/keys/k/encrypt", json={"plaintext": b64(b"x")}, headers=admin
            ).json()

        def decrypt(client, ciphertext: str):
            return client.post("/v1/keys/k/decrypt", json={"ciphertext": ciphertext}, headers=admin)

        ca.post("/v1/keys/k", json={}, headers=admin)
        v1 = encrypt(cb)  # B reads the new key on first use
        assert v1["key_version"] == 1
        # Rotated through A: B encrypts with version 2 at once (the Redis announcement).
        ca.post("/v1/keys/k/rotate", headers=admin)
        wait_until(lambda: encrypt(cb)["key_version"] == 2)
        # A version B has never seen, made through A, opens on B at once.
        ca.post("/v1/keys/k/rotate", headers=admin)
        v3 = encrypt(ca)
        assert v3["key_version"] == 3
        assert decrypt(cb, v3["ciphertext"]).status_code == 200
        # min_decryption_version raised through A: B refuses version 1 right away.
        ca.patch("/v1/keys/k", json={"min_decryption_version": 2}, headers=admin)
        wait_until(lambda: decrypt(cb, v1["ciphertext"]).status_code == 400)
        assert decrypt(cb, v1["ciphertext"]).json()["error"] == "key_version_too_old"

        # After a lost subscription, B subscribes again and forgets what it cached.
        control = redis.Redis.from_url(REDIS_URL)
        try:
            # Only this run's subscribers (named after the channel; other users of the server stay).
            ours = [
                c
                for c in control.client_list(_type="pubsub")
                if c.get("name") == f"{CHANNEL}-events"
            ]
            assert len(ours) >= 2
            for client in ours:
                control.client_kill_filter(_id=client["id"])
            wait_until(lambda: control.pubsub_numsub(CHANNEL)[0][1] >= 2)
        finally:
            control.close()
        ca.patch("/v1/keys/k", json={"min_decryption_version": 3}, headers=admin)
        wait_until(lambda: decrypt(cb, encrypt(ca)["ciphertext"]).status_code == 200)
        v2 = {"ciphertext": "sealbox:v2:" + v3["ciphertext"].split(":", 2)[2]}
        wait_until(lambda: decrypt(cb, v2["ciphertext"]).json()["error"] == "key_version_too_old")

        # Deleted through A: B answers 404.
        ca.patch("/v1/keys/k", json={"deletion_allowed": True}, headers=admin)
        assert ca.delete("/v1/keys/k", headers=admin).status_code == 204
        wait_until(lambda: decrypt(cb, v3["ciphertext"]).status_code == 404)


def test_without_redis_the_cache_ttl_bounds_staleness(tmp_path: Path) -> None:
    # C, whose cache is trusted for an hour, is the control: when B (half a second) has
    # the news, C still serves its cached copy. B's TTL brought the news, not a read of
    # the database on every request.
    data = tmp_path / "data"
    with (
        run_service(make_settings(data, transit_cache_ttl=0.5)) as a,
        run_service(make_settings(data, transit_cache_ttl=0.5)) as b,
        run_service(make_settings(data, transit_cache_ttl=3600)) as c,
        a.client() as ca,
        b.client() as cb,
        c.client() as cc,
    ):
        add_user(a.settings, "ops", list(ALL_SCOPES))
        admin = bearer(login(ca, "ops").json()["access_token"])
        ca.post("/v1/keys/k", json={}, headers=admin)
        body = {"plaintext": b64(b"x")}
        assert cb.post("/v1/keys/k/encrypt", json=body, headers=admin).json()["key_version"] == 1
        v1_on_c = cc.post("/v1/keys/k/encrypt", json=body, headers=admin).json()
        assert v1_on_c["key_version"] == 1
        ca.post("/v1/keys/k/rotate", headers=admin)
        # A newer version in an input makes B read the key again at once...
        v2 = ca.post("/v1/keys/k/encrypt", json=body, headers=admin).json()["ciphertext"]
        r = cb.post("/v1/keys/k/decrypt", json={"ciphertext": v2}, headers=admin)
        assert r.status_code == 200
        # ...and a configuration change reaches it within the TTL.
        ca.patch("/v1/keys/k", json={"min_decryption_version": 2}, headers=admin)
        v1 = "sealbox:v1:" + v2.split(":", 2)[2]

        def refused() -> bool:
            r = cb.post("/v1/keys/k/decrypt", json={"ciphertext": v1}, headers=admin)
            return r.json().get("error") == "key_version_too_old"

        wait_until(refused)
        # C still holds version 1 as decryptable: it opens a version 1 ciphertext.
        r = cc.post("/v1/keys/k/decrypt", json={"ciphertext": v1_on_c["ciphertext"]}, headers=admin)
        assert r.status_code == 200, r.text
