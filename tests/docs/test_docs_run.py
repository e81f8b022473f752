"""Docs that run as written: every example of README.md and docs/*.md, in order.

Each page runs in its own scratch folder (its working directory and ``$HOME``): Python
blocks share one namespace per page; shell commands run one by one with the ``sealbox``
of this environment first on ``$PATH``, and what one command exports (``export
SEALBOX_TOKEN=…``) the next one sees, as in a terminal, and so does the page's Python. See :mod:`tests.docs._blocks` for
what a page may tell the test (skips with a reason, hidden setup code, variables).

What the test changes, and why:

- a passphrase prompt has no terminal here: ``$SEALBOX_PASSPHRASE`` answers it, as the
  docs say it may;
- the service's port 8443 in an example (``:8443``, ``--port 8443``) becomes a free port
  of this machine (and ``$SEALBOX_PORT``/``$SEALBOX_URL`` say so), so two runs at once do
  not collide;
- a command ending in ``&`` (``sealbox serve &``) runs in the background until the page
  ends; when it is the service, the next command waits until it accepts connections.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_tool
from tests.docs._blocks import Block, Command, blocks

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PASSPHRASE = "correct horse battery staple"
TIMEOUT = 120
DOCS_PORT = "8443"
_DOCS_PORT_USE = re.compile(rf"(:|--port[ =]){DOCS_PORT}\b")
# Programs outside this environment that pages call: a page using one needs it installed.
PEER_PROGRAMS = ("age", "age-keygen", "ssh-keygen", "openssl", "oathtool", "curl", "certutil")
_PEER_USE = re.compile(rf"(?<![\w./-])({'|'.join(map(re.escape, PEER_PROGRAMS))})(?![\w.-])")
_BACKGROUND = re.compile(r"(?<!&)&\s*(#.*)?$")
# Shell variables not carried from one command to the next: read-only, bash's own, the cwd.
_NOT_KEPT = (
    "^declare -[^ ]*r|^declare -[^ ]* (BASH|FUNCNAME|GROUPS|PIPESTATUS|DIRSTACK|SHELLOPTS"
    "|_=|__status|PWD|OLDPWD|SHLVL|COLUMNS|LINES)"
)


def _same_lines(shown: list[str], printed: list[str]) -> bool:
    """What an error printed is what the page shows, line for line; ``…`` in a shown line
    stands for any text (a time, a path of this machine)."""
    shown = [line.rstrip() for line in shown]
    while shown and not shown[-1]:
        shown.pop()
    if len(shown) != len(printed):
        return False
    for want, got in zip(shown, printed, strict=True):
        pattern = ".*".join(map(re.escape, want.split("…")))
        if not re.fullmatch(pattern, got.rstrip()):
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Page:
    """The state one page's examples share: folder, environment, shell exports, servers."""

    def __init__(self, page: Path, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.page, self.folder, self.monkeypatch = page, folder, monkeypatch
        self.port = str(_free_port())
        home = folder / "home"
        home.mkdir()
        self.state = folder.parent / f"{folder.name}.shell-state"
        self.state.write_text("")
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SEALBOX_") or k == "SEALBOX_VECTORS"
        }
        self.env.update(
            HOME=str(home),
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{self.env.get('PATH', '')}",
            SEALBOX_PASSPHRASE=PASSPHRASE,
            SEALBOX_PORT=self.port,
            SEALBOX_URL=f"https://localhost:{self.port}",
            NO_COLOR="1",
            COLUMNS="100",
        )
        monkeypatch.chdir(folder)
        for name in [k for k in os.environ if k.startswith("SEALBOX_")]:
            if name != "SEALBOX_VECTORS":
                monkeypatch.delenv(name)
        for name in ("HOME", "SEALBOX_PASSPHRASE", "SEALBOX_PORT", "SEALBOX_URL"):
            monkeypatch.setenv(name, self.env[name])
        # A real module, so that code resolving names through sys.modules (SQLAlchemy's
        # annotations, dataclasses) finds the page's names.
        module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")
        monkeypatch.setitem(sys.modules, module.__name__, module)
        self.namespace = module.__dict__
        self.background: list[tuple[subprocess.Popen[bytes], Path]] = []

    def localize(self, text: str) -> str:
        # ``https://localhost:8443`` and a server's ``--port 8443`` (uvicorn's).
        return _DOCS_PORT_USE.sub(lambda m: f"{m.group(1)}{self.port}", text)

    def run(self, block: Block) -> None:
        if block.kind == "env":
            name, _, value = block.code.partition("=")
            self.env[name] = value
            self.monkeypatch.setenv(name, value)
        elif block.kind == "python":
            code = compile(self.localize(block.code), f"{block.page}:{block.line}", "exec")
            exec(code, self.namespace)
        elif block.kind == "sh":
            proc = self._shell(block.code, "-eu")
            assert proc.returncode == 0, f"{block.where()}: script failed\n{proc.stderr}"
        else:
            for command in block.commands():
                self._command(block, command)

    def _shell(self, code: str, *flags: str) -> subprocess.CompletedProcess[str]:
        # Exports of one command reach the next through the state file, as in one terminal.
        script = f'source "{self.state}" 2>/dev/null\n{self.localize(code)}\n'
        script += f'__status=$?; declare -p | grep -Ev "{_NOT_KEPT}" > "{self.state}"\n'
        script += f'env -0 > "{self.state}.env"; exit $__status\n'
        proc = subprocess.run(
            ["bash", *flags, "-o", "pipefail", "-c", script],
            cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=TIMEOUT,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        self._share_exports()
        return proc

    def _share_exports(self) -> None:
        """What the shell exported (``$SEALBOX_TOKEN``), the page's Python code sees too."""
        dump = Path(f"{self.state}.env")
        if not dump.exists():
            return
        for entry in dump.read_bytes().split(b"\0"):
            name, sep, value = entry.decode(errors="replace").partition("=")
            if sep and name.isidentifier() and name not in self.env and name != "_":
                self.monkeypatch.setenv(name, value)

    def _command(self, block: Block, command: Command) -> None:
        where = f"{block.page.name}:{command.line}: $ {command.text}"
        if _BACKGROUND.search(command.text):
            self._start(where, _BACKGROUND.sub("", command.text))
            return
        proc = self._shell(command.text)
        assert proc.returncode == command.expected_status, (
            f"{where}\nexit status {proc.returncode}, the page implies "
            f"{command.expected_status}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
        )
        if command.expects_error:
            assert proc.stderr.startswith("sealbox: error:"), f"{where}\n{proc.stderr}"
            shown = command.output[:-1] if command.shows_status else command.output
            assert _same_lines(shown, proc.stderr.splitlines()), (
                f"{where}\nthe page shows:\n" + "\n".join(shown) + f"\nprinted:\n{proc.stderr}"
            )
        if command.shows_status:
            printed = proc.stdout.rstrip().splitlines()[-1:]
            assert printed == [command.output[-1].strip()], f"{where}\nprinted {printed}"

    def _start(self, where: str, text: str) -> None:
        log = self.folder.parent / f"{self.folder.name}.background-{len(self.background)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["bash", "-c", f'source "{self.state}" 2>/dev/null\nexec {self.localize(text)}'],
                cwd=self.folder, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.background.append((proc, log))
        if "sealbox serve" not in text:
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"{where}\nthe service stopped:\n{log.read_text()}"
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", int(self.port))) == 0:
                    return
            time.sleep(0.02)  # a refused connect costs next to nothing: the page goes on sooner
        pytest.fail(f"{where}\nthe service did not listen within 60 s:\n{log.read_text()}")

    def close(self) -> list[str]:
        """Stop what the page left running; say how each ``sealbox serve`` stopped, if not
        as docs/service.md (*Stopping*) promises: status 0 on SIGTERM, no traceback."""
        bad = []
        for proc, log in self.background:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                if "sealbox serve" in proc.args[-1]:
                    output = log.read_text(errors="replace")
                    if proc.returncode != 0 or "Traceback" in output:
                        bad.append(f"exit status {proc.returncode} on SIGTERM:\n{output[-3000:]}")
        return bad


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_example_of_the_page_runs_in_order(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = blocks(page)
    if not any(not b.hidden for b in examples):
        pytest.skip(f"{page.name} has no runnable example")
    shell = [b.code for b in examples if b.kind in ("console", "sh") and not b.skip]
    for program in sorted({m for text in shell for m in _PEER_USE.findall(text)}):
        require_tool(program)
    folder = tmp_path / "page"
    folder.mkdir()
    session = Page(page, folder, monkeypatch)
    try:
        for block in examples:
            if not block.skip:
                session.run(block)
    finally:
        stops = session.close()
    # Reached only when the examples ran: their own failure is the one to show.
    assert stops == [], "\n".join(stops)


def test_every_skipped_example_says_why() -> None:
    vague = [
        b.where() for page in PAGES for b in blocks(page) if b.skip and len(b.skip.split()) < 3
    ]
    assert not vague, f"skipped without a reason a reader can check: {vague}"
