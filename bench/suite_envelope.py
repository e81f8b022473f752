"""Envelope encryption: what a data key per object costs, against sealing directly.

No target is set by the issue; the rows show the price of the envelope:

- small values (100 bytes): ``EnvelopeCipher`` with the keyring provider (a fresh
  data key, its wrapping by the keyring, AES-256-GCM of the data) against
  ``Keyring.seal``/``open`` of the same value;
- a large blob, file to file: a stream envelope (``EnvelopeCipher.encrypt_file``,
  the age STREAM payload under a keyring-wrapped file key) against ``sealbox.age``
  (``age.encrypt_file`` to an X25519 recipient), both in this process;
- rewrap after a rotation against re-encrypting the whole blob.

Vault Transit is not measured: it cannot run here (its provider is tested
against a fake), and its cost would be one HTTPS round trip per envelope.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bench._harness import Figure, Row, interleaved_rates, log, make_file, write_results
from sealbox import Keyring, age
from sealbox.keysets.envelope import AgeProvider, EnvelopeCipher, KeyringProvider, inspect

HERE = Path(__file__).resolve().parent
TMP = HERE / "tmp"
MIB = 1024 * 1024
SEAL, OPEN = "Keyring.seal", "Keyring.open"


def _seconds(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(quick: bool = False) -> None:
    seconds = 0.1 if quick else 0.3
    rounds = 3 if quick else 9
    value = os.urandom(100)
    aad = b"users.card:42"

    ring = Keyring.generate()
    cipher = EnvelopeCipher(KeyringProvider(ring))
    env = cipher.encrypt(value, aad)
    token = ring.seal(value, aad)

    log("envelope: small values, envelope vs Keyring.seal (interleaved)")
    rates = interleaved_rates(
        {
            "env_round": lambda: cipher.decrypt(cipher.encrypt(value, aad), aad),
            "seal_round": lambda: ring.open(ring.seal(value, aad), aad),
            "env_enc": lambda: cipher.encrypt(value, aad),
            "seal_enc": lambda: ring.seal(value, aad),
            "env_dec": lambda: cipher.decrypt(env, aad),
            "seal_dec": lambda: ring.open(token, aad),
        },
        seconds=seconds,
        rounds=rounds,
    )
    rows = [
        Row(
            "encrypt+decrypt, 100-byte value",
            "ops/s",
            rates["env_round"],
            rates["seal_round"],
            "Keyring.seal+open (no envelope)",
            note="the envelope adds a data key and its wrapping by the keyring per value",
        ),
        Row("encrypt, 100-byte value", "ops/s", rates["env_enc"], rates["seal_enc"], SEAL),
        Row("decrypt, 100-byte value", "ops/s", rates["env_dec"], rates["seal_dec"], OPEN),
    ]

    # Rewrap after a rotation: the header only, whatever the size of the data.
    big_env = cipher.encrypt(os.urandom(MIB), aad)
    big_header = big_env[: inspect(big_env).header_size]
    ring.rotate()
    rewrap_rates = interleaved_rates(
        {
            "rewrap": lambda: cipher.rewrap(big_env),
            "rewrap_header": lambda: cipher.rewrap(big_header),
            "reencrypt": lambda: cipher.encrypt(cipher.decrypt(big_env, aad), aad),
        },
        seconds=seconds,
        rounds=3 if quick else 5,
    )
    rows.append(
        Row(
            "move a 1 MiB envelope to a rotated key",
            "ops/s",
            rewrap_rates["rewrap"],
            rewrap_rates["reencrypt"],
            "decrypt and encrypt again",
            note="rewrap replaces the header; the data bytes are copied, not re-encrypted",
        )
    )
    rows.append(
        Row(
            "move a 1 MiB envelope whose header is stored apart",
            "ops/s",
            rewrap_rates["rewrap_header"],
            rewrap_rates["reencrypt"],
            "decrypt and encrypt again",
            note="rewrap of the header alone: the data is not read at all",
        )
    )

    size = (32 if quick else 256) * MIB
    file_rounds = 1 if quick else 5
    TMP.mkdir(exist_ok=True)
    plain, sealed, out = TMP / "env-plain.bin", TMP / "env-sealed.bin", TMP / "env-out.bin"
    me = age.X25519Identity.generate()
    recipients = [me.recipient()]
    try:
        log(f"envelope: writing a {size // MIB} MiB test file")
        make_file(plain, size)
        jobs = {
            "env/enc": lambda: cipher.encrypt_file(plain, sealed, aad, overwrite=True),
            "env/dec": lambda: cipher.decrypt_file(sealed, out, aad, overwrite=True),
            "age/enc": lambda: age.encrypt_file(plain, sealed, recipients, overwrite=True),
            "age/dec": lambda: age.decrypt_file(sealed, out, [me], overwrite=True),
        }
        times: dict[str, list[float]] = {k: [] for k in jobs}
        for r in range(file_rounds):
            # Alternate which goes first: the machine's noise then falls on both.
            for tool in ("env", "age") if r % 2 == 0 else ("age", "env"):
                log(f"envelope: file round {r + 1}/{file_rounds}, {tool}")
                times[f"{tool}/enc"].append(_seconds(jobs[f"{tool}/enc"]))
                times[f"{tool}/dec"].append(_seconds(jobs[f"{tool}/dec"]))
                out.unlink(missing_ok=True)
        mbs = {k: size / 1e6 / statistics.median(v) for k, v in times.items()}
        cipher.encrypt_file(plain, sealed, aad, overwrite=True)
        header_bytes = inspect(sealed.read_bytes()[:70_000]).header_size
        ring.rotate()
        rewrap_file_s = _seconds(lambda: cipher.rewrap_file(sealed))
    finally:
        for p in (plain, sealed, out):
            p.unlink(missing_ok=True)
    mib = size // MIB
    rows += [
        Row(
            f"stream encrypt, {mib} MiB file to file",
            "MB/s",
            mbs["env/enc"],
            mbs["age/enc"],
            "sealbox.age encrypt_file (X25519)",
            note="same STREAM code; the envelope wraps its file key with the keyring",
        ),
        Row(
            f"stream decrypt, {mib} MiB file to file",
            "MB/s",
            mbs["env/dec"],
            mbs["age/dec"],
            "sealbox.age decrypt_file (X25519)",
        ),
    ]

    age_env = EnvelopeCipher(AgeProvider(recipients, [me])).encrypt(value)
    vault_like = 4 + 1 + 1 + 13 + 1 + 8 + 4 + 2 + 12 + 64 + 16
    figures = [
        Figure("envelope header, keyring provider", "bytes", inspect(env).header_size),
        Figure(
            "envelope header, age provider (one X25519 recipient)",
            "bytes",
            inspect(age_env).header_size,
        ),
        Figure(
            "envelope header, Vault Transit key 'payments'",
            "bytes",
            vault_like,
            "computed from the format: Vault's AES-GCM ciphertext of the 64-byte key blob",
        ),
        Figure("stream envelope header, keyring provider", "bytes", header_bytes),
        Figure(
            f"rewrap_file of a {mib} MiB stream envelope",
            "s",
            rewrap_file_s,
            "header rewrapped; data bytes copied to the new file, fsync'd",
        ),
    ]
    path = write_results(
        "envelope",
        rows,
        figures,
        notes=[
            "Small-value rates are medians of interleaved runs; one thread.",
            (
                "File rows: medians of interleaved rounds in this process, page cache warm, "
                "output not fsync'd (as age.encrypt_file)."
            ),
        ],
    )
    log(f"envelope: wrote {path}")


if __name__ == "__main__":
    main(quick=bool(os.environ.get("QUICK")))
