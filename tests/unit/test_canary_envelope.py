"""Canaries: no plaintext, data key or key material in logs, reprs, errors or pickles."""

from __future__ import annotations

import base64
import io
import json
import logging
import pickle

import pytest

from sealbox import age
from sealbox.exceptions import SealboxError
from sealbox.keysets.envelope import (
    AgeProvider,
    EnvelopeCipher,
    KeyringProvider,
    inspect,
    parse_header,
)
from sealbox.keysets.envelope.providers import WRAP_ASSOCIATED_DATA
from sealbox.keysets.keyring import Keyring

CANARY = b"canary-envelope-secret-4be1d07c"


def _forms(secret: bytes) -> list[str]:
    forms = [secret.hex(), base64.b64encode(secret).decode().rstrip("=")]
    forms.append(base64.urlsafe_b64encode(secret).decode().rstrip("="))
    try:
        forms.append(secret.decode())
    except UnicodeDecodeError:
        pass
    return [f for f in forms if len(f) >= 8]


def test_nothing_secret_leaks(caplog, tmp_path) -> None:
    caplog.set_level(logging.DEBUG)
    ring = Keyring.generate()
    me = age.X25519Identity.generate()
    keyring_cipher = EnvelopeCipher(KeyringProvider(ring))
    age_cipher = EnvelopeCipher(AgeProvider([me.recipient()], [me]), decrypt_with=[])
    env = keyring_cipher.encrypt(CANARY, b"ctx")
    data_key = ring.open(parse_header(env)[0].wrapped.ciphertext, WRAP_ASSOCIATED_DATA)[:32]
    material = [
        base64.urlsafe_b64decode(k["material"] + "==")
        for k in json.loads(ring.serialize_unencrypted())["keys"]
    ]
    out = io.BytesIO()
    writer = keyring_cipher.encryptor(out, b"ctx")
    writer.write(CANARY)
    texts = [repr(writer)]
    writer.close()
    reader = keyring_cipher.decryptor(io.BytesIO(out.getvalue()), b"ctx")
    texts += [repr(reader), repr(reader.header), repr(reader.header.wrapped)]
    reader.close()

    errors: list[SealboxError] = []
    attempts = [
        lambda: keyring_cipher.decrypt(env, b"other"),
        lambda: keyring_cipher.decrypt(env[:-3], b"ctx"),
        lambda: keyring_cipher.decrypt(b"sbe\x09" + env[4:]),
        lambda: EnvelopeCipher(KeyringProvider(Keyring.generate())).decrypt(env, b"ctx"),
        lambda: age_cipher.decrypt(age_cipher.encrypt(CANARY, b"a"), b"b"),
        lambda: EnvelopeCipher(AgeProvider(identities=[age.X25519Identity.generate()])).decrypt(
            age_cipher.encrypt(CANARY)
        ),
        lambda: keyring_cipher.decryptor(io.BytesIO(out.getvalue()[:-1]), b"ctx").read(),
    ]
    for attempt in attempts:
        with pytest.raises(SealboxError) as info:
            attempt()
        errors.append(info.value)
    texts += [f"{e!s} | {e!r} | {e.hint}" for e in errors]
    texts += [repr(keyring_cipher), repr(age_cipher), repr(inspect(env)), str(inspect(env))]
    texts += [json.dumps(inspect(env).to_dict()), caplog.text]
    secrets = [CANARY, data_key, *material]
    for text in texts:
        for secret in secrets:
            for form in _forms(secret):
                assert form not in text, (form, text)
        assert "AGE-SECRET-KEY" not in text


def test_providers_and_ciphers_refuse_pickling() -> None:
    ring = Keyring.generate()
    me = age.X25519Identity.generate()
    for obj in (
        KeyringProvider(ring),
        EnvelopeCipher(KeyringProvider(ring)),
        AgeProvider([me.recipient()], [me]),
    ):
        with pytest.raises(TypeError):
            pickle.dumps(obj)
