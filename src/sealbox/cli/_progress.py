"""A progress bar on stderr for long file operations (rich, imported only when drawn)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

# Below this, a file is done before a bar would be worth drawing.
MIN_SIZE = 32 * 1024 * 1024


@contextlib.contextmanager
def progress_bar(total: int | None, label: str) -> Iterator[Callable[[int], None] | None]:
    """Yield a callback that advances a bar, or ``None`` when no bar is drawn.

    A bar is drawn only when stderr is a terminal and the size is known and large.
    """
    if total is None or total < MIN_SIZE or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
