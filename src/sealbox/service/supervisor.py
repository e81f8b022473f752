"""The supervisor of ``sealbox serve --workers N``: the worker processes on one listening
socket, a worker that dies or hangs replaced, every worker stopped on SIGTERM or SIGINT.

Each worker is a uvicorn server (:class:`uvicorn.Server`) on the socket the supervisor
bound. uvicorn's own supervisor is not used: it looks at its workers before it reads the
signals that arrived meanwhile, so a stop signal sent to the whole process group
(systemd's ``KillMode=control-group``, Ctrl-C in a terminal) could find a worker already
gone on its own copy of the signal, log it as dead and start another during the stop.
Here the signal handler itself marks the stop, and a worker found gone is replaced only
if no stop has been asked for.

The health check: each worker's event loop sends a beat down a pipe about once a second
(uvicorn's ``callback_notify``, called from the server's own loop). A worker that sends
none for the health check's timeout is hung — a loop blocked by a deadlock, an endless
loop, a stopped process — and is replaced. The beat comes from the event loop, not from a
thread of its own: a thread would go on answering while the loop that serves every
request stands still.

A worker that dies before its first beat (before it serves) is replaced after a short
delay, doubled for each such death in a row; after :data:`_DEATHS_BEFORE_SERVING` in a row
the service stops, as on a failed start: a start that crashes every time (a broken
install, a library that aborts, the OOM killer at each start) is not retried for ever. A
worker that comes to serve ends the count. One that dies after it served is replaced at
once.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnContext
from types import FrameType
from typing import Final

import uvicorn

from sealbox.exceptions import SealboxError
from sealbox.service.settings import HEALTHCHECK_TIMEOUT, MAX_WORKERS

__all__ = ["HEALTHCHECK_TIMEOUT", "MAX_WORKERS", "STARTUP_FAILURE", "supervise"]

#: The exit status of a worker whose server did not start (uvicorn's, for the same).
STARTUP_FAILURE: Final = 3


# Seconds between the SIGTERM that lets a hung worker that comes back end its requests
# and the SIGKILL that ends it anyway.
_KILL_GRACE: Final = 5.0

# Workers dying one after another before they serve (before their first beat) that stop
# the service: every new worker would most likely die the same way.
_DEATHS_BEFORE_SERVING: Final = 5

# Seconds before the first worker that died before serving is replaced, doubled for each
# next one in a row, up to the most: a crash loop does not spin the CPU.
_RESTART_DELAY: Final = 0.1
_RESTART_DELAY_MOST: Final = 2.0

# Seconds past its deadline the supervisor's wait may end before it takes itself for
# having been stopped or starved (a wait ends a few milliseconds late at most).
_OVERSLEPT: Final = 1.0

# uvicorn's supervisor logger: the lines keep its words, and the death of a worker is
# raised to a warning there (sealbox.service.serve._WorkerDeaths).
log = logging.getLogger("uvicorn.error")

_STOP: Final[dict[int, str]] = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}
_SCALE: Final[dict[int, int]] = {signal.SIGTTIN: 1, signal.SIGTTOU: -1}


def _serve(config: uvicorn.Config, sock: socket.socket, beats: Connection) -> None:
    """A worker: serve ``sock`` until told to stop (in the worker process)."""
    config.configure_logging()  # the configuration came pickled, its logging not applied
    fd = beats.fileno()
    os.set_blocking(fd, False)

    async def beat() -> None:
        # A full pipe: the supervisor is busy and has beats enough to read. A broken one:
        # the supervisor is gone, and this worker stops on its own (sealbox.service.app).
        with contextlib.suppress(BlockingIOError, BrokenPipeError):
            os.write(fd, b".")

    # uvicorn calls it from its main loop, once a second at most: timeout_notify 0 is
    # each time it looks.
    config.callback_notify, config.timeout_notify = beat, 0
    # The TLS setup (sealbox.service.connection) built before the first connection: files
    # that do not load fail this start, not each handshake of a worker taken for serving.
    load_tls = getattr(config.http, "load_tls", None)
    if load_tls is not None:
        try:
            load_tls()
        except SealboxError as exc:  # the message names the file and what is wrong
            log.error("Child process [%d] cannot serve: %s", os.getpid(), exc)  # noqa: TRY400
            sys.exit(STARTUP_FAILURE)
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT, raised again after uvicorn's stop
        server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


class _Worker:
    """A worker process, the read end of its beats, and when the last beat came."""

    def __init__(self, spawn: SpawnContext, config: uvicorn.Config, sock: socket.socket) -> None:
        self.beats: Connection | None
        self.beats, beats_w = spawn.Pipe(duplex=False)
        self.process = spawn.Process(target=_serve, args=(config, sock, beats_w))
        self.process.start()
        beats_w.close()  # the worker has its own copy: the read end ends when it does
        self.last_beat: float | None = None  # none yet: still starting, not checked
        self.kill_at = 0.0  # once it is leaving: when SIGKILL ends it
        self.killed = False

    @property
    def pid(self) -> int:
        return self.process.pid or 0

    @property
    def gone(self) -> bool:
        return self.process.exitcode is not None

    def read_beats(self, now: float) -> None:
        assert self.beats is not None
        if os.read(self.beats.fileno(), 4096):
            self.last_beat = now
        else:  # the worker is gone; its sentinel says so
            self.close()

    def signal(self, signum: int) -> None:
        if not self.gone:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def join(self, timeout: float | None = None) -> None:
        self.process.join(timeout)
        if self.gone:
            self.close()

    def close(self) -> None:
        if self.beats is not None:
            self.beats.close()
            self.beats = None


class _Supervisor:
    def __init__(self, config: uvicorn.Config, sock: socket.socket, timeout: float) -> None:
        self.config, self.sock, self.timeout = config, sock, timeout
        self.spawn = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []
        # Hung or removed workers, told to stop and not yet gone: SIGKILL at kill_at.
        self.leaving: list[_Worker] = []
        self.stop: str | None = None  # the name of the signal that asked for the stop
        self.hangup = False
        self.scaling: collections.deque[int] = collections.deque()  # +1 SIGTTIN, -1 SIGTTOU
        self.failed = False
        # Workers that died in a row before they served, and when to start each one's
        # replacement (not yet started: the delay of a crash loop).
        self.unserved_deaths = 0
        self.pending: list[float] = []
        self.graceful = float(config.timeout_graceful_shutdown or 0)

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Marked here, not queued: a worker ended by the same signal, sent to the whole
        # group, may be found gone before the main loop would read a queue.
        if signum in _STOP:
            self.stop = self.stop or _STOP[signum]
        elif signum in _SCALE:
            self.scaling.append(_SCALE[signum])
        else:
            self.hangup = True

    def start(self) -> _Worker:
        return _Worker(self.spawn, self.config, self.sock)

    def run(self) -> None:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        previous = {
            sig: signal.signal(sig, self.on_signal)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, *_SCALE)
        }
        # Every signal writes a byte here: the wait below ends at once, not at a timeout.
        old_wakeup = signal.set_wakeup_fd(wake_w)
        try:
            log.info("Started parent process [%d]", os.getpid())
            self.workers = [self.start() for _ in range(self.config.workers)]
            while self.stop is None:
                asleep, timeout = time.monotonic(), self.next_deadline()
                ready = wait(self.watched(wake_r), timeout)
                if wake_r in ready:
                    os.read(wake_r, 512)
                now = time.monotonic()
                if timeout is not None and now - asleep - timeout > _OVERSLEPT:
                    self.overslept(now)
                for worker in self.workers:
                    if worker.beats is not None and worker.beats in ready:
                        self.read(worker, now)
                if self.hangup and self.stop is None:
                    self.hangup = False
                    self.restart_all()
                self.scale()
                self.replace_dead()
                self.start_pending()
                self.replace_hung()
                self.reap_leaving()
            log.info("Received %s, exiting.", self.stop)
        finally:
            self.stop = self.stop or "exit"
            self.stop_all()
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(wake_r)
            os.close(wake_w)
            log.info("Stopping parent process [%d]", os.getpid())
        if self.failed:
            sys.exit(STARTUP_FAILURE)

    def watched(self, wake_r: int) -> list[int | Connection]:
        beats = [w.beats for w in self.workers if w.beats is not None]
        sentinels = [w.process.sentinel for w in (*self.workers, *self.leaving)]
        return [wake_r, *sentinels, *beats]

    def next_deadline(self) -> float | None:
        """Seconds until a worker would be late or a leaving one is to be killed."""
        due = [
            w.last_beat + self.timeout
            for w in self.workers
            if w.last_beat is not None and w.beats is not None
        ]
        due += [w.kill_at for w in self.leaving if not w.killed]
        due += self.pending
        return max(0.0, min(due) - time.monotonic()) if due else None

    def read(self, worker: _Worker, now: float) -> None:
        """Read ``worker``'s beats; its first one (it serves) ends a count of workers that
        died before they served."""
        first = worker.last_beat is None
        worker.read_beats(now)
        if first and worker.last_beat is not None:
            self.unserved_deaths = 0

    def overslept(self, now: float) -> None:
        """The supervisor woke long after it asked to: it was stopped itself (Ctrl-Z in a
        terminal stops the whole group) or starved, and so may its workers have been. Each
        gets a full timeout from now, not the blame for the supervisor's absence."""
        for worker in self.workers:
            if worker.last_beat is not None:
                worker.last_beat = now

    def replace_dead(self) -> None:
        for worker in [w for w in self.workers if w.gone]:
            if worker.beats is not None and worker.last_beat is None:
                self.read(worker, time.monotonic())  # a first beat sent just before its end
            worker.join()
            if self.stop is not None:
                return  # it ended on the stop signal too
            if worker.process.exitcode == STARTUP_FAILURE:
                # Its app, TLS or settings are broken: every new worker would fail the same.
                log.error(
                    "Child process [%d] failed to start, stopping the parent process.", worker.pid
                )
                self.failed = True
                self.stop = "a failed start"
                return
            log.info("Child process [%d] died", worker.pid)
            if worker.last_beat is not None:  # it served: its start works, another's will
                self.workers[self.workers.index(worker)] = self.start()
                continue
            self.workers.remove(worker)
            self.unserved_deaths += 1
            if self.unserved_deaths >= _DEATHS_BEFORE_SERVING:
                log.error(
                    "Child processes keep dying before they serve (%d in a row), stopping "
                    "the parent process.",
                    self.unserved_deaths,
                )
                self.failed = True
                self.stop = "a failed start"
                return
            delay = _RESTART_DELAY * 2 ** (self.unserved_deaths - 1)
            self.pending.append(time.monotonic() + min(delay, _RESTART_DELAY_MOST))

    def start_pending(self) -> None:
        """Start the replacements whose delay has passed."""
        now = time.monotonic()
        for due in [t for t in self.pending if t <= now]:
            if self.stop is not None:
                return
            self.pending.remove(due)
            self.workers.append(self.start())

    def replace_hung(self) -> None:
        """A worker late with its beat is told to stop and replaced at once."""
        now = time.monotonic()
        for i, worker in enumerate(self.workers):
            if self.stop is not None:
                return
            last = worker.last_beat
            if worker.beats is None or last is None or now - last < self.timeout:
                continue  # gone (its sentinel says so), starting, or on time
            log.warning(
                "Child process [%d] missed its health check (no answer in %g seconds), "
                "replacing it",
                worker.pid,
                self.timeout,
            )
            self.leave(worker, _KILL_GRACE)
            self.workers[i] = self.start()

    def leave(self, worker: _Worker, grace: float) -> None:
        """SIGTERM ``worker`` now, SIGKILL in ``grace`` seconds if it is still there."""
        worker.signal(signal.SIGTERM)
        worker.close()  # its beats are no longer read: a late one finds the pipe closed
        worker.kill_at = time.monotonic() + grace
        self.leaving.append(worker)

    def reap_leaving(self) -> None:
        now = time.monotonic()
        for worker in list(self.leaving):
            if not worker.gone and not worker.killed and now >= worker.kill_at:
                worker.signal(signal.SIGKILL)
                log.info("Killed child process [%d]", worker.pid)
                worker.killed = True  # only its end to wait for now
            if worker.gone:
                worker.join()
                self.leaving.remove(worker)

    def scale(self) -> None:
        """SIGTTIN: one more worker; SIGTTOU: one fewer, never none."""
        while self.scaling and self.stop is None:
            if self.scaling.popleft() > 0:
                if len(self.workers) + len(self.pending) >= MAX_WORKERS:
                    log.warning("Received SIGTTIN, but %d processes is the most.", MAX_WORKERS)
                    continue
                log.info("Received SIGTTIN, increasing the number of processes.")
                self.workers.append(self.start())
            elif len(self.workers) + len(self.pending) <= 1:
                log.info("Received SIGTTOU, but already reached one process.")
            else:
                log.info("Received SIGTTOU, decreasing number of processes.")
                if self.pending:  # a replacement not started yet is the newest
                    self.pending.pop()
                else:  # its requests under way end first, as on a stop
                    self.leave(self.workers.pop(), self.graceful + _KILL_GRACE)

    def restart_all(self) -> None:
        """SIGHUP: each worker replaced in turn by a new one (which opens its files afresh),
        once the new one serves; one that does not (a certificate half-written) ends the
        restart, and the workers not yet replaced go on serving."""
        log.info("Received SIGHUP, restarting processes.")
        for i, old in enumerate(self.workers):
            if self.stop is not None:
                return
            new = self.start()
            if not self.serves(new):
                if self.stop is None:
                    log.error(
                        "Child process [%d] failed to start: the restart stops here, the "
                        "running processes go on serving",
                        new.pid,
                    )
                if new.beats is None:  # its end closed the pipe
                    new.join()
                else:  # one that serves (a stop came) ends its requests first, as on a stop
                    self.leave(new, 0.0 if new.last_beat is None else self.graceful + _KILL_GRACE)
                return
            self.workers[i] = new
            self.terminate(old)
            # A hung worker does not end on SIGTERM: the replacing waits for it no longer
            # than a worker's stop takes.
            old.join(self.graceful + _KILL_GRACE)
            old.signal(signal.SIGKILL)
            old.join()

    def serves(self, worker: _Worker) -> bool:
        """Wait for ``worker``'s first beat (its server runs), no longer than the health
        check's timeout, nor past its end or a stop signal."""
        deadline = time.monotonic() + self.timeout
        while worker.last_beat is None and self.stop is None and worker.beats is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            # A short wait at most: a stop signal only sets self.stop.
            if wait([worker.beats], min(left, 0.2)):
                self.read(worker, time.monotonic())
        return worker.last_beat is not None and self.stop is None

    def terminate(self, worker: _Worker) -> None:
        if not worker.gone:
            worker.signal(signal.SIGTERM)  # a graceful stop: requests in flight end
            log.info("Terminated child process [%d]", worker.pid)

    def stop_all(self) -> None:
        for worker in self.workers:
            self.terminate(worker)
        for worker in self.leaving:  # already told; a hung one ends by SIGKILL
            worker.join(max(0.0, worker.kill_at - time.monotonic()))
            worker.signal(signal.SIGKILL)
            worker.join()
        for worker in self.workers:
            log.info("Waiting for child process [%d]", worker.pid)
            worker.join()


def supervise(config: uvicorn.Config, *, healthcheck_timeout: float = HEALTHCHECK_TIMEOUT) -> None:
    """Serve ``config`` (an app given by import string) with ``config.workers`` worker
    processes until SIGTERM or SIGINT (blocks); SIGHUP replaces the workers in turn,
    SIGTTIN adds one, SIGTTOU removes one (down to one).

    A worker that dies (killed, out of memory) is replaced and logged as
    ``Child process [PID] died``: at once if it served; after a short delay, doubled for
    each next one, if it died before it served, and a few such deaths in a row stop the
    service, which then exits with status 3. One whose event loop sends no beat for
    ``healthcheck_timeout`` seconds is hung: it is logged once, sent SIGTERM, SIGKILL a
    few seconds later, and replaced at once. One that fails to start stops the service,
    which then exits with status 3.

    .. versionchanged:: 0.1.0
       The health check, and SIGTTIN and SIGTTOU.
    """
    sock = config.bind_socket()
    try:
        _Supervisor(config, sock, healthcheck_timeout).run()
    finally:
        sock.close()
