"""Copies between encrypted columns, and moving a live table to a new key.

On SQLite and on the PostgreSQL at 127.0.0.1:5432, through the fixtures of
``test_sqlalchemy_types`` (a table of their own per test, dropped after).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import greenlet
import pytest
from sqlalchemy import Integer, create_engine, insert, select, text, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.util import await_only

from sealbox.exceptions import DecryptionError
from sealbox.integrations.sqlalchemy import (
    BlindIndex,
    EncryptedBytes,
    EncryptedString,
    blind_index_match,
    keep_blind_index,
)
from sealbox.integrations.sqlalchemy_reseal import reseal_rows
from sealbox.keysets.fields import decode_token, token_key_id
from sealbox.keysets.keyring import Keyring
from tests.service.conftest import POSTGRES_URL
from tests.unit.test_sqlalchemy_types import DB, backend, ring, setup

__all__ = ["backend", "ring", "setup"]  # the fixtures, used by name


def _upsert(db: DB, user: Any) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql if db.kind == "postgres" else sqlite).insert(user)


def test_a_copy_from_an_encrypted_column_whose_tokens_would_not_open_is_refused(setup) -> None:
    # update(User).values(note=User.email) copied the email's tokens, bound to the
    # associated data "users.email", into the note column, where they never opened: the
    # statement succeeded and every row's note was lost.
    db, User = setup
    db.run(lambda s: (s.add(User(id=1, email="a@x.org", note="kept", avatar=b"a")), s.commit()))
    upsert = _upsert(db, User).values(id=1, note="ignored")
    for statement in (
        update(User).values(note=User.email),  # other associated data
        update(User).values(note=User.avatar),  # a binary token into a text column
        upsert.on_conflict_do_update(
            index_elements=[User.id], set_={"note": upsert.excluded.email}
        ),
        insert(User).from_select(["id", "note"], select(User.id + 10, User.email)),
    ):
        with pytest.raises(TypeError, match="associated data") as info:
            db.run(lambda s, statement=statement: (s.execute(statement), s.commit()))
        assert "a@x.org" not in str(info.value)
    assert db.run(lambda s: (s.get(User, 1).note, s.scalars(select(User.id)).all())) == (
        "kept",
        [1],
    )
    # A column's own tokens, and the excluded row's value of the same column, still copy.
    db.run(lambda s: (s.execute(update(User).values(note=User.note)), s.commit()))
    new = _upsert(db, User).values(id=1, note="from the upsert")
    db.run(
        lambda s: (
            s.execute(
                new.on_conflict_do_update(
                    index_elements=[User.id], set_={"note": new.excluded.note}
                )
            ),
            s.commit(),
        )
    )
    assert db.run(lambda s: s.get(User, 1).note) == "from the upsert"
    assert db.run(
        lambda s: s.scalars(
            select(User.id).where(blind_index_match(User.email_index, "a@x.org"))
        ).all()
    ) == [1]


# -- reseal_rows(): a live table moved to the new key ----------------------------------------


class Ring:
    """A column's keyring, as a callable that runs ``action`` once when next asked: the
    moment a re-encryption job has read its rows and not yet written them."""

    def __init__(self, ring: Keyring) -> None:
        self.ring = ring
        self.action: Callable[[], None] | None = None
        self.calls = 0
        self.stop_at: int | None = None

    def __call__(self) -> Keyring:
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        action, self.action = self.action, None
        if action is not None:
            action()
        return self.ring


def _models(hook: Ring) -> tuple[Any, Any]:
    class Base(DeclarativeBase):
        pass

    class Person(Base):
        __tablename__ = f"sbx_enc_move_{uuid.uuid4().hex[:10]}"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        email: Mapped[str | None] = mapped_column(EncryptedString(hook, associated_data="p.email"))
        email_index: Mapped[bytes | None] = mapped_column(
            BlindIndex(hook, context="p.email", normalize=str.lower)
        )
        scan: Mapped[bytes | None] = mapped_column(EncryptedBytes(hook, associated_data="p.scan"))

    keep_blind_index(Person.email, Person.email_index)
    return Base, Person


class Store:
    """A sync engine on a SQLite file, or the asyncio engine of the PostgreSQL: one
    connection for the job, others for the writers."""

    def __init__(self, kind: str, tmp_path: Path, metadata: Any) -> None:
        self.kind, self.metadata = kind, metadata
        if kind == "sqlite":
            self.engine = create_engine(f"sqlite:///{tmp_path / 'move.db'}")
            metadata.create_all(self.engine)
            return
        self.runner = asyncio.Runner()
        self.async_engine = create_async_engine(POSTGRES_URL)
        self.runner.run(self._begin(metadata.create_all))

    async def _begin(self, fn: Callable[[Any], Any]) -> Any:
        async with self.async_engine.begin() as conn:
            return await conn.run_sync(fn)

    def write(self, fn: Callable[[Session], Any]) -> Any:
        """``fn(session)`` on a connection of its own, committed; also from inside a job."""

        def in_session(conn: Any) -> Any:
            with Session(bind=conn) as session:
                result = fn(session)
                session.flush()
                return result

        if self.kind == "sqlite":
            with self.engine.begin() as conn:
                return in_session(conn)
        if greenlet.getcurrent().parent is not None:  # inside the job's run_sync
            return await_only(self._begin(in_session))
        return self.runner.run(self._begin(in_session))

    def reseal_rows(self, model: Any, batch_size: int) -> int:
        if self.kind == "sqlite":
            return reseal_rows(self.engine, model, batch_size=batch_size)

        async def job() -> int:
            async with self.async_engine.connect() as conn:
                return await conn.run_sync(reseal_rows, model, batch_size=batch_size)

        return self.runner.run(job())

    def close(self) -> None:
        if self.kind == "sqlite":
            self.engine.dispose()
            return
        try:
            self.runner.run(self._begin(self.metadata.drop_all))
            self.runner.run(self.async_engine.dispose())
        finally:
            self.runner.close()


@pytest.fixture
def people(backend, ring, tmp_path) -> Iterator[tuple[Store, Any, Ring]]:
    hook = Ring(ring)
    base, person = _models(hook)
    store = Store(backend, tmp_path, base.metadata)
    try:
        store.write(
            lambda s: s.add_all(
                [person(id=i, email=f"P{i}@x.org", scan=f"scan {i}".encode()) for i in range(1, 6)]
            )
        )
        yield store, person, hook
    finally:
        store.close()


def _state(store: Store, person: Any) -> dict[int, tuple[Any, ...]]:
    return store.write(
        lambda s: {p.id: (p.email, p.scan) for p in s.scalars(select(person).order_by(person.id))}
    )


def _keys(store: Store, person: Any) -> set[int]:
    table = person.__tablename__
    rows = store.write(lambda s: s.execute(text(f"SELECT email, scan FROM {table}")).all())
    return {token_key_id(decode_token(e)) for e, _ in rows} | {
        token_key_id(bytes(b)) for _, b in rows
    }


def test_reseal_rows_keeps_a_value_written_while_it_runs(people, ring) -> None:
    # reseal(obj) then flush writes back what was read: an address changed by another
    # writer between the job's read and its commit was overwritten with the old one.
    store, Person, hook = people
    before = _state(store, Person)
    old = ring.primary_id
    ring.rotate()

    def writer() -> None:
        def change(s: Session) -> None:
            s.get(Person, 1).email = "New@x.org"
            s.get(Person, 2).scan = b"new scan"

        store.write(change)

    hook.action = writer
    assert store.reseal_rows(Person, batch_size=2) == 5
    assert hook.action is None  # the writer did run, mid-job
    ring.disable(old)
    after = _state(store, Person)
    assert after[1] == ("New@x.org", b"scan 1")
    assert after[2] == ("P2@x.org", b"new scan")
    assert {k: v for k, v in after.items() if k > 2} == {k: v for k, v in before.items() if k > 2}
    assert _keys(store, Person) == {ring.primary_id}
    lookup = select(Person.id).where(blind_index_match(Person.email_index, "new@x.org"))
    assert store.write(lambda s: s.scalars(lookup).all()) == [1]
    assert store.reseal_rows(Person, batch_size=2) == 0


def test_an_interrupted_reseal_rows_keeps_its_batches_and_a_new_run_finishes(people, ring) -> None:
    store, Person, hook = people
    before = _state(store, Person)
    old = ring.primary_id
    ring.rotate()
    hook.calls, hook.stop_at = 0, 7  # 3 keyring uses a row (2 columns, 1 index): row 3
    with pytest.raises(KeyboardInterrupt):
        store.reseal_rows(Person, batch_size=2)
    hook.stop_at = None
    assert _state(store, Person) == before  # nothing lost, nothing half-moved
    assert store.reseal_rows(Person, batch_size=2) == 3  # rows 1 and 2 were committed
    assert store.reseal_rows(Person, batch_size=2) == 0
    ring.disable(old)
    assert _state(store, Person) == before
    assert _keys(store, Person) == {ring.primary_id}
    for i in range(1, 6):
        lookup = select(Person.id).where(blind_index_match(Person.email_index, f"p{i}@x.org"))
        assert store.write(lambda s, lookup=lookup: s.scalars(lookup).all()) == [i]


def test_reseal_rows_refuses_a_value_that_does_not_open_naming_its_column(people, ring) -> None:
    store, Person, _ = people
    old = ring.primary_id
    ring.rotate()
    ring.disable(old)
    with pytest.raises(DecryptionError, match=r"p\.email") as info:
        store.reseal_rows(Person, batch_size=2)
    assert "P1@x.org" not in str(info.value)
