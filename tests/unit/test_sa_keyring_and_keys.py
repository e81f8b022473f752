"""A keyring callable that fails, and reseal_rows() on a composite primary key of
converting types.

On SQLite and on the PostgreSQL at 127.0.0.1:5432, through the fixtures of
``test_sqlalchemy_types`` and ``test_sqlalchemy_reencrypt`` (a table of their own per
test, dropped after).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Integer, String, TypeDecorator, Uuid, select, text, update
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sealbox.exceptions import ConfigError
from sealbox.integrations.sqlalchemy import (
    BlindIndex,
    EncryptedString,
    blind_index_match,
    keep_blind_index,
)
from sealbox.keysets.fields import decode_token, token_key_id
from sealbox.keysets.keyring import Keyring
from tests.unit.test_sqlalchemy_reencrypt import Store
from tests.unit.test_sqlalchemy_types import DB, backend, ring

__all__ = ["backend", "ring"]  # the fixtures, used by name

SECRET = "canary-plaintext-5d1c@example.org"


def test_a_keyring_callable_that_fails_raises_an_error_without_the_rows_values(
    backend, ring
) -> None:
    # SQLAlchemy wrapped the loader's error (a keyring file missing, a wrong passphrase)
    # in a StatementError whose text listed the statement's parameters: the values in clear.
    state = {"fail": False}

    def keyring() -> Keyring:
        if state["fail"]:
            raise OSError("app.keyring: no such file")
        return ring

    class Base(DeclarativeBase):
        pass

    class Member(Base):
        __tablename__ = f"sbx_enc_member_{uuid.uuid4().hex[:10]}"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        email: Mapped[str | None] = mapped_column(
            EncryptedString(keyring, associated_data="m.email")
        )

    db = DB(backend, Base.metadata)
    try:
        db.run(lambda s: (s.add(Member(id=1, email="kept@x.org")), s.commit()))
        state["fail"] = True
        writes = [
            lambda s: (s.add(Member(id=2, email=SECRET)), s.commit()),
            lambda s: s.execute(update(Member).values(email=SECRET)),
        ]
        for write in writes:
            with pytest.raises(ConfigError) as info:
                db.run(write)
            assert not isinstance(info.value, StatementError)
            assert info.value.code == "keyring_unavailable"
            assert info.value.facts == {"error": "OSError"}
            assert SECRET not in str(info.value)
        with pytest.raises(ConfigError, match="keyring callable"):
            db.run(lambda s: s.get(Member, 1).email)
        state["fail"] = False
        assert db.run(lambda s: s.scalars(select(Member.email)).all()) == ["kept@x.org"]
    finally:
        db.close()


class Tenant(TypeDecorator[str]):
    """A key column whose stored form is not its Python value."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return None if value is None else f"tenant:{value}"

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else value.removeprefix("tenant:")


class Capped:
    """The columns' keyring; fails once asked too often, so that a job reading the same
    batch again for ever stops with an error instead of hanging the test run."""

    def __init__(self, ring: Keyring) -> None:
        self.ring, self.calls = ring, 0

    def __call__(self) -> Keyring:
        self.calls += 1
        if self.calls > 400:
            raise RuntimeError("the same rows were read again and again")
        return self.ring


def test_reseal_rows_walks_a_composite_primary_key_of_converting_types(
    backend, ring, tmp_path
) -> None:
    # The key after each batch was bound typed by its Python values, not by its columns:
    # a TypeDecorator's stored form or a UUID kept as text compared wrongly, and the job
    # read the first batch again for ever (SQLite) or failed on uuid > varchar (PostgreSQL).
    capped = Capped(ring)

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = f"sbx_enc_item_{uuid.uuid4().hex[:10]}"
        tenant: Mapped[str] = mapped_column(Tenant, primary_key=True)
        ref: Mapped[str] = mapped_column(Uuid(as_uuid=False), primary_key=True)
        label: Mapped[str | None] = mapped_column(
            EncryptedString(capped, associated_data="i.label")
        )
        label_index: Mapped[bytes | None] = mapped_column(BlindIndex(capped, context="i.label"))

    keep_blind_index(Item.label, Item.label_index)
    refs = sorted(str(uuid.UUID(int=n * 7919)) for n in range(1, 4))
    items = {(t, r): f"{t} {r[-4:]}" for t in ("a", "b") for r in refs}
    store = Store(backend, tmp_path, Base.metadata)
    try:
        store.write(
            lambda s: s.add_all([Item(tenant=t, ref=r, label=v) for (t, r), v in items.items()])
        )
        old = ring.primary_id
        ring.rotate()
        assert store.reseal_rows(Item, batch_size=2) == len(items)
        assert store.reseal_rows(Item, batch_size=2) == 0
        ring.disable(old)

        def read(s: Session) -> tuple[dict[tuple[str, str], str | None], set[int]]:
            values = {(i.tenant, i.ref): i.label for i in s.scalars(select(Item))}
            raw = s.execute(text(f"SELECT label FROM {Item.__tablename__}")).scalars()
            return values, {token_key_id(decode_token(t)) for t in raw}

        assert store.write(read) == (items, {ring.primary_id})
        lookup = select(Item.ref).where(blind_index_match(Item.label_index, f"b {refs[0][-4:]}"))
        assert store.write(lambda s: s.scalars(lookup).all()) == [refs[0]]
    finally:
        store.close()
