"""Refresh the confusables mapping shipped for UTS #39 skeletons of usernames.

Usage: ``python scripts/update_confusables.py confusables.txt``, where the file is
Unicode's ``security/<version>/confusables.txt``. It writes
``src/sealbox/accounts/data/confusables.txt.gz``: one ``source;target`` line of hex code
points per mapping, after a header naming the version (read back by
``sealbox.accounts.usernames.confusables_version``). The gzip output is byte-for-byte
reproducible (no timestamp, no file name).

Before writing, every mapping line is checked: its fields parse, its target differs
from its source, and the character names in its comment are the ones Python's own
Unicode database gives for its source and target code points (for the characters
Python knows). A file edited by hand in its mapping fields fails that check. Update the version in
``src/sealbox/accounts/data/LICENSE-UNICODE.txt`` and ``docs/service.md`` with it.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
import unicodedata
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src/sealbox/accounts/data/confusables.txt.gz"
LINE = re.compile(
    r"^(?P<source>[0-9A-F]{4,6}) ;\t(?P<target>[0-9A-F]{4,6}(?: [0-9A-F]{4,6})*) ;\tMA\t"
    r"#\*? \( .* → .* \) (?P<name>[^\t]+?) → (?P<names>[^\t]+)\t#"
)
VERSION = re.compile(r"^# Version: (\d+\.\d+\.\d+)$")
YEAR = re.compile(r"^# © (\d{4}) Unicode")


def reduce(text: str) -> tuple[str, list[str]]:
    """The version and the ``source;target`` lines of a confusables.txt."""
    version = year = None
    lines: list[str] = []
    seen: set[int] = set()
    # split("\n"), not splitlines(): comments hold U+2028 and other line breaks.
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.removesuffix("\r")
        if line.startswith("#") or not line.strip():
            version = version or _match(VERSION, line)
            year = year or _match(YEAR, line)
            continue
        m = LINE.match(line)
        if m is None:
            raise SystemExit(f"line {number}: not a confusables mapping: {line[:60]!r}")
        source = int(m["source"], 16)
        target = [int(cp, 16) for cp in m["target"].split()]
        if target == [source] or source in seen:
            raise SystemExit(f"line {number}: U+{source:04X} maps to itself or twice")
        seen.add(source)
        said = [m["name"], *m["names"].split(", ")]
        for cp, name in zip([source, *target], said, strict=False):
            known = unicodedata.name(chr(cp), None)
            if known is not None and known != name:
                raise SystemExit(f"line {number}: U+{cp:04X} is {known}, the comment says {name}")
        if len(said) != len(target) + 1:
            raise SystemExit(f"line {number}: the comment does not name every target")
        lines.append(f"{source:04X};{' '.join(f'{cp:04X}' for cp in target)}")
    if version is None or year is None:
        raise SystemExit("no '# Version:' or '# ©' line: is this Unicode's confusables.txt?")
    title = f"# Unicode confusables.txt (UTS #39), Version {version}"
    licence = f"# © {year} Unicode, Inc. Used under the Unicode License"
    header = [
        f"{title}, reduced to 'source;target' code points.",
        f"{licence}: https://www.unicode.org/license.txt",
    ]
    return version, header + lines


def _match(pattern: re.Pattern[str], line: str) -> str | None:
    m = pattern.match(line)
    return m.group(1) if m else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="Unicode's confusables.txt")
    args = parser.parse_args()
    version, lines = reduce(args.source.read_text(encoding="utf-8-sig"))
    data = ("\n".join(lines) + "\n").encode()
    OUT.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"wrote {OUT}: Unicode {version}, {len(lines) - 2} mappings", file=sys.stderr)


if __name__ == "__main__":
    main()
