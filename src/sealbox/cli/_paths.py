"""The command line's file-name parameter type: :class:`FilePath`.

``click.Path`` with ``path_type=Path`` turns an empty argument (``-o ''``, often a shell
variable that was not set) into ``Path('')``, which is ``.``: the command then spoke of
the current folder. An empty name is a usage error here, named as such.

A secret key pasted where a file name goes (``-i "$(cat key.txt)"``) is a usage error
too, one that never shows the value: click's and the library's messages about a file
that does not exist quote its name, which here is the key.
"""

from __future__ import annotations

from typing import Any

import click

from sealbox.cli._io import PASTED_KEY_MESSAGE, pasted_secret_key

__all__ = ["FilePath", "NamedFile"]


class FilePath(click.Path):
    """``click.Path`` that refuses an empty file name and a pasted secret key (exit 2, a
    usage error)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str | bytes) and not value:
            self.fail("an empty file name (is a shell variable unset?)", param, ctx)
        if isinstance(value, str) and pasted_secret_key(value):
            self.fail(PASTED_KEY_MESSAGE, param, ctx)
        return super().convert(value, param, ctx)


class NamedFile(FilePath):
    """A file the command reads or changes by its name (a keyring, a keyset, a secrets or
    key file): ``-`` would be a file called ``-`` here, not stdin or stdout as elsewhere
    (docs/cli.md), so it is a usage error (``./-`` names such a file)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str | bytes) and value in {"-", b"-"}:
            self.fail(
                "'-' is not a file name here: this command reads or changes a file by its "
                "name, not standard input or output (./- names a file called -)",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)
