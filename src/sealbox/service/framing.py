"""Where HTTP/1.1 requests and answers begin and end in a connection's byte streams.

:class:`RequestTracker` reads the plaintext a client sends, as the server gets it,
and tells the connection guard when a request starts, when its head is complete and
when its body is: enough to bound the time each part may take. It parses only the
framing (RFC 9112 §6: ``Content-Length``, ``Transfer-Encoding: chunked``) and, for the
connection guard, the authority a request names (its ``Host`` field, and its target
where that is not a path: RFC 9112 §3.2), never the rest of the request; the HTTP server
reads the same bytes on its own.
:class:`AnswerTracker` reads what the server writes back, and counts the answers
written whole: a pipelined request waits until the answers before it are.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import enum
import ipaddress
import re
import sys
from typing import Final
from urllib.parse import unquote_to_bytes

__all__ = [
    "AMBIGUOUS_LENGTH",
    "CHUNKED_ONLY",
    "HTTP1_ONLY",
    "INVALID_HOST",
    "ONE_HOST",
    "TARGET_HOST",
    "AnswerTracker",
    "FramingError",
    "RequestTracker",
    "Stage",
    "list_as_get",
]

_MAX_CHUNK_LINE: Final = 4096


def list_as_get(data: bytes) -> bytes:
    """A request line ``LIST <target>`` at the start of ``data`` as ``GET <target>?list=true``.

    Vault's clients send the method ``LIST``, which Vault reads as ``GET`` with
    ``list=true`` (a ``list=`` in the target is dropped: beside ``LIST``, Vault ignores
    it); uvicorn's httptools parser refuses a method it does not know, so the
    connection rewrites the line before the parser sees it. Only a request line whose
    target is complete in ``data`` is rewritten (clients send a head in one write);
    anything else is returned as it is.
    """
    if not data.startswith(b"LIST /"):
        return data
    end = data.find(b" ", 5)
    if end < 0:
        return data
    path, _, query = data[5:end].partition(b"?")
    # The method lists, whatever list= the target carries (Vault ignores it beside
    # LIST): kept, it would make list= given twice, which the routes refuse.
    kept = [p for p in query.split(b"&") if p and _param_name(p) != b"list"]
    return b"GET " + path + b"?" + b"&".join([*kept, b"list=true"]) + data[end:]


def _param_name(param: bytes) -> bytes:
    """A query parameter's name, percent-decoded (``%6Cist=1`` names ``list``)."""
    return unquote_to_bytes(param.partition(b"=")[0].replace(b"+", b" "))


class Stage(enum.Enum):
    """Where the current request is."""

    IDLE = "idle"  # between requests
    HEAD = "head"  # request line and headers
    BODY = "body"  # a body of known length, or chunks


_IDLE: Final = Stage.IDLE  # read for every answer: a global, not an enum attribute

AMBIGUOUS_LENGTH: Final = "a request may not have both Content-Length and Transfer-Encoding"
CHUNKED_ONLY: Final = "the only transfer coding a request may have is chunked"
ONE_HOST: Final = "a request must have exactly one Host header"
HTTP1_ONLY: Final = "the service speaks HTTP/1.1 and HTTP/1.0 only"
INVALID_HOST: Final = "the Host header must be a host name or IP address, with an optional port"
TARGET_HOST: Final = (
    "a request target must be a path, or an https URL of the authority the Host header names"
)
# RFC 9110 §7.2 (RFC 3986 §3.2.2-3.2.3): uri-host [ ":" port ], where uri-host is a
# bracketed IP literal (an IPv6 address, checked below, or IPvFuture) or a reg-name, an
# IPv4 address being one; OWS around the field value is not part of it. An empty reg-name
# is refused: an https URI may not have an empty host (RFC 9110 §4.2.2).
_HOST: Final = re.compile(
    rb"[ \t]*(?:\[(?:(?P<ipv6>[0-9A-Fa-f:.]+)|[vV][0-9A-Fa-f]+\.[A-Za-z0-9._~!$&'()*+,;=:-]+)\]"
    rb"|(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+)(?::(?P<port>[0-9]*))?[ \t]*"
)
# The scheme and authority of an absolute-form target (RFC 9112 §3.2.2).
_ABSOLUTE: Final = re.compile(rb"[hH][tT][tT][pP][sS]://(?P<authority>[^/?#]*)")
_HTTP1: Final = (b"HTTP/1.1", b"HTTP/1.0")
_HEX: Final = b"0123456789abcdefABCDEF"
# The events of a head read whole: without a body, and with one still to come.
_BODILESS: Final = ("start", "head", "done")
_WITH_BODY: Final = ("start", "head")
_FRAMING_FIELDS: Final = (b"transfer-encoding", b"content-length", b"host")


class FramingError(Exception):
    """The bytes cannot be an HTTP/1.1 request stream (the connection should end)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RequestTracker:
    """Follows request boundaries; :meth:`feed` returns the events the bytes complete.

    Events: ``"start"`` (a request's first byte), ``"head"`` (its head is complete),
    ``"done"`` (its body too, or it has none).
    """

    def __init__(self, max_head: int, *, one_host: bool = False) -> None:
        self.stage = Stage.IDLE
        self._max_head = max_head
        # The Host rules: refuse an HTTP/1.1 head without a Host, any with two or with one
        # that names no authority, and a target naming another authority than Host's.
        self._one_host = one_host
        self._head = bytearray()
        self._remaining = 0  # body bytes left (Content-Length), or of the current chunk
        self._chunked = False
        self._chunk_state = "size"  # size, data, data-crlf, trailers
        self._line = bytearray()
        self._trailers = 0  # bytes of the current body's trailer section so far
        #: The method of the last request whose head was read is ``HEAD``.
        self.head_method = False

    def feed(self, data: bytes) -> list[str]:
        """Take the next bytes of the stream.

        Raises:
            FramingError: a head larger than the limit, a request line of another
                HTTP version than 1.1 or 1.0 (the HTTP/2 preface), both
                ``Content-Length`` and ``Transfer-Encoding``, a ``Transfer-Encoding``
                other than ``chunked`` alone, no ``Host`` in an HTTP/1.1
                head or two, a ``Host`` that is not a host and port, or a target that is
                neither a path nor an https URL of that ``Host`` (these when
                ``one_host``), a malformed chunk size, or trailer fields larger than the
                head's limit.
        """
        return self._read(data, one=False)[0]

    def take(self, data: bytes) -> tuple[list[str], int]:
        """:meth:`feed` up to the end of the first request that ends in ``data``.

        Returns the events and how many bytes of ``data`` were read; the rest belongs to
        the requests after that one.

        Raises:
            FramingError: as :meth:`feed`.
        """
        return self._read(data, one=True)

    def _read(self, data: bytes, *, one: bool) -> tuple[list[str], int]:
        events: list[str] = []
        view = memoryview(data)
        if self.stage is Stage.IDLE and data[:1] not in b"\r\n":
            # A whole head at the start of the bytes, as a client sends it in one write:
            # judged where it lies, without gathering it first.
            end = data.find(b"\r\n\r\n")
            if end > 0 and end + 4 <= self._max_head:
                self._start_body(data[:end])
                events += _BODILESS if self.stage is Stage.IDLE else _WITH_BODY
                view = view[end + 4 :]
                if one and events[-1] == "done":
                    return events, end + 4
        while view:
            if self.stage is Stage.IDLE:
                # Empty lines between requests are allowed (RFC 9112 §2.2).
                skip = 0
                while skip < len(view) and view[skip] in b"\r\n":
                    skip += 1
                view = view[skip:]
                if not view:
                    break
                self.stage = Stage.HEAD
                self._head.clear()
                events.append("start")
            elif self.stage is Stage.HEAD:
                view = self._feed_head(view, events)
            else:
                view = self._feed_body(view, events)
            if one and events and events[-1] == "done":
                break
        return events, len(data) - len(view)

    def _feed_head(self, view: memoryview, events: list[str]) -> memoryview:
        start = max(0, len(self._head) - 3)
        self._head += view
        end = self._head.find(b"\r\n\r\n", start)
        if end < 0:
            if len(self._head) > self._max_head:
                raise FramingError("the request head is too large", 431)
            return view[len(view) :]
        if end + 4 > self._max_head:
            raise FramingError("the request head is too large", 431)
        rest = len(self._head) - (end + 4)
        head = bytes(self._head[:end])
        self._head.clear()
        events.append("head")
        self._start_body(head)
        if self.stage is Stage.IDLE:
            events.append("done")
        return view[len(view) - rest :]

    def _start_body(self, head: bytes) -> None:
        length = 0
        chunked = False
        has_length = False
        codings = 0  # Transfer-Encoding field lines
        hosts = 0
        host = b""
        self.head_method = head.startswith(b"HEAD ")
        lines = head.split(b"\r\n")
        if lines[0].rpartition(b" ")[2] not in _HTTP1:
            # The HTTP/2 preface (PRI * HTTP/2.0) would be held here as a head without a
            # body while the HTTP parser waits for more: a connection open for good. A
            # line with no version (HTTP/0.9's "GET /path") would be answered with no Host
            # check and no headers at all.
            raise FramingError(HTTP1_ONLY, 400)
        for line in lines[1:]:
            colon = line.find(b":")
            # The name alone: a value (a bearer token, a cookie) is copied only when read.
            name = (line if colon < 0 else line[:colon]).strip().lower()
            if name not in _FRAMING_FIELDS:
                continue
            if name == b"host":
                hosts += 1
                host = b"" if colon < 0 else line[colon + 1 :]
                continue
            value = b"" if colon < 0 else line[colon + 1 :].strip()
            if name == b"transfer-encoding":
                codings += 1
                chunked = value.lower() == b"chunked"
            else:
                has_length = True
                try:
                    length = int(value)
                except ValueError:
                    length = 0  # the server refuses it; nothing to wait for here
        if has_length and codings:
            # RFC 9112 §6.3: a front proxy may have framed this body differently (request
            # smuggling), so neither this request nor anything after it can be trusted.
            # Refused here, before any HTTP parser reads it, whichever parser serves.
            raise FramingError(AMBIGUOUS_LENGTH, 400)
        if codings and (codings > 1 or not chunked):
            # RFC 9112 §6.1, §7: uvicorn's httptools parser frames "gzip, chunked" by its
            # last coding and hands the body on still gzip-coded, where a proxy in front
            # may have decoded it; h11 refuses it. Neither decodes a coding, so any but
            # chunked alone is refused here, before either parser reads it.
            raise FramingError(CHUNKED_ONLY, 400)
        if hosts != 1 and self._one_host and (hosts or lines[0].endswith(b"HTTP/1.1")):
            # RFC 9112 §3.2: none (HTTP/1.1) or several are refused; a proxy in front may
            # have read another Host than the URLs built from it here (OAuth metadata).
            raise FramingError(ONE_HOST, 400)
        if self._one_host:
            _check_authority(lines[0], host if hosts else None)
        self._expect_body(length, chunked=chunked)

    def _expect_body(self, length: int, *, chunked: bool) -> None:
        self._chunked = chunked
        self._chunk_state = "size"
        self._line.clear()
        self._trailers = 0
        self._remaining = 0 if chunked else max(length, 0)
        self.stage = Stage.BODY if chunked or self._remaining else Stage.IDLE

    def _feed_body(self, view: memoryview, events: list[str]) -> memoryview:
        if not self._chunked:
            take = min(self._remaining, len(view))
            self._remaining -= take
            if self._remaining == 0:
                self.stage = Stage.IDLE
                events.append("done")
            return view[take:]
        return self._feed_chunks(view, events)

    def _feed_chunks(self, view: memoryview, events: list[str]) -> memoryview:
        if self._chunk_state == "data":
            take = min(self._remaining, len(view))
            self._remaining -= take
            if self._remaining == 0:
                self._chunk_state = "data-crlf"
            return view[take:]
        # size, data-crlf and trailers are read a line at a time.
        newline = bytes(view).find(b"\n")
        if newline < 0:
            self._line += view
            if len(self._line) > _MAX_CHUNK_LINE:
                raise FramingError("a chunk line is too long", 400)
            return view[len(view) :]
        self._line += view[: newline + 1]
        line = bytes(self._line).rstrip(b"\r\n")
        self._line.clear()
        if self._chunk_state == "data-crlf":
            self._chunk_state = "size"
        elif self._chunk_state == "size":
            self._chunk_size(line)
        elif not line:  # the empty line after the trailers ends the body
            self.stage = Stage.IDLE
            events.append("done")
        else:
            # Trailer fields are fields like the head's, under its limit: uvicorn's
            # httptools parser keeps every one it reads, and sets no limit of its own.
            self._trailers += len(line) + 2
            if self._trailers > self._max_head:
                raise FramingError("the request trailers are too large", 431)
        return view[newline + 1 :]

    def _chunk_size(self, line: bytes) -> None:
        # RFC 9112 §7.1: 1*HEXDIG, then optional whitespace and extensions; int()
        # alone would take "-1", "+3", "0x3" and "1_0".
        digits = line.split(b";", 1)[0].rstrip(b" \t")
        if not digits or digits.strip(_HEX):
            raise FramingError("a chunk size is not hexadecimal", 400)
        if len(digits.lstrip(b"0")) > 15:
            raise FramingError("a chunk size is too large", 400)
        size = int(digits, 16)
        if size == 0:
            self._chunk_state = "trailers"
        else:
            self._remaining = size
            self._chunk_state = "data"


def _check_authority(request_line: bytes, host: bytes | None) -> None:
    """Refuse a ``Host`` that is not a host and port, and a target naming another authority.

    RFC 9112 §3.2 and RFC 9110 §7.2: a ``Host`` with an invalid value gets a 400; the
    application builds URLs from ``Host`` (the OAuth metadata): Starlette quietly puts
    the server's own address in place of a value it cannot read (older versions take the
    value as it is), where a proxy in front may have read it otherwise.

    An absolute-form target (``GET https://host/path``) is what a client sends a proxy,
    rarely an origin server. RFC 9112 §3.2.2 has a server accept it and take the
    target's authority over ``Host``; but uvicorn hands the application the path alone,
    and Starlette builds the URL from ``Host``. So one naming the same authority as
    ``Host`` (letter case and the default port 443 aside) is served, which conforms, as
    the two agree; one naming another authority, or no ``Host`` to compare (HTTP/1.0), is
    refused with a 400, as is any target that is neither a path, ``*`` nor an https URL
    (the service speaks https only): served, the service would act on another authority
    than a proxy in front that routed by the target. Only the request line's target and
    the one ``Host`` value are read; an origin-form target costs one byte compare.
    """
    if host is not None:
        valid = _HOST.fullmatch(host)
        if valid is None or (
            (port := valid["port"]) and int(port) > 65535  # not a TCP port
        ):
            raise FramingError(INVALID_HOST, 400)
        if valid["ipv6"] is not None:
            try:
                ipaddress.IPv6Address(valid["ipv6"].decode("ascii"))
            except ValueError:
                raise FramingError(INVALID_HOST, 400) from None
    start = request_line.find(b" ") + 1
    if request_line[start : start + 1] == b"/":
        return  # origin-form, as clients send it: the target is not copied
    target = request_line[start : request_line.rfind(b" ")]
    if target == b"*":
        return
    absolute = _ABSOLUTE.match(target)
    if (
        absolute is None
        or host is None
        or _authority_key(absolute["authority"]) != _authority_key(host.strip(b" \t"))
    ):
        raise FramingError(TARGET_HOST, 400)


def _authority_key(authority: bytes) -> bytes:
    """An https authority as compared: in lower case, without an empty or default port."""
    authority = authority.lower()
    name, colon, port = authority.rpartition(b":")
    if colon and b"]" not in port and (not port or port.lstrip(b"0") == b"443"):
        return name
    return authority


class AnswerTracker(RequestTracker):
    """Counts the answers a server has written whole, from the bytes it writes.

    :meth:`wrote` takes what the server writes, in order; :attr:`answered` is how many
    final answers have ended. An interim answer (``100 Continue``) is not one; an answer
    to a ``HEAD`` request (``requests`` tells whether the request being answered is one),
    a 204 and a 304 end with their head; every other answer is framed by
    ``Content-Length`` or chunked, as uvicorn frames them all (RFC 9112 §6.3).
    """

    def __init__(self, requests: RequestTracker) -> None:
        super().__init__(sys.maxsize)
        self._requests = requests
        self._ends = 0  # answers ended, interim ones included
        self._interim = 0

    @property
    def answered(self) -> int:
        """The final answers written whole."""
        return self._ends - self._interim

    def wrote(self, data: bytes) -> None:
        """Take the next bytes the server wrote."""
        if self.stage is _IDLE:
            # What is written in one turn is most often one whole answer whose head names
            # its Content-Length (in lower case, as uvicorn writes it): then the body is
            # the data's last Content-Length bytes, and the head ends just before them.
            # Seen so, without scanning the whole head for its end (this runs for every
            # answer): only the part before the field is scanned, to be sure the field
            # is in the head.
            at = data.find(b"\r\ncontent-length:")
            if at > 0 and data[9:10] != b"1" and data.find(b"\r\n\r\n", 0, at) < 0:
                start = at + 17
                try:
                    length = int(data[start : data.find(b"\r\n", start)])
                except ValueError:
                    length = -1
                end = len(data) - length
                # A head holds no empty line before its end: the one found there is it.
                if length >= 0 and end > start and data[end - 4 : end] == b"\r\n\r\n":
                    self._ends += 1
                    return
        self._ends += self.feed(data).count("done")

    def _start_body(self, head: bytes) -> None:
        status = head[9:12]  # HTTP/1.1 200 OK
        if status[:1] == b"1":
            self._interim += 1
        if status[:1] == b"1" or status in (b"204", b"304") or self._requests.head_method:
            self._expect_body(0, chunked=False)
            return
        lower = head.lower()
        coding = _field(lower, b"\r\ntransfer-encoding:")
        if coding is not None and coding.endswith(b"chunked"):
            self._expect_body(0, chunked=True)
            return
        try:
            length = int(_field(lower, b"\r\ncontent-length:") or 0)
        except ValueError:
            length = 0
        self._expect_body(length, chunked=False)


def _field(head: bytes, name: bytes) -> bytes | None:
    """The value of the first field ``name`` (``\\r\\n`` and the name with its colon)."""
    start = head.find(name)
    if start < 0:
        return None
    end = head.find(b"\r\n", start + len(name))
    return head[start + len(name) : end if end >= 0 else len(head)].strip()
