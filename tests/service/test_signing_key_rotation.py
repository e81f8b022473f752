"""Rotating the signing key of a running ``sealbox serve``: ``sealbox jwt keyset … --data-dir``.

Real processes over real TLS: the service is a ``sealbox serve`` child, the rotations are
``sealbox`` commands, and what a worker signs and publishes is read through HTTPS.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest

from sealbox.jwt import decode_unverified
from tests._race import race
from tests.conftest import run_sealbox
from tests.service._workers import attempts, client_port, serving_worker, worker_pids
from tests.service.conftest import (
    ServeProcess,
    bearer,
    login,
    register,
    reset_shared_state,
    serve_process,
    shared_env,
)

ENV = {"SEALBOX_PASSWORD_PROFILE": "test"}
# Generous: a worker looks at the file once a second, on a machine other tests share.
DEADLINE = 60.0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    with serve_process(tmp_path, env=ENV, data_dir=tmp_path / "data") as srv:
        yield srv
    assert "Traceback" not in srv.stderr, srv.stderr[-2000:]


def sealbox(*args: object) -> Any:
    r = run_sealbox([*map(str, args)], env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    return r


def rotate(data: Path) -> str:
    r = sealbox("jwt", "keyset", "rotate", "--data-dir", data, "--json")
    return str(json.loads(r.stdout)["id"])


def jwks_kids(srv: ServeProcess) -> list[str]:
    with srv.client() as c:
        r = c.get("/.well-known/jwks.json")
    assert r.status_code == 200
    return [k["kid"] for k in r.json()["keys"]]


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.1)


def token_of(srv: ServeProcess, name: str) -> str:
    with srv.client() as c:
        r = login(c, name)
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def kid_of(token: str) -> str:
    return str(decode_unverified(token).header["kid"])


def me(srv: ServeProcess, token: str) -> int:
    with srv.client() as c:
        return c.get("/users/me", headers=bearer(token)).status_code


def test_a_rotation_reaches_the_running_service_and_old_tokens_verify_until_destroyed(
    served: ServeProcess,
) -> None:
    data = served.data_dir
    with served.client() as c:
        assert register(c, "alice").status_code == 201
    old_token = token_of(served, "alice")
    old = kid_of(old_token)
    assert jwks_kids(served) == [old]

    new = rotate(data)
    assert new != old
    # Published by the running service without a restart: the new key first (it signs).
    wait_for(lambda: jwks_kids(served) == [new, old], "the JWKS publishes both keys")
    assert me(served, old_token) == 200  # the old key still verifies what it signed
    new_token = token_of(served, "alice")
    assert kid_of(new_token) == new

    # The key that signs cannot be destroyed: rotate first.
    r = run_sealbox(["jwt", "keyset", "destroy", "--data-dir", data, "--yes", "--", new], env=ENV)
    assert r.returncode == 1
    assert b"is the primary key (it signs) and cannot be destroyed" in r.stderr

    sealbox("jwt", "keyset", "destroy", "--data-dir", data, "--yes", "--", old)
    wait_for(lambda: jwks_kids(served) == [new], "the destroyed key leaves the JWKS")
    # Refused although this worker had checked its signature before.
    assert me(served, old_token) == 401
    assert me(served, new_token) == 200

    records = [json.loads(line) for line in (data / "audit.log").read_text().splitlines()]
    changes = [(r["event"], r["detail"]) for r in records if r["event"].startswith("admin.")]
    assert changes == [
        ("admin.keyset_rotate", f"rotated to key {new} (EdDSA); command line"),
        ("admin.keyset_destroy", f"destroyed key {old} (EdDSA); command line"),
    ]


def test_a_staged_rotation_publishes_the_key_before_it_signs_and_pyjwt_follows(
    served: ServeProcess,
) -> None:
    data = served.data_dir
    with served.client() as c:
        assert register(c, "dana").status_code == 201
    first_token = token_of(served, "dana")
    old = kid_of(first_token)

    r = sealbox("jwt", "keyset", "add", "--data-dir", data, "--json")
    new = str(json.loads(r.stdout)["id"])
    # Published by the running service, after the key that signs; which still signs.
    wait_for(lambda: jwks_kids(served) == [old, new], "the JWKS publishes the added key")
    staged_token = token_of(served, "dana")
    assert kid_of(staged_token) == old

    # A relying party that caches the JWKS (PyJWT's client) fetches it now, once.
    relying = pyjwt.PyJWKClient(
        f"{served.url}/.well-known/jwks.json",
        ssl_context=ssl.create_default_context(cafile=str(served.ca)),
    )
    cached = {k.key_id for k in relying.get_jwk_set().keys}
    assert cached == {old, new}

    sealbox("jwt", "keyset", "set-primary", "--data-dir", data, "--", new)
    wait_for(lambda: jwks_kids(served) == [new, old], "the JWKS lists the new primary first")
    new_token = token_of(served, "dana")
    assert kid_of(new_token) == new
    # Its kid was in the relying party's cache before the first token carried it.
    claims = pyjwt.decode(
        new_token,
        relying.get_signing_key_from_jwt(new_token).key,
        algorithms=["EdDSA"],
        audience="sealbox",
        issuer="sealbox",
    )
    assert claims["sub"]
    for token in (first_token, staged_token, new_token):
        assert me(served, token) == 200  # signed before the promotion, still verified
    assert (
        pyjwt.decode(
            staged_token,
            relying.get_signing_key_from_jwt(staged_token).key,
            algorithms=["EdDSA"],
            audience="sealbox",
            issuer="sealbox",
        )["sub"]
        == claims["sub"]
    )

    # Later, the old key is disabled: out of the JWKS, and what it signed is refused.
    sealbox("jwt", "keyset", "disable", "--data-dir", data, "--", old)
    wait_for(lambda: jwks_kids(served) == [new], "the disabled key leaves the JWKS")
    assert me(served, staged_token) == 401
    assert me(served, new_token) == 200

    records = [json.loads(line) for line in (data / "audit.log").read_text().splitlines()]
    assert [r["event"] for r in records if r["event"].startswith("admin.")] == [
        "admin.keyset_add",
        "admin.keyset_set_primary",
        "admin.keyset_disable",
    ]


def test_two_rotations_racing_from_two_processes_keep_both_keys(served: ServeProcess) -> None:
    data = served.data_dir
    first = jwks_kids(served)
    results = race([["jwt", "keyset", "rotate", "--data-dir", data, "--json"]] * 2, env=ENV)
    assert [r.code for r in results] == [0, 0], [r.err for r in results]
    made = {json.loads(r.out)["id"] for r in results}
    assert len(made) == 2
    listed = json.loads(sealbox("jwt", "keyset", "list", "--data-dir", data, "--json").stdout)
    assert {k["id"] for k in listed} == {*first, *made}
    assert sum(k["primary"] for k in listed) == 1
    wait_for(lambda: set(jwks_kids(served)) == {*first, *made}, "the JWKS has every key")


def test_a_damaged_keyset_file_leaves_the_running_service_on_its_keys(
    served: ServeProcess,
) -> None:
    data = served.data_dir
    keyset = data / "jwt-keyset.sealed"
    with served.client() as c:
        assert register(c, "bob").status_code == 201
    token = token_of(served, "bob")
    kids = jwks_kids(served)
    good = keyset.read_bytes()
    damaged = data / "damaged"
    damaged.write_bytes(good[:40] + b"not a keyset" + good[60:])
    damaged.chmod(0o600)
    damaged.replace(keyset)  # as a bad restore would put it: a new file
    err = data.parent / f"serve-{served.port}.err"
    wait_for(lambda: "does not load" in err.read_text(), "the worker says the file is bad")
    assert served.proc.poll() is None
    assert me(served, token) == 200
    assert jwks_kids(served) == kids
    assert kid_of(token_of(served, "bob")) == kids[0]
    # Said once, and with no key material: the master key is not in the log.
    log = err.read_text()
    assert log.count("does not load") == 1
    master = (data / "master.key").read_text().split()[1]
    assert master not in log

    # Put back, the file is a change again: a rotation made then reaches the worker.
    restored = data / "restored"
    restored.write_bytes(good)
    restored.chmod(0o600)
    restored.replace(keyset)
    new = rotate(data)
    wait_for(lambda: jwks_kids(served) == [new, *kids], "the rotation after the repair")


@pytest.mark.postgres
@pytest.mark.redis
def test_every_worker_of_a_scaled_out_service_takes_the_rotation(tmp_path: Path) -> None:
    env = {**shared_env(), **ENV}  # skips (or fails under CI) without PostgreSQL and Redis
    reset_shared_state()
    try:
        with serve_process(tmp_path, "--workers", "2", env=env, data_dir=tmp_path / "data") as srv:
            with srv.client() as c:
                assert register(c, "carol").status_code == 201
            old_token = token_of(srv, "carol")
            old = kid_of(old_token)
            r = run_sealbox(
                ["jwt", "keyset", "rotate", "--data-dir", srv.data_dir, "--json"], env=env
            )
            assert r.returncode == 0, r.stderr.decode()
            new = json.loads(r.stdout)["id"]
            answers = by_worker(srv, lambda c: c.get("/.well-known/jwks.json").json()["keys"])
            for keys in answers.values():
                assert [k["kid"] for k in keys] == [new, old]
            for status in by_worker(
                srv, lambda c: c.get("/users/me", headers=bearer(old_token)).status_code
            ).values():
                assert status == 200
            for kid in by_worker(
                srv, lambda c: kid_of(login(c, "carol").json()["access_token"])
            ).values():
                assert kid == new
        assert "Traceback" not in srv.stderr, srv.stderr[-2000:]
    finally:
        reset_shared_state()


def by_worker(srv: ServeProcess, ask: Callable[[Any], Any]) -> dict[int, Any]:
    """``ask``'s answer from each of the two workers, once each has answered as a worker
    that took the rotation (asked again over new connections until then)."""
    pids = worker_pids(srv.proc.pid, srv.port)
    assert len(pids) == 2, pids
    answers: dict[int, Any] = {}
    deadline = time.monotonic() + DEADLINE
    for _ in attempts(DEADLINE):
        with srv.client() as c:
            r = c.get("/.well-known/jwks.json")
            pid = serving_worker(pids, srv.port, client_port(r))
            # A worker answers once it publishes more than the one key it started with.
            if pid is not None and pid not in answers and len(r.json()["keys"]) == 2:
                answers[pid] = ask(c)
        if len(answers) == 2:
            return answers
        assert time.monotonic() < deadline
    raise AssertionError(f"only workers {sorted(answers)} of {pids} answered")
