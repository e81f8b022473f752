"""Sets of symmetric keys with ids and a lifecycle: keyrings, sealed fields, envelopes.

- :mod:`~sealbox.keysets.keyring`: :class:`~sealbox.Keyring` — keys with ids, one primary,
  rotation, seal/open/reseal, deterministic tokens, blind indexes; its key management
  (:mod:`~sealbox.keysets.keyring_keys`: rotate, set the primary, disable, enable,
  destroy), its storage (:mod:`~sealbox.keysets.keyring_store`: encrypted, saved with a
  merge, loaded), its document (:mod:`~sealbox.keysets.keyring_file`) and the merge of
  two copies (:mod:`~sealbox.keysets.keyring_merge`);
- :mod:`~sealbox.keysets.fields`: the sealed-token format;
- :mod:`~sealbox.keysets.sealed`: documents sealed under a passphrase (Argon2id +
  AES-256-GCM), shared with the JWT keyset;
- :mod:`~sealbox.keysets.envelope`: a data key per object, wrapped by a keyring, age
  recipients or Vault Transit;
- :mod:`~sealbox.keysets.legacy`: the formats of the original Fernet and AES-GCM recipes;
- :mod:`~sealbox.keysets.lifecycle`: the one vocabulary of key states (active,
  decrypt-only, disabled, destroyed) that keyrings, JWT keysets and transit keys share.

``sealbox.keyring``, ``sealbox.fields``, ``sealbox.envelope`` and ``sealbox.legacy``, the
old paths, still import.

May import: :mod:`sealbox.exceptions`, :mod:`sealbox.secret`, :mod:`sealbox._util`,
:mod:`sealbox.hazmat`, :mod:`sealbox.age`, :mod:`sealbox.secrets` (the Vault client) and
third-party ``cryptography`` and ``hvac``.
"""
