"""docs/service.md's configuration table names every setting of ``ServiceSettings``, and
no ``SEALBOX_*`` variable that sealbox does not read."""

from __future__ import annotations

import re
from pathlib import Path

from sealbox.service.settings import ServiceSettings, known_variables

_DOC = Path(__file__).resolve().parents[2] / "docs" / "service.md"


def _table() -> str:
    text = _DOC.read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n### ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("| `"))


def _names(table: str) -> set[str]:
    names = set(re.findall(r"`(SEALBOX_[A-Z0-9_]+)`", table))
    # "`SEALBOX_THROTTLE_USER_ATTEMPTS`, `…_ADDRESS_ATTEMPTS`": the rest share the first's start.
    for first, rest in re.findall(r"`(SEALBOX_[A-Z]+)_[A-Z0-9_]+`((?:, `…_[A-Z0-9_]+`)+)", table):
        names |= {f"{first}_{tail}" for tail in re.findall(r"`…_([A-Z0-9_]+)`", rest)}
    return names


def test_every_setting_is_in_the_configuration_table() -> None:
    settings = {f"SEALBOX_{name.upper()}" for name in ServiceSettings.model_fields}
    assert settings - _names(_table()) == set()


def test_the_configuration_table_names_only_variables_sealbox_reads() -> None:
    assert _names(_table()) - known_variables() == set()
