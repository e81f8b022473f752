"""``/auth/logout`` and ``/auth/password`` of ``auth_router`` answer 503 ``store_unavailable``
when the accounts' PostgreSQL does not answer, in an app that never called
``install_error_handlers`` too (not a 500), and with sealbox's handlers the same answer.
Plain uvicorn over real TLS on 127.0.0.1, real PostgreSQL reached through a forwarder the
test cuts; revocations in the process (no Redis), so the bearer check itself needs no
store and the route meets the outage."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests._tcp_proxy import Proxy, proxy_to
from tests.service._own_app import accounts_lifespan, auth_app, served_over_tls
from tests.service.conftest import PASSWORD, private_shared_state

pytestmark = [pytest.mark.postgres]


@pytest.fixture(scope="module")
def postgres() -> Iterator[tuple[Proxy, str]]:
    with private_shared_state("logout_outage") as shared:
        db = urlsplit(str(shared["database_url"]))
        with proxy_to(db.hostname or "127.0.0.1", db.port or 5432) as proxy:
            url = db._replace(
                scheme="postgresql+asyncpg", netloc=f"{db.username}@127.0.0.1:{proxy.port}"
            ).geturl()
            yield proxy, f"{url}?command_timeout=2&connect_timeout=2"


@pytest.mark.parametrize("handlers", [False, True], ids=["plain-fastapi", "sealbox-handlers"])
def test_logout_and_password_change_answer_a_database_outage_503_in_any_app(
    tmp_path: Path, postgres: tuple[Proxy, str], handlers: bool
) -> None:
    proxy, url = postgres
    username = f"alice-{'handlers' if handlers else 'plain'}"
    app = auth_app(accounts_lifespan(url, users=[username]), handlers=handlers)
    with served_over_tls(app, tmp_path) as c:
        tokens = c.post("/auth/token", data={"username": username, "password": PASSWORD})
        assert tokens.status_code == 200, tokens.text
        auth = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        proxy.cut()
        try:
            answers = [
                c.post(
                    "/auth/logout",
                    json={"refresh_token": tokens.json()["refresh_token"]},
                    headers=auth,
                ),
                c.post(
                    "/auth/password",
                    json={"current_password": PASSWORD, "new_password": "another pass 9"},
                    headers=auth,
                ),
            ]
        finally:
            proxy.restore()
    for answer in answers:
        assert answer.status_code == 503, answer.text
        said = answer.json()
        message = said["message"] if handlers else said["detail"]
        assert "PostgreSQL did not answer" in message, answer.text
        assert answer.headers["retry-after"] == "5"
        assert str(proxy.port) not in answer.text
        assert PASSWORD not in answer.text
        if handlers:
            assert said["error"] == "store_unavailable"
