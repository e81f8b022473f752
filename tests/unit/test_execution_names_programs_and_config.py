"""Variables that name a program to run, or where configuration naming one is read from,
count as changing what runs: ``secrets run`` refuses a file that sets one unless allowed."""

from __future__ import annotations

import pytest

from sealbox.secrets.env import changes_execution


@pytest.mark.parametrize(
    "name",
    [
        # A program run for you: git's diff driver, sudo's prompt and editor, systemd's
        # pager and editor, the shell's `fc` editor, Python's webbrowser.
        "GIT_EXTERNAL_DIFF", "SUDO_ASKPASS", "SUDO_EDITOR", "SYSTEMD_PAGER",
        "SYSTEMD_EDITOR", "FCEDIT", "BROWSER",
        # Configuration read first that can name a program (a committed .gitconfig with
        # HOME=., a repository config's core.fsmonitor, kubeconfig exec plugins, AWS
        # credential_process, Docker credential helpers).
        "HOME", "XDG_CONFIG_HOME", "GIT_DIR", "KUBECONFIG", "AWS_CONFIG_FILE",
        "DOCKER_CONFIG",
        # Where requests go: the Docker daemon, the package index code is installed from.
        "DOCKER_HOST", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "pip_index_url",
    ],
)  # fmt: skip
def test_a_variable_naming_a_program_or_its_configuration_changes_execution(name: str) -> None:
    assert changes_execution(name)


@pytest.mark.parametrize("name", ["API_TOKEN", "DB_PASSWORD", "HOMEPAGE_URL", "GIT_TOKEN"])
def test_an_ordinary_secret_name_does_not_change_execution(name: str) -> None:
    assert not changes_execution(name)
