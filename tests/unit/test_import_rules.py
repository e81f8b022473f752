"""The layering of the tree: each package imports only what its docstring allows.

Every top-level package of ``sealbox`` says in its docstring what it may import, in a
paragraph starting ``May import:`` that names sibling packages as ``:mod:`sealbox.x``` and
third-party distributions by their import name in double backquotes. These tests walk every
module's syntax tree (imports inside functions and under ``TYPE_CHECKING`` count too) and
hold the code to those sentences, and check that the packages form no import cycle.
The loose modules at the bottom (``sealbox.exceptions``, ``sealbox.secret`` and the version
in ``sealbox/__init__``) may be imported by every package without saying so.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "sealbox"
# Loose modules at the top: what they may import inside sealbox.
LOOSE = {
    "exceptions": frozenset(),
    "secret": frozenset({"exceptions"}),
    "__main__": frozenset({"cli"}),
    # The facade: names imported on first use from the packages that define them.
    "__init__": frozenset({"_util", "exceptions", "jwt", "keysets", "passwords", "secret"}),
}
EVERYONE_MAY_IMPORT = frozenset({"exceptions", "secret", "__init__"})
MAX_LOOSE_MODULES = 6
MAX_MODULE_LINES = 600
_MOD = re.compile(r":mod:`~?sealbox\.([A-Za-z_]+)")
_THIRD_PARTY = re.compile(r"``([A-Za-z_][A-Za-z0-9_]*)``")
_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


def packages() -> list[str]:
    return sorted(p.name for p in SRC.iterdir() if (p / "__init__.py").is_file())


@cache
def rule(package: str) -> tuple[frozenset[str], frozenset[str]]:
    """The sealbox packages and third-party modules ``package`` may import."""
    doc = ast.get_docstring(ast.parse((SRC / package / "__init__.py").read_text())) or ""
    paragraph = re.search(r"May import:(.*?)(?:\n\s*\n|\Z)", doc, re.S)
    if paragraph is None:
        return frozenset(), frozenset()
    text = paragraph.group(1)
    return frozenset(_MOD.findall(text)), frozenset(_THIRD_PARTY.findall(text))


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import in ``path``."""
    module = path.relative_to(SRC.parent).with_suffix("").parts
    if module[-1] == "__init__":
        module = module[:-1]
        is_package = True
    else:
        is_package = False
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module if is_package else module[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join((*base, node.module) if node.module else base)
            else:
                name = node.module or ""
            if name == "sealbox":
                # ``from sealbox import age`` imports a package; other names come from the facade.
                for alias in node.names:
                    yield node.lineno, f"sealbox.{alias.name}"
            else:
                yield node.lineno, name


def _target(name: str) -> tuple[str, str]:
    """('sealbox', top-level part) or ('third-party', top module) or ('stdlib', …)."""
    parts = name.split(".")
    if parts[0] == "sealbox":
        top = parts[1] if len(parts) > 1 else "__init__"
        if top.startswith("__") and top != "__main__":
            top = "__init__"  # __version__ and other names of the package itself
        return "sealbox", top
    return ("stdlib" if parts[0] in _STDLIB else "third-party"), parts[0]


def _owner(path: Path) -> str:
    first = path.relative_to(SRC).parts[0]
    return first.removesuffix(".py")


@cache
def edges() -> tuple[tuple[str, Path, int, str, str], ...]:
    """(owner, file, line, kind, target) for every import in the tree, parsed once for
    all the tests of a run (each package's test reads them all)."""
    return tuple(
        (owner, path, line, kind, target)
        for path in sorted(SRC.rglob("*.py"))
        for owner in (_owner(path),)
        for line, name in _imports(path)
        for kind, target in (_target(name),)
        if kind != "stdlib"
    )


@pytest.mark.parametrize("package", packages())
def test_package_docstring_says_what_it_may_import(package: str) -> None:
    doc = ast.get_docstring(ast.parse((SRC / package / "__init__.py").read_text())) or ""
    assert "May import:" in doc, f"sealbox.{package} has no 'May import:' line in its docstring"


@pytest.mark.parametrize("package", packages())
def test_package_imports_only_what_its_docstring_allows(package: str) -> None:
    allowed, third_party = rule(package)
    broken = [
        f"{path.relative_to(SRC.parent)}:{line} imports {kind} {target}"
        for owner, path, line, kind, target in edges()
        if owner == package
        and target != package
        and not (kind == "sealbox" and target in allowed | EVERYONE_MAY_IMPORT)
        and not (kind == "third-party" and target in third_party)
    ]
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("module", sorted(LOOSE))
def test_loose_module_imports_stay_at_the_bottom(module: str) -> None:
    broken = [
        f"{path.name}:{line} imports sealbox.{target}"
        for owner, path, line, kind, target in edges()
        if owner == module and kind == "sealbox" and target not in LOOSE[module] | {module}
    ]
    assert not broken, "\n".join(broken)


def test_top_level_packages_form_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for owner, _path, _line, kind, target in edges():
        if kind == "sealbox" and target != owner:
            graph.setdefault(owner, set()).add(target)
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> None:
        if node in trail:
            cycle = [*trail[trail.index(node) :], node]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, [*trail, node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])


def test_top_level_holds_few_loose_modules_and_no_private_helper() -> None:
    loose = sorted(p.stem for p in SRC.glob("*.py"))
    assert len(loose) <= MAX_LOOSE_MODULES, loose
    private = [m for m in loose if m.startswith("_") and not m.startswith("__")]
    assert not private, f"private helpers belong in sealbox._util: {private}"


def test_no_module_runs_past_the_size_limit() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_rule_parser_reads_modules_and_third_party_names() -> None:
    # The rules above are only as good as this parser: pin it on a package with both kinds.
    allowed, third_party = rule("hazmat")
    assert allowed == frozenset()
    assert third_party == {"cryptography", "argon2"}
    allowed, third_party = rule("keys")
    assert {"_util", "hazmat", "age"} <= allowed
    assert "bcrypt" in third_party
