"""The audit log: JSON lines, appended whole by several writers, redacted, never raising."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from pathlib import Path

import pytest

from sealbox.secret import Redactor
from sealbox.service.audit import AuditLog, AuditUnavailableError


def test_records_are_json_lines(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "sub" / "audit.log")
    log.record(
        "transit.encrypt", outcome="success", user="ops", address="127.0.0.1", detail="key=k"
    )
    log.record("login", outcome="failure", user="ü", address=None)
    log.close()
    log.close()
    path = tmp_path / "sub" / "audit.log"
    assert path.stat().st_mode & 0o777 == 0o600
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert first["event"] == "transit.encrypt" and first["detail"] == "key=k"
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert (second["user"], second["address"], second["outcome"]) == ("ü", None, "failure")
    assert "detail" not in second
    log.record("after close", outcome="success")  # ignored, no error


def test_many_writers_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    logs = [AuditLog(path) for _ in range(4)]

    def write(log: AuditLog, n: int) -> None:
        for i in range(300):
            log.record("e", outcome="success", user=f"w{n}", detail="x" * (i % 50))

    threads = [threading.Thread(target=write, args=(log, n)) for n, log in enumerate(logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 1200
    assert all(json.loads(line)["event"] == "e" for line in lines)


def test_secrets_shaped_values_are_redacted(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    log.record("login", outcome="failure", user=jwt_like)
    log.close()
    text = (tmp_path / "audit.log").read_text()
    assert jwt_like not in text and "**********" in text


def test_a_registered_secret_spelling_part_of_the_record_leaves_its_shape_alone(
    tmp_path: Path,
) -> None:
    redactor = Redactor()
    for value in ("password", "throttled", '", "user": '):
        redactor.add(value)
    log = AuditLog(tmp_path / "audit.log", redactor=redactor)
    log.record("password_change", outcome="throttled", user="victim", address="127.0.0.1")
    log.record("login", outcome="failure", user="my password", detail="was throttled")
    log.close()
    first, second = (json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines())
    assert (first["event"], first["outcome"], first["user"]) == (
        "password_change",
        "throttled",
        "victim",
    )
    assert (second["user"], second["detail"]) == ("my **********", "was **********")


def test_a_write_error_is_raised_every_time_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = AuditLog(tmp_path / "audit.log")
    assert log._fd is not None
    os.close(log._fd)
    log._fd = os.open(os.devnull, os.O_RDONLY)  # writes now fail with EBADF
    with caplog.at_level(logging.ERROR, logger="sealbox.service"):
        for event in ("a", "b"):
            with pytest.raises(AuditUnavailableError, match="Bad file descriptor"):
                log.record(event, outcome="success")
    assert [r.getMessage() for r in caplog.records] == [
        (
            f"cannot write the audit log {tmp_path / 'audit.log'}: Bad file descriptor; "
            "refusing requests until it can be"
        )
    ]
    log.close()


def test_no_path_writes_nothing() -> None:
    log = AuditLog(None)
    log.record("e", outcome="success")
    log.close()


def _dumps_form(**fields: str | None) -> dict[str, str | None]:
    return {k: v for k, v in fields.items() if k != "detail" or v}


@pytest.mark.parametrize(
    ("user", "address", "detail"),
    [
        ("ops", "127.0.0.1", "key=k version=1"),
        ("ü\u00e9\U0001f600", None, None),
        ('q"uo\\te\t\x00\x1f', "::1", ""),
        ("a\u2028b\u2029c\x85d", "unknown", "key=x"),
    ],
)
def test_a_record_is_the_line_json_dumps_writes(
    tmp_path: Path, user: str, address: str | None, detail: str | None
) -> None:
    log = AuditLog(tmp_path / "audit.log")
    log.record("transit.encrypt", outcome="success", user=user, address=address, detail=detail)
    log.close()
    line = (tmp_path / "audit.log").read_text(encoding="utf-8")
    entry = json.loads(line)
    expected = {"time": entry["time"], "event": "transit.encrypt", "outcome": "success"}
    expected |= _dumps_form(user=user, address=address, detail=detail)
    assert entry == expected
    written = json.dumps(expected, ensure_ascii=False)
    for separator in ("\x85", "\u2028", "\u2029"):
        written = written.replace(separator, f"\\u{ord(separator):04x}")
    assert line == written + "\n"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", entry["time"])


def test_record_times_are_utc_to_the_microsecond_and_move_forward(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    log = AuditLog(tmp_path / "audit.log")
    before = datetime.now(UTC)
    for _ in range(50):
        log.record("e", outcome="success")
    after = datetime.now(UTC)
    log.close()
    times = [
        datetime.strptime(json.loads(line)["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        for line in (tmp_path / "audit.log").read_text().splitlines()
    ]
    assert times == sorted(times)
    assert before.replace(microsecond=0) <= times[0] and times[-1] <= after


def test_a_moved_log_is_noticed_within_the_check_interval_and_loses_no_record(
    tmp_path: Path,
) -> None:
    path, moved = tmp_path / "audit.log", tmp_path / "audit.log.1"
    log = AuditLog(path, rotation_check=3600)  # not looked at again for an hour
    log.record("e", outcome="success", user="one")
    path.rename(moved)
    log.record("e", outcome="success", user="two")  # within the interval: the moved file
    assert not path.exists()
    log._checked -= 3600  # the interval has passed
    log.record("e", outcome="success", user="three")
    log.close()
    assert [json.loads(x)["user"] for x in moved.read_text().splitlines()] == ["one", "two"]
    assert json.loads(path.read_text())["user"] == "three"


def test_by_default_a_moved_log_is_noticed_after_a_millisecond(tmp_path: Path) -> None:
    from sealbox.accounts.audit import ROTATION_CHECK_SECONDS

    assert ROTATION_CHECK_SECONDS == 0.001
    path = tmp_path / "audit.log"
    log = AuditLog(path)
    log.record("e", outcome="success", user="one")
    path.rename(tmp_path / "audit.log.1")
    time.sleep(0.01)
    log.record("e", outcome="success", user="two")
    log.close()
    assert json.loads(path.read_text())["user"] == "two"


@pytest.mark.parametrize(
    "user",
    [
        "a\x9b2J\x9b31mred",  # C1 CSI: an ANSI escape for terminals that take 8-bit controls
        "a\x1b]8;;x\x07b\x90c\x9dd",  # 7-bit escapes (JSON escapes them) and other C1 controls
        "admin\u202e\u2066deliated\u2069\u200f\u061c",  # bidi controls: a line shown reordered
        "half \ud800 a surrogate \udcff",  # a lone surrogate, as surrogateescape makes
    ],
)
def test_terminal_and_bidi_controls_and_lone_surrogates_are_escaped(
    tmp_path: Path, user: str
) -> None:
    log = AuditLog(tmp_path / "audit.log")
    log.record("login", outcome="failure", user=user, address="127.0.0.1")
    log.close()
    raw = (tmp_path / "audit.log").read_bytes()
    text = raw.decode("utf-8")  # valid UTF-8, whatever the value held
    assert not re.search(
        "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]", text[:-1]
    )
    assert text.endswith("\n") and text.count("\n") == 1
    assert json.loads(text)["user"] == user


def test_a_torn_last_line_is_ended_before_the_next_record(tmp_path: Path) -> None:
    # What a writer killed in the middle of a long record (or a power cut) leaves behind:
    # the next record must not be glued to it, or readers lose that record too.
    path = tmp_path / "audit.log"
    whole = '{"time": "2026-01-01T00:00:00.000000Z", "event": "a", "outcome": "success"}\n'
    path.write_text(whole + '{"time": "2026-01-01T00:00:01.000000Z", "event": "lo')
    path.chmod(0o600)
    log = AuditLog(path)
    log.record("login", outcome="success", user="after")
    log.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0])["event"] == "a"
    assert json.loads(lines[2])["user"] == "after"
    # Whole files are left as they are: no empty line is added.
    log = AuditLog(path)
    log.record("login", outcome="success", user="again")
    log.close()
    assert len(path.read_text().splitlines()) == 4


def test_a_log_torn_after_a_rotation_check_is_ended_when_reopened(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(path, rotation_check=0)
    log.record("e", outcome="success", user="one")
    path.rename(tmp_path / "audit.log.1")
    path.write_text('{"torn": ')  # another writer's half record in the new file
    log.record("e", outcome="success", user="two")
    log.close()
    assert json.loads(path.read_text().splitlines()[1])["user"] == "two"


def test_the_folders_made_for_an_audit_log_are_the_owners_alone(tmp_path: Path) -> None:
    # They were made 0755 (the log itself is 0600), where the data folder is 0700.
    path = tmp_path / "logs" / "sealbox" / "audit.log"
    log = AuditLog(path)
    log.record("login", outcome="success", user="u")
    log.close()
    assert (path.parent.stat().st_mode & 0o777, path.parent.parent.stat().st_mode & 0o777) == (
        0o700,
        0o700,
    )


def test_an_audit_log_under_a_file_says_the_file_is_no_folder(tmp_path: Path) -> None:
    from sealbox.exceptions import StorageError

    (tmp_path / "afile").write_text("x")
    with pytest.raises(StorageError) as caught:
        AuditLog(tmp_path / "afile" / "audit.log")
    assert str(caught.value) == (
        f"cannot open the audit log {tmp_path / 'afile' / 'audit.log'}: cannot create folder "
        f"{tmp_path / 'afile'}: a file of that name exists"
    )
    assert caught.value.code == "not_a_folder"


@pytest.mark.parametrize(
    "user",
    [
        "adm\x7fin",  # DEL: a control character, though ASCII
        "admin\u200b",  # a zero-width space: shown as "admin"
        "ad\u00admin\u2060\ufeff",  # a soft hyphen, a word joiner, a byte order mark
        "admin\U000e0061\U000e0064\U000e006d",  # tag characters: text no viewer shows
        "a\u180e\u206a\ufff9b\U0001d173",  # other invisible format characters
    ],
)
def test_del_and_invisible_format_characters_are_escaped(tmp_path: Path, user: str) -> None:
    # A name that shows as another ("admin" and "admin" + U+200B) would let one account's
    # records pass for another's before a reader: every control and format character
    # (Unicode categories Cc and Cf) is escaped, as JSON allows.
    import unicodedata

    log = AuditLog(tmp_path / "audit.log")
    log.record("login", outcome="failure", user=user, address=user, detail=user)
    log.close()
    text = (tmp_path / "audit.log").read_text(encoding="utf-8")
    shown = [ch for ch in text[:-1] if unicodedata.category(ch) in ("Cc", "Cf")]
    assert shown == []
    record = json.loads(text)
    assert (record["user"], record["address"], record["detail"]) == (user, user, user)
