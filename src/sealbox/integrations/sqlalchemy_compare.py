"""Comparisons on encrypted columns, for :mod:`sealbox.integrations.sqlalchemy`.

Comparing ciphertexts with a value finds nothing (every seal differs): the comparator of
:class:`~sealbox.integrations.sqlalchemy.EncryptedString` and
:class:`~sealbox.integrations.sqlalchemy.EncryptedBytes` refuses such an expression with
a ``TypeError`` that says what works (a blind index), and lets ``IS NULL`` tests,
ordering and comparisons between columns through.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from sealbox.exceptions import ExtraNotInstalledError

try:
    from sqlalchemy.sql import operators, visitors
    from sqlalchemy.sql.elements import BindParameter, ClauseElement
    from sqlalchemy.types import TypeDecorator
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ExtraNotInstalledError("service", "sqlalchemy") from None

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement
    from sqlalchemy.sql.operators import OperatorType

__all__ = ["EncryptedComparator"]

# Comparing ciphertexts with a value finds nothing (every seal differs): refuse, and say
# what works. An allow-list, so that an operator SQLAlchemy adds is refused too.
_ALLOWED: Final = frozenset(
    {
        operators.asc_op,
        operators.desc_op,
        operators.nulls_first_op,
        operators.nulls_last_op,
        operators.distinct_op,
    }
)
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


def _is_value(operand: Any) -> bool:
    """A value the statement would carry (a literal, a bound parameter, a list of them, an
    expression holding one: ``func.lower("x")``), as opposed to another column: the ORM
    compares columns with ``==`` to find them (an ``UPDATE … values(column=…)``), which
    compares no ciphertext."""
    if not isinstance(operand, ClauseElement):
        return True
    return any(isinstance(element, BindParameter) for element in visitors.iterate(operand))


def _check_comparison(op: OperatorType, expr: Any, other: tuple[Any, ...]) -> None:
    # expr is the column, or a value given the column's type: the ORM turns "x" + column
    # into a bound "x" of the column's type, operated with the column.
    if not (
        op in _ALLOWED
        or (op in _NULL_TESTS and other[0] is None)
        or not any(_is_value(operand) for operand in (expr, *other))
    ):
        raise TypeError(
            "an encrypted column cannot be compared with a value in SQL (each value is "
            "sealed with a fresh nonce); look rows up through a BlindIndex column and "
            "blind_index_match()"
        )


class EncryptedComparator(TypeDecorator.Comparator[Any]):
    """The comparator of the encrypted column types: refuses comparisons with values."""

    def operate(self, op: OperatorType, *other: Any, **kwargs: Any) -> ColumnElement[Any]:
        _check_comparison(op, self.expr, other)
        return super().operate(op, *other, **kwargs)

    def reverse_operate(self, op: OperatorType, other: Any, **kwargs: Any) -> ColumnElement[Any]:
        # "x" + column: Python asks the column, on the right, to operate.
        _check_comparison(op, self.expr, (other,))
        return super().reverse_operate(op, other, **kwargs)
