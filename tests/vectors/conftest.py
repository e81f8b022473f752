"""Counts of the age test-kit outcomes, printed at the end of the run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import _age_testkit as kit


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for where, counts in kit.COUNTS.items():
        if not counts:
            continue
        total = sum(counts.values())
        parts = ", ".join(f"{name}: {counts[name]}" for name in kit.EXPECTS if counts[name])
        terminalreporter.write_line(
            f"age test kit through {where}: {total} vectors gave their expected result ({parts})"
        )
