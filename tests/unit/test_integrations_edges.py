"""Edges of the SQLAlchemy column types and the pydantic-settings source, as a user finds them.

The SQLAlchemy tests run on SQLite and on the PostgreSQL at 127.0.0.1:5432 (through the
fixtures of ``test_sqlalchemy_types``: a table of their own per test, dropped after).
"""

from __future__ import annotations

import enum
import logging
import tracemalloc
import uuid
from decimal import Decimal
from typing import Any, Literal

import pytest
from pydantic import AliasChoices, AliasPath, Field, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict, SettingsError
from sqlalchemy import Integer, bindparam, func, insert, literal, null, select, text, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sealbox.integrations.pydantic_settings import SealboxSettings
from sealbox.integrations.sqlalchemy import (
    EncryptedBytes,
    EncryptedString,
    blind_index_match,
    reseal,
)
from sealbox.keysets.fields import decode_token, token_key_id
from sealbox.secret import Secret, default_redactor
from sealbox.secrets import EnvSource, SecretsChain
from tests.unit.test_sqlalchemy_types import (
    DB,
    backend,
    make_models,
    ring,
    setup,
)

__all__ = ["backend", "ring", "setup"]  # the fixtures, used by name

CANARY = "canary-edge-value-41d7@example.com"


def found(db: DB, user: Any, value: str | None) -> list[int]:
    return db.run(
        lambda s: sorted(
            s.scalars(select(user.id).where(blind_index_match(user.email_index, value)))
        )
    )


# -- the blind index follows statements, not only attribute sets ---------------------------


def test_inserts_by_statement_and_in_bulk_keep_the_blind_index(setup, caplog) -> None:
    # keep_blind_index() listened to attribute sets only: rows inserted in bulk, by
    # insert().values() or by bulk_insert_mappings() had a NULL index, and no lookup ever
    # found them.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    db, User = setup
    table = User.__table__

    def insert_them(s: Session) -> None:
        s.execute(insert(User), [{"id": 1, "email": "one@x.org"}, {"id": 2, "email": None}])
        s.execute(insert(User).values(id=3, email="Three@x.org"))
        s.execute(insert(User), {"id": 4, "email": "four@x.org"})
        s.bulk_insert_mappings(User, [{"id": 5, "email": "five@x.org"}])
        s.connection().execute(table.insert(), [{"id": 6, "email": CANARY}])
        s.commit()

    db.run(insert_them)
    assert found(db, User, "one@x.org") == [1]
    assert found(db, User, None) == [2]
    assert found(db, User, "three@x.org") == [3]
    assert found(db, User, "four@x.org") == [4]
    assert found(db, User, "five@x.org") == [5]
    assert found(db, User, CANARY) == [6]
    assert CANARY not in caplog.text  # the statements carry digests, never the values


def test_updates_by_statement_move_the_blind_index(setup) -> None:
    # update(User).values(email=…) sealed the new address but left the old digest: the
    # row was found by its previous address, and not by its new one.
    db, User = setup
    db.run(
        lambda s: (s.add_all([User(id=i, email=f"old{i}@x.org") for i in (1, 2, 3, 4)]), s.commit())
    )

    def change(s: Session) -> None:
        s.execute(update(User).where(User.id == 1).values(email="new1@x.org"))
        s.execute(update(User).where(User.id == 2).values(email=None))
        s.execute(update(User), [{"id": 3, "email": "new3@x.org"}])
        s.bulk_update_mappings(User, [{"id": 4, "email": "new4@x.org"}])
        s.commit()

    db.run(change)
    for i in (1, 3, 4):
        assert found(db, User, f"old{i}@x.org") == []
        assert found(db, User, f"new{i}@x.org") == [i]
    assert found(db, User, None) == [2]
    assert db.run(lambda s: s.get(User, 1).email) == "new1@x.org"


def test_an_index_set_by_the_statement_itself_is_kept(setup) -> None:
    db, User = setup
    digest = User.email_index.type.digest("chosen@x.org")
    db.run(
        lambda s: (
            s.execute(insert(User).values(id=1, email="a@x.org", email_index=digest)),
            s.commit(),
        )
    )
    assert found(db, User, "chosen@x.org") == [1]
    assert found(db, User, "a@x.org") == []


def test_statements_whose_new_value_is_not_known_are_refused(setup) -> None:
    # The value is computed by the database (another column, a function) or bound later:
    # no digest can be made for it, so the index would go stale without a word.
    db, User = setup
    db.run(lambda s: (s.add(User(id=1, email="a@x.org", note="n")), s.commit()))
    for statement, params in (
        # The column itself: SQL all the same (User.note would not even open there).
        (update(User).values(email=User.email), None),
        (update(User.__table__).values(email=bindparam("e")), {"e": "b@x.org"}),
        (User.__table__.insert().values([{"id": 2, "email": "c@x.org"}]), None),
    ):
        with pytest.raises(TypeError, match="email_index") as info:
            db.run(lambda s, statement=statement, params=params: s.execute(statement, params))
        assert "b@x.org" not in str(info.value) and "c@x.org" not in str(info.value)
    assert found(db, User, "a@x.org") == [1]


def test_statements_that_would_store_a_value_in_clear_are_refused(setup) -> None:
    # SQL of another type than the column's is not sealed: a typed bindparam or literal,
    # a function, another column. It was stored as it was, and the row did not open.
    db, User = setup
    table = User.__table__
    db.run(lambda s: (s.add(User(id=1, email="a@x.org", note="n")), s.commit()))
    for statement in (
        insert(User).values(id=2, note=bindparam("n", CANARY)),
        insert(User).values(id=2, avatar=literal(CANARY.encode())),
        update(User).values(note=func.lower(CANARY)),
        update(User).values(avatar=func.coalesce(User.avatar, CANARY.encode())),
        update(table).values(note=text("'x'")),
        table.insert().values([{"id": 2, "note": literal(CANARY)}]),
        table.insert().from_select(["id", "note"], select(literal(2), literal(CANARY))),
    ):
        with pytest.raises(TypeError, match="stored in clear") as info:
            db.run(lambda s, statement=statement: s.execute(statement))
        assert CANARY not in str(info.value)
    assert CANARY not in repr(db.raw(f"SELECT * FROM {table.name}"))
    # Python values, untyped parameters and SQL of the column's own type are sealed.
    db.run(
        lambda s: (
            s.execute(update(User).values(note=bindparam("n")), {"n": "from a parameter"}),
            s.execute(update(User).values(email=User.email, email_index=User.email_index)),
            s.commit(),
        )
    )
    assert db.run(lambda s: (s.get(User, 1).note, s.get(User, 1).email)) == (
        "from a parameter",
        "a@x.org",
    )


def _upsert(db: DB, user: Any) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql if db.kind == "postgres" else sqlite).insert(user)


def test_upserts_refuse_values_in_clear_and_keep_the_blind_index(setup) -> None:
    # on_conflict_do_update(set_=...) was not looked into: a literal or a function there
    # was stored in clear, and a new email left the row's index at the old value, so the
    # row was found under its old address and not under its new one.
    db, User = setup
    table = User.__table__
    db.run(lambda s: (s.add(User(id=1, email="a@x.org", note="n")), s.commit()))
    row = _upsert(db, User).values(id=1, email="ignored@x.org")
    for set_ in (
        {"email": literal(CANARY)},
        {"note": func.lower(CANARY)},
        {"email": table.c.id},  # a column that is not encrypted
    ):
        with pytest.raises(TypeError, match="stored in clear") as info:
            db.run(
                lambda s, set_=set_: s.execute(
                    row.on_conflict_do_update(index_elements=[User.id], set_=set_)
                )
            )
        assert CANARY not in str(info.value)
    assert CANARY.lower() not in repr(db.raw(f"SELECT * FROM {table.name}")).lower()

    def upsert(s: Session, statement: Any, set_: Any) -> None:
        s.execute(statement.on_conflict_do_update(index_elements=[User.id], set_=set_))
        s.commit()

    # A Python value: sealed, and its digest set.
    db.run(lambda s: upsert(s, row, {"email": "B@x.org"}))
    assert found(db, User, "b@x.org") == [1] and found(db, User, "a@x.org") == []
    # The excluded row's value: the excluded row's index goes with it.
    new = _upsert(db, User).values(id=1, email="C@x.org")
    db.run(lambda s: upsert(s, new, {"email": new.excluded.email}))
    assert found(db, User, "c@x.org") == [1] and found(db, User, "b@x.org") == []
    db.run(lambda s: upsert(s, row, {"email": None}))
    assert found(db, User, None) == [1]
    # SQL that computes it: no digest can be made, so the index must be set too.
    with pytest.raises(TypeError, match="email_index"):
        db.run(lambda s: upsert(s, row, {"email": User.email}))
    assert db.run(lambda s: s.get(User, 1).email) is None


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
    # The refusal comes before any allocation: measured in bytes allocated, not seconds,
    # with an int whose bytes(n) would take 100 MB (10**12 would hang or exhaust memory).
    _, User = make_models(ring)
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        for value in (10**8, 5, 1.5, ["a"]):
            with pytest.raises(TypeError, match="str or bytes"):
                blind_index_match(User.email_index, value)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="str or bytes"):
                User.email_index.type.digest(value)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not tracing:
            tracemalloc.stop()
    assert peak - base < 10**7, f"{peak - base} bytes allocated to refuse the values"
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


# -- pydantic-settings ---------------------------------------------------------------------


CHAIN = SecretsChain(
    EnvSource(
        environ={
            "DATABASE_URL": f"postgresql://u:{CANARY}@db/app",
            "SECOND_CHOICE": CANARY,
            "NESTED": '{"token": "nested-canary-token"}',
            "TAGS": '["a", "b"]',
            "LIMITS": '{"a": 1}',
            "BAD_TAGS": f"[{CANARY}",
            "PORT": "48123",
            "RATIO": "0.3125",
            "PRICE": "17.2500",
            "FLAG": "true",
            "LEVEL": "WARNING",
            "COLOUR": "magenta",
            "TOKEN": "token-canary-6d2e",
            "PLAIN": "plain-canary-0b9a",
        }
    )
)


def test_aliased_fields_read_their_alias() -> None:
    # The values came back under the field's name: pydantic refused it as an extra input,
    # and the alias was "Field required".
    class Settings(SealboxSettings):
        sealbox_chain = CHAIN
        db: SecretStr = Field(alias="DATABASE_URL")
        again: SecretStr = Field(validation_alias="DATABASE_URL")
        choice: str = Field(validation_alias=AliasChoices("FIRST_CHOICE", "SECOND_CHOICE"))
        path: str = Field(validation_alias=AliasPath("NESTED", "token"))

    s = Settings()
    assert s.db.get_secret_value().endswith("@db/app")
    assert s.again == s.db
    assert s.choice == CANARY
    assert s.path == "nested-canary-token"

    class ByName(SealboxSettings):
        model_config = SettingsConfigDict(populate_by_name=True)
        sealbox_chain = CHAIN
        port: int = Field(0, alias="NO_SUCH_NAME")

    assert ByName().port == 48123  # the field's name, since the model accepts it


def test_complex_fields_are_decoded_from_json() -> None:
    class Settings(SealboxSettings):
        model_config = SettingsConfigDict(case_sensitive=True)
        sealbox_chain = CHAIN
        TAGS: list[str]
        LIMITS: dict[str, int]

    s = Settings()
    assert s.TAGS == ["a", "b"] and s.LIMITS == {"a": 1}

    class Broken(SealboxSettings):
        sealbox_chain = CHAIN
        bad_tags: list[str]

    with pytest.raises(SettingsError, match="bad_tags") as info:
        Broken()
    error: BaseException | None = info.value
    while error is not None:  # nor anything it was raised from
        assert CANARY not in f"{error} {error!r}"
        error = error.__cause__ or error.__context__


class Colour(enum.Enum):
    MAGENTA = "magenta"


def test_configuration_values_are_not_registered_for_redaction() -> None:
    # Every value went through SecretsChain.get() and was registered: a port of 48123 or
    # a flag "true" became ********** in every log line of the process.
    class Settings(SealboxSettings):
        sealbox_chain = CHAIN
        port: int
        ratio: float
        price: Decimal
        flag: bool | None = None
        level: Literal["INFO", "WARNING"] = "INFO"
        colour: Colour = Colour.MAGENTA
        token: SecretStr
        plain: str

    s = Settings()
    assert s.port == 48123 and s.flag is True and s.level == "WARNING"
    line = "port 48123 ratio 0.3125 price 17.2500 flag true level WARNING colour magenta"
    assert default_redactor.redact(line) == line
    # Text, secret or not, is still registered, as SecretsChain.get registers it.
    assert "canary" not in default_redactor.redact("token-canary-6d2e plain-canary-0b9a")


def test_validation_errors_name_the_field_not_the_value() -> None:
    class Settings(SealboxSettings):
        sealbox_chain = CHAIN
        port: Literal[1, 2] = Field(alias="TOKEN")

    with pytest.raises(ValidationError) as info:
        Settings()
    assert "TOKEN" in str(info.value)
    assert "token-canary" not in f"{info.value} {info.value.errors()!r} {info.value.json()}"


def test_a_validator_quoting_the_secret_it_refused_shows_it_masked() -> None:
    # The inputs were masked, but a validator's message ("bad token <value>") went to
    # str(exc), errors() and json() as it was.
    from pydantic import field_validator

    class Settings(SealboxSettings):
        sealbox_chain = CHAIN
        token: SecretStr = Field(alias="TOKEN")

        @field_validator("token")
        @classmethod
        def refuse(cls, value: SecretStr) -> SecretStr:
            raise ValueError(f"bad token {value.get_secret_value()}")

    with pytest.raises(ValidationError) as info:
        Settings()
    text = f"{info.value} {info.value.errors()!r} {info.value.json()}"
    assert "token-canary" not in text and "bad token **********" in text


def test_secret_fields_read_from_pydantic_settings_own_sources(monkeypatch, tmp_path) -> None:
    # Secret[str] was taken for a JSON field (a parameterised class with a pydantic
    # schema): without a chain, SealboxSettings (and any BaseSettings) refused its value
    # from the environment or a .env file with "error parsing value for field".
    monkeypatch.setenv("SBX_EDGE_API_TOKEN", "token-canary-6d2e")
    (tmp_path / ".env").write_text("SBX_EDGE_OTHER=other-canary-2f0c\n")

    class Settings(SealboxSettings):
        model_config = SettingsConfigDict(env_prefix="SBX_EDGE_", env_file=tmp_path / ".env")
        api_token: Secret[str]
        other: Secret[str] | None = None

    s = Settings()
    assert s.api_token.expose_secret() == "token-canary-6d2e"
    assert s.other is not None and s.other.expose_secret() == "other-canary-2f0c"
    assert "canary" not in f"{s!r} {s.model_dump()} {s.model_dump_json()}"


def test_statements_on_tables_without_sealed_columns_pass_through_untouched() -> None:
    # The statement listener sees every engine of the process: a table of the app's own,
    # with no encrypted column and no linked index, keeps its statements as they were,
    # SQL values included, and their parameter lists are not copied.
    from sqlalchemy import Column, MetaData, String, Table, create_engine, event

    plain = Table(
        "plain_rows", MetaData(), Column("id", Integer, primary_key=True), Column("name", String)
    )
    engine = create_engine("sqlite://")
    plain.metadata.create_all(engine)
    seen: list[Any] = []
    event.listen(engine, "before_execute", lambda *a: seen.append(a[2]), retval=False)
    rows = [{"name": "a"}, {"name": "b"}]
    with engine.begin() as conn:
        conn.execute(insert(plain).values(name=literal("x") + "y"))
        conn.execute(insert(plain), rows)
        names = sorted(conn.scalars(select(plain.c.name)))
    assert names == ["a", "b", "xy"]
    assert seen[1] is rows
