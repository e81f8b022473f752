"""The SSHSIG vector printed in docs/formats.md, checked against sealbox and a hand computation."""

from __future__ import annotations

import base64
import hashlib
import struct

from cryptography.hazmat.primitives.asymmetric import ed25519

from sealbox.keys import sshsig
from sealbox.keys.asymmetric import PrivateKey
from tests.vectors.test_formats_doc import doc_vectors


def _string(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def test_sshsig_vector() -> None:
    (vector,) = doc_vectors("sshsig")
    seed = bytes.fromhex(vector["ed25519_seed"])
    message = vector["message"].encode()
    namespace = vector["namespace"]

    # sealbox makes exactly the printed signature, and verifies it.
    key = PrivateKey.from_raw("ed25519", seed)
    assert sshsig.sign(key, message, namespace=namespace).armor() == vector["signature"]
    sshsig.verify(vector["signature"], message, namespace=namespace, public_key=key.public_key)

    # The same bytes built by hand from PROTOCOL.sshsig with plain pyca calls.
    pyca = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    public = pyca.public_key().public_bytes_raw()
    key_blob = _string(b"ssh-ed25519") + _string(public)
    signed = (
        b"SSHSIG"
        + _string(namespace.encode())
        + _string(b"")
        + _string(b"sha512")
        + _string(hashlib.sha512(message).digest())
    )
    inner = _string(b"ssh-ed25519") + _string(pyca.sign(signed))
    blob = (
        b"SSHSIG"
        + struct.pack(">I", 1)
        + _string(key_blob)
        + _string(namespace.encode())
        + _string(b"")
        + _string(b"sha512")
        + _string(inner)
    )
    body = base64.b64encode(blob).decode()
    lines = [body[i : i + 70] for i in range(0, len(body), 70)]
    armor = "\n".join(["-----BEGIN SSH SIGNATURE-----", *lines, "-----END SSH SIGNATURE-----"])
    assert armor + "\n" == vector["signature"]
