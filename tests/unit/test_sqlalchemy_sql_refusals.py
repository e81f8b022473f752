"""SQL that would order, deduplicate or compute with an encrypted column's ciphertexts is
refused when the expression is built, with code ``encrypted_column_sql``; on SQLite and on
the PostgreSQL at 127.0.0.1:5432 (tables of their own per test, dropped after)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import (
    any_,
    asc,
    collate,
    desc,
    distinct,
    func,
    literal,
    not_,
    nulls_first,
    select,
)

from sealbox.exceptions import ConfigError
from tests.unit.test_sqlalchemy_types import backend, make_models, ring, setup

__all__ = ["backend", "ring", "setup"]  # the fixtures, used by name


def _refused(build: Any) -> Any:
    with pytest.raises(TypeError) as info:
        build()
    error = info.value
    assert isinstance(error, ConfigError)
    assert error.code == "encrypted_column_sql"
    assert error.hint and error.hint in str(error)
    return error


def test_ordering_distinct_and_sql_operators_on_an_encrypted_column_are_refused(ring) -> None:
    _, User = make_models(ring)
    table = User.__table__.c
    cases = {
        "order": [
            User.email.asc,
            User.email.desc,
            lambda: asc(User.note),
            lambda: desc(table.email),
            lambda: nulls_first(User.email),
            User.avatar.nulls_last,
        ],
        "DISTINCT": [
            User.email.distinct,
            lambda: func.count(distinct(User.email)),
        ],
        "SQL expression": [
            lambda: User.email.collate("C"),
            lambda: collate(User.email, "C") == "x",
            lambda: User.email.concat("x"),
            lambda: table.email + table.note,
            lambda: User.avatar * 2,
            lambda: -User.email,
            lambda: not_(User.email),
            lambda: any_(User.email),
            lambda: User.email.op("||")(table.note),
        ],
        "compared in SQL": [
            lambda: table.email > table.note,
            lambda: User.email == User.note,  # two columns' ciphertexts: never equal
            lambda: User.email.in_(select(table.note)),
        ],
    }
    for words, builds in cases.items():
        for build in builds:
            error = _refused(build)
            assert words in str(error), str(error)
            assert error.facts["operator"]
    # Comparisons with values keep their message, and gain the code.
    assert "blind_index_match" in str(_refused(lambda: User.email == "x"))
    assert _refused(lambda: User.email.like("x%")).facts["operator"] == "like_op"
    # IS NULL tests stay, and == between Column objects (SQLAlchemy's own lookups).
    assert "IS NULL" in str(select(User).where(User.email.is_(None)))
    assert "email = " in str(select(User).where(table.email == table.note))


def test_refused_queries_fail_before_the_database_and_the_blind_index_answers(setup) -> None:
    db, User = setup
    name = User.__tablename__

    def fill(s: Any) -> None:
        s.add_all([User(id=1, email="Ann@x.org"), User(id=2, email="ann@x.org")])
        s.add(User(id=3, email="Bob@x.org"))
        s.commit()

    db.run(fill)
    # What the database does with ciphertexts: three distinct values, none equal to another.
    assert db.raw(f"SELECT COUNT(DISTINCT email) FROM {name}") == [(3,)]
    for build in (
        lambda: select(User.id).order_by(User.email.desc()),
        lambda: select(func.count(User.email.distinct())),
        lambda: select(User.id).where(User.email.collate("C") == "Bob@x.org"),
    ):
        _refused(build)
    # What works: DISTINCT over the blind index (normalize=str.lower), order in Python.
    query = select(func.count(distinct(User.email_index)))
    assert db.run(lambda s: s.scalar(query)) == 2
    emails = db.run(lambda s: list(s.scalars(select(User.email))))
    assert sorted(emails) == ["Ann@x.org", "Bob@x.org", "ann@x.org"]


def test_sql_functions_around_an_encrypted_column_are_not_seen_by_its_comparator(ring) -> None:
    # The limits the documentation states: these never call the column's comparator, so
    # they are built (and would compare ciphertexts). Pinned so that the page stays true.
    _, User = make_models(ring)
    for build in (
        lambda: func.lower(User.email) == "x",
        lambda: func.length(User.email) > 3,
        lambda: func.max(User.email),
        lambda: literal("x") == User.email,
        lambda: select(User.email).order_by(User.email).group_by(User.email).distinct(),
    ):
        assert build() is not None
