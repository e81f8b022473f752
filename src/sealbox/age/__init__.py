"""File encryption in the age v1 format (age-encryption.org/v1, C2SP ``age.md``).

Files made here open with ``age``, ``rage`` and ``pyrage``, and theirs open here.
One module per section of the specification:

=================  =====================================================
``format``         the header: stanzas, strict parsing, the header MAC
``stream``         the payload: STREAM, ChaCha20-Poly1305, 64 KiB chunks
``bech32``         key encoding
``armor``          ASCII armor (strict PEM)
``x25519``         ``age1…`` / ``AGE-SECRET-KEY-1…``
``scrypt``         passphrases
``ssh``            ``ssh-ed25519`` and ``ssh-rsa`` keys
``mlkem``          ``age1pq1…`` / ``AGE-SECRET-KEY-PQ-1…`` (ML-KEM-768 + X25519)
``keys``           recipient and identity strings and files
``files``          :class:`Encryptor`, :class:`Decryptor` and the path helpers
=================  =====================================================

Example::

    >>> from sealbox import age
    >>> me = age.X25519Identity.generate()
    >>> blob = age.encrypt(b"attack at dawn", [me.recipient()])
    >>> age.decrypt(blob, [me])
    b'attack at dawn'

May import: :mod:`sealbox._util`, :mod:`sealbox.hazmat` and third-party
``cryptography``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from sealbox._util.lazy import lazy_names

# Spelled out rather than imported from typing (start-up time); type checkers know it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from sealbox.age._base import Identity, Recipient
    from sealbox.age.files import (
        Decryptor,
        Encryptor,
        decrypt,
        decrypt_file,
        encrypt,
        encrypt_file,
    )
    from sealbox.age.info import FileInfo, inspect
    from sealbox.age.keys import (
        identity_file,
        load_identities,
        load_recipients,
        parse_identities,
        parse_identity,
        parse_recipient,
        parse_recipients,
        save_identity,
    )
    from sealbox.age.mlkem import HybridIdentity, HybridRecipient
    from sealbox.age.scrypt import ScryptIdentity, ScryptRecipient
    from sealbox.age.ssh import (
        SSHEd25519Identity,
        SSHEd25519Recipient,
        SSHRSAIdentity,
        SSHRSARecipient,
        load_ssh_identity,
    )
    from sealbox.age.x25519 import X25519Identity, X25519Recipient

__all__ = [
    "Decryptor",
    "Encryptor",
    "FileInfo",
    "HybridIdentity",
    "HybridRecipient",
    "Identity",
    "Recipient",
    "SSHEd25519Identity",
    "SSHEd25519Recipient",
    "SSHRSAIdentity",
    "SSHRSARecipient",
    "ScryptIdentity",
    "ScryptRecipient",
    "X25519Identity",
    "X25519Recipient",
    "decrypt",
    "decrypt_file",
    "encrypt",
    "encrypt_file",
    "identity_file",
    "inspect",
    "load_identities",
    "load_recipients",
    "load_ssh_identity",
    "parse_identities",
    "parse_identity",
    "parse_recipient",
    "parse_recipients",
    "save_identity",
]

# name -> module that defines it. Each name is imported on first use, so that a
# program (the command line above all) loads only the recipient types it meets.
_LAZY = {
    "Identity": "sealbox.age._base",
    "Recipient": "sealbox.age._base",
    **dict.fromkeys(
        [
            "Decryptor",
            "Encryptor",
            "decrypt",
            "decrypt_file",
            "encrypt",
            "encrypt_file",
        ],
        "sealbox.age.files",
    ),
    "FileInfo": "sealbox.age.info",
    "inspect": "sealbox.age.info",
    **dict.fromkeys(
        [
            "identity_file",
            "load_identities",
            "load_recipients",
            "parse_identities",
            "parse_identity",
            "parse_recipient",
            "parse_recipients",
            "save_identity",
        ],
        "sealbox.age.keys",
    ),
    "HybridIdentity": "sealbox.age.mlkem",
    "HybridRecipient": "sealbox.age.mlkem",
    "ScryptIdentity": "sealbox.age.scrypt",
    "ScryptRecipient": "sealbox.age.scrypt",
    **dict.fromkeys(
        [
            "SSHEd25519Identity",
            "SSHEd25519Recipient",
            "SSHRSAIdentity",
            "SSHRSARecipient",
            "load_ssh_identity",
        ],
        "sealbox.age.ssh",
    ),
    "X25519Identity": "sealbox.age.x25519",
    "X25519Recipient": "sealbox.age.x25519",
}

# Hidden from type checkers: a module ``__getattr__`` would type every misspelt name
# as Any; they see the names above (TYPE_CHECKING) and report any other.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_names(
        __name__,
        _LAZY,
        __all__,
        submodules=[
            "armor",
            "bech32",
            "files",
            "format",
            "keys",
            "mlkem",
            "scrypt",
            "ssh",
            "stream",
            "x25519",
        ],
    )
