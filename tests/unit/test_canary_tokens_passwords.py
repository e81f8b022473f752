"""Canaries: a password, a keyset passphrase or a signing key never shows up in logs,
reprs, exception messages, files in clear, or CLI output."""

from __future__ import annotations

import base64
import json
import logging
import traceback

import pytest

from sealbox.exceptions import SealboxError
from sealbox.hazmat import kdf
from sealbox.jwt import SigningKeySet, TokenVerifier, VerificationKey
from sealbox.passwords import PasswordHasher

PASSWORD = "CANARY-password-7f3a9c"
PASSPHRASE = "CANARY-passphrase-2b8e41"


def _forms(value: bytes) -> list[str]:
    """The ways a secret could be written out."""
    return [
        base64.urlsafe_b64encode(value).decode().rstrip("="),
        base64.b64encode(value).decode().rstrip("="),
        value.hex(),
    ]


def _private_material(keys: SigningKeySet) -> list[str]:
    doc = json.loads(keys.serialize_unencrypted())
    found = []
    for entry in doc["keys"]:
        jwk = entry["jwk"] or {}
        for member in ("d", "p", "q", "dp", "dq", "qi", "k"):
            if member in jwk:
                raw = base64.urlsafe_b64decode(jwk[member] + "==")
                found += [jwk[member], *_forms(raw)]
    assert found
    return found


def _all_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(getattr(exc, "hint", ""))


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def test_password_canary_library(logs):
    hasher = PasswordHasher("test")
    stored = hasher.hash(PASSWORD)
    failures = []
    for attempt in (
        lambda: hasher.verify(stored, PASSWORD + "x"),
        lambda: hasher.verify("garbage" + PASSWORD, PASSWORD),
        lambda: hasher.verify("$6$" + PASSWORD, PASSWORD),
        lambda: hasher.hash(PASSWORD * 100),
        lambda: hasher.verify_dummy(PASSWORD),
        lambda: hasher.verify("pbkdf2_sha256$1$s$" + PASSWORD, PASSWORD),
    ):
        with pytest.raises(SealboxError) as exc:
            attempt()
        failures.append(_all_text(exc.value))
    text = "\n".join([*failures, repr(hasher), logs.text, repr(hasher.verify(stored, PASSWORD))])
    assert "CANARY" not in text


def test_password_canary_cli(cli):
    stored = cli(["hash-password", "--profile", "test"], input=PASSWORD.encode()).out.strip()
    results = [
        cli(["verify-password", stored, "--profile", "test"], input=PASSWORD.encode()),
        cli(["verify-password", stored], input=PASSWORD.encode()),
        cli(["verify-password", stored], input=b"wrong" + PASSWORD.encode()),
        cli(["hash-password"], input=PASSWORD.encode() * 100),
    ]
    for result in results:
        assert "CANARY" not in result.out + result.stderr


def test_signing_key_canary_library(tmp_path, logs):
    keys = SigningKeySet.generate("RS256")
    keys.rotate("ES256")
    keys.rotate("EdDSA")
    keys.import_hmac_secret(b"CANARY-hmac-secret-0123456789abcdef", kid="h")
    secrets = [*_private_material(keys), "CANARY"]
    path = tmp_path / "k.jwt"
    keys.save(path, PASSPHRASE, kdf_params=kdf.ARGON2ID_TEST)
    on_disk = path.read_text()
    token = keys.issue("u", audience="api")
    shown = [
        repr(keys),
        repr(keys.keys()),
        json.dumps(keys.public_jwks()),
        token,
        on_disk,
        repr(keys.find("h")),
        repr(keys.verifier(audience="api")),
        repr(VerificationKey.from_jwk(keys.public_jwks()["keys"][0])),
    ]
    # Failures on the way in and out.
    errors = []
    tampered = json.loads(keys.serialize_unencrypted())
    tampered["keys"][0]["jwk"]["d"] = tampered["keys"][0]["jwk"]["d"][:-4] + "AAAA"
    tampered["keys"][0]["jwk"]["n"] = "AQAB"
    from sealbox.jwt import JWKSet

    for attempt in (
        lambda: SigningKeySet.load(path, "wrong " + PASSPHRASE),
        lambda: SigningKeySet.from_unencrypted(json.dumps(tampered).encode()),
        lambda: JWKSet.from_dict({"keys": [tampered["keys"][0]["jwk"]]}),
        lambda: TokenVerifier(keys, audience="other").verify(token),
        lambda: keys.verifier().verify(token[:-4] + "AAAA"),
    ):
        with pytest.raises(SealboxError) as exc:
            attempt()
        errors.append(_all_text(exc.value))
    everything = "\n".join([*shown, *errors, logs.text])
    for secret in secrets:
        assert secret not in everything
    assert PASSPHRASE not in everything


def test_signing_key_and_passphrase_canary_cli(cli, tmp_path):
    env = {"SEALBOX_PASSPHRASE": PASSPHRASE}
    path = tmp_path / "k.jwt"
    outputs = []

    def run(args, **kwargs):
        result = cli(args, env=env, **kwargs)
        outputs.append(result.out + result.stderr)
        return result

    run(["jwt", "keyset", "create", path, "--alg", "RS256"])
    run(["jwt", "keyset", "rotate", path, "--alg", "HS256"])
    run(["jwt", "keyset", "rotate", path, "--alg", "ES256"])
    run(["jwt", "keyset", "list", path])
    run(["jwt", "keyset", "list", path, "--json"])
    jwks = run(["jwt", "jwks", path]).out
    (tmp_path / "jwks.json").write_text(jwks)
    token = run(["jwt", "issue", path, "--sub", "u", "--aud", "api"]).out.strip()
    run(["jwt", "verify", "--jwks", tmp_path / "jwks.json", "--aud", "api", token])
    run(["jwt", "verify", "--keyset", path, token])
    run(["jwt", "inspect", token])
    run(["jwt", "keyset", "create", path])  # refused: exists
    cli(["jwt", "jwks", path], env={"SEALBOX_PASSPHRASE": "wrong"})
    keys = SigningKeySet.load(path, PASSPHRASE)
    everything = "\n".join(outputs) + path.read_text()
    for secret in [*_private_material(keys), PASSPHRASE]:
        assert secret not in everything
