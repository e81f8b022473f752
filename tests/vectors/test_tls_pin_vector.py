"""The pin vector written in docs/formats.md, checked by sealbox and by a plain hash."""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography.hazmat.primitives import serialization

from sealbox.tls.pinning import parse_pin, spki_pin
from tests.conftest import ROOT


def test_pin_vector_in_formats_doc():
    text = (ROOT / "docs" / "formats.md").read_text()
    section = text[text.index("## TLS: CA folder, certificate files and pins") :]
    pem = re.search(r"```pem\n(.*?)```", section, re.S).group(1).encode()
    expected = re.search(r"pin: `(sha256//[A-Za-z0-9+/=]+)`", section).group(1)
    key = serialization.load_pem_public_key(pem)
    assert spki_pin(key) == expected
    der = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
    assert parse_pin(expected) == hashlib.sha256(der).digest()
