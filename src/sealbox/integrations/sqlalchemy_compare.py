"""What SQL may do with encrypted columns, for :mod:`sealbox.integrations.sqlalchemy`.

The database holds ciphertexts, each sealed with a fresh nonce: comparing one with a
value finds nothing, its order is no order of the values, ``DISTINCT`` keeps equal values
apart, and a function or an operator (``lower``, ``COLLATE``, ``||``, ``+``) computes with
the ciphertext. The comparator of
:class:`~sealbox.integrations.sqlalchemy.EncryptedString` and
:class:`~sealbox.integrations.sqlalchemy.EncryptedBytes` refuses every such expression
built from the column's own methods and operators with
:class:`EncryptedColumnSQLError` (a ``TypeError`` with code ``encrypted_column_sql``)
saying what works instead, and lets ``IS NULL`` tests (with ``None`` or ``null()``) and
``==`` between a table's columns through (SQLAlchemy compares columns with ``==`` to find
them in its lists; an ORM attribute, ``User.email == User.note``, is refused, and so is
SQL that computes a value: a function, a subquery, a ``cast``; raw SQL, ``text()`` and
``literal_column()``, is not looked into).

What does not call the comparator cannot be refused here: the column passed to a SQL
function (``func.lower(User.email) == "x"``, ``func.length``, ``func.max``), to ``cast``
or ``type_coerce``, inside ``tuple_()``, on the right of another type's operator
(``literal("x") == User.email``), or to ``order_by``, ``group_by`` and
``select().distinct()`` as it is.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from sealbox.exceptions import ConfigError, ExtraNotInstalledError

try:
    from sqlalchemy.sql import operators, visitors
    from sqlalchemy.sql.elements import (
        BindParameter,
        ClauseElement,
        ColumnClause,
        Null,
        TextClause,
    )
    from sqlalchemy.types import TypeDecorator
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ExtraNotInstalledError("service", "sqlalchemy") from None

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement
    from sqlalchemy.sql.operators import OperatorType

__all__ = ["EncryptedColumnSQLError", "EncryptedComparator"]


class EncryptedColumnSQLError(ConfigError, TypeError):
    """An expression would have SQL compare, order or compute with ciphertexts.

    A ``TypeError`` (misuse of the API, raised when the expression is built) and a
    :class:`~sealbox.exceptions.ConfigError` with code ``encrypted_column_sql``; its
    ``facts["operator"]`` names the operator refused and ``hint`` says what works.
    """

    code = "encrypted_column_sql"


# These mean IS [NOT] NULL when given None. IS with a value is equality on SQLite (and an
# error on PostgreSQL): refused with a value like ==.
_NULL_TESTS: Final = frozenset(
    {
        operators.is_,
        operators.is_not,
        operators.eq,
        operators.ne,
        operators.is_distinct_from,
        operators.is_not_distinct_from,
    }
)
_ORDERING: Final = frozenset(
    {operators.asc_op, operators.desc_op, operators.nulls_first_op, operators.nulls_last_op}
)
# Between two columns: SQLAlchemy tests a column's membership in its own lists with ==
# (the ORM's bulk UPDATE, its evaluator), which must keep working.
_COLUMN_EQUALITY: Final = frozenset({operators.eq, operators.ne})

_LOOKUP: Final = (
    "look rows up through a BlindIndex column and blind_index_match(); for lookups that "
    "ignore case or spaces, give the BlindIndex normalize= (str.lower), or normalise the "
    "value before storing it"
)
_WHY: Final = {
    "compare": (
        (
            "an encrypted column cannot be compared with a value in SQL (each value is sealed "
            "with a fresh nonce, so nothing would match)"
        ),
        _LOOKUP,
    ),
    "compare_columns": (
        (
            "an encrypted column cannot be compared in SQL except for IS NULL (the database "
            "compares ciphertexts, not values)"
        ),
        "read the values and compare them in Python; " + _LOOKUP,
    ),
    "order": (
        (
            "an encrypted column cannot be ordered in SQL (ciphertexts sort in no order of "
            "their values)"
        ),
        "sort the rows in Python once they are read, or order by a column that is not encrypted",
    ),
    "distinct": (
        (
            "DISTINCT cannot apply to an encrypted column (equal values are sealed into "
            "different ciphertexts, so none would be merged)"
        ),
        (
            "apply DISTINCT or GROUP BY to the column's BlindIndex, or deduplicate in Python "
            "once the rows are read"
        ),
    ),
    "compute": (
        (
            "an encrypted column cannot be used in a SQL expression (the database would "
            "compute with the ciphertext, not the value)"
        ),
        "read the value and compute in Python; normalise a value (strip(), lower()) "
        "before storing it; " + _LOOKUP,
    ),
}


def _is_value(operand: Any) -> bool:
    """A value the statement would carry (a literal, a bound parameter, a list of them, an
    expression holding one: ``func.lower("x")``), as opposed to another column (an ORM
    attribute, ``User.note``, stands for its column)."""
    operand = getattr(operand, "__clause_element__", lambda: operand)()
    if not isinstance(operand, ClauseElement):
        return True
    return any(isinstance(element, BindParameter) for element in visitors.iterate(operand))


def _refusal(op: OperatorType, expr: Any, other: tuple[Any, ...]) -> str | None:
    """Why ``expr op other`` is refused (a key of ``_WHY``), or ``None`` if it is not.
    ``expr`` is the column, or a value given the column's type: the ORM turns
    ``"x" + column`` into a bound ``"x"`` of the column's type, operated with the column."""
    if op in _NULL_TESTS and len(other) == 1 and (other[0] is None or isinstance(other[0], Null)):
        return None  # None or null(): IS [NOT] NULL
    if op in _ORDERING:
        return "order"
    if op is operators.distinct_op:
        return "distinct"
    if not operators.is_comparison(op):
        return "compute"  # collate, concat, +, -x, NOT, any_(), custom operators...
    if any(_is_value(operand) for operand in (expr, *other)):
        return "compare"
    # SQLAlchemy's own membership tests give columns; an ORM attribute (User.note) comes
    # from a query, which would compare ciphertexts sealed apart: never equal.
    orm = any(not isinstance(o, ClauseElement) and hasattr(o, "__clause_element__") for o in other)
    # Only a column itself (or raw SQL, text() and literal_column(), which is not looked
    # into and usually names one): SQL that computes a value with no parameter in it
    # (func.lower(Other.name), a scalar subquery, cast) would be compared with the
    # ciphertexts just as silently as a value.
    columns = all(isinstance(o, ColumnClause | TextClause) for o in other)
    return None if op in _COLUMN_EQUALITY and columns and not orm else "compare_columns"


def _check(op: OperatorType, expr: Any, other: tuple[Any, ...]) -> None:
    why = _refusal(op, expr, other)
    if why is None:
        return
    message, hint = _WHY[why]
    name = getattr(op, "opstring", None) or getattr(op, "__name__", None) or repr(op)
    raise EncryptedColumnSQLError(f"{message}: {hint}", hint=hint, facts={"operator": str(name)})


class EncryptedComparator(TypeDecorator.Comparator[Any]):
    """The comparator of the encrypted column types: refuses SQL that would compare, order
    or compute with ciphertexts."""

    def operate(self, op: OperatorType, *other: Any, **kwargs: Any) -> ColumnElement[Any]:
        _check(op, self.expr, other)
        return super().operate(op, *other, **kwargs)

    def reverse_operate(self, op: OperatorType, other: Any, **kwargs: Any) -> ColumnElement[Any]:
        # "x" + column: Python asks the column, on the right, to operate.
        _check(op, self.expr, (other,))
        return super().reverse_operate(op, other, **kwargs)
