"""The key type registry is the one list of transit key types: everything else reads it."""

from __future__ import annotations

import re
import typing

import pytest

from sealbox.exceptions import UnsupportedAlgorithmError
from sealbox.transit import (
    ENCRYPTION_TYPES,
    HMAC_TYPES,
    KEY_TYPES,
    OPERATIONS,
    REGISTRY,
    SIGNING_TYPES,
    Family,
    TransitKey,
    UnknownKeyTypeError,
    key_type,
    parse_versioned,
)
from sealbox.transit.registry import VAULT_HASHES, check_hmac_algorithm, check_sign_options
from tests.conftest import ROOT

_KEYS: dict[str, TransitKey] = {}


def key_of(name: str) -> TransitKey:
    """One generated key per type for the module (RSA generation is slow)."""
    if name not in _KEYS:
        _KEYS[name] = TransitKey.generate("k", name)
    return _KEYS[name]


def _exercise(key: TransitKey, operation: str) -> None:
    """Run ``operation`` on ``key`` the way its family uses it, checking the result."""
    family = key.spec.family
    if operation == "encrypt":
        text, _ = key.encrypt(b"data", b"ad")
        assert key.decrypt(text, b"ad") == b"data"
    elif operation == "decrypt":
        assert key.decrypt(key.encrypt(b"x", b"")[0], b"") == b"x"
    elif operation == "rewrap":
        assert key.decrypt(key.rewrap(key.encrypt(b"x", b"")[0])[0]) == b"x"
    elif operation == "datakey":
        data_key, text, _ = key.datakey(256)
        assert key.decrypt(text) == data_key
    elif operation == "sign":
        assert key.verify(b"m", key.sign(b"m")[0])
    elif operation == "hmac":
        assert key.verify_hmac(b"m", key.hmac(b"m")[0])
    elif operation == "verify" and family is Family.SIGNATURE:
        assert not key.verify(b"other", key.sign(b"m")[0])
    elif operation == "verify":
        assert not key.verify_hmac(b"other", key.hmac(b"m")[0])
    else:  # pragma: no cover - an operation this test does not know yet
        pytest.fail(f"no exercise for {operation}")


def test_key_types_are_the_registry_in_its_order() -> None:
    assert tuple(REGISTRY) == KEY_TYPES
    assert len(KEY_TYPES) == 7
    assert all(REGISTRY[name].name == name for name in REGISTRY)
    # The family views are derived from the entries, never kept by hand.
    for view, family in [
        (ENCRYPTION_TYPES, Family.AEAD),
        (HMAC_TYPES, Family.HMAC),
        (SIGNING_TYPES, Family.SIGNATURE),
    ]:
        assert list(view) == [n for n, t in REGISTRY.items() if t.family is family]
    assert sorted([*ENCRYPTION_TYPES, *HMAC_TYPES, *SIGNING_TYPES]) == sorted(KEY_TYPES)


def test_every_operation_is_supported_by_some_type_and_families_stay_within_them() -> None:
    for operation in OPERATIONS:
        assert any(t.supports(operation) for t in REGISTRY.values()), operation
    for family in Family:
        assert set(family.operations) <= set(OPERATIONS)


@pytest.mark.parametrize("name", KEY_TYPES)
def test_every_entry_makes_working_keys_for_exactly_its_operations(name: str) -> None:
    entry = REGISTRY[name]
    key = key_of(name)
    for operation in entry.operations:
        _exercise(key, operation)
    info = key.info()
    assert info["supports_encryption"] == entry.supports("encrypt")
    assert info["supports_signing"] == entry.supports("sign")
    assert info["supports_hmac"] == entry.supports("hmac")
    assert info["deterministic"] == entry.deterministic
    assert ("public_key" in info["keys"]["1"]) == (entry.public_key is not None)
    # Material for export round-trips through the entry's own text form.
    assert entry.export(entry.generate())


@pytest.mark.parametrize("name", [n for n in KEY_TYPES if not REGISTRY[n].slow])
def test_symmetric_entries_make_fresh_material_each_time(name: str) -> None:
    entry = REGISTRY[name]
    assert entry.generate() != entry.generate()


def test_an_unknown_type_is_refused_with_the_registry_listed() -> None:
    with pytest.raises(UnknownKeyTypeError) as exc:
        key_type("aes128-gcm96")
    assert exc.value.code == "unknown_key_type"
    assert str(exc.value).endswith(", ".join(KEY_TYPES))


def test_the_service_validates_types_against_the_registry() -> None:
    from sealbox.service.routes.transit import HANDLERS as SERVICE_OPERATIONS
    from sealbox.service.routes.transit_models import CreateKey

    annotation = CreateKey.model_fields["type"].annotation
    assert typing.get_args(annotation) == KEY_TYPES
    assert tuple(SERVICE_OPERATIONS) == OPERATIONS


def test_the_command_line_offers_the_registry_types() -> None:
    from sealbox.cli.transit import _TYPE_NAMES, create

    assert tuple(_TYPE_NAMES.values()) == KEY_TYPES  # what the service is sent
    (option,) = [p for p in create.params if p.name == "key_type"]
    # Spelled with hyphens on the command line (docs/cli.md); the API's names are old
    # spellings there, still accepted.
    assert tuple(option.type.choices) == tuple(t.replace("aes256-", "aes-256-") for t in KEY_TYPES)
    assert all(option.type.convert(t, option, None) in option.type.choices for t in KEY_TYPES)


def test_the_documentation_tables_list_the_registry() -> None:
    import sealbox.transit.registry as registry

    row = re.compile(r"^``([a-z0-9-]+)``\s{2,}(.+?)\s{2,}(.+?)\s*$", re.MULTILINE)
    rows = {m[1]: (m[2], m[3]) for m in row.finditer(registry.__doc__ or "")}
    assert list(rows) == list(KEY_TYPES)
    for name, (summary, material) in rows.items():
        assert (summary, material) == (REGISTRY[name].summary, REGISTRY[name].material)
    doc = (ROOT / "docs" / "transit.md").read_text()
    section = doc.split("## Key types", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([a-z0-9-]+)`[^|]*\| ([^|]+?) \|", section, re.MULTILINE)
    assert [name for name, _ in listed] == list(KEY_TYPES)
    for name, operations in listed:
        assert operations == ", ".join(REGISTRY[name].operations)


# -- signing options ----------------------------------------------------------------------


def test_signing_options_follow_each_entry() -> None:
    ed, ecdsa, rsa = REGISTRY["ed25519"], REGISTRY["ecdsa-p256"], REGISTRY["rsa-3072"]
    for name in VAULT_HASHES:
        check_sign_options(ed, hash_algorithm=name)
    check_sign_options(ecdsa)
    check_sign_options(rsa)
    refused = [
        (ed, {"hash_algorithm": "md5"}, "hash_algorithm must be one of none, sha1"),
        (ecdsa, {"hash_algorithm": "sha2-512"}, "hash_algorithm must be sha2-256"),
        (rsa, {"signature_algorithm": "pkcs1v15"}, "rsa-3072 keys sign with pss only"),
        (ecdsa, {"marshaling_algorithm": "jws"}, "ecdsa-p256 signatures are asn1 (DER) only"),
        (ed, {"prehashed": True}, "prehashed input is not supported"),
    ]
    for entry, options, message in refused:
        with pytest.raises(UnsupportedAlgorithmError) as exc:
            check_sign_options(entry, **options)
        assert str(exc.value).startswith(message)
        assert exc.value.code == "unsupported_algorithm"
    check_hmac_algorithm("sha2-256")
    with pytest.raises(UnsupportedAlgorithmError, match="algorithm must be sha2-256"):
        check_hmac_algorithm("sha3-256")


@pytest.mark.parametrize("key_type", ["ed25519", "rsa-3072"])
@pytest.mark.parametrize("marshaling", ["jws", "der", ""])
def test_a_marshaling_other_than_asn1_is_refused_for_every_signing_type(
    key_type: str, marshaling: str
) -> None:
    # Vault's jws marshaling encodes every type's signature as unpadded base64url: taking
    # it and answering standard base64 would give a Vault client a signature it misreads.
    with pytest.raises(UnsupportedAlgorithmError) as exc:
        check_sign_options(REGISTRY[key_type], marshaling_algorithm=marshaling)
    assert str(exc.value).startswith(f"{key_type} signatures are asn1")
    assert exc.value.code == "unsupported_algorithm"


def test_signatures_carry_the_version_that_made_them() -> None:
    key = key_of("ed25519")
    version, raw = parse_versioned(key.sign(b"m")[0], "signature")
    assert version == 1 and len(raw) == 64
