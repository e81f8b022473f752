"""The root command group, lazy sub-command loading and error reporting."""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Callable
from typing import Any

import click

from sealbox import __version__
from sealbox.cli._errors import debug_requested, report
from sealbox.cli._io import note, print_error

# The commands whose library code logs (sealbox.cli._library_log, which loads logging).
LOGGING_COMMANDS = frozenset({"users", "clients", "jwt"})

# name -> (module:attribute, one-line help). The help is here so that
# `sealbox --help` does not import every command module to describe it.
COMMANDS: dict[str, tuple[str, str]] = {
    "ca": (
        "sealbox.cli.ca:ca",
        "A certificate authority: issue, renew, inspect and pin TLS certificates.",
    ),
    "keyring": (
        "sealbox.cli.keyring:keyring",
        "Create, rotate and manage field-encryption keyrings.",
    ),
    "seal": ("sealbox.cli.fields:seal", "Encrypt a value from stdin into a text token."),
    "key": (
        "sealbox.cli.key:key",
        "Generate RSA, Ed25519, X25519 and ECDSA key pairs; show public keys and fingerprints.",
    ),
    "sign": ("sealbox.cli.sign:sign", "Sign a file (SSHSIG, as ssh-keygen -Y sign)."),
    "verify": ("sealbox.cli.sign:verify", "Verify a file signature (as ssh-keygen -Y verify)."),
    "open": ("sealbox.cli.fields:open_", "Decrypt a text token from stdin."),
    "completion": (
        "sealbox.cli.completion:completion",
        "Print the shell completion script (bash, zsh or fish).",
    ),
    "keygen": ("sealbox.cli.age:keygen", "Generate an age identity (X25519, or --pq)."),
    "encrypt": ("sealbox.cli.age:encrypt", "Encrypt a file in the age format."),
    "decrypt": ("sealbox.cli.age:decrypt", "Decrypt an age file."),
    "inspect": ("sealbox.cli.age:inspect", "Describe an age file without decrypting it."),
    "legacy": (
        "sealbox.cli.legacy:legacy_group",
        "Decrypt or migrate files of the original Fernet and AES-GCM recipes.",
    ),
    "serve": ("sealbox.cli.serve:serve", "Run the HTTPS service."),
    "users": ("sealbox.cli.users:users", "Manage the service's accounts."),
    "clients": (
        "sealbox.cli.clients:clients",
        "Manage the service's OAuth 2 clients (machines using client credentials).",
    ),
    "transit": (
        "sealbox.cli.transit:transit",
        "Encryption as a service: keys, encrypt, decrypt, rewrap through a running service.",
    ),
    "secrets": (
        "sealbox.cli.secrets:secrets",
        "Manage an encrypted secrets file that is safe to commit.",
    ),
    "hash-password": (
        "sealbox.cli.passwords:hash_password",
        "Hash a password from stdin or a prompt with Argon2id.",
    ),
    "verify-password": (
        "sealbox.cli.passwords:verify_password",
        "Check a password against a hash; say if it needs a rehash.",
    ),
    "jwt": (
        "sealbox.cli.jwt:jwt",
        "Signing keysets, JWKS, and issuing, verifying and inspecting JWTs.",
    ),
}


class _Interrupted(Exception):  # noqa: N818 - it carries an interruption, it is not one
    """A Ctrl-C or SIGTERM (``interruption``) on its way past click to :func:`run`."""

    def __init__(self, interruption: KeyboardInterrupt) -> None:
        super().__init__()
        self.interruption = interruption


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module_name, attr = spec[0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            # click would print an empty line and turn it into Abort, losing SIGTERM's
            # Terminated (exit 143): carry it past click to run(), which reports it.
            raise _Interrupted(exc) from exc

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="sealbox", message="%(prog)s %(version)s")
@click.option(
    "--debug",
    is_flag=True,
    envvar="SEALBOX_DEBUG",
    help="Show a traceback when a command fails.",
)
def cli(debug: bool) -> None:
    """sealbox: encryption and secure communication.

    Secrets (passphrases, plaintext) are read from stdin, a file, the environment
    or a terminal prompt, never from the command line.
    """


# click 8.2 raises this for a group called without a command; 8.1 prints the help itself.
_NO_ARGS_IS_HELP: type[click.UsageError] | None = getattr(
    click.exceptions, "NoArgsIsHelpError", None
)


def run(argv: list[str]) -> int:
    """Run the CLI with ``argv`` and map every outcome to an exit status."""
    command = next((arg for arg in _before_dashes(argv) if not arg.startswith("-")), None)
    if command not in LOGGING_COMMANDS:
        return _run(argv)
    from sealbox.cli._library_log import library_log

    with library_log() as log:
        status = _run(argv, before_error=log.failing)
        log.done(status)
    return status


def _nothing() -> None:
    pass


def _run(argv: list[str], *, before_error: Callable[[], None] = _nothing) -> int:
    """Run ``argv``; ``before_error`` is called before a failure's error line."""
    from sealbox.storage import set_wait_notice

    debug = debug_requested(argv)
    set_wait_notice(lambda path: note(f"sealbox: note: waiting for another writer of {path}"))
    try:
        result: Any = cli.main(argv, prog_name="sealbox", standalone_mode=False)
    except click.UsageError as exc:
        before_error()
        if _NO_ARGS_IS_HELP is not None and isinstance(exc, _NO_ARGS_IS_HELP):
            click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
            return 2
        # One error line and a hint naming the command's --help: no usage block first.
        message, hint = usage_advice(exc, argv)
        print_error(message, hint=hint)
        return 2
    except click.Abort:
        before_error()
        print_error("interrupted")
        return 130
    except click.ClickException as exc:
        before_error()
        print_error(exc.format_message())
        return exc.exit_code
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - report() sorts them
        before_error()
        return report(exc.interruption if isinstance(exc, _Interrupted) else exc, debug=debug)
    return result if isinstance(result, int) else 0


def usage_advice(exc: click.UsageError, argv: list[str]) -> tuple[str, str]:
    """The error line and the hint for a usage error: the nearest name when one was mistyped.

    What was typed where sealbox expected something else is never repeated: a password
    typed at the wrong place (``decrypt -p s3cret``, ``--hunter2``, an extra argument, a
    command's place) would land on stderr, and from there in CI logs and scrollback. Only
    sealbox's own names are shown: the command's path and the nearest valid names.
    """
    command = exc.ctx.command_path if exc.ctx is not None else _command_path(argv)
    usage = f"run '{command} --help' for usage"
    if isinstance(exc, click.NoSuchOption):
        # The name only (click split off any '=value'); its close matches are valid names.
        name = exc.option_name
        read_as_short_options = not name.startswith("--") and any(
            arg.startswith(name) and len(arg) > len(name) for arg in _before_dashes(argv)
        )
        if read_as_short_options:
            # '-abc…' is read as the short options -a, -b, …: likely a key id (base64url
            # may start with '-') that click took for options.
            return _UNKNOWN_OPTION, f"a value that starts with '-' goes after '--'; {usage}"
        return _UNKNOWN_OPTION, _did_you_mean(exc.possibilities or [], usage)
    if _EXTRA_ARGUMENTS.match(exc.message):
        # A value put on the command line by mistake (`secrets set F NAME VALUE`) is
        # often the secret itself.
        return "got unexpected extra arguments (not shown: they may be secret)", (
            f"secret values are read from standard input or a prompt; {usage}"
        )
    unknown = _unknown_command(exc)
    if unknown is not None:
        ctx = exc.ctx
        if unknown == "version" and ctx is not None and ctx.parent is None:
            # As git and pip spell it: a command here, an option of sealbox's.
            return _UNKNOWN_COMMAND, "sealbox prints its version with 'sealbox --version'"
        nearest = (
            difflib.get_close_matches(unknown, _visible_commands(ctx.command, ctx))
            if ctx is not None and isinstance(ctx.command, click.Group)
            else []
        )
        return _UNKNOWN_COMMAND, _did_you_mean(nearest, usage)
    return _sentence(exc.format_message()), usage


def _unknown_command(exc: click.UsageError) -> str | None:
    """The name of the command ``exc`` says does not exist, or ``None``."""
    if _NO_SUCH_COMMAND_ERROR is not None and isinstance(exc, _NO_SUCH_COMMAND_ERROR):
        return str(getattr(exc, "command_name", ""))
    unknown = _NO_SUCH_COMMAND.match(exc.message)
    return None if unknown is None else unknown.group(1)


def _command_path(argv: list[str]) -> str:
    """The command ``argv`` names, for an error raised with no context (an option given
    without its value is found by click's parser, which knows no command)."""
    path: list[str] = ["sealbox"]
    group: click.Command = cli
    ctx = click.Context(cli, info_name="sealbox")
    for arg in _before_dashes(argv):
        if arg.startswith("-") or not isinstance(group, click.Group):
            continue
        found = group.get_command(ctx, arg)
        if found is None:
            break
        path.append(arg)
        group = found
    return " ".join(path)


_UNKNOWN_OPTION = "unknown option (not shown: it may be a secret)"
_UNKNOWN_COMMAND = "unknown command (not shown: it may be a secret)"
# click 8.4 and later raise NoSuchCommand; before, a UsageError with this text.
_NO_SUCH_COMMAND_ERROR: type[click.UsageError] | None = getattr(
    click.exceptions, "NoSuchCommand", None
)
_NO_SUCH_COMMAND = re.compile(r"No such command ['\"](.+)['\"]\.", re.DOTALL)
_CHOOSE_FROM = re.compile(r"\.? Choose from: (.+?),?$")
_EXTRA_ARGUMENTS = re.compile(r"Got unexpected extra arguments? \(")


def _visible_commands(group: click.Group, ctx: click.Context) -> list[str]:
    if isinstance(group, LazyGroup):
        # The registry's commands are all shown; importing each to ask would load them all.
        return group.list_commands(ctx)
    return [
        name
        for name in group.list_commands(ctx)
        if (sub := group.get_command(ctx, name)) is not None and not sub.hidden
    ]


def _did_you_mean(names: list[str], usage: str) -> str:
    if not names:
        return usage
    return f"did you mean {' or '.join(names)}? ({usage})"


def _before_dashes(argv: list[str]) -> list[str]:
    return argv[: argv.index("--")] if "--" in argv else argv


def _sentence(message: str) -> str:
    # click writes "Missing argument 'FILE'."; sealbox's errors are lowercase, no period,
    # and one line: a missing choice's list ("Choose from:\n\tbash,\n\tzsh…") joins it.
    message = _CHOOSE_FROM.sub(r" (one of: \1)", " ".join(message.split()))
    message = message.replace("is not a valid integer range", "is not a valid integer")
    message = message.rstrip(".")
    if len(message) > 1 and message[0].isupper() and message[1].islower():
        message = message[0].lower() + message[1:]
    return message
