"""Service settings: ``SEALBOX_*`` environment variables or a ``.env`` file.

Secrets among them (the database and Redis URLs may carry passwords) are
:class:`sealbox.Secret` values: they never show in a ``repr``, a log line or a
validation error.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any, Final

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from sealbox.exceptions import ConfigError
from sealbox.integrations.pydantic_settings import SealboxSettings
from sealbox.secret import Secret

__all__ = [
    "HEALTHCHECK_TIMEOUT",
    "MAX_WORKERS",
    "OTHER_VARIABLES",
    "RESERVED_MOUNTS",
    "ServiceSettings",
    "dotenv_files",
    "holds_private_key",
    "known_variables",
    "load_settings",
    "pem_text",
    "unknown_dotenv_variables",
    "unknown_setting_warnings",
    "unknown_variables",
]

_PREFIX: Final = "SEALBOX_"


_KV_MOUNT: Final = r"[a-z0-9][a-z0-9_-]{0,63}"
_KV_MOUNTS: Final = re.compile(rf"\s*{_KV_MOUNT}(\s*,\s*{_KV_MOUNT})*\s*")

RESERVED_MOUNTS: Final = frozenset({"auth", "keys", "sys", "transit"})
"""Paths under ``/v1/`` that a KV mount cannot take (sealbox's transit, Vault's own)."""


#: Seconds a worker's event loop may go without a beat to its supervisor before it is
#: taken for hung and replaced (``--workers`` above 1).
HEALTHCHECK_TIMEOUT: Final = 30.0

#: The most worker processes: ``--workers``, and what SIGTTIN adds up to.
MAX_WORKERS: Final = 64


class ServiceSettings(SealboxSettings):
    """Everything ``sealbox serve`` can be told. Defaults suit a developer's machine."""

    model_config = SettingsConfigDict(
        env_prefix=_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,
    )

    data_dir: Path = Field(default=Path(".sealbox"), description="Where state lives.")
    host: str = "127.0.0.1"
    port: int = Field(default=8443, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=MAX_WORKERS)
    worker_healthcheck_timeout: float = Field(
        default=HEALTHCHECK_TIMEOUT,
        ge=2,
        le=3600,
        description="Seconds a worker may go silent before it is replaced (several workers).",
    )

    database_url: Secret[str] | None = Field(
        default=None,
        description="SQLAlchemy async URL; a SQLite file in data_dir when unset.",
    )
    redis_url: Secret[str] | None = Field(
        default=None, description="Shared revocation and throttling across workers and hosts."
    )
    redis_prefix: str = Field(
        default="sealbox:",
        min_length=1,
        max_length=64,
        description="Start of every Redis key and channel name, so deployments can share a Redis.",
    )
    redis_allow_eviction: bool = Field(
        default=False,
        description=(
            "Start although Redis's maxmemory-policy may evict sealbox's keys (a warning "
            "instead of a refusal): an evicted revocation lets its token pass again."
        ),
    )

    tls_handshake_timeout: float = Field(
        default=10.0, gt=0, le=300, description="Seconds a TLS handshake may take."
    )
    idle_timeout: float = Field(
        default=30.0, gt=0, le=3600, description="Seconds from the handshake to a first request."
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds from a request's first byte to its end of head.",
    )
    body_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds from a request's head to the end of its body.",
    )
    keep_alive_timeout: float = Field(
        default=5.0, gt=0, le=3600, description="Seconds a connection may wait between requests."
    )
    shutdown_timeout: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="Seconds a stop waits for the requests under way before it cuts them off.",
    )
    max_connections_per_address: int = Field(
        default=64, ge=1, le=100_000, description="Open connections per client address and worker."
    )
    max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, le=1024 * 1024, description="Largest request head, in bytes."
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated IP addresses and CIDR networks of the reverse proxies "
        "whose X-Forwarded-For and X-Forwarded-Proto are believed (none when empty).",
    )

    cert: Path | None = Field(default=None, description="Server certificate chain (PEM).")
    key: Path | None = Field(default=None, description="Server private key (PEM).")
    client_ca: Path | None = Field(default=None, description="CA for client certificates.")
    mtls: bool = Field(default=False, description="Require client certificates.")
    # Bounded: the development certificate is renewed at these checks, ten days before
    # it expires; an endless interval would let it lapse.
    reload_interval: float = Field(
        default=2.0,
        ge=0,
        le=86_400,
        description="Seconds between checks for a renewed certificate.",
    )

    issuer: str = "sealbox"
    audience: str = "sealbox"
    access_token_ttl: int = Field(default=15 * 60, ge=30, le=24 * 3600)
    # Bounded: a refresh token's expiry is a date, and one past the year 9999 cannot be
    # stored (every sign-in would fail); ten years is beyond any session's use.
    refresh_token_ttl: int = Field(default=30 * 24 * 3600, ge=60, le=3650 * 24 * 3600)
    # The same bounds; its default is no less than refresh_token_ttl's, so a family ends
    # no sooner than a token never refreshed would.
    refresh_family_ttl: int = Field(
        default=30 * 24 * 3600,
        ge=60,
        le=3650 * 24 * 3600,
        description="Seconds after a refresh family's login after which no refresh is "
        "accepted, however often it was refreshed (the user logs in again).",
    )
    refresh_reuse_grace: float = Field(
        default=0.0,
        ge=0,
        le=300,
        description="Seconds after a refresh token's use during which using it again gets "
        "a new token of the same family instead of revoking it (0: strict reuse detection).",
    )
    first_party_client_id: str = Field(
        default="sealbox-first-party",
        min_length=1,
        max_length=128,
        description="The client_id (RFC 9068) of access tokens issued to password logins.",
    )

    password_profile: str = Field(default="rfc9106-low-memory")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    transit_max_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="Body limit of the transit routes (/v1/keys/…), which take batches.",
    )
    transit_max_batch: int = Field(
        default=10_000, ge=1, description="Most items in one transit batch_input."
    )
    transit_cache_ttl: float = Field(
        default=30.0,
        ge=0,
        le=86_400,
        description="Seconds a worker trusts its cached copy of a transit key without news.",
    )

    vault_kv_mounts: str = Field(
        default="secret",
        description="Comma-separated mounts of the Vault-shaped KV v2 engine (/v1/<mount>/…).",
    )

    throttle_user_attempts: int = Field(default=5, ge=1, description="Failures per window.")
    throttle_address_attempts: int = Field(default=20, ge=1)
    throttle_client_attempts: int = Field(
        default=100, ge=1, description="Client authentications per address per window."
    )
    # Bounded: Redis refuses a key lifetime it cannot hold (10**20 seconds), and every
    # sign-in would then fail; a day is beyond any lockout's use.
    throttle_window: int = Field(default=300, ge=1, le=86_400, description="Seconds.")

    open_registration: bool = True
    audit_log: Path | None = Field(
        default=None, description="JSON-lines audit file; data_dir/audit.log when unset."
    )

    @field_validator("data_dir", "cert", "key", "client_ca", "audit_log", mode="before")
    @classmethod
    def _path_not_empty(cls, value: object) -> object:
        # An unset shell variable (SEALBOX_DATA_DIR=$DATA) is not the default: an empty
        # path is the working directory, where a first start would write its master key.
        if isinstance(value, str) and not value.strip():
            raise ValueError("empty: give a path, or leave it unset for the default")
        return value

    @field_validator("data_dir", "cert", "key", "client_ca", "audit_log", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @field_validator("database_url", mode="after")
    @classmethod
    def _database_url(cls, value: Secret[str] | None) -> Secret[str] | None:
        # An unset shell variable (SEALBOX_DATABASE_URL=$DB_URL) would be read as a URL
        # that cannot be parsed, and so not shown (it may hold a password).
        if value is not None and not value.expose_secret().strip():
            raise ValueError("empty: leave it unset for the data folder's SQLite database")
        return value

    @field_validator(
        "host", "issuer", "audience", "redis_prefix", "first_party_client_id", mode="after"
    )
    @classmethod
    def _not_empty(cls, value: str) -> str:
        # An unset shell variable (SEALBOX_HOST=$ADDRESS) is not the default: an empty
        # host is every interface to the socket layer, and an empty iss or aud names no
        # one, which a verifier finds only once the tokens are in use. A blank Redis prefix
        # is no deployment's own, a blank client_id no client a resource server can match.
        if not value.strip():
            raise ValueError("empty: give a value, or leave it unset for the default")
        return value

    @field_validator("redis_url", mode="after")
    @classmethod
    def _redis_url(cls, value: Secret[str] | None) -> Secret[str] | None:
        # Checked here, before the data folder is touched: the Redis client refuses a
        # malformed URL with a ValueError that would reach the user as an internal error.
        # The message never holds the URL, which may carry a password.
        if value is not None:
            _check_redis_url(value.expose_secret())
        return value

    @field_validator("password_profile", mode="after")
    @classmethod
    def _password_profile(cls, value: str) -> str:
        # Checked here: the server would find it only when each worker starts.
        from sealbox.passwords.profiles import PROFILES

        if value not in PROFILES:
            raise ValueError(f"not a known profile ({', '.join(PROFILES)})")
        return value

    @field_validator("vault_kv_mounts", mode="after")
    @classmethod
    def _kv_mounts(cls, value: str) -> str:
        if not _KV_MOUNTS.fullmatch(value):
            raise ValueError(
                "not comma-separated mount names (each 1 to 64 lower-case letters, digits, "
                "_ and -, not starting with _ or -)"
            )
        taken = {m.strip() for m in value.split(",")} & RESERVED_MOUNTS
        if taken:
            raise ValueError(f"{', '.join(sorted(taken))} cannot be a KV mount: the path is taken")
        return value

    def resolved_database_url(self) -> str:
        """The database URL, or the default SQLite file in the data folder."""
        if self.database_url is not None:
            return self.database_url.expose_secret()
        return f"sqlite+aiosqlite:///{(self.data_dir / 'sealbox.db').resolve()}"

    def redis_keys_id(self) -> str:
        """Which Redis keys this configuration uses, without its credentials: a digest of
        the Redis address, database and :attr:`redis_prefix` ("" without Redis).

        A service with Redis writes it in its data folder's claim, so that ``sealbox users``
        refuses to end sessions in other keys than the ones the service reads.
        """
        if self.redis_url is None:
            return ""
        import hashlib
        from urllib.parse import parse_qsl, urlencode, urlsplit

        url = urlsplit(self.redis_url.expose_secret())
        query = [(k, v) for k, v in parse_qsl(url.query) if k not in {"username", "password"}]
        # Written as Redis reads it: port 6379 and database 0 when not given.
        where = f"{url.scheme}://{url.hostname}:{url.port or 6379}{url.path.rstrip('/') or '/0'}"
        where += f"?{urlencode(query)}"
        return hashlib.sha256(f"{where}\n{self.redis_prefix}".encode()).hexdigest()[:16]

    def kv_mounts(self) -> tuple[str, ...]:
        """The Vault-shaped KV v2 mounts, in the order given."""
        return tuple(dict.fromkeys(m.strip() for m in self.vault_kv_mounts.split(",")))

    def resolved_key(self) -> Path | None:
        """The server's private key file: the key given, or the certificate file itself
        when it holds its private key too (one PEM file with both, as uvicorn takes it)."""
        if self.key is not None:
            return Path(self.key)
        if self.cert is None:
            return None
        # A file that cannot be read is the TLS checks' to name.
        return Path(self.cert) if holds_private_key(pem_text(self.cert)) else None

    def resolved_audit_log(self) -> Path:
        """The audit log file."""
        return self.audit_log or self.data_dir / "audit.log"

    def public_dict(self) -> dict[str, Any]:
        """The settings with secrets shown as ``**********`` (for ``--show-config``)."""
        return self.model_dump(mode="json")


def pem_text(path: Path | str) -> bytes:
    """The first MiB of a PEM file (certificates and keys are far smaller); empty when it
    cannot be read."""
    try:
        with Path(path).open("rb") as fh:
            return fh.read(1 << 20)
    except OSError:
        return b""


def holds_private_key(pem: bytes) -> bool:
    """Whether PEM text holds a private key block (of any kind: PKCS#8, RSA, EC…)."""
    return b"PRIVATE KEY-----" in pem


def _check_redis_url(url: str) -> None:
    from sealbox.accounts.redis_client import url_problem

    problem = url_problem(url)
    if problem is not None:
        raise ValueError(problem)


OTHER_VARIABLES: Final = frozenset(
    {
        "SEALBOX_CA",  # sealbox transit --ca
        "SEALBOX_DEBUG",  # tracebacks of internal errors
        "SEALBOX_LOCK_TIMEOUT",  # sealbox._util.locks
        "SEALBOX_PASSPHRASE",  # key passphrases of the command line
        "SEALBOX_TOKEN",  # the transit client's access token
        "SEALBOX_URL",  # sealbox transit --url
        "SEALBOX_VECTORS",  # the test suite's vectors folder
    }
)
"""``SEALBOX_*`` variables read outside :class:`ServiceSettings` (the command line, the
library, the tests); a test keeps the set equal to the names the source reads."""


def known_variables() -> frozenset[str]:
    """Every ``SEALBOX_*`` variable sealbox reads."""
    fields = {f"{_PREFIX}{name.upper()}" for name in ServiceSettings.model_fields}
    return frozenset(fields) | OTHER_VARIABLES


def unknown_variables(environ: Mapping[str, str | None]) -> list[tuple[str, str | None]]:
    """The ``SEALBOX_*`` names in ``environ`` that sealbox does not read (a misspelt
    setting is otherwise silently left at its default), each with the closest known name
    (``None`` when none is close). Values are never looked at.

    Names compare regardless of case, as pydantic-settings reads them (a lower-case
    ``sealbox_port`` is the port); a name is returned as ``environ`` spells it.
    """
    import difflib

    known = known_variables()
    # Compared without the prefix, which every name shares.
    suffixes = {name.removeprefix(_PREFIX): name for name in known}
    found = []
    for name in sorted(environ):
        upper = name.upper()
        if upper.startswith(_PREFIX) and upper not in known:
            close = difflib.get_close_matches(upper.removeprefix(_PREFIX), suffixes, n=1)
            found.append((name, suffixes[close[0]] if close else None))
    return found


def dotenv_files() -> list[Path]:
    """The ``.env`` files :class:`ServiceSettings` reads, as pydantic-settings finds
    them: ``model_config["env_file"]`` from the working directory, when it is a regular
    file. A FIFO, which pydantic-settings would read too, is left out: reading it here
    would take its content from the settings."""
    config = ServiceSettings.model_config
    # pydantic-settings also looks in parent folders when env_file_depth is above 0; a
    # test keeps it 0, so the working directory is the only place to look.
    files = config.get("env_file") or ()
    if isinstance(files, (str, PathLike)):
        files = (files,)
    return [path for path in (Path(f).expanduser() for f in files) if path.is_file()]


def unknown_dotenv_variables() -> list[tuple[Path, str, str | None]]:
    """The ``SEALBOX_*`` names of the :func:`dotenv_files` that sealbox does not read,
    as :func:`unknown_variables` finds them, each with its file. Values are never
    looked at; a file that cannot be read is left to the settings to report."""
    from dotenv import dotenv_values

    encoding = ServiceSettings.model_config.get("env_file_encoding") or "utf-8"
    found = []
    # A line python-dotenv cannot parse is logged when the settings read the file; said
    # here too, it would be said twice.
    dotenv_log = logging.getLogger("dotenv.main")
    quiet = _DropAll()
    dotenv_log.addFilter(quiet)
    try:
        for path in dotenv_files():
            try:
                names = dotenv_values(path, encoding=encoding, interpolate=False)
            except (OSError, UnicodeError):
                continue
            found += [(path, name, close) for name, close in unknown_variables(names)]
    finally:
        dotenv_log.removeFilter(quiet)
    return found


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


def unknown_setting_warnings(environ: Mapping[str, str | None]) -> list[str]:
    """A warning for each unknown ``SEALBOX_*`` name of ``environ``
    (:func:`unknown_variables`) and of the ``.env`` file (:func:`unknown_dotenv_variables`):
    ``unknown setting NAME in /srv/.env (did you mean KNOWN_NAME?): it is not read``
    (without ``in …`` for the environment). Never a value: values can be secrets.
    """
    named: list[tuple[str, Path | None, str | None]]
    named = [(name, None, close) for name, close in unknown_variables(environ)]
    named += [(name, path, close) for path, name, close in unknown_dotenv_variables()]
    return [
        f"unknown setting {name}"
        + (f" in {path.absolute()}" if path else "")
        + (f" (did you mean {close}?)" if close else "")
        + ": it is not read"
        for name, path, close in named
    ]


def load_settings(**overrides: Any) -> ServiceSettings:
    """The settings: ``SEALBOX_*`` variables and ``.env``, with ``overrides`` on top.

    An override of ``None`` is no override.

    Raises:
        ConfigError: (code ``invalid_settings``) a value is out of range; the
            message names each setting and why, never its value (a database URL
            may hold a password). ``facts["settings"]`` lists the names. Code
            ``dotenv_unreadable`` (``facts["path"]``): the ``.env`` file is not UTF-8
            text (PowerShell's ``>`` writes UTF-16).
    """
    from pydantic import ValidationError

    try:
        return ServiceSettings(**{k: v for k, v in overrides.items() if v is not None})
    except UnicodeDecodeError:
        raise _dotenv_not_text() from None
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        names = ["SEALBOX_" + "_".join(str(p) for p in err["loc"]).upper() for err in errors]
        # pydantic starts a validator's own message with "Value error, ": its words alone.
        reasons = [str(err["msg"]).removeprefix("Value error, ") for err in errors]
        problems = "; ".join(f"{n}: {r}" for n, r in zip(names, reasons, strict=True))
        raise ConfigError(
            f"invalid settings: {problems}",
            hint="check the SEALBOX_* variables and the .env file",
            code="invalid_settings",
            facts={"settings": ", ".join(names)},
        ) from None


def _dotenv_not_text() -> ConfigError:
    """The refusal of a ``.env`` file that is not UTF-8 text: the first of
    :func:`dotenv_files` that does not decode (its content is never shown)."""
    encoding = ServiceSettings.model_config.get("env_file_encoding") or "utf-8"
    found = [path for path in dotenv_files() if not _decodes(path, encoding)]
    path = (found or [Path(".env")])[0].absolute()
    return ConfigError(
        f"cannot read the settings file {path}: it is not UTF-8 text",
        hint="save it as UTF-8 (PowerShell: Set-Content -Encoding utf8; or iconv -t UTF-8)",
        code="dotenv_unreadable",
        facts={"path": str(path)},
    )


def _decodes(path: Path, encoding: str) -> bool:
    try:
        path.read_bytes().decode(encoding)
    except UnicodeDecodeError:
        return False
    except OSError:
        return True  # not this file's encoding: the settings report it
    return True
