"""The pieces of the command line's dialect (docs/cli.md) that several command groups share.

Old spellings of options and of choice values stay accepted for a release without
being shown in ``--help`` (:func:`option` with ``old=``, :class:`AliasChoice`);
``--json`` prints one document the same way everywhere (:data:`json_option`,
:func:`echo_json`); a number of seconds is finite and in range (:class:`Seconds`);
destructive commands ask on the terminal or need ``--yes`` (:data:`yes_option`,
:func:`confirm`); a command that runs another program reads its own options up to that
program's name (:class:`CommandLast`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import click

from sealbox.cli._io import CLIError, note, open_tty

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "AliasChoice",
    "AliasedOption",
    "CommandLast",
    "Seconds",
    "confirm",
    "echo_json",
    "json_option",
    "not_stdout",
    "option",
    "yes_option",
]


class CommandLast(click.Command):
    """A command whose last argument is another program's command line.

    Its own options are read up to the command's first word; from there on every word
    is the command's, with or without ``--`` before it (``run FILE ls -i`` gives ``-i``
    to ``ls``, and ``--help`` after the command's name is the command's). The command
    starts at the first positional word after ``leading`` of them (the command's own
    arguments before it, e.g. ``FILE``).
    """

    leading = 1

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        valued = {
            name
            for param in self.params
            if isinstance(param, click.Option) and not param.is_flag and not param.count
            for name in (*param.opts, *param.secondary_opts)
        }
        seen, index = 0, 0
        while index < len(args):
            word = args[index]
            if word == "--":
                break  # said where the command starts
            if word.startswith("-") and word != "-":
                # An option; one that takes a value takes the next word unless given "=…".
                index += 2 if word in valued else 1
                continue
            if seen == self.leading:
                args = [*args[:index], "--", *args[index:]]
                break
            seen += 1
            index += 1
        return super().parse_args(ctx, args)


class AliasedOption(click.Option):
    """An option whose old spellings are still read but left out of help, messages and
    shell completion: ``opts`` holds the current names only, and the parser is given the
    old ones beside them."""

    def __init__(self, *args: Any, old_names: Sequence[str] = (), **kwargs: Any) -> None:
        self.old_names = tuple(old_names)
        super().__init__(*args, **kwargs)
        self.opts = [o for o in self.opts if o not in self.old_names]

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        current = self.opts
        self.opts = [*current, *self.old_names]
        try:
            super().add_to_parser(parser, ctx)
        finally:
            self.opts = current


def option(*decls: str, old: Iterable[str] = (), **kwargs: Any) -> Callable[[F], F]:
    """``click.option(*decls, **kwargs)``, also reading the ``old`` spellings (hidden)."""
    old = tuple(old)
    decorator: Callable[[F], F] = click.option(
        *decls, *old, cls=AliasedOption, old_names=old, **kwargs
    )
    return decorator


class AliasChoice(click.Choice):  # type: ignore[type-arg]  # generic only in newer click
    """A choice whose old spellings (``aliases``: old -> current) are accepted, not listed."""

    def __init__(self, choices: Sequence[str], aliases: Mapping[str, str]) -> None:
        super().__init__(list(choices))
        self.aliases = dict(aliases)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            value = self.aliases.get(value, value)
        return super().convert(value, param, ctx)


class Seconds(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    """A finite number of seconds from ``minimum`` (excluded when ``above``) to ``maximum``.

    ``click.FloatRange`` lets ``nan`` through (it compares false to both bounds), and
    ``inf`` or ``1e300`` overflow the socket layer and the service's settings, so a wait
    given as one of them is a usage error (exit 2) here rather than a failure later.
    """

    name = "seconds"

    def __init__(self, minimum: float, maximum: float, *, above: bool = False) -> None:
        self.minimum, self.maximum, self.above = minimum, maximum, above

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            seconds = value
        else:
            try:
                seconds = float(value)
            except (TypeError, ValueError, OverflowError):
                self.fail(f"{value!r} is not a number of seconds", param, ctx)
        low_ok = seconds > self.minimum if self.above else seconds >= self.minimum
        if not (low_ok and seconds <= self.maximum):  # nan fails this too
            low = f"above {self.minimum:g}" if self.above else f"at least {self.minimum:g}"
            self.fail(
                f"{value} is not a number of seconds {low} and at most {self.maximum:g}",
                param,
                ctx,
            )
        return seconds


json_option: Callable[[F], F] = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON for scripts (fields: docs/cli.md)."
)

yes_option: Callable[[F], F] = click.option(
    "--yes", is_flag=True, help="Do not ask for confirmation (needed without a terminal)."
)


def not_stdout(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A click callback for an ``-o`` that names files (``FILE`` and ``FILE.pub``,
    ``PREFIX.crt`` and ``PREFIX.key``): ``-`` would name a file ``-``, not stdout, so it
    is a usage error."""
    if value is not None and str(value) == "-":
        raise click.BadParameter(
            "'-' is not a file name here: this command writes files next to each other, "
            "not to stdout",
            ctx=ctx,
            param=param,
        )
    return value


def echo_json(document: Any) -> None:
    """Print ``document`` as the one JSON document of the command's output."""
    click.echo(json.dumps(document, indent=2))


def confirm(question: str, *, action: str, yes: bool) -> None:
    """Ask ``question`` on the terminal unless ``yes``; refuse without a terminal.

    ``action`` names what would happen, for the messages ("destroying key 1a2b3c4d").

    Raises:
        CLIError: there is no terminal and no ``--yes``, or the answer is not yes.
    """
    if yes:
        return
    try:
        tty = open_tty()
    except CLIError:
        raise CLIError(
            f"{action} cannot be undone and there is no terminal to confirm on",
            hint="pass --yes to confirm",
        ) from None
    with tty:
        tty.write(f"{question} [y/N] ")
        if tty.readline().strip().lower() not in {"y", "yes"}:
            raise CLIError(f"not done: {action} was not confirmed")
    note(action)
