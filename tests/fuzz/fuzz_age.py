"""atheris fuzz target: age header and armor parsing (``make fuzz``).

Feeds arbitrary bytes to the header parser, the armor reader and a full
decryption attempt. Only the documented exceptions may come out:
``FormatError`` (parse errors), ``DecryptionError`` and its
``NoIdentityMatchError`` (authentication). Anything else is a bug and stops the run.
"""

from __future__ import annotations

import contextlib
import io
import sys

import atheris

with atheris.instrument_imports():
    from sealbox import age
    from sealbox.age import armor, format
    from sealbox.exceptions import DecryptionError, FormatError

IDENTITY = age.X25519Identity(bytes(range(32)))
SCRYPT = age.ScryptIdentity("fuzz", max_work_factor=4)


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        format.parse_header(data)
    with contextlib.suppress(FormatError):
        armor.ArmorReader(io.BytesIO(data)).read()
    with contextlib.suppress(FormatError, DecryptionError):
        age.decrypt(data, [IDENTITY, SCRYPT])


def main() -> None:
    seeds = [
        age.encrypt(b"seed", [IDENTITY.recipient()]),
        age.encrypt(b"seed", [IDENTITY.recipient()], armor=True),
    ]
    if len(sys.argv) > 1 and sys.argv[-1] == "--print-seeds":  # pragma: no cover
        for seed in seeds:
            sys.stdout.buffer.write(seed)
        return
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
