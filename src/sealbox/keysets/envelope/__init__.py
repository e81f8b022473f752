"""Envelope encryption: a data key per object, wrapped by a key-encryption provider.

=============  ==============================================================
``cipher``     :class:`EnvelopeCipher`: encrypt, decrypt, rewrap; streams and files
``streams``    :class:`EnvelopeWriter`, :class:`EnvelopeReader`: envelopes as streams
``format``     the envelope bytes: header, wrapped key, data; the key blob
``providers``  :class:`KeyProvider`, :class:`KeyringProvider`, :class:`AgeProvider`
``vault``      :class:`VaultTransitProvider` (HashiCorp Vault Transit, through hvac)
=============  ==============================================================

Importing this package does not import hvac; the Vault provider loads it when
one is made.

Example::

    >>> from sealbox import Keyring
    >>> from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider
    >>> cipher = EnvelopeCipher(KeyringProvider(Keyring.generate()))
    >>> cipher.decrypt(cipher.encrypt(b"hello", b"ctx"), b"ctx")
    b'hello'

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from sealbox.keysets.envelope.cipher import (
    EnvelopeCipher,
    EnvelopeInfo,
    EnvelopeReader,
    EnvelopeWriter,
    inspect,
)
from sealbox.keysets.envelope.format import EnvelopeHeader, WrappedKey, parse_header
from sealbox.keysets.envelope.providers import AgeProvider, KeyProvider, KeyringProvider
from sealbox.keysets.envelope.vault import VaultTransitProvider

__all__ = [
    "AgeProvider",
    "EnvelopeCipher",
    "EnvelopeHeader",
    "EnvelopeInfo",
    "EnvelopeReader",
    "EnvelopeWriter",
    "KeyProvider",
    "KeyringProvider",
    "VaultTransitProvider",
    "WrappedKey",
    "inspect",
    "parse_header",
]
