"""Starting, finding and stopping the per-container port proxies; their records live under ``<root>/ports``.

A record names the proxy by pid and kernel start time, so a recycled pid is never signalled by mistake.
Stopping waits on a pidfd for the exit, with a deadline, then falls back to SIGKILL.

A Python interpreter takes 30-60 ms to boot on a busy host, and ``publish`` waits for the proxy to say it
serves. So one spare proxy is kept booted (``proxy.py --spare``, started by :meth:`Publisher.prepare` and again
after each publish): a publish hands it the config, the log file and the sockets over a socketpair and it is
serving within a millisecond. Without a spare (the first publish, or the spare died) the proxy is started as
before. :meth:`Publisher.close` ends the spare; so does the publisher's process going away.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runtime.errors import Conflict, EngineError
from runtime.network.ports import BoundPort, PortBinding, PortTargets, bind_ports, close_sockets
from runtime.network.store import atomic_write_json, read_json

__all__ = ["Publisher", "process_start_time"]

_STOP_TIMEOUT = 5.0
_READY_TIMEOUT = 10.0
_PROXY = Path(__file__).resolve().with_name("proxy.py")


def process_start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat`` (start time in clock ticks), or ``None`` when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


class Publisher:
    """Published ports per container, each container's served by one proxy process."""

    def __init__(self, state_dir: Path, log_dir: Path) -> None:
        self.dir = state_dir
        self.log_dir = log_dir
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._spare: tuple[subprocess.Popen[bytes], socket.socket] | None = None

    # -- the spare proxy -------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Have a spare proxy booting, so the next publish need not wait for an interpreter."""
        with self._lock:
            self._start_spare()

    def _start_spare(self) -> None:
        if self._spare is not None and self._spare[0].poll() is None:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = subprocess.Popen([sys.executable, "-I", "-S", str(_PROXY), "--spare"], stdin=theirs.fileno(),
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
                                    cwd="/")
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._spare = (proc, ours)

    def _hand_to_spare(self, config: str, fds: list[int]) -> subprocess.Popen[bytes] | None:
        """Give the spare its work; None when there is no live spare to take it."""
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        proc, control = spare
        with control:
            try:
                socket.send_fds(control, [config.encode()], fds)
            except OSError:  # it died: reap it, the caller starts a proxy the slow way
                proc.kill()
                proc.wait()
                if proc.stdout is not None:
                    proc.stdout.close()
                return None
        return proc

    def close(self) -> None:
        """End the spare proxy (it reads end of file and exits)."""
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            proc, control = spare
            control.close()
            try:
                proc.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()

    def _record_path(self, container_id: str) -> Path:
        return self.dir / f"{container_id}.json"

    def record(self, container_id: str) -> dict[str, Any] | None:
        rec: dict[str, Any] | None = read_json(self._record_path(container_id))
        return rec

    def published(self, container_id: str) -> list[BoundPort]:
        rec = self.record(container_id)
        return [BoundPort.from_dict(p) for p in rec["ports"]] if rec else []

    def alive(self, container_id: str) -> bool:
        rec = self.record(container_id)
        return rec is not None and process_start_time(rec["pid"]) == rec["start_time"]

    def targets(self, container_id: str) -> PortTargets | None:
        """The container addresses its proxy forwards to (``None`` when nothing is published)."""
        rec = self.record(container_id)
        if rec is None:
            return None
        if "targets" in rec:
            return PortTargets(rec["targets"].get("ipv4", ""), rec["targets"].get("ipv6", ""))
        return PortTargets.of(rec["target"])  # a record written before IPv6 targets

    def publish(self, container_id: str, wishes: Iterable[PortBinding], targets: PortTargets | str
                ) -> list[BoundPort]:
        """Bind every wished port (all or nothing), then start the proxy forwarding them to ``targets``: each
        host socket to the container's address of its family, else to the other one (one address given as a
        string serves every socket)."""
        if isinstance(targets, str):
            targets = PortTargets.of(targets)
        with self._lock:
            if self.record(container_id) is not None:
                raise Conflict(f"container {container_id[:12]} already has published ports")
            bound = bind_ports(wishes)
            if not bound:
                return []
            try:
                entries, fds = [], []
                for port, sock in bound:
                    fds.append(sock.fileno())
                    entries.append({"fd": sock.fileno(), "proto": port.protocol,
                                    "target": [targets.for_host(port.host_ip), port.container_port]})
                self.log_dir.mkdir(parents=True, exist_ok=True)
                with open(self.log_dir / f"{container_id}.proxy.log", "ab") as log:
                    by_index = json.dumps([{**e, "fd": i} for i, e in enumerate(entries)])
                    proc = self._hand_to_spare(by_index, [log.fileno(), *fds]) or subprocess.Popen(
                        # -I -S: no site, no user paths; the proxy imports only the standard library.
                        [sys.executable, "-I", "-S", str(_PROXY), json.dumps(entries)],
                        pass_fds=fds, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                        start_new_session=True, cwd="/",
                    )
            finally:
                close_sockets(s for _, s in bound)
            self._children[proc.pid] = proc
            start = process_start_time(proc.pid)
            if not self._wait_ready(proc):
                self._stop(proc.pid, start)
                raise EngineError(f"port proxy for container {container_id[:12]} did not start: "
                                  f"{self._log_tail(container_id)}")
            self._start_spare()  # boots while the caller goes on
            ports = [p for p, _ in bound]
            self.dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self._record_path(container_id), {
                "pid": proc.pid, "start_time": start, "target": targets.ipv4 or targets.ipv6,
                "targets": {"ipv4": targets.ipv4, "ipv6": targets.ipv6},
                "ports": [p.to_dict() for p in ports],
            })
            return ports

    @staticmethod
    def _wait_ready(proc: subprocess.Popen[bytes]) -> bool:
        assert proc.stdout is not None
        try:
            if not select.select([proc.stdout], [], [], _READY_TIMEOUT)[0]:
                return False
            return proc.stdout.readline() == b"ready\n"
        finally:
            proc.stdout.close()

    def _log_tail(self, container_id: str) -> str:
        try:
            text = (self.log_dir / f"{container_id}.proxy.log").read_text(errors="replace").strip()
        except OSError:
            return "no log"
        return text.splitlines()[-1] if text else "no output"

    def unpublish(self, container_id: str) -> bool:
        """Stop the container's proxy (its ports close with it). False when nothing was published."""
        with self._lock:
            rec = self.record(container_id)
            if rec is None:
                return False
            self._stop(int(rec["pid"]), rec.get("start_time"))
            self._record_path(container_id).unlink(missing_ok=True)
            (self.log_dir / f"{container_id}.proxy.log").unlink(missing_ok=True)
            return True

    def containers(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.stem for p in self.dir.glob("*.json"))

    def restore(self) -> list[str]:
        """Forget records whose proxy is gone (e.g. after a reboot); returns the containers forgotten."""
        gone = []
        for cid in self.containers():
            if not self.alive(cid):
                self._record_path(cid).unlink(missing_ok=True)
                gone.append(cid)
        return gone

    def _stop(self, pid: int, start_time: int | None) -> None:
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._reap(pid)
            return
        try:
            if process_start_time(pid) != start_time:
                return  # the pid now names another process
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    signal.pidfd_send_signal(pidfd, sig)
                except ProcessLookupError:
                    break
                if select.select([pidfd], [], [], _STOP_TIMEOUT)[0]:
                    break
        finally:
            os.close(pidfd)
            self._reap(pid)

    def _reap(self, pid: int) -> None:
        proc = self._children.pop(pid, None)
        if proc is not None:
            proc.wait()
