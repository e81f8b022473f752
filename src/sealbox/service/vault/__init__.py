"""Vault's wire protocol over sealbox: existing Vault clients talk to ``sealbox serve``.

A thin adapter, same implementation underneath:

- :mod:`~sealbox.service.vault.api`: the ASGI entry that takes Vault's paths
  (``/v1/transit/…``, ``/v1/<kv mount>/…``, ``/v1/auth/token/…``, ``/v1/sys/…``, and
  any other ``/v1/`` path but sealbox's ``/v1/keys/…``, as a path under no mount) and
  passes the rest on;
- :mod:`~sealbox.service.vault.auth`: ``X-Vault-Token`` or a bearer token, verified as
  every sealbox access token is; the ``kv:*`` scopes;
- :mod:`~sealbox.service.vault.errors`: ``{"errors": […]}`` with Vault's statuses and words;
- :mod:`~sealbox.service.vault.envelope`: the members every Vault answer has;
- :mod:`~sealbox.service.vault.transit`: Vault Transit's routes over the handlers of
  :mod:`sealbox.service.routes.transit`;
- :mod:`~sealbox.service.vault.kv_store`: the KV version 2 engine (versions,
  check-and-set, soft delete, destroy, ``max_versions``, ``delete_version_after``),
  values sealed at rest; no FastAPI in it; its tables and refusals are in
  :mod:`~sealbox.service.vault.kv_records`;
- :mod:`~sealbox.service.vault.kv_routes`: its routes;
- :mod:`~sealbox.service.vault.token`: ``lookup-self`` and ``renew-self``;
- :mod:`~sealbox.service.vault.sys`: ``sys/health``, ``seal-status``, ``leader`` and
  ``init`` (no token), and the mount lookup of Vault's CLI;
- :mod:`~sealbox.service.vault.key_types`: key types in Vault's names, and refused in its
  words;
- :mod:`~sealbox.service.vault.text_fields`: numbers and booleans sent as text, as
  ``vault write`` sends every field;
- :mod:`~sealbox.service.vault.durations`: Vault's duration fields (Go durations, whole
  days or seconds in; Go's spelling out).

``docs/vault.md`` lists what is covered and what is not.
"""
