"""Moving a live table to a keyring's new primary key, for :mod:`sealbox.integrations.sqlalchemy`.

:func:`~sealbox.integrations.sqlalchemy.reseal` marks a loaded object's columns for the
next flush, which writes back what was read: a value another writer stored in between is
overwritten with the old one. :func:`reseal_rows` writes each row only if its tokens are
still the ones it read (compare and set), and reads a row again when they are not.

Import it from here: ``from sealbox.integrations.sqlalchemy_reseal import reseal_rows``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

from sealbox.exceptions import ConfigError, DecryptionError, ExtraNotInstalledError, FormatError
from sealbox.keysets.fields import VERSION_DETERMINISTIC, decode_token, encode_token, token_key_id

try:
    from sqlalchemy import LargeBinary, Text, bindparam, select, tuple_, type_coerce, update
    from sqlalchemy.engine import Connection, Engine

    from sealbox.integrations.sqlalchemy import (
        EncryptedString,
        _Encrypted,
        _statement_links,
        get_keyring,
    )
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ExtraNotInstalledError("service", "sqlalchemy") from None

__all__ = ["reseal_rows"]

# A row rewritten by others this many times while it is being moved is left for the next
# run, rather than chased for ever.
_ATTEMPTS: Final = 5


def reseal_rows(bind: Engine | Connection, model: Any, *, batch_size: int = 500) -> int:
    """Seal every encrypted column of a table again under its keyring's primary key.

    Rows are read in primary-key order, ``batch_size`` at a time, and each batch is
    committed: a run that stops (killed, a lost connection) keeps what it did, and the
    next run goes on, skipping values already under the primary key. A row is written
    only if its tokens are still the ones read; one that a writer changed in between is
    read again, so no concurrent write is lost. Blind indexes linked with
    :func:`~sealbox.integrations.sqlalchemy.keep_blind_index` are rewritten with it.

    Args:
        bind: a sync :class:`~sqlalchemy.engine.Engine`, or a ``Connection`` with no
            transaction begun (committed after each batch). With asyncio: ``async with
            engine.connect() as conn: await conn.run_sync(reseal_rows, Model)``.
        model: the mapped class (or its ``Table``).
        batch_size: rows per transaction.

    Returns:
        how many rows were rewritten. A second run returning 0 confirms that every value
        is under the primary key; then the old key can be disabled.

    Raises:
        DecryptionError: a stored value does not open (its key is disabled or not in the
            keyring, or it was altered); what was committed before stays, the batch it
            stopped in is rolled back. A connection given comes back with no transaction.
        ConfigError: ``batch_size`` is below 1; or code ``in_transaction``, ``bind`` is a
            connection in a transaction (``engine.begin()``, or statements not yet
            committed): nothing was done.
    """
    # 0 would read no row and return 0: the answer that says the old key may go.
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, not {batch_size!r}")
    table = getattr(model, "__table__", model)
    key = list(table.primary_key.columns)
    if not key:
        raise TypeError(f"reseal_rows() needs a primary key: table {table.name} has none")
    encrypted = [c for c in table.columns if isinstance(c.type, _Encrypted)]
    links = {source.key: (index, it) for source, index, it in _statement_links.get(table, ())}
    job = _Job(table, key, encrypted, links)
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return job.run(conn, batch_size)
    # Its commits would end a transaction the caller began (engine.begin(): SQLAlchemy
    # refuses the next statement, after a first batch was committed), or commit the
    # caller's own pending writes with the first batch.
    if bind.in_transaction():
        raise ConfigError(
            "reseal_rows() commits after every batch, and this connection is in a "
            "transaction: it would commit or end the caller's",
            hint="give it the engine, or a connection from engine.connect() with no "
            "transaction begun (commit or roll back first; not engine.begin())",
            code="in_transaction",
        )
    return job.run(bind, batch_size)


class _Job:
    def __init__(self, table: Any, key: list[Any], encrypted: list[Any], links: Any) -> None:
        self.table, self.key, self.encrypted, self.links = table, key, encrypted, links
        # The stored form, without the column type's sealing and opening.
        self.raw = [type_coerce(c, c.type.impl_instance) for c in encrypted]

    def run(self, conn: Connection, batch_size: int) -> int:
        try:
            return self._batches(conn, batch_size)
        finally:
            # The caller's connection goes back with no transaction: not the read that
            # found no more rows (a second run would be refused as in a transaction, and
            # PostgreSQL would keep its snapshot and locks), nor a batch that failed
            # halfway (the caller's next commit would commit its rows).
            # A rollback that fails (a lost connection) must not hide the first error.
            if conn.in_transaction():
                with contextlib.suppress(Exception):
                    conn.rollback()

    def _batches(self, conn: Connection, batch_size: int) -> int:
        moved, after = 0, None
        n = len(self.key)
        while self.encrypted:
            query = select(*self.key, *self.raw).order_by(*self.key).limit(batch_size)
            if after is not None:
                # Each value bound with its column's type, as the single-column ``>``
                # does: typed by the Python value instead, a key column whose type converts
                # values (a TypeDecorator, a UUID kept as text) would compare the wrong
                # form, and the same batch would be read again for ever.
                bound = [
                    bindparam(None, v, type_=c.type) for c, v in zip(self.key, after, strict=True)
                ]
                query = query.where(
                    self.key[0] > after[0] if n == 1 else tuple_(*self.key) > tuple_(*bound)
                )
            rows = conn.execute(query).all()
            if not rows:
                break
            for row in rows:
                moved += self.move(conn, tuple(row[:n]), tuple(row[n:]))
            conn.commit()
            after = tuple(rows[-1][:n])
        return moved

    def move(self, conn: Connection, pk: tuple[Any, ...], stored: tuple[Any, ...]) -> int:
        where_key = [c == v for c, v in zip(self.key, pk, strict=True)]
        for _ in range(_ATTEMPTS):
            changes: dict[str, Any] = {}
            where = list(where_key)
            for column, raw, token in zip(self.encrypted, self.raw, stored, strict=True):
                if token is not None and self.seal_again(column, token, changes):
                    where.append(raw == token)
            if not changes:
                return 0
            if conn.execute(update(self.table).where(*where).values(changes)).rowcount == 1:
                return 1
            # Changed (or deleted) since it was read: read it again.
            row = conn.execute(select(*self.raw).where(*where_key)).first()
            if row is None:
                return 0
            stored = tuple(row)
        return 0

    def seal_again(self, column: Any, token: Any, changes: dict[str, Any]) -> bool:
        """Put the column's new token (and its index's digest) in ``changes``; False
        when the value is already under the primary key."""
        kind = column.type
        ring = get_keyring(kind.keyring)
        text = isinstance(kind, EncryptedString)
        try:
            old = decode_token(token) if text else bytes(token)
            if token_key_id(old) == ring.primary_id:
                return False
            plain = ring.open(old, kind.associated_data)
        except (DecryptionError, FormatError):
            raise kind._failed() from None
        if old[0] == VERSION_DETERMINISTIC:
            new = ring.seal_deterministic(plain, kind.associated_data)
        else:
            new = ring.seal(plain, kind.associated_data)
        changes[column.key] = bindparam(
            None, encode_token(new) if text else new, type_=_Stored(Text if text else LargeBinary)
        )
        if column.key in self.links:
            index, index_type = self.links[column.key]
            changes[index.key] = index_type.digest(plain.decode() if text else plain)
        return True


class _Stored(_Encrypted):
    """A token as stored: bound as it is, and let through by the checks on statements
    that set an encrypted column (it is sealed already)."""

    cache_ok = True
    impl = Text

    def __init__(self, impl: Any) -> None:
        super().__init__()
        self.impl = impl()

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return value
