"""A bounded in-memory pipe of byte chunks between two threads, and a runner for a two-stage pipeline over it.

A layer pull is stages of similar cost: (1) receive the blob, hash it and write it to the blob store; (2)
decompress it; (3) hash the tar (the diff id) and unpack it. ``run_two_stages`` runs a producer in a thread of its
own and the consumer in the caller (the pull chains two of them), so a single large layer keeps both cores busy. The heavy work (socket reads, sha256,
inflate, file writes) releases the GIL. Each byte is read from the network once and handed over by reference.

Failures travel both ways: an error of the producer is raised by the consumer's next ``read`` (the same exception
object, so a ``RegistryUnreachable`` is still retried); a consumer that gives up ``abort``\\ s the pipe and the
producer's next ``write`` raises ``PipeAborted``, so the producer stops at once instead of downloading the rest.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Callable, TypeVar

__all__ = ["ChunkPipe", "PipeAborted", "run_two_stages"]

T = TypeVar("T")


class PipeAborted(Exception):
    """The reading side gave up (the producer should stop)."""


class ChunkPipe:
    def __init__(self, depth: int = 8) -> None:
        """``depth``: chunks held at most (memory bound: ``depth`` times the producer's chunk size)."""
        self._depth = max(1, depth)
        self._chunks: deque[bytes] = deque()
        self._head = b""  # the rest of a chunk partly read
        self._cond = threading.Condition()
        self._closed = False
        self._error: BaseException | None = None
        self._aborted = False

    # ---- producer side ----------------------------------------------------------------------------------------
    def write(self, data: bytes) -> int:
        if not data:
            return 0
        with self._cond:
            while len(self._chunks) >= self._depth and not self._aborted:
                self._cond.wait()
            if self._aborted:
                raise PipeAborted("the reader of the pipe gave up")
            self._chunks.append(bytes(data))
            self._cond.notify_all()
        return len(data)

    def close(self, error: BaseException | None = None) -> None:
        """End of data; with ``error`` the reader raises it after what was written so far."""
        with self._cond:
            self._closed = True
            self._error = error
            self._cond.notify_all()

    # ---- consumer side ----------------------------------------------------------------------------------------
    def read(self, size: int = -1) -> bytes:
        if not self._head:
            with self._cond:
                while not self._chunks and not self._closed:
                    self._cond.wait()
                if self._chunks:
                    self._head = self._chunks.popleft()
                    self._cond.notify_all()
                elif self._error is not None:
                    raise self._error
                else:
                    return b""
        if size is None or size < 0:
            parts = [self._head]
            self._head = b""
            while chunk := self.read(1 << 20):
                parts.append(chunk)
            return b"".join(parts)
        if size >= len(self._head):
            data, self._head = self._head, b""
        else:
            data, self._head = self._head[:size], self._head[size:]
        return data

    def readable(self) -> bool:
        return True

    def abort(self) -> None:
        """The reader stops: drop what is buffered and make the producer's next ``write`` raise."""
        with self._cond:
            self._aborted = True
            self._chunks.clear()
            self._cond.notify_all()


def run_two_stages(produce: Callable[[ChunkPipe], None], consume: Callable[[ChunkPipe], T], *,
                   depth: int = 8, name: str = "pipe") -> T:
    """Run ``produce(pipe)`` (which writes chunks) in a new thread while ``consume(pipe)`` reads them here.

    Returns ``consume``'s result once both are done; the pipe is closed for the producer when it returns. Raises the
    producer's error if it failed (even when the consumer finished first: a download cut short is an error), else
    the consumer's. The producer thread has always ended when this returns.
    """
    pipe = ChunkPipe(depth)
    failure: list[BaseException] = []

    def _run() -> None:
        try:
            produce(pipe)
        except PipeAborted:
            pipe.close()
        except BaseException as err:  # handed to the consumer and re-raised below
            failure.append(err)
            pipe.close(err)
        else:
            pipe.close()

    thread = threading.Thread(target=_run, name=name, daemon=True)
    thread.start()
    try:
        result = consume(pipe)
    except BaseException:
        pipe.abort()
        thread.join()
        if failure:
            raise failure[0] from None
        raise
    pipe.abort()  # the consumer needs no more: a producer still writing stops now
    thread.join()
    if failure:
        raise failure[0]
    return result
