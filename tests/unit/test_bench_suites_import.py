"""Every benchmark suite imports and has the ``main(quick)`` ``python -m bench`` calls: a
suite that imports a helper another suite no longer has fails here, not halfway through
``make bench``. The suites themselves are not run (they take minutes and need quiet)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITES = sorted(p.stem for p in (ROOT / "bench").glob("suite_*.py"))


def test_the_bench_folder_has_suites() -> None:
    assert len(SUITES) >= 10, SUITES


@pytest.mark.parametrize("name", SUITES)
def test_each_bench_suite_imports_with_its_entry_point(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))  # `python -m bench` runs from the checkout
    module = importlib.import_module(f"bench.{name}")
    assert list(inspect.signature(module.main).parameters) == ["quick"]
