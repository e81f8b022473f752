"""Account administration over HTTP through ``sealbox serve --workers 2`` on PostgreSQL
and Redis: a change answered by one worker holds on the other from the next request on
(disable, grant, revoke, reset-password, delete), concurrent changes on both workers are
none of them lost, and no answer, access-log or audit line holds a password or token."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from sealbox.passwords import PasswordHasher
from tests.conftest import run_sealbox
from tests.service._workers import together, workers_env
from tests.service.conftest import (
    PASSWORD,
    ServeProcess,
    bearer,
    login,
    private_shared_state,
    register,
    serve_process,
)
from tests.service.test_auth_workers import close, on_both_workers

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

NEW_PASSWORD = "canary-reset-password-9d41"


@dataclass
class Served:
    srv: ServeProcess
    env: dict[str, str]
    work: Path
    admin: dict[str, str]
    secrets: list[str]

    def sealbox(self, *args: str, stdin: str = "") -> str:
        r = run_sealbox(
            [*args, "--data-dir", str(self.srv.data_dir)], env=self.env, input=stdin.encode()
        )
        assert r.returncode == 0, r.stderr.decode()
        return r.stdout.decode()

    def logs(self) -> str:
        """The access log (the workers' stdout) and the audit log, as written so far."""
        out = (self.work / f"serve-{self.srv.port}.out").read_text(errors="replace")
        return out + (self.srv.data_dir / "audit.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    work = tmp_path_factory.mktemp("admin-workers")
    with private_shared_state("admin_workers") as shared:
        env = workers_env(
            SEALBOX_DATABASE_URL=shared["database_url"],
            SEALBOX_REDIS_PREFIX=shared["redis_prefix"],
            # Every client is 127.0.0.1: refused logins of several tests add up.
            SEALBOX_THROTTLE_ADDRESS_ATTEMPTS="1000",
        )
        # At level info, the workers write the access log to stdout.
        args = ("--workers", "2", "--log-level", "info")
        with serve_process(
            work, *args, env=env, data_dir=work / "data", capture_stdout=True
        ) as srv:
            s = Served(srv, env, work, {}, [PASSWORD, NEW_PASSWORD])
            s.sealbox("users", "create", "root", "--scope", "users:admin", stdin=PASSWORD)
            with srv.client() as c:
                s.admin = bearer(_tokens(s, c, "root")["access_token"])
            yield s


def _tokens(s: Served, c: httpx2.Client, name: str, password: str = PASSWORD) -> dict[str, str]:
    r = login(c, name, password)
    assert r.status_code == 200, r.text
    tokens: dict[str, str] = r.json()
    s.secrets += [tokens["access_token"], tokens["refresh_token"]]
    return tokens


def _no_secret(s: Served, *answers: httpx2.Response) -> None:
    logs = s.logs()
    assert ' HTTP/1.1" ' in logs and '"event": "' in logs  # both logs are read
    texts = [r.text for r in answers] + [logs]
    for secret in s.secrets:
        for text in texts:
            assert secret not in text


def _user(s: Served, c: httpx2.Client, name: str) -> None:
    r = register(c, name)
    assert r.status_code == 201, r.text


def _spread(s: Served, n: int = 6) -> tuple[list[httpx2.Client], list[int]]:
    return on_both_workers(s.srv, n)  # some on each worker


def _one_each(clients: list[httpx2.Client], served: list[int]) -> list[httpx2.Client]:
    """A client of each worker (for refused logins, which the username's throttle counts)."""
    return [clients[served.index(pid)] for pid in sorted(set(served))]


def _statuses(clients: list[httpx2.Client], path: str, token: str) -> list[int]:
    return [c.get(path, headers=bearer(token)).status_code for c in clients]


def _hammer(
    clients: list[httpx2.Client], token: str, change: Callable[[], httpx2.Response]
) -> tuple[httpx2.Response, list[int]]:
    """Send ``token`` on every client without pause while ``change`` runs on its own
    connection; the statuses of the requests sent once its answer had come back."""
    answered = threading.Event()
    after: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(clients) + 1)

    def run(c: httpx2.Client) -> None:
        barrier.wait()
        sent = 0
        while not answered.is_set() or sent < 3:
            was_answered = answered.is_set()
            status = c.get("/users/me", headers=bearer(token)).status_code
            if was_answered:
                sent += 1
                with lock:
                    after.append(status)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    barrier.wait()
    answer = change()
    answered.set()
    for t in threads:
        t.join(60)
    return answer, after


def test_disable_refuses_the_live_token_on_both_workers_from_its_answer_on(
    served: Served,
) -> None:
    s = served
    clients, served_by = _spread(s)
    try:
        _user(s, clients[0], "dora")
        tokens = _tokens(s, clients[1], "dora")
        assert _statuses(clients, "/users/me", tokens["access_token"]) == [200] * len(clients)
        with s.srv.client() as admin:
            answer, after = _hammer(
                clients,
                tokens["access_token"],
                lambda: admin.post("/users/dora/disable", headers=s.admin),
            )
        assert answer.status_code == 200, answer.text
        assert answer.json()["disabled"] is True
        assert set(after) == {401}, after
        for c in clients:
            refreshed = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert refreshed.status_code in (400, 401), refreshed.text
        for c in _one_each(clients, served_by):
            refused = login(c, "dora")
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"] == "invalid_grant"
        # Enabled again: the old tokens stay ended, a new login works on both workers.
        enabled = clients[-1].post("/users/dora/enable", headers=s.admin)
        assert enabled.status_code == 200 and enabled.json()["disabled"] is False
        assert _statuses(clients, "/users/me", tokens["access_token"]) == [401] * len(clients)
        for c in clients:
            refreshed = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert refreshed.status_code in (400, 401), refreshed.text
        fresh = _tokens(s, clients[0], "dora")
        assert _statuses(clients, "/users/me", fresh["access_token"]) == [200] * len(clients)
        _no_secret(s, answer, enabled)
    finally:
        close(clients)


def _scopes(c: httpx2.Client, s: Served, name: str) -> set[str]:
    return set(_tokens(s, c, name).get("scope", "").split())


def test_grant_and_revoke_through_one_worker_hold_at_the_next_login_on_either(
    served: Served,
) -> None:
    s = served
    clients, _ = _spread(s)
    scope = "transit:encrypt:orders"
    try:
        _user(s, clients[0], "gus")
        before = _tokens(s, clients[0], "gus")
        for n in range(4):
            by, at = clients[n % len(clients)], clients[(n + 1) % len(clients)]
            granted = by.post("/users/gus/scopes", json={"scopes": [scope]}, headers=s.admin)
            assert granted.status_code == 200 and scope in granted.json()["scopes"]
            assert all(scope in _scopes(c, s, "gus") for c in clients)
            held = _tokens(s, at, "gus")
            revoked = at.delete(f"/users/gus/scopes/{scope}", headers=s.admin)
            assert revoked.status_code == 200 and scope not in revoked.json()["scopes"]
            assert all(scope not in _scopes(c, s, "gus") for c in clients)
            # A family begun while it was held drops it at its next refresh, on either.
            refreshed = by.post("/auth/refresh", json={"refresh_token": held["refresh_token"]})
            assert refreshed.status_code == 200, refreshed.text
            assert scope not in refreshed.json().get("scope", "").split()
        # Never granted to the family begun before: a refresh never widens it.
        granted = clients[1].post("/users/gus/scopes", json={"scopes": [scope]}, headers=s.admin)
        assert granted.status_code == 200
        refreshed = clients[0].post(
            "/auth/refresh", json={"refresh_token": before["refresh_token"]}
        )
        assert refreshed.status_code == 200
        assert scope not in refreshed.json().get("scope", "").split()
        _no_secret(s, granted, refreshed)
    finally:
        close(clients)


def test_reset_password_through_one_worker_ends_sessions_on_both(served: Served) -> None:
    s = served
    clients, served_by = _spread(s)
    try:
        _user(s, clients[0], "rita")
        tokens = _tokens(s, clients[1], "rita")
        with s.srv.client() as admin:
            answer, after = _hammer(
                clients,
                tokens["access_token"],
                lambda: admin.post(
                    "/users/rita/password", json={"password": NEW_PASSWORD}, headers=s.admin
                ),
            )
        assert answer.status_code == 204, answer.text
        assert set(after) == {401}, after
        for c in _one_each(clients, served_by):
            assert login(c, "rita").status_code == 400
        for c in clients:
            refreshed = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert refreshed.status_code in (400, 401), refreshed.text
        fresh = _tokens(s, clients[0], "rita", NEW_PASSWORD)
        assert _statuses(clients, "/users/me", fresh["access_token"]) == [200] * len(clients)
        _no_secret(s, answer)
    finally:
        close(clients)


def test_delete_through_one_worker_refuses_tokens_on_both_and_frees_the_name(
    served: Served,
) -> None:
    s = served
    clients, _ = _spread(s)
    try:
        _user(s, clients[0], "dean")
        tokens = _tokens(s, clients[1], "dean")
        refreshed = clients[2].post(
            "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 200
        rotated = refreshed.json()
        s.secrets += [rotated["access_token"], rotated["refresh_token"]]
        with s.srv.client() as admin:
            answer, after = _hammer(
                clients,
                rotated["access_token"],
                lambda: admin.delete("/users/dean", headers=s.admin),
            )
        assert answer.status_code == 204, answer.text
        assert set(after) == {401}, after
        assert _statuses(clients, "/users/me", tokens["access_token"]) == [401] * len(clients)
        for c in clients:
            again = c.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
            assert again.status_code in (400, 401), again.text
            shown = c.get("/users/dean", headers=s.admin)
            assert shown.status_code == 404 and shown.json()["error"] == "account_not_found"
            deleted = c.delete("/users/dean", headers=s.admin)
            assert deleted.status_code == 404 and deleted.json()["error"] == "account_not_found"
        # The name is free again; the new account's tokens are its own, the old stay ended.
        _user(s, clients[3], "dean")
        fresh = _tokens(s, clients[4], "dean")
        assert _statuses(clients, "/users/me", fresh["access_token"]) == [200] * len(clients)
        for token in (tokens["access_token"], rotated["access_token"]):
            assert _statuses(clients, "/users/me", token) == [401] * len(clients)
        _no_secret(s, answer)
    finally:
        close(clients)


def test_concurrent_grants_on_both_workers_are_none_of_them_lost_and_each_audited(
    served: Served,
) -> None:
    s = served
    clients, _ = _spread(s, 8)
    try:
        _user(s, clients[0], "gail")
        scopes = [f"transit:encrypt:k{i}" for i in range(len(clients))]
        answers = together(
            clients,
            lambda i, c: c.post(
                "/users/gail/scopes", json={"scopes": [scopes[i]]}, headers=s.admin
            ),
        )
        assert [r.status_code for r in answers] == [200] * len(clients)
        for c in clients:
            shown = c.get("/users/gail", headers=s.admin).json()["scopes"]
            assert set(scopes) <= set(shown), shown
        # Each audited once, by whichever worker answered.
        lines = [json.loads(x) for x in (s.srv.data_dir / "audit.log").read_text().splitlines()]
        grants = [x for x in lines if x["event"] == "admin.grant" and x["user"] == "gail"]
        assert sorted((x["outcome"], x["detail"]) for x in grants) == [
            ("success", "by root")
        ] * len(clients)
        # And taken back at once, none left.
        answers = together(
            clients, lambda i, c: c.delete(f"/users/gail/scopes/{scopes[i]}", headers=s.admin)
        )
        assert [r.status_code for r in answers] == [200] * len(clients)
        shown = clients[0].get("/users/gail", headers=s.admin).json()["scopes"]
        assert not set(scopes) & set(shown), shown
    finally:
        close(clients)


_TURN = ("disable", "enable")


def test_disable_racing_enable_on_both_workers_ends_consistent(served: Served) -> None:
    s = served
    clients, _ = _spread(s, 6)
    try:
        for n in range(6):
            name = f"race{n}"
            _user(s, clients[0], name)
            token = _tokens(s, clients[0], name)
            answers = together(
                clients,
                lambda i, c, to=name: c.post(f"/users/{to}/{_TURN[i % 2]}", headers=s.admin),
            )
            assert [r.status_code for r in answers] == [200] * len(clients)
            states = {c.get(f"/users/{name}", headers=s.admin).json()["disabled"] for c in clients}
            assert len(states) == 1, states
            # Some disable ran: the token issued before is refused on both workers.
            assert _statuses(clients, "/users/me", token["access_token"]) == [401] * len(clients)
            logged = login(clients[1], name)
            assert logged.status_code == (400 if states == {True} else 200), logged.text
            if logged.status_code == 200:
                s.secrets += [logged.json()["access_token"], logged.json()["refresh_token"]]
    finally:
        close(clients)


def test_refusals_are_the_same_on_both_workers_and_hold_no_secret(served: Served) -> None:
    s = served
    clients, _ = _spread(s)
    try:
        _user(s, clients[0], "nora")
        plain = _tokens(s, clients[0], "nora")["access_token"]
        routes = [
            ("GET", "/users/ghost", None),
            ("POST", "/users/ghost/scopes", {"scopes": ["transit:encrypt:x"]}),
            ("DELETE", "/users/ghost/scopes/transit:encrypt:x", None),
            ("POST", "/users/ghost/disable", None),
            ("POST", "/users/ghost/enable", None),
            ("POST", "/users/ghost/password", {"password": NEW_PASSWORD}),
            ("DELETE", "/users/ghost/totp", None),
            ("DELETE", "/users/ghost", None),
        ]
        seen = []
        for method, path, body in routes:
            for c in clients:
                r = c.request(method, path, json=body, headers=s.admin)
                assert r.status_code == 404, (path, r.text)
                assert r.json()["error"] == "account_not_found"
                seen.append(r)
                r = c.request(
                    method, path.replace("ghost", "nora"), json=body, headers=bearer(plain)
                )
                assert r.status_code == 403, (path, r.text)
                assert r.json()["error"] == "insufficient_scope"
                assert "insufficient_scope" in r.headers["www-authenticate"]
                seen.append(r)
            assert len({r.text for r in seen[-2 * len(clients) :: 2]}) == 1
        _no_secret(s, *seen)
    finally:
        close(clients)


def test_a_client_holding_users_admin_administers_through_both_workers(served: Served) -> None:
    s = served
    made = json.loads(s.sealbox("clients", "create", "ops-bot", "--scope", "users:admin", "--json"))
    s.secrets.append(made["client_secret"])
    clients, _ = _spread(s)
    try:
        _user(s, clients[0], "cleo")
        r = clients[0].post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(made["client_id"], made["client_secret"]),
        )
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        s.secrets.append(token)
        for n, c in enumerate(clients):
            move = "disable" if n % 2 == 0 else "enable"
            answer = c.post(f"/users/cleo/{move}", headers=bearer(token))
            assert answer.status_code == 200, answer.text
        # Its users:admin taken back (by the command line): refused on both at once.
        s.sealbox("clients", "revoke", "ops-bot", "users:admin")
        for c in clients:
            refused = c.get("/users", headers=bearer(token))
            assert refused.status_code == 403, refused.text
        _no_secret(s, answer, refused)
    finally:
        close(clients)


_ADMIN_MOVES = {
    "disable": ("POST", "/users/{}/disable", None),
    "delete": ("DELETE", "/users/{}", None),
    "reset": ("POST", "/users/{}/password", {"password": NEW_PASSWORD}),
}


@pytest.mark.parametrize("admin_move", sorted(_ADMIN_MOVES))
@pytest.mark.parametrize("user_move", ["login", "refresh"])
def test_a_session_racing_an_administrator_ends_with_it(
    served: Served, user_move: str, admin_move: str
) -> None:
    s = served
    clients, _ = _spread(s, 2)  # one on each worker
    method, path, body = _ADMIN_MOVES[admin_move]
    try:
        for n in range(8):
            name = f"{user_move[:3]}{admin_move[:3]}{n}"
            _user(s, clients[0], name)
            held = _tokens(s, clients[0], name)["refresh_token"]

            def send(i: int, c: httpx2.Client, name: str = name, held: str = held):
                if i == 1:
                    return c.request(method, path.format(name), json=body, headers=s.admin)
                if user_move == "login":
                    return login(c, name)
                return c.post("/auth/refresh", json={"refresh_token": held})

            user, admin = together(clients, send)
            assert admin.status_code in (200, 204), admin.text
            assert user.status_code < 500, user.text
            if admin_move == "disable":
                clients[1].post(f"/users/{name}/enable", headers=s.admin)
            if user.status_code == 200:
                won = user.json()
                s.secrets += [won["access_token"], won["refresh_token"]]
                if admin_move == "delete":
                    _user(s, clients[0], name)  # the name taken again
                # Whatever it got, begun before the change answered, is ended.
                assert _statuses(clients, "/users/me", won["access_token"]) == [401, 401]
                again = clients[1].post(
                    "/auth/refresh", json={"refresh_token": won["refresh_token"]}
                )
                assert again.status_code in (400, 401), (n, again.text)
        _no_secret(s)
    finally:
        close(clients)


def test_two_deletes_and_a_grant_racing_on_both_workers_answer_once_and_no_500(
    served: Served,
) -> None:
    s = served
    clients, _ = _spread(s, 6)
    try:
        for n in range(4):
            name = f"twice{n}"
            _user(s, clients[0], name)
            moves = [
                ("DELETE", f"/users/{name}", None),
                ("POST", f"/users/{name}/scopes", {"scopes": ["transit:encrypt:x"]}),
                ("POST", f"/users/{name}/disable", None),
            ] * 2
            answers = together(
                clients, lambda i, c, m=moves: c.request(*m[i][:2], json=m[i][2], headers=s.admin)
            )
            codes = [r.status_code for r in answers]
            assert codes[0::3].count(204) == 1 and codes[0::3].count(404) == 1, codes
            for r in answers:
                assert r.status_code in (200, 204, 404), r.text
                if r.status_code == 404:
                    assert r.json()["error"] == "account_not_found"
            # Free again, on either worker, with no scope of the deleted account.
            _user(s, clients[1], name)
            shown = clients[2].get(f"/users/{name}", headers=s.admin).json()
            assert "transit:encrypt:x" not in shown["scopes"] and not shown["disabled"]
    finally:
        close(clients)


def test_a_reset_racing_the_users_own_change_leaves_one_password(served: Served) -> None:
    s = served
    clients, _ = _spread(s, 2)
    mine = "canary-own-change-password-1c7e"
    s.secrets.append(mine)
    try:
        for n in range(6):
            name = f"own{n}"
            _user(s, clients[0], name)
            token = _tokens(s, clients[0], name)["access_token"]

            def send(i: int, c: httpx2.Client, name: str = name, token: str = token):
                if i == 0:
                    body = {"current_password": PASSWORD, "new_password": mine}
                    return c.post("/auth/password", json=body, headers=bearer(token))
                body = {"password": NEW_PASSWORD}
                return c.post(f"/users/{name}/password", json=body, headers=s.admin)

            own, reset = together(clients, send)
            assert reset.status_code == 204, reset.text
            # 403: the user's request got past its bearer check before the reset
            # ended the session, and then met the reset's password.
            assert own.status_code in (204, 400, 401, 403), own.text
            if own.status_code == 403:
                assert own.json()["error"] == "invalid_credentials", own.text
            works = [
                p
                for p in (PASSWORD, mine, NEW_PASSWORD)
                if login(clients[1], name, p).status_code == 200
            ]
            # The administrator's reset answered last, or the user's change after it.
            assert works in ([NEW_PASSWORD], [mine]), (own.status_code, works)
            assert _statuses(clients, "/users/me", token) == [401, 401]
        _no_secret(s)
    finally:
        close(clients)


def test_users_admin_taken_back_through_one_worker_is_refused_by_both_at_once(
    served: Served,
) -> None:
    s = served
    clients, _ = _spread(s)
    try:
        _user(s, clients[0], "deputy")
        granted = clients[0].post(
            "/users/deputy/scopes", json={"scopes": ["users:admin"]}, headers=s.admin
        )
        assert granted.status_code == 200
        deputy = _tokens(s, clients[1], "deputy")["access_token"]
        assert _statuses(clients, "/users", deputy) == [200] * len(clients)
        with s.srv.client() as admin:
            answer = admin.delete("/users/deputy/scopes/users:admin", headers=s.admin)
        assert answer.status_code == 200
        for c in clients:
            refused = c.get("/users", headers=bearer(deputy))
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"] == "insufficient_scope"
    finally:
        close(clients)


def test_imports_racing_on_both_workers_make_each_account_once(served: Served) -> None:
    s = served
    hashed = PasswordHasher("test").hash(PASSWORD)
    s.secrets.append(hashed)
    clients, _ = _spread(s, 4)
    try:
        for n in range(3):
            names = [f"imp{n}a", f"imp{n}b"]
            body = {"users": [{"username": x, "password_hash": hashed} for x in names]}

            def send(i: int, c: httpx2.Client, names: list[str] = names, body=body):
                if i < 2:
                    return c.post("/users/import", json=body, headers=s.admin)
                return register(c, names[i - 2])

            answers = together(clients, send)
            for r in answers:
                assert r.status_code in (200, 201, 409, 422), r.text
            made = [r for r in answers[:2] if r.status_code == 200]
            registered = [r for r in answers[2:] if r.status_code == 201]
            # Each name is one account: imported by one import, or registered.
            assert len(made) + len(registered) <= 2, [r.text for r in answers]
            for r in answers[:2]:
                if r.status_code == 422:
                    assert r.json()["error"] in ("import_refused", "username_taken"), r.text
            listed = clients[0].get("/users", headers=s.admin).json()
            assert sorted(a["username"] for a in listed if a["username"] in names) == names
            for c in clients[:2]:
                assert login(c, names[0]).status_code == 200
            _no_secret(s, *answers)
    finally:
        close(clients)
