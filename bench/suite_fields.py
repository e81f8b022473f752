"""Field encryption: sealbox.Keyring against Fernet (the original recipe) and raw AESGCM.

Issue targets: seal+open of 100-byte values at least 2x Fernet's encrypt+decrypt
rate and within 1.5x of the raw AESGCM cost (so the ratio to raw is >= 1/1.5).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench._harness import Figure, Row, command_seconds, interleaved_rates, log, write_results
from sealbox import Keyring

VENV_BIN = Path(sys.executable).parent


def main(quick: bool = False) -> None:
    seconds = 0.1 if quick else 0.3
    rounds = 3 if quick else 9
    value = os.urandom(100)

    ring = Keyring.generate()
    fernet = Fernet(Fernet.generate_key())
    aesgcm = AESGCM(AESGCM.generate_key(256))

    def sealbox_seal_open() -> None:
        ring.open(ring.seal(value))

    def fernet_encrypt_decrypt() -> None:
        fernet.decrypt(fernet.encrypt(value))

    def raw_aesgcm() -> None:
        nonce = os.urandom(12)
        aesgcm.decrypt(nonce, aesgcm.encrypt(nonce, value, b""), b"")

    # Open with three keys, the token made by the oldest one.
    ring3 = Keyring.generate()
    old_token = ring3.seal(value)
    ring3.rotate()
    ring3.rotate()
    fernets = [Fernet(Fernet.generate_key()) for _ in range(3)]
    old_fernet_token = fernets[2].encrypt(value)
    multi = MultiFernet(fernets)  # the first key is the primary; the token is the last's

    def sealbox_open_oldest() -> None:
        ring3.open(old_token)

    def multifernet_open_oldest() -> None:
        multi.decrypt(old_fernet_token)

    log("fields: measuring seal+open, Fernet and raw AESGCM (interleaved)")
    rates = interleaved_rates(
        {
            "sealbox": sealbox_seal_open,
            "fernet": fernet_encrypt_decrypt,
            "raw": raw_aesgcm,
            "open3": sealbox_open_oldest,
            "multi3": multifernet_open_oldest,
        },
        seconds=seconds,
        rounds=rounds,
    )
    rows = [
        Row(
            "seal+open, 100-byte value",
            "ops/s",
            rates["sealbox"],
            rates["fernet"],
            "Fernet encrypt+decrypt",
            target=2.0,
        ),
        Row(
            "seal+open, 100-byte value",
            "ops/s",
            rates["sealbox"],
            rates["raw"],
            "raw AESGCM encrypt+decrypt (fresh nonce)",
            target=1 / 1.5,
            target_text=">= 0.67x (cost within 1.5x)",
        ),
        Row(
            "open, 3-key ring, token of the oldest key",
            "ops/s",
            rates["open3"],
            rates["multi3"],
            "MultiFernet (3 keys) decrypt",
        ),
    ]

    log("fields: measuring start-up")
    python = sys.executable
    repeat = 5 if quick else 15
    t_pass = command_seconds([python, "-c", "pass"], repeat=repeat)
    t_import = command_seconds([python, "-c", "import sealbox"], repeat=repeat)
    t_keyring = command_seconds([python, "-c", "import sealbox; sealbox.Keyring"], repeat=repeat)
    t_help = command_seconds([str(VENV_BIN / "sealbox"), "--help"], repeat=repeat)
    figures = [
        Figure("python -c pass", "ms", t_pass * 1000, "interpreter start-up, for reference"),
        Figure("python -c 'import sealbox'", "ms", t_import * 1000),
        Figure(
            "import sealbox + load Keyring",
            "ms",
            t_keyring * 1000,
            "pulls in cryptography and argon2",
        ),
        Figure("sealbox --help", "ms", t_help * 1000, "console script; imports click only"),
    ]
    path = write_results(
        "fields",
        rows,
        figures,
        notes=[
            "Rates are medians of interleaved runs; one thread.",
            "The 1.5x cost target is shown as a rate ratio: sealbox/raw >= 1/1.5 = 0.67.",
        ],
    )
    log(f"fields: wrote {path}")
