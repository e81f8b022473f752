"""The Vault-shaped API on ``sealbox serve --workers 2`` sharing PostgreSQL and Redis.

Every hvac client below opens its own connections, which land on either worker: writes
made through one are read through the other, a rotation made on one is used by the
other at once, and concurrent check-and-set writes let exactly one writer win.
"""

from __future__ import annotations

import threading
from pathlib import Path

import hvac
import hvac.exceptions as hx
import pytest

from tests.service._transit import ALL_SCOPES, add_user, b64, unb64
from tests.service._vault import read
from tests.service._workers import attempts, client_port, serving_worker, worker_pids
from tests.service.conftest import (
    login,
    make_settings,
    reset_shared_state,
    serve_process,
    shared_settings,
)
from tests.service.test_vault_clients import VaultSecretsManager

WRITERS = 6
CANARY = "canary-kv-two-workers-5a0e"


@pytest.fixture
def shared():
    settings = shared_settings()
    reset_shared_state()
    yield settings
    reset_shared_state()


def test_two_workers_on_postgresql_serve_vault_clients(tmp_path: Path, shared, monkeypatch) -> None:
    env = {f"SEALBOX_{k.upper()}": v for k, v in shared.items()}
    env["SEALBOX_PASSWORD_PROFILE"] = "test"
    data = tmp_path / "data"
    with serve_process(tmp_path, "--workers", "2", env=env, data_dir=data) as srv:
        add_user(make_settings(data, **shared), "ops", ["kv:admin", *ALL_SCOPES])
        with srv.client() as c:
            token = login(c, "ops").json()["access_token"]

        def client() -> hvac.Client:
            return hvac.Client(url=srv.url, token=token, verify=str(srv.ca))

        client().secrets.kv.v2.create_or_update_secret(path="app/key", secret={"v": CANARY})
        assert read(client(), "app/key")["data"]["data"] == {"v": CANARY}
        for n in range(8):
            client().secrets.kv.v2.create_or_update_secret(path="app/db", secret={"n": str(n)})
            assert read(client(), "app/db")["data"]["data"] == {"n": str(n)}
        assert read(client(), "app/db")["data"]["metadata"]["version"] == 8
        # Fresh connections reach both workers, and both answer the same.
        workers = worker_pids(srv.proc.pid, srv.port)
        assert len(workers) == 2
        served = set()
        for _ in attempts():
            with srv.client() as c:
                r = c.get("/v1/secret/data/app/db", headers={"X-Vault-Token": token})
                assert r.json()["data"]["data"] == {"n": "7"}
                served.add(serving_worker(workers, srv.port, client_port(r)))
            if served >= set(workers):
                break
        assert served == set(workers)

        client().secrets.transit.create_key(name="orders")
        sealed = client().secrets.transit.encrypt_data(name="orders", plaintext=b64(b"row"))
        for _ in range(4):
            client().secrets.transit.rotate_key(name="orders")
            newer = client().secrets.transit.encrypt_data(name="orders", plaintext=b64(b"row"))
            opened = client().secrets.transit.decrypt_data(
                name="orders", ciphertext=newer["data"]["ciphertext"]
            )
            assert unb64(opened["data"]["plaintext"]) == b"row"
        assert newer["data"]["key_version"] == 5
        rewrapped = client().secrets.transit.rewrap_data(
            name="orders", ciphertext=sealed["data"]["ciphertext"]
        )
        assert rewrapped["data"]["ciphertext"].startswith("vault:v5:")

        # Check-and-set from several clients at once: one write per version.
        outcomes: list[str] = []
        barrier = threading.Barrier(WRITERS)

        def write(i: int) -> None:
            mine = client()
            barrier.wait()
            try:
                mine.secrets.kv.v2.create_or_update_secret(
                    path="race", secret={"writer": str(i)}, cas=0
                )
                outcomes.append("won")
            except hx.InvalidRequest:
                outcomes.append("lost")

        threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcomes) == ["lost"] * (WRITERS - 1) + ["won"]
        assert (
            client().secrets.kv.v2.read_secret_metadata(path="race")["data"]["current_version"] == 1
        )

        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(srv.ca))
        manager = VaultSecretsManager(srv.url, token)
        with pytest.warns(DeprecationWarning, match="raise_on_deleted_version"):
            assert manager.get_secret("app/db", "n") == "7"
    assert "Traceback" not in srv.stderr, srv.stderr[-2000:]
    assert CANARY not in srv.stderr
    audit = (data / "audit.log").read_text()
    assert '"event": "kv.write", "outcome": "success"' in audit
    assert CANARY not in audit
    assert token not in audit
