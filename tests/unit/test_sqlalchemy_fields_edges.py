"""Encrypted columns as a demanding SQLAlchemy user meets them: ``IS`` with a value,
``session.merge``, ORM bulk updates, empty strings, and Alembic's autogenerate.

On SQLite and on the PostgreSQL at 127.0.0.1:5432 (through asyncpg), with the fixtures
of ``test_sqlalchemy_types``: tables of their own per test, dropped after.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text

from sealbox.exceptions import ConfigError
from sealbox.integrations.sqlalchemy import (
    BlindIndex,
    EncryptedBytes,
    EncryptedString,
    blind_index_match,
)
from sealbox.integrations.sqlalchemy_reseal import reseal_rows
from sealbox.keysets.fields import decode_token, token_key_id
from tests.unit.test_sqlalchemy_reencrypt import _keys, people
from tests.unit.test_sqlalchemy_types import DB, backend, make_models, ring, setup

__all__ = ["backend", "people", "ring", "setup"]  # the fixtures, used by name


def _found(db: DB, user: Any, value: str) -> list[int]:
    query = select(user.id).where(blind_index_match(user.email_index, value)).order_by(user.id)
    return db.run(lambda s: list(s.scalars(query)))


def test_is_and_is_not_with_a_value_are_refused_like_equality(ring) -> None:
    # `email IS 'x'` is equality on SQLite (never true: every seal differs) and a syntax
    # error on PostgreSQL; `IS NOT 'x'` matched every row without a word.
    _, User = make_models(ring)
    for build in (
        lambda: User.email.is_("x"),
        lambda: User.email.is_not("x"),
        lambda: User.avatar.is_(b"x"),
        lambda: User.email.is_(True),
    ):
        with pytest.raises(TypeError, match="BlindIndex"):
            build()
    assert "IS NULL" in str(select(User).where(User.email.is_(None)))
    assert "IS NOT NULL" in str(select(User).where(User.note.is_not(None)))


def test_merge_bulk_updates_and_empty_strings_keep_values_and_indexes(setup, ring) -> None:
    db, User = setup

    def write(s: Any) -> None:
        s.add(User(id=1, email="Ann@x.org", note=""))
        s.commit()
        s.merge(User(id=1, email="Bob@x.org"))  # a detached object, as from an API body
        s.merge(User(id=2, email="", avatar=b""))
        s.commit()
        s.bulk_update_mappings(User, [{"id": 2, "email": "Cy@x.org"}])
        s.commit()

    db.run(write)
    assert _found(db, User, "bob@x.org") == [1]
    assert _found(db, User, "ann@x.org") == []
    assert _found(db, User, "cy@x.org") == [2]
    rows = db.run(lambda s: [(u.email, u.note, u.avatar) for u in s.scalars(select(User))])
    assert sorted(rows, key=str) == sorted(
        [("Bob@x.org", "", None), ("Cy@x.org", None, b"")], key=str
    )
    # The empty values were sealed, not stored as they are.
    stored = db.raw(f"SELECT note FROM {User.__tablename__} WHERE id = 1")[0][0]
    assert token_key_id(decode_token(stored)) == ring.primary_id
    db.run(lambda s: (s.merge(User(id=2, email=None)), s.commit()))
    assert db.raw(f"SELECT email, email_index FROM {User.__tablename__} WHERE id = 2") == [
        (None, None)
    ]


def test_core_executemany_insert_with_an_empty_string_is_indexed(setup) -> None:
    db, User = setup
    rows = [{"id": 1, "email": ""}, {"id": 2, "email": "Dee@x.org"}, {"id": 3, "email": None}]
    db.run(lambda s: (s.execute(insert(User), rows), s.commit()))
    assert _found(db, User, "") == [1]
    assert _found(db, User, "DEE@x.org") == [2]
    assert db.run(lambda s: s.get(User, 1).email) == ""


def test_alembic_autogenerate_renders_types_a_migration_can_build() -> None:
    # BlindIndex rendered as BlindIndex(length=32), which its constructor refuses: the
    # generated migration failed with a TypeError when it ran.
    from alembic.autogenerate import produce_migrations, render_python_code
    from alembic.runtime.migration import MigrationContext

    import sealbox

    metadata = MetaData()
    Table(
        "patients",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("email", EncryptedString(associated_data="patients.email")),
        Column("email_index", BlindIndex(context="patients.email", normalize=str.lower)),
        Column("scan", EncryptedBytes("billing", associated_data=b"patients.scan")),
    )
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        ops = produce_migrations(MigrationContext.configure(conn), metadata).upgrade_ops
        code = render_python_code(ops)
    prefix = "sealbox.integrations.sqlalchemy."
    assert f"{prefix}EncryptedString(associated_data=b'patients.email')" in code
    assert f"{prefix}BlindIndex(context=b'patients.email')" in code
    assert f"{prefix}EncryptedBytes('billing', associated_data=b'patients.scan')" in code
    # The rendered types are built again, as the migration builds them, into the same DDL.
    import sqlalchemy as sa

    rebuilt = eval(
        code.split("op.create_table(", 1)[1].rsplit(")", 1)[0].replace("'patients',", "[", 1) + "]",
        {"sa": sa, "sealbox": sealbox},
    )
    table = Table("patients", MetaData(), *rebuilt)
    with engine.begin() as conn:
        table.create(conn)
        assert [c["name"] for c in sa.inspect(conn).get_columns("patients")] == [
            "id",
            "email",
            "email_index",
            "scan",
        ]
        conn.execute(text("DROP TABLE patients"))


def test_reseal_rows_on_a_connection_in_a_transaction_is_refused_before_any_commit(
    people, ring
) -> None:
    # reseal_rows commits after every batch: inside engine.begin() it committed the first
    # batch, then failed with SQLAlchemy's "Can't operate on closed transaction inside
    # context manager"; on a connection holding the caller's own uncommitted writes, it
    # committed them with its first batch.
    store, Person, _ = people
    ring.rotate()
    table = Person.__tablename__

    def run_in_transaction(conn: Any) -> int:
        conn.execute(text(f"UPDATE {table} SET scan = NULL WHERE id = 5"))
        return reseal_rows(conn, Person, batch_size=2)

    with pytest.raises(ConfigError, match="this connection is in a transaction") as info:
        if store.kind == "sqlite":
            with store.engine.begin() as conn:
                run_in_transaction(conn)
        else:

            async def job() -> int:
                async with store.async_engine.begin() as conn:
                    return await conn.run_sync(run_in_transaction)

            store.runner.run(job())
    assert info.value.code == "in_transaction"
    assert "engine.connect()" in (info.value.hint or "")
    assert _keys(store, Person) != {ring.primary_id}  # no batch was committed
    assert store.write(lambda s: s.get(Person, 5).scan) == b"scan 5"  # nor the caller's write
    assert store.reseal_rows(Person, batch_size=2) == 5
    assert _keys(store, Person) == {ring.primary_id}


def test_a_wrong_type_assigned_to_an_indexed_column_names_the_index_context(ring) -> None:
    # keep_blind_index hashes the value when it is assigned, before the column's own type
    # check: the refusal said "a blind-index value must be str or bytes, not int", naming
    # no column, in a model with several indexes.
    _, User = make_models(ring)
    for value in (5, 1.5, ["a"]):
        with pytest.raises(TypeError, match=r"'users\.email'.* str or bytes, not"):
            User(id=1, email=value)
    with pytest.raises(TypeError, match=r"'users\.email'"):
        blind_index_match(User.email_index, 5)  # type: ignore[arg-type]
