"""Two ``sealbox serve`` processes on one data folder rotate, raise the decryption floor
and encrypt one transit key at once, and one of them is SIGKILLed in the middle of it
(on SQLite in the folder, and on PostgreSQL; Redis shared).

Whatever the kill interrupted, the survivor finds the key whole: its versions are
1 … latest with none missing, every rotation answered 200 made a version of its own,
the latest is at least that many, and every ciphertext answered 200 with a version at
or above the floor still decrypts through the survivor.
"""

from __future__ import annotations

import base64
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_sealbox
from tests.service.conftest import (
    PASSWORD,
    ServeProcess,
    bearer,
    login,
    reset_shared_state,
    serve_process,
    shared_env,
)

SCOPES = ["transit:admin", "transit:encrypt:k", "transit:decrypt:k"]
ROTATORS = 3  # threads per server
ROTATIONS = 15  # each


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    shared = shared_env()  # skips (or fails under CI) without PostgreSQL and Redis
    if request.param == "sqlite":
        shared.pop("SEALBOX_DATABASE_URL")
    reset_shared_state()
    yield {**shared, "SEALBOX_PASSWORD_PROFILE": "test"}
    reset_shared_state()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _burst(
    srv: ServeProcess, headers: dict[str, str], made: list[int], kept: list[tuple[str, bytes]]
) -> None:
    """Rotate and encrypt until done or the server is gone (a refused connection ends it)."""
    try:
        with srv.client() as c:
            for i in range(ROTATIONS):
                r = c.post("/v1/keys/k/rotate", headers=headers)
                assert r.status_code == 200, r.text
                made.append(r.json()["latest_version"])
                plain = b"%d:%d" % (threading.get_ident(), i)
                r = c.post("/v1/keys/k/encrypt", json={"plaintext": _b64(plain)}, headers=headers)
                assert r.status_code == 200, r.text
                kept.append((r.json()["ciphertext"], plain))
                if i == ROTATIONS // 2:
                    floor = max(2, r.json()["key_version"] - 3)
                    r = c.patch(
                        "/v1/keys/k", json={"min_decryption_version": floor}, headers=headers
                    )
                    assert r.status_code in (200, 400), r.text
    except Exception:  # noqa: BLE001 - the killed server's clients stop at its death
        return


def test_a_server_killed_mid_rotation_loses_no_version_and_no_ciphertext(
    tmp_path: Path, env: dict[str, str]
) -> None:
    data = tmp_path / "data"
    r = run_sealbox(
        ["users", "create", "ops", "--data-dir", data, *(f"--scope={s}" for s in SCOPES)],
        input=PASSWORD.encode(),
        env=env,
    )
    assert r.returncode == 0, r.stderr.decode()
    with (
        serve_process(tmp_path, data_dir=data, env=env, expect_exit=-signal.SIGKILL) as doomed,
        serve_process(tmp_path, data_dir=data, env=env) as survivor,
        survivor.client() as c,
    ):
        headers = bearer(login(c, "ops").json()["access_token"])
        assert c.post("/v1/keys/k", json={}, headers=headers).status_code == 201
        first = c.post("/v1/keys/k/encrypt", json={"plaintext": _b64(b"v1")}, headers=headers)
        kept_doomed: list[tuple[str, bytes]] = []
        kept_survivor: list[tuple[str, bytes]] = [(first.json()["ciphertext"], b"v1")]
        made_doomed: list[int] = []
        made_survivor: list[int] = []
        threads = [
            threading.Thread(target=_burst, args=(doomed, headers, made_doomed, kept_doomed))
            for _ in range(ROTATORS)
        ] + [
            threading.Thread(target=_burst, args=(survivor, headers, made_survivor, kept_survivor))
            for _ in range(ROTATORS)
        ]
        for t in threads:
            t.start()
        # Killed once it has made some versions, while its clients are still rotating.
        while len(made_doomed) < ROTATIONS and any(t.is_alive() for t in threads[:ROTATORS]):
            threading.Event().wait(0.01)
        doomed.proc.send_signal(signal.SIGKILL)
        doomed.proc.wait(30)
        for t in threads:
            t.join(120)
        # The survivor's own clients ran to the end.
        assert len(made_survivor) == ROTATORS * ROTATIONS

        info = c.get("/v1/keys/k", headers=headers).json()
        latest, floor = info["latest_version"], info["min_decryption_version"]
        assert sorted(int(v) for v in info["keys"]) == list(range(1, latest + 1))
        assert latest >= 1 + len(made_doomed) + len(made_survivor)
        # A rotation sent again after the kill makes the next version, densely.
        r = c.post("/v1/keys/k/rotate", headers=headers)
        assert r.json()["latest_version"] == latest + 1

        opened = 0
        for ciphertext, plain in kept_doomed + kept_survivor:
            version = int(ciphertext.split(":")[1][1:])
            r = c.post("/v1/keys/k/decrypt", json={"ciphertext": ciphertext}, headers=headers)
            if version < floor:
                assert r.json()["error"] == "key_version_too_old", r.text
                continue
            assert r.status_code == 200, r.text
            assert base64.b64decode(r.json()["plaintext"]) == plain
            opened += 1
        assert opened > 0
