"""The second thread of an age stream, and the buffers its batches use.

Built on :mod:`threading` alone: ``concurrent.futures`` imports :mod:`logging`,
which would be a good part of what a small ``sealbox encrypt`` costs.
"""

from __future__ import annotations

import os
from _thread import allocate_lock
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _thread import LockType
    from queue import SimpleQueue

# threading, queue and mmap are imported where they are used: a small file, encrypted or
# decrypted on one thread, needs none of them, and each adds to the command's start-up.

__all__ = ["Job", "Worker", "default_parallel", "page_aligned"]


class Worker:
    """The second thread of one stream: runs the jobs handed to it, in order.

    Each stream gets its own, so that a slow output (a pipe nobody reads) holds up
    no other stream. Built on :mod:`threading` alone: ``concurrent.futures``
    imports :mod:`logging`, which would be a good part of what a small
    ``sealbox encrypt`` costs. The thread is a daemon, so an abandoned stream does
    not keep the interpreter alive; :meth:`shutdown` (called by the stream, or
    when the worker is garbage) lets it finish the jobs it was given and end.
    """

    __slots__ = ("_jobs",)

    def __init__(self) -> None:
        import threading
        from queue import SimpleQueue

        self._jobs: SimpleQueue[Job | None] | None = SimpleQueue()
        threading.Thread(target=_work, args=(self._jobs,), name="sealbox-age", daemon=True).start()

    def submit(self, job: Job) -> None:
        assert self._jobs is not None
        self._jobs.put(job)

    def shutdown(self) -> None:
        jobs, self._jobs = self._jobs, None
        if jobs is not None:
            jobs.put(None)

    # A stream dropped without close() (read to its end and let go): the thread
    # holds only the queue, so it would otherwise wait for a job forever.
    __del__ = shutdown


def _work(jobs: SimpleQueue[Job | None]) -> None:
    while (job := jobs.get()) is not None:
        job.run()
        del job  # drop the finished job (and its buffers) while waiting for the next


def page_aligned(size: int) -> memoryview:
    """A zeroed, writable buffer of ``size`` bytes that starts on a page boundary.

    The kernel copies a file's data into a read buffer with ``rep movsb``, which on
    some CPUs slows down badly when the destination lies a few bytes past the source
    modulo 4 KiB (bench/results/findings.md, "Read buffers"). A ``bytearray``'s data
    starts 16 bytes into a page, so every batch read from a file hit that case; a
    page-aligned buffer puts each byte at the page offset it has in the file
    (encrypting) or at a fixed distance from it that rarely falls in the slow range
    (decrypting). Its pages are also untouched until used, where ``bytearray(n)``
    writes zeros over all of them first: a small file does not pay for the buffers
    of a large one.
    """
    import mmap

    return memoryview(mmap.mmap(-1, size))


def default_parallel() -> bool:
    """Whether streams use a second thread by default (more than one CPU)."""
    return (os.cpu_count() or 1) > 1


class Job:
    """Work handed to a :class:`Worker`, or run at once (``worker`` ``None``)."""

    __slots__ = ("_done", "_error", "_fn", "_value")

    def __init__(self, fn: Callable[[], object], worker: Worker | None) -> None:
        self._fn: Callable[[], object] | None = fn
        self._value: object = None
        self._error: BaseException | None = None
        self._done: LockType | None = None
        if worker is None:
            self._value = fn()
            return
        # Held until the job has run: result() waits by acquiring it.
        self._done = allocate_lock()  # threading.Lock, without importing threading
        self._done.acquire()
        worker.submit(self)

    def run(self) -> None:
        """On the worker: run the function, keeping its result or its exception."""
        assert self._fn is not None
        assert self._done is not None
        try:
            self._value = self._fn()
        except BaseException as exc:  # noqa: BLE001 - raised again by result()
            self._error = exc
        finally:
            self._fn = None
            self._done.release()

    def result(self) -> object:
        """The function's value once it has run; its exception is raised again."""
        done = self._done
        if done is not None:
            with done:
                self._done = None
        if self._error is not None:
            raise self._error
        return self._value
