"""Code a user of sealbox writes, checked with ``mypy --strict`` (never imported).

tests/unit/test_public_typing.py type-checks it and reads the ``reveal_type`` notes: each
call below must have a precise type, not ``Any``.
"""

from __future__ import annotations

import os
from typing import reveal_type

from sealbox import Keyring, PasswordHasher, Secret, SigningKeySet, age
from sealbox.integrations.fastapi import BearerAuth, Caller, RemoteJWKS, accounts_bearer
from sealbox.transit import TransitClient


def keyring_round_trip(ring: Keyring) -> bytes:
    token = ring.seal(b"card 4111", associated_data=b"order:42")
    reveal_type(Keyring.generate())  # R:keyring
    reveal_type(token)  # R:seal
    reveal_type(ring.seal_text("card 4111"))  # R:seal_text
    reveal_type(ring.open(token, associated_data=b"order:42"))  # R:open
    return ring.open(token, associated_data=b"order:42")


def age_round_trip(data: bytes) -> bytes:
    identity = age.X25519Identity.generate()
    sealed = age.encrypt(data, [identity.recipient()])
    reveal_type(sealed)  # R:age_encrypt
    reveal_type(age.decrypt(sealed, [identity]))  # R:age_decrypt
    age.encrypt_file("in.bin", os.fspath("out.age"), [identity.recipient()])
    return age.decrypt(sealed, [identity])


def passwords(hasher: PasswordHasher, stored: str, typed: Secret[str]) -> bool:
    check = hasher.verify(stored, typed)
    reveal_type(check)  # R:verify
    reveal_type(hasher.hash(typed))  # R:hash
    return check.needs_rehash


def tokens(keys: SigningKeySet) -> str:
    token = keys.issue("alice", audience="sealbox", issuer="sealbox", ttl=300)
    reveal_type(token)  # R:issue
    verifier = keys.verifier(audience="sealbox", issuer="sealbox")
    reveal_type(verifier.verify(token))  # R:token_verify
    return token


def transit(client: TransitClient) -> bool:
    sealed = client.encrypt("orders", b"card 4111", associated_data=b"order:42")
    reveal_type(sealed)  # R:transit_encrypt
    reveal_type(client.decrypt("orders", sealed, associated_data=b"order:42"))  # R:decrypt
    signature = client.sign("releases", b"release 1.2")
    reveal_type(client.verify("releases", b"release 1.2", signature))  # R:transit_verify
    return client.verify("releases", b"release 1.2", signature)


def bearers(bearer: BearerAuth[Caller], issuer: RemoteJWKS) -> None:
    reveal_type(accounts_bearer)  # R:accounts_bearer
    reveal_type(bearer.verify)  # R:bearer_verify
    reveal_type(BearerAuth(issuer))  # R:remote_bearer
