"""``sealbox encrypt``, ``decrypt`` and ``jwt verify`` without loading the argument parser.

Importing ``click`` costs more than a whole small file takes to encrypt, and
file encryption and token checks are what people time and run in loops. A plain
invocation — the options the tables in :mod:`sealbox.cli._age_args` and
:mod:`sealbox.cli._jwt_verify` mark ``direct``, each given once (or repeated where
the option repeats) with its value as the next argument or after ``=``, and at
most one positional argument — is read here and handed to the same functions the
click commands call. Anything else (help, usage errors, ``-p``, ``--keyset``,
grouped short flags, ``--``, a value starting with ``-``, a number out of its
range, a path that is a folder or a pasted secret key) returns ``None`` and goes
through click, which owns every message about usage. The click commands are built
from the same tables, so both read the same options.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from sealbox.cli._age_args import DECRYPT, ENCRYPT, INPUT, Option, direct_spec, stdin_conflict

__all__ = ["run_direct"]

# option spelling -> (parameter, takes a value, repeatable)
_Spec = dict[str, tuple[str, bool, bool]]

_DECRYPT: _Spec = direct_spec(DECRYPT)
_ENCRYPT: _Spec = direct_spec(ENCRYPT)
# Parameters holding paths: a folder or an empty name there is a usage error, which click
# reports.
_PATHS = tuple(dict.fromkeys(o.param for o in (*ENCRYPT, *DECRYPT, INPUT) if o.path))


def parse(
    argv: Sequence[str],
    spec: _Spec,
    *,
    positional: str = INPUT.param,
    paths: Sequence[str] = _PATHS,
) -> dict[str, Any] | None:
    """The keyword arguments for a plain invocation, or ``None`` for anything else.

    ``positional``: the parameter the one positional argument fills; ``paths``: the
    parameters that name files.
    """
    kwargs: dict[str, Any] = {}
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "-" or not arg.startswith("-"):
            ok = positional not in kwargs
            kwargs[positional] = arg
        else:
            ok = _take_option(arg, rest, spec, kwargs)
        if not ok:
            return None
    return None if _path_click_refuses(kwargs, paths) else kwargs


def _in_range(kwargs: dict[str, Any], options: Sequence[Option]) -> bool:
    """Turn whole-number values into ints; false if one is not a number in its range."""
    for option in options:
        value = kwargs.get(option.param)
        if option.int_range is None or value is None:
            continue
        low, high = option.int_range
        if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
            return False
        kwargs[option.param] = int(value)
    return True


def _take_option(arg: str, rest: list[str], spec: _Spec, kwargs: dict[str, Any]) -> bool:
    """Put one option (and its value, taken from ``rest``) into ``kwargs``; false if unusual."""
    name, eq, value = arg.partition("=")
    if name not in spec or (eq and not name.startswith("--")):
        return False
    param, takes_value, repeatable = spec[name]
    if not takes_value:
        ok = not eq and param not in kwargs
        kwargs[param] = True
        return ok
    if not eq:
        if not rest:
            return False
        value = rest.pop(0)
    if not value or (value.startswith("-") and value != "-"):
        return False
    if repeatable:
        kwargs.setdefault(param, []).append(value)
        return True
    ok = param not in kwargs
    kwargs[param] = value
    return ok


def _path_click_refuses(kwargs: dict[str, Any], paths: Sequence[str]) -> bool:
    from sealbox.cli._io import pasted_secret_key

    for param in paths:
        value = kwargs.get(param)
        for path in value if isinstance(value, list) else [value]:
            if path == "" or (path is not None and path != "-" and os.path.isdir(path)):
                return True
            if path is not None and pasted_secret_key(path):
                # A key pasted as a file name: click refuses it without quoting it.
                return True
    return False


def _load(name: str, *, program: bool, module: str = "_encrypt_decrypt") -> Callable[..., None]:
    """The function that runs the command (importing its modules, most of a small run).

    In the ``sealbox`` program the collector of reference cycles is paused while they
    load, and what they loaded is then set aside from its passes (``gc.freeze``):
    loading allocates many objects and frees few, which sets off passes, full ones
    among them, that find no garbage, and modules live as long as the process. The
    run itself goes with the collector on. A program calling :func:`sealbox.cli.main`
    keeps its collector as it is.
    """
    from importlib import import_module

    if not program:
        loaded = import_module(f"sealbox.cli.{module}")
    else:
        import gc

        collecting = gc.isenabled()
        gc.disable()
        try:
            loaded = import_module(f"sealbox.cli.{module}")
        finally:
            gc.freeze()
            if collecting:
                gc.enable()
    command: Callable[..., None] = getattr(loaded, name)
    return command


def run_direct(argv: Sequence[str], *, program: bool = False) -> int | None:
    """Run ``encrypt``, ``decrypt`` or ``jwt verify`` if ``argv`` is a plain invocation of one.

    ``program``: this process is the ``sealbox`` program, which exits after the run
    (see :func:`_load`).

    Returns:
        The exit status, or ``None`` when click must read these arguments.
    """
    found = _arguments(argv)
    if found is None:
        return None
    name, module, kwargs = found
    command = _load(name, program=program, module=module)

    from sealbox.cli._errors import debug_requested, report

    try:
        command(**kwargs)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - report() sorts them
        return report(exc, debug=debug_requested(argv))
    return 0


def _arguments(argv: Sequence[str]) -> tuple[str, str, dict[str, Any]] | None:
    """The function to run (its name and module) and its keyword arguments, or ``None``."""
    kwargs: dict[str, Any] | None = None
    if argv[:1] == ["encrypt"]:
        kwargs = parse(argv[1:], _ENCRYPT)
        # No recipient at all, or stdin read twice, is a usage error: click says so.
        if (
            kwargs is not None
            and any(k in kwargs for k in ("recipients", "recipient_files", "identity_files"))
            and stdin_conflict(kwargs) is None
        ):
            return "encrypt_files", "_encrypt_decrypt", kwargs
    elif argv[:1] == ["decrypt"]:
        kwargs = parse(argv[1:], _DECRYPT)
        if kwargs is not None and stdin_conflict(kwargs) is None:
            return "decrypt_files", "_encrypt_decrypt", kwargs
    elif argv[:2] == ["jwt", "verify"]:
        kwargs = _jwt_verify_arguments(argv[2:])
        if kwargs is not None:
            return "verify_token", "_jwt_verify", kwargs
    return None


def _jwt_verify_arguments(argv: Sequence[str]) -> dict[str, Any] | None:
    """``jwt verify``'s keyword arguments for a plain invocation, or ``None``."""
    from sealbox.cli._jwt_verify import TOKEN, VERIFY, usage_problem

    paths = [o.param for o in VERIFY if o.path]
    kwargs = parse(argv, direct_spec(VERIFY), positional=TOKEN.param, paths=paths)
    if kwargs is None or not _in_range(kwargs, VERIFY) or usage_problem(kwargs):
        return None
    return kwargs
