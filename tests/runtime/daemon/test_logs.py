"""The json-file log reader: tail, since, stream selection, rotation, and follow driven by inotify."""
from __future__ import annotations

import asyncio
import json
import time

from runtime.daemon.logs import LogQuery, log_stream, parse_log_time
from runtime.stream import Demuxer


def _line(text: str, stream: str = "stdout", ns: int | None = None) -> str:
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}".rstrip("0") + "Z"
    return json.dumps({"log": text, "stream": stream, "time": stamp}) + "\n"


async def _collect(path, q, **kw):
    return [c async for c in log_stream(path, q, **kw)]


def test_parse_time_variable_fraction():
    assert parse_log_time("1970-01-01T00:00:01.5Z") == 1_500_000_000
    assert parse_log_time("1970-01-01T00:00:02Z") == 2_000_000_000


def test_tail_since_streams_and_rotation(tmp_path):
    log = tmp_path / "c-json.log"
    (tmp_path / "c-json.log.1").write_text(_line("old1\n", ns=1_000_000_000) + _line("old2\n", ns=2_000_000_000))
    log.write_text(_line("new\n", ns=3_000_000_000) + _line("err\n", "stderr", ns=4_000_000_000))
    frames = asyncio.run(_collect(log, LogQuery(), running=lambda: False))
    demux = Demuxer()
    got = [f for chunk in frames for f in demux.feed(chunk)]
    assert got == [(1, b"old1\n"), (1, b"old2\n"), (1, b"new\n"), (2, b"err\n")]
    raw = asyncio.run(_collect(log, LogQuery(tail=2, stderr=False, tty=True), running=lambda: False))
    assert raw == [b"new\n"]
    raw = asyncio.run(_collect(log, LogQuery(since_ns=2_000_000_000, tty=True, timestamps=True),
                               running=lambda: False))
    assert [r.split(b" ", 1)[1] for r in raw] == [b"old2\n", b"new\n", b"err\n"]


def test_follow_sees_appended_lines_and_ends_when_stopped(tmp_path):
    log = tmp_path / "c-json.log"
    log.write_text(_line("first\n"))

    async def main():
        stop = asyncio.Event()
        got: list[bytes] = []
        gen = log_stream(log, LogQuery(follow=True, tty=True), running=lambda: True, stopped=stop.wait)
        got.append(await gen.__anext__())
        with open(log, "a") as fh:
            fh.write(_line("second\n"))
        got.append(await asyncio.wait_for(gen.__anext__(), 10))
        with open(log, "a") as fh:  # a torn line is held back until it is complete
            fh.write(_line("third\n")[:10])
            fh.flush()
            fh.write(_line("third\n")[10:])
        got.append(await asyncio.wait_for(gen.__anext__(), 10))
        stop.set()
        rest = [c async for c in gen]
        return got, rest

    got, rest = asyncio.run(main())
    assert got == [b"first\n", b"second\n", b"third\n"] and rest == []


def test_until_filters_and_ends_a_follow(tmp_path):
    log = tmp_path / "c-json.log"
    now = time.time_ns()
    log.write_text(_line("before\n", ns=now - 5_000_000_000) + _line("after\n", ns=now + 3_600_000_000_000))
    past = asyncio.run(_collect(log, LogQuery(until_ns=now, follow=True, tty=True), running=lambda: True,
                                stopped=asyncio.Event().wait))
    assert past == [b"before\n"]  # an ``until`` already gone: no following, the later line left out

    async def main():  # a follow with a near ``until`` ends by itself while the container runs on
        until = time.time_ns() + 300_000_000
        gen = log_stream(log, LogQuery(until_ns=until, follow=True, tty=True), running=lambda: True,
                         stopped=asyncio.Event().wait)
        got = await asyncio.wait_for(_drain(gen), 10)
        return got, time.time_ns() - until

    got, late = asyncio.run(main())
    assert got == [b"before\n"] and late >= 0


async def _drain(gen):
    return [c async for c in gen]


def test_follow_of_a_container_that_ends_as_it_is_asked_loses_no_line(tmp_path):
    """``docker run`` (docker-py's too) follows the log of a container that may end at once: its last lines are
    written (then its exit recorded) between the request and the reader's look at the file. Here the container
    writes its line and ends while the reader asks whether it runs: the line is still sent."""
    log = tmp_path / "c-json.log"
    log.write_text("")

    def running() -> bool:  # the container's last line lands, then it has exited
        with open(log, "a") as fh:
            fh.write(_line("last words\n"))
        return False

    chunks = asyncio.run(_collect(log, LogQuery(follow=True, tty=True), running=running))
    assert b"".join(chunks) == b"last words\n"
