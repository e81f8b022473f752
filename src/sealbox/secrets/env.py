"""Secrets from environment variables.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from sealbox.secret import Secret
from sealbox.secrets.base import handed_out

__all__ = ["EXECUTION_NAMES", "EnvSource", "changes_execution"]

EXECUTION_NAMES: Final = frozenset(
    {
        # Which program runs, and what a shell runs first.
        "PATH", "IFS", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND",
        "CDPATH", "SHELL", "EDITOR", "VISUAL", "PAGER", "LESSOPEN", "LESSCLOSE",
        "ZDOTDIR", "MANPAGER", "GIT_PAGER", "GIT_EDITOR", "GIT_SEQUENCE_EDITOR",
        "GIT_EXTERNAL_DIFF", "SUDO_ASKPASS", "SUDO_EDITOR", "SYSTEMD_PAGER", "SYSTEMD_EDITOR",
        "FCEDIT", "BROWSER",
        # Where configuration that names programs to run is read from (~/.gitconfig's
        # core.pager, a repository's core.fsmonitor, kubeconfig's exec, AWS's
        # credential_process, Docker's credential helpers).
        "HOME", "XDG_CONFIG_HOME", "GIT_DIR", "KUBECONFIG", "AWS_CONFIG_FILE", "DOCKER_CONFIG",
        # What an interpreter loads before the program.
        "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONEXECUTABLE",
        "PYTHONWARNINGS", "PYTHONBREAKPOINT", "PYTHONINSPECT", "PERL5LIB", "PERLLIB",
        "PERL5OPT", "RUBYLIB", "RUBYOPT", "NODE_OPTIONS", "NODE_PATH", "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH", "GCONV_PATH", "GIT_SSH",
        "GIT_SSH_COMMAND", "GIT_EXEC_PATH", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM",
        "GIT_ASKPASS", "SSH_ASKPASS", "GIT_PROXY_COMMAND", "GIT_TEMPLATE_DIR",
        "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "LUA_INIT", "LUA_PATH", "LUA_CPATH",
        "PHPRC", "PHP_INI_SCAN_DIR", "PERL5DB", "OPENSSL_CONF", "OPENSSL_ENGINES",
        "OPENSSL_MODULES",
        # Whom TLS trusts, and where requests go.
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
        "HOSTALIASES", "LOCALDOMAIN", "RES_OPTIONS", "SSLKEYLOGFILE", "DOCKER_HOST",
        "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
    }
)  # fmt: skip
"""Variables that decide which program runs, what it loads first, or whom it trusts and
talks to (compared in upper case: ``https_proxy`` too). Whoever can add a value to a
shared secrets file could run code as, or read the traffic of, whoever runs with it."""

_EXECUTION_PREFIXES: Final = ("LD_", "DYLD_", "LUA_INIT_")


def changes_execution(name: str) -> bool:
    """Whether the variable ``name`` changes which program runs, what it loads, or whom it
    trusts (:data:`EXECUTION_NAMES`, and ``LD_*``/``DYLD_*``)."""
    upper = name.upper()
    return upper in EXECUTION_NAMES or upper.startswith(_EXECUTION_PREFIXES)


class EnvSource:
    """Read secrets from the process environment (or any mapping).

    Args:
        prefix: prepended to every name: with ``prefix="APP_"``, ``lookup("DB")``
            reads ``APP_DB``. ``names()`` lists names without the prefix.
        environ: the mapping to read, ``os.environ`` (read live) by default.

    Names are case-sensitive, as they are on POSIX systems. An empty value counts
    as present. A value looked up is registered with the log redaction filter.
    """

    def __init__(self, prefix: str = "", environ: Mapping[str, str] | None = None) -> None:
        self.prefix = prefix
        self._environ = os.environ if environ is None else environ

    @property
    def label(self) -> str:
        return f"environment ({self.prefix}*)" if self.prefix else "environment"

    def lookup(self, name: str) -> Secret[str] | None:
        value = self._environ.get(self.prefix + name)
        return None if value is None else handed_out(value)

    def names(self) -> list[str]:
        p = self.prefix
        return sorted(k[len(p) :] for k in self._environ if k.startswith(p) and len(k) > len(p))

    def __repr__(self) -> str:
        return f"EnvSource(prefix={self.prefix!r})"
