"""SQLAlchemy column types that encrypt with a sealbox :class:`~sealbox.Keyring`.

Import this module where the models are declared; ``import sealbox`` never
imports SQLAlchemy.

:class:`EncryptedString` stores the text form of a sealed token (URL-safe base64)
in a ``TEXT`` column; :class:`EncryptedBytes` the binary token in a binary
column. Both seal under the keyring's primary key when a row is written and open
with whichever key the token names when it is read, so rows keep reading across
a rotation. ``NULL`` stays ``NULL`` (it is not encrypted: that a value is missing
is visible); an empty string is encrypted like any other value.

:class:`BlindIndex` is a companion column of keyed 32-byte digests
(``Keyring.blind_index``) for equality lookups; :func:`blind_index_match` builds
the ``WHERE`` clause from the digests under every usable key (active or decrypt-only),
so lookups keep finding rows indexed before a rotation; :func:`keep_blind_index` keeps an index
column in step with the column it indexes, for objects and for INSERT and UPDATE statements.
An INSERT or UPDATE that would store an encrypted column in clear (set to a typed literal,
a column that is not encrypted, a function) raises ``TypeError``.

Example::

    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
    from sealbox.integrations.sqlalchemy import (
        BlindIndex, EncryptedString, blind_index_match, keep_blind_index, register_keyring,
    )

    class Base(DeclarativeBase): ...

    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str] = mapped_column(EncryptedString(associated_data="users.email"))
        email_index: Mapped[bytes] = mapped_column(
            BlindIndex(context="users.email", normalize=str.lower), index=True
        )

    keep_blind_index(User.email, User.email_index)
    register_keyring(Keyring.load("app.keyring", passphrase))   # at start-up

    session.scalars(select(User).where(blind_index_match(User.email_index, "Ann@x.org")))

The keyring is named by each column: a :class:`~sealbox.Keyring`, a zero-argument
callable returning one, or (the default) the name it was registered under with
:func:`register_keyring` — so models can be declared before the keyring is
loaded, and it is looked up when a value is written or read.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Final

from sealbox.exceptions import ConfigError, DecryptionError, ExtraNotInstalledError
from sealbox.keysets.fields import value_bytes

try:
    from sqlalchemy import Column, LargeBinary, Text, event
    from sqlalchemy.exc import DontWrapMixin
    from sqlalchemy.sql.elements import BindParameter, ClauseElement, ColumnClause, Null
    from sqlalchemy.types import NullType, TypeDecorator

    from sealbox.integrations.sqlalchemy_compare import EncryptedComparator
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ExtraNotInstalledError("service", "sqlalchemy") from None

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect
    from sqlalchemy.sql.elements import ColumnElement

    from sealbox.keysets.keyring import Keyring

__all__ = [
    "BlindIndex",
    "EncryptedBytes",
    "EncryptedString",
    "blind_index_match",
    "get_keyring",
    "keep_blind_index",
    "register_keyring",
    "reseal",
    "unregister_keyring",
]

DEFAULT_KEYRING: Final = "default"

_registry: dict[str, Keyring] = {}
_registry_lock = threading.Lock()
# Mapped class -> {index attribute: source attribute}, filled by keep_blind_index().
_links: weakref.WeakKeyDictionary[type, dict[str, str]] = weakref.WeakKeyDictionary()


# SQLAlchemy wraps errors raised while it binds parameters in a StatementError whose
# text lists the parameters: the values in clear. These propagate as they are instead.
class _ColumnConfigError(ConfigError, DontWrapMixin):
    """A :class:`~sealbox.exceptions.ConfigError` raised while a statement is prepared."""


class _ColumnTypeError(TypeError, DontWrapMixin):
    """A ``TypeError`` raised while a statement is prepared."""


class _ColumnDecryptionError(DecryptionError, DontWrapMixin):
    """A :class:`~sealbox.exceptions.DecryptionError` raised while a row is read."""


def register_keyring(keyring: Keyring, name: str = DEFAULT_KEYRING) -> None:
    """Make ``keyring`` the one that columns naming ``name`` use (replacing any before).

    Call it at start-up, once the keyring is loaded.
    """
    with _registry_lock:
        _registry[name] = keyring


def unregister_keyring(name: str = DEFAULT_KEYRING) -> None:
    """Forget the keyring registered under ``name`` (no error if there is none)."""
    with _registry_lock:
        _registry.pop(name, None)


def get_keyring(ref: Keyring | str | Callable[[], Keyring]) -> Keyring:
    """Resolve what a column names: a keyring, a registered name, or a callable.

    Raises:
        ConfigError: no keyring is registered under that name; or code
            ``keyring_unavailable``, the callable raised (``facts["error"]`` names what
            it raised; the error is not wrapped by SQLAlchemy, whose text would list the
            statement's values).
    """
    if isinstance(ref, str):
        with _registry_lock:
            ring = _registry.get(ref)
        if ring is None:
            raise _ColumnConfigError(
                f"no keyring is registered under {ref!r} for the encrypted columns",
                hint="call sealbox.integrations.sqlalchemy.register_keyring(keyring"
                + ("" if ref == DEFAULT_KEYRING else f", {ref!r}")
                + ") at start-up",
            )
        return ring
    if callable(ref):
        try:
            return ref()
        except Exception as exc:
            if isinstance(exc, DontWrapMixin):
                raise  # raised by these types (a callable reading the registry): no value
            # Called while a statement binds its values: SQLAlchemy would wrap the
            # loader's error (a missing file, a wrong passphrase) in one whose text lists
            # the statement's parameters, every value of the row in clear.
            raise _ColumnConfigError(
                f"the keyring callable of the encrypted columns raised {type(exc).__name__}",
                hint="make the keyring available before the columns are used (load it at "
                "start-up and register it with register_keyring)",
                code="keyring_unavailable",
                facts={"error": type(exc).__name__},
            ) from exc
    return ref


def _type_repr(column_type: Any, keyring: Any, **named: bytes) -> str:
    """What Alembic's autogenerate writes into a migration, so it must build the type
    again: a registered keyring's name and the associated data or context. A keyring
    object, a callable and ``normalize`` are left out (they are not code; the column's DDL
    does not depend on them). SQLAlchemy's own repr shows the stored type's arguments
    (``BlindIndex(length=32)``), which these constructors do not take."""
    args = [repr(keyring)] if isinstance(keyring, str) and keyring != DEFAULT_KEYRING else []
    args += [f"{name}={value!r}" for name, value in named.items() if value]
    return f"{type(column_type).__name__}({', '.join(args)})"


def _bytes(value: bytes | str, what: str = "") -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    # bytes(n) would be n zero bytes: an int would hash as a run of zeros, after
    # allocating as many bytes as its value.
    raise _ColumnTypeError(
        f"{what or 'a blind-index value'} must be str or bytes, not {type(value).__name__}"
    )


class _Encrypted(TypeDecorator[Any]):
    """What both encrypted types share: the keyring reference and the associated data."""

    cache_ok = True
    comparator_factory = EncryptedComparator
    kind: ClassVar[str]

    def __init__(
        self,
        keyring: Keyring | str | Callable[[], Keyring] = DEFAULT_KEYRING,
        *,
        associated_data: bytes | str = b"",
    ) -> None:
        super().__init__()
        self.keyring = keyring
        self.associated_data = _bytes(associated_data, "associated_data")

    def _ring(self) -> Keyring:
        return get_keyring(self.keyring)

    def __repr__(self) -> str:
        return _type_repr(self, self.keyring, associated_data=self.associated_data)

    def _where(self) -> str:
        # Errors name the column by its associated data: a type is never told its column.
        ad = self.associated_data
        return f" (associated data {ad.decode('ascii', 'replace')!r})" if ad else ""

    def _failed(self) -> DecryptionError:
        return _ColumnDecryptionError(
            f"a value of an {self.kind} column does not decrypt{self._where()}",
            hint="its key is not in this keyring or is disabled, the column's associated "
            "data changed, or the stored value was altered",
        )


class EncryptedString(_Encrypted):
    """A ``str`` column stored as a sealed text token (``Keyring.seal_text``).

    Args:
        keyring: a :class:`~sealbox.Keyring`, a zero-argument callable returning
            one, or the name it is registered under (:func:`register_keyring`).
        associated_data: what every value of the column is bound to; name the
            column (``"users.email"``) so that a token copied into another
            column does not open there. Changing it makes existing rows unreadable.

    Reading a value that does not open raises
    :class:`~sealbox.exceptions.DecryptionError`, naming the column's
    associated data. Comparing the column in SQL raises ``TypeError``: use a
    :class:`BlindIndex`.
    """

    impl = Text
    kind = "EncryptedString"
    # SQLAlchemy reads cache_ok from each class's own namespace, not from a base.
    cache_ok = True

    @property
    def python_type(self) -> type[str]:
        return str

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if type(value) is _Presealed:
            return value.stored  # type: ignore[no-any-return]
        if not isinstance(value, str):
            raise _ColumnTypeError(
                f"an EncryptedString column takes str, not {type(value).__name__}{self._where()}"
            )
        ring = self._ring()
        try:
            return ring.seal_text(value, self.associated_data)
        except ConfigError as exc:
            # A lone surrogate (seal_text's code bad_value). Raised as it is, SQLAlchemy
            # would wrap it in an error whose text lists the statement's parameters:
            # every other column's plaintext of the row.
            raise _ColumnConfigError(
                f"an EncryptedString value{self._where()} is not valid Unicode text: it holds "
                "a lone surrogate (text decoded with errors='surrogateescape', or JSON with an "
                "unpaired \\ud800-\\udfff escape)",
                hint="decode the text's bytes as UTF-8 before storing it, or keep bytes in an "
                "EncryptedBytes column",
                code=exc.code,
            ) from None

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        try:
            return self._ring().open_text(value, self.associated_data).decode()
        except (DecryptionError, UnicodeDecodeError):
            raise self._failed() from None


class EncryptedBytes(_Encrypted):
    """A ``bytes`` column stored as a binary sealed token (``Keyring.seal``).

    Args: as :class:`EncryptedString`.
    """

    impl = LargeBinary
    kind = "EncryptedBytes"
    cache_ok = True

    @property
    def python_type(self) -> type[bytes]:
        return bytes

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None or type(value) is _Presealed:
            return None if value is None else value.stored
        if not isinstance(value, bytes | bytearray | memoryview):
            raise _ColumnTypeError(
                f"an EncryptedBytes column takes bytes, not {type(value).__name__}{self._where()}"
            )
        return self._ring().seal(bytes(value), self.associated_data)

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        try:
            # bytes(): some drivers (psycopg2) return memoryview for binary columns.
            return self._ring().open(bytes(value), self.associated_data)
        except DecryptionError:
            raise self._failed() from None


class BlindIndex(TypeDecorator[bytes]):
    """A column of 32-byte blind-index digests (HMAC-SHA-256, ``Keyring.blind_index``).

    It holds digests, never values: assign :meth:`digest` of the value (or let
    :func:`keep_blind_index` do it), and query with :func:`blind_index_match`.

    Args:
        keyring: as :class:`EncryptedString`.
        context: separates columns (``"users.email"``): equal values in two
            columns give unrelated digests.
        normalize: applied to a ``str`` value before hashing, at write and at
            lookup (``str.lower`` for case-insensitive lookups).
    """

    impl = LargeBinary
    cache_ok = True
    SIZE: ClassVar[int] = 32

    def __init__(
        self,
        keyring: Keyring | str | Callable[[], Keyring] = DEFAULT_KEYRING,
        *,
        context: bytes | str = b"",
        normalize: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(length=self.SIZE)
        self.keyring = keyring
        self.context = _bytes(context, "context")
        self.normalize = normalize

    @property
    def python_type(self) -> type[bytes]:
        return bytes

    def __repr__(self) -> str:
        return _type_repr(self, self.keyring, context=self.context)

    def _value(self, value: bytes | str) -> bytes:
        if not isinstance(value, str):
            # Named by its context: keep_blind_index hashes a value when it is assigned,
            # before the encrypted column's own check could name that column.
            ctx = self.context.decode("ascii", "replace")
            return _bytes(value, f"a value of the blind index {ctx!r}" if ctx else "")
        if self.normalize is not None:
            value = self.normalize(value)
        # Not raised inside a statement (it is hashed when assigned or looked up): a
        # plain ConfigError (code bad_value) that quotes nothing of the value.
        return value_bytes(value, "the value to index")

    def digest(self, value: bytes | str) -> bytes:
        """The digest of ``value`` under the primary key: what the column stores."""
        return get_keyring(self.keyring).blind_index(self._value(value), self.context)

    def digests(self, value: bytes | str) -> list[bytes]:
        """The digests of ``value`` under every usable key: what a lookup matches."""
        ring = get_keyring(self.keyring)
        return list(ring.blind_indexes(self._value(value), self.context).values())

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        if not isinstance(value, bytes | bytearray | memoryview) or len(value) != self.SIZE:
            raise _ColumnTypeError(
                "a BlindIndex column holds 32-byte digests, not values: assign "
                "Model.column.type.digest(value), or link it with keep_blind_index()"
            )
        return bytes(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else bytes(value)


def _index_type(column: Any) -> tuple[Any, BlindIndex]:
    expr = column.__clause_element__() if hasattr(column, "__clause_element__") else column
    index_type = getattr(expr, "type", None)
    if not isinstance(index_type, BlindIndex):
        raise TypeError("blind_index_match() and keep_blind_index() need a BlindIndex column")
    return expr, index_type


def blind_index_match(column: Any, value: bytes | str | None) -> ColumnElement[bool]:
    """A ``WHERE`` clause matching rows whose index is the digest of ``value`` under any key.

    ``column`` is a :class:`BlindIndex` column (``User.email_index``). Rows indexed
    under a key that is still usable are found, so lookups go on working after a
    rotation; ``None`` matches ``NULL``.
    """
    expr, index_type = _index_type(column)
    if value is None:
        return expr.is_(None)  # type: ignore[no-any-return]
    return expr.in_(index_type.digests(value))  # type: ignore[no-any-return]


def keep_blind_index(source: Any, index: Any) -> None:
    """Set ``index`` to the digest of ``source`` whenever ``source`` is set on an object.

    Both are ORM attributes of one mapped class (``User.email``, ``User.email_index``).
    Assigning ``None`` to the source clears the index. The digest written is computed
    again when the row is written, under the key that seals the value: a rotation between
    the assignment and the flush leaves both under one key. INSERT and UPDATE
    statements that set the source and not the index (``insert(User)`` with rows,
    ``update(User).values(email=…)``, ``bulk_insert_mappings``) set the index too; one
    whose new value is not known in Python (SQL, a parameter bound at execution, a
    multi-row VALUES) raises ``TypeError`` unless it sets the index itself.
    """
    _, index_type = _index_type(index)
    key = index.key

    def on_set(target: Any, value: Any, _old: Any, _initiator: Any) -> None:
        setattr(target, key, None if value is None else _Follows(index_type.digest(value)))

    event.listen(source, "set", on_set)
    _links.setdefault(source.class_, {})[key] = source.key
    # Statements (bulk inserts, update().values()) set columns, not attributes: for them,
    # _check_statement() keeps the index in step.
    source_column, index_column = _column_of(source), _column_of(index)
    if source_column is not None and index_column is not None:
        link = (source_column, index_column, index_type)
        links = _statement_links.setdefault(source_column.table, [])
        if source_column.table is index_column.table and link not in links:
            links.append(link)


# Table -> [(source column, index column, its type)] linked by keep_blind_index().
_statement_links: weakref.WeakKeyDictionary[Any, list[tuple[Any, Any, BlindIndex]]] = (
    weakref.WeakKeyDictionary()
)


def _column_of(attribute: Any) -> Any:
    columns: Any = getattr(getattr(attribute, "property", None), "columns", ())
    return columns[0] if len(columns) == 1 and isinstance(columns[0], Column) else None


def _key(column: Any) -> Any:
    return column if isinstance(column, str) else getattr(column, "key", column)


def _sealed(value: Any, target: Any) -> bool:
    """Whether what a statement sets the encrypted column ``target`` to is sealed on the
    way: a Python value or a parameter (bound with the column's type), ``NULL``, or an
    encrypted column whose tokens open in ``target`` (same type and associated data); not
    a typed literal, a plain column, another column's tokens or SQL computing a value."""
    if not isinstance(value, ClauseElement) or isinstance(value, Null):
        return True
    if isinstance(value, BindParameter):
        return isinstance(value.type, NullType | _Encrypted)
    kind: Any = value.type if isinstance(value, ColumnClause) else None
    return type(kind) is type(target.type) and kind.associated_data == target.type.associated_data


class _Follows(bytes):
    """A digest that :func:`keep_blind_index` or :func:`reseal` set on an object: computed
    again when the row is written, with the value it indexes."""


class _Presealed:
    """A value sealed before the statement binds it; the column binds it as it is."""

    __slots__ = ("stored",)

    def __init__(self, stored: Any) -> None:
        self.stored = stored


def reseal(obj: Any) -> None:
    """Have every encrypted column of a loaded object sealed again at the next flush.

    After ``Keyring.rotate``, run this over the rows (in batches, committing as you go) to
    move them to the new primary key: each :class:`EncryptedString` and
    :class:`EncryptedBytes` attribute is marked modified, and each :class:`BlindIndex`
    linked with :func:`keep_blind_index` is recomputed. The flush writes back what was
    read, over any value stored since: on a table written meanwhile, use
    :func:`~sealbox.integrations.sqlalchemy_reseal.reseal_rows`. An attribute not loaded
    yet (a deferred column) is loaded first, with a query of its own: undefer it in the
    query that finds the rows (in asyncio code, do that or call it in ``session.run_sync``).
    """
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy.orm.attributes import flag_modified

    state = sa_inspect(obj)
    for attr in state.mapper.column_attrs:
        if any(isinstance(c.type, _Encrypted) for c in attr.columns):
            getattr(obj, attr.key)  # loads a deferred or expired value: one query
            flag_modified(obj, attr.key)
    for cls in type(obj).__mro__:
        for index_key, source_key in _links.get(cls, {}).items():
            index_type = state.mapper.columns[index_key].type
            value = getattr(obj, source_key)
            setattr(obj, index_key, None if value is None else _Follows(index_type.digest(value)))


# Last, for it reads the names above: the checks of INSERT and UPDATE statements go in
# with the column types (a ``before_execute`` listener on every Engine).
from sealbox.integrations import sqlalchemy_statements as _statements  # noqa: E402, F401
