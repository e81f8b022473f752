"""Run benchmark suites: ``python -m bench [SUITE ...]`` (all by default).

Each suite is a module ``bench/suite_<name>.py`` with a ``main(quick: bool) -> None``
that measures and calls :func:`bench._harness.write_results`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def suites() -> list[str]:
    return sorted(p.stem.removeprefix("suite_") for p in HERE.glob("suite_*.py"))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("suite", nargs="*", help=f"suites to run (default: all of {suites()})")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    args = parser.parse_args()
    names = args.suite or suites()
    unknown = sorted(set(names) - set(suites()))
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(unknown)}")
    for name in names:
        print(f"== bench {name}", file=sys.stderr, flush=True)
        importlib.import_module(f"bench.suite_{name}").main(quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
