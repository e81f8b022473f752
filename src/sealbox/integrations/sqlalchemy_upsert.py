"""The update part of an upsert, for :mod:`sealbox.integrations.sqlalchemy`.

``INSERT … ON CONFLICT DO UPDATE SET …`` (PostgreSQL, SQLite) and ``ON DUPLICATE KEY
UPDATE …`` (MySQL) set columns outside the statement's ``values()``: the checks that
``values()`` gets (no encrypted column set in clear, blind indexes kept in step) are made
here on that part too.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Any

from sealbox.exceptions import ExtraNotInstalledError

try:
    from sqlalchemy.sql import coercions, roles
    from sqlalchemy.sql.elements import BindParameter, ClauseElement, ColumnClause, Null
    from sqlalchemy.types import NULLTYPE
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ExtraNotInstalledError("service", "sqlalchemy") from None

__all__ = ["check_upsert", "known_value"]


def known_value(value: Any, rows: list[dict[str, Any]]) -> tuple[bool, Any]:
    """``(True, the Python value)`` of a ``values()`` entry, or ``(False, None)``: SQL,
    or a parameter whose value comes with the execution (``rows``)."""
    if value is None or isinstance(value, Null):
        return True, None
    if isinstance(value, BindParameter):
        if value.required or any(value.key in row for row in rows):
            return False, None
        return True, value.effective_value
    return not isinstance(value, ClauseElement), value


def _upsert_set(clause: Any) -> tuple[str, dict[Any, Any]] | None:
    """The attribute and the assignments of an upsert's update part: PostgreSQL's and
    SQLite's ``on_conflict_do_update(set_=…)``, MySQL's ``on_duplicate_key_update(…)``."""
    for attribute in ("update_values_to_set", "update"):
        assignments = getattr(clause, attribute, None)
        if isinstance(assignments, dict):
            return attribute, assignments
        if isinstance(assignments, list):  # SQLAlchemy 2.0: (column, value) pairs
            return attribute, dict(assignments)
    return None


def _clause(value: Any) -> Any:
    """An ORM attribute's or other SQL-like object's clause element; anything else as is."""
    element = getattr(value, "__clause_element__", None)
    return element() if callable(element) else value


def check_upsert(statement: Any, encrypted: list[Any], links: Any, rows: Any) -> Any:
    """For an INSERT … ON CONFLICT DO UPDATE (or ON DUPLICATE KEY UPDATE): refuse an update
    part that sets an encrypted column in clear, and keep each linked index in step with
    what it sets its source to (the ``excluded`` row's index with the excluded source, the
    digest of a Python value; anything else must set the index too)."""
    from sealbox.integrations.sqlalchemy import _ColumnTypeError, _key, _sealed

    clause: Any = getattr(statement, "_post_values_clause", None)
    found = _upsert_set(clause) if clause is not None else None
    if found is None:
        return statement
    attribute, assignments = found
    # SQLAlchemy 2.0 keeps these values as given: an ORM attribute (Model.column) is SQL
    # all the same, and would pass for a Python value (2.1 coerces them itself).
    given = {_key(k): _clause(v) for k, v in assignments.items()}
    for column in encrypted:
        if column.key in given and not _sealed(given[column.key], column):
            raise _ColumnTypeError(
                f"this statement's ON CONFLICT update sets the encrypted column {column.key} "
                "to SQL (a typed literal, a column that is not encrypted, a function), which "
                "would be stored in clear, or to a column sealed with other associated data, "
                "which would not decrypt there: give the Python value, or the excluded row's "
                "column"
            )
    added: dict[Any, Any] = {}
    for source, index, index_type in links:
        if source.key not in given or index.key in given:
            continue
        value = given[source.key]
        row_table: Any = getattr(value, "table", None)
        if (
            isinstance(value, ColumnClause)
            and getattr(row_table, "element", None) is statement.table
            and value.key == source.key
        ):
            added[index.key] = row_table.c[index.key]  # excluded.email -> excluded.email_index
            continue
        known, plain = known_value(value, rows)
        if not known:
            raise _ColumnTypeError(
                f"the ON CONFLICT clause of this statement gives {source.key} a value computed "
                f"by SQL or bound at execution, so its blind index {index.key} cannot be "
                f"computed: give {index.key} there too (the excluded row's {index.key}, or "
                f"Model.{index.key}.type.digest(value))"
            )
        added[index.key] = None if plain is None else index_type.digest(plain)
    if not added:
        return statement
    clause = clause._clone()
    new = {
        k: coercions.expect(roles.ExpressionElementRole, v, type_=NULLTYPE, is_crud=True)
        for k, v in added.items()
    }
    setattr(clause, attribute, {**assignments, **new})
    statement = statement._generate()
    statement._post_values_clause = clause
    return statement
