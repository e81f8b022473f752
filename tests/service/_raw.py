"""Raw TLS sockets to a running service, for tests that send bytes no HTTP client would."""

from __future__ import annotations

import socket
import ssl

import pytest

from tests.service.conftest import Running

# A request no route answers, whose answer closes the connection: see read_after.
PROBE = b"GET /.probe-after-the-answers HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def connect(running: Running) -> ssl.SSLSocket:
    """A TLS socket to ``running``, verified against its CA."""
    ctx = ssl.create_default_context(cafile=str(running.ca))
    raw = socket.create_connection(("127.0.0.1", running.settings.port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def _body_end(fields: dict[bytes, bytes], status: int, data: bytes) -> int | None:
    """Where the body of an answer with these header fields ends in ``data`` (which
    starts with that body), or None while it is not all there or is framed by the close.
    """
    if b"chunked" in fields.get(b"transfer-encoding", b""):
        at = 0
        while True:
            line_end = data.find(b"\r\n", at)
            if line_end < 0:
                return None
            size = int(data[at:line_end].split(b";")[0], 16)
            at = line_end + 2
            if size == 0:
                if data.startswith(b"\r\n", at):
                    return at + 2
                trailers_end = data.find(b"\r\n\r\n", at)
                return None if trailers_end < 0 else trailers_end + 4
            if len(data) < at + size + 2:
                return None
            at += size + 2
    if b"content-length" in fields:
        length = int(fields[b"content-length"])
        return length if len(data) >= length else None
    return 0 if status in (204, 304) else None


def _whole_answers(data: bytes) -> list[tuple[bytes, bool]] | None:
    """The whole final answers ``data`` holds, each with whether it announces
    ``Connection: close`` — or None unless ``data`` ends exactly where an answer ends.

    Answers are read by their framing (a ``Content-Length`` or a chunked body); 1xx
    interim answers are passed over. An answer framed by the close, or bytes that do
    not read as an answer, give None: only the close or the silence ends that read.
    """
    found: list[tuple[bytes, bool]] = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not data.startswith(b"HTTP/1.") or not sep:
            return None
        lines = head.split(b"\r\n")
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip().lower()
        status = int(lines[0][9:12])
        if 100 <= status < 200:
            data = rest
            continue
        end = _body_end(fields, status, rest)
        if end is None:
            return None
        found.append((head + sep + rest[:end], fields.get(b"connection") == b"close"))
        data = rest[end:]
    return found


def read_all(sock: ssl.SSLSocket, seconds: float = 2.0, *, answers: int | None = 1) -> bytes:
    """Everything the server sends until it closes or ``seconds`` of silence — or, at
    once, when ``answers`` whole answers have come and the last keeps the connection open.

    An answer that announces ``Connection: close`` is read on to the close, so whatever
    the server sent after it is still seen. What may follow an answer that keeps the
    connection open is not waited for: a test that asserts on it asks one more request
    and reads what comes before that one's answer (:func:`read_after`), or passes
    ``answers=None`` so that only the close or the silence ends the read. So do tests
    that send ``HEAD``, whose answers' framing this function cannot tell.
    """
    sock.settimeout(seconds)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ssl.SSLError, OSError):
            return data
        if not chunk:
            return data
        data += chunk
        if answers is not None:
            whole = _whole_answers(data)
            if whole is not None and len(whole) >= answers and not whole[-1][1]:
                return data


def read_after(sock: ssl.SSLSocket, seconds: float = 10.0) -> bytes:
    """What the server sends, on a connection it may keep open, before it answers one
    more request (:data:`PROBE`): ``b""`` when it answers nothing else first.

    Answers leave in the order their requests came (RFC 9112 §9.3.2), so an answer the
    server gave to anything sent before the probe arrives ahead of the probe's 404; and
    the probe's ``Connection: close`` ends the read at once, where waiting for silence
    would wait out the whole of ``seconds``. A server that closed the connection before
    the probe gives what it sent before its close.
    """
    try:
        sock.sendall(PROBE)
    except (ssl.SSLError, OSError):
        pass  # closed already: what it sent before is still there to read
    data = read_all(sock, seconds, answers=None)
    whole = _whole_answers(data)
    if whole and whole[-1][0].startswith(b"HTTP/1.1 404 ") and whole[-1][1]:
        return data[: -len(whole[-1][0])]
    return data


def read_until_closed(sock: socket.socket, guard: float = 30.0) -> bytes:
    """Everything the server sends until it closes the connection.

    ``guard`` only turns a server that never closes into a failure: reaching it fails
    the test, whatever the server sent before.
    """
    sock.settimeout(guard)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLError, ConnectionResetError):
            return data
        except TimeoutError:
            pytest.fail(f"the server kept the connection open for {guard} s after {data!r}")
        if not chunk:
            return data
        data += chunk
