"""Commands that ask before they destroy look the name up first: an unknown name is one
clear error, never a question (or a refusal to ask) about something that is not there."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["clients", "delete", "nosuch"], "there is no client named 'nosuch'"),
        (["users", "reset-totp", "nosuch"], "no account named 'nosuch'"),
        (["users", "delete", "nosuch"], "no account named 'nosuch'"),
    ],
)
def test_an_unknown_name_is_said_before_any_confirmation(
    cli, tmp_path: Path, args: list[str], error: str
) -> None:
    data = tmp_path / "data"
    made = cli(["clients", "create", "known", "--data-dir", data, "--json"])
    assert made.code == 0, made.stderr
    r = cli([*args, "--data-dir", data], input=b"")  # no terminal to confirm on
    assert r.code == 1
    assert r.stderr.splitlines()[0] == f"sealbox: error: {error}"
    assert "confirm" not in r.stderr


def test_a_known_client_still_needs_the_confirmation(cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(["clients", "create", "known", "--data-dir", data, "--json"]).code == 0
    r = cli(["clients", "delete", "known", "--data-dir", data], input=b"")
    assert r.code == 1
    assert "there is no terminal to confirm on" in r.stderr
    assert cli(["clients", "delete", "known", "--yes", "--data-dir", data]).code == 0
