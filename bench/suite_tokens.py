"""Tokens and passwords: sealbox.jwt against raw PyJWT, sealbox.passwords against raw argon2-cffi.

Issue targets: JWT issue and verify rates for EdDSA, ES256 and RS256 within 10 % of
PyJWT with keys parsed once (ratio >= 0.90); hash and verify time per profile
within 2 % of argon2-cffi (ratio >= 1/1.02); hashes per second with 1 and 2
threads (argon2 runs with the GIL released).
"""

from __future__ import annotations

import functools
import os
import secrets
import statistics
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import argon2
import jwt as pyjwt

from bench._harness import Figure, Row, interleaved_rates, log, write_results
from sealbox.jwt import JWKSet, SigningKeySet, TokenVerifier
from sealbox.passwords import PasswordHasher
from sealbox.passwords.profiles import get_profile

if TYPE_CHECKING:
    from jwt.algorithms import AllowedPrivateKeys, AllowedPublicKeys

ISS = "https://auth.example"
AUD = "api"
PASSWORD = "correct horse battery staple"
PROFILES = ("rfc9106-low-memory", "recipe", "owasp-minimum")


def _token_rows(quick: bool) -> list[Row]:
    rows = []
    seconds = 0.1 if quick else 0.25
    rounds = 3 if quick else 9
    for alg in ("EdDSA", "ES256", "RS256"):
        keys = SigningKeySet.generate(alg)
        kid = keys.primary.kid
        algorithm = pyjwt.get_algorithm_by_name(alg)
        # The same private and public keys, parsed once, for PyJWT.
        private = algorithm.from_jwk(_private_jwk(keys))
        public = private.public_key()
        verifier = TokenVerifier(JWKSet.from_dict(keys.public_jwks()), audience=AUD, issuer=ISS)

        def sealbox_issue(keys: SigningKeySet = keys) -> str:
            return keys.issue("user-42", audience=AUD, issuer=ISS, scope="read write")

        def pyjwt_issue(
            private: AllowedPrivateKeys = private, alg: str = alg, kid: str = kid
        ) -> str:
            now = int(time.time())
            claims = {
                "iss": ISS,
                "sub": "user-42",
                "aud": AUD,
                "iat": now,
                "nbf": now,
                "exp": now + 900,
                "jti": secrets.token_urlsafe(16),
                "scope": "read write",
            }
            return pyjwt.encode(
                claims, private, algorithm=alg, headers={"kid": kid, "typ": "at+jwt"}
            )

        token = sealbox_issue()
        assert pyjwt.decode(token, public, algorithms=[alg], audience=AUD, issuer=ISS)
        assert verifier.verify(pyjwt_issue())

        def sealbox_verify(verifier: TokenVerifier = verifier, token: str = token) -> object:
            return verifier.verify(token)

        def pyjwt_verify(
            public: AllowedPublicKeys = public, alg: str = alg, token: str = token
        ) -> object:
            return pyjwt.decode(
                token,
                public,
                algorithms=[alg],
                audience=AUD,
                issuer=ISS,
                options={"require": ["exp", "iat", "sub"]},
            )

        log(f"tokens: {alg} issue and verify, sealbox and PyJWT interleaved")
        rates = interleaved_rates(
            {
                "s_issue": sealbox_issue,
                "p_issue": pyjwt_issue,
                "s_verify": sealbox_verify,
                "p_verify": pyjwt_verify,
            },
            seconds=seconds,
            rounds=rounds,
        )
        for op in ("issue", "verify"):
            rows.append(
                Row(
                    f"JWT {op}, {alg}",
                    "ops/s",
                    rates[f"s_{op}"],
                    rates[f"p_{op}"],
                    f"PyJWT {pyjwt.__version__} jwt.{'encode' if op == 'issue' else 'decode'}"
                    " (keys parsed once)",
                    target=0.90,
                    target_text=">= 0.90x (overhead at most 10 %)",
                )
            )
    return rows


def _private_jwk(keys: SigningKeySet) -> dict[str, Any]:
    import json

    doc = json.loads(keys.serialize_unencrypted())
    (entry,) = (k for k in doc["keys"] if k["kid"] == doc["primary"])
    jwk: dict[str, Any] = entry["jwk"]
    return jwk


def _alternating_ms(
    a: Callable[[], object], b: Callable[[], object], pairs: int
) -> tuple[float, float]:
    """Median time of a and of b in ms, run as ABBA pairs so drift hits both alike."""
    ta: list[float] = []
    tb: list[float] = []
    for i in range(pairs):
        order = (a, b) if i % 2 == 0 else (b, a)
        for fn in order:
            start = time.perf_counter()
            fn()
            elapsed = (time.perf_counter() - start) * 1000
            (ta if fn is a else tb).append(elapsed)
    return statistics.median(ta), statistics.median(tb)


def _password_rows(quick: bool) -> list[Row]:
    rows = []
    pairs = 6 if quick else 30
    for name in PROFILES:
        params = get_profile(name)
        hasher = PasswordHasher(name)
        raw = argon2.PasswordHasher.from_parameters(params)
        stored = hasher.hash(PASSWORD)
        raw_stored = raw.hash(PASSWORD)
        hasher.hash(PASSWORD)  # warm the memory allocator
        log(f"tokens: password profile {name}, hash and verify against argon2-cffi")
        s_hash, r_hash = _alternating_ms(
            functools.partial(hasher.hash, PASSWORD), functools.partial(raw.hash, PASSWORD), pairs
        )
        s_verify, r_verify = _alternating_ms(
            functools.partial(hasher.verify, stored, PASSWORD),
            functools.partial(raw.verify, raw_stored, PASSWORD),
            pairs,
        )
        label = f"t={params.time_cost}, {params.memory_cost // 1024} MiB, p={params.parallelism}"
        for op, s, r in (("hash", s_hash, r_hash), ("verify", s_verify, r_verify)):
            rows.append(
                Row(
                    f"password {op}, {name} ({label})",
                    "ms",
                    s,
                    r,
                    f"argon2-cffi PasswordHasher.{op}",
                    higher_is_better=False,
                    target=1 / 1.02,
                    target_text=">= 0.98x (overhead at most 2 %)",
                )
            )
    return rows


def _threaded_rate(fn: Callable[[], object], threads: int, seconds: float) -> float:
    """Calls per second of fn run in `threads` threads for about `seconds`."""
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def work(i: int) -> None:
        while time.perf_counter() < stop:
            fn()
            counts[i] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - start)


def _loop_rate(seconds: float, until: threading.Event | None = None) -> float:
    """Iterations per second of a pure-Python loop (it needs the GIL to make progress)."""
    count = 0
    start = time.perf_counter()
    stop = start + seconds
    while (until is None and time.perf_counter() < stop) or (
        until is not None and not until.is_set()
    ):
        count += 1
    return count / (time.perf_counter() - start)


def _gil_probe(hash_once: Callable[[], object], hashes: int) -> float:
    """How fast Python runs in the main thread while another thread hashes, relative to alone.

    If hashing held the GIL, the main thread would stand still for each hash and the
    ratio would be near 0; with the GIL released it keeps going (near 1 with a free core,
    near 0.5 when both threads share one core).
    """
    before = _loop_rate(0.3)
    done = threading.Event()

    def work() -> None:
        for _ in range(hashes):
            hash_once()
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    during = _loop_rate(0, until=done)
    worker.join()
    return during / ((before + _loop_rate(0.3)) / 2)


def _thread_figures(quick: bool) -> tuple[list[Row], list[Figure]]:
    rows: list[Row] = []
    figures: list[Figure] = []
    seconds = 0.5 if quick else 1.0
    rounds = 3 if quick else 7
    for name in ("owasp-minimum", "rfc9106-low-memory"):
        ours = functools.partial(PasswordHasher(name).hash, PASSWORD)
        theirs = functools.partial(
            argon2.PasswordHasher.from_parameters(get_profile(name)).hash, PASSWORD
        )
        log(f"tokens: hashes per second with 1 and 2 threads, {name}")
        one, two, raw_two = [], [], []
        for _ in range(rounds):  # short and interleaved: a burst of load hits all three
            one.append(_threaded_rate(ours, 1, seconds))
            two.append(_threaded_rate(ours, 2, seconds))
            raw_two.append(_threaded_rate(theirs, 2, seconds))
        one_rate, two_rate = statistics.median(one), statistics.median(two)
        lanes = get_profile(name).parallelism
        note = "GIL released during hashing"
        if lanes > 1:
            note += f"; argon2 already spreads its {lanes} lanes over both cores"
        probe = statistics.median(_gil_probe(ours, 10 if lanes == 1 else 2) for _ in range(3))
        figures += [
            Figure(
                f"main-thread Python speed while another thread hashes, {name}",
                "x",
                probe,
                "relative to no hashing; compare the GIL-holding reference below",
            ),
            Figure(f"hashes/s, 1 thread, {name}", "hashes/s", one_rate, f"p={lanes}"),
            Figure(f"hashes/s, 2 threads, {name}", "hashes/s", two_rate, f"p={lanes}"),
            Figure(f"2 threads / 1 thread, {name}", "x", two_rate / one_rate, note),
        ]
        rows.append(
            Row(
                f"hashes/s with 2 threads, {name}",
                "hashes/s",
                two_rate,
                statistics.median(raw_two),
                "argon2-cffi PasswordHasher.hash, 2 threads",
            )
        )
    return rows, figures


def main(quick: bool = False) -> None:
    load_before = os.getloadavg()[0]
    rows = _token_rows(quick)
    rows += _password_rows(quick)
    thread_rows, figures = _thread_figures(quick)
    rows += thread_rows
    held = functools.partial(sum, range(5_000_000))  # one C call that keeps the GIL
    figures.append(
        Figure(
            "main-thread Python speed while another thread runs a GIL-holding C call",
            "x",
            statistics.median(_gil_probe(held, 10) for _ in range(3)),
            "reference: what a hash that kept the GIL would look like",
        )
    )
    figures.append(
        Figure(
            "load average (1 min) before the run",
            "",
            load_before,
            f"after: {os.getloadavg()[0]:.2f}; the machine has 2 cores and is shared",
        )
    )
    path = write_results(
        "tokens",
        rows,
        figures,
        notes=[
            (
                "JWT rates are medians of interleaved runs, one thread. sealbox issue builds "
                "iss/sub/aud/iat/nbf/exp/jti/scope and the kid/typ header; the PyJWT anchor "
                "builds the same claims and header. sealbox verify also checks typ, kid "
                "binding, strict base64url and duplicate JSON members; PyJWT decode checks "
                "signature, exp/iat/nbf, aud and iss."
            ),
            (
                "Password times are medians of alternating (ABBA) single calls; sealbox adds "
                "NFKC normalisation, the length guard and parsing the stored hash's parameters."
            ),
            (
                "Thread rates share the machine's 2 cores with whatever else runs on it: with "
                "the other core busy, 2 threads cannot beat 1 even with the GIL released. The "
                "main-thread probe shows the release directly: Python keeps running while "
                "argon2 hashes, and nearly stops during a C call that keeps the GIL."
            ),
        ],
    )
    log(f"tokens: wrote {path}")
