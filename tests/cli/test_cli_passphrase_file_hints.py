"""Every command that reads --passphrase-file says how to fix a file it cannot use."""

from __future__ import annotations

import pytest

MISSING_HINT = (
    "sealbox: hint: check the path given to --passphrase-file, or give the passphrase with "
    "$SEALBOX_PASSPHRASE"
)
NOT_UTF8_HINT = (
    "sealbox: hint: save the passphrase in the file as UTF-8 text, or give it with "
    "$SEALBOX_PASSPHRASE instead of --passphrase-file"
)


def _commands(tmp_path):
    return [
        ["key", "generate", "-o", tmp_path / "k"],
        ["jwt", "keyset", "create", tmp_path / "ks.jwt"],
        ["ca", "init", tmp_path / "ca", "--encrypt-key"],
    ]


@pytest.mark.parametrize("index", range(3))
def test_a_missing_passphrase_file_says_to_check_the_path(cli, tmp_path, index):
    pf = tmp_path / "nope"
    args = _commands(tmp_path)[index]
    result = cli([*args, "--passphrase-file", pf])
    assert result.code == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"sealbox: error: cannot read passphrase file {pf}: no such file or directory",
        MISSING_HINT,
    ]


@pytest.mark.parametrize("index", range(3))
def test_a_passphrase_file_that_is_not_utf8_says_to_save_it_as_utf8(cli, tmp_path, index):
    pf = tmp_path / "pass.bin"
    pf.write_bytes(b"caf\xe9\n")
    result = cli([*_commands(tmp_path)[index], "--passphrase-file", pf])
    assert result.code == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"sealbox: error: passphrase file {pf} is not UTF-8 text",
        NOT_UTF8_HINT,
    ]


def test_an_empty_passphrase_file_says_to_write_the_passphrase_in_it(cli, tmp_path):
    pf = tmp_path / "empty"
    pf.write_bytes(b"\n")
    result = cli(["key", "generate", "-o", tmp_path / "k", "--passphrase-file", pf])
    assert result.code == 1
    assert result.stderr.splitlines() == [
        f"sealbox: error: the passphrase from passphrase file {pf} is empty",
        (
            "sealbox: hint: write the passphrase in the file, or give it with $SEALBOX_PASSPHRASE "
            "instead of --passphrase-file"
        ),
    ]
