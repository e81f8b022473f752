"""Import lines: what is accepted, what is refused and why, without ever quoting a hash."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from sealbox.accounts.scopes import check_scopes
from sealbox.accounts.user_import import InvalidLine, parse_json_lines, plan_import
from sealbox.exceptions import ConfigError
from sealbox.passwords import PasswordHasher
from tests.unit.test_passwords_django import django_bcrypt_sha256, django_pbkdf2

HASHER = PasswordHasher("test")
ARGON2 = HASHER.hash("correct horse battery")
# A well-formed bcrypt hash: the last characters of its salt and hash leave spare bits unset.
BCRYPT = "$2b$04$" + "a" * 21 + "e" + "a" * 31


def _django(password: str, salt: str = "s4ltS4lt", iterations: int = 1000) -> str:
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(key).decode()}"


def _line(**fields: object) -> str:
    return json.dumps(fields)


def _plan(lines: list[str], existing: tuple[str, ...] = ()):
    return plan_import(parse_json_lines(lines), existing, HASHER, ("users:me",))


def test_good_lines_are_planned_with_canonical_names_and_default_scopes() -> None:
    report = _plan(
        [
            _line(username="Alice", password_hash=ARGON2, scopes=["transit:admin"]),
            "",
            _line(username="bob", password_hash=BCRYPT),
            _line(username="carol", password_hash=_django("pw")),
        ]
    )
    assert report.problems == ()
    assert report.lines == 3
    assert report.imported == ("alice", "bob", "carol")
    assert [a.scheme for a in report.accepted] == ["argon2", "bcrypt", "pbkdf2_sha256"]
    assert report.accepted[0].scopes == ("transit:admin", "users:me")
    assert report.accepted[0].line == 1 and report.accepted[2].line == 4
    assert ARGON2 not in repr(report)


def test_names_one_under_rfc_8265_or_look_alikes_are_refused_all_of_the_group() -> None:
    report = _plan(
        [
            _line(username="Alice", password_hash=ARGON2),
            _line(username="alice", password_hash=ARGON2),
            _line(username="p\u0430ul", password_hash=ARGON2),  # CYRILLIC SMALL LETTER A
            _line(username="paul", password_hash=ARGON2),
            _line(username="zoe", password_hash=ARGON2),
        ]
    )
    assert report.imported == ("zoe",)
    reasons = {p.line: p.reason for p in report.problems}
    assert reasons[1] == "the same name under RFC 8265 as line 2"
    assert reasons[2] == "the same name under RFC 8265 as line 1"
    assert reasons[3] == "looks like 'paul' on line 4 (UTS #39)"
    assert reasons[4] == "looks like 'p\u0430ul' on line 3 (UTS #39)"


def test_names_of_existing_accounts_and_their_look_alikes_are_refused() -> None:
    report = _plan(
        [
            _line(username="ADMIN", password_hash=ARGON2),
            _line(username="\u0430dmin", password_hash=ARGON2),
            _line(username="new", password_hash=ARGON2),
        ],
        existing=("admin",),
    )
    assert report.imported == ("new",)
    assert [(p.line, p.username) for p in report.problems] == [(1, "ADMIN"), (2, "\u0430dmin")]
    assert all("an account has this name" in p.reason for p in report.problems)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not json", "not JSON (expecting value at column 1)"),
        ("[1, 2]", "not a JSON object"),
        (_line(password_hash=ARGON2), "'username' is missing"),
        (_line(username=None, password_hash=ARGON2), "'username' must be a string"),
        (_line(username=7, password_hash=ARGON2), "'username' must be a string"),
        (_line(username="x y", password_hash=ARGON2), "the username is not valid: spaces"),
        (_line(username="eve"), "'password_hash' is missing"),
        (_line(username="eve", password_hash=None), "'password_hash' must be a string"),
        (_line(username="eve", password_hash="$1$abc$def"), "the password hash is not usable"),
        (_line(username="eve", password_hash="$2b$04$short"), "the password hash is not usable"),
        (_line(username="eve", password_hash="pbkdf2_sha256$x$y$z"), "not usable"),
        # Argon2 parameters that read well around a salt and hash that are not base64, or
        # too short: every login of such an account would fail.
        (
            _line(username="eve", password_hash="$argon2id$v=19$m=8192,t=1,p=1$!!!!$????"),
            "salt or hash is not unpadded base64",
        ),
        (
            _line(username="eve", password_hash="$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$aGFzaA"),
            "salt or hash is too short",
        ),
        (
            _line(username="eve", password_hash="argon2$argon2id$v=19$m=8192,t=1,p=1$!!!!$??"),
            "not unpadded base64",
        ),
        # Spare bits set in the last character of the hash, or of a bcrypt salt: argon2's
        # and bcrypt's decoders refuse them, so no login of such an account could succeed.
        (
            _line(username="eve", password_hash=ARGON2[:-1] + chr(ord(ARGON2[-1]) + 1)),
            "salt or hash is not unpadded base64",
        ),
        (
            _line(username="eve", password_hash="$2b$04$" + "a" * 53),
            "salt or hash is not bcrypt's base64",
        ),
        (_line(username="eve", password_hash=ARGON2, scopes="a b"), "'scopes' must be a list"),
        (_line(username="eve", password_hash=ARGON2, scopes=["a b"]), "'a b' is not a scope"),
    ],
)
def test_a_bad_line_is_refused_with_its_number_and_reason(line: str, reason: str) -> None:
    report = _plan([_line(username="ok", password_hash=ARGON2), line])
    assert report.imported == ("ok",)
    [problem] = report.problems
    assert problem.line == 2
    assert reason in problem.reason


def test_a_password_member_is_refused_and_never_quoted() -> None:
    secret = "canary-plain-password-7d1"
    report = _plan([_line(username="eve", password=secret, password_hash=ARGON2)])
    [problem] = report.problems
    assert problem.reason == "unknown member 'password'"
    assert problem.username == "eve"
    assert secret not in repr(report)


def test_a_malformed_hash_is_not_quoted_in_the_reason() -> None:
    bad = "pbkdf2_sha256$1000$salt$not-base64!!canary"
    report = _plan([_line(username="eve", password_hash=bad)])
    [problem] = report.problems
    assert "canary" not in problem.reason


def test_lines_that_are_not_utf8_or_too_long_are_refused() -> None:
    records = dict(parse_json_lines([b"\xff\xfe", "x" * 20_000]))
    assert records[1] == InvalidLine("not UTF-8 text")
    assert records[2] == InvalidLine("longer than 16384 characters")


def test_a_byte_order_mark_before_the_first_line_is_not_part_of_it() -> None:
    first = _line(username="alice", password_hash=ARGON2).encode()
    report = plan_import(
        parse_json_lines([b"\xef\xbb\xbf" + first, "\ufeff" + _line(username="bob")]),
        (),
        HASHER,
        ("users:me",),
    )
    assert report.imported == ("alice",)
    [problem] = report.problems  # a mark inside the file is not a file's start
    assert problem.line == 2 and "not JSON" in problem.reason


def test_scopes_follow_the_rfc_6749_grammar() -> None:
    assert check_scopes(["transit:encrypt:*", "users:admin"]) == [
        "transit:encrypt:*",
        "users:admin",
    ]
    for bad in (["a b"], ['say"'], ["back\\slash"], ["caf\u00e9"], [""], []):
        with pytest.raises(ConfigError) as info:
            check_scopes(bad)
        assert info.value.code == "invalid_scope"


def test_a_line_giving_a_member_twice_is_refused_not_read_as_its_last_value() -> None:
    # {"username": "q5", "username": "q6"} imported q6 (Python's json keeps the last):
    # another reader of the same export (jq's first pass, a review script) sees q5.
    twice = f'{{"username": "mallory", "password_hash": "{BCRYPT}", "username": "admin"}}'
    hash_twice = f'{{"username": "trent", "password_hash": "x", "password_hash": "{BCRYPT}"}}'
    report = _plan([_line(username="ok", password_hash=ARGON2), twice, hash_twice])
    assert report.imported == ("ok",)
    assert [(p.line, p.reason) for p in report.problems] == [
        (2, "the member 'username' is given twice"),
        (3, "the member 'password_hash' is given twice"),
    ]
    assert all(BCRYPT not in p.reason for p in report.problems)


def test_django_pbkdf2_sha1_and_bcrypt_sha256_lines_are_imported_with_their_scheme() -> None:
    report = _plan(
        [
            _line(username="old", password_hash=django_pbkdf2("pw", "sha1")),
            _line(username="older", password_hash=django_bcrypt_sha256("pw")),
        ]
    )
    assert report.problems == ()
    assert [a.scheme for a in report.accepted] == ["pbkdf2_sha1", "bcrypt_sha256"]


@pytest.mark.parametrize(
    ("password_hash", "reason"),
    [
        # Each parameter within t <= 16, 2 GiB, p <= 16; together 32 GiB-passes a login.
        (
            "$argon2id$v=19$m=2097152,t=16,p=16$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43,
            (
                "the password hash is not usable: the stored argon2 hash asks for t=16 "
                "m=2097152KiB p=16, above the accepted maximum"
            ),
        ),
        ("$2b$16$" + "a" * 21 + "e" + "a" * 31, "bcrypt cost 16 is above the accepted maximum"),
        # Django writes 32 bytes: a shorter key is weaker, a longer one costs more.
        (django_pbkdf2("pw", dklen=16), "pbkdf2_sha256 hash must be 32 bytes"),
    ],
)
def test_a_hash_that_costs_too_much_or_is_not_as_django_writes_it_is_refused_on_its_line(
    password_hash: str, reason: str
) -> None:
    report = _plan(
        [
            _line(username="ok", password_hash=ARGON2),
            _line(username="eve", password_hash=password_hash),
        ]
    )
    assert report.imported == ("ok",)
    [problem] = report.problems
    assert (problem.line, problem.username) == (2, "eve")
    assert reason in problem.reason
