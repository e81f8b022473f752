"""sealbox.jwt.keyset: generation, rotation with overlap, retirement, JWKS, sealed storage."""

from __future__ import annotations

import json
import os
import pickle
import stat
from datetime import UTC, datetime

import pytest

from sealbox.exceptions import (
    ConcurrentChangeError,
    ConfigError,
    DecryptionError,
    FormatError,
    KeyFormatError,
    KeyNotFoundError,
    KeyStateError,
    StorageError,
    TokenError,
    TokenExpiredError,
    UnsupportedAlgorithmError,
)
from sealbox.hazmat import kdf
from sealbox.hazmat.aead import AES256GCM
from sealbox.jwt import JWKSet, KeyStatus, SigningKeySet, TokenVerifier, decode_unverified
from sealbox.jwt.keyset import SEALED_FORMAT
from sealbox.keysets.lifecycle import KeyState
from sealbox.keysets.sealed import PassphraseSealer, Sealer

T0 = 1_700_000_000
PASS = "correct horse battery staple"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def rsa_keyset() -> SigningKeySet:
    return SigningKeySet.generate("RS256")


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "HS256"])
def test_generate_and_issue(alg):
    keys = SigningKeySet.generate(alg)
    assert len(keys) == 1
    info = keys.primary
    assert (info.alg, info.status, info.primary) == (alg, KeyStatus.ACTIVE, True)
    token = keys.issue("user-1", audience="api", now=T0)
    parsed = decode_unverified(token)
    assert parsed.header == {"alg": alg, "kid": info.kid, "typ": "at+jwt"}
    assert keys.verifier(audience="api", clock=lambda: T0).verify(token)["sub"] == "user-1"


def test_rs256(rsa_keyset):
    token = rsa_keyset.issue("u", now=T0)
    assert decode_unverified(token).header["alg"] == "RS256"
    assert rsa_keyset.verifier(clock=lambda: T0).verify(token)["sub"] == "u"


def test_unsupported_signing_algorithm():
    with pytest.raises(UnsupportedAlgorithmError, match="cannot sign with 'PS256'"):
        SigningKeySet.generate("PS256")
    with pytest.raises(ConfigError, match="rsa_key_size"):
        SigningKeySet.generate("RS256", rsa_key_size=1024)


def test_kid_is_the_rfc7638_thumbprint():
    # RFC 7638 §3.1 example key and thumbprint.
    from sealbox.jwt import VerificationKey
    from sealbox.jwt.keyset_file import thumbprint as _thumbprint

    key = VerificationKey.from_jwk(
        {
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1"
            "L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5"
            "v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08q"
            "NLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awa"
            "pJzKnqDKgw",
            "e": "AQAB",
        }
    )
    assert _thumbprint(key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_hmac_keys_get_random_ids():
    a, b = SigningKeySet.generate("HS256"), SigningKeySet.generate("HS256")
    assert a.primary.kid != b.primary.kid
    assert len(a.primary.kid) == 16


# -- rotation ------------------------------------------------------------------------------


def test_rotation_overlap_with_an_injected_clock():
    clock = Clock()
    keys = SigningKeySet.generate()
    verifier = keys.verifier(audience="api", clock=clock)
    old = keys.issue("u", audience="api", ttl=600, now=clock.now)
    old_kid = keys.primary.kid

    clock.now += 100
    new_info = keys.rotate()
    assert new_info.primary
    assert keys.primary.kid == new_info.kid != old_kid
    new = keys.issue("u", audience="api", ttl=600, now=clock.now)
    assert decode_unverified(new).header["kid"] == new_info.kid
    # Both keys are published and both tokens verify during the overlap.
    assert [k["kid"] for k in keys.public_jwks()["keys"]] == [new_info.kid, old_kid]
    clock.now += 400
    assert verifier.verify(old)["sub"] == "u"
    assert verifier.verify(new)["sub"] == "u"

    # The old token expires on its own schedule, long before its key is retired.
    clock.now = T0 + 600
    with pytest.raises(TokenExpiredError):
        verifier.verify(old)
    keys.retire(old_kid)
    assert [k["kid"] for k in keys.public_jwks()["keys"]] == [new_info.kid]
    with pytest.raises(TokenError, match="no active or decrypt-only key"):
        verifier.verify(old, now=T0 + 10)
    assert verifier.verify(new)["sub"] == "u"
    # And a verifier built from the published JWKS agrees.
    published = TokenVerifier(JWKSet.from_dict(keys.public_jwks()), audience="api", clock=clock)
    assert published.verify(new)["sub"] == "u"


def test_rotate_to_another_algorithm():
    keys = SigningKeySet.generate("EdDSA")
    keys.rotate("ES256")
    assert [k.alg for k in keys] == ["EdDSA", "ES256"]
    assert decode_unverified(keys.issue("u")).header["alg"] == "ES256"


def test_add_key_publishes_before_it_signs():
    keys = SigningKeySet.generate()
    first = keys.primary.kid
    staged = keys.add_key()
    assert not staged.primary
    assert staged.kid in {k["kid"] for k in keys.public_jwks()["keys"]}
    assert decode_unverified(keys.issue("u")).header["kid"] == first
    keys.set_primary(staged.kid)
    assert decode_unverified(keys.issue("u")).header["kid"] == staged.kid


def test_retire_rules():
    keys = SigningKeySet.generate()
    first = keys.primary.kid
    with pytest.raises(KeyStateError, match="primary key and cannot be retired") as exc:
        keys.retire(first)
    assert exc.value.hint == "rotate first so that another key signs"
    keys.rotate(now=datetime(2030, 1, 1, tzinfo=UTC))
    keys.retire(first, now=datetime(2030, 2, 1, tzinfo=UTC))
    keys.retire(first)  # twice: nothing happens
    info = next(k for k in keys if k.kid == first)
    assert info.state is KeyState.DESTROYED and info.status is KeyStatus.DESTROYED
    assert info.destroyed == info.retired == datetime(2030, 2, 1, tzinfo=UTC)
    with pytest.raises(KeyStateError, match="destroyed and cannot sign") as exc:
        keys.set_primary(first)
    assert exc.value.code == "key_not_usable"
    assert exc.value.facts == {"key_id": first, "state": "destroyed"}
    with pytest.raises(KeyNotFoundError, match="no key 'nope'"):
        keys.retire("nope")
    assert first in keys
    assert "nope" not in keys


def test_keys_are_listed_oldest_first_with_their_info():
    keys = SigningKeySet.generate(now=datetime(2030, 1, 1, tzinfo=UTC))
    keys.rotate(now=datetime(2030, 3, 1, tzinfo=UTC))
    listed = keys.keys()
    assert [k.created.month for k in listed] == [1, 3]
    assert listed[1].to_dict()["created"] == "2030-03-01T00:00:00Z"
    assert listed[1].to_dict()["primary"] is True


# -- issue ----------------------------------------------------------------------------------


def test_issue_sets_the_registered_claims():
    keys = SigningKeySet.generate()
    token = keys.issue(
        "user-1",
        audience=["api", "billing"],
        issuer="https://auth.example",
        ttl=60,
        scope=["read", "write"],
        claims={"client_id": "cli", "roles": ["admin"]},
        now=T0,
    )
    claims = decode_unverified(token).claims
    assert claims["iss"] == "https://auth.example"
    assert claims["sub"] == "user-1"
    assert claims["aud"] == ["api", "billing"]
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (T0, T0, T0 + 60)
    assert len(claims["jti"]) == 22
    assert claims["scope"] == "read write"
    assert claims["client_id"] == "cli"
    assert claims["roles"] == ["admin"]
    assert list(claims)[:8] == ["iss", "sub", "aud", "iat", "nbf", "exp", "jti", "scope"]


def test_issue_jti_is_unique_and_single_audience_is_a_string():
    keys = SigningKeySet.generate()
    a, b = (decode_unverified(keys.issue("u", audience=["api"])).claims for _ in range(2))
    assert a["jti"] != b["jti"]
    assert a["aud"] == "api"


def test_issue_scope_string_is_normalised():
    keys = SigningKeySet.generate()
    assert (
        decode_unverified(keys.issue("u", scope="  read   write ")).claims["scope"] == "read write"
    )


def test_issue_without_type_and_with_not_before():
    keys = SigningKeySet.generate()
    token = keys.issue("u", token_type=None, not_before=T0 + 5, now=T0)
    parsed = decode_unverified(token)
    assert "typ" not in parsed.header
    assert parsed.claims["nbf"] == T0 + 5
    # Another type gets its own header (and the first is not disturbed).
    assert decode_unverified(keys.issue("u", token_type="JWT")).header["typ"] == "JWT"
    assert decode_unverified(keys.issue("u")).header["typ"] == "at+jwt"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subject": ""}, "subject"),
        ({"ttl": 0}, "ttl"),
        ({"ttl": 1.5}, "ttl"),
        ({"ttl": True}, "ttl"),
        ({"audience": ""}, "audience"),
        ({"audience": []}, "audience"),
        ({"audience": ["a", ""]}, "audience"),
        ({"issuer": ""}, "issuer"),
        ({"scope": ["read write"]}, "scope"),
        ({"scope": [""]}, "scope"),
        ({"claims": {"exp": 1}}, "claims may not set exp"),
        ({"claims": {"sub": "admin", "aud": "x"}}, "claims may not set aud, sub"),
    ],
)
def test_issue_refuses_bad_arguments(kwargs, message):
    keys = SigningKeySet.generate()
    kwargs.setdefault("subject", "u")
    with pytest.raises(ConfigError, match=message):
        keys.issue(**kwargs)


def test_issue_with_a_claim_that_is_not_json():
    with pytest.raises(TypeError):
        SigningKeySet.generate().issue("u", claims={"when": datetime.now(UTC)})


def test_sign_signs_exactly_the_claims():
    keys = SigningKeySet.generate()
    token = keys.sign({"anything": 1}, token_type="JWT")
    assert decode_unverified(token).claims == {"anything": 1}


# -- the keyset as a key source -------------------------------------------------------------


def test_find():
    keys = SigningKeySet.generate()
    assert keys.find(keys.primary.kid).kid == keys.primary.kid
    assert keys.find(None).kid == keys.primary.kid  # the only key
    alg = keys.primary.alg
    assert keys.find(None, alg=alg).kid == keys.primary.kid
    keys.rotate()
    with pytest.raises(TokenError, match=r"no key id.*the keyset holds 2 keys"):
        keys.find(None)
    with pytest.raises(TokenError, match=rf"no key id.*the keyset holds 2 keys for {alg}:") as info:
        keys.find(None, alg=alg)
    assert (info.value.code, info.value.facts) == ("kid_needed", {"keys": "2", "alg": alg})


def test_find_without_kid_takes_the_one_key_of_the_tokens_algorithm():
    keys = SigningKeySet.generate("EdDSA")
    old = keys.primary.kid
    new = keys.rotate("ES256").kid
    assert keys.find(None, alg="ES256").kid == new
    assert keys.find(None, alg="EdDSA").kid == old
    with pytest.raises(TokenError, match="no key of the keyset verifies RS256"):
        keys.find(None, alg="RS256")
    with pytest.raises(TokenError, match="no active or decrypt-only key"):
        keys.find("unknown")


def test_public_jwks_never_holds_secrets():
    keys = SigningKeySet.generate()
    secret = os.urandom(32)
    keys.import_hmac_secret(secret, kid="legacy")
    jwks = keys.public_jwks()
    assert [k["kty"] for k in jwks["keys"]] == ["OKP"]
    text = json.dumps(jwks)
    for member in ('"d"', '"k"', '"p"', '"q"'):
        assert member not in text
    assert jwks["keys"][0]["use"] == "sig"
    assert jwks["keys"][0]["alg"] == "EdDSA"


def test_import_hmac_secret_verifies_tokens_with_its_kid():
    secret = os.urandom(32)
    keys = SigningKeySet.generate()
    info = keys.import_hmac_secret(secret, kid="legacy")
    assert info.alg == "HS256"
    assert not info.primary
    with pytest.raises(ConfigError, match="already has a key 'legacy'"):
        keys.import_hmac_secret(secret, kid="legacy")
    other = SigningKeySet.generate("HS256")
    other.import_hmac_secret(secret, kid="legacy", primary=True)
    token = other.issue("u", now=T0)
    assert keys.verifier(clock=lambda: T0).verify(token)["sub"] == "u"


# -- storage ---------------------------------------------------------------------------------


def test_encrypt_decrypt_round_trip():
    keys = SigningKeySet.generate()
    keys.rotate("ES256")
    keys.import_hmac_secret(os.urandom(40), kid="h")
    old_kid = keys.keys()[0].kid
    keys.rotate()
    keys.retire(old_kid)
    sealed = keys.encrypt(PASS, kdf_params=kdf.ARGON2ID_TEST)
    doc = json.loads(sealed)
    assert doc["format"] == SEALED_FORMAT
    assert set(doc) == {"format", "kdf", "cipher", "data"}
    again = SigningKeySet.decrypt(sealed, PASS)
    assert [k.to_dict() for k in again] == [k.to_dict() for k in keys]
    assert again.primary == keys.primary
    token = keys.issue("u", now=T0)
    assert again.verifier(clock=lambda: T0).verify(token)["sub"] == "u"
    assert again.serialize_unencrypted() == keys.serialize_unencrypted()


def test_wrong_passphrase_and_tampering():
    sealed = SigningKeySet.generate().encrypt(PASS, kdf_params=kdf.ARGON2ID_TEST)
    with pytest.raises(DecryptionError, match="wrong passphrase"):
        SigningKeySet.decrypt(sealed, "wrong")
    doc = json.loads(sealed)
    doc["kdf"]["time_cost"] = 2
    with pytest.raises(DecryptionError):
        SigningKeySet.decrypt(json.dumps(doc).encode(), PASS)
    doc = json.loads(sealed)
    doc["data"] = doc["data"][:-4] + ("AAAA" if doc["data"][-4:] != "AAAA" else "BBBB")
    with pytest.raises(DecryptionError):
        SigningKeySet.decrypt(json.dumps(doc).encode(), PASS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "not JSON"),
        (b'{"format": "sealbox-keyring-sealed/1"}', "'format' must be"),
        (b"[]", "'format' must be"),
    ],
)
def test_decrypt_refuses_other_files(data, message):
    with pytest.raises(FormatError, match=message):
        SigningKeySet.decrypt(data, PASS)


def test_kdf_ceiling_applies_to_keyset_files():
    doc = json.loads(SigningKeySet.generate().encrypt(PASS, kdf_params=kdf.ARGON2ID_TEST))
    doc["kdf"]["memory_cost"] = 64 * 1024 * 1024
    with pytest.raises(FormatError, match="exceed the accepted maximum"):
        SigningKeySet.decrypt(json.dumps(doc).encode(), PASS)


def test_save_and_load(tmp_path):
    path = tmp_path / "keys.jwt"
    keys = SigningKeySet.generate()
    keys.save(path, PASS, kdf_params=kdf.ARGON2ID_TEST)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SigningKeySet.load(path, PASS).primary == keys.primary
    with pytest.raises(StorageError, match="already exists"):
        keys.save(path, PASS, kdf_params=kdf.ARGON2ID_TEST, overwrite=False)
    with pytest.raises(StorageError, match="does not exist"):
        SigningKeySet.load(tmp_path / "missing", PASS)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".keys.jwt.lock",
        "keys.jwt",
    ]  # no temp files


def test_save_needs_exactly_one_protection(tmp_path):
    keys = SigningKeySet.generate()
    with pytest.raises(TypeError, match="exactly one"):
        keys.save(tmp_path / "k")
    with pytest.raises(TypeError, match="exactly one"):
        keys.save(tmp_path / "k", PASS, sealer=PassphraseSealer(PASS, format="x"))


def test_save_refuses_a_keyset_too_large_to_load_again_and_keeps_the_file(tmp_path, monkeypatch):
    # A keyset that grew past what load() reads back used to be written all the
    # same, and could then never be loaded: every key in it lost.
    path = tmp_path / "keys.jwt"
    keys = SigningKeySet.generate("HS256")
    keys.save(path, PASS, kdf_params=kdf.ARGON2ID_TEST)
    before = path.read_bytes()
    monkeypatch.setattr("sealbox.jwt.keyset_store.MAX_FILE_SIZE", len(before) + 200)
    for _ in range(5):
        keys.rotate()
    with pytest.raises(StorageError, match=r"more than the \d+ sealbox reads back") as caught:
        keys.save(path, PASS, kdf_params=kdf.ARGON2ID_TEST)
    assert "destroy the keys no longer needed" in (caught.value.hint or "")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".keys.jwt.lock", "keys.jwt"]
    assert len(SigningKeySet.load(path, PASS)) == 1


def test_saving_over_a_keyset_it_was_not_read_from_with_another_passphrase_says_so(tmp_path):
    path = tmp_path / "keys.jwt"
    SigningKeySet.generate().save(path, PASS, kdf_params=kdf.ARGON2ID_TEST)
    before = path.read_bytes()
    with pytest.raises(ConcurrentChangeError, match="cannot be opened with this passphrase") as e:
        SigningKeySet.generate().save(path, "another passphrase", kdf_params=kdf.ARGON2ID_TEST)
    assert "another writer" not in str(e.value)
    assert "merge=False" in (e.value.hint or "")
    assert path.read_bytes() == before


class RawKeySealer:
    """A sealer with a raw AES key, standing in for age recipients: the seam works."""

    def __init__(self, key: bytes) -> None:
        self._aead = AES256GCM(key)

    def seal(self, plaintext: bytes) -> bytes:
        return b"RAW1" + self._aead.encrypt(plaintext, b"keyset")

    def open(self, data: bytes) -> bytes:
        if not data.startswith(b"RAW1"):
            raise FormatError("not a raw-key file")
        return self._aead.decrypt(data[4:], b"keyset")


def test_another_sealer_plugs_in(tmp_path):
    sealer = RawKeySealer(os.urandom(32))
    assert isinstance(sealer, Sealer)
    keys = SigningKeySet.generate()
    keys.save(tmp_path / "k", sealer=sealer)
    assert (tmp_path / "k").read_bytes().startswith(b"RAW1")
    assert SigningKeySet.load(tmp_path / "k", sealer=sealer).primary == keys.primary
    with pytest.raises(FormatError):
        SigningKeySet.load(tmp_path / "k", PASS)


def _doc(keys: SigningKeySet) -> dict:
    return json.loads(keys.serialize_unencrypted())


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda d: d.update(format="x"), FormatError, "'format' must be"),
        (lambda d: d.update(keys=[]), FormatError, "no keys"),
        (lambda d: d.update(primary=7), FormatError, "'primary' must be a key id"),
        (lambda d: d.update(primary="other"), FormatError, "primary key must be"),
        (lambda d: d["keys"].append(dict(d["keys"][0])), FormatError, "same kid"),
        (lambda d: d["keys"][0].update(kid=""), FormatError, "kid must be"),
        (lambda d: d["keys"][0].update(alg="none"), UnsupportedAlgorithmError, "'none'"),
        (lambda d: d["keys"][0].update(state="paused"), FormatError, "state"),
        (lambda d: d["keys"][0].update(state="disabled"), FormatError, "primary key must be"),
        (lambda d: d["keys"][0].update(created="yesterday"), FormatError, "RFC 3339"),
        (lambda d: d["keys"][0].update(created="2030-01-01T00:00:00"), FormatError, "time zone"),
        (lambda d: d["keys"][0].update(jwk=None), KeyFormatError, "private JWK"),
        (lambda d: d["keys"][0]["jwk"].pop("d"), KeyFormatError, "private JWK"),
        (lambda d: d["keys"][0]["jwk"].update(d="AAAA"), KeyFormatError, "not a valid EdDSA"),
        (lambda d: d["keys"][0].update(state="destroyed"), FormatError, "destroyed but still"),
        (lambda d: d.update(keys=["x"]), FormatError, "must be an object"),
    ],
)
def test_from_unencrypted_errors(change, error, message):
    doc = _doc(SigningKeySet.generate())
    change(doc)
    with pytest.raises(error, match=message) as exc:
        SigningKeySet.from_unencrypted(json.dumps(doc).encode())
    private = _doc(SigningKeySet.generate())["keys"][0]["jwk"]["d"]
    assert private not in str(exc.value)


def test_from_unencrypted_refuses_a_short_hmac_key():
    doc = _doc(SigningKeySet.generate("HS256"))
    doc["keys"][0]["jwk"]["k"] = "c2hvcnQ"
    with pytest.raises(KeyFormatError, match="not a usable HS256"):
        SigningKeySet.from_unencrypted(json.dumps(doc).encode())


def test_from_unencrypted_refuses_a_p384_key_as_es256():
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    doc = _doc(SigningKeySet.generate("ES256"))
    doc["keys"][0]["jwk"] = ECAlgorithm.to_jwk(
        ec.generate_private_key(ec.SECP384R1()), as_dict=True
    )
    with pytest.raises(KeyFormatError, match="not a valid ES256 private key"):
        SigningKeySet.from_unencrypted(json.dumps(doc).encode())


def test_from_unencrypted_not_json():
    with pytest.raises(FormatError, match="not valid JSON"):
        SigningKeySet.from_unencrypted(b"\xff")


# -- secrets stay inside ------------------------------------------------------------------------


def test_repr_and_pickle():
    keys = SigningKeySet.generate("HS256")
    kid = keys.primary.kid
    assert repr(keys) == f"SigningKeySet(active=[{kid}:HS256*])"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(keys)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(keys.find(kid))


def test_keys_made_in_the_same_second_keep_their_order():
    when = datetime(2030, 1, 1, tzinfo=UTC)
    keys = SigningKeySet.generate("ES256", now=when)
    for alg in ("EdDSA", "HS256", "ES256", "EdDSA"):
        keys.rotate(alg, now=when)
    assert [k.alg for k in keys] == ["ES256", "EdDSA", "HS256", "ES256", "EdDSA"]
    again = SigningKeySet.from_unencrypted(keys.serialize_unencrypted())
    assert [k.kid for k in again] == [k.kid for k in keys]


def _in_old_words(keys: SigningKeySet) -> bytes:
    # A keyset document as sealbox wrote it before the shared vocabulary: "status"
    # active for every key that verifies, retired (with a "retired" time) when erased.
    doc = json.loads(keys.serialize_unencrypted())
    for key in doc["keys"]:
        state = key.pop("state")
        key["status"] = "retired" if state == "destroyed" else "active"
        key["retired"] = key.pop("destroyed")
    return json.dumps(doc).encode()


def test_a_keyset_file_in_the_old_words_loads_in_the_new_ones(tmp_path):
    keys = SigningKeySet.generate(now=datetime(2030, 1, 1, tzinfo=UTC))
    gone = keys.primary.kid
    keys.rotate(now=datetime(2030, 1, 2, tzinfo=UTC))
    older = keys.primary.kid
    token = keys.issue("u", now=1_900_000_000)
    keys.rotate(now=datetime(2030, 1, 3, tzinfo=UTC))
    newest = keys.primary.kid
    keys.retire(gone, now=datetime(2030, 2, 1, tzinfo=UTC))
    path = tmp_path / "old.keyset"
    sealer = PassphraseSealer("old words", format=SEALED_FORMAT, what="keyset")
    path.write_bytes(sealer.seal(_in_old_words(keys)))
    assert b'"retired"' in sealer.open(path.read_bytes())

    loaded = SigningKeySet.load(path, "old words")
    assert {k.kid: k.state for k in loaded} == {
        gone: KeyState.DESTROYED,
        older: KeyState.DECRYPT_ONLY,
        newest: KeyState.ACTIVE,
    }
    assert next(k for k in loaded if k.kid == gone).destroyed == datetime(2030, 2, 1, tzinfo=UTC)
    assert loaded.verifier().verify(token, now=1_900_000_001)["sub"] == "u"


def test_saving_a_keyset_writes_the_new_words_only(tmp_path):
    keys = SigningKeySet.from_unencrypted(_in_old_words(_rotated_twice()))
    path = tmp_path / "new.keyset"
    keys.save(path, "new words", kdf_params=kdf.ARGON2ID_TEST)
    plain = PassphraseSealer("new words", format=SEALED_FORMAT, what="keyset").open(
        path.read_bytes()
    )
    written = json.loads(plain)["keys"]
    assert sorted(k["state"] for k in written) == ["active", "decrypt-only", "decrypt-only"]
    assert all("status" not in k and "retired" not in k for k in written)


def _rotated_twice() -> SigningKeySet:
    keys = SigningKeySet.generate()
    keys.rotate()
    keys.rotate()
    return keys


def test_a_disabled_key_neither_verifies_nor_is_published_until_enabled():
    keys = SigningKeySet.generate()
    old = keys.primary.kid
    token = keys.issue("u")
    keys.rotate()
    keys.disable(old)
    assert [k["kid"] for k in keys.public_jwks()["keys"]] == [keys.primary.kid]
    with pytest.raises(TokenError):
        keys.verifier().verify(token)
    keys.enable(old)
    assert {k.kid: k.state for k in keys}[old] is KeyState.DECRYPT_ONLY
    assert keys.verifier().verify(token)["sub"] == "u"


def test_a_staged_key_is_decrypt_only_until_it_is_made_primary():
    keys = SigningKeySet.generate()
    first = keys.primary.kid
    staged = keys.add_key()
    assert staged.state is KeyState.DECRYPT_ONLY and not staged.primary
    keys.set_primary(staged.kid)
    assert {k.kid: k.state for k in keys} == {
        first: KeyState.DECRYPT_ONLY,
        staged.kid: KeyState.ACTIVE,
    }
