"""The checks of INSERT and UPDATE statements, for :mod:`sealbox.integrations.sqlalchemy`.

A ``before_execute`` listener on every :class:`~sqlalchemy.engine.Engine`, in place once
:mod:`sealbox.integrations.sqlalchemy` is imported: it refuses a statement that would
store an encrypted column in clear (set to a typed literal, a column that is not
encrypted, a function) or sealed with another column's associated data, and sets the
blind index of a column linked with
:func:`~sealbox.integrations.sqlalchemy.keep_blind_index` that the statement sets
without its index, under the key that seals the value. An upsert's update part is
checked by :mod:`sealbox.integrations.sqlalchemy_upsert`. A statement on a table with no
encrypted column and no linked index passes through before any of its values is looked
at.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Any

from sealbox.exceptions import ExtraNotInstalledError
from sealbox.keysets.fields import decode_token, token_key_id

try:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.sql.dml import ValuesBase

    from sealbox.integrations.sqlalchemy import (
        BlindIndex,
        _ColumnTypeError,
        _Encrypted,
        _Follows,
        _key,
        _Presealed,
        _sealed,
        _statement_links,
        get_keyring,
    )
    from sealbox.integrations.sqlalchemy_upsert import check_upsert, known_value
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ExtraNotInstalledError("service", "sqlalchemy") from None

__all__: list[str] = []


def _statement_values(statement: Any) -> tuple[dict[str, Any], dict[str, list[Any]], bool]:
    """What an INSERT or UPDATE sets: ``values()`` by column key; what a multi-row VALUES
    (by name or by position) or an INSERT … SELECT sets; whether the values are ordered."""
    ordered = getattr(statement, "_ordered_values", None) or ()  # SQLAlchemy 2.0
    values = {_key(k): v for k, v in [*(statement._values or {}).items(), *ordered]}
    elsewhere: dict[str, list[Any]] = {}
    columns = statement.table.columns
    for group in statement._multi_values:
        for row in group:
            pairs = row.items() if isinstance(row, dict) else zip(columns, row, strict=False)
            for k, v in pairs:
                elsewhere.setdefault(_key(k), []).append(v)
    if statement._select_names:
        selected = statement.select.selected_columns
        for name, v in zip(statement._select_names, selected, strict=False):
            elsewhere.setdefault(name, []).append(v)
    fixed = bool(ordered) or getattr(statement, "_maintain_values_ordering", False)
    return values, elsewhere, fixed


def _seal_indexed(source: Any, index_type: BlindIndex, value: Any) -> tuple[Any, bytes | None]:
    """``value`` sealed for the column ``source``, and its digest under the key that sealed
    it. An index computed when the attribute was set, or apart from the seal, would name
    the primary key of that moment: after a rotation in between, the row's token is under
    the new key and its index under the old one, which reseal_rows never rewrites (the
    token is current) and which stops being looked up once the old key is disabled."""
    if value is None:
        return None, None
    data = index_type._value(value)  # the index's own errors, before the column's
    if not isinstance(source.type, _Encrypted):
        return value, index_type.digest(value)
    stored = source.type.process_bind_param(value, None)  # type: ignore[arg-type]
    key_id = token_key_id(stored if isinstance(stored, bytes) else decode_token(stored))
    digests = get_keyring(index_type.keyring).blind_indexes(data, index_type.context)
    # Not there: the index has a keyring of its own, and its primary key is the one to use.
    digest = digests.get(key_id) or index_type.digest(value)
    return _Presealed(stored), digest


def _check_statement(
    _conn: Any, statement: Any, multiparams: Any, params: Any, _options: Any
) -> tuple[Any, Any, Any]:
    """``before_execute`` for INSERT and UPDATE statements: refuse one that would store
    an encrypted column in clear; set the index of a column linked with
    :func:`keep_blind_index` that the statement sets without its index."""
    if not isinstance(statement, ValuesBase):
        return statement, multiparams, params
    # Every engine of the process comes here: a statement on a table with no encrypted
    # column and no linked index is let through before any of its values is looked at.
    table = statement.table
    encrypted = [c for c in table.columns if isinstance(c.type, _Encrypted)]
    try:
        links = _statement_links.get(table, ())
    except TypeError:  # a table that cannot be weakly referenced: not one of ours
        links = ()
    if not encrypted and not links:
        return statement, multiparams, params
    values, elsewhere, fixed = _statement_values(statement)
    for column in encrypted if values or elsewhere else ():
        given = [values[column.key]] if column.key in values else []
        if not all(_sealed(v, column) for v in given + elsewhere.get(column.key, [])):
            raise _ColumnTypeError(
                f"this statement sets the encrypted column {column.key} to SQL (a typed "
                "literal, a column that is not encrypted, a function), which would be "
                "stored in clear, or to a column sealed with other associated data, which "
                "would not decrypt there: give the Python value, which the column seals"
            )
    rows: list[dict[str, Any]] = list(multiparams) if multiparams else [params]
    statement = check_upsert(statement, encrypted, links, rows)
    for source, index, index_type in links:
        if index.key in values or index.key in elsewhere:
            continue  # the statement sets the index itself

        if source.key not in values and source.key not in elsewhere:
            # Row by row: a row giving its own digest says nothing of the others (and an
            # executemany takes its columns from its first row: without one, none had one).
            for i, r in enumerate(rows):
                if source.key in r and type(r.get(index.key, _Follows())) is _Follows:
                    new = _seal_indexed(source, index_type, r[source.key])
                    rows[i] = {**r, source.key: new[0], index.key: new[1]}
            continue
        if any(index.key in r for r in rows):
            continue  # the parameters set the index
        known, value = known_value(values.get(source.key), rows)
        if source.key in elsewhere or fixed or not known:
            raise _ColumnTypeError(
                f"this statement sets {source.key} from SQL, a parameter bound at "
                "execution, several VALUES rows or ordered values, so its blind index "
                f"{index.key} cannot be computed: set {index.key} in the statement too "
                f"(Model.{index.key}.type.digest(value)), or set the attribute on the object"
            )
        sealed, digest = _seal_indexed(source, index_type, value)
        given_as = next(k for k in statement._values if _key(k) == source.key)  # name or column
        statement = statement.values({given_as: sealed, index: digest})
    return (statement, rows, params) if multiparams else (statement, [], rows[0])


event.listen(Engine, "before_execute", _check_statement, retval=True)
