"""Encrypted columns as an outside user meets them: NULL tests spelled with ``null()``,
comparisons with SQL that holds no parameter, and ``reseal_rows`` on a connection the
caller keeps using; on SQLite and on the PostgreSQL at 127.0.0.1:5432 (tables of their
own per test, dropped after)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import (
    Integer,
    String,
    cast,
    column,
    func,
    literal_column,
    null,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sealbox.exceptions import ConfigError, DecryptionError
from sealbox.integrations.sqlalchemy_reseal import reseal_rows
from sealbox.keysets.fields import decode_token, token_key_id
from tests.unit.test_sqlalchemy_reencrypt import _keys, people
from tests.unit.test_sqlalchemy_types import backend, make_models, ring, setup

__all__ = ["backend", "people", "ring", "setup"]  # the fixtures, used by name


def test_is_null_spelled_with_null_works_on_both_backends(setup) -> None:
    db, User = setup
    db.run(lambda s: (s.add_all([User(id=1, email="a@x.org"), User(id=2, email=None)]), s.commit()))
    for where, expected in (
        (User.email.is_(null()), [2]),
        (User.email.is_not(null()), [1]),
        (User.avatar.is_(null()), [1, 2]),
        (User.email.is_not_distinct_from(null()), [2]),
        (User.email == null(), [2]),
    ):
        query = select(User.id).where(where).order_by(User.id)
        assert db.run(lambda s, q=query: list(s.scalars(q))) == expected


def _refused(build: Any) -> None:
    with pytest.raises(TypeError) as info:
        build()
    assert isinstance(info.value, ConfigError)
    assert info.value.code == "encrypted_column_sql"


def test_comparing_with_sql_that_computes_a_value_is_refused(ring) -> None:
    # Nothing is bound, yet each compares ciphertexts with a value SQL computes: a
    # query that finds nothing, or the wrong rows, without a word.
    _, User = make_models(ring)

    class Base(DeclarativeBase):
        pass

    class Other(Base):
        __tablename__ = "sbx_sa_edges_other"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        plain: Mapped[str | None] = mapped_column(String(50))

    table = User.__table__.c
    for build in (
        lambda: User.email == func.lower(Other.plain),
        lambda: User.email != func.current_user(),
        lambda: table.email == select(Other.plain).scalar_subquery(),
        lambda: User.email == cast(Other.plain, String),
        lambda: table.note == Other.__table__.c.plain.label("p"),
        lambda: User.email.is_(func.lower(Other.plain)),
    ):
        _refused(build)
    # Still allowed: NULL tests, a table's column compared with a column (SQLAlchemy
    # compares columns with == to find them in its own lists), and raw SQL, which is not
    # looked into.
    assert table.email in [table.id, table.email]
    assert "IS NULL" in str(User.email == null())
    assert "email = note" in str(table.email == column("note"))
    assert "email = note" in str(table.email == literal_column("note"))


def test_reseal_rows_leaves_the_callers_connection_out_of_a_transaction(people, ring) -> None:
    store, Person, _ = people
    ring.rotate()

    def twice(conn: Any) -> tuple[int, int, bool]:
        first = reseal_rows(conn, Person, batch_size=2)
        second = reseal_rows(conn, Person, batch_size=2)  # refused when left in one
        return first, second, conn.in_transaction()

    assert _with_connection(store, twice) == (5, 0, False)
    assert _keys(store, Person) == {ring.primary_id}


def test_a_failed_reseal_rows_rolls_its_batch_back_on_the_callers_connection(people, ring) -> None:
    store, Person, _ = people
    old = ring.primary_id
    ring.rotate()
    # Row 4's scan does not open: the job stops in its second batch (rows 3 and 4), after
    # rewriting row 3 in that batch's transaction.
    table = Person.__tablename__
    store.write(
        lambda s: s.execute(
            text(f"UPDATE {table} SET scan = :b WHERE id = 4"), {"b": b"\x01not a token"}
        )
    )

    def run_then_commit(conn: Any) -> tuple[str, bool]:
        with pytest.raises(DecryptionError) as info:
            reseal_rows(conn, Person, batch_size=2)
        in_transaction = conn.in_transaction()
        conn.commit()  # what a caller may do next: it must not commit half a batch
        return str(info.value), in_transaction

    message, in_transaction = _with_connection(store, run_then_commit)
    assert "p.scan" in message and "P4@x.org" not in message
    assert not in_transaction
    keys = _keys_by_id(store, Person)
    assert keys[1] == keys[2] == ring.primary_id  # the first batch was committed
    assert keys[3] == keys[4] == keys[5] == old  # the failed one was not


def _keys_by_id(store: Any, person: Any) -> dict[int, int]:
    """The key id of each row's email token."""
    table = person.__tablename__
    rows = store.write(lambda s: s.execute(text(f"SELECT id, email FROM {table}")).all())
    return {i: token_key_id(decode_token(e)) for i, e in rows}


def _with_connection(store: Any, fn: Any) -> Any:
    """``fn(connection)`` on one connection from ``engine.connect()``, sync or asyncio."""
    if store.kind == "sqlite":
        with store.engine.connect() as conn:
            return fn(conn)

    async def job() -> Any:
        async with store.async_engine.connect() as conn:
            return await conn.run_sync(fn)

    return store.runner.run(job())
