"""A progress bar on stderr for long file operations (rich, imported only when drawn)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

# Below this, a file is done before a bar would be worth drawing.
MIN_SIZE = 32 * 1024 * 1024
# How often the bar is redrawn, at most.
REDRAW = 0.1


@contextlib.contextmanager
def progress_bar(total: int | None, label: str) -> Iterator[Callable[[int], None] | None]:
    """Yield a callback that advances a bar, or ``None`` when no bar is drawn.

    A bar is drawn only when stderr is a terminal and the size is known and large.
    It is redrawn by the callback itself (at most every :data:`REDRAW` seconds),
    not by a thread of rich's: ``sealbox encrypt`` and ``decrypt`` fork their
    second worker only when the process has no other thread.
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
    console = Console(file=sys.stderr)
    with Progress(*columns, console=console, transient=True, auto_refresh=False) as bar:
        task = bar.add_task(label, total=total)
        drawn = [time.monotonic()]

        def tick(n: int) -> None:
            bar.advance(task, n)
            now = time.monotonic()
            if now - drawn[0] >= REDRAW:
                drawn[0] = now
                bar.refresh()

        yield tick
