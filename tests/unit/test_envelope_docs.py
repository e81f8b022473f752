"""The Python examples of docs/envelope.md and of the SQLAlchemy section of docs/fields.md run as written.

The Vault example needs a Vault server and is left out (the provider is tested
against the fake in test_envelope_vault.py).
"""

from __future__ import annotations

import re

import pytest

from sealbox.integrations.sqlalchemy import unregister_keyring
from tests.conftest import ROOT

_BLOCK = re.compile(r"```python\n(.*?)\n```", re.DOTALL)


def _blocks(doc: str, start: str | None = None, end: str | None = None) -> list[str]:
    text = (ROOT / "docs" / doc).read_text()
    if start is not None:
        text = text[text.index(start) :]
        if end is not None:
            text = text[: text.index(end)]
    return _BLOCK.findall(text)


def test_envelope_guide_examples(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = [b for b in _blocks("envelope.md") if "VaultTransitProvider(" not in b]
    assert len(blocks) >= 6
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "docs/envelope.md", "exec", dont_inherit=True), namespace)


def test_sqlalchemy_section_examples() -> None:
    blocks = _blocks("fields.md", "## Database columns with SQLAlchemy", "## Choices and limits")
    assert len(blocks) == 3
    namespace: dict[str, object] = {}
    try:
        for block in blocks:
            exec(compile(block, "docs/fields.md", "exec", dont_inherit=True), namespace)
    finally:
        unregister_keyring()
    engine = namespace["engine"]
    engine.dispose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("doc", ["envelope.md", "fields.md"])
def test_doc_names_no_missing_symbol(doc: str) -> None:
    import sealbox.integrations.sqlalchemy as sa_types
    import sealbox.keysets.envelope

    text = (ROOT / "docs" / doc).read_text()
    for name in re.findall(r"`(?:sealbox\.envelope\.)?(\w+)\(", text):
        if name in sealbox.keysets.envelope.__all__ or name in sa_types.__all__:
            assert getattr(sealbox.keysets.envelope, name, None) or getattr(sa_types, name, None)
