"""The secrets file keeps what it holds: trailer, recipient checks, modes, editor sessions."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sealbox import age
from sealbox.secrets.workspace import (
    PREFIX,
    private_workspace,
    remove_stale_workspaces,
    workspace_roots,
)
from tests._race import clean_env
from tests.conftest import run_sealbox

CANARY = "canary-integrity-value-5d1e"


@pytest.fixture
def keys(tmp_path: Path):
    out = {}
    for who in ("alice", "mallory"):
        ident = age.X25519Identity.generate()
        f = tmp_path / f"{who}.key"
        f.write_text(age.identity_file(ident))
        out[who] = (f, str(ident.recipient()))
    return out


@pytest.fixture
def sfile(tmp_path: Path, cli, keys) -> Path:
    path = tmp_path / "secrets.env"
    assert cli(["secrets", "init", path, "-r", keys["alice"][1]]).code == 0
    assert cli(["secrets", "set", path, "DB_PASSWORD"], input=CANARY.encode()).code == 0
    assert cli(["secrets", "set", path, "API_TOKEN"], input=b"tok").code == 0
    return path


def test_a_file_missing_its_last_line_is_refused_and_never_saved_back(cli, sfile: Path) -> None:
    lines = sfile.read_text().splitlines()
    sfile.write_text("\n".join(lines[:-1]) + "\n")  # the trailer is gone
    before = sfile.read_bytes()
    for args in (["list", sfile], ["set", sfile, "NEW"], ["rm", sfile, "API_TOKEN"]):
        r = cli(["secrets", *args], input=b"v")
        assert r.code == 1
        assert "is damaged: its last line, the trailer, is missing" in r.stderr
        assert "sealbox: hint:" in r.stderr
    assert sfile.read_bytes() == before


def test_a_dropped_line_is_detected(cli, sfile: Path) -> None:
    lines = sfile.read_text().splitlines()
    del lines[2]  # API_TOKEN's line, lost in a bad merge
    sfile.write_text("\n".join(lines) + "\n")
    r = cli(["secrets", "list", sfile])
    assert r.code == 1
    assert "the trailer counts 2 secrets, the file holds 1" in r.stderr
    # After a person checks it, accept writes a trailer for what the file holds now.
    assert cli(["secrets", "accept", sfile]).code == 0
    assert cli(["secrets", "list", sfile]).out == "DB_PASSWORD\n"


def test_a_version_1_file_is_read_and_upgraded_on_the_next_write(cli, tmp_path: Path, keys) -> None:
    ident = age.X25519Identity.generate()
    plain = b"sealbox-secret/1 OLD\nold value"
    import base64

    value = base64.b64encode(age.encrypt(plain, [ident.recipient()])).decode()
    v1 = tmp_path / "v1.env"
    v1.write_text(
        "# sealbox-secrets/1: values are age-encrypted; edit with `sealbox secrets`\n"
        f"# recipient: {ident.recipient()}\nOLD={value}\n"
    )
    key = tmp_path / "v1.key"
    key.write_text(age.identity_file(ident))
    assert cli(["secrets", "get", v1, "OLD", "-i", key]).stdout == b"old value"
    r = cli(["secrets", "set", v1, "NEW"], input=b"new")
    assert r.code == 0
    assert f"upgraded {v1} to sealbox-secrets/2" in r.stderr
    text = v1.read_text()
    assert text.startswith("# sealbox-secrets/2")
    assert text.splitlines()[-1].startswith("# sealbox-secrets-end: 2 secrets")
    r = cli(["secrets", "list", v1, "-i", key])
    assert r.out == "NEW\tok\nOLD\tunchecked\n"


def test_set_names_the_recipients_it_encrypts_to(cli, sfile: Path, keys) -> None:
    r = cli(["secrets", "set", sfile, "X"], input=b"v")
    assert r.code == 0
    assert "encrypted to 1 recipient:" in r.stderr
    assert keys["alice"][1] in r.stderr


def test_a_swapped_recipient_header_is_caught_by_identity_holders(cli, sfile: Path, keys) -> None:
    # A malicious commit replaces the recipient line (and recomputes the trailer).
    text = sfile.read_text().replace(keys["alice"][1], keys["mallory"][1])
    sfile.write_text(text)
    assert cli(["secrets", "accept", sfile]).code == 0
    # The next honest set encrypts to the header: and says so.
    r = cli(["secrets", "set", sfile, "NEW_TOKEN"], input=b"fresh secret")
    assert keys["mallory"][1] in r.stderr
    # Identity holders find out: the values sealed before name the old list.
    r = cli(["secrets", "list", sfile, "-i", keys["alice"][0]])
    assert r.code == 1
    assert r.out.splitlines() == [
        "API_TOKEN\trecipients changed",
        "DB_PASSWORD\trecipients changed",
        "NEW_TOKEN\tnot encrypted to you",
    ]
    assert "is not the one API_TOKEN, DB_PASSWORD, NEW_TOKEN were encrypted to" in r.stderr
    r = cli(["secrets", "get", sfile, "DB_PASSWORD", "-i", keys["alice"][0]])
    assert r.code == 1 and r.stdout == b""
    assert "not the one DB_PASSWORD was encrypted to" in r.stderr
    assert CANARY not in r.stderr


def test_list_with_an_identity_that_opens_nothing_says_so(cli, sfile: Path, keys) -> None:
    r = cli(["secrets", "list", sfile, "-i", keys["mallory"][0]])
    assert r.code == 1
    assert r.out.splitlines() == [
        "API_TOKEN\tnot encrypted to you",
        "DB_PASSWORD\tnot encrypted to you",
    ]
    assert r.stderr.splitlines()[0] == (
        f"sealbox: error: {sfile}: none of its 2 values opens with the identities given"
    )


def test_rewrites_keep_the_mode_owner_and_group(cli, sfile: Path) -> None:
    os.chmod(sfile, 0o640)
    os.chown(sfile, 1234, 4321)
    assert cli(["secrets", "set", sfile, "MORE"], input=b"v").code == 0
    st = sfile.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (1234, 4321)


def _editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys, os, pathlib, time\np = pathlib.Path(sys.argv[1])\n"
        "pathlib.Path(os.environ['SEEN']).write_text(str(p.parent))\n" + body
    )
    return f"{sys.executable} {script}"


def _start_edit(
    tmp_path: Path,
    sfile: Path,
    keys,
    body: str,
    *,
    pipes: bool = True,
    env: dict[str, str] | None = None,
    new_session: bool = False,
) -> tuple[subprocess.Popen, Path]:
    seen = tmp_path / "seen"
    env = clean_env({"EDITOR": _editor(tmp_path, body), "SEEN": str(seen), **(env or {})})
    out = subprocess.PIPE if pipes else subprocess.DEVNULL
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sealbox",
            "secrets",
            "edit",
            str(sfile),
            "-i",
            str(keys["alice"][0]),
        ],
        env=env,
        stdout=out,
        stderr=out,
        start_new_session=new_session,
    )
    deadline = time.monotonic() + 30
    while not seen.exists() or not seen.read_text():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc, Path(seen.read_text())


def _descendants(pid: int) -> list[int]:
    """``pid`` and the processes under it, from /proc (empty where there is none)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = entry.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry.parent.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(children.get(found[-1], []))
    return found


def _signal_state(pid: int) -> str:
    """What a stuck process was doing and which signals it blocked, ignored or caught."""
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        waiting = Path(f"/proc/{pid}/wchan").read_text()
    except OSError as exc:
        return f"{pid}: {exc}"
    kept = [line for line in status if line.startswith(("State", "SigPnd", "ShdPnd", "Sig"))]
    return f"{pid} {command[:120]!r} wchan={waiting} " + " ".join(kept)


def _finish(proc: subprocess.Popen, timeout: float = 30) -> tuple[bytes, bytes]:
    """``proc.communicate``; past ``timeout``, the signal state of the session's processes
    (and this one's) in the failure, and the processes killed, so that nothing outlives
    the test."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stuck = _descendants(proc.pid)
        state = [_signal_state(pid) for pid in [os.getpid(), *stuck]]
        for pid in stuck:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the session did not end:\n" + "\n".join(state))


def test_the_decrypted_copy_lives_in_memory_and_is_private(tmp_path: Path, sfile: Path, keys):
    proc, folder = _start_edit(tmp_path, sfile, keys, "time.sleep(0.2)\n")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    root, in_memory = workspace_roots()[0]
    assert folder.parent == root
    if Path("/dev/shm").is_dir():
        assert in_memory
    proc.communicate(timeout=30)
    assert not folder.exists()


@pytest.mark.parametrize(
    ("sig", "to_group"),
    [
        (signal.SIGTERM, False),
        (signal.SIGHUP, False),
        # Ctrl-C and Ctrl-\ reach every process of the terminal's foreground group: here
        # the editor dies of them, so the session ends.
        (signal.SIGINT, True),
        (signal.SIGQUIT, True),
    ],
)
def test_a_signal_during_edit_removes_the_decrypted_copy(
    tmp_path: Path, sfile: Path, keys, sig, to_group
):
    before = sfile.read_bytes()
    proc, folder = _start_edit(tmp_path, sfile, keys, "time.sleep(60)\n", new_session=True)
    assert (folder / "secrets.env").exists()
    if to_group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    _out, err = _finish(proc)
    assert proc.returncode == 128 + sig  # as a shell reports a process the signal ended
    assert "interrupted" in err.decode() and "the decrypted copy was removed" in err.decode()
    assert not folder.exists()
    assert sfile.read_bytes() == before


def test_a_second_signal_during_the_clean_up_still_removes_the_decrypted_copy(
    tmp_path: Path, sfile: Path, keys
) -> None:
    # A large file in the session folder makes the overwrite before removal take a while;
    # the second SIGTERM arrives while it runs.
    body = "(p.parent / 'big').write_bytes(b'\\xff' * (128 << 20))\ntime.sleep(60)\n"
    proc, folder = _start_edit(tmp_path, sfile, keys, body)
    big = folder / "big"
    deadline = time.monotonic() + 30
    while not big.exists() or big.stat().st_size < 128 << 20:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    while big.exists():  # until the overwrite has begun
        with contextlib.suppress(OSError), big.open("rb") as fh:
            if fh.read(1) == b"\0":
                break
        assert time.monotonic() < deadline
        time.sleep(0.001)
    proc.send_signal(signal.SIGTERM)
    _finish(proc)
    assert proc.returncode in {128 + signal.SIGTERM, -signal.SIGTERM}
    assert not folder.exists()


def test_the_next_command_removes_what_a_killed_edit_left(
    tmp_path: Path, sfile: Path, keys
) -> None:
    body = "pathlib.Path(os.environ['SEEN']).with_name('editor.pid').write_text(str(os.getpid()))\ntime.sleep(60)\n"
    # A runtime folder of this test's own: a `sealbox secrets` command of a test running
    # beside it would remove the left-behind copy from /dev/shm before this one looks.
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    proc, folder = _start_edit(tmp_path, sfile, keys, body, pipes=False, env=env)
    pid_file = tmp_path / "editor.pid"
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()):  # the editor is open
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    # The orphaned editor, as a user would close it: gone before the next command runs.
    editor = os.pidfd_open(int(pid_file.read_text()))
    try:
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        assert select.select([editor], [], [], 30)[0], "the editor outlived SIGKILL"
    finally:
        os.close(editor)
    pid_file.unlink()
    assert folder.parent == runtime
    assert folder.exists() and folder.name.startswith(PREFIX)  # SIGKILL leaves it
    r = run_sealbox(["secrets", "list", sfile], env=env)
    assert r.returncode == 0
    assert f"removed {folder}" in r.stderr.decode()
    assert not folder.exists()


# The editor saves once the test has written "go": after the concurrent write, however
# long that takes.
_SAVE_ON_GO = (
    "go = pathlib.Path(os.environ['SEEN']).with_name('go')\n"
    "while not go.exists():\n"
    "    time.sleep(0.02)\n"
    "t = p.read_text().replace('API_TOKEN=tok', 'API_TOKEN=edited')\np.write_text(t)\n"
)


@contextlib.contextmanager
def _editing(tmp_path: Path, sfile: Path, keys) -> Iterator[subprocess.Popen]:
    """An edit session whose editor waits for "go"; ended (SIGTERM) if the test fails."""
    proc, _folder = _start_edit(tmp_path, sfile, keys, _SAVE_ON_GO)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()  # sealbox ends the editor too
            proc.communicate(timeout=30)


def test_edit_merges_a_concurrent_set_of_another_name(tmp_path: Path, sfile: Path, keys, cli):
    with _editing(tmp_path, sfile, keys) as proc:
        assert cli(["secrets", "set", sfile, "ADDED_MEANWHILE"], input=b"m").code == 0
        (tmp_path / "go").write_text("")
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    ident = ["-i", keys["alice"][0]]
    assert cli(["secrets", "get", sfile, "API_TOKEN", *ident]).stdout == b"edited"
    assert cli(["secrets", "get", sfile, "ADDED_MEANWHILE", *ident]).stdout == b"m"


def test_edit_refuses_a_conflict_on_the_same_name(tmp_path: Path, sfile: Path, keys, cli):
    with _editing(tmp_path, sfile, keys) as proc:
        assert cli(["secrets", "set", sfile, "API_TOKEN"], input=b"set meanwhile").code == 0
        (tmp_path / "go").write_text("")
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "changed by another writer meanwhile, in the same place: API_TOKEN" in err.decode()
    r = cli(["secrets", "get", sfile, "API_TOKEN", "-i", keys["alice"][0]])
    assert r.stdout == b"set meanwhile"  # nothing silently dropped


def test_ctrl_c_in_an_editor_that_takes_it_does_not_end_the_session(
    tmp_path: Path, sfile: Path, keys, cli
) -> None:
    # Vim takes Ctrl-C to leave insert mode: the edit goes on and is saved. The editor
    # says when it handles the keys (signals sent before would end it) and which it took.
    body = (
        "import signal\nhere = pathlib.Path(os.environ['SEEN'])\ntook = set()\n"
        "def take(signum, _frame):\n"
        "    took.add(signal.Signals(signum).name)\n"
        "    here.with_name('took').write_text(' '.join(sorted(took)))\n"
        "signal.signal(signal.SIGINT, take)\nsignal.signal(signal.SIGQUIT, take)\n"
        "here.with_name('ready').write_text('')\n"
        "while not here.with_name('go').exists():\n"
        "    time.sleep(0.05)\n"
        "p.write_text(p.read_text().replace('API_TOKEN=tok', 'API_TOKEN=after-ctrl-c'))\n"
    )
    proc, folder = _start_edit(tmp_path, sfile, keys, body, new_session=True)
    _wait_for(tmp_path / "ready", "", proc)  # the editor has set its signal handling
    os.killpg(proc.pid, signal.SIGINT)
    os.killpg(proc.pid, signal.SIGQUIT)
    # Both reached the editor while the session ran (and the session, in its group).
    _wait_for(tmp_path / "took", "SIGINT SIGQUIT", proc)
    (tmp_path / "go").write_text("")
    _out, err = _finish(proc)
    assert proc.returncode == 0, err
    assert "changed: API_TOKEN" in err.decode()
    assert not folder.exists()
    r = cli(["secrets", "get", sfile, "API_TOKEN", "-i", keys["alice"][0]])
    assert r.stdout == b"after-ctrl-c"


def _wait_for(path: Path, text: str, proc: subprocess.Popen) -> None:
    """Wait until ``path`` holds ``text`` (written by the editor of ``proc``'s session)."""
    deadline = time.monotonic() + 30
    while not (path.exists() and path.read_text() == text):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path.name} never said {text!r}"
        time.sleep(0.02)


def test_an_editor_killed_by_a_signal_is_reported_as_such(tmp_path: Path, sfile: Path, keys):
    before = sfile.read_bytes()
    env = {"EDITOR": _editor(tmp_path, "os.kill(os.getpid(), 9)\n"), "SEEN": str(tmp_path / "s")}
    r = run_sealbox(["secrets", "edit", sfile, "-i", keys["alice"][0]], env=env)
    assert r.returncode == 1
    assert "the editor was ended by SIGKILL; nothing changed" in r.stderr.decode()
    assert sfile.read_bytes() == before


@pytest.mark.parametrize(
    "body",
    [
        # Saved as it was, through a new file renamed over it (Vim's backupcopy=no).
        "t = p.read_text(); n = p.with_name('x'); n.write_text(t); n.replace(p)\n",
        # The same values written another way.
        "p.write_text(p.read_text().replace('API_TOKEN=tok', 'API_TOKEN=\"tok\"'))\n",
    ],
)
def test_an_edit_that_changes_no_value_leaves_the_file_alone(
    tmp_path: Path, sfile: Path, keys, body: str
) -> None:
    before, inode = sfile.read_bytes(), sfile.stat().st_ino
    env = {"EDITOR": _editor(tmp_path, body), "SEEN": str(tmp_path / "s")}
    r = run_sealbox(["secrets", "edit", sfile, "-i", keys["alice"][0]], env=env)
    assert r.returncode == 0, r.stderr
    assert "no change" in r.stderr.decode()
    assert sfile.read_bytes() == before
    assert sfile.stat().st_ino == inode  # not even rewritten


def test_an_editor_that_saves_by_renaming_a_new_file_is_read(
    tmp_path: Path, sfile: Path, keys, cli
) -> None:
    body = (
        "t = p.read_text().replace('API_TOKEN=tok', 'API_TOKEN=renamed')\n"
        "n = p.with_name('secrets.env.new'); n.write_text(t); n.replace(p)\n"
    )
    env = {"EDITOR": _editor(tmp_path, body), "SEEN": str(tmp_path / "s")}
    r = run_sealbox(["secrets", "edit", sfile, "-i", keys["alice"][0]], env=env)
    assert r.returncode == 0, r.stderr
    assert not Path((tmp_path / "s").read_text()).exists()
    assert cli(["secrets", "get", sfile, "API_TOKEN", "-i", keys["alice"][0]]).stdout == b"renamed"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def test_a_live_session_is_never_taken_for_left_behind_whatever_its_pid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two containers sharing /dev/shm, or a reused pid: the pid in a folder's name says
    # nothing about whether its session is alive. The session's lock does.
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    with private_workspace() as (folder, _):
        (folder / "secrets.env").write_text(CANARY)
        foreign = runtime / f"{PREFIX}{_dead_pid()}-abcdef"
        folder.rename(foreign)  # as another container's session looks from here
        try:
            assert remove_stale_workspaces() == []
            assert (foreign / "secrets.env").read_text() == CANARY
        finally:
            foreign.rename(folder)
    assert not folder.exists()
    # Once no session holds it, it is left behind, and removed.
    left = runtime / f"{PREFIX}{os.getpid()}-abcdef"
    left.mkdir(mode=0o700)
    (left / "secrets.env").write_text(CANARY)
    assert remove_stale_workspaces() == [left]
    assert not left.exists()


@pytest.mark.parametrize("link", [os.symlink, os.link])
def test_the_clean_up_never_overwrites_a_file_outside_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, link
) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    outside = tmp_path / "notes.txt"
    outside.write_text("keep me")
    with private_workspace() as (folder, _):
        link(outside, folder / "linked")
    assert not folder.exists()
    assert outside.read_text() == "keep me"
