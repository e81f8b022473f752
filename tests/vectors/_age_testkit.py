"""Reading the CCTV age test kit (../shared/vectors/age) and classifying outcomes."""

from __future__ import annotations

import hashlib
import io
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sealbox import age
from sealbox._util.files import AlignedWriter, atomic_writer
from sealbox.age.files import open_into
from sealbox.exceptions import DecryptionError, FormatError, NoIdentityMatchError

KNOWN_KEYS = {
    "expect",
    "payload",
    "file key",
    "identity",
    "passphrase",
    "armored",
    "compressed",
    "comment",
}
# Outcomes seen per path (library, CLI), counted by the tests and printed at the end.
COUNTS: dict[str, Counter[str]] = {
    "the library (one thread)": Counter(),
    "the library (worker thread)": Counter(),
    "the library (file to file)": Counter(),
    "sealbox decrypt": Counter(),
}
EXPECTS = (
    "success",
    "no match",
    "HMAC failure",
    "header failure",
    "payload failure",
    "armor failure",
)


@dataclass
class Vector:
    name: str
    expect: str
    payload: str | None
    file_key: str
    identities: list[str] = field(default_factory=list)
    passphrases: list[str] = field(default_factory=list)
    armored: bool = False
    data: bytes = b""

    def age_identities(self) -> list:
        out: list = [age.parse_identity(i) for i in self.identities]
        out += [age.ScryptIdentity(p) for p in self.passphrases]
        return out


def load(path: Path) -> Vector | None:
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n\n")
    fields: dict[str, list[str]] = {}
    for line in head.decode().split("\n"):
        key, _, value = line.partition(": ")
        if key not in KNOWN_KEYS:
            return None
        fields.setdefault(key, []).append(value)
    if fields.get("compressed") == ["zlib"]:
        body = zlib.decompress(body)
    return Vector(
        name=path.name,
        expect=fields["expect"][0],
        payload=fields.get("payload", [None])[0],
        file_key=fields["file key"][0],
        identities=fields.get("identity", []),
        passphrases=fields.get("passphrase", []),
        armored=fields.get("armored") == ["yes"],
        data=body,
    )


def all_vectors(root: Path) -> list[Vector]:
    out = []
    for path in sorted(root.iterdir()):
        if path.name.isupper() or path.suffix == ".md" or path.name.startswith("LICENSE"):
            continue
        vector = load(path)
        if vector is not None:
            out.append(vector)
    return out


def classify(exc: BaseException, stage: str) -> str:
    """Map an exception (and where it happened) to the test kit's expect classes."""
    if isinstance(exc, NoIdentityMatchError):
        return "no match"
    if isinstance(exc, FormatError):
        return "armor failure" if str(exc).startswith("invalid armor") else "header failure"
    if isinstance(exc, DecryptionError):
        return "HMAC failure" if stage == "header" else "payload failure"
    return f"unexpected {type(exc).__name__}: {exc}"


def run_library(vector: Vector, *, parallel: bool) -> tuple[str, str]:
    """Decrypt through the library; return (outcome, sha256 of the released plaintext)."""
    digest = hashlib.sha256()
    try:
        dec = age.Decryptor(io.BytesIO(vector.data), vector.age_identities(), parallel=parallel)
    except Exception as exc:  # noqa: BLE001 - every outcome is classified
        return classify(exc, "header"), digest.hexdigest()
    try:
        while chunk := dec.read(10_000):
            digest.update(chunk)
    except Exception as exc:  # noqa: BLE001
        return classify(exc, "payload"), digest.hexdigest()
    return "success", digest.hexdigest()


def run_file_to_file(vector: Vector, folder: Path) -> tuple[str, str | None]:
    """Decrypt from a file into a file, as decrypt_file does (in place for binary files).

    Returns (outcome, sha256 of the output file, or None when none was left).
    """
    src, dst = folder / "in.age", folder / "out"
    src.write_bytes(vector.data)
    with open(src, "rb", buffering=0) as fin:
        try:
            dec = age.Decryptor(fin, vector.age_identities())
        except Exception as exc:  # noqa: BLE001 - every outcome is classified
            return classify(exc, "header"), None
        try:
            with dec, atomic_writer(dst, durable=False) as fh:
                open_into(dec, AlignedWriter(fh))
        except Exception as exc:  # noqa: BLE001
            return classify(exc, "payload"), _digest(dst)
    return "success", _digest(dst)


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
