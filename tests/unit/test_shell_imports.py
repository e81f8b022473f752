"""The shells (``sealbox.cli``, ``sealbox.service``) call public library names only.

Every import in them, function-level ones included, is read from the source: none
may name a private module or a private name of another sealbox package, nor
``cryptography`` or pyOpenSSL (the crypto and the TLS engine live in the library);
nor may a private name be reached through what was imported (``age._base``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import sealbox

SRC = Path(sealbox.__file__).parent
SHELLS = ("cli", "service")
FORBIDDEN_THIRD_PARTY = ("cryptography", "OpenSSL")


def _private(dotted: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in dotted.split("."))


def _foreign(module: str, shell: str) -> bool:
    """Whether ``module`` is a sealbox module outside ``shell``."""
    return module.split(".", maxsplit=1)[0] == "sealbox" and not (
        module == shell or module.startswith(shell + ".")
    )


def violations(source: str, package: str) -> list[str]:
    """What a module of ``package`` (``"sealbox.service.routes"``) imports that it may not."""
    shell = ".".join(package.split(".")[:2])
    found = []
    tree = ast.parse(source)
    foreign_names: set[str] = set()  # names bound to another sealbox package's objects
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported = [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, *([module] if module else [])])
            imported = [(module, alias.name) for alias in node.names]
        else:
            continue
        for alias, (module, name) in zip(node.names, imported, strict=True):
            if _foreign(module, shell) or (module == "sealbox" and name):
                foreign_names.add(alias.asname or (name or alias.name).split(".")[0])
        for module, name in imported:
            top = module.split(".")[0]
            if top in FORBIDDEN_THIRD_PARTY:
                found.append(f"line {node.lineno}: {module}")
            elif _foreign(module, shell) and (_private(module) or _private(name)):
                found.append(f"line {node.lineno}: {module}{'.' + name if name else ''}")
    # A private name reached through an imported module or class: ``age._crypto.X``.
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in foreign_names
            and _private(node.attr)
        ):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def _package_of(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts if path.name == "__init__.py" else parts[:-1])


def test_the_check_finds_each_kind_of_violation() -> None:
    source = (
        "from sealbox._util.files import atomic_write\n"
        "from ...age import _crypto\n"
        "from sealbox.age._crypto import CHUNK\n"
        "def f():\n"
        "    import cryptography.x509\n"
        "    from OpenSSL import SSL\n"
        "    from sealbox.service._own import fine\n"
        "    from .._own import fine_too\n"
        "    from sealbox import __version__, age\n"
        "    from sealbox.service import settings\n"
        "    return age._base.X, age.keys, settings._private\n"
    )
    found = violations(source, "sealbox.service.routes")
    assert found == [
        "line 1: sealbox._util.files.atomic_write",
        "line 2: sealbox.age._crypto",
        "line 3: sealbox.age._crypto.CHUNK",
        "line 5: cryptography.x509",
        "line 6: OpenSSL",
        "line 11: age._base",
    ]


def test_the_shells_import_only_public_library_names() -> None:
    offenders = {}
    checked = 0
    for shell in SHELLS:
        for path in sorted((SRC / shell).rglob("*.py")):
            rel = str(path.relative_to(SRC))
            found = violations(path.read_text(), _package_of(path))
            checked += 1
            if found:
                offenders[rel] = found
    assert checked > 40  # the walk reaches both shells
    assert offenders == {}
