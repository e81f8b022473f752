"""Blind indexes kept in step by statements run with several parameter rows
(``conn.execute(insert(table), [row, row])``), and ``reseal_rows``' batch size.

On SQLite and on the PostgreSQL at 127.0.0.1:5432, through the fixtures of
``test_sqlalchemy_types`` (a table of their own per test, dropped after).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select, text, update

from sealbox.exceptions import ConfigError
from sealbox.integrations.sqlalchemy import blind_index_match
from sealbox.keysets.fields import decode_token, token_key_id
from sealbox.keysets.keyring import Keyring
from tests.unit.test_sqlalchemy_reencrypt import people
from tests.unit.test_sqlalchemy_types import DB, backend, ring, setup

__all__ = ["backend", "people", "ring", "setup"]  # the fixtures, used by name


def _found(db: DB, user: Any, value: str) -> list[int]:
    lookup = select(user.id).where(blind_index_match(user.email_index, value)).order_by(user.id)
    return db.run(lambda s: list(s.scalars(lookup)))


def _indexes(db: DB, user: Any, ring: Keyring) -> dict[int, bool]:
    """Row id -> whether its index is the digest of its email (rows with an email)."""
    rows = db.raw(f"SELECT id, email, email_index FROM {user.__tablename__}")
    return {
        i: index is not None
        and bytes(index)
        == ring.blind_index(ring.open_text(e, b"users.email").lower(), b"users.email")
        for i, e, index in rows
        if e is not None
    }


def test_an_executemany_insert_indexes_the_rows_that_leave_the_index_out(setup, ring) -> None:
    # One row giving its own digest made every other row go without one: the statement
    # was let through untouched, and those rows were never found by a lookup.
    db, User = setup
    table = User.__table__
    given = User.email_index.type.digest("b@x.org")
    rows = [
        {"id": 1, "email": "A@x.org"},
        {"id": 2, "email": "b@x.org", "email_index": given},
        {"id": 3, "email": None},
    ]
    db.run(lambda s: (s.connection().execute(insert(table), rows), s.commit()))
    assert _indexes(db, User, ring) == {1: True, 2: True}
    assert _found(db, User, "a@x.org") == [1]
    assert _found(db, User, "B@x.org") == [2]


def test_an_executemany_update_indexes_the_rows_that_leave_the_index_out(setup, ring) -> None:
    db, User = setup
    table = User.__table__
    db.run(
        lambda s: (
            s.add_all([User(id=1, email="a@x.org"), User(id=2, email="b@x.org")]),
            s.commit(),
        )
    )
    digest = User.email_index.type.digest
    statement = update(table).where(table.c.id == bindparam("pk"))
    rows = [
        {"pk": 1, "email": "New-A@x.org"},
        {"pk": 2, "email": "new-b@x.org", "email_index": digest("new-b@x.org")},
    ]
    db.run(lambda s: (s.connection().execute(statement, rows), s.commit()))
    assert _indexes(db, User, ring) == {1: True, 2: True}
    assert _found(db, User, "new-a@x.org") == [1]
    assert _found(db, User, "a@x.org") == []


@pytest.mark.parametrize("batch_size", [0, -1])
def test_reseal_rows_refuses_a_batch_size_below_one(people, ring, batch_size) -> None:
    # batch_size=0 read no row and returned 0: the answer that tells an operator every
    # value is under the new key and the old one may be disabled.
    store, Person, _ = people
    ring.rotate()
    with pytest.raises(ConfigError, match="batch_size must be at least 1"):
        store.reseal_rows(Person, batch_size=batch_size)
    assert store.reseal_rows(Person, batch_size=2) == 5
    table = Person.__tablename__
    emails = store.write(lambda s: s.execute(text(f"SELECT email FROM {table}")).scalars().all())
    assert {token_key_id(decode_token(e)) for e in emails} == {ring.primary_id}


def test_a_value_of_the_wrong_type_is_refused_naming_its_column_not_the_row(setup) -> None:
    # "an EncryptedString column takes str, not bytes" left the reader to guess which of
    # a model's encrypted columns was meant; the associated data names it.
    db, User = setup
    for row, words in (
        (User(id=1, email="canary-7e21@x.org", note=b"canary-bytes"), "takes str, not bytes"),
        (User(id=2, email="canary-7e21@x.org", avatar="canary-text"), "takes bytes, not str"),
    ):
        with pytest.raises(TypeError, match=words) as info:
            db.run(lambda s, row=row: (s.add(row), s.commit()))
        said = f"{info.value!s} {info.value!r}"
        column = "users.note" if row.id == 1 else "users.avatar"
        assert f"(associated data '{column}')" in said
        assert "canary" not in said
