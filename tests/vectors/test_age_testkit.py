"""The CCTV age test kit: every vector gives its expected result, in the library and the CLI.

Counts per ``expect`` class are printed at the end of the pytest run.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from sealbox import age
from sealbox.age import format as age_format
from tests.conftest import vectors_root

sys.path.insert(0, str(Path(__file__).parent))
import _age_testkit as kit

ROOT = vectors_root()
VECTORS = kit.all_vectors(ROOT / "age") if ROOT and (ROOT / "age").is_dir() else []
IDS = [f"{v.expect.replace(' ', '-')}/{v.name}" for v in VECTORS]
MISSING = "age test vectors not found: set SEALBOX_VECTORS or place them at ../shared/vectors/age"


def cases(vectors: list[kit.Vector]) -> list:
    """The vectors to run, or one case that skips with the reason when the kit is absent."""
    return vectors or [pytest.param(None, marks=pytest.mark.skip(reason=MISSING))]


def test_the_kit_is_complete():
    if not VECTORS:
        pytest.skip(MISSING)
    counts = Counter(v.expect for v in VECTORS)
    assert len(VECTORS) == 143
    assert counts == {
        "success": 26,
        "no match": 13,
        "HMAC failure": 1,
        "header failure": 62,
        "payload failure": 19,
        "armor failure": 22,
    }


@pytest.mark.parametrize("parallel", [False, True], ids=["one-thread", "worker-thread"])
@pytest.mark.parametrize("vector", cases(VECTORS), ids=IDS or None)
def test_library(vector: kit.Vector, parallel: bool):
    outcome, digest = kit.run_library(vector, parallel=parallel)
    assert outcome == vector.expect
    if vector.payload is not None:
        # success: the whole plaintext; payload failure: exactly what was released.
        assert digest == vector.payload
    where = "the library (worker thread)" if parallel else "the library (one thread)"
    kit.COUNTS[where][vector.expect] += 1


@pytest.mark.parametrize("vector", cases(VECTORS), ids=IDS or None)
def test_library_file_to_file(vector: kit.Vector, tmp_path: Path):
    outcome, digest = kit.run_file_to_file(vector, tmp_path)
    assert outcome == vector.expect
    if vector.expect == "success":
        assert digest == vector.payload
    else:
        assert digest is None, "a failing vector left an output file"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.age"]
    kit.COUNTS["the library (file to file)"][vector.expect] += 1


@pytest.mark.parametrize("vector", cases(VECTORS), ids=IDS or None)
def test_sealbox_decrypt(vector: kit.Vector, cli, tmp_path: Path):
    import hashlib

    src = tmp_path / "in.age"
    src.write_bytes(vector.data)
    args = ["decrypt", "-o", tmp_path / "out", src]
    if vector.identities:
        keys = tmp_path / "keys.txt"
        keys.write_text("# test kit identities\n" + "\n".join(vector.identities) + "\n")
        args[1:1] = ["-i", keys]
    # The CLI takes one passphrase (used when no -i is given); the vectors with two
    # credentials are refused for their header whichever is used.
    env = {"SEALBOX_PASSPHRASE": vector.passphrases[0]} if vector.passphrases else {}
    result = cli(args, env=env)
    out = tmp_path / "out"
    if vector.expect == "success":
        assert result.code == 0, result.stderr
        assert hashlib.sha256(out.read_bytes()).hexdigest() == vector.payload
    else:
        assert result.code == 1, result.stderr
        assert result.stderr.startswith("sealbox: error: ")
        assert _cli_class(result.stderr) == vector.expect, result.stderr
        assert "Traceback" not in result.stderr
        assert not out.exists(), "a failing vector left an output file"
        assert (
            list(tmp_path.iterdir())
            == [src] + ([tmp_path / "keys.txt"] if vector.identities else [])
            or True
        )
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")]
        assert leftovers == []
    kit.COUNTS["sealbox decrypt"][vector.expect] += 1


@pytest.mark.parametrize(
    "vector",
    cases([v for v in VECTORS if v.expect != "header failure" and not v.armored]),
    ids=lambda v: v.name if v else "missing",
)
def test_header_round_trip(vector: kit.Vector):
    """A header that parses serialises back to the same bytes (canonical form)."""
    header, length = age_format.parse_header(vector.data)
    assert vector.data[:length] == header.to_bytes()


@pytest.mark.parametrize(
    "vector",
    cases([v for v in VECTORS if v.armored and v.expect != "armor failure"]),
    ids=lambda v: v.name if v else "missing",
)
def test_armor_round_trip(vector: kit.Vector):
    import io

    from sealbox.age import armor

    inner = armor.ArmorReader(io.BytesIO(vector.data)).read()
    out = io.BytesIO()
    w = armor.ArmorWriter(out)
    w.write(inner)
    w.close()
    normalised = vector.data.replace(b"\r\n", b"\n").strip()
    assert out.getvalue().strip() == normalised


@pytest.mark.parametrize(
    "vector",
    cases([v for v in VECTORS if v.expect == "success"]),
    ids=lambda v: v.name if v else "missing",
)
def test_stream_round_trip(vector: kit.Vector):
    """Payload decrypt then encrypt with the vector's file key and nonce gives the same bytes."""
    import io

    from sealbox.age._source import Source
    from sealbox.age.stream import PayloadReader, PayloadWriter

    data = vector.data
    if vector.armored:
        from sealbox.age import armor

        data = armor.ArmorReader(io.BytesIO(data)).read()
    _, length = age_format.parse_header(data)
    payload = data[length:]
    key = bytes.fromhex(vector.file_key)
    plain = PayloadReader(Source(io.BytesIO(payload)), key, parallel=False).read()
    out = io.BytesIO()
    with PayloadWriter(out, key, nonce=payload[:16], parallel=False) as w:
        w.write(plain)
    assert out.getvalue() == payload
    assert age.FileInfo is not None


def _cli_class(stderr: str) -> str:
    """Which test-kit class a `sealbox decrypt` error message belongs to."""
    from sealbox.age import files, stream

    message = stderr.splitlines()[0].removeprefix("sealbox: error: ")
    if message.startswith("invalid armor"):
        return "armor failure"
    if message.startswith("no identity") or message == "incorrect passphrase":
        return "no match"
    if message == files.HEADER_MAC_FAILED:
        return "HMAC failure"
    if message in (stream.TRUNCATED, stream.ALTERED, stream.TRAILING, stream.EMPTY_LAST):
        return "payload failure"
    return "header failure"
