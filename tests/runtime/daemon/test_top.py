"""``docker top``: the host's ps with the client's arguments, rows kept for the container's processes, as Docker's."""
from __future__ import annotations

import pytest

from runtime.daemon.top import parse_ps
from runtime.errors import EngineError


def test_parse_keeps_the_containers_rows_their_threads_and_whole_commands():
    out = ("UID   PID  PPID  LWP  C STIME TTY  TIME     CMD\n"
           "root    1     0    1  0 10:00 ?    00:00:01 /sbin/init\n"
           "root  700     1  700  0 10:01 ?    00:00:00 sleep  1000  with spaces\n"
           "-       -     -  701  0 10:01 ?    00:00:00 -\n"
           "root  800     1  800  0 10:02 ?    00:00:00 other\n"
           "-       -     -  801  0 10:02 ?    00:00:00 -\n")
    table = parse_ps(out, {700})
    assert table["Titles"] == ["UID", "PID", "PPID", "LWP", "C", "STIME", "TTY", "TIME", "CMD"]
    assert table["Processes"] == [
        ["root", "700", "1", "700", "0", "10:01", "?", "00:00:00", "sleep 1000 with spaces"],
        ["-", "-", "-", "701", "0", "10:01", "?", "00:00:00", "-"]]


def test_parse_without_a_pid_column_is_an_error():
    with pytest.raises(EngineError, match="Couldn't find PID field in ps output"):
        parse_ps("USER COMMAND\nroot sh\n", {1})


@pytest.mark.root
def test_top_through_the_cli_as_docker(engine):
    engine.cli("run", "-d", "--name", "topped", "--network", "none", "busybox", "sleep", "1000")
    lines = engine.cli("top", "topped").stdout.splitlines()
    assert lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert len(lines) == 2
    row = lines[1].split()
    assert row[0] == "root" and row[-2:] == ["sleep", "1000"] and ":" in row[4]  # a user name and a start time
    custom = engine.cli("top", "topped", "-o", "pid,comm").stdout.splitlines()
    assert custom[0].split() == ["PID", "COMMAND"] and custom[1].split()[1] == "sleep"
    refused = engine.cli("top", "topped", "-o", "comm", check=False)
    assert refused.returncode != 0 and "Couldn't find PID field in ps output" in refused.stderr
    engine.cli("rm", "-f", "topped")


def test_without_ps_on_the_host_the_ef_columns_come_from_proc(monkeypatch):
    import os
    import pwd

    from runtime.daemon.top import top_table

    monkeypatch.setenv("PATH", "/nonexistent")
    me = {"pid": os.getpid(), "ppid": os.getppid(), "uid": os.getuid(), "cmd": "python -m pytest"}
    table = top_table([me], "-ef")
    assert table["Titles"] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    [row] = table["Processes"]
    assert row[:3] == [pwd.getpwuid(os.getuid()).pw_name, str(os.getpid()), str(os.getppid())]
    assert row[4].count(":") == 1 or len(row[4]) == 5  # HH:MM today, MonDD before
    hours, minutes, seconds = row[6].split("-")[-1].split(":")
    assert (len(hours), len(minutes), len(seconds)) == (2, 2, 2) and row[7] == "python -m pytest"
