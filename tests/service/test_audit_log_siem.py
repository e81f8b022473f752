"""The audit log as a log collector reads it, from a real ``sealbox serve --workers 2`` on
PostgreSQL and Redis while ``sealbox`` commands write to the same file: one JSON object
per line, UTF-8, the same fields with the same types, every record there and whole, and
nothing a client sends able to end a record early, forge another, or hide in it."""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import run_sealbox
from tests.service._workers import two_workers, workers_env

FIELDS = {"time", "event", "outcome", "user", "address"}
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
# What a client may send to end a record early, forge a second one, or hide in one: line
# breaks of every reader, NUL, a terminal's escapes (7- and 8-bit), bidi and invisible
# characters, a lone surrogate's UTF-8 as surrogateescape would give it back, and a
# forged record of its own.
HOSTILE = (
    'x"\n{"time": "2020-01-01T00:00:00.000000Z", "event": "login", "outcome": "success", '
    '"user": "admin", "address": "10.0.0.1"}\r\x00\x1b[2J\x9b31m\x85\u2028\u2029'
    "\u202e\u200b\x7f\U000e0041\udcff"
)
# What a header can carry (HTTP refuses line breaks and controls there): a forged JSON end,
# 8-bit bytes (a C1 CSI, NEL, invalid UTF-8) with a tab.
HOSTILE_HEADER = b'1.2.3.4", "user": "admin"}\t\x9b31m\x85\xff\xfe'


def _records(path: Path) -> list[dict[str, object]]:
    raw = path.read_bytes()
    text = raw.decode("utf-8")  # valid UTF-8, whatever a client sent
    assert text.endswith("\n")
    lines = text[:-1].split("\n")
    assert len(text.splitlines()) == len(lines)  # no other line break for any reader
    records = []
    for line in lines:
        assert not [c for c in line if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
        record = json.loads(line)
        assert isinstance(record, dict)
        assert FIELDS <= set(record) <= {*FIELDS, "detail"}, record
        assert TIME.fullmatch(str(record["time"])), record
        assert isinstance(record["event"], str) and isinstance(record["outcome"], str)
        for field in ("user", "address", "detail"):
            assert record.get(field) is None or isinstance(record[field], str), record
        records.append(record)
    return records


@pytest.mark.postgres
@pytest.mark.redis
def test_two_workers_and_the_cli_append_every_record_whole_and_unforgeable(
    tmp_path: Path,
) -> None:
    env = workers_env(SEALBOX_TRUSTED_PROXIES="127.0.0.1")
    data = tmp_path / "data"
    canary = "canarySiemAudit7c1e"
    sent: list[str] = []
    made: list[int] = []
    with two_workers(tmp_path, env) as srv:

        def logins(n: int) -> None:
            with srv.client() as c:
                for i in range(30):
                    name = f"{HOSTILE}{n}-{i}" + "y" * (
                        i * 10
                    )  # up to the 600 characters a login takes
                    # Sent as bytes: the lone surrogate as the invalid UTF-8 byte it stands for.
                    form = {"username": name, "password": f"{canary}-{n}-{i}"}
                    r = c.post(
                        "/auth/token",
                        content=urlencode(form, errors="surrogateescape").encode(),
                        headers={
                            "Content-Type": "application/x-www-form-urlencoded",
                            "X-Forwarded-For": b"203.0.113.%d, " % n + HOSTILE_HEADER,
                        },
                    )
                    sent.append(r.text)

        def creates(n: int) -> None:
            for i in range(2):
                r = run_sealbox(
                    ["users", "create", f"cli{n}x{i}", "--data-dir", data],
                    input=f"{canary}-cli-{n}-{i}".encode(),
                    env=env,
                )
                assert r.returncode == 0, r.stderr.decode()
                made.append(1)

        threads = [threading.Thread(target=logins, args=(n,)) for n in range(4)]
        threads += [threading.Thread(target=creates, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with srv.client() as c:
            form = {"username": "cli0x0", "password": f"{canary}-cli-0-0"}
            r = c.post("/auth/token", data=form, headers={"X-Forwarded-For": "198.51.100.9"})
            assert r.status_code == 200, r.text
    assert (len(sent), len(made)) == (120, 4)
    assert all("invalid username or password" in a or "too many" in a for a in sent)
    text = (data / "audit.log").read_text()
    assert canary not in text
    records = _records(data / "audit.log")
    assert sum(r["event"] == "login" for r in records) == 120 + 1
    assert sorted(r["user"] for r in records if r["event"] == "admin.create") == [
        "cli0x0",
        "cli0x1",
        "cli1x0",
        "cli1x1",
    ]
    assert not [r for r in records if r["user"] == "admin"]  # the forged record is no record
    # An entry of X-Forwarded-For that is no address is not taken for one: the proxy's is.
    assert {r["address"] for r in records} == {"127.0.0.1", "198.51.100.9", None}
