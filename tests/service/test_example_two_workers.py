"""examples/fastapi_app.py as a team runs it in production: plain uvicorn ``--workers 2``
over TLS on PostgreSQL and Redis, both workers starting together on a fresh data folder
and database, administered by ``sealbox users`` while it serves."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from sealbox.exceptions import SealboxError
from sealbox.service.serve import prepare
from sealbox.tls.client import secure_client
from tests.conftest import run_sealbox
from tests.service._workers import attempts, client_port, serving_worker, worker_pids
from tests.service.conftest import (
    PASSWORD,
    bearer,
    free_port,
    login,
    make_settings,
    private_shared_state,
)
from tests.service.test_fastapi_example import EXAMPLES

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@dataclass
class Scaled:
    proc: subprocess.Popen[bytes]
    port: int
    tls: Path
    env: dict[str, str]
    err_path: Path

    def client(self) -> httpx2.Client:
        return secure_client(
            ca=self.tls / "ca.crt", base_url=f"https://localhost:{self.port}", timeout=20
        )

    def on_each_worker(self, send: Callable[[httpx2.Client], httpx2.Response]) -> dict[int, int]:
        """Send on new connections until each worker answered; its status code by worker."""
        pids = worker_pids(self.proc.pid, self.port)
        assert len(pids) == 2, pids
        answers: dict[int, int] = {}
        for _ in attempts():
            with self.client() as c:
                r = send(c)
                worker = serving_worker(pids, self.port, client_port(r))
            assert worker is not None
            answers.setdefault(worker, r.status_code)
            if len(answers) == 2:
                break
        assert len(answers) == 2, answers
        return answers

    def sealbox(
        self, *args: str, stdin: str = "", **env: str
    ) -> subprocess.CompletedProcess[bytes]:
        data_dir = self.env["SEALBOX_DATA_DIR"]
        command = [*args, "--data-dir", data_dir]
        return run_sealbox(command, input=stdin.encode(), env={**self.env, **env})


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scaled]:
    work = tmp_path_factory.mktemp("scaled")
    # A development certificate for localhost, kept outside the data folder: the folder
    # (keys, audit log) and the database are made by the two workers starting together.
    prepare(make_settings(work / "seed"))
    tls = work / "seed" / "tls"
    with private_shared_state("example_workers") as shared:  # a skip without the servers
        env = {
            "SEALBOX_DATA_DIR": str(work / "data"),
            "SEALBOX_PASSWORD_PROFILE": "test",
            "SEALBOX_DATABASE_URL": shared["database_url"],
            "SEALBOX_REDIS_URL": shared["redis_url"],
            "SEALBOX_REDIS_PREFIX": shared["redis_prefix"],
        }
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")} | env
        port = free_port()
        err_path = work / "uvicorn.err"
        with err_path.open("wb") as err:
            proc = subprocess.Popen(
                [
                    *[sys.executable, "-m", "uvicorn", "fastapi_app:app"],
                    *["--app-dir", str(EXAMPLES), "--workers", "2"],
                    *["--host", "127.0.0.1", "--port", str(port)],
                    *["--ssl-keyfile", str(tls / "server.key")],
                    *["--ssl-certfile", str(tls / "server.crt"), "--log-level", "warning"],
                ],
                cwd=work,
                env=full_env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        app = Scaled(proc, port, tls, env, err_path)
        try:
            deadline = time.monotonic() + 60
            while len(worker_pids(proc.pid, port)) < 2 or not _answers(app):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the example did not start: {err_path.read_text()}")
                time.sleep(0.2)
            yield app
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        assert "Traceback" not in err_path.read_text(errors="replace")


def _answers(app: Scaled) -> bool:
    try:
        with app.client() as c:
            return c.get("/.well-known/jwks.json").status_code == 200
    except (httpx2.HTTPError, OSError, SealboxError):
        return False


def _kid(token: str) -> str:
    header = json.loads(base64.urlsafe_b64decode(token.split(".", 1)[0] + "=="))
    return str(header["kid"])


def test_workers_started_together_share_one_keyset_and_verify_each_others_tokens(
    scaled: Scaled,
) -> None:
    created = scaled.sealbox("users", "create", "ada", "--scope", "orders:read", stdin=PASSWORD)
    assert created.returncode == 0, created.stderr
    tokens: dict[int, str] = {}
    pids = worker_pids(scaled.proc.pid, scaled.port)
    for _ in attempts():
        with scaled.client() as c:
            r = login(c, "ada")
            tokens.setdefault(serving_worker(pids, scaled.port, client_port(r)) or 0, r.text)
        if len(tokens) == 2:
            break
    assert sorted(tokens) == pids
    issued = [json.loads(text)["access_token"] for text in tokens.values()]
    assert len({_kid(t) for t in issued}) == 1  # one keyset, made once
    for token in issued:
        answers = scaled.on_each_worker(lambda c, t=token: c.get("/orders", headers=bearer(t)))
        assert set(answers.values()) == {200}
    with scaled.client() as c:
        published = c.get("/.well-known/jwks.json").json()["keys"]
    assert [k["kid"] for k in published] == [_kid(issued[0])]


def test_sealbox_users_disable_refuses_the_live_token_on_both_workers(scaled: Scaled) -> None:
    assert scaled.sealbox("users", "create", "bea", stdin=PASSWORD).returncode == 0
    with scaled.client() as c:
        token = login(c, "bea").json()["access_token"]
    disabled = scaled.sealbox("users", "disable", "bea")
    assert disabled.returncode == 0, disabled.stderr
    answers = scaled.on_each_worker(lambda c: c.get("/users/me", headers=bearer(token)))
    assert set(answers.values()) == {401}


def test_sealbox_users_with_another_redis_prefix_is_refused_and_changes_nothing(
    scaled: Scaled,
) -> None:
    """Told to another key prefix, a disable would end the sessions where the workers do
    not look: the access token would pass until it expires. It is refused instead."""
    assert scaled.sealbox("users", "create", "cy", stdin=PASSWORD).returncode == 0
    with scaled.client() as c:
        token = login(c, "cy").json()["access_token"]
    other = scaled.sealbox("users", "disable", "cy", SEALBOX_REDIS_PREFIX="sealbox-other:")
    assert other.returncode == 1
    assert b"another Redis database or key prefix" in other.stderr
    assert b"hint: give the command the service's SEALBOX_REDIS_URL" in other.stderr
    answers = scaled.on_each_worker(lambda c: c.get("/users/me", headers=bearer(token)))
    assert set(answers.values()) == {200}  # nothing was changed: cy is not disabled
    listed = json.loads(scaled.sealbox("users", "list", "--json").stdout)
    assert [u["disabled"] for u in listed if u["name"] == "cy"] == [False]
