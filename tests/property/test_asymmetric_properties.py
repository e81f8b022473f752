"""Properties of sealbox.keys.asymmetric and sealbox.keys.sshsig over generated inputs."""

from __future__ import annotations

import io
import re

from hypothesis import given
from hypothesis import strategies as st

from sealbox.exceptions import InvalidSignatureError, SignerNotAllowedError
from sealbox.keys import allowed_signers, sshsig
from sealbox.keys.asymmetric import PrivateKey, oaep_max_plaintext

KEYS = {
    "rsa": PrivateKey.generate("rsa", bits=2048),
    "ed25519": PrivateKey.generate("ed25519"),
    "ecdsa-p256": PrivateKey.generate("ecdsa"),
}
kinds = st.sampled_from(sorted(KEYS))
# A namespace is one line of printable text (others are refused: test_sign_namespace).
namespaces = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")),
    min_size=1,
    max_size=40,
).filter(str.isprintable)


@given(kinds, st.binary(max_size=2048), st.binary(min_size=1, max_size=16))
def test_sign_verify_and_any_change_fails(kind: str, data: bytes, suffix: bytes) -> None:
    key = KEYS[kind]
    signature = key.sign(data)
    key.public_key.verify(signature, data)
    try:
        key.public_key.verify(signature, data + suffix)
    except InvalidSignatureError:
        pass
    else:
        raise AssertionError("a signature verified over other data")


@given(st.data())
def test_oaep_round_trip_up_to_the_limit(data: st.DataObject) -> None:
    key = KEYS["rsa"]
    plaintext = data.draw(st.binary(max_size=oaep_max_plaintext(key.bits)))
    label = data.draw(st.binary(max_size=32))
    assert key.decrypt(key.public_key.encrypt(plaintext, label=label), label=label) == plaintext


@given(kinds, namespaces, st.binary(max_size=4096))
def test_sshsig_armor_parse_verify(kind: str, namespace: str, data: bytes) -> None:
    key = KEYS[kind]
    sig = sshsig.sign(key, io.BytesIO(data), namespace=namespace)
    parsed = sshsig.SSHSignature.parse(sig.armor())
    assert parsed == sig
    assert sshsig.SSHSignature.from_blob(sig.blob()) == sig
    sshsig.verify(parsed, data, namespace=namespace, public_key=key.public_key)
    try:
        sshsig.verify(parsed, data, namespace=namespace + "x", public_key=key.public_key)
    except SignerNotAllowedError:
        pass
    else:
        raise AssertionError("a signature verified for another namespace")


def _reference(text: str, pattern: str) -> bool:
    # ssh's match_pattern: '*' any run, '?' one character, everything else literal.
    regex = "".join({"*": ".*", "?": "."}.get(c, re.escape(c)) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


@given(
    st.text(alphabet="ab@.x", max_size=8),
    st.lists(st.text(alphabet="ab@.x*?!", min_size=1, max_size=6), min_size=1, max_size=4),
)
def test_pattern_list_semantics(text: str, patterns: list[str]) -> None:
    positive = [p for p in patterns if not p.startswith("!")]
    negative = [p[1:] for p in patterns if p.startswith("!")]
    expected = any(_reference(text, p) for p in positive) and not any(
        _reference(text, p) for p in negative
    )
    assert allowed_signers._match_list(text, ",".join(patterns)) is expected
