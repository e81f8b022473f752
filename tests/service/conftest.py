"""Run the real service over real HTTPS on 127.0.0.1 for the tests."""

from __future__ import annotations

import atexit
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sealbox.exceptions import SealboxError
from sealbox.service.app import create_app
from sealbox.service.connection import connection_class
from sealbox.service.serve import prepare, uvicorn_options
from sealbox.service.settings import ServiceSettings
from sealbox.tls.client import secure_client
from tests._uvicorn import uvicorn_in_thread
from tests.conftest import IN_CI

PASSWORD = "canary-service-password-5e2b"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_settings(data_dir: Path, **overrides: Any) -> ServiceSettings:
    base: dict[str, Any] = {
        "data_dir": data_dir,
        "port": free_port(),
        "password_profile": "test",
        "reload_interval": 0.2,
    }
    base.update(overrides)
    return ServiceSettings(_env_file=None, **base)


@dataclass
class Running:
    settings: ServiceSettings
    server: Any

    @property
    def url(self) -> str:
        return f"https://localhost:{self.settings.port}"

    @property
    def ca(self) -> Path:
        return Path(self.settings.data_dir) / "tls" / "ca.crt"

    def client(self, **kw: Any) -> httpx2.Client:
        return secure_client(ca=kw.pop("ca", self.ca), base_url=self.url, timeout=20, **kw)

    def audit(self) -> str:
        return (Path(self.settings.data_dir) / "audit.log").read_text()


@dataclass
class ServeProcess:
    """A ``sealbox serve`` child process; ``stderr`` is filled in once it has stopped."""

    proc: Any
    port: int
    data_dir: Path
    stderr: str = ""
    stdout: str = ""  # filled in once it has stopped, when asked for

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def ca(self) -> Path:
        return self.data_dir / "tls" / "ca.crt"

    def client(self) -> httpx2.Client:
        return secure_client(ca=self.ca, base_url=self.url, timeout=20)


@contextmanager
def serve_process(
    cwd: Path,
    *args: str,
    env: dict[str, str] | None = None,
    data_dir: Path | None = None,
    capture_stdout: bool = False,
    expect_exit: int | None = 0,
) -> Iterator[ServeProcess]:
    """Run the real ``sealbox serve`` as a child process until the block ends.

    It is ready (``/health`` answers over HTTPS) when the block starts; its stderr is
    in ``.stderr`` after the block.

    The block's end sends it SIGTERM, and, unless the block raised, checks the stop that
    docs/service.md (*Stopping*) promises: exit status ``expect_exit`` (0), and no
    traceback on stderr. A test that ends the server otherwise on purpose says how it
    ends (``-signal.SIGKILL``), or ``expect_exit=None`` to check nothing.
    """
    import os
    import subprocess
    import sys

    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    full_env.update(env or {})
    command = [sys.executable, "-m", "sealbox", "serve", "--port", str(port)]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    err_path, out_path = cwd / f"serve-{port}.err", cwd / f"serve-{port}.out"
    with err_path.open("wb") as err, out_path.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--log-level", "warning", *args],
            cwd=cwd,
            env=full_env,
            stdout=out if capture_stdout else subprocess.DEVNULL,
            stderr=err,
        )
    running = ServeProcess(proc, port, data_dir or cwd / ".sealbox")
    try:
        deadline = time.monotonic() + 60
        # Short pauses first, as a start takes about a second: waiting a fixed 0.2 s
        # added up to a minute of a test run; a few milliseconds per try leave the
        # starting service its CPU.
        pause = 0.01
        while True:
            try:
                with running.client() as c:
                    if c.get("/health").status_code == 200:
                        break
            except (httpx2.HTTPError, OSError, SealboxError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"sealbox serve did not start: {err_path.read_text()}"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 1.5, 0.05)
        yield running
        ended = "stopped by SIGTERM" if proc.poll() is None else "ended in the block"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            ended = "still running 30 s after SIGTERM, killed"
        running.stderr = err_path.read_text(errors="replace")
        running.stdout = out_path.read_text(errors="replace")
    # Reached only when the block did not raise: its own failure is the one to show.
    if expect_exit is not None:
        status = proc.returncode
        assert status == expect_exit, (
            f"sealbox serve {ended}: exit status {status}, not {expect_exit}\n"
            f"{running.stderr[-3000:]}"
        )
        assert "Traceback" not in running.stderr, running.stderr[-3000:]


@contextmanager
def run_service(settings: ServiceSettings, **app_options: Any) -> Iterator[Running]:
    """Provision, migrate, and serve ``settings`` in a thread until the block ends."""
    import logging

    import uvicorn

    # The app's start puts a redaction filter on each handler of the root and "sealbox"
    # loggers, here pytest's, which live for the whole session: taken off again when the
    # service stops, or every record of every later test goes through one more filter per
    # service started before it (a test logging at DEBUG then took a minute).
    handlers = [*logging.getLogger().handlers, *logging.getLogger("sealbox").handlers]
    filters = {handler: list(handler.filters) for handler in handlers}
    prepare(settings)
    config = uvicorn.Config(
        create_app(settings, **app_options),
        http=connection_class(settings),
        **uvicorn_options(settings, log_level="warning"),
    )
    try:
        with uvicorn_in_thread(config, "the service") as server:
            yield Running(settings, server)
    finally:
        for handler, kept in filters.items():
            handler.filters[:] = kept


# Each test run has its own PostgreSQL database and Redis key prefix, so two runs on one
# machine (two checkouts, CI beside a developer) never see or clobber each other's state.
RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_DB = f"sealbox_test_{RUN_ID}"
POSTGRES_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{POSTGRES_DB}"
REDIS_URL = "redis://127.0.0.1:6379/15"
REDIS_PREFIX = f"sealbox-test-{RUN_ID}:"
_created: list[str] = []


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def require_server(name: str, port: int) -> None:
    """Skip when a database server is not running (fail under CI=true)."""
    if not _reachable(port):
        message = f"{name} is not reachable at 127.0.0.1:{port}"
        if IN_CI:
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)


async def _admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def ensure_database() -> None:
    """Create this run's PostgreSQL database once (dropped when the run ends)."""
    import asyncio

    if not _created:
        asyncio.run(_admin(f'CREATE DATABASE "{POSTGRES_DB}"'))
        _created.append(POSTGRES_DB)
        atexit.register(drop_run_state)


def drop_run_state() -> None:
    """Drop this run's database and delete its Redis keys (at the end of the session)."""
    import asyncio

    if _created:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{POSTGRES_DB}" WITH (FORCE)'))
        _created.clear()
    if _reachable(6379):
        _delete_redis_keys()


def _delete_redis_keys(prefix: str = REDIS_PREFIX) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def shared_settings() -> dict[str, Any]:
    """Settings for PostgreSQL + Redis: this run's database and key prefix (or a skip)."""
    require_server("PostgreSQL", 5432)
    require_server("Redis", 6379)
    ensure_database()
    return {"database_url": POSTGRES_URL, "redis_url": REDIS_URL, "redis_prefix": REDIS_PREFIX}


def shared_env() -> dict[str, str]:
    """The ``SEALBOX_*`` variables of :func:`shared_settings`, for ``sealbox serve`` children."""
    return {f"SEALBOX_{k.upper()}": v for k, v in shared_settings().items()}


def reset_shared_state() -> None:
    """Empty this run's PostgreSQL tables and Redis keys."""
    import asyncio

    from sqlalchemy import text

    from sealbox.service.db import make_engine

    async def drop() -> None:
        engine = make_engine(POSTGRES_URL)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    ensure_database()
    asyncio.run(drop())
    _delete_redis_keys()


@pytest.fixture
def redis_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    """A forwarder to the machine's Redis that a test cuts and restores (a
    :class:`tests._tcp_proxy.Proxy`), and a key prefix of the test's own, deleted after."""
    from sealbox.accounts import redis_client
    from tests._tcp_proxy import proxy_to

    # A Redis that went away is learnt of at once (closed connections), not after a timeout.
    monkeypatch.setattr(redis_client, "SOCKET_TIMEOUT", 1.0)
    prefix = f"{REDIS_PREFIX}proxied-{uuid.uuid4().hex[:8]}:"
    with proxy_to("127.0.0.1", 6379) as proxy:
        yield proxy, prefix
    _delete_redis_keys(prefix)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request) -> Iterator[dict[str, Any]]:
    """Settings for each storage backend: SQLite alone, or PostgreSQL with Redis."""
    if request.param == "sqlite":
        yield {}
        return
    shared = shared_settings()
    reset_shared_state()
    yield shared
    reset_shared_state()


@contextmanager
def private_shared_state(name: str, *, password: str | None = None) -> Iterator[dict[str, Any]]:
    """PostgreSQL + Redis settings with a database and key prefix of their own.

    For a service that outlives one test: :func:`reset_shared_state`, which other tests
    call, empties this run's database and keys, not these. Dropped when the block ends.
    ``password`` goes into the database URL (trust auth takes any): a canary that the
    URL's secret is never shown.
    """
    import asyncio

    shared = shared_settings()
    database = f"{POSTGRES_DB}_{name}"
    prefix = f"{REDIS_PREFIX.removesuffix(':')}-{name}:"  # outside REDIS_PREFIX's keys
    asyncio.run(_admin(f'CREATE DATABASE "{database}"'))
    try:
        yield {
            **shared,
            "database_url": (
                POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}"
                if password is None
                else POSTGRES_URL.rsplit("/", 1)[0].replace(
                    "://postgres@", f"://postgres:{password}@"
                )
                + f"/{database}"
            ),
            "redis_prefix": prefix,
        }
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        _delete_redis_keys(prefix)


@pytest.fixture
def service(tmp_path: Path, backend: dict[str, Any]) -> Iterator[Running]:
    with run_service(make_settings(tmp_path / "data", **backend)) as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_service(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One service for all the tests of a module, on each storage backend.

    Only for tests that leave nothing the module's other tests read: no accounts or keys
    under names another test uses, no throttled username or address, no settings changed.
    Starting a service (and migrating its database) costs more than most such tests.
    """
    data = tmp_path_factory.mktemp("service") / "data"
    if request.param == "sqlite":
        with run_service(make_settings(data)) as running:
            yield running
        return
    with (
        private_shared_state(request.module.__name__.rsplit(".", 1)[-1]) as shared,
        run_service(make_settings(data, **shared)) as running,
    ):
        yield running


def register(client: httpx2.Client, username: str, password: str = PASSWORD) -> httpx2.Response:
    return client.post("/auth/register", json={"username": username, "password": password})


def login(client: httpx2.Client, username: str, password: str = PASSWORD) -> httpx2.Response:
    return client.post("/auth/token", data={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
