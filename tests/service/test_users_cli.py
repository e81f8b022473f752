"""``sealbox users …`` on a data folder, and on a service running on it at the same time."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from tests.conftest import require_module, run_sealbox
from tests.service.conftest import (
    PASSWORD,
    bearer,
    login,
    make_settings,
    reset_shared_state,
    run_service,
    serve_process,
    shared_env,
)
from tests.service.test_account_admin import django_pbkdf2, stored_hash

TEST_PROFILE = {"SEALBOX_PASSWORD_PROFILE": "test"}


@pytest.fixture
def users(cli, tmp_path: Path):
    """``users(*args, input=b"")`` runs ``sealbox users ARGS --data-dir DATA``."""
    data = tmp_path / "data"

    def run(*args: object, input: bytes = b"", env: dict[str, str] | None = None):
        return cli(
            ["users", *args, "--data-dir", data], input=input, env={**TEST_PROFILE, **(env or {})}
        )

    run.data = data  # type: ignore[attr-defined]
    return run


def _create(users, name: str, *scopes: str) -> None:
    args: list[str] = []
    for scope in scopes:
        args += ["--scope", scope]
    r = users("create", name, *args, input=PASSWORD.encode())
    assert r.code == 0, r.stderr


def test_list_lines_its_columns_up_for_wide_names(users) -> None:
    import unicodedata

    for name in ("yamada", "山田", "zoë"):
        _create(users, name)
    lines = users("list").out.splitlines()

    def column_of_state(line: str) -> int:
        head = line[: line.index("enabled" if "enabled" in line else "STATE")]
        wide = sum(unicodedata.east_asian_width(c) in "WF" for c in head)
        return len(head) + wide  # the terminal column where STATE starts

    assert len({column_of_state(line) for line in lines}) == 1, lines


def test_list_show_grant_revoke_speak_the_cli_dialect(users) -> None:
    _create(users, "Alice")
    _create(users, "bob", "transit:admin")
    r = users("list")
    assert r.code == 0, r.stderr
    lines = r.out.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "CREATED", "LAST", "LOGIN", "SCOPES"]
    assert lines[1].split()[:2] == ["alice", "enabled"]
    assert lines[1].split()[3:] == ["never", "users:me"]
    listed = json.loads(users("list", "--json").out)
    assert [a["name"] for a in listed] == ["alice", "bob"]
    assert set(listed[0]) == {"name", "scopes", "disabled", "created", "last_login"}
    assert listed[1]["scopes"] == ["transit:admin", "users:me"]
    assert listed[0]["created"].endswith("Z") and listed[0]["last_login"] is None
    r = users("grant", "ALICE", "transit:encrypt:orders", "users:admin")
    assert r.code == 0, r.stderr
    audit = (users.data / "audit.log").read_text()
    assert '"event": "admin.grant", "outcome": "success", "user": "alice"' in audit
    assert r.out == "alice holds transit:encrypt:orders users:admin users:me\n"
    r = users("revoke", "alice", "users:admin", "not:held")
    assert r.out == "alice holds transit:encrypt:orders users:me\n"
    shown = json.loads(users("show", "alice", "--json").out)
    assert shown["scopes"] == ["transit:encrypt:orders", "users:me"]
    r = users("show", "alice")
    assert "state:      enabled\n" in r.out and "last login: never\n" in r.out
    stored = stored_hash(make_settings(users.data), "alice")
    everything = "".join(users(*a).out for a in (["list"], ["list", "--json"], ["show", "alice"]))
    assert stored not in everything and stored.split("$")[-1] not in everything


def test_an_unknown_account_is_one_error_and_exit_1(users) -> None:
    _create(users, "alice")
    for args in (
        ["show", "bob"],
        ["grant", "bob", "x"],
        ["revoke", "bob", "x"],
        ["disable", "bob"],
        ["enable", "bob"],
        ["reset-password", "bob"],
        ["delete", "bob", "--yes"],
    ):
        r = users(*args, input=PASSWORD.encode())
        assert r.code == 1, args
        assert r.stderr == (
            "sealbox: error: no account named 'bob'\n"
            "sealbox: hint: 'sealbox users list' shows the accounts\n"
        ), args
        assert r.out == ""


def test_usage_errors_and_refused_scopes(users, cli, tmp_path: Path) -> None:
    _create(users, "alice")
    r = users("grant", "alice")
    assert r.code == 2
    assert r.stderr == (
        "sealbox: error: missing argument 'SCOPE...'\n"
        "sealbox: hint: run 'sealbox users grant --help' for usage\n"
    )
    r = users("grant", "alice", "two words")
    assert r.code == 1
    assert r.stderr.startswith("sealbox: error: 'two words' is not a scope")
    r = cli(["users", "list", "--data-dir", tmp_path / "nowhere"])
    assert r.code == 1 and "is not a service's data folder: it does not exist" in r.stderr
    assert not (tmp_path / "nowhere").exists()


def test_disable_enable_reset_password_and_delete(users) -> None:
    _create(users, "carol")
    assert users("disable", "carol").out == "disabled carol; its sessions have ended\n"
    assert json.loads(users("show", "carol", "--json").out)["disabled"] is True
    assert users("enable", "carol").out == "enabled carol\n"
    r = users("reset-password", "carol", input=b"short")
    assert r.code == 1 and "8 to 1024 characters" in r.stderr
    secret = "canary-reset-password-0b7e"
    r = users("reset-password", "carol", input=secret.encode() + b"\n")
    assert r.code == 0, r.stderr
    assert r.out == "reset the password of carol; its sessions have ended\n"
    assert secret not in r.out + r.stderr
    r = users("delete", "carol")
    assert r.code == 1
    assert "deleting the account carol cannot be undone and there is no terminal" in r.stderr
    assert "sealbox: hint: pass --yes to confirm" in r.stderr
    r = users("delete", "carol", "--yes")
    assert r.code == 0 and r.out == "deleted carol\n"
    assert json.loads(users("list", "--json").out) == []
    audit = (users.data / "audit.log").read_text()
    assert '"event": "admin.delete", "outcome": "success", "user": "carol"' in audit
    assert secret not in audit


def test_a_change_redis_does_not_hear_of_is_a_clear_error_and_repeating_it_is_safe(
    users,
) -> None:
    # A Redis that does not answer (port 1): the account is disabled in the database,
    # and the command says that running services may not refuse its tokens yet.
    _create(users, "erin")
    unreachable = {"SEALBOX_REDIS_URL": "redis://:canary-redis-password@127.0.0.1:1/0"}
    r = users("disable", "erin", env=unreachable)
    assert r.code == 1
    assert r.stderr == (
        "sealbox: error: the change is recorded in the database, but Redis did not answer "
        "(ConnectionError): running services may not refuse the account's live access "
        "tokens yet\n"
        "sealbox: hint: once the Redis of SEALBOX_REDIS_URL answers, run the same command "
        "again: until then the account's live access tokens may still pass\n"
    )
    assert "canary-redis-password" not in r.out + r.stderr
    assert json.loads(users("show", "erin", "--json").out)["disabled"] is True
    again = users("disable", "erin")
    assert again.code == 0, again.stderr


def test_a_deletion_redis_does_not_hear_of_says_running_it_again_cannot_complete_it(
    users,
) -> None:
    # The account is gone: "run the same command again" would only find no account.
    _create(users, "fran")
    unreachable = {"SEALBOX_REDIS_URL": "redis://127.0.0.1:1/0"}
    r = users("delete", "fran", "--yes", env=unreachable)
    assert r.code == 1
    assert r.stderr.startswith(
        "sealbox: error: the change is recorded in the database, but Redis did not answer "
    ), r.stderr
    assert (
        "sealbox: hint: the account is gone, so running the command again cannot complete "
        "it: its live access tokens may pass until they expire, unless the services are "
        "restarted once the Redis of SEALBOX_REDIS_URL answers"
    ) in r.stderr
    assert "run the same command again" not in r.stderr
    assert json.loads(users("list", "--json").out) == []


def test_audit_lines_name_the_stored_account_not_the_name_as_typed(users) -> None:
    # RFC 8265: "DAVE" in full-width letters, and "Dave", are the stored account "dave".
    _create(users, "dave")
    r = users("reset-totp", "\uff24\uff21\uff36\uff25", "--yes")
    assert r.code == 0, r.stderr
    assert r.out == "dave has no second factor; its sessions have ended\n"
    assert users("grant", "Dave", "transit:admin").code == 0
    assert users("disable", "DAVE").code == 0
    audit = [json.loads(line) for line in (users.data / "audit.log").read_text().splitlines()]
    named = [(line["event"], line["user"]) for line in audit]
    assert named == [
        ("admin.create", "dave"),
        ("admin.reset_totp", "dave"),
        ("admin.grant", "dave"),
        ("admin.disable", "dave"),
    ]


def test_creating_an_account_is_audited_with_its_scopes_never_its_password(users) -> None:
    # An administrator made on the command line is a change like a grant: it leaves a record.
    _create(users, "Root", "users:admin")
    text = (users.data / "audit.log").read_text()
    records = [json.loads(line) for line in text.splitlines()]
    assert [(r["event"], r["outcome"], r["user"], r["detail"]) for r in records] == [
        ("admin.create", "success", "root", "command line; scopes users:admin users:me")
    ]
    assert PASSWORD not in text


def test_an_account_whose_creation_cannot_be_audited_is_not_created(users, tmp_path: Path) -> None:
    _create(users, "first")
    (tmp_path / "a-file").write_text("")
    unopenable = tmp_path / "a-file" / "audit.log"  # its folder is a file
    r = users(
        "create", "second", input=PASSWORD.encode(), env={"SEALBOX_AUDIT_LOG": str(unopenable)}
    )
    assert r.code == 1
    assert r.stderr.startswith(f"sealbox: error: cannot open the audit log {unopenable}")
    assert users("show", "second").code == 1
    assert '"user": "second"' not in (users.data / "audit.log").read_text()


def test_import_refuses_everything_on_a_bad_line_unless_skip_invalid(users, tmp_path: Path) -> None:
    _create(users, "admin")
    good = django_pbkdf2("dana-password-1")
    bad_hash = "md5$salt$canaryhash"
    lines = [
        json.dumps({"username": "dana", "password_hash": good, "scopes": ["transit:admin"]}),
        json.dumps({"username": "\u0430dmin", "password_hash": good}),
        json.dumps({"username": "eve", "password_hash": bad_hash}),
        "{not json",
    ]
    source = tmp_path / "users.jsonl"
    source.write_text("\n".join(lines) + "\n")
    r = users("import", source)
    assert r.code == 1
    assert r.stderr.splitlines() == [
        "sealbox: error: nothing was imported: 3 of 4 lines are refused",
        "sealbox: hint: correct them, or pass --skip-invalid to import the other lines",
        (
            "sealbox: refused line 2 ('\u0430dmin'): an account has this name, or one that looks "
            "like it"
        ),
        (
            "sealbox: refused line 3 ('eve'): the password hash is not usable: password hash "
            "scheme 'md5$' is not supported"
        ),
        (
            "sealbox: refused line 4: not JSON (expecting property name enclosed in double quotes "
            "at column 2)"
        ),
    ]
    assert "canaryhash" not in r.stderr and good not in r.stderr
    assert [a["name"] for a in json.loads(users("list", "--json").out)] == ["admin"]
    # With --json, a script reads what was refused on stdout too (exit 1, nothing imported).
    r = users("import", source, "--json")
    assert r.code == 1 and r.stderr.startswith("sealbox: error: nothing was imported")
    refused = json.loads(r.out)
    assert refused["imported"] == [] and [p["line"] for p in refused["refused"]] == [2, 3, 4]
    assert good not in r.out and "canaryhash" not in r.out
    r = users("import", "-", "--skip-invalid", "--json", input=source.read_bytes())
    assert r.code == 0, r.stderr
    document = json.loads(r.out)
    assert document["imported"] == ["dana"]
    assert [p["line"] for p in document["refused"]] == [2, 3, 4]
    assert good not in r.out
    assert r.stderr.startswith("sealbox: refused line 2 ('\u0430dmin'): an account has")
    shown = json.loads(users("show", "dana", "--json").out)
    assert shown["scopes"] == ["transit:admin", "users:me"]
    audit = (users.data / "audit.log").read_text()
    assert audit.count('"event": "admin.import", "outcome": "success"') == 1
    assert '"event": "admin.import", "outcome": "success", "user": "dana"' in audit
    # One refused line of two is counted as one.
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"username": "erin", "password_hash": good}) + "\n" + lines[2] + "\n")
    r = users("import", one)
    assert (
        r.stderr.splitlines()[0] == "sealbox: error: nothing was imported: 1 of 2 lines is refused"
    )
    r = users("import", one, "--skip-invalid")
    assert (r.code, r.out) == (0, "imported 1 account (1 pbkdf2_sha256); refused 1 line\n"), (
        r.stderr
    )


def test_refused_import_lines_are_audited_without_their_hashes_or_passwords(
    users, tmp_path: Path
) -> None:
    canary_password = "canary-cli-import-clear-password-3c71"
    canary_hash = django_pbkdf2("canary-cli-import-hashed-password-8d42", salt="CanarySalt61")
    lines = [
        {"username": "cli-twin", "password_hash": canary_hash},
        {"username": "CLI-TWIN", "password_hash": canary_hash},  # one name: both refused
        {"username": "cli-clear", "password": canary_password},
        {"username": "cli-md5", "password_hash": "md5$CanarySalt61$canaryhash58"},
        {"username": "cli-good", "password_hash": canary_hash},
    ]
    source = tmp_path / "users.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines) + "{not json\n")
    assert users("import", source).code == 1
    r = users("import", source, "--skip-invalid")
    assert r.code == 0, r.stderr
    records = [
        json.loads(line)
        for line in (users.data / "audit.log").read_text().splitlines()
        if '"admin.import"' in line
    ]
    refusals = [
        ("refused", "cli-twin", 1),
        ("refused", "CLI-TWIN", 2),
        ("refused", "cli-clear", 3),
        ("refused", "cli-md5", 4),
        ("refused", None, 6),
    ]
    seen = [
        (r["outcome"], r["user"], int(r["detail"].split(": ")[1].removeprefix("line ")))
        for r in records[:-1]
    ]
    # The import refused as a whole, then the one that skipped them and made cli-good.
    assert seen == refusals + refusals, records
    assert (records[-1]["outcome"], records[-1]["user"]) == ("success", "cli-good")
    whole, skipped = records[0]["detail"], records[5]["detail"]
    assert whole.startswith("command line: line 1: ") and whole.endswith("; nothing was imported")
    assert skipped.startswith("command line: line 1: ") and "nothing" not in skipped
    audit = (users.data / "audit.log").read_text()
    for canary in (canary_password, canary_hash, "Canary", "canaryhash58", "8d42", "3c71"):
        assert canary not in audit, canary


def test_import_of_bcrypt_and_django_hashes_then_login_upgrades_them(users, tmp_path) -> None:
    require_module("bcrypt")
    import bcrypt

    source = tmp_path / "users.jsonl"
    source.write_text(
        json.dumps(
            {
                "username": "bea",
                "password_hash": bcrypt.hashpw(b"bea-password-1", bcrypt.gensalt(4)).decode(),
            }
        )
        + "\n"
        + json.dumps({"username": "dj", "password_hash": django_pbkdf2("dj-password-1")})
        + "\n"
    )
    r = users("import", source)
    assert r.code == 0, r.stderr
    assert r.out == "imported 2 accounts (1 bcrypt, 1 pbkdf2_sha256)\n"
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"username": "cy", "password_hash": django_pbkdf2("cy-pw-12")}))
    assert users("import", one).out == "imported 1 account (1 pbkdf2_sha256)\n"
    settings = make_settings(users.data)
    with run_service(settings) as svc, svc.client() as c:
        assert login(c, "bea", "bea-password-1").status_code == 200
        assert login(c, "dj", "dj-password-1").status_code == 200
    assert stored_hash(settings, "bea").startswith("$argon2id$")
    assert stored_hash(settings, "dj").startswith("$argon2id$")
    assert json.loads(users("show", "bea", "--json").out)["last_login"] is not None


def test_the_commands_act_on_a_running_service(users) -> None:
    """grant: the next login gets the scope; disable: the live token is refused at once."""
    _create(users, "ops")
    settings = make_settings(users.data)
    with run_service(settings) as svc, svc.client() as c:
        first = login(c, "ops").json()
        live = bearer(first["access_token"])
        assert first["scope"] == "users:me"
        assert users("grant", "ops", "transit:admin").code == 0
        assert login(c, "ops").json()["scope"] == "transit:admin users:me"
        assert c.get("/users/me", headers=live).status_code == 200
        assert users("disable", "ops").code == 0
        r = c.get("/users/me", headers=live)
        assert r.status_code == 401 and r.json()["message"] == "the access token was revoked"
        assert login(c, "ops").json()["error_description"] == "invalid username or password"
        assert users("enable", "ops").code == 0
        fresh = bearer(login(c, "ops").json()["access_token"])
        assert c.get("/users/me", headers=fresh).status_code == 200
        assert users("reset-password", "ops", input=b"another-password-2").code == 0
        assert c.get("/users/me", headers=fresh).status_code == 401
        again = bearer(login(c, "ops", "another-password-2").json()["access_token"])
        assert users("delete", "ops", "--yes").code == 0
        assert c.get("/users/me", headers=again).status_code == 401


def test_disable_from_another_process_reaches_a_sealbox_serve_without_redis(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"

    def sealbox(*args: str, input: bytes = b"") -> None:
        r = run_sealbox(["users", *args, "--data-dir", data], input=input, env=TEST_PROFILE)
        assert r.returncode == 0, r.stderr.decode()

    with serve_process(tmp_path, env=TEST_PROFILE, data_dir=data) as srv, srv.client() as c:
        sealbox("create", "solo", input=PASSWORD.encode())
        token = bearer(login(c, "solo").json()["access_token"])
        assert c.get("/users/me", headers=token).status_code == 200
        sealbox("disable", "solo")
        assert c.get("/users/me", headers=token).status_code == 401
    assert "Traceback" not in srv.stderr


def _redis_env(name: str) -> dict[str, str]:
    """A Redis of this run's own (skipped, or failed under CI, without one)."""
    from tests.service.conftest import REDIS_PREFIX, REDIS_URL, require_server

    require_server("Redis", 6379)
    return {"SEALBOX_REDIS_URL": REDIS_URL, "SEALBOX_REDIS_PREFIX": f"{REDIS_PREFIX}{name}:"}


@pytest.mark.redis
def test_a_change_without_redis_beside_a_service_with_redis_is_refused_before_it_is_made(
    tmp_path: Path,
) -> None:
    # The service keeps its revocation lists in Redis only: a disabling recorded in the
    # database and the changes file would leave the account's live tokens passing.
    data = tmp_path / "data"
    served = {**TEST_PROFILE, **_redis_env("users-reach")}

    def sealbox(*args: str, env: dict[str, str], input: bytes = b""):
        return run_sealbox(["users", *args, "--data-dir", data], input=input, env=env)

    assert sealbox("create", "remote", env=TEST_PROFILE, input=PASSWORD.encode()).returncode == 0
    with serve_process(tmp_path, env=served, data_dir=data) as srv, srv.client() as c:
        token = bearer(login(c, "remote").json()["access_token"])
        for command in (["disable"], ["reset-password"], ["delete", "--yes"]):
            r = sealbox(*command, "remote", env=TEST_PROFILE, input=b"another-password-2")
            assert r.returncode == 1, r.stderr.decode()
            assert r.stderr.decode().startswith(
                f"sealbox: error: a sealbox service serves {data} with Redis"
            ), r.stderr.decode()
            assert "Traceback" not in r.stderr.decode()
        shown = json.loads(sealbox("show", "remote", "--json", env=TEST_PROFILE).stdout)
        assert shown["disabled"] is False  # nothing was changed
        # A client's deletion would leave its tokens passing the same way: refused, kept.
        clients = ["clients", "delete", "reporting", "--yes", "--data-dir", data]
        made = run_sealbox(["clients", "create", "reporting", "--data-dir", data])
        assert made.returncode == 0, made.stderr.decode()
        r = run_sealbox(clients, env=TEST_PROFILE)
        assert r.returncode == 1 and b"with Redis" in r.stderr, r.stderr.decode()
        listed = run_sealbox(["clients", "list", "--json", "--data-dir", data])
        assert "reporting" in listed.stdout.decode()
        assert run_sealbox(clients, env=served).returncode == 0
        assert c.get("/users/me", headers=token).status_code == 200
        # What needs no revocation goes on without Redis.
        assert sealbox("grant", "remote", "transit:admin", env=TEST_PROFILE).returncode == 0
        assert sealbox("disable", "remote", env=served).returncode == 0
        assert c.get("/users/me", headers=token).status_code == 401
    assert "Traceback" not in srv.stderr


@pytest.mark.redis
def test_a_change_with_redis_reaches_a_service_serving_without_redis(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with_redis = {**TEST_PROFILE, **_redis_env("users-local")}
    with serve_process(tmp_path, env=TEST_PROFILE, data_dir=data) as srv, srv.client() as c:
        for name in ("solo-a", "solo-b"):
            r = run_sealbox(
                ["users", "create", name, "--data-dir", data],
                input=PASSWORD.encode(),
                env=TEST_PROFILE,
            )
            assert r.returncode == 0, r.stderr.decode()
        first = bearer(login(c, "solo-a").json()["access_token"])
        second = bearer(login(c, "solo-b").json()["access_token"])
        r = run_sealbox(["users", "disable", "solo-a", "--data-dir", data], env=with_redis)
        assert r.returncode == 0, r.stderr.decode()
        assert c.get("/users/me", headers=first).status_code == 401
        r = run_sealbox(["users", "delete", "solo-b", "--yes", "--data-dir", data], env=with_redis)
        assert r.returncode == 0, r.stderr.decode()
        assert c.get("/users/me", headers=second).status_code == 401
    assert "Traceback" not in srv.stderr


@pytest.mark.postgres
@pytest.mark.redis
def test_disable_from_the_command_line_reaches_both_workers_at_once(tmp_path: Path) -> None:
    from tests.service._workers import attempts, client_port, serving_worker, worker_pids

    env = {**shared_env(), **TEST_PROFILE}
    reset_shared_state()
    data = tmp_path / "data"
    try:
        with (
            contextlib.ExitStack() as stack,
            serve_process(tmp_path, "--workers", "2", env=env, data_dir=data) as srv,
        ):

            def sealbox(*args: str, input: bytes = b"") -> None:
                r = run_sealbox(["users", *args, "--data-dir", data], input=input, env=env)
                assert r.returncode == 0, r.stderr.decode()

            sealbox("create", "worker-user", input=PASSWORD.encode())
            with srv.client() as c:
                token = login(c, "worker-user").json()["access_token"]
            pids = worker_pids(srv.proc.pid, srv.port)
            assert len(pids) == 2, pids
            clients = {}
            for _ in attempts():
                c = srv.client()
                r = c.get("/users/me", headers=bearer(token))
                assert r.status_code == 200
                pid = serving_worker(pids, srv.port, client_port(r))
                if pid in clients or pid is None:
                    c.close()
                    continue
                clients[pid] = c
                # Closed however the test ends: a client left open is collected during a
                # later test, which then reports the unclosed socket as its own error.
                stack.callback(c.close)
                if len(clients) == 2:
                    break
            assert len(clients) == 2, "the kernel gave every connection to one worker"
            sealbox("grant", "worker-user", "transit:admin")
            with srv.client() as c:
                assert login(c, "worker-user").json()["scope"] == "transit:admin users:me"
            # An administrator over HTTP, on whichever worker answers, reaches both too.
            sealbox("create", "http-admin", "--scope", "users:admin", input=PASSWORD.encode())
            sealbox("create", "second-user", input=PASSWORD.encode())
            with srv.client() as c:
                admin = bearer(login(c, "http-admin").json()["access_token"])
                second = bearer(login(c, "second-user").json()["access_token"])
            for c in clients.values():
                assert c.get("/users/me", headers=second).status_code == 200
            sealbox("disable", "worker-user")
            with srv.client() as c:
                assert c.post("/users/second-user/disable", headers=admin).status_code == 200
            for c in clients.values():
                r = c.get("/users/me", headers=bearer(token))
                assert r.status_code == 401, r.text
                assert c.get("/users/me", headers=second).status_code == 401
                c.close()
        assert "Traceback" not in srv.stderr, srv.stderr[-2000:]
    finally:
        reset_shared_state()


@pytest.mark.parametrize("source", ["empty.jsonl", "-"])
def test_an_import_of_nothing_is_an_error_and_touches_no_data_folder(
    users, tmp_path: Path, source: str
) -> None:
    (tmp_path / "empty.jsonl").write_text("\n  \n")
    r = users("import", tmp_path / source if source != "-" else "-", input=b"")
    assert r.code == 1
    where = "standard input" if source == "-" else str(tmp_path / source)
    assert r.stderr.splitlines()[0] == f"sealbox: error: {where} holds no account lines"
    assert not users.data.exists()  # a mistyped --data-dir is not made for nothing


def test_a_taken_name_is_refused_before_the_password_is_asked_for(tmp_path: Path) -> None:
    from sealbox.exceptions import ConfigError
    from sealbox.service.admin import create_user

    settings = make_settings(tmp_path / "data")
    create_user(settings, "bob", lambda _name: PASSWORD)
    asked: list[str] = []

    def password(name: str) -> str:
        asked.append(name)
        return PASSWORD

    for typed in ("BOB", "\uff42\uff4f\uff42"):  # another case, full width: the same name
        with pytest.raises(ConfigError) as taken:
            create_user(settings, typed, password)
        assert taken.value.code == "username_taken"
    assert asked == []  # a prompt would have asked twice, for nothing


@pytest.mark.parametrize(
    ("scope", "said"),
    [
        # A space would make it two scopes in a token's `scope` claim.
        ("orders:read users:admin", "'orders:read users:admin' is not a scope"),
        ("a\x01", "'a\\x01' is not a scope"),
        ("transit:*", "'transit:*' is not a scope sealbox knows"),
    ],
)
def test_create_refuses_a_scope_grant_refuses_and_makes_nothing(
    users, scope: str, said: str
) -> None:
    r = users("create", "alice", "--scope", scope, input=PASSWORD.encode())
    assert r.code == 1
    assert r.stderr.startswith(f"sealbox: error: {said}")
    assert not users.data.exists()  # refused before anything is made or asked


def test_a_scope_under_sealbox_prefixes_that_allows_nothing_is_refused_with_the_forms(
    users,
) -> None:
    _create(users, "alice")
    r = users("grant", "alice", "transit:encrpyt:orders")
    assert r.code == 1
    assert r.stderr.splitlines() == [
        (
            "sealbox: error: 'transit:encrpyt:orders' is not a scope sealbox knows: "
            "it would allow nothing"
        ),
        (
            "sealbox: hint: the scopes of transit: are transit:admin or transit:OPERATION:KEY "
            "(OPERATION one of encrypt, decrypt, rewrap, datakey, sign, verify, hmac, export, "
            "read; KEY a key name or *)"
        ),
    ]
    r = users("grant", "alice", "transit:encrypt:*", "kv:read:secret/app/", "orders:read")
    assert r.code == 0, r.stderr
    assert "kv:read:secret/app/ orders:read transit:encrypt:* users:me" in r.out


def test_users_create_migrates_the_database_once(tmp_path: Path, monkeypatch) -> None:
    from sealbox.service import admin

    calls: list[object] = []
    real = admin.migrate

    async def counting(engine: object) -> None:
        calls.append(engine)
        await real(engine)  # type: ignore[arg-type]

    monkeypatch.setattr(admin, "migrate", counting)
    settings = make_settings(tmp_path / "data")
    admin.create_user(settings, "bob", lambda _name: PASSWORD)
    admin.create_user(settings, "carol", lambda _name: PASSWORD)
    assert len(calls) == 2  # one per account made, not one per step


def test_users_refuses_a_data_folder_the_service_would_not_serve_from(tmp_path: Path) -> None:
    # sealbox serve refuses a folder open to other users; an account made there could
    # not be served, and its database's name would be listed to anyone. (Commands that
    # make nothing are told first that an empty folder is no service's.)
    folder = tmp_path / "open"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    for args in (["users", "create", "alice"], ["clients", "create", "bot"]):
        r = run_sealbox([*args, "--data-dir", folder], input=b"a long password 1")
        assert r.returncode == 1, args
        assert r.stderr.decode() == (
            f"sealbox: error: the folder {folder} is open to other users (mode 755)\n"
            f"sealbox: hint: chmod 700 {folder}\n"
        )
    assert list(folder.iterdir()) == []
