"""``/users`` administration edges an outside tester finds: names and scopes holding a
``/``, import entries that are not Unicode text, a disable racing a login, an import
racing the creation of an account, a reset racing a delete."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sealbox.accounts import Accounts, sessions
from sealbox.accounts.admin import AccountAdmin, AccountNotFoundError
from sealbox.accounts.revocation import LocalRevocations
from sealbox.accounts.store import Store
from sealbox.passwords import PasswordHasher
from sealbox.service.admin import create_user
from sealbox.service.db import make_engine, migrate, sessionmaker
from tests._accounts import run_accounts
from tests.service.conftest import PASSWORD, Running, bearer, login

NEW_PASSWORD = "canary-reset-password-7d1e"


def _admin(service: Running, c: httpx2.Client, name: str) -> dict[str, str]:
    create_user(service.settings, name, lambda _name: PASSWORD, ["users:admin"])
    r = login(c, name)
    assert r.status_code == 200, r.text
    return bearer(r.json()["access_token"])


def _create(service: Running, *names: str) -> None:
    # Made without /auth/register, which counts against the address the module shares.
    for name in names:
        create_user(service.settings, name, lambda _name: PASSWORD)


def test_an_account_name_holding_a_slash_is_one_path_segment_when_sent_as_pct_2f(
    module_service: Running,
) -> None:
    # Any punctuation is welcome in a name, "/" too. Sent as %2F it is one segment: the
    # decoded path would route DELETE /users/vic%2Ftotp to vic's second factor, and
    # DELETE /users/vic%2Fscopes%2Fusers:me to a revoke of vic's users:me.
    service = module_service
    _create(service, "vic", "vic/totp", "vic/scopes/users:me", "vic/x")
    with service.client() as c:
        admin = _admin(service, c, "slash-admin")
        shown = c.get("/users/vic%2Fx", headers=admin)
        assert shown.status_code == 200, shown.text
        assert shown.json()["username"] == "vic/x"
        r = c.post("/users/vic%2fx/disable", headers=admin)  # either case of the escape
        assert r.status_code == 200, r.text
        assert (r.json()["username"], r.json()["disabled"]) == ("vic/x", True)
        assert c.delete("/users/vic%2Ftotp", headers=admin).status_code == 204
        assert c.delete("/users/vic%2Fscopes%2Fusers:me", headers=admin).status_code == 204
        names = [a["username"] for a in c.get("/users", headers=admin).json()]
        vic = c.get("/users/vic", headers=admin).json()
    assert "vic/totp" not in names and "vic/scopes/users:me" not in names
    assert (vic["scopes"], vic["disabled"]) == (["users:me"], False)
    audit = service.audit()
    assert '"event": "admin.delete", "outcome": "success", "user": "vic/totp"' in audit
    assert '"event": "admin.reset_totp", "outcome": "success", "user": "vic"' not in audit


def test_a_scope_holding_a_slash_is_revoked_over_http_as_it_was_granted(
    module_service: Running,
) -> None:
    service = module_service
    _create(service, "kv-reader")
    with service.client() as c:
        admin = _admin(service, c, "kv-admin")
        granted = ["kv:read:secret/app", "kv:write:secret/app/db"]
        r = c.post("/users/kv-reader/scopes", json={"scopes": granted}, headers=admin)
        assert r.status_code == 200, r.text
        r = c.delete("/users/kv-reader/scopes/kv:read:secret/app", headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["scopes"] == ["kv:write:secret/app/db", "users:me"]
        r = c.delete("/users/kv-reader/scopes/kv:write:secret%2Fapp%2Fdb", headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["scopes"] == ["users:me"]
    assert '"event": "admin.revoke", "outcome": "success", "user": "kv-reader"' in service.audit()


def test_an_import_entry_whose_name_is_no_unicode_text_is_refused_not_an_internal_error(
    module_service: Running,
) -> None:
    # JSON may spell a lone surrogate (\ud800), which no UTF-8 answer can carry as it is.
    service = module_service
    body = (
        b'{"users": [{"username": "sur\\ud800", "password_hash": "x"}, '
        b'{"username": "plain-importer", "password_hash": "md5$salt$canaryhash"}]'
    )
    with service.client() as c:
        admin = {**_admin(service, c, "import-admin"), "content-type": "application/json"}
        refused = c.post("/users/import", content=body + b"}", headers=admin)
        skipped = c.post("/users/import", content=body + b', "skip_invalid": true}', headers=admin)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "import_refused"
    problems = refused.json()["refused"]
    assert [(p["line"], p["username"]) for p in problems] == [
        (1, "sur\\ud800"),
        (2, "plain-importer"),
    ]
    assert "U+D800 at position 4" in problems[0]["reason"]
    assert skipped.status_code == 200, skipped.text
    assert json.loads(skipped.text)["refused"] == problems
    assert "canaryhash" not in refused.text + skipped.text


def test_a_login_whose_password_was_checked_before_a_disable_gets_no_session(
    tmp_path: Path,
) -> None:
    async def scenario(accounts: Accounts) -> None:
        user = await sessions.register(accounts, "racer", PASSWORD, "192.0.2.7")
        admin = AccountAdmin(
            accounts.store, accounts.revocations, accounts.hasher, access_token_ttl=60
        )
        # The login read ``user`` and checked its password; the disable lands meanwhile.
        await admin.disable("racer")
        with pytest.raises(sessions.LoginFailed):
            await sessions.start_session(accounts, user)
        # Enabled again, the login that was in flight still gets nothing.
        await admin.enable("racer")
        with pytest.raises(sessions.LoginFailed):
            await sessions.start_session(accounts, user)
        fresh = await accounts.store.user_by_id(user.id)
        assert fresh is not None
        await accounts.authenticate((await sessions.start_session(accounts, fresh)).access_token)

    run_accounts(tmp_path, scenario)


class _ReadThen:
    """A sessionmaker whose first plain session runs ``after`` once it closed: an import
    has read the names of the accounts, and another creates one before it writes."""

    def __init__(self, real: Any, after: Callable[[], Awaitable[None]]) -> None:
        self.real = real
        self.after: Callable[[], Awaitable[None]] | None = after

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Any]:
        async with self.real() as session:
            yield session
        if self.after is not None:
            after, self.after = self.after, None
            await after()

    def begin(self) -> Any:
        return self.real.begin()


def test_an_import_racing_the_creation_of_one_of_its_names_refuses_that_line(
    tmp_path: Path,
) -> None:
    hasher = PasswordHasher("test")
    dana_hash = hasher.hash("dana's own password")
    lines = [
        json.dumps({"username": "Dana", "password_hash": hasher.hash("an imported password")}),
        json.dumps({"username": "erin", "password_hash": hasher.hash("erin's password")}),
    ]

    async def scenario() -> list[Any]:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}")
        await migrate(engine)
        try:
            real = Store(sessionmaker(engine), refresh_ttl=60)
            outcomes: list[Any] = []
            for skip_invalid in (False, True):
                name = "dana" if not skip_invalid else "dana2"

                async def register(name: str = name) -> None:
                    await real.create_user(name, dana_hash, ["users:me"])

                racing = Store(_ReadThen(sessionmaker(engine), register), refresh_ttl=60)  # type: ignore[arg-type]
                admin = AccountAdmin(racing, LocalRevocations(racing), hasher, access_token_ttl=60)
                these = (
                    lines if not skip_invalid else [line.replace("Dana", "Dana2") for line in lines]
                )
                try:
                    outcomes.append(await admin.import_json_lines(these, skip_invalid=skip_invalid))
                except Exception as exc:  # noqa: BLE001 - what the caller would see
                    outcomes.append(exc)
            dana = await real.user_by_name("dana")
            outcomes.append(dana.password_hash if dana is not None else None)
            return outcomes
        finally:
            await engine.dispose()

    refused, skipped, stored = asyncio.run(scenario())
    assert not isinstance(refused, Exception), type(refused).__name__
    assert (refused.imported, [(p.line, p.reason) for p in refused.problems]) == (
        (),
        [(1, "an account has this name, or one that looks like it")],
    )
    assert not isinstance(skipped, Exception), type(skipped).__name__
    assert skipped.imported == ("erin",)
    assert stored == dana_hash  # the account made meanwhile is left as it was


@pytest.mark.parametrize("made_meanwhile", [False, True])
def test_a_reset_racing_a_delete_sets_no_other_accounts_password(
    tmp_path: Path, made_meanwhile: bool
) -> None:
    # The new password is hashed while the account is deleted, and perhaps another made,
    # which SQLite gives the freed id.
    hasher = PasswordHasher("test")
    carol_hash = hasher.hash("carol's own password")

    async def scenario() -> tuple[BaseException | None, str | None]:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}")
        await migrate(engine)
        try:
            store = Store(sessionmaker(engine), refresh_ttl=60)
            other = AccountAdmin(store, LocalRevocations(store), hasher, access_token_ttl=60)
            await store.create_user("bob", hasher.hash("bob's password"), [])

            async def hash_meanwhile(hash_password: Callable[[str], str], password: str) -> str:
                await other.delete("bob")
                if made_meanwhile:
                    await store.create_user("carol", carol_hash, [])
                return hash_password(password)

            admin = AccountAdmin(
                store,
                LocalRevocations(store),
                hasher,
                access_token_ttl=60,
                run_hasher=hash_meanwhile,
            )
            raised: BaseException | None = None
            try:
                await admin.reset_password("bob", NEW_PASSWORD)
            except Exception as exc:  # noqa: BLE001 - what the caller would see
                raised = exc
            carol = await store.user_by_name("carol")
            return raised, carol.password_hash if carol is not None else None
        finally:
            await engine.dispose()

    raised, carol = asyncio.run(scenario())
    assert isinstance(raised, AccountNotFoundError), repr(raised)
    assert carol == (carol_hash if made_meanwhile else None)


@pytest.mark.parametrize("operation", ["grant", "disable", "enable", "reset_totp", "delete"])
def test_a_change_racing_a_delete_and_a_new_account_leaves_the_new_account_alone(
    tmp_path: Path, operation: str
) -> None:
    # The account is found, then deleted and another made (SQLite gives it the freed id)
    # before the change's transaction starts.
    hasher = PasswordHasher("test")

    async def scenario() -> tuple[BaseException | None, Any]:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}")
        await migrate(engine)
        try:
            store = Store(sessionmaker(engine), refresh_ttl=60)
            other = AccountAdmin(store, LocalRevocations(store), hasher, access_token_ttl=60)
            await store.create_user("bob", hasher.hash("bob's password"), ["users:me"])

            async def replace_bob() -> None:
                await other.delete("bob")
                await store.create_user("carol", hasher.hash("carol's password"), ["users:me"])

            racing = Store(_ReadThen(sessionmaker(engine), replace_bob), refresh_ttl=60)  # type: ignore[arg-type]
            admin = AccountAdmin(racing, LocalRevocations(racing), hasher, access_token_ttl=60)
            act = {
                "grant": lambda: admin.grant("bob", ["users:admin"]),
                "disable": lambda: admin.disable("bob"),
                "enable": lambda: admin.enable("bob"),
                "reset_totp": lambda: admin.reset_totp("bob"),
                "delete": lambda: admin.delete("bob"),
            }[operation]
            raised: BaseException | None = None
            try:
                await act()
            except Exception as exc:  # noqa: BLE001 - what the caller would see
                raised = exc
            return raised, await other.show("carol")
        finally:
            await engine.dispose()

    raised, carol = asyncio.run(scenario())
    assert isinstance(raised, AccountNotFoundError), repr(raised)
    assert (carol.scopes, carol.disabled) == (("users:me",), False)


def test_admin_and_second_factor_bodies_giving_a_member_twice_are_refused(
    module_service: Running,
) -> None:
    # As at /auth/register and /clients: a filter in front reading the first "scopes" and
    # the service the last would judge two different grants.
    service = module_service
    _create(service, "twice-member")
    twice = b'{"scopes": ["users:me"], "scopes": ["users:admin"]}'
    with service.client() as c:
        admin = _admin(service, c, "twice-admin")
        json_headers = {"content-type": "application/json"}
        granted = c.post(
            "/users/twice-member/scopes", content=twice, headers={**admin, **json_headers}
        )
        user = bearer(login(c, "twice-member").json()["access_token"])
        confirmed = c.post(
            "/auth/totp/confirm",
            content=b'{"code": "000000", "code": "123456"}',
            headers={**user, **json_headers},
        )
        shown = c.get("/users/twice-member", headers=admin).json()
    for refused in (granted, confirmed):
        assert refused.status_code == 422, refused.text
        assert refused.json()["details"][0]["type"] == "json_invalid"
    assert shown["scopes"] == ["users:me"]


def test_a_list_page_after_a_name_no_account_can_hold_is_422_not_an_internal_error(
    module_service: Running,
) -> None:
    # PostgreSQL's text takes no NUL: the query failed, a 500.
    service = module_service
    with service.client() as c:
        admin = _admin(service, c, "page-admin")
        refused = c.get("/users", params={"after": "a\x00", "limit": 5}, headers=admin)
        listed = c.get("/users", params={"after": "page-admim", "limit": 1}, headers=admin)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "validation_error"
    assert [a["username"] for a in listed.json()] == ["page-admin"]


def test_an_import_entry_that_is_no_object_is_refused_as_its_line_not_the_whole_request(
    module_service: Running,
) -> None:
    # As a line of `sealbox users import` that is not an object: listed with its
    # position, and skip_invalid imports the others (it was a 422 validation_error for
    # the whole request, skip_invalid or not).
    from tests.service.test_account_admin import django_pbkdf2

    service = module_service
    good = {"username": "entry-ok", "password_hash": django_pbkdf2("entry-password-1")}
    with service.client() as c:
        admin = _admin(service, c, "entry-admin")
        body = {"users": [5, good, None], "skip_invalid": False}
        refused = c.post("/users/import", json=body, headers=admin)
        skipped = c.post("/users/import", json={**body, "skip_invalid": True}, headers=admin)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "import_refused"
    assert skipped.status_code == 200, skipped.text
    assert skipped.json() == {
        "imported": ["entry-ok"],
        "refused": [
            {"line": 1, "username": None, "reason": "not a JSON object"},
            {"line": 3, "username": None, "reason": "not a JSON object"},
        ],
    }


def test_an_import_of_more_than_a_thousand_broken_entries_is_refused_whole_and_audited_once(
    module_service: Running,
) -> None:
    # As `sealbox users import` refuses such a file: skip_invalid imported the one good
    # entry and wrote an audit record for each of the thousands of others.
    from tests.service.test_account_admin import django_pbkdf2

    service = module_service
    good = {"username": "bulk-ok", "password_hash": django_pbkdf2("bulk-password-1")}
    with service.client() as c:
        admin = _admin(service, c, "bulk-admin")
        before = len(service.audit().splitlines())
        for broken in (1, {}):
            body = {"users": [good, *[broken] * 2000], "skip_invalid": True}
            r = c.post("/users/import", json=body, headers=admin)
            assert r.status_code == 422, r.text[:300]
            assert r.json()["error"] == "import_refused"
            assert r.json()["message"].startswith(
                "nothing was imported: more than 1000 lines are refused (line 2: "
            )
        assert c.get("/users/bulk-ok", headers=admin).status_code == 404
    records = service.audit().splitlines()[before:]
    assert len(records) == 2, records[:3]
    assert all(json.loads(r)["outcome"] == "refused" for r in records)


def test_refused_import_entries_are_audited_without_their_hashes_or_passwords(
    module_service: Running,
) -> None:
    from tests.service.test_account_admin import django_pbkdf2

    service = module_service
    canary_password = "canary-import-clear-password-5b21"
    canary_hash = django_pbkdf2("canary-import-hashed-password-9e04", salt="CanarySalt93")
    users = [
        {"username": "audited-twin", "password_hash": canary_hash},
        {"username": "AUDITED-TWIN", "password_hash": canary_hash},  # one name: both refused
        {"username": "audited-clear", "password": canary_password},
        {"username": "audited-md5", "password_hash": "md5$CanarySalt93$canaryhash77"},
        {"username": "audited-good", "password_hash": canary_hash},
    ]
    with service.client() as c:
        admin = _admin(service, c, "audit-import-admin")
        refused = c.post("/users/import", json={"users": users}, headers=admin)
        skipped = c.post(
            "/users/import", json={"users": users, "skip_invalid": True}, headers=admin
        )
    assert refused.status_code == 422, refused.text
    assert skipped.status_code == 200, skipped.text
    records = [json.loads(line) for line in service.audit().splitlines()]
    mine = [
        r
        for r in records
        if r["event"] == "admin.import" and "audit-import-admin" in r.get("detail", "")
    ]
    outcomes = [(r["outcome"], r["user"]) for r in mine]
    refusals = [
        ("refused", "audited-twin"),
        ("refused", "AUDITED-TWIN"),
        ("refused", "audited-clear"),
        ("refused", "audited-md5"),
    ]
    # The request refused as a whole, then the one that skipped them.
    assert outcomes == [*refusals, *refusals, ("success", "audited-good")], outcomes
    assert all(r["detail"].startswith("by audit-import-admin: entry ") for r in mine[:-1])
    audit = service.audit()
    for canary in (canary_password, canary_hash, "Canary", "canaryhash77", "9e04", "5b21"):
        assert canary not in audit, canary
