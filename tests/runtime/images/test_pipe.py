"""The two-stage pipeline of a layer pull: results, errors both ways, bounded buffering, no thread left behind."""
from __future__ import annotations

import threading

import pytest

from runtime.images.pipe import ChunkPipe, PipeAborted, run_two_stages


def _pipe_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("pctest-pipe")]


def test_consumer_gets_every_byte_in_order():
    chunks = [bytes([i]) * (1000 + i) for i in range(50)]

    def produce(pipe: ChunkPipe) -> None:
        for c in chunks:
            pipe.write(c)

    def consume(pipe: ChunkPipe) -> bytes:
        out = []
        while data := pipe.read(777):  # odd read sizes split chunks
            out.append(data)
        return b"".join(out)

    assert run_two_stages(produce, consume, name="pctest-pipe") == b"".join(chunks)
    assert _pipe_threads() == []


def test_producer_error_is_raised_by_the_consumer_as_is():
    failure = ConnectionResetError("cut")

    def produce(pipe: ChunkPipe) -> None:
        pipe.write(b"x" * 10)
        raise failure

    seen: list[bytes] = []

    def consume(pipe: ChunkPipe) -> None:
        while data := pipe.read(4):
            seen.append(data)

    with pytest.raises(ConnectionResetError) as info:
        run_two_stages(produce, consume, name="pctest-pipe")
    assert info.value is failure
    assert b"".join(seen) == b"x" * 10  # what came before the failure was delivered first
    assert _pipe_threads() == []


def test_consumer_failure_stops_an_endless_producer():
    written = 0

    def produce(pipe: ChunkPipe) -> None:
        nonlocal written
        while True:  # would never end without the abort
            pipe.write(b"y" * 4096)
            written += 1

    def consume(pipe: ChunkPipe) -> None:
        pipe.read(10)
        raise ValueError("corrupt")

    with pytest.raises(ValueError, match="corrupt"):
        run_two_stages(produce, consume, depth=4, name="pctest-pipe")
    assert _pipe_threads() == []
    assert written <= 4 + 2  # bounded: the producer never ran more than the pipe's depth ahead


def test_a_write_on_a_full_pipe_resumes_after_a_read_and_writes_after_abort_raise():
    pipe = ChunkPipe(depth=2)
    pipe.write(b"a")
    pipe.write(b"b")
    blocked = threading.Event()
    outcome: list[BaseException] = []

    def third() -> None:
        blocked.set()
        try:
            pipe.write(b"c")
        except PipeAborted as err:
            outcome.append(err)

    t = threading.Thread(target=third, name="pctest-pipe-writer")
    t.start()
    blocked.wait(5)
    assert pipe.read(10) == b"a"  # room again: the blocked write goes through
    t.join(5)
    assert not t.is_alive() and outcome == []
    pipe.abort()
    with pytest.raises(PipeAborted):
        pipe.write(b"d")


def test_consumer_finishing_early_is_not_an_error_but_a_short_download_is():
    def produce(pipe: ChunkPipe) -> None:
        for _ in range(100):
            pipe.write(b"z" * 1000)

    assert run_two_stages(produce, lambda pipe: pipe.read(5), depth=2, name="pctest-pipe") == b"zzzzz"

    def broken(pipe: ChunkPipe) -> None:
        pipe.write(b"z")
        raise TimeoutError("stalled")

    with pytest.raises(TimeoutError):
        run_two_stages(broken, lambda pipe: pipe.read(1), name="pctest-pipe")
    assert _pipe_threads() == []
