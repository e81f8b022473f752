"""PEM text of key files (RFC 7468): find the first block, encode one."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from sealbox.exceptions import KeyFormatError

__all__ = ["PemBlock", "begin_line", "encode", "first_block"]

_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----[ \t]*\r?\n")


@dataclass(frozen=True, slots=True, repr=False)
class PemBlock:
    """One PEM block: its label, RFC 1421 headers (``Proc-Type`` …) and decoded body."""

    label: str
    headers: dict[str, str]
    der: bytes


def first_block(data: bytes, what: str) -> PemBlock | None:
    """Return the first PEM block in ``data``, or ``None`` if there is no BEGIN line.

    Raises:
        KeyFormatError: a BEGIN line without its END line, or a body that is not base64.
    """
    m = _BEGIN.search(data)
    if m is None:
        return None
    label = m.group(1).decode()
    end_line = f"-----END {label}-----".encode()
    end = data.find(end_line, m.end())
    if end < 0:
        raise KeyFormatError(f"{what} is truncated: no '-----END {label}-----' line")
    lines = data[m.end() : end].decode("ascii", "replace").splitlines()
    headers: dict[str, str] = {}
    body_start = 0
    if any(":" in line for line in lines[:1]):
        for i, line in enumerate(lines):
            if not line.strip():
                body_start = i + 1
                break
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
    body = "".join(line.strip() for line in lines[body_start:])
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError(f"{what}: the {label} block is not valid base64") from None
    return PemBlock(label, headers, der)


def encode(label: str, der: bytes) -> bytes:
    """Encode ``der`` as a PEM block with 64-character lines."""
    body = base64.b64encode(der).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n"
    ).encode()


def begin_line(label: str) -> bytes:
    """The BEGIN line of a PEM block (RFC 7468 section 2), to recognise a file's kind."""
    return f"-----BEGIN {label}-----".encode()
