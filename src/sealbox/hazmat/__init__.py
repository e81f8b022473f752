"""Hazardous materials: AEAD ciphers and key derivation, fenced off.

:mod:`~sealbox.hazmat.aead` wraps pyca's AEAD primitives (nonces made inside) and is
the only module of sealbox that calls them; :mod:`~sealbox.hazmat.kdf` derives keys
from passphrases (Argon2id, scrypt) with ceilings for parameters read from files;
:mod:`~sealbox.hazmat.bindings` hands age pyca's ChaCha20-Poly1305 and X25519 without
the modules around them (start-up time).
The recipes built on them — :class:`~sealbox.Keyring`, age, envelopes — are what
applications should use.

May import: third-party ``cryptography`` and ``argon2`` (argon2-cffi).
"""
