"""A value to encrypt typed on a terminal is asked for with a prompt that does not echo it,
as ``secrets set``, ``hash-password`` and ``users create`` ask (docs/cli.md): ``seal`` and
``transit encrypt`` read the terminal as a file, showing the secret as it was typed."""

from __future__ import annotations

import os

import pytest

from sealbox import Keyring, Secret
from tests.conftest import run_sealbox, sealbox_on_terminal
from tests.service._transit import ALL_SCOPES, add_user
from tests.service.conftest import login, make_settings, run_service

PASSPHRASE = "keyring passphrase"
TYPED = "typed-s3cret-value"


def test_seal_asks_for_the_value_on_a_terminal_without_echoing_it(tmp_path):
    ring = tmp_path / "app.keyring"
    Keyring.generate().save(ring, Secret(PASSPHRASE))
    env = {"SEALBOX_PASSPHRASE": PASSPHRASE}
    code, after = sealbox_on_terminal(
        ["seal", "-K", ring], [("Value to seal: ", TYPED)], env=env, timeout=30
    )
    assert code == 0, after
    assert TYPED.encode() not in after
    token = after.strip().splitlines()[-1]
    opened = run_sealbox(["open", "-K", ring], input=token + b"\n", env=env)
    assert (opened.returncode, opened.stdout) == (0, TYPED.encode()), opened.stderr


def test_seal_still_takes_stdin_exactly_from_a_pipe(tmp_path):
    ring = tmp_path / "app.keyring"
    Keyring.generate().save(ring, Secret(PASSPHRASE))
    env = {"SEALBOX_PASSPHRASE": PASSPHRASE}
    sealed = run_sealbox(["seal", "-K", ring], input=b"line\n", env=env)
    assert sealed.returncode == 0, sealed.stderr
    opened = run_sealbox(["open", "-K", ring], input=sealed.stdout, env=env)
    assert opened.stdout == b"line\n"


@pytest.fixture(scope="module")
def service_env(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("value-prompt") / "data")
    with run_service(settings) as service:
        name = f"cli{os.urandom(4).hex()}"
        add_user(service.settings, name, list(ALL_SCOPES))
        with service.client() as c:
            token = login(c, name).json()["access_token"]
        yield {"SEALBOX_TOKEN": token, "SEALBOX_URL": service.url, "SEALBOX_CA": str(service.ca)}


def test_transit_encrypt_asks_for_the_value_on_a_terminal_without_echoing_it(service_env):
    made = run_sealbox(["transit", "keys", "create", "prompted"], env=service_env)
    assert made.returncode == 0, made.stderr
    code, after = sealbox_on_terminal(
        ["transit", "encrypt", "prompted"],
        [("Value to encrypt: ", TYPED)],
        env=service_env,
        timeout=30,
    )
    assert code == 0, after
    assert TYPED.encode() not in after
    ciphertext = after.strip().splitlines()[-1]
    assert ciphertext.startswith(b"sealbox:v1:")
    plain = run_sealbox(["transit", "decrypt", "prompted"], input=ciphertext, env=service_env)
    assert (plain.returncode, plain.stdout) == (0, TYPED.encode()), plain.stderr
