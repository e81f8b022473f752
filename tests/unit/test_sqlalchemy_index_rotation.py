"""A blind index and the value it indexes stay under one key when the keyring rotates
between the assignment and the write, or while a statement is prepared.

On SQLite and on the PostgreSQL at 127.0.0.1:5432, through the fixtures of
``test_sqlalchemy_reencrypt`` (a table of their own per test, dropped after).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from sealbox.integrations.sqlalchemy import blind_index_match
from sealbox.keysets.fields import decode_token, token_key_id
from sealbox.keysets.keyring import Keyring
from tests.unit.test_sqlalchemy_reencrypt import Ring, Store, people
from tests.unit.test_sqlalchemy_types import backend, ring

__all__ = ["backend", "people", "ring"]  # the fixtures, used by name


def _found(store: Store, person: Any, value: str) -> list[int]:
    lookup = select(person.id).where(blind_index_match(person.email_index, value))
    return store.write(lambda s: list(s.scalars(lookup.order_by(person.id))))


def _mismatched(store: Store, person: Any, ring: Keyring) -> list[int]:
    """Rows whose index is not the digest of their email under the key of its token."""
    table = person.__tablename__
    rows = store.write(lambda s: s.execute(text(f"SELECT id, email, email_index FROM {table}")))
    wrong = []
    for i, email, index in rows:
        if email is None:
            continue
        key = token_key_id(decode_token(email))
        value = ring.open_text(email, b"p.email").lower()
        if index is None or bytes(index) != ring.blind_indexes(value, b"p.email")[key]:
            wrong.append(i)
    return sorted(wrong)


def _at_call(hook: Ring, n: int, action: Callable[[], object]) -> None:
    """Run ``action`` when the columns ask for the keyring the ``n``-th time from now."""

    def step(left: int) -> None:
        if left == 1:
            action()
        else:
            hook.action = lambda: step(left - 1)

    hook.action = lambda: step(n)


def test_a_value_assigned_before_a_rotation_and_written_after_stays_found(people, ring) -> None:
    # The index was computed when the attribute was set and the value sealed at the
    # flush: a rotation in between left the token under the new key and the index under
    # the old one. reseal_rows skipped the row (its token was current), and once the old
    # key was disabled no lookup found it.
    store, Person, _hook = people
    old = ring.primary_id

    def write(s: Session) -> None:
        changed = s.get(Person, 1)
        s.add(Person(id=10, email="New@x.org"))
        changed.email = "Changed@x.org"
        ring.rotate()  # another writer rotated the file, and this process reloaded it

    store.write(write)
    store.reseal_rows(Person, batch_size=2)
    assert store.reseal_rows(Person, batch_size=2) == 0
    ring.disable(old)  # as the rotation procedure says: reseal_rows said 0
    assert _found(store, Person, "new@x.org") == [10]
    assert _found(store, Person, "changed@x.org") == [1]
    assert _found(store, Person, "p2@x.org") == [2]
    assert _mismatched(store, Person, ring) == []


@pytest.mark.parametrize("when", range(1, 7))
def test_statements_index_each_row_under_the_key_that_seals_it(people, ring, when) -> None:
    # A rotation at any point while the statements are prepared (between computing one
    # row's digest and sealing its value) leaves each row indexed under its token's key.
    store, Person, hook = people
    table = Person.__table__
    _at_call(hook, when, ring.rotate)

    def write(s: Session) -> None:
        conn = s.connection()
        conn.execute(
            insert(table), [{"id": 20, "email": "A@x.org"}, {"id": 21, "email": "b@x.org"}]
        )
        conn.execute(update(table).where(table.c.id == 1).values(email="C@x.org"))
        s.bulk_insert_mappings(Person, [{"id": 22, "email": "D@x.org"}])

    store.write(write)
    assert hook.action is None  # the keyring did rotate, mid-way
    assert _mismatched(store, Person, ring) == []
    old = [k.id for k in ring if not k.primary]
    store.reseal_rows(Person, batch_size=2)
    for key_id in old:
        ring.disable(key_id)
    for i, value in [(20, "a@x.org"), (21, "b@x.org"), (1, "c@x.org"), (22, "d@x.org")]:
        assert _found(store, Person, value) == [i]
