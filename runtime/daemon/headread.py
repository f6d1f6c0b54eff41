"""Waiting for a hijacking client to read the response head before the stream's first byte goes out.

docker-py reads the head of a hijacked response (exec start, attach) through a buffered file, then the stream from
the raw socket: bytes that arrive together with the head in its one read are lost to it. A client descheduled on a
busy machine reads late, when an exec's output (or an attach's replayed log) may already be there, and exec_run
then gives exit code 0 and no output. Docker relies on its exec's launch taking tens of milliseconds; ours takes a
few, so an exec's output and an attach's replay wait here until the head has been read (the exec is launched
meanwhile: its output waits in the monitor's socket).
"""
from __future__ import annotations

import asyncio
import fcntl
import socket
import struct
import termios

__all__ = ["until_read", "HEAD_READ_WAIT"]

HEAD_READ_WAIT = 5.0  # at most this long: a client that never reads does not hold its exec back for ever


async def until_read(writer: asyncio.StreamWriter, timeout: float = HEAD_READ_WAIT) -> None:
    """Return once the peer has read everything written to ``writer`` so far (or after ``timeout``, or when the
    connection closes). On a unix socket SIOCOUTQ counts what the peer has not read yet; it drops to 0 at the
    client's read, which wakes no one here, so this polls: a client that reads at once costs a check or two.
    Other sockets return at once."""
    sock = writer.get_extra_info("socket")
    if sock is None or sock.family != socket.AF_UNIX:
        return
    transport = writer.transport
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.0001
    while not transport.is_closing():
        if transport.get_write_buffer_size() == 0:
            try:
                unread = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
            except OSError:
                return
            if unread == 0:
                return
        if loop.time() >= deadline:
            return
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.001)
