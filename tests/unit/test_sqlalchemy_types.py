"""EncryptedString, EncryptedBytes and BlindIndex on SQLite and on the PostgreSQL at 127.0.0.1:5432.

PostgreSQL is reached through SQLAlchemy's asyncio engine (asyncpg), SQLite through
the standard sync engine and through aiosqlite. Each test uses its own table names
and drops them at the end.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Integer, create_engine, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sealbox.exceptions import ConfigError, DecryptionError
from sealbox.integrations.sqlalchemy import (
    BlindIndex,
    EncryptedBytes,
    EncryptedString,
    blind_index_match,
    get_keyring,
    keep_blind_index,
    register_keyring,
    reseal,
    unregister_keyring,
)
from sealbox.keysets.fields import decode_token, token_key_id
from sealbox.keysets.keyring import Keyring
from tests.service.conftest import POSTGRES_URL, ensure_database, require_server

CANARY = "canary-column-value-7e21@example.com"


def make_models(ring: Any) -> tuple[type[DeclarativeBase], Any]:
    suffix = uuid.uuid4().hex[:10]

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = f"sbx_enc_users_{suffix}"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        email: Mapped[str | None] = mapped_column(
            EncryptedString(ring, associated_data="users.email")
        )
        email_index: Mapped[bytes | None] = mapped_column(
            BlindIndex(ring, context="users.email", normalize=str.lower), index=True
        )
        note: Mapped[str | None] = mapped_column(
            EncryptedString(ring, associated_data="users.note")
        )
        avatar: Mapped[bytes | None] = mapped_column(
            EncryptedBytes(ring, associated_data="users.avatar")
        )

    keep_blind_index(User.email, User.email_index)
    return Base, User


class DB:
    """Runs ``fn(session)`` with the sync ORM API on either backend."""

    def __init__(self, kind: str, metadata: Any) -> None:
        self.kind = kind
        self.metadata = metadata
        if kind == "sqlite":
            self.engine = create_engine("sqlite://")
            metadata.create_all(self.engine)
            return
        self.runner = asyncio.Runner()
        self.async_engine = create_async_engine(POSTGRES_URL)
        self.runner.run(self._sync(metadata.create_all))

    async def _sync(self, fn: Callable[[Any], Any]) -> Any:
        async with self.async_engine.begin() as conn:
            return await conn.run_sync(fn)

    def run(self, fn: Callable[[Session], Any]) -> Any:
        if self.kind == "sqlite":
            with Session(self.engine) as session:
                return fn(session)

        def in_session(conn: Any) -> Any:
            with Session(bind=conn) as session:
                return fn(session)

        return self.runner.run(self._sync(in_session))

    def raw(self, sql: str) -> list[Any]:
        return self.run(lambda s: list(s.execute(text(sql)).all()))

    def close(self) -> None:
        if self.kind == "sqlite":
            self.engine.dispose()
            return
        try:
            self.runner.run(self._sync(self.metadata.drop_all))
            self.runner.run(self.async_engine.dispose())
        finally:
            self.runner.close()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    if request.param == "postgres":
        require_server("PostgreSQL", 5432)
        ensure_database()
    return request.param


@pytest.fixture
def ring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def setup(backend, ring) -> Iterator[tuple[DB, Any]]:
    base, user = make_models(ring)
    db = DB(backend, base.metadata)
    try:
        yield db, user
    finally:
        db.close()


def test_round_trip_nulls_and_what_is_stored(setup, ring) -> None:
    db, User = setup

    def insert(s: Session) -> None:
        s.add_all(
            [
                User(id=1, email=CANARY, note="", avatar=b"\x89PNG\x00canary"),
                User(id=2, email=None, note="naïve café ☕", avatar=None),
            ]
        )
        s.commit()

    db.run(insert)
    rows = db.run(
        lambda s: [(u.email, u.note, u.avatar) for u in s.scalars(select(User).order_by(User.id))]
    )
    assert rows == [(CANARY, "", b"\x89PNG\x00canary"), (None, "naïve café ☕", None)]
    raw = db.raw(f"SELECT email, email_index, note, avatar FROM {User.__tablename__} ORDER BY id")
    email, index, note, avatar = raw[0]
    assert CANARY not in email and isinstance(email, str)
    assert ring.open_text(email, b"users.email").decode() == CANARY
    assert token_key_id(decode_token(note)) == ring.primary_id  # "" is sealed, not NULL
    assert bytes(index) == ring.blind_index(CANARY.lower().encode(), b"users.email")
    assert b"canary" not in bytes(avatar)
    assert ring.open(bytes(avatar), b"users.avatar") == b"\x89PNG\x00canary"
    assert raw[1][0] is None and raw[1][1] is None and raw[1][3] is None


def test_blind_index_lookups_survive_rotation(setup, ring) -> None:
    db, User = setup
    old_key = ring.primary_id

    def add(*pairs: tuple[int, str]) -> None:
        def fn(s: Session) -> None:
            s.add_all([User(id=i, email=e, note=f"note {i}") for i, e in pairs])
            s.commit()

        db.run(fn)

    def find(value: str | None) -> list[int]:
        return db.run(
            lambda s: [
                u.id
                for u in s.scalars(select(User).where(blind_index_match(User.email_index, value)))
            ]
        )

    add((1, "Alice@Example.com"), (2, "bob@example.com"))
    assert find("alice@example.com") == [1]
    assert find("ALICE@EXAMPLE.COM") == [1]
    assert find("nobody@example.com") == []

    ring.rotate()
    add((3, "carol@example.com"))
    assert find("alice@example.com") == [1]  # indexed under the old key
    assert find("carol@example.com") == [3]  # indexed under the new one

    # Move every row to the new key; then the old key can go.
    def move(s: Session) -> None:
        for u in s.scalars(select(User)):
            reseal(u)
        s.commit()

    db.run(move)
    ring.disable(old_key)
    assert find("alice@example.com") == [1]
    assert find("bob@example.com") == [2]
    assert db.run(lambda s: s.get(User, 1).note) == "note 1"
    rows = db.raw(f"SELECT email, email_index, note FROM {User.__tablename__}")
    for email, index, note in rows:
        assert token_key_id(decode_token(email)) == ring.primary_id
        assert token_key_id(decode_token(note)) == ring.primary_id
        value = ring.open_text(email, b"users.email").lower()
        assert bytes(index) == ring.blind_index(value, b"users.email")

    def clear(s: Session) -> None:
        u = s.get(User, 2)
        u.email = None
        s.commit()

    db.run(clear)
    assert find(None) == [2]
    assert find("bob@example.com") == []


def test_a_token_moved_to_another_column_does_not_open(setup, ring) -> None:
    db, User = setup

    def add(s: Session) -> None:
        s.add(User(id=1, email=CANARY, note="n"))
        s.commit()

    db.run(add)
    table = User.__tablename__
    db.run(lambda s: (s.execute(text(f"UPDATE {table} SET note = email")), s.commit()))
    with pytest.raises(DecryptionError) as info:
        db.run(lambda s: s.get(User, 1).note)
    message = f"{info.value} {info.value.hint}"
    assert "associated data 'users.note'" in message and CANARY not in message


def test_rows_of_a_disabled_or_foreign_key_fail_clearly(setup, ring) -> None:
    db, User = setup
    db.run(lambda s: (s.add(User(id=1, email=CANARY)), s.commit()))
    old = ring.primary_id
    ring.rotate()
    ring.disable(old)
    with pytest.raises(DecryptionError, match="EncryptedString column does not decrypt"):
        db.run(lambda s: s.get(User, 1).email)


def test_native_async_session(backend, ring) -> None:
    url = "sqlite+aiosqlite://" if backend == "sqlite" else POSTGRES_URL
    base, User = make_models(ring)

    async def main() -> list[str | None]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(base.metadata.create_all)
            async with AsyncSession(engine) as session:
                session.add_all([User(id=1, email="a@x.org"), User(id=2, email="b@x.org")])
                await session.commit()
                ring.rotate()
                session.add(User(id=3, email="c@x.org"))
                await session.commit()
                found = await session.scalars(
                    select(User).where(blind_index_match(User.email_index, "A@x.org"))
                )
                return [u.email for u in found] + [
                    u.email
                    for u in await session.scalars(
                        select(User).where(blind_index_match(User.email_index, "c@x.org"))
                    )
                ]
        finally:
            async with engine.begin() as conn:
                await conn.run_sync(base.metadata.drop_all)
            await engine.dispose()

    assert asyncio.run(main()) == ["a@x.org", "c@x.org"]


def test_comparisons_on_encrypted_columns_are_refused(ring) -> None:
    _, User = make_models(ring)
    for build in (
        lambda: User.email == "x",
        lambda: User.email != "x",
        lambda: User.email.in_(["x"]),
        lambda: User.avatar == b"x",
        lambda: User.note.like("x%"),
        # Each finds nothing, or everything, without a word: refused like the others.
        lambda: User.email.icontains("x"),
        lambda: User.email.istartswith("x"),
        lambda: User.email.iendswith("x"),
        lambda: User.email.not_like("x%"),
        lambda: User.email.not_ilike("x%"),
        lambda: User.email.is_distinct_from("x"),
        lambda: User.email.is_not_distinct_from("x"),
        lambda: User.email.regexp_match("x"),
        lambda: User.email.between("a", "b"),
        lambda: User.email + "x",
    ):
        with pytest.raises(TypeError, match="BlindIndex"):
            build()
    # NULL tests are fine (ordering is refused: test_sqlalchemy_sql_refusals).
    assert "IS NULL" in str(select(User).where(User.email == None))  # noqa: E711
    assert "IS NOT NULL" in str(select(User).where(User.email.is_not(None)))
    assert "IS NOT DISTINCT FROM" in str(select(User).where(User.email.is_not_distinct_from(None)))


def test_an_orm_update_of_an_encrypted_column_seals_the_new_value(setup) -> None:
    # The ORM finds the column it updates by comparing columns: that compares no value.
    db, User = setup
    db.run(lambda s: (s.add(User(id=1, email=CANARY)), s.commit()))

    def change(s: Session) -> str:
        s.execute(update(User).where(User.id == 1).values(email="new@example.com"))
        s.commit()
        return s.get(User, 1).email

    assert db.run(change) == "new@example.com"
    assert "new@example.com" not in repr(db.raw(f"SELECT email FROM {User.__tablename__}"))


def test_statements_with_encrypted_columns_are_cached_without_a_warning(ring) -> None:
    _, User = make_models(ring)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for statement in (
            select(User).where(User.email.is_(None)),
            select(User.note, User.avatar),
        ):
            assert statement._generate_cache_key() is not None


def test_text_that_is_not_unicode_is_refused_without_the_rows_values(ring) -> None:
    # A lone surrogate (json.loads takes "\ud800") cannot be encoded: raised as it was,
    # SQLAlchemy's error listed every parameter of the statement, in clear.
    base, User = make_models(ring)
    engine = create_engine("sqlite://")
    base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(User(id=1, email=CANARY, note="x\udc9a"))
        with pytest.raises(ConfigError, match="lone surrogate") as info:
            s.commit()
        assert info.value.code == "bad_value"
        seen, error = [], info.value
        while error is not None and error not in seen:  # the whole chain says nothing
            seen.append(error)
            assert CANARY not in f"{error!s} {error!r}"
            assert "udc9a" not in f"{error!s} {error!r}".lower()
            error = error.__cause__ or error.__context__
    engine.dispose()


def test_a_blind_indexed_value_that_is_not_unicode_is_refused_quoting_nothing(ring) -> None:
    # keep_blind_index hashes the value when it is assigned, before EncryptedString sees it.
    _, User = make_models(ring)
    lone = "s3cr3t\udcff"
    for attempt in (
        lambda: User(id=1, email=lone),
        lambda: blind_index_match(User.email_index, lone),
        lambda: User.email_index.type.digest(lone),
    ):
        with pytest.raises(ConfigError, match="lone surrogate") as info:
            attempt()
        assert info.value.code == "bad_value"
        said = f"{info.value!s} {info.value!r} {info.value.hint}"
        assert "s3cr3t" not in said and "udcff" not in said.lower()


def test_wrong_types_and_missing_keyring_name_no_value(ring, caplog) -> None:
    base, User = make_models("tests-unregistered")
    engine = create_engine("sqlite://")
    base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(User(id=1, note=CANARY))
        with pytest.raises(
            ConfigError, match="no keyring is registered under 'tests-unregistered'"
        ) as info:
            s.commit()
        assert CANARY not in f"{info.value!s} {info.value!r} {info.value.hint}"
        assert "register_keyring(keyring, 'tests-unregistered')" in (info.value.hint or "")
    register_keyring(ring, "tests-unregistered")
    try:
        with Session(engine) as s:
            s.add(User(id=1, note=CANARY))
            s.commit()
            s.add(User(id=2, note=b"bytes"))
            with pytest.raises(TypeError, match="takes str, not bytes") as info:
                s.commit()
            assert CANARY not in str(info.value)
            s.rollback()
            s.add(User(id=3, avatar="text"))
            with pytest.raises(TypeError, match="takes bytes, not str"):
                s.commit()
            s.rollback()
            s.add(User(id=4, email_index=b"not a digest"))
            with pytest.raises(TypeError, match="32-byte digests"):
                s.commit()
            s.rollback()
            assert s.get(User, 1).note == CANARY
    finally:
        unregister_keyring("tests-unregistered")
    engine.dispose()


def test_keyring_references(ring) -> None:
    register_keyring(ring)
    try:
        assert get_keyring("default") is ring
        assert get_keyring(lambda: ring) is ring
        assert get_keyring(ring) is ring
    finally:
        unregister_keyring()
    with pytest.raises(ConfigError, match="no keyring is registered under 'default'") as info:
        get_keyring("default")
    assert "register_keyring(keyring) at start-up" in (info.value.hint or "")
    with pytest.raises(TypeError, match="BlindIndex column"):
        blind_index_match(make_models(ring)[1].email, "x")


def test_sql_logs_hold_no_plaintext(ring, caplog) -> None:
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    base, User = make_models(ring)
    engine = create_engine("sqlite://", echo=True)
    base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(User(id=1, email=CANARY, note=CANARY, avatar=CANARY.encode()))
        s.commit()
        s.scalars(select(User).where(blind_index_match(User.email_index, CANARY))).all()
    engine.dispose()
    assert "INSERT INTO" in caplog.text
    assert CANARY not in caplog.text and CANARY.lower() not in caplog.text
    assert repr(User.__table__.c.email.type).startswith("EncryptedString(")
    assert "material" not in repr(User.__table__.c.email.type)
