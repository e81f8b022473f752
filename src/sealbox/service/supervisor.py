"""The supervisor of ``sealbox serve --workers N``: the worker processes on one listening
socket, a worker that dies replaced, every worker stopped on SIGTERM or SIGINT.

Each worker is a uvicorn server (:class:`uvicorn.Server`) on the socket the supervisor
bound. uvicorn's own supervisor is not used: it looks at its workers before it reads the
signals that arrived meanwhile, so a stop signal sent to the whole process group
(systemd's ``KillMode=control-group``, Ctrl-C in a terminal) could find a worker already
gone on its own copy of the signal, log it as dead and start another during the stop.
Here the signal handler itself marks the stop, and a worker found gone is replaced only
if no stop has been asked for.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Final

import uvicorn

__all__ = ["STARTUP_FAILURE", "supervise"]

#: The exit status of a worker whose server did not start (uvicorn's, for the same).
STARTUP_FAILURE: Final = 3

# uvicorn's supervisor logger: the lines keep its words, and the death of a worker is
# raised to a warning there (sealbox.service.serve._WorkerDeaths).
log = logging.getLogger("uvicorn.error")

_STOP: Final[dict[int, str]] = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


def _serve(config: uvicorn.Config, sock: socket.socket) -> None:
    """A worker: serve ``sock`` until told to stop (in the worker process)."""
    config.configure_logging()  # the configuration came pickled, its logging not applied
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT, raised again after uvicorn's stop
        server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


class _Supervisor:
    def __init__(self, config: uvicorn.Config, sock: socket.socket) -> None:
        self.config, self.sock = config, sock
        self.spawn = multiprocessing.get_context("spawn")
        self.workers: list[BaseProcess] = []
        self.stop: str | None = None  # the name of the signal that asked for the stop
        self.hangup = False
        self.failed = False

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Marked here, not queued: a worker ended by the same signal, sent to the whole
        # group, may be found gone before the main loop would read a queue.
        if signum in _STOP:
            self.stop = self.stop or _STOP[signum]
        else:
            self.hangup = True

    def start(self) -> BaseProcess:
        worker = self.spawn.Process(target=_serve, args=(self.config, self.sock))
        worker.start()
        return worker

    def run(self) -> None:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        previous = {
            sig: signal.signal(sig, self.on_signal)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }
        # Every signal writes a byte here: the wait below ends at once, not at a timeout.
        old_wakeup = signal.set_wakeup_fd(wake_w)
        try:
            log.info("Started parent process [%d]", os.getpid())
            self.workers = [self.start() for _ in range(self.config.workers)]
            while self.stop is None:
                ready = wait([wake_r, *(w.sentinel for w in self.workers)])
                if wake_r in ready:
                    os.read(wake_r, 512)
                if self.hangup and self.stop is None:
                    self.hangup = False
                    self.restart_all()
                self.replace_dead()
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

    def replace_dead(self) -> None:
        for i, worker in enumerate(self.workers):
            if worker.exitcode is None:
                continue
            worker.join()
            if self.stop is not None:
                return  # it ended on the stop signal too
            if worker.exitcode == STARTUP_FAILURE:
                # Its app, TLS or settings are broken: every new worker would fail the same.
                log.error(
                    "Child process [%d] failed to start, stopping the parent process.", worker.pid
                )
                self.failed = True
                self.stop = "a failed start"
                return
            log.info("Child process [%d] died", worker.pid)
            self.workers[i] = self.start()

    def restart_all(self) -> None:
        """SIGHUP: each worker replaced in turn by a new one (which opens its files afresh)."""
        log.info("Received SIGHUP, restarting processes.")
        for i, old in enumerate(self.workers):
            if self.stop is not None:
                return
            self.workers[i] = self.start()
            self.terminate(old)
            old.join()

    def terminate(self, worker: BaseProcess) -> None:
        if worker.exitcode is None and worker.pid is not None:
            os.kill(worker.pid, signal.SIGTERM)  # a graceful stop: requests in flight end
            log.info("Terminated child process [%d]", worker.pid)

    def stop_all(self) -> None:
        for worker in self.workers:
            self.terminate(worker)
        for worker in self.workers:
            log.info("Waiting for child process [%d]", worker.pid)
            worker.join()


def supervise(config: uvicorn.Config) -> None:
    """Serve ``config`` (an app given by import string) with ``config.workers`` worker
    processes until SIGTERM or SIGINT (blocks); SIGHUP replaces the workers in turn.

    A worker that dies (killed, out of memory) is replaced and logged as
    ``Child process [PID] died``. One that fails to start stops the service, which then
    exits with status 3.
    """
    sock = config.bind_socket()
    try:
        _Supervisor(config, sock).run()
    finally:
        sock.close()
