"""sealbox.service.framing: request boundaries in a byte stream, fed in any pieces."""

from __future__ import annotations

import pytest

from sealbox.service.framing import FramingError, RequestTracker, Stage

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
POST = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = (
    b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nTrailer: x\r\n\r\n"
)


def _events(stream: bytes, piece: int) -> list[str]:
    tracker = RequestTracker(max_head=4096)
    events = []
    for i in range(0, len(stream), piece):
        events += tracker.feed(stream[i : i + piece])
    assert tracker.stage is Stage.IDLE
    return events


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 64, 10_000])
def test_pipelined_requests_in_any_pieces(piece: int) -> None:
    stream = GET + POST + b"\r\n" + CHUNKED + GET
    assert _events(stream, piece) == ["start", "head", "done"] * 4


def test_a_body_keeps_the_request_open_until_it_is_complete() -> None:
    tracker = RequestTracker(max_head=4096)
    assert tracker.feed(POST[:-2]) == ["start", "head"]
    assert tracker.stage is Stage.BODY
    assert tracker.feed(POST[-2:]) == ["done"]


def test_content_length_with_transfer_encoding_is_refused() -> None:
    tracker = RequestTracker(max_head=4096)
    with pytest.raises(FramingError) as info:
        tracker.feed(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert info.value.status == 400


def test_an_oversized_head_is_431() -> None:
    tracker = RequestTracker(max_head=64)
    with pytest.raises(FramingError) as info:
        tracker.feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 100)
    assert info.value.status == 431


def test_a_bad_chunk_size_is_400() -> None:
    tracker = RequestTracker(max_head=4096)
    tracker.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(FramingError) as info:
        tracker.feed(b"zz\r\n")
    assert info.value.status == 400
