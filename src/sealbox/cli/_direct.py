"""``sealbox encrypt`` and ``sealbox decrypt`` without loading the argument parser.

Importing ``click`` costs more than a whole small file takes to encrypt, and
file encryption is what people time and run in loops. A plain invocation — the
options the table in :mod:`sealbox.cli._age_args` marks ``direct``, each given
once with its value as the next argument or after ``=``, and at most one input —
is read here and handed to the same functions the click commands call. Anything
else (help, usage errors, ``-p``, grouped short flags, ``--``, a value starting
with ``-``, a path that is a folder) returns ``None`` and goes through click,
which owns every message about usage. The click commands are built from the same
table, so both read the same options.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from sealbox.cli._age_args import DECRYPT, ENCRYPT, INPUT, direct_spec

__all__ = ["run_direct"]

# option spelling -> (parameter, takes a value, repeatable)
_Spec = dict[str, tuple[str, bool, bool]]

_DECRYPT: _Spec = direct_spec(DECRYPT)
_ENCRYPT: _Spec = direct_spec(ENCRYPT)
# Parameters holding paths: a folder there is a usage error, which click reports.
_PATHS = tuple(dict.fromkeys(o.param for o in (*ENCRYPT, *DECRYPT, INPUT) if o.path))


def parse(argv: Sequence[str], spec: _Spec) -> dict[str, Any] | None:
    """The keyword arguments for a plain invocation, or ``None`` for anything else."""
    kwargs: dict[str, Any] = {}
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "-" or not arg.startswith("-"):
            ok = INPUT.param not in kwargs
            kwargs[INPUT.param] = arg
        else:
            ok = _take_option(arg, rest, spec, kwargs)
        if not ok:
            return None
    return None if _names_a_folder(kwargs) else kwargs


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


def _names_a_folder(kwargs: dict[str, Any]) -> bool:
    for param in _PATHS:
        value = kwargs.get(param)
        for path in value if isinstance(value, list) else [value]:
            if path is not None and path != "-" and os.path.isdir(path):
                return True
    return False


def _load(name: str, *, program: bool) -> Callable[..., None]:
    """The function that runs the command (importing its modules, most of a small run).

    In the ``sealbox`` program the collector of reference cycles is paused while they
    load, and what they loaded is then set aside from its passes (``gc.freeze``):
    loading allocates many objects and frees few, which sets off passes, full ones
    among them, that find no garbage, and modules live as long as the process. The
    run itself goes with the collector on. A program calling :func:`sealbox.cli.main`
    keeps its collector as it is.
    """
    if not program:
        from sealbox.cli import _encrypt_decrypt
    else:
        import gc

        collecting = gc.isenabled()
        gc.disable()
        try:
            from sealbox.cli import _encrypt_decrypt
        finally:
            gc.freeze()
            if collecting:
                gc.enable()
    command: Callable[..., None] = getattr(_encrypt_decrypt, name)
    return command


def run_direct(argv: Sequence[str], *, program: bool = False) -> int | None:
    """Run ``encrypt`` or ``decrypt`` if ``argv`` is a plain invocation of one.

    ``program``: this process is the ``sealbox`` program, which exits after the run
    (see :func:`_load`).

    Returns:
        The exit status, or ``None`` when click must read these arguments.
    """
    if not argv:
        return None
    if argv[0] == "encrypt":
        kwargs = parse(argv[1:], _ENCRYPT)
        # No recipient at all is a usage error: click says so.
        if kwargs is None or not any(
            k in kwargs for k in ("recipients", "recipient_files", "identity_files")
        ):
            return None
        command = _load("encrypt_files", program=program)
    elif argv[0] == "decrypt":
        kwargs = parse(argv[1:], _DECRYPT)
        if kwargs is None:
            return None
        command = _load("decrypt_files", program=program)
    else:
        return None

    from sealbox.cli._errors import debug_requested, report

    try:
        command(**kwargs)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - report() sorts them
        return report(exc, debug=debug_requested(argv))
    return 0
