"""Request and answer boundaries in byte streams, as the connection layer needs them."""

from __future__ import annotations

import pytest

from sealbox.service.framing import (
    AMBIGUOUS_LENGTH,
    HTTP1_ONLY,
    AnswerTracker,
    FramingError,
    RequestTracker,
    Stage,
)


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


@pytest.mark.parametrize("line", [b"zz", b"-1", b"+3", b"0x3", b"1_0", b" 3", b"", b"3 3"])
def test_a_chunk_size_python_would_read_but_http_does_not_is_refused(line: bytes) -> None:
    # int(x, 16) takes a sign, a 0x prefix, underscores and spaces: a tracker that
    # took them would frame the body otherwise than the HTTP parser (a size of -1 once
    # made the tracker count body bytes backwards).
    t = RequestTracker(1024)
    t.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(FramingError) as caught:
        t.feed(line + b"\r\nabc\r\n0\r\n\r\n")
    assert caught.value.status == 400


def test_a_chunk_size_beyond_64_bits_is_refused() -> None:
    t = RequestTracker(1024)
    t.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(FramingError) as caught:
        t.feed(b"1" + b"0" * 16 + b"\r\n")
    assert str(caught.value) == "a chunk size is too large"


def test_chunk_sizes_with_leading_zeros_extensions_and_upper_case_are_read() -> None:
    t = RequestTracker(1024)
    t.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert t.feed(b"0000000000000000000A ;ext=1\r\n0123456789\r\n") == []
    assert t.feed(b"0\r\n\r\n") == ["done"]


@pytest.mark.parametrize(
    "head",
    [
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET / HTTP/1.2\r\nHost: x\r\n\r\n",
        b"GET /health\r\n\r\n",
        b"GET / http/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["HTTP/2 preface", "HTTP/1.2", "HTTP/0.9, no version", "a version in lower case"],
)
def test_a_request_line_of_another_http_version_is_refused(head: bytes) -> None:
    for feed in (head, head[:5]):  # read where it lies, or gathered first
        t = RequestTracker(1024)
        with pytest.raises(FramingError) as caught:
            t.feed(feed) if feed is head else (t.feed(feed), t.feed(head[5:]))
        assert str(caught.value) == HTTP1_ONLY
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


def test_take_stops_at_the_end_of_the_first_request() -> None:
    t = RequestTracker(1024)
    first = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
    second = b"GET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\n"
    assert t.take(first + second) == (["start", "head", "done"], len(first))
    assert t.take(second) == (["start", "head", "done"], second.index(b"GET /c"))
    assert t.take(b"GET /c HTTP/1.1\r\n") == (["start"], 17)
    assert t.take(b"Host: x\r\n\r\n\r\nGET") == (["head", "done"], 11)


def test_take_reads_a_request_cut_anywhere_to_its_end_and_no_further() -> None:
    stream = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    for cut in range(1, len(stream)):
        t = RequestTracker(1024)
        _, used = t.take(stream[:cut])
        assert used == cut
        assert t.take(stream[cut:] + b"GET /")[1] == len(stream) - cut
        assert t.stage is Stage.IDLE


def test_take_notes_a_head_request() -> None:
    t = RequestTracker(1024)
    t.take(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert t.head_method
    t.take(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert not t.head_method


def _answers(*writes: bytes, head_method: bool = False) -> list[int]:
    """How many answers have ended after each write."""
    requests = RequestTracker(1024)
    requests.head_method = head_method
    answers = AnswerTracker(requests)
    ended = []
    for data in writes:
        answers.wrote(data)
        ended.append(answers.answered)
    return ended


@pytest.mark.parametrize("name", [b"content-length", b"Content-Length"])
def test_an_answer_with_a_content_length_ends_after_its_body(name: bytes) -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n%s: 10\r\n\r\n" % name
    assert _answers(head + b'{"a": "b"}') == [1]
    assert _answers(head, b'{"a": ', b'"b"}') == [0, 0, 1]
    assert _answers(head + b'{"a": "b"}' + head, b"0123456789") == [1, 2]
    assert _answers(head + b'{"a": "b"', b"}" + head + b'{"a": "b"}') == [0, 2]


def test_a_chunked_answer_ends_with_its_last_chunk() -> None:
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    # A chunk whose data ends as a last chunk does is not one.
    assert _answers(head, b"6\r\nabc0\r\n\r\n", b"0\r\n\r\n") == [0, 0, 1]


def test_an_interim_answer_is_not_the_answer() -> None:
    final = b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}"
    assert _answers(b"HTTP/1.1 100 Continue\r\n\r\n", final) == [0, 1]


@pytest.mark.parametrize("status", [b"204 No Content", b"304 Not Modified"])
def test_a_204_and_a_304_end_with_their_head(status: bytes) -> None:
    assert _answers(b"HTTP/1.1 " + status + b"\r\ncontent-length: 5\r\n\r\n") == [1]


def test_an_answer_to_head_ends_with_its_head() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 23\r\n\r\n"
    assert _answers(head, head, head_method=True) == [1, 2]


def test_a_content_length_inside_a_chunked_body_is_not_taken_for_the_heads() -> None:
    # The one-write shortcut reads the Content-Length field and takes the data's last that
    # many bytes for the body: a chunked answer whose data spells a field and an empty
    # line where those bytes would begin must not be taken for one that has ended.
    fake = b"\r\ncontent-length: 5\r\n\r\nhello"
    chunk = b"%x\r\n%s\r\n" % (len(fake), fake)
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    assert _answers(head + chunk, b"0\r\n\r\n") == [0, 1]
    assert _answers(head + chunk[:-2], b"\r\n0\r\n\r\n") == [0, 1]
