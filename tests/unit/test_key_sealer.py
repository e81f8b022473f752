"""KeySealer: small documents sealed under a random key, the format name bound to them."""

from __future__ import annotations

import json
import os

import pytest

from sealbox.exceptions import DecryptionError, FormatError
from sealbox.keysets.key_sealer import KeySealer
from sealbox.keysets.sealed import Sealer


def test_a_sealed_document_opens_under_its_key_and_format_only() -> None:
    key = os.urandom(32)
    sealer = KeySealer(key, "test-doc/1", what="test document", key_name="master key")
    assert isinstance(sealer, Sealer)
    sealed = sealer.seal(b"payload")
    doc = json.loads(sealed)
    assert doc["format"] == "test-doc/1" and doc["cipher"] == "aes-256-gcm"
    assert b"payload" not in sealed
    assert sealer.open(sealed) == b"payload"
    with pytest.raises(DecryptionError, match="cannot open the test document: wrong master key"):
        KeySealer(os.urandom(32), "test-doc/1", what="test document", key_name="master key").open(
            sealed
        )
    # The format name is the associated data: relabelling the document breaks it.
    relabelled = json.dumps({**doc, "format": "other/1"}).encode()
    with pytest.raises(DecryptionError):
        KeySealer(key, "other/1").open(relabelled)
    with pytest.raises(FormatError):
        sealer.open(relabelled)
    with pytest.raises(FormatError):
        sealer.open(b"not json")
    assert "test-doc/1" in repr(sealer) and key.hex() not in repr(sealer)
