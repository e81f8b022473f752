"""Public-key material: generation, PEM/PKCS#8 and OpenSSH files, encryption and signatures.

- :mod:`~sealbox.keys.asymmetric`: :class:`PublicKey` and :class:`PrivateKey` for RSA,
  Ed25519, X25519 and ECDSA P-256, and hybrid public-key encryption through age; the
  classes call one module per job:
- :mod:`~sealbox.keys.kinds`: the key types and the sizes accepted;
  :mod:`~sealbox.keys.generate`: new keys, and keys from raw bytes;
- :mod:`~sealbox.keys.serialize`: PEM/PKCS#8 and OpenSSH key files, read and written;
  :mod:`~sealbox.keys.pair`: a private key file and its ``.pub`` written as a pair;
  :mod:`~sealbox.keys.pkcs8`: the one encrypted-PKCS#8 writer and the KDF ceilings for
  key files read; :mod:`~sealbox.keys.sshwire`: RFC 4251 wire encoding;
- :mod:`~sealbox.keys.sign`: RSA-PSS, Ed25519 and ECDSA signatures;
  :mod:`~sealbox.keys.encrypt`: RSA-OAEP, X25519 agreement, hybrid encryption;
- :mod:`~sealbox.keys.sshsig`: SSHSIG detached file signatures (``ssh-keygen -Y``).

``sealbox.asymmetric``, the old path, still imports (it is this package).

May import: :mod:`sealbox.exceptions`, :mod:`sealbox.secret`, :mod:`sealbox._util`,
:mod:`sealbox.hazmat`, :mod:`sealbox.age` (hybrid encryption) and third-party
``cryptography`` and ``bcrypt``.
"""

from __future__ import annotations

from sealbox.keys.asymmetric import (
    MAX_KEY_FILE_SIZE,
    OPENSSH_BCRYPT_MAX_ROUNDS,
    OPENSSH_BCRYPT_ROUNDS,
    PKCS8_SCRYPT,
    PSS_SALT_LENGTH,
    RSA_DEFAULT_BITS,
    RSA_MAX_BITS,
    RSA_MIN_BITS,
    KeyFileFormat,
    KeyType,
    Passphrase,
    PassphraseSource,
    PrivateKey,
    PublicKey,
    decrypt_hybrid,
    encrypt_hybrid,
    oaep_max_plaintext,
)

__all__ = [
    "MAX_KEY_FILE_SIZE",
    "OPENSSH_BCRYPT_MAX_ROUNDS",
    "OPENSSH_BCRYPT_ROUNDS",
    "PKCS8_SCRYPT",
    "PSS_SALT_LENGTH",
    "RSA_DEFAULT_BITS",
    "RSA_MAX_BITS",
    "RSA_MIN_BITS",
    "KeyFileFormat",
    "KeyType",
    "Passphrase",
    "PassphraseSource",
    "PrivateKey",
    "PublicKey",
    "decrypt_hybrid",
    "encrypt_hybrid",
    "oaep_max_plaintext",
]
