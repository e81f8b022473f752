"""encrypt/decrypt options are declared once: the click commands and the direct path
read the same table, so an option cannot be known to one and not the other."""

from __future__ import annotations

import click
import pytest

from sealbox.cli._age_args import DECRYPT, ENCRYPT, INPUT, Option
from sealbox.cli._direct import _DECRYPT, _ENCRYPT
from sealbox.cli.age import decrypt, encrypt


def _click_spec(command: click.Command) -> dict[str, tuple[str, bool, bool]]:
    """What the click command accepts: each spelling -> (parameter, takes a value, repeatable)."""
    spec = {}
    for param in command.params:
        if isinstance(param, click.Option):
            for flag in param.opts:
                spec[flag] = (str(param.name), not param.is_flag, param.multiple)
    return spec


@pytest.mark.parametrize(
    ("command", "table", "direct"),
    [(encrypt, ENCRYPT, _ENCRYPT), (decrypt, DECRYPT, _DECRYPT)],
    ids=["encrypt", "decrypt"],
)
def test_the_click_command_and_the_direct_path_read_one_table(
    command: click.Command, table: tuple[Option, ...], direct: dict[str, tuple[str, bool, bool]]
) -> None:
    accepted = _click_spec(command)
    # Every option of the table is an option of the click command, as declared...
    assert accepted == {flag: (o.param, o.takes_value, o.repeat) for o in table for flag in o.flags}
    # ...and the direct path reads a part of them, the same way.
    assert direct and all(accepted[flag] == how for flag, how in direct.items())
    left_to_click = {flag for o in table if not o.direct for flag in o.flags}
    assert left_to_click == set(accepted) - set(direct)
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    assert [a.name for a in arguments] == [INPUT.param]


def test_the_direct_path_fills_the_parameters_the_commands_take() -> None:
    # Both call the same functions with the same keywords.
    from inspect import signature

    from sealbox.cli._encrypt_decrypt import decrypt_files, encrypt_files

    for table, function in ((ENCRYPT, encrypt_files), (DECRYPT, decrypt_files)):
        params = set(signature(function).parameters)
        assert {o.param for o in table} | {INPUT.param} == params
