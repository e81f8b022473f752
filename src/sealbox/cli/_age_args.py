"""The options of the age commands (and the passphrase file every command reads), declared once.

Each :class:`Option` says its spellings (and its old, hidden ones), the parameter it
fills, whether it takes a value, may be repeated or names a path, its default and
range, and its help. The click commands get their
options from here (:func:`click_option`, :func:`click_options`), and so does the
direct path of ``encrypt``/``decrypt`` (:mod:`sealbox.cli._direct`, through
:func:`direct_spec`), which reads a plain invocation without loading click: one
table for both, so they cannot drift apart.

Free of click (and pathlib) until a click decorator is made: this module is on the
start-up path of every ``sealbox encrypt`` and ``decrypt``.
"""

from __future__ import annotations

from sealbox.cli._io import PASSPHRASE_SOURCES

# Spelled out rather than imported from typing (start-up time); type checkers know it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, TypeVar

    F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "DECRYPT",
    "ENCRYPT",
    "INPUT",
    "PASSPHRASE_FILE",
    "Option",
    "click_option",
    "click_options",
    "direct_spec",
    "identity_option",
    "recipient_options",
    "stdin_conflict",
]


class Option:
    """One command-line option.

    Args:
        flags: its spellings (``("-o", "--output")``).
        param: the keyword argument it fills.
        takes_value: ``False`` for a flag (``--force``).
        repeat: may be given several times (the values make a list).
        path: names a file (a folder there is a usage error).
        direct: the direct path reads it; the others send the run through click.
        metavar: the value's name in the help (click's own when omitted).
        help: the help line.
        old: older spellings, still read but left out of the help.
        default: the value when the option is not given (shown in the help).
        int_range: the value is a whole number in this range (both ends included).
    """

    __slots__ = (
        "default",
        "direct",
        "flags",
        "help",
        "int_range",
        "metavar",
        "old",
        "param",
        "path",
        "repeat",
        "takes_value",
    )

    def __init__(
        self,
        flags: tuple[str, ...],
        param: str,
        *,
        takes_value: bool = True,
        repeat: bool = False,
        path: bool = False,
        direct: bool = True,
        metavar: str | None = None,
        help: str = "",  # noqa: A002 - click's name for it
        old: tuple[str, ...] = (),
        default: str | int | None = None,
        int_range: tuple[int, int] | None = None,
    ) -> None:
        self.flags = flags
        self.param = param
        self.takes_value = takes_value
        self.repeat = repeat
        self.path = path
        self.direct = direct
        self.metavar = metavar
        self.help = help
        self.old = old
        self.default = default
        self.int_range = int_range

    def with_help(self, help: str) -> Option:  # noqa: A002 - click's name for it
        """The same option, described otherwise (``-i`` means another thing to encrypt)."""
        return Option(
            self.flags,
            self.param,
            takes_value=self.takes_value,
            repeat=self.repeat,
            path=self.path,
            direct=self.direct,
            metavar=self.metavar,
            help=help,
            old=self.old,
            default=self.default,
            int_range=self.int_range,
        )

    def __repr__(self) -> str:
        return f"Option({'/'.join(self.flags)} -> {self.param})"


RECIPIENT = Option(
    ("-r", "--recipient"),
    "recipients",
    repeat=True,
    metavar="RECIPIENT",
    help="Encrypt to this recipient (age1…, age1pq1…, ssh-ed25519 …, ssh-rsa …). Repeatable.",
)
RECIPIENTS_FILE = Option(
    ("-R", "--recipients-file"),
    "recipient_files",
    repeat=True,
    path=True,
    help="Encrypt to the recipients listed in this file. Repeatable.",
)
IDENTITY = Option(
    ("-i", "--identity"),
    "identity_files",
    repeat=True,
    path=True,
    help="An identity file: age keys, an SSH private key, or a passphrase-encrypted "
    "age file. Repeatable.",
)
PASSPHRASE = Option(
    ("-p", "--passphrase"),
    "use_passphrase",
    takes_value=False,
    direct=False,  # its checks (it stands alone) and its prompt: click
    help="Encrypt with a passphrase (scrypt) instead.",
)
ARMOR = Option(
    ("-a", "--armor"), "armor", takes_value=False, help="Write the ASCII-armored (PEM) form."
)
OUTPUT = Option(
    ("-o", "--output"),
    "output_path",
    path=True,
    help="Write the result to this file (default: standard output).",
)
FORCE = Option(
    ("--force",), "force", takes_value=False, help="Replace the output file if it exists."
)
PASSPHRASE_FILE = Option(
    ("--passphrase-file",),
    "passphrase_file",
    path=True,
    direct=False,  # passphrases and their prompts: click
    help=f"Read the passphrase from this file (the order: {PASSPHRASE_SOURCES}).",
)
ENCRYPT_MODE = Option(
    ("-e", "--encrypt"),
    "encrypt_mode",
    takes_value=False,
    help="Encrypt, as age -e (what this command always does).",
)
DECRYPT_MODE = Option(
    ("-d", "--decrypt"),
    "decrypt_mode",
    takes_value=False,
    help="Decrypt, as age -d (what this command always does).",
)
PLUGIN = Option(
    ("-j",),
    "plugins",
    repeat=True,
    direct=False,  # refused, by the click command, before anything else is looked at
    metavar="PLUGIN",
    help="An age plugin: not supported (refused, as are plugin recipients and identities).",
)
INPUT = Option((), "input_path", path=True, metavar="[INPUT]")
"""The one positional argument, the input file (``-`` or none: standard input)."""

ENCRYPT: tuple[Option, ...] = (
    RECIPIENT,
    RECIPIENTS_FILE,
    IDENTITY.with_help("Encrypt to the recipients of this identity file. Repeatable."),
    PASSPHRASE,
    ARMOR,
    OUTPUT,
    FORCE,
    PASSPHRASE_FILE,
    ENCRYPT_MODE,
    PLUGIN,
)
"""``sealbox encrypt``'s options, in the order of its help."""

DECRYPT: tuple[Option, ...] = (IDENTITY, OUTPUT, FORCE, PASSPHRASE_FILE, DECRYPT_MODE, PLUGIN)
"""``sealbox decrypt``'s options, in the order of its help."""


def stdin_conflict(options: dict[str, Any]) -> str | None:
    """The usage error when two of INPUT, ``-R -`` and ``-i -`` read standard input, else
    ``None`` (the second would find it empty; age: "standard input is used for multiple
    purposes"). ``options``: the keyword arguments of ``encrypt`` or ``decrypt``."""
    readers = ["-R -" for path in options.get("recipient_files") or () if str(path) == "-"]
    readers += ["-i -" for path in options.get("identity_files") or () if str(path) == "-"]
    if str(options.get("input_path") or "-") == "-":
        readers.append("the input")
    if len(readers) < 2:
        return None
    return f"{readers[0]} and {readers[1]} both read standard input"


def direct_spec(options: Iterable[Option]) -> dict[str, tuple[str, bool, bool]]:
    """What the direct path reads: each spelling -> (parameter, takes a value, repeatable)."""
    return {
        flag: (option.param, option.takes_value, option.repeat)
        for option in options
        if option.direct
        for flag in (*option.flags, *option.old)
    }


def click_option(option: Option, *, required: bool = False) -> Callable[[F], F]:
    """The click decorator of ``option`` (the argument for :data:`INPUT`)."""
    from pathlib import Path

    import click

    from sealbox.cli._paths import FilePath

    kwargs: dict[str, Any] = {}
    if option.path:
        kwargs["type"] = FilePath(dir_okay=False, path_type=Path)
    elif option.int_range is not None:
        kwargs["type"] = click.IntRange(*option.int_range)
    if option.metavar is not None:
        kwargs["metavar"] = option.metavar
    if not option.flags:
        return click.argument(option.param, required=required, **kwargs)
    if not option.takes_value:
        kwargs["is_flag"] = True
    if option.default is not None:
        kwargs["default"] = option.default
        kwargs["show_default"] = True
    if option.old:
        from sealbox.cli._dialect import AliasedOption

        kwargs["cls"] = AliasedOption
        kwargs["old_names"] = option.old
    return click.option(
        *option.flags,
        *option.old,
        option.param,
        multiple=option.repeat,
        required=required,
        help=option.help,
        **kwargs,
    )


def click_options(options: Iterable[Option]) -> Callable[[F], F]:
    """The click decorators of ``options``, listed in the help in their order."""
    decorators = [click_option(option) for option in options]

    def decorate(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return decorate


def recipient_options(what: str = "") -> Callable[[F], F]:
    """``-r/--recipient RECIPIENT`` and ``-R/--recipients-file FILE``, both repeatable.

    Args:
        what: what is encrypted, for the help text ("the keyring"); nothing for the input.
    """
    if not what:
        return click_options([RECIPIENT, RECIPIENTS_FILE])
    encrypt = f"Encrypt {what} "
    return click_options(
        [
            RECIPIENT.with_help(RECIPIENT.help.replace("Encrypt ", encrypt, 1)),
            RECIPIENTS_FILE.with_help(RECIPIENTS_FILE.help.replace("Encrypt ", encrypt, 1)),
        ]
    )


def identity_option(help_text: str, *, required: bool = False) -> Callable[[F], F]:
    """``-i/--identity FILE``, repeatable (``-`` reads identities from stdin)."""
    return click_option(IDENTITY.with_help(help_text), required=required)
