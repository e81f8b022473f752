"""sealbox inside other frameworks: pydantic-settings sources, SQLAlchemy column types, FastAPI.

- :mod:`~sealbox.integrations.pydantic_settings`: settings whose values come from sealbox's
  secret sources, as :class:`~sealbox.secret.Secret`;
- :mod:`~sealbox.integrations.sqlalchemy`: columns sealed with a :class:`~sealbox.Keyring`
  and blind-index lookups (:mod:`~sealbox.integrations.sqlalchemy_reseal`: a table moved
  to the keyring's new primary key, batch by batch, beside live writers);
- :mod:`~sealbox.integrations.fastapi`: the bearer and scope dependencies, client
  certificates, and the auth routes of ``sealbox serve`` for your own app.

Each module imports its framework only when used, so this package is cheap to import.

May import: :mod:`sealbox._util` (strict JSON), :mod:`sealbox.keysets`,
:mod:`sealbox.secrets`, :mod:`sealbox.accounts`, :mod:`sealbox.jwt`, :mod:`sealbox.tls` and
third-party ``pydantic``, ``pydantic_core``, ``pydantic_settings``, ``sqlalchemy``,
``fastapi`` and ``starlette``.

.. versionadded:: 0.1.0
"""
