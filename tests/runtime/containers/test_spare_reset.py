"""A SOCK_SEQPACKET peer that closes with our messages unread makes the kernel report ECONNRESET to us once, before
the messages it had sent us. The engine closes a spare monitor's socket right after handing it a start, and the
spare's own word (its waiting child) may arrive just after the engine looked for it: the spare must still read the
start it was handed (a CI run once lost a start this way: "container monitor failed to start: Connection reset")."""
from __future__ import annotations

import json
import os
import select
import socket

import pytest

from runtime import init
from runtime.forkserver import ForkServer
from runtime.monitor_client import read_reply
from tests.support.procfs import children

pytestmark = pytest.mark.root


def test_recv_msg_reads_what_a_peer_sent_before_it_closed_with_ours_unread():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours:
        r, w = os.pipe()
        try:
            init.send_msg(theirs, {"said": 1}, [r])
            init.send_msg(ours, {"unread": True})
            theirs.close()  # with our message unread
            msg, fds = init.recv_msg(ours)
            assert msg == {"said": 1} and len(fds) == 1
            os.close(fds[0])
            assert init.recv_msg(ours) == (None, [])  # then EOF
        finally:
            os.close(r)
            os.close(w)


def _wait_exit(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # gone (and reaped) already
    try:
        assert select.select([fd], [], [], 30)[0], f"process {pid} did not exit"
    finally:
        os.close(fd)


def test_a_spare_whose_word_the_engine_left_unread_still_answers_the_start_it_was_handed(tmp_path):
    server = ForkServer(tmp_path / "monitors.log")
    try:
        sock = server._ensure()  # noqa: SLF001 - the test plays the engine's side of the spare protocol by hand
        init.send_msg(sock, {"op": "spare_taken", "spare": True})
        announced, fds = init.recv_msg(sock)
        spare_pid = announced["spare"]
        spare = socket.socket(fileno=fds[0])
        assert select.select([spare], [], [], 30)[0], "the spare never said its child was waiting"
        (waiting,) = children(spare_pid)
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with mine:
            init.send_msg(spare, {"op": "run"}, [theirs.fileno()])
            theirs.close()
            spare.close()  # its word (the waiting child and that child's channel) unread
            mine.sendall(b"this is not a launch request\n")
            mine.settimeout(30)
            reply = json.loads(read_reply(mine))  # before the fix: ConnectionResetError, the start unanswered
        assert reply["error"].startswith("monitor: JSONDecodeError")
        _wait_exit(spare_pid)
        _wait_exit(waiting)  # the spare took its unused child along
    finally:
        server.close()
    assert (tmp_path / "monitors.log").read_text() == ""


def test_a_spare_that_cannot_get_ready_answers_a_start_already_handed_to_it_and_says_why_in_the_log(tmp_path):
    server = ForkServer(tmp_path / "monitors.log")
    try:
        sock = server._ensure()  # noqa: SLF001 - as above
        init.send_msg(sock, {"op": "spare_taken", "spare": True})
        announced, fds = init.recv_msg(sock)
        spare = socket.socket(fileno=fds[0])
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with spare, mine:
            spare.send(b"{not json")  # what it waits for cannot be read: it goes
            init.send_msg(spare, {"op": "run"}, [theirs.fileno()])  # but a start was handed to it meanwhile
            theirs.close()
            mine.settimeout(30)
            reply = json.loads(read_reply(mine))
        assert reply == {"error": "monitor: spare monitor could not get ready: JSONDecodeError: Expecting property "
                                  "name enclosed in double quotes: line 1 column 2 (char 1)", "exit_code": 1}
        _wait_exit(announced["spare"])
    finally:
        server.close()
    assert (tmp_path / "monitors.log").read_text().startswith("pycompose: spare monitor could not get ready: ")
