"""Edges of the SQLAlchemy column types and the pydantic-settings source, as a user finds them.

The SQLAlchemy tests run on SQLite and on the PostgreSQL at 127.0.0.1:5432 (through the
fixtures of ``test_sqlalchemy_types``: a table of their own per test, dropped after).
"""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import Integer, bindparam, func, literal, null, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sealbox.integrations.sqlalchemy import (
    EncryptedBytes,
    EncryptedString,
    blind_index_match,
    reseal,
)
from sealbox.keysets.fields import decode_token, token_key_id
from tests.unit.test_sqlalchemy_types import (
    DB,
    backend,
    make_models,
    ring,
)

__all__ = ["backend", "ring"]  # the fixtures, used by name


# -- reseal() after a rotation --------------------------------------------------------------


def test_reseal_moves_deferred_and_unloaded_columns_too(backend, ring) -> None:
    # A large encrypted column is often deferred: reseal() raised InvalidRequestError
    # ("not present in the object state") for it, and for columns left out by load_only().

    class Base(DeclarativeBase):
        pass

    class Scan(Base):
        __tablename__ = f"sbx_enc_scans_{uuid.uuid4().hex[:10]}"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        name: Mapped[str | None] = mapped_column(EncryptedString(ring, associated_data="s.name"))
        image: Mapped[bytes | None] = mapped_column(
            EncryptedBytes(ring, associated_data="s.image"), deferred=True
        )

    db = DB(backend, Base.metadata)
    try:
        db.run(lambda s: (s.add(Scan(id=1, name="n", image=b"\x89PNG")), s.commit()))
        old = ring.primary_id
        ring.rotate()

        def move(s: Session) -> None:
            for scan in s.scalars(select(Scan)):
                reseal(scan)
            s.commit()

        db.run(move)
        ring.disable(old)
        assert db.run(lambda s: (s.get(Scan, 1).name, s.get(Scan, 1).image)) == ("n", b"\x89PNG")
        ((name, image),) = db.raw(f"SELECT name, image FROM {Scan.__tablename__}")
        assert token_key_id(decode_token(name)) == ring.primary_id
        assert token_key_id(bytes(image)) == ring.primary_id
    finally:
        db.close()


# -- blind-index values ----------------------------------------------------------------------


def test_blind_index_values_must_be_text_or_bytes(ring) -> None:
    # bytes(n) is n zero bytes: an int (a phone number from a JSON body) was hashed as a
    # run of zeros, allocating its value in bytes first — a large one never returned.
    _, User = make_models(ring)
    started = time.monotonic()
    for value in (10**12, 5, 1.5, ["a"]):
        with pytest.raises(TypeError, match="str or bytes"):
            blind_index_match(User.email_index, value)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="str or bytes"):
            User.email_index.type.digest(value)  # type: ignore[arg-type]
    assert time.monotonic() - started < 5
    assert User.email_index.type.digest(bytearray(b"a")) == User.email_index.type.digest("a")


# -- comparisons ---------------------------------------------------------------------------


def test_values_inside_sql_expressions_are_refused_too(ring) -> None:
    # User.email == func.lower("x") compares ciphertexts with a plain value: it never
    # matches, like == "x", which is refused.
    _, User = make_models(ring)
    email = User.__table__.c.email
    for build in (
        lambda: User.email == func.lower("x@x.org"),
        lambda: User.email == func.trim(bindparam("p")),
        lambda: email.in_(select(literal("x@x.org"))),
        lambda: "x" + User.email,
        lambda: "x" + email,
    ):
        with pytest.raises(TypeError, match="BlindIndex"):
            build()
    # No value: still fine.
    assert "IS NULL" in str(select(User).where(User.email == null()))
    assert "email = " in str(select(User).where(email == User.__table__.c.note))
    assert "email = x" in str(select(User).where(email == text("x")))
