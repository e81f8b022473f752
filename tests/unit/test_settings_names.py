"""Every ``SEALBOX_*`` variable sealbox reads is known, so a misspelt one can be named."""

from __future__ import annotations

import re
from pathlib import Path

from sealbox.service.settings import known_variables, unknown_variables
from tests.conftest import run_sealbox

_SOURCE = Path(__file__).resolve().parents[2] / "src" / "sealbox"
# A name the source spells out; the settings' own names come from their fields.
_NAME = re.compile(r"(?<![A-Za-z0-9_])SEALBOX_[A-Z0-9_]*[A-Z0-9]")


def test_the_known_names_are_the_ones_the_source_reads() -> None:
    spelled = {
        name
        for path in _SOURCE.rglob("*.py")
        for name in _NAME.findall(path.read_text(encoding="utf-8"))
    }
    assert spelled  # the pattern finds them
    assert spelled - known_variables() == set()


def test_an_unknown_name_is_reported_with_the_closest_known_one_and_never_its_value() -> None:
    environ = {
        "SEALBOX_DATA_DIRR": "/srv/x",
        "SEALBOX_REDIS_ULR": "redis://:pw@h",
        "SEALBOX_NOTHING_LIKE_IT": "v",
        "SEALBOX_PORT": "1",
        "OTHER": "x",
    }
    assert unknown_variables(environ) == [
        ("SEALBOX_DATA_DIRR", "SEALBOX_DATA_DIR"),
        ("SEALBOX_NOTHING_LIKE_IT", None),
        ("SEALBOX_REDIS_ULR", "SEALBOX_REDIS_URL"),
    ]


def test_serve_warns_of_a_misspelt_setting_without_its_value(tmp_path: Path) -> None:
    r = run_sealbox(
        ["serve", "--data-dir", tmp_path / "d", "--check"],
        env={"SEALBOX_REDIS_ULR": "redis://:canary-misspelt-pw@127.0.0.1:1/0"},
    )
    assert r.returncode == 0, r.stderr
    lines = r.stderr.decode().splitlines()
    assert lines[0] == (
        "sealbox: warning: unknown setting SEALBOX_REDIS_ULR (did you mean "
        "SEALBOX_REDIS_URL?): it is not read"
    )
    assert b"canary-misspelt-pw" not in r.stderr
