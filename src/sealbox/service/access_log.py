"""What uvicorn's access log may say of a request's target: the path and the names of
its query parameters, never their values (nor a path segment's parameters).

A query string is where clients put what belongs in a body or a header — a password,
a refresh token, a client secret, ``?access_token=…`` (RFC 6750 §2.3 warns that such
URLs get logged, and RFC 9700 §4.3.2 repeats it). The service refuses those requests,
but uvicorn logs every request line before anything is refused. uvicorn's access
logger has its own handler and formatter, which read the record's arguments, so the
filter here rewrites the one argument that holds the target.

May import :mod:`sealbox.secret` only.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import re
from typing import Final

from sealbox.secret import default_redactor

__all__ = ["ACCESS_LOGGER", "AccessLogTargets", "install_access_log_filter", "shown_target"]

ACCESS_LOGGER: Final = "uvicorn.access"
# A parameter name worth showing: short, and of the characters names are made of. Anything
# else (a bare token as the whole query) is shown as the value is: not at all.
_NAME: Final = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,40}")
_HIDDEN: Final = "…"


def shown_target(target: str) -> str:
    """``target`` (a path and its query) as the access log shows it: each query value
    replaced by ``…``, names kept when they look like names, a part without ``=`` (a
    bare value: ``?s3cr3t``) and each segment's parameters (``/health;password=…``)
    hidden, the path redacted."""
    path, sep, query = target.partition("?")
    if ";" in path:
        path = "/".join(_segment(segment) for segment in path.split("/"))
    path = default_redactor.redact(path)
    if not sep:
        return path
    shown = []
    for part in query.split("&"):
        name, equals, _ = part.partition("=")
        if not equals:
            shown.append(_HIDDEN if part else "")
        else:
            shown.append((name if _NAME.fullmatch(name) else _HIDDEN) + f"={_HIDDEN}")
    return f"{path}?{'&'.join(shown)}"


def _segment(segment: str) -> str:
    """A path segment without its parameters (RFC 3986 §3.3: ``name;param=value``)."""
    name, semicolon, _ = segment.partition(";")
    return f"{name};{_HIDDEN}" if semicolon else name


class AccessLogTargets(logging.Filter):
    """Rewrite the target of uvicorn's access records (``client, method, target, version,
    status``) with :func:`shown_target`; every other record passes unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], shown_target(args[2]), args[3], args[4])
        return True


_FILTER: Final = AccessLogTargets()


def install_access_log_filter() -> None:
    """Put the filter on uvicorn's access logger (once; in each worker process)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
