"""``sealbox users`` and ``sealbox clients`` edges an outside tester finds: import lines
that are JSON no parser takes whole, names shared by a broken line, and audit records."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

TEST_PROFILE = {"SEALBOX_PASSWORD_PROFILE": "test"}


def _pbkdf2(password: str) -> str:
    salt = "Zq8dQ1vXh2"
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 1000)
    return f"pbkdf2_sha256$1000${salt}${base64.b64encode(key).decode()}"


def _users(cli, data: Path, *args: object, input: bytes = b""):
    return cli(["users", *args, "--data-dir", data], input=input, env=TEST_PROFILE)


def test_an_import_line_with_a_huge_number_or_deep_nesting_is_a_refused_line(
    cli, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    good = json.dumps({"username": "gina", "password_hash": _pbkdf2("gina-password-1")})
    huge_number = '{"username": "hal", "password_hash": "x", "scopes": ' + "7" * 5000 + "}"
    deep = "[" * 8000 + "]" * 8000  # under the 16384-character line limit
    source = tmp_path / "users.jsonl"
    source.write_text("\n".join([good, huge_number, deep]) + "\n")
    r = _users(cli, data, "import", source)
    assert r.code == 1, r.stderr
    assert "internal error" not in r.stderr
    # One error line and its hint, then each refused line as a note.
    assert r.stderr.splitlines() == [
        "sealbox: error: nothing was imported: 2 of 3 lines are refused",
        "sealbox: hint: correct them, or pass --skip-invalid to import the other lines",
        "sealbox: refused line 2: not JSON (a number of more than 4300 digits)",
        "sealbox: refused line 3: not JSON (nested more deeply than sealbox reads)",
    ]
    r = _users(cli, data, "import", source, "--skip-invalid", "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.out)["imported"] == ["gina"]


def test_a_line_refused_for_its_hash_still_names_its_account_for_the_collisions(
    cli, tmp_path: Path
) -> None:
    # Two lines for one name: the first has a hash sealbox cannot use. Importing the
    # second would choose between them, as a collision of two good lines would.
    data = tmp_path / "data"
    lines = [
        json.dumps({"username": "ivy", "password_hash": "md5$salt$canaryhash"}),
        json.dumps({"username": "IVY", "password_hash": _pbkdf2("ivy-password-1")}),
        json.dumps({"username": "kim", "password_hash": _pbkdf2("kim-1"), "scopes": ["a b"]}),
        json.dumps({"username": "k\u0456m", "password_hash": _pbkdf2("kim-password-2")}),
        json.dumps({"username": "jo", "password_hash": _pbkdf2("jo-password-1")}),
    ]
    source = tmp_path / "users.jsonl"
    source.write_text("\n".join(lines) + "\n")
    r = _users(cli, data, "import", source)
    assert r.code == 1
    assert r.stderr.splitlines() == [
        "sealbox: error: nothing was imported: 4 of 5 lines are refused",
        "sealbox: hint: correct them, or pass --skip-invalid to import the other lines",
        (
            "sealbox: refused line 1 ('ivy'): the password hash is not usable: password hash scheme 'md5$' is "
            "not supported"
        ),
        "sealbox: refused line 2 ('IVY'): the same name under RFC 8265 as line 1",
        (
            "sealbox: refused line 3 ('kim'): 'a b' is not a scope: printable ASCII without spaces, quotes "
            "or backslashes, 1 to 128 characters"
        ),
        "sealbox: refused line 4 ('k\u0456m'): looks like 'kim' on line 3 (UTS #39)",
    ]
    assert "canaryhash" not in r.stderr
    r = _users(cli, data, "import", source, "--skip-invalid", "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.out)["imported"] == ["jo"]


def test_client_changes_from_the_command_line_are_audited_without_their_secrets(
    cli, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    create = ["clients", "create", "reporting", "--scope", "users:admin", "--json"]
    made = cli([*create, "--data-dir", data])
    assert made.code == 0, made.stderr
    first = json.loads(made.out)
    rotated = cli(["clients", "rotate-secret", "reporting", "--json", "--data-dir", data])
    assert rotated.code == 0, rotated.stderr
    second = json.loads(rotated.out)["client_secret"]
    deleted = cli(["clients", "delete", "reporting", "--yes", "--data-dir", data])
    assert deleted.code == 0, deleted.stderr
    records = [json.loads(line) for line in (data / "audit.log").read_text().splitlines()]
    assert [(r["event"], r["outcome"], r["user"], r["detail"]) for r in records] == [
        ("client_create", "success", None, f"reporting ({first['client_id']}); command line"),
        ("client_rotate", "success", None, f"reporting ({first['client_id']}); command line"),
        ("client_delete", "success", None, f"reporting ({first['client_id']}); command line"),
    ]
    text = (data / "audit.log").read_text()
    assert first["client_secret"] not in text and second not in text


def test_an_import_too_large_on_stdin_is_named_standard_input(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sealbox.cli.users.MAX_IMPORT_BYTES", 64)
    line = json.dumps({"username": "lee", "password_hash": _pbkdf2("lee-password-1")}) + "\n"
    r = _users(cli, tmp_path / "data", "import", "-", input=line.encode())
    assert (r.code, r.stderr) == (1, "sealbox: error: standard input is larger than 64 bytes\n")
    source = tmp_path / "users.jsonl"
    source.write_text(line)
    r = _users(cli, tmp_path / "data", "import", source)
    assert (r.code, r.stderr) == (1, f"sealbox: error: {source} is larger than 64 bytes\n")


@pytest.mark.parametrize("command", [["create", "noor"], ["reset-password", "noor"]])
def test_no_password_on_stdin_without_a_terminal_is_said_so_and_changes_nothing(
    cli, tmp_path: Path, command: list[str]
) -> None:
    # A script that forgot to pipe the password was told it "must have 8 to 1024
    # characters", as if it had given an empty one on purpose.
    data = tmp_path / "data"
    if command[0] == "reset-password":
        assert _users(cli, data, "create", "noor", input=b"noor-password-1").code == 0
    r = _users(cli, data, *command, input=b"")
    assert r.code == 1
    assert r.stderr.splitlines() == [
        "sealbox: error: no password for noor on standard input, and no terminal to ask on",
        (
            "sealbox: hint: pipe it in (printf '%s' \"$PASSWORD\" | sealbox users …), "
            "or run the command on a terminal"
        ),
    ]
    if command[0] == "create":
        # Nothing made either: not even the data folder the account would have gone to.
        assert not data.exists()
    shown = _users(cli, data, "show", "noor")
    assert shown.code == (0 if command[0] == "reset-password" else 1)


@pytest.mark.parametrize("command", [["create", "noor"], ["reset-password", "noor"]])
def test_a_password_on_stdin_past_the_read_limit_is_too_large_not_cut(
    cli, tmp_path: Path, command: list[str]
) -> None:
    # Read in one 8 KiB gulp, a longer password was cut there: a character of three bytes
    # cut in two made it "not UTF-8", anything else a different password than was piped.
    data = tmp_path / "data"
    if command[0] == "reset-password":
        assert _users(cli, data, "create", "noor", input=b"noor-password-1").code == 0
    r = _users(cli, data, *command, input=("\u20ac" * 2731).encode())
    assert (r.code, r.stderr.splitlines()[0]) == (
        1,
        "sealbox: error: the password on stdin is larger than 8192 bytes",
    )
    if command[0] == "create":
        assert not data.exists()


@pytest.mark.parametrize(
    "line", ["1", "{}", "not json"], ids=["no-object", "no-members", "no-json"]
)
def test_an_import_of_thousands_of_broken_lines_stops_early_and_lists_none_of_them(
    cli, tmp_path: Path, line: str
) -> None:
    # A file that is no export of accounts (a CSV, a binary, a wrong path): listing,
    # auditing and keeping every line took minutes and gigabytes for a few megabytes of
    # short lines. It is refused whole, --skip-invalid or not, past the first 1000.
    data = tmp_path / "data"
    good = json.dumps({"username": "lea", "password_hash": _pbkdf2("lea-password-1")})
    source = tmp_path / "users.jsonl"
    source.write_text("\n".join([good, *[line] * 5000]) + "\n")
    for extra in ((), ("--skip-invalid",)):
        r = _users(cli, data, "import", source, *extra)
        assert r.code == 1, r.stderr
        lines = r.stderr.splitlines()
        assert lines[0].startswith(
            "sealbox: error: nothing was imported: more than 1000 lines are refused (line 2: "
        ), lines[0]
        assert lines[-1].startswith("sealbox: hint: "), lines
        assert len(lines) == 2, lines
    audit = (data / "audit.log").read_text().splitlines()
    assert len(audit) <= 4, audit[:5]
    assert all(json.loads(a)["outcome"] != "success" for a in audit)


def test_a_name_older_than_the_username_rules_is_shown_escaped_never_acted_on(
    cli, tmp_path: Path
) -> None:
    # The rules refuse control and bidirectional characters, but an account made before
    # them keeps its name: shown raw, a RIGHT-TO-LEFT OVERRIDE reversed what followed it
    # in the administrator's terminal, and an escape sequence could clear the screen.
    import sqlite3

    data = tmp_path / "data"
    r = _users(cli, data, "create", "root", input=b"root-password-1")
    assert r.code == 0, r.stderr
    name = "ev\u202eil\x07"
    with sqlite3.connect(data / "sealbox.db") as db:
        db.execute(
            "INSERT INTO users (username, password_hash, scopes, disabled, created_at,"
            " session_version) VALUES (?, 'x', '[\"users:me\"]', 0, datetime('now'), 0)",
            (name,),
        )
    shown = "ev\\u202eil\\x07"
    outputs = []
    for args in (
        ("list",),
        ("show", name),
        ("grant", name, "orders:read"),
        ("revoke", name, "orders:read"),
        ("disable", name),
        ("enable", name),
        ("delete", name, "--yes"),
    ):
        r = _users(cli, data, *args)
        assert r.code == 0, (args, r.stderr)
        assert shown in r.out, (args, r.out)
        outputs.append(r.out + r.stderr)
    assert not any("\u202e" in o or "\x07" in o for o in outputs), outputs


def test_a_name_taken_under_the_username_rules_is_refused_with_a_hint_to_list_the_accounts(
    cli, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert _users(cli, data, "create", "alice", input=b"alice-password-1").code == 0
    r = _users(cli, data, "create", "ALICE", input=b"alice-password-2")
    assert r.code == 1, r.stderr
    assert r.stderr.splitlines() == [
        "sealbox: error: the username 'alice', or one that looks like it, is taken",
        "sealbox: hint: choose another name; 'sealbox users list' shows the accounts",
    ]
