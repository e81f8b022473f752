"""Request boundaries in a byte stream, as the connection layer's timeouts need them."""

from __future__ import annotations

import pytest

from sealbox.service.framing import AMBIGUOUS_LENGTH, FramingError, RequestTracker, Stage


def test_a_request_without_a_body_starts_and_ends_in_one_feed() -> None:
    t = RequestTracker(1024)
    assert t.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == ["start", "head", "done"]
    assert t.stage is Stage.IDLE


def test_a_content_length_body_ends_after_its_last_byte() -> None:
    t = RequestTracker(1024)
    assert t.feed(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab") == ["start", "head"]
    assert t.feed(b"c") == []
    assert t.feed(b"dGET / HTTP/1.1\r\n") == ["done", "start"]


def test_a_chunked_body_ends_after_its_trailers() -> None:
    t = RequestTracker(1024)
    events = t.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    assert events == ["start", "head"]
    assert t.feed(b"0\r\nX-T: 1\r\n\r\n") == ["done"]


@pytest.mark.parametrize(
    "head",
    [
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\ncontent-length: 3\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\nContent-Length: 0\r\n\r\n",
    ],
)
def test_content_length_with_transfer_encoding_is_refused(head: bytes) -> None:
    with pytest.raises(FramingError) as caught:
        RequestTracker(1024).feed(head)
    assert caught.value.status == 400
    assert str(caught.value) == AMBIGUOUS_LENGTH


def test_a_head_over_the_limit_is_refused_before_it_ends() -> None:
    t = RequestTracker(1024)
    t.feed(b"GET / HTTP/1.1\r\n")
    with pytest.raises(FramingError) as caught:
        t.feed(b"X: " + b"a" * 1100)
    assert caught.value.status == 431


def test_a_chunk_size_that_is_not_hexadecimal_is_refused() -> None:
    t = RequestTracker(1024)
    t.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(FramingError) as caught:
        t.feed(b"zz\r\n")
    assert caught.value.status == 400


def test_a_whole_head_over_the_limit_in_one_feed_is_refused() -> None:
    with pytest.raises(FramingError) as caught:
        RequestTracker(1024).feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 1100 + b"\r\n\r\n")
    assert caught.value.status == 431


def test_pipelined_requests_in_one_feed_each_get_their_events() -> None:
    t = RequestTracker(1024)
    stream = (
        b"POST / HTTP/1.1\r\ncontent-LENGTH:  3 \r\n\r\nabc"
        b"\r\nGET /a HTTP/1.1\r\nAuthorization: Bearer " + b"t" * 600 + b"\r\n\r\n"
        b"GET /b HTTP/1.1\r\n"
    )
    assert t.feed(stream) == ["start", "head", "done", "start", "head", "done", "start"]
    assert t.stage is Stage.HEAD
    assert t.feed(b"Host: x\r\n\r\n") == ["head", "done"]


def test_a_field_without_a_colon_or_only_naming_a_framing_field_in_its_value_frames_nothing() -> (
    None
):
    t = RequestTracker(1024)
    head = b"GET / HTTP/1.1\r\nContent-Length\r\nX-Note: content-length: 5\r\n\r\n"
    assert t.feed(head) == ["start", "head", "done"]
    assert t.stage is Stage.IDLE
