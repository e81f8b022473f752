"""sealbox inside other frameworks: pydantic-settings sources and SQLAlchemy column types.

- :mod:`~sealbox.integrations.pydantic_settings`: settings whose values come from sealbox's
  secret sources, as :class:`~sealbox.secret.Secret`;
- :mod:`~sealbox.integrations.sqlalchemy`: columns sealed with a :class:`~sealbox.Keyring`
  and blind-index lookups.

Each module imports its framework only when used, so this package is cheap to import.

May import: :mod:`sealbox.keysets`, :mod:`sealbox.secrets` and third-party ``pydantic``,
``pydantic_core``, ``pydantic_settings`` and ``sqlalchemy``.

.. versionadded:: 0.1.0
"""
