"""An export whose members are swapped puts the hash where the name belongs: the line is
refused without the name, which the refusal, the CLI's notes and the audit record would
otherwise quote, and no account is named by a hash."""

from __future__ import annotations

import json

import pytest

from sealbox.accounts.user_import import parse_json_lines, plan_import
from sealbox.passwords import PasswordHasher
from tests.unit.test_passwords_django import django_pbkdf2

HASHER = PasswordHasher("test")
ARGON2 = HASHER.hash("correct horse battery")
BCRYPT = "$2b$04$" + "a" * 21 + "e" + "a" * 31


def _plan(*rows: dict[str, object]):
    lines = [json.dumps(row) for row in rows]
    return plan_import(parse_json_lines(lines), (), HASHER, ("users:me",))


@pytest.mark.parametrize(
    "stored",
    [BCRYPT, ARGON2, django_pbkdf2("pw"), "bcrypt$" + BCRYPT, "$6$rounds=5000$salt$hash"],
    ids=["bcrypt", "argon2id", "django-pbkdf2", "django-bcrypt", "sha512-crypt"],
)
def test_a_password_hash_given_as_the_username_is_refused_without_quoting_it(stored) -> None:
    report = _plan(
        {"username": stored, "password_hash": "alice"},
        {"username": stored, "password_hash": ARGON2},
    )
    assert report.imported == ()
    assert [(p.line, p.username) for p in report.problems] == [(1, None), (2, None)]
    for problem in report.problems:
        assert "'username' holds a password hash" in problem.reason
        assert stored not in problem.reason
    assert stored not in repr(report)


def test_names_with_a_dollar_sign_that_are_no_hash_are_still_accepted() -> None:
    report = _plan({"username": "pay$roll", "password_hash": ARGON2})
    assert report.problems == ()
    assert report.imported == ("pay$roll",)
