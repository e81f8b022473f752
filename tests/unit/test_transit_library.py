"""sealbox.transit without a service: keys made in memory, version states, rules, batches, errors."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

import sealbox.transit as transit
import sealbox.transit.errors as transit_errors
from sealbox.exceptions import DecryptionError, SealboxError
from sealbox.keysets.lifecycle import KeyState
from sealbox.transit import (
    InvalidKeyVersionError,
    InvalidRequestError,
    KeyVersionTooOldError,
    TransitKey,
    check_version_rules,
    new_material,
    run_batch,
)
from sealbox.transit.batch import FROM_VERSION

NOW = datetime(2026, 12, 4, tzinfo=UTC)
PACKAGE = Path(transit.__file__).parent


def key_with(versions: int = 3, **config) -> TransitKey:
    return TransitKey.from_versions(
        "orders",
        "aes256-gcm",
        {v: (NOW, new_material("aes256-gcm")) for v in range(1, versions + 1)},
        **config,
    )


# -- keys in memory -----------------------------------------------------------------------


def test_a_generated_key_encrypts_and_decrypts_with_associated_data() -> None:
    key = TransitKey.generate("orders", "chacha20-poly1305", now=NOW)
    assert key.latest_version == 1 and key.created_at == NOW
    text, version = key.encrypt(b"card 4111", b"order:42")
    assert version == 1 and text.startswith("sealbox:v1:")
    assert key.decrypt(text, b"order:42") == b"card 4111"
    with pytest.raises(DecryptionError):
        key.decrypt(text, b"order:43")


def test_a_key_from_versions_takes_the_highest_as_latest_and_checks_the_rules() -> None:
    key = key_with(3, min_decryption_version=2)
    assert key.latest_version == 3 and key.encrypt(b"x")[1] == 3
    with pytest.raises(InvalidKeyVersionError, match="between 1 and the latest version"):
        key_with(2, min_decryption_version=3)
    with pytest.raises(InvalidKeyVersionError, match="needs versions"):
        TransitKey.from_versions("k", "hmac", {})


def test_version_rules_are_vaults() -> None:
    check_version_rules(3, 1, 0)
    check_version_rules(3, 2, 3)
    for latest, min_dec, min_enc in [(3, 0, 0), (3, 4, 0), (3, 2, 1), (3, 1, 4)]:
        with pytest.raises(InvalidKeyVersionError) as exc:
            check_version_rules(latest, min_dec, min_enc)
        assert exc.value.code == "invalid_key_version"
        assert exc.value.facts == {"latest_version": "3"}


# -- version states -----------------------------------------------------------------------


def test_version_states_in_the_shared_vocabulary() -> None:
    assert key_with(3).version_states() == {
        1: KeyState.ACTIVE,
        2: KeyState.ACTIVE,
        3: KeyState.ACTIVE,
    }
    key = key_with(4, min_decryption_version=2, min_encryption_version=3)
    assert key.version_states() == {
        1: KeyState.DISABLED,
        2: KeyState.DECRYPT_ONLY,
        3: KeyState.ACTIVE,
        4: KeyState.ACTIVE,
    }
    # Each state is what the key does: an active version encrypts, a decrypt-only one
    # only opens, a disabled one refuses.
    old = key_with(4)
    texts = {v: old.encrypt(b"p", b"", v)[0] for v in (1, 2, 3)}
    rebuilt = TransitKey(
        **{f: getattr(key, f) for f in ("name", "type", "latest_version", "deletion_allowed")},
        min_decryption_version=2,
        min_encryption_version=3,
        exportable=False,
        created_at=NOW,
        updated_at=NOW,
        versions=old.versions,
    )
    assert rebuilt.encrypt(b"p", b"", 3)[1] == 3
    assert rebuilt.decrypt(texts[2]) == b"p"
    with pytest.raises(InvalidKeyVersionError, match="minimum version for new data"):
        rebuilt.encrypt(b"p", b"", 2)
    with pytest.raises(KeyVersionTooOldError):
        rebuilt.decrypt(texts[1])


def test_a_version_whose_material_is_gone_is_destroyed() -> None:
    full = key_with(3)
    key = TransitKey(
        name="orders",
        type="aes256-gcm",
        latest_version=3,
        min_decryption_version=1,
        min_encryption_version=0,
        deletion_allowed=False,
        exportable=False,
        created_at=NOW,
        updated_at=NOW,
        versions={v: full.versions[v] for v in (2, 3)},
    )
    assert key.version_state(1) is KeyState.DESTROYED
    assert not key.version_state(1).usable and key.version_state(2).usable
    with pytest.raises(InvalidKeyVersionError, match="has no version 4"):
        key.version_state(4)
    with pytest.raises(InvalidKeyVersionError):
        key.version_state(0)


def test_the_key_read_answer_shows_each_versions_state() -> None:
    info = key_with(3, min_decryption_version=2).info()
    assert info["version_states"] == {"1": "disabled", "2": "active", "3": "active"}
    record = SimpleNamespace(
        name="k",
        type="hmac",
        latest_version=2,
        min_decryption_version=1,
        min_encryption_version=2,
        deletion_allowed=False,
        exportable=False,
        created_at=NOW,
        updated_at=NOW,
    )
    built = TransitKey.build(record, {v: (NOW, new_material("hmac")) for v in (1, 2)})
    assert built.info()["version_states"] == {"1": "decrypt-only", "2": "active"}


# -- batches ------------------------------------------------------------------------------


def test_a_batch_reports_each_failed_item_with_its_code_and_keeps_going() -> None:
    key = key_with(2)
    good = key.encrypt(b"one", b"", 1)[0]
    items = [
        SimpleNamespace(ciphertext=good, reference="a"),
        SimpleNamespace(ciphertext="garbage", reference=None),
        SimpleNamespace(ciphertext=good[:-4] + "AAAA", reference="c"),
    ]

    def one(item):
        return {"plaintext": key.decrypt(item.ciphertext).decode(), FROM_VERSION: 1}

    outcome = run_batch(items, one)
    assert outcome.failed == 2 and outcome.partial and outcome.versions == {1}
    assert outcome.results[0] == {"plaintext": "one", "reference": "a"}
    assert outcome.results[1] == {
        "error": "invalid_ciphertext",
        "message": "the ciphertext is not in the form sealbox:v<N>:<base64>",
    }
    assert outcome.results[2]["error"] == "decryption_failed"
    assert outcome.results[2]["reference"] == "c"


def test_a_batch_raises_what_is_not_a_refusal_of_an_item() -> None:
    def one(_item):
        raise InvalidRequestError("missing input")

    outcome = run_batch([SimpleNamespace()], one, code_of=lambda exc: "invalid_request")
    assert not outcome.partial and outcome.failed == 1
    with pytest.raises(InvalidRequestError):
        run_batch([SimpleNamespace()], one, code_of=lambda exc: None)


# -- errors and the package's boundaries --------------------------------------------------


def test_every_transit_error_has_its_own_code_apart_from_the_shared_tree() -> None:
    import sealbox.exceptions as exceptions

    classes = [getattr(transit_errors, n) for n in transit_errors.__all__]
    codes = [c.code for c in classes]
    shared = {getattr(exceptions, n).code for n in exceptions.__all__}
    assert len(set(codes)) == len(codes) and not set(codes) & shared
    assert all(issubclass(c, SealboxError) for c in classes)
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", code) for code in codes)


def test_no_http_status_and_no_shell_in_the_transit_package() -> None:
    forbidden = {"fastapi", "starlette", "sqlalchemy", "click", "uvicorn"}
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                names.append(getattr(node, "module", None) or "")
                for name in names:
                    assert name.split(".")[0] not in forbidden, (path.name, name)
                    assert not name.startswith("sealbox.service"), (path.name, name)
            if isinstance(node, ast.Attribute):
                assert node.attr not in {"status", "status_code"} or path.name == "client.py"


def test_importing_the_package_is_cheap_and_using_keys_loads_no_shell() -> None:
    code = (
        "import sys, sealbox.transit as t\n"
        "assert 'cryptography' not in sys.modules and 'httpx2' not in sys.modules\n"
        "t.TransitKey.generate('k', 'aes256-gcm').encrypt(b'x')\n"
        "bad = {'fastapi', 'click', 'sqlalchemy', 'sealbox.service', 'httpx2'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_old_module_path_still_gives_its_names() -> None:
    from sealbox.service.transit_keys import (  # type: ignore[import-not-found]
        DATAKEY_BITS,
        ENCRYPTION_TYPES,
        HMAC_TYPES,
        KEY_TYPES,
        OPERATIONS,
        SIGNING_TYPES,
        KeyVersion,
        TransitError,
        export_text,
        format_versioned,
        new_material,
        open_material,
        parse_versioned,
        peek_version,
        seal_material,
    )
    from sealbox.service.transit_keys import TransitKey as OldKey

    assert OldKey is TransitKey and KeyVersion is transit.KeyVersion
    assert issubclass(transit.KeyExistsError, TransitError)
    assert KEY_TYPES == transit.KEY_TYPES and OPERATIONS == transit.OPERATIONS
    assert DATAKEY_BITS == (128, 256, 512)
    assert {*ENCRYPTION_TYPES, *HMAC_TYPES, *SIGNING_TYPES} == set(KEY_TYPES)
    assert parse_versioned(format_versioned(2, b"ab")) == (2, b"ab") and peek_version("x") is None
    master = bytes(32)
    raw = new_material("hmac")
    sealed = seal_material(master, "k", "hmac", 1, raw)
    assert open_material(master, "k", "hmac", 1, sealed) == raw
    assert export_text("hmac", raw)


def test_the_package_imports_only_what_its_docstring_allows() -> None:
    doc = " ".join((transit.__doc__ or "").split())
    allowed_line = doc[doc.index("May import:") :].split(".. versionadded")[0]
    allowed = set(re.findall(r":mod:`(sealbox\.[a-z_]+)`", allowed_line))
    allowed |= set(re.findall(r"``([a-z0-9_]+)``", allowed_line))
    seen: set[str] = set()
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                seen.add(node.module)
            elif isinstance(node, ast.Import):
                seen.update(a.name for a in node.names)
    for module in seen:
        parts = module.split(".")
        if parts[0] == "sealbox" and len(parts) > 1 and parts[1] != "transit":
            assert f"sealbox.{parts[1]}" in allowed, module
        elif parts[0] != "sealbox" and parts[0] not in sys.stdlib_module_names:
            assert parts[0] in allowed, module
