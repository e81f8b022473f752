"""`sealbox hash-password` / `verify-password` at a terminal: what is typed there that is
no password (bytes that are not UTF-8, Ctrl-D) is a plain error, never an internal one."""

from __future__ import annotations

from tests.cli.test_cli_passwords import _run_on_a_terminal


def test_hash_password_refuses_non_utf8_typed_at_the_prompt_plainly():
    code, output = _run_on_a_terminal(["hash-password"], [b"ab\xffcd"])
    assert code == 1, output
    assert b"sealbox: error: the password typed is not UTF-8 text" in output
    assert b"internal error" not in output


def test_verify_password_refuses_non_utf8_typed_at_the_prompt_plainly(tmp_path):
    stored = tmp_path / "hash.txt"
    stored.write_text("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$" + "A" * 43 + "\n")
    code, output = _run_on_a_terminal(
        ["verify-password", "--hash-file", str(stored), "--profile", "test"], [b"\xff"]
    )
    assert code == 1, output
    assert b"sealbox: error: the password typed is not UTF-8 text" in output
    assert b"internal error" not in output


def test_end_of_input_at_the_password_prompt_is_a_plain_error():
    code, output = _run_on_a_terminal(["hash-password"], [b"\x04"])
    assert code == 1, output
    assert b"sealbox: error: no password typed (end of input at the prompt)" in output
    assert b"internal error" not in output
