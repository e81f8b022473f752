"""Saving a passphrase-sealed keyring or signing keyset again never weakens its Argon2id costs.

A save without ``kdf_params`` keeps the costs of the file the keys were read from, unless
they are no higher than the default in both passes and memory: then the default, so a
write brings a weak file up (as a password rehash on login does). An explicit
``kdf_params`` wins; a new file gets the default.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sealbox.hazmat import kdf
from sealbox.jwt import SigningKeySet
from sealbox.keysets.keyring import Keyring

PASS = "canary-reseal-passphrase-7f31"
DEFAULT = kdf.ARGON2ID_DEFAULT
# More passes than the default at the default memory: stronger, and cheap enough to test.
STRONGER = kdf.Argon2idParams(time_cost=4, memory_cost=64 * 1024, parallelism=4)
# Neither stronger nor weaker than the default: kept, with their parallelism.
MORE_PASSES_LESS_MEMORY = kdf.Argon2idParams(time_cost=5, memory_cost=8 * 1024, parallelism=1)
FEWER_PASSES_MORE_MEMORY = kdf.Argon2idParams(time_cost=1, memory_cost=96 * 1024, parallelism=2)
# At most the default in both: raised to the default (parallelism and all).
WEAKER = kdf.Argon2idParams(time_cost=1, memory_cost=8 * 1024, parallelism=8)


class _Store:
    """How a test makes, re-opens and changes one kind of key set."""

    def __init__(
        self,
        generate: Callable[[], Any],
        load: Callable[[Path, str], Any],
        change: Callable[[Any], None],
    ) -> None:
        self.generate = generate
        self.load = load
        self.change = change


STORES = {
    "keyring": _Store(Keyring.generate, Keyring.load, lambda ring: ring.rotate()),
    "keyset": _Store(SigningKeySet.generate, SigningKeySet.load, lambda keys: keys.rotate()),
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest) -> _Store:
    return STORES[request.param]


def _file_params(path: Path) -> kdf.Argon2idParams:
    """The costs in the file's header (the salt left out), read without deriving a key."""
    header = dict(json.loads(path.read_bytes())["kdf"])
    header.pop("salt")
    return kdf.Argon2idParams.from_dict(header)


def _sealed_with(store: _Store, path: Path, params: kdf.Argon2idParams) -> Path:
    store.generate().save(path, PASS, kdf_params=params)
    assert _file_params(path) == params
    return path


@pytest.mark.parametrize(
    "params",
    [STRONGER, MORE_PASSES_LESS_MEMORY, FEWER_PASSES_MORE_MEMORY],
    ids=["stronger", "more-passes-less-memory", "fewer-passes-more-memory"],
)
def test_save_after_load_keeps_costs_not_below_the_default(
    store: _Store, tmp_path: Path, params: kdf.Argon2idParams
) -> None:
    path = _sealed_with(store, tmp_path / "keys", params)
    keys = store.load(path, PASS)
    store.change(keys)
    keys.save(path, PASS)
    assert _file_params(path) == params
    store.load(path, PASS)  # and it still opens


def test_save_after_load_raises_costs_below_the_default_to_it(
    store: _Store, tmp_path: Path
) -> None:
    path = _sealed_with(store, tmp_path / "keys", WEAKER)
    keys = store.load(path, PASS)
    store.change(keys)
    keys.save(path, PASS)
    assert _file_params(path) == DEFAULT


def test_save_after_load_raises_the_cheap_test_costs_to_the_default(
    store: _Store, tmp_path: Path
) -> None:
    path = _sealed_with(store, tmp_path / "keys", kdf.ARGON2ID_TEST)
    keys = store.load(path, PASS)
    keys.save(path, PASS)
    assert _file_params(path) == DEFAULT


def test_explicit_kdf_params_win_over_the_files(store: _Store, tmp_path: Path) -> None:
    path = _sealed_with(store, tmp_path / "keys", STRONGER)
    keys = store.load(path, PASS)
    keys.save(path, PASS, kdf_params=kdf.ARGON2ID_TEST)
    assert _file_params(path) == kdf.ARGON2ID_TEST


def test_a_second_save_of_the_same_copy_keeps_what_the_first_wrote(
    store: _Store, tmp_path: Path
) -> None:
    keys = store.generate()
    path = tmp_path / "keys"
    keys.save(path, PASS, kdf_params=STRONGER)
    store.change(keys)
    keys.save(path, PASS)
    assert _file_params(path) == STRONGER


def test_a_new_file_gets_the_default(store: _Store, tmp_path: Path) -> None:
    path = tmp_path / "keys"
    store.generate().save(path, PASS)
    assert _file_params(path) == DEFAULT


def test_new_keys_replacing_a_stronger_file_get_the_default(store: _Store, tmp_path: Path) -> None:
    # Nothing was read from the old file and its keys are dropped (merge=False):
    # the file is a new one, as `create --force` makes it.
    path = _sealed_with(store, tmp_path / "keys", STRONGER)
    store.generate().save(path, PASS, merge=False)
    assert _file_params(path) == DEFAULT


def test_a_file_resealed_stronger_by_another_writer_meanwhile_keeps_its_costs(
    store: _Store, tmp_path: Path
) -> None:
    path = _sealed_with(store, tmp_path / "keys", DEFAULT)
    ours = store.load(path, PASS)
    theirs = store.load(path, PASS)
    store.change(theirs)
    theirs.save(path, PASS, kdf_params=STRONGER)
    store.change(ours)
    ours.save(path, PASS)  # merges their change, under the file's newest costs
    assert _file_params(path) == STRONGER


@pytest.mark.parametrize(
    ("found", "written"),
    [
        (None, DEFAULT),
        (kdf.ARGON2ID_TEST, DEFAULT),
        (WEAKER, DEFAULT),
        (DEFAULT, DEFAULT),
        (STRONGER, STRONGER),
        (MORE_PASSES_LESS_MEMORY, MORE_PASSES_LESS_MEMORY),
        (FEWER_PASSES_MORE_MEMORY, FEWER_PASSES_MORE_MEMORY),
        (kdf.ARGON2ID_CEILING, kdf.ARGON2ID_CEILING),
        (
            kdf.Argon2idParams(time_cost=40, memory_cost=4 * 1024 * 1024, parallelism=32),
            kdf.ARGON2ID_CEILING,
        ),
    ],
    ids=[
        "new",
        "test-costs",
        "weaker",
        "default",
        "stronger",
        "more-passes",
        "more-memory",
        "ceiling",
        "above-ceiling",
    ],
)
def test_resealing_params_never_weakens_and_never_exceeds_the_ceiling(
    found: kdf.Argon2idParams | None, written: kdf.Argon2idParams
) -> None:
    assert kdf.resealing_params(found) == written
