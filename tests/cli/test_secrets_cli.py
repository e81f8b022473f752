"""`sealbox secrets …` transcripts, including edit (with a scripted editor) and run."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from sealbox import age
from tests.conftest import run_sealbox, sealbox_on_terminal

CANARY = "canary-secrets-cli-71c0"


@pytest.fixture
def keys(tmp_path: Path):
    out = {}
    for who in ("alice", "bob"):
        ident = age.X25519Identity.generate()
        f = tmp_path / f"{who}.key"
        f.write_text(age.identity_file(ident))
        out[who] = (f, str(ident.recipient()))
    return out


@pytest.fixture
def sfile(tmp_path: Path, cli, keys) -> Path:
    path = tmp_path / "secrets.env"
    r = cli(["secrets", "init", path, "-r", keys["alice"][1]])
    assert r.code == 0, r.stderr
    assert cli(["secrets", "set", path, "DB_PASSWORD"], input=CANARY.encode() + b"\n").code == 0
    assert cli(["secrets", "set", path, "API_TOKEN"], input=b"tok").code == 0
    return path


def test_init_set_list_get_rm(cli, sfile: Path, keys) -> None:
    assert CANARY not in sfile.read_text()
    r = cli(["secrets", "list", sfile])
    assert (r.code, r.out) == (0, "API_TOKEN\nDB_PASSWORD\n")
    r = cli(["secrets", "get", sfile, "DB_PASSWORD", "-i", keys["alice"][0]])
    assert (r.code, r.stdout) == (0, CANARY.encode())  # trailing newline of the input dropped
    assert cli(["secrets", "rm", sfile, "API_TOKEN", "--yes"]).code == 0
    assert cli(["secrets", "list", sfile]).out == "DB_PASSWORD\n"
    r = cli(["secrets", "rm", sfile, "API_TOKEN", "--yes"])
    assert r.code == 1 and "no secret named API_TOKEN" in r.stderr


@pytest.mark.parametrize(
    ("given", "stored"),
    [(b"v\n", b"v"), (b"v\r\n", b"v"), (b"v\r", b"v\r"), (b"v\n\n", b"v\n"), (b"v", b"v")],
)
def test_set_drops_one_line_end_of_the_input_and_nothing_else(
    cli, sfile: Path, keys, given: bytes, stored: bytes
) -> None:
    assert cli(["secrets", "set", sfile, "V"], input=given).code == 0
    r = cli(["secrets", "get", sfile, "V", "-i", keys["alice"][0]])
    assert (r.code, r.stdout) == (0, stored)


def test_init_refuses_existing_and_needs_recipients(cli, sfile: Path, tmp_path: Path, keys) -> None:
    before = sfile.read_bytes()
    r = cli(["secrets", "init", sfile, "-r", keys["bob"][1]])
    assert r.code == 1 and "already exists" in r.stderr and sfile.read_bytes() == before
    r = cli(["secrets", "init", tmp_path / "x.env"])
    assert r.code == 2 and "at least one recipient" in r.stderr
    r = cli(["secrets", "init", tmp_path / "x.env", "-r", "age1nope"])
    assert r.code == 1 and not (tmp_path / "x.env").exists()
    rfile = tmp_path / "recipients.txt"
    rfile.write_text(f"# team\n{keys['alice'][1]}\n{keys['bob'][1]}\n")
    r = cli(["secrets", "init", tmp_path / "y.env", "-R", rfile])
    assert r.code == 0 and "2 recipients" in r.out


def test_a_recipients_file_is_read_and_refused_as_encrypt_reads_it(
    cli, tmp_path: Path, keys
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe" + os.urandom(64))
    bad = tmp_path / "bad"
    bad.write_text(f"{keys['alice'][1]}\n\nnot a recipient\n")
    for path, error in (
        (binary, f"recipients file {binary} is not UTF-8 text"),
        (bad, f"recipients file {bad} line 3: unknown recipient 'not a recipient'"),
    ):
        for command in (["secrets", "init", tmp_path / "s.env"], ["encrypt", "-o", tmp_path / "o"]):
            r = cli([*command, "-R", path], input=b"x")
            assert r.code == 1, r.stderr
            assert r.stderr.splitlines()[0] == f"sealbox: error: {error}", command
        assert not (tmp_path / "s.env").exists() and not (tmp_path / "o").exists()
    # A PEM public key spans lines: the header holds its ssh-rsa form; an SSH line its comment.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ssh = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    mixed = tmp_path / "mixed"
    mixed.write_bytes(pem + b"# and\n" + keys["bob"][1].encode() + b"\n")
    ed = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    commented = tmp_path / "commented"
    commented.write_bytes(ed + b" bob@laptop\n")
    r = cli(["secrets", "init", tmp_path / "s.env", "-R", mixed, "-R", commented])
    assert r.code == 0, r.stderr
    header = [
        line.removeprefix("# recipient: ")
        for line in (tmp_path / "s.env").read_text().splitlines()
        if line.startswith("# recipient: ")
    ]
    assert header == [ssh.decode(), keys["bob"][1], ed.decode() + " bob@laptop"]
    # A pipe (a shell's `-R <(…)`) is read once.
    piped = run_sealbox(
        ["secrets", "init", tmp_path / "p.env", "-R", "/dev/stdin"],
        input=keys["bob"][1].encode() + b"\n",
    )
    assert piped.returncode == 0, piped.stderr
    assert f"# recipient: {keys['bob'][1]}" in (tmp_path / "p.env").read_text()


def test_other_identity_and_rotate(cli, sfile: Path, keys) -> None:
    r = cli(["secrets", "get", sfile, "DB_PASSWORD", "-i", keys["bob"][0]])
    assert r.code == 1 and r.stdout == b"" and "no identity can decrypt DB_PASSWORD" in r.stderr
    r = cli(["secrets", "rotate", sfile, "-i", keys["alice"][0], "-r", keys["bob"][1]])
    assert r.code == 0, r.stderr
    r = cli(["secrets", "get", sfile, "DB_PASSWORD", "-i", keys["bob"][0]])
    assert r.stdout == CANARY.encode()
    for name in ("DB_PASSWORD", "API_TOKEN"):
        r = cli(["secrets", "get", sfile, name, "-i", keys["alice"][0]])
        assert r.code == 1


def test_errors_name_file_and_line(cli, sfile: Path, keys) -> None:
    lines = sfile.read_text().splitlines()
    sfile.write_text("\n".join([*lines[:-1], "broken line", lines[-1]]) + "\n")
    for args in (["list", sfile], ["get", sfile, "DB_PASSWORD", "-i", keys["alice"][0]]):
        r = cli(["secrets", *args])
        assert r.code == 1
        assert r.stderr.startswith(f"sealbox: error: {sfile}:5: expected NAME=VALUE")
    r = cli(["secrets", "list", sfile.parent / "missing.env"])
    assert r.code == 1 and "does not exist" in r.stderr
    r = cli(["secrets", "set", sfile.parent / "missing.env", "X"], input=b"v")
    assert r.code == 1 and not (sfile.parent / "missing.env").exists()
    r = cli(["secrets", "set", sfile, "1BAD"], input=b"v")
    assert r.code == 2


def _editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys, os, stat, pathlib\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "pathlib.Path(os.environ['SEEN']).write_text("
        "oct(p.parent.stat().st_mode & 0o777) + ' ' + oct(p.stat().st_mode & 0o777) + ' ' + str(p.parent))\n"
        + body
    )
    return f"{sys.executable} {script}"


def test_edit(tmp_path: Path, sfile: Path, keys) -> None:
    before = sfile.read_text().splitlines()
    seen = tmp_path / "seen"
    editor = _editor(
        tmp_path,
        "t = p.read_text().replace('API_TOKEN=tok', 'API_TOKEN=\"new token\"')\n"
        "p.write_text(t + 'ADDED=1\\n')\n",
    )
    p = run_sealbox(
        ["secrets", "edit", sfile, "-i", keys["alice"][0]],
        env={"EDITOR": editor, "SEEN": str(seen), "PATH": os.environ["PATH"]},
    )
    assert p.returncode == 0, p.stderr
    assert b"changed: ADDED, API_TOKEN" in p.stderr
    folder_mode, file_mode, folder = seen.read_text().split()
    assert (folder_mode, file_mode) == ("0o700", "0o600")
    assert not Path(folder).exists()  # the decrypted copy is gone
    after = sfile.read_text().splitlines()
    assert [ln.split("=")[0] for ln in after[2:-1]] == ["ADDED", "API_TOKEN", "DB_PASSWORD"]
    assert after[-2] == before[-2]  # DB_PASSWORD untouched, ciphertext and all
    g = run_sealbox(["secrets", "get", sfile, "API_TOKEN", "-i", keys["alice"][0]])
    assert g.stdout == b"new token"


def test_edit_with_a_broken_result_changes_nothing(tmp_path: Path, sfile: Path, keys) -> None:
    before = sfile.read_bytes()
    seen = tmp_path / "seen"
    editor = _editor(tmp_path, "p.write_text(p.read_text() + 'A=1\\nA=2\\n')\n")
    p = run_sealbox(
        ["secrets", "edit", sfile, "-i", keys["alice"][0]],
        env={"EDITOR": editor, "SEEN": str(seen), "PATH": os.environ["PATH"]},
    )
    assert p.returncode == 1 and b"appears twice; nothing changed" in p.stderr
    assert sfile.read_bytes() == before
    assert not Path(seen.read_text().split()[2]).exists()
    failing = _editor(tmp_path, "sys.exit(3)\n")
    p = run_sealbox(
        ["secrets", "edit", sfile, "-i", keys["alice"][0]],
        env={"EDITOR": failing, "SEEN": str(seen), "PATH": os.environ["PATH"]},
    )
    assert p.returncode == 1 and b"exited with status 3" in p.stderr
    assert sfile.read_bytes() == before


@pytest.mark.parametrize("answer", ["y", "n"])
def test_an_edit_that_does_not_read_is_offered_again_on_a_terminal(
    tmp_path: Path, sfile: Path, keys, answer: str
) -> None:
    before = sfile.read_bytes()
    seen = tmp_path / "seen"
    # The first edit names A twice; the second (the text as the first left it) fixes it.
    editor = _editor(
        tmp_path,
        "t = p.read_text()\n"
        "if 'A=2' in t: p.write_text(t.replace('A=2\\n', 'B=2\\n'))\n"
        "else: p.write_text(t + 'A=1\\nA=2\\n')\n",
    )
    status, output = sealbox_on_terminal(
        ["secrets", "edit", sfile, "-i", keys["alice"][0]],
        [(r"line \d+: A appears twice\r\nEdit again\? \[Y/n\] ", answer)],
        env={"EDITOR": editor, "SEEN": str(seen)},
    )
    folder = Path(seen.read_text().split()[2])
    assert not folder.exists()
    if answer == "n":
        assert status == 1 and b"appears twice; nothing changed" in output
        assert sfile.read_bytes() == before
        return
    assert status == 0, output
    assert b"changed: A, B" in output
    for name, value in (("A", b"1"), ("B", b"2")):
        g = run_sealbox(["secrets", "get", sfile, name, "-i", keys["alice"][0]])
        assert g.stdout == value


def test_run_puts_secrets_in_the_child_environment(sfile: Path, keys) -> None:
    code = "import os,sys; print(os.environ['DB_PASSWORD']); sys.exit(7)"
    p = run_sealbox(
        ["secrets", "run", sfile, "-i", keys["alice"][0], "--", sys.executable, "-c", code],
        env={"PATH": os.environ["PATH"]},
    )
    assert p.returncode == 7
    assert p.stdout.decode().strip() == CANARY
    p = run_sealbox(["secrets", "run", sfile, "-i", keys["alice"][0], "--", "no-such-program-x"])
    assert p.returncode == 127  # as a shell answers
    assert p.stderr.startswith(b"sealbox: error: command not found: no-such-program-x\n")


def test_run_gives_every_word_from_the_command_on_to_the_command(sfile: Path, keys) -> None:
    code = "import sys; print(sys.argv[1:])"
    key = keys["alice"][0]
    # Without "--", words after the command's name that sealbox also reads (-i, --help)
    # are the command's; with it, the same.
    for sep in ([], ["--"]):
        p = run_sealbox(
            ["secrets", "run", sfile, "-i", key, *sep, sys.executable, "-c", code,
             "-i", "x", "--help", "--", "-"],
            env={"PATH": os.environ["PATH"]},
        )  # fmt: skip
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode().strip() == "['-i', 'x', '--help', '--', '-']"
    # sealbox's own options still go anywhere before the command, in either form.
    p = run_sealbox(
        ["secrets", "run", f"--identity={key}", sfile, sys.executable, "-c", code, "ok"],
        env={"PATH": os.environ["PATH"]},
    )
    assert p.returncode == 0 and p.stdout.decode().strip() == "['ok']", p.stderr
    p = run_sealbox(["secrets", "run", sfile, "--no-such-option", "-i", key, "true"])
    assert p.returncode == 2 and b"error: unknown option (not shown" in p.stderr
    assert b"--no-such-option" not in p.stderr


def test_canary_only_in_get_and_run(cli, sfile: Path, keys, tmp_path: Path) -> None:
    outputs = []
    for args in (
        ["secrets", "list", sfile],
        ["secrets", "rotate", sfile, "-i", keys["alice"][0], "-r", keys["alice"][1]],
        ["secrets", "set", sfile, "OTHER"],
        ["secrets", "get", sfile, "DB_PASSWORD", "-i", keys["bob"][0]],
        ["secrets", "rm", sfile, "OTHER", "--yes"],
    ):
        r = cli(args, input=b"x")
        outputs += [r.stdout.decode(errors="replace"), r.stderr]
    assert CANARY not in "\n".join(outputs)
    assert CANARY not in sfile.read_text()


def test_set_from_a_prompt(tmp_path: Path, sfile: Path, keys) -> None:
    pexpect = pytest.importorskip("pexpect")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "sealbox", "secrets", "set", str(sfile), "TYPED"],
        env=env,
        timeout=30,
    )
    child.expect("Value for TYPED: ")
    child.sendline("typed-" + CANARY)
    child.expect(pexpect.EOF)
    child.wait()
    assert child.exitstatus == 0
    assert CANARY.encode() not in child.before  # not echoed
    g = run_sealbox(["secrets", "get", sfile, "TYPED", "-i", keys["alice"][0]])
    assert g.stdout == ("typed-" + CANARY).encode()
    assert stat.S_IMODE(sfile.stat().st_mode) == 0o644


def test_rm_without_a_terminal_needs_yes(cli, sfile: Path) -> None:
    before = sfile.read_bytes()
    r = cli(["secrets", "rm", sfile, "API_TOKEN"])
    assert r.code == 1
    assert r.stderr.splitlines() == [
        (
            "sealbox: error: removing API_TOKEN cannot be undone and there is no terminal to "
            "confirm on"
        ),
        "sealbox: hint: pass --yes to confirm",
    ]
    assert sfile.read_bytes() == before


def test_list_json(cli, sfile: Path, keys) -> None:
    r = cli(["secrets", "list", sfile, "--json"])
    assert (r.code, json.loads(r.out)) == (0, [{"name": "API_TOKEN"}, {"name": "DB_PASSWORD"}])
    r = cli(["secrets", "list", sfile, "--json", "-i", keys["alice"][0]])
    assert r.code == 0, r.stderr
    assert [item["name"] for item in json.loads(r.out)] == ["API_TOKEN", "DB_PASSWORD"]
    assert all(set(item) == {"name", "state"} for item in json.loads(r.out))


def test_a_missing_secrets_file_points_at_init(cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope.env"
    for args in (["set", missing, "A"], ["list", missing], ["rm", missing, "A", "--yes"]):
        r = cli(["secrets", *args], input=b"v")
        assert r.code == 1
        assert r.stderr.splitlines() == [
            f"sealbox: error: secrets file {missing} does not exist",
            (
                f"sealbox: hint: create it first: sealbox secrets init {missing} -r RECIPIENT "
                "(or -R FILE)"
            ),
        ]
    assert not missing.exists()


@pytest.mark.parametrize("name", ["PATH", "LD_PRELOAD", "PYTHONPATH", "https_proxy", "BASH_ENV"])
def test_run_refuses_a_name_that_decides_what_runs_unless_allowed(
    cli, sfile: Path, keys, tmp_path: Path, name: str
) -> None:
    # `set` needs no identity: whoever can commit can add one of these to the file.
    evil = tmp_path / "bin"
    evil.mkdir()
    assert cli(["secrets", "set", sfile, name], input=f"{evil}:/usr/bin:/bin".encode()).code == 0
    code = "import os; print(os.environ['DB_PASSWORD'])"
    args = ["secrets", "run", sfile, "-i", keys["alice"][0]]
    p = run_sealbox([*args, "--", sys.executable, "-c", code], env={"PATH": os.environ["PATH"]})
    assert p.returncode == 1
    assert p.stdout == b""
    err = p.stderr.decode()
    assert f"sets {name}, which would change which program runs" in err
    assert f"pass --allow-name {name}" in err
    allowed = run_sealbox(
        [*args, "--allow-name", name, "--", sys.executable, "-c", code],
        env={"PATH": os.environ["PATH"]},
    )
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.decode().strip() == CANARY


def test_run_of_a_file_that_cannot_be_executed_exits_126(sfile: Path, keys, tmp_path) -> None:
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    script.write_bytes(b"\x7fELF-not-really")  # executable bit, but no program the kernel runs
    p = run_sealbox(["secrets", "run", sfile, "-i", keys["alice"][0], "--", str(script)])
    assert p.returncode == 126
    assert p.stderr.startswith(f"sealbox: error: cannot run {script}: ".encode())
    assert b"hint" not in p.stderr  # a binary for another machine: no script advice


def test_run_of_a_path_that_is_there_but_is_no_program_exits_126_not_127(
    sfile: Path, keys, tmp_path
) -> None:
    # A shell says 126 for these ("Is a directory", "Permission denied"); 127 is for a
    # command that is not there at all.
    plain = tmp_path / "no-execute-bit"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o644)
    chmod = f"sealbox: hint: if it is a program, give it the execute bit: chmod +x {plain}\n"
    for path, why, hint in (
        (tmp_path, "it is a directory", ""),
        (plain, "permission denied", chmod),
    ):
        p = run_sealbox(["secrets", "run", sfile, "-i", keys["alice"][0], "--", str(path)])
        assert p.returncode == 126, p.stderr
        assert p.stderr == f"sealbox: error: cannot run {path}: {why}\n{hint}".encode()


def test_run_of_a_script_the_kernel_cannot_start_says_why_and_what_to_do(
    sfile: Path, keys, tmp_path
) -> None:
    no_shebang = tmp_path / "no-shebang"
    no_shebang.write_text("echo hello\n")
    missing = tmp_path / "missing-interpreter"
    missing.write_text(f"#!{tmp_path}/no-such-shell\necho hello\n")
    for script in (no_shebang, missing):
        script.chmod(0o755)
    runs = {
        script: run_sealbox(["secrets", "run", sfile, "-i", keys["alice"][0], "--", str(script)])
        for script in (no_shebang, missing)
    }
    for p in runs.values():
        assert p.returncode == 126, p.stderr
    assert runs[no_shebang].stderr.decode().splitlines() == [
        f"sealbox: error: cannot run {no_shebang}: exec format error",
        (
            "sealbox: hint: a script needs a first line naming its interpreter (#!/bin/sh), "
            f"or run it through one: -- sh {no_shebang}"
        ),
    ]
    assert runs[missing].stderr.decode().splitlines()[1] == (
        "sealbox: hint: the interpreter its first line (#!) names is not installed, or not there"
    )


def test_run_finds_the_command_on_the_callers_path_not_the_files(
    cli, sfile: Path, keys, tmp_path: Path
) -> None:
    evil = tmp_path / "bin"
    evil.mkdir()
    fake = evil / "python3"
    fake.write_text("#!/bin/sh\necho PWNED\n")
    fake.chmod(0o755)
    assert cli(["secrets", "set", sfile, "PATH"], input=f"{evil}:/usr/bin:/bin".encode()).code == 0
    real = Path(sys.executable).parent
    p = run_sealbox(
        [
            *["secrets", "run", sfile, "-i", keys["alice"][0], "--allow-name", "PATH"],
            *["--", "python3", "-c", "import os; print(os.environ['PATH'].split(':')[0])"],
        ],
        env={"PATH": f"{real}:/usr/bin:/bin"},
    )
    assert p.returncode == 0, p.stderr
    assert b"PWNED" not in p.stdout
    assert p.stdout.decode().strip() == str(evil)  # the child still gets the file's PATH


def test_edit_reads_comments_after_values_as_dotenv_does(tmp_path: Path, sfile: Path, keys) -> None:
    seen = tmp_path / "seen"
    editor = _editor(
        tmp_path,
        "p.write_text('API_TOKEN=newtoken   # rotated 2024-06\\n'"
        " 'DB_PASSWORD=\"quoted\" # a comment\\n' 'HASH=a#b\\n')\n",
    )
    p = run_sealbox(
        ["secrets", "edit", sfile, "-i", keys["alice"][0]],
        env={"EDITOR": editor, "SEEN": str(seen), "PATH": os.environ["PATH"]},
    )
    assert p.returncode == 0, p.stderr
    for name, value in (("API_TOKEN", b"newtoken"), ("DB_PASSWORD", b"quoted"), ("HASH", b"a#b")):
        g = run_sealbox(["secrets", "get", sfile, name, "-i", keys["alice"][0]])
        assert g.stdout == value


def test_edit_refuses_an_emptied_buffer_and_a_broken_editor_command(
    tmp_path: Path, sfile: Path, keys
) -> None:
    before = sfile.read_bytes()
    seen = tmp_path / "seen"
    editor = _editor(tmp_path, "p.write_text('')\n")
    p = run_sealbox(
        ["secrets", "edit", sfile, "-i", keys["alice"][0]],
        env={"EDITOR": editor, "SEEN": str(seen), "PATH": os.environ["PATH"]},
    )
    assert p.returncode == 1
    assert b"the edited file holds no secret; nothing changed (2 kept)" in p.stderr
    assert sfile.read_bytes() == before
    p = run_sealbox(
        ["secrets", "edit", sfile, "-i", keys["alice"][0]],
        env={"EDITOR": 'vim "x', "PATH": os.environ["PATH"]},
    )
    assert p.returncode == 1
    assert p.stderr.decode().startswith("sealbox: error: the editor command 'vim \"x' cannot")
    assert sfile.read_bytes() == before


def test_vim_and_neovim_are_told_to_keep_the_values_off_the_disk(tmp_path: Path) -> None:
    from sealbox.cli.secrets import _private_editor_options

    for name in ("vim", "vim.basic", "nvim"):
        program = tmp_path / name
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
        assert _private_editor_options(str(program))[:3] == ["-i", "NONE", "-n"]
    link = tmp_path / "vi"
    link.symlink_to(tmp_path / "vim.basic")  # Debian's vi is a link to vim
    assert "-i" in _private_editor_options(str(link))
    assert _private_editor_options("nano") == []
    assert _private_editor_options(str(tmp_path / "code")) == []


@pytest.mark.parametrize("given", [b"", b"\n", b"\r\n"])
def test_set_refuses_an_empty_value_unless_allowed(cli, sfile: Path, keys, given: bytes) -> None:
    # `sealbox secrets set FILE NAME < /dev/null` stored an empty secret, silently.
    before = sfile.read_bytes()
    r = cli(["secrets", "set", sfile, "EMPTY"], input=given)
    assert r.code == 1
    assert r.stderr.startswith("sealbox: error: the value on stdin is empty; nothing was set\n")
    assert "--allow-empty" in r.stderr
    assert sfile.read_bytes() == before
    assert cli(["secrets", "set", sfile, "EMPTY", "--allow-empty"], input=given).code == 0
    g = cli(["secrets", "get", sfile, "EMPTY", "-i", keys["alice"][0]])
    assert (g.code, g.stdout) == (0, b"")


def test_edit_reads_a_buffer_the_editor_saved_with_a_byte_order_mark(
    tmp_path: Path, sfile: Path, keys
) -> None:
    # Notepad and others save UTF-8 with a BOM: line 1 was "expected NAME=VALUE".
    seen = tmp_path / "seen"
    editor = _editor(
        tmp_path,
        "p.write_bytes(b'\\xef\\xbb\\xbfAPI_TOKEN=after-bom\\r\\nDB_PASSWORD=same\\r\\n')\n",
    )
    p = run_sealbox(
        ["secrets", "edit", sfile, "-i", keys["alice"][0]],
        env={"EDITOR": editor, "SEEN": str(seen), "PATH": os.environ["PATH"]},
    )
    assert p.returncode == 0, p.stderr
    g = run_sealbox(["secrets", "get", sfile, "API_TOKEN", "-i", keys["alice"][0]])
    assert g.stdout == b"after-bom"


def test_edit_does_not_hand_sealboxs_passphrase_variable_to_the_editor(
    tmp_path: Path, sfile: Path, keys
) -> None:
    # As for `run`'s command: the passphrase unlocks every file sealed to the identity, and
    # an editor starts plugins, language servers and shells of its own.
    passphrase = "canary-passphrase-edit-5e1b"
    locked = tmp_path / "alice.key.age"
    made = run_sealbox(
        ["encrypt", "-p", "-o", locked, keys["alice"][0]], env={"SEALBOX_PASSPHRASE": passphrase}
    )
    assert made.returncode == 0, made.stderr
    seen = tmp_path / "seen"
    editor = _editor(
        tmp_path, "pathlib.Path(os.environ['SEEN'] + '.env').write_text(repr(dict(os.environ)))\n"
    )
    p = run_sealbox(
        ["secrets", "edit", sfile, "-i", locked],
        env={
            "EDITOR": editor,
            "SEEN": str(seen),
            "PATH": os.environ["PATH"],
            "SEALBOX_PASSPHRASE": passphrase,
        },
    )
    assert p.returncode == 0, p.stderr
    environment = Path(str(seen) + ".env").read_text()
    assert "SEEN" in environment  # the editor ran, with the caller's environment
    assert passphrase not in environment and "SEALBOX_PASSPHRASE" not in environment
