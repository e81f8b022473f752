"""The examples of a Markdown page, in order, as the docs test runs them.

A page's examples are its fenced blocks marked ``python``, ``console`` (a shell session:
``$ `` lines are commands, the lines after a command are what it prints), ``sh`` or
``bash`` (a script). Blocks of other languages (``json``, ``pem``, unmarked) show data and
are not run.

An HTML comment just before a block, invisible on the rendered page, tells the test
what to do with it:

- ``<!-- docs-test: skip REASON -->``: the block cannot run here (it needs a network
  service, a terminal, a package index); the reason is reported with the skip;
- ``<!-- docs-test: setup python`` or ``setup sh``, then code, then ``-->``: hidden code
  run at that point (a variable the page assumes, a file a command reads);
- ``<!-- docs-test: env NAME=VALUE -->``: a variable the reader is assumed to have set
  (``$DB_PASSWORD``), in the environment of every later shell command of the page.

In a session, a command whose printed lines start with ``sealbox: error:`` is expected to
fail with exit status 1 (or 2 when the error is a usage error), printing on stderr the lines
the page shows (``…`` in a line stands for any text: a time, a path); every other command
must succeed. A command ending in ``; echo $?`` must print the status its last line shows.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

RUN = {"python": "python", "console": "console", "sh": "sh", "bash": "sh", "shell": "sh"}
_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
_DIRECTIVE = re.compile(r"^\s*<!--\s*docs-test:\s*(\w+)\s*(.*?)\s*(-->)?\s*$")


@dataclass
class Command:
    """One ``$`` line of a session (joined with its continuation lines) and what it prints."""

    line: int
    text: str
    output: list[str] = field(default_factory=list)

    @property
    def shows_status(self) -> bool:
        """The command ends with ``echo $?``: its last printed line is the status."""
        return self.text.rstrip().endswith("echo $?") and bool(self.output)

    @property
    def expects_error(self) -> bool:
        return bool(self.output) and self.output[0].startswith("sealbox: error:")

    @property
    def expected_status(self) -> int:
        if not self.expects_error or self.shows_status:
            return 0
        # A usage error's hint names the command's --help ("… for usage").
        usage = any(line.endswith(("for usage)", "for usage")) for line in self.output)
        return 2 if usage else 1


@dataclass
class Block:
    """A fenced example (or hidden setup code) at ``line`` of ``page``."""

    page: Path
    line: int
    kind: str  # python, console, sh, env
    code: str
    skip: str | None = None
    hidden: bool = False

    def where(self) -> str:
        return f"{self.page.name}:{self.line}"

    def commands(self) -> list[Command]:
        """The commands of a console session, with what each prints."""
        out: list[Command] = []
        lines = self.code.splitlines()
        i = 0
        while i < len(lines):
            text = lines[i]
            if text.startswith("$ "):
                cmd, start = text[2:], i
                while cmd.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    cmd += "\n" + lines[i]  # bash reads the backslash-newline itself
                out.append(Command(self.line + 1 + start, cmd))
            elif out:
                out[-1].output.append(text)
            i += 1
        return out


def blocks(page: Path) -> list[Block]:
    """Every runnable example of ``page`` in order, with the directives that apply to it."""
    lines = page.read_text().splitlines()
    found: list[Block] = []
    skip: str | None = None
    i = 0
    while i < len(lines):
        directive = _DIRECTIVE.match(lines[i])
        if directive:
            name, rest, closed = directive.groups()
            if name == "skip":
                skip = rest or "no reason given"
            elif name == "env":
                found.append(Block(page, i + 1, "env", rest, hidden=True))
            elif name == "setup":
                kind = RUN.get(rest.split()[0] if rest else "python", "python")
                body, start = [], i
                while not closed:
                    i += 1
                    if lines[i].strip() == "-->":
                        break
                    body.append(lines[i])
                code = textwrap.dedent("\n".join(body)) + "\n"
                found.append(Block(page, start + 1, kind, code, hidden=True))
            else:
                raise ValueError(f"{page.name}:{i + 1}: unknown docs-test directive {name!r}")
            i += 1
            continue
        fence = _FENCE.match(lines[i])
        if fence:
            indent, marker, lang = fence.groups()
            start, body = i, []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
                i += 1
            if lang in RUN:
                found.append(Block(page, start + 1, RUN[lang], "\n".join(body) + "\n", skip))
            skip = None
        i += 1
    return found
