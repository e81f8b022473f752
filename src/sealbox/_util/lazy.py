"""Names of a package imported on first use (PEP 562), so importing the package stays cheap."""

from __future__ import annotations

import importlib
import sys

# Spelled out rather than imported from typing (start-up time); type checkers know it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str,
    names: Mapping[str, str],
    public: Iterable[str],
    *,
    submodules: Iterable[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``.

    Args:
        package: the package's ``__name__``.
        names: each lazily imported name, and the module that defines it.
        public: the package's ``__all__``.
        submodules: submodules reachable as attributes (``package.stream``) before
            anything imported them.
    """
    listing = sorted({*public, *submodules})
    reachable = frozenset(submodules)

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's own name
        if name in reachable:
            return importlib.import_module(f"{package}.{name}")
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # the next lookup is a plain one
        return value

    def __dir__() -> list[str]:  # noqa: N807 - the module hook's own name
        return listing

    return __getattr__, __dir__
