"""The daemon's side of every container: create from an Engine API body, start/stop/kill/pause/remove through
the container service, watch each running container's monitor for its exit, then report (events, waiters),
restart by policy with back-off, auto-remove, run health checks; and re-adopt everything after a daemon restart.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.daemon.container_create import ContainerCreator
from runtime.daemon.container_view import ZERO_TIME, Live
from runtime.daemon.container_volumes import check_subpaths
from runtime.daemon.logs import parse_log_time
from runtime.daemon.records import now_rfc3339
from runtime.daemon.top import top_table
from runtime.daemon.unixconn import connect_unix, wait_pid
from runtime.errors import Conflict, EngineError, InvalidArgument, InvalidState, NotFound
from runtime import trace
from runtime.daemon.health_runner import HealthRunner
from runtime.health import HealthConfig
from runtime.restart import RestartPolicy, RestartTracker

if TYPE_CHECKING:
    from runtime.daemon.app import Engine

__all__ = ["Supervisor"]

_log = logging.getLogger(__name__)
_RUNNING = ("running", "paused")
_UPDATABLE = {"Memory", "MemoryReservation", "MemorySwap", "NanoCpus", "CpuQuota", "CpuPeriod", "CpuShares",
               "CpusetCpus", "CpusetMems", "PidsLimit", "BlkioWeight"}


def _seconds(stamp: str) -> float:
    try:
        return parse_log_time(stamp) / 1e9 if stamp and not stamp.startswith("0001") else 0.0
    except ValueError:
        return 0.0


class Supervisor:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.svc = engine.containers
        self.records = engine.records
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self.health = HealthRunner(engine)
        self._restarts: dict[str, asyncio.TimerHandle] = {}
        self._exit_waiters: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        self._remove_waiters: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        self._pending_attach: dict[str, list[tuple[dict[str, bool], asyncio.Future[Any]]]] = {}
        self._stopping: set[str] = set()
        self._trackers: dict[str, RestartTracker] = {}
        self._creator = ContainerCreator(engine)

    # --- views ---------------------------------------------------------------------------------------------------
    def live(self, cid: str) -> Live:
        try:
            st = self.svc.inspect(cid)
        except NotFound:
            return Live(status="removing")
        status = st.status
        if status == "exited" and cid in self._restarts:
            status = "restarting"
        rec = self._rec_or_none(cid)
        ports = (rec or {}).get("PortsPublished", []) if status in _RUNNING else []
        return Live(status=status, pid=st.pid, exit_code=st.exit_code, error=st.error, oom_killed=st.oom_killed,
                    started_at=st.started_at or ZERO_TIME, finished_at=st.finished_at or ZERO_TIME, ports=ports)

    def _rec_or_none(self, cid: str) -> dict[str, Any] | None:
        try:
            return self.records.find(cid)
        except (NotFound, InvalidArgument):
            return None

    def states(self) -> list[str]:
        return [self.live(r["Id"]).status for r in self.records.all()]

    # --- create --------------------------------------------------------------------------------------------------
    async def create(self, body: dict[str, Any], name: str | None, platform: str | None = None) -> dict[str, Any]:
        return await self._creator.create(body, name, platform)

    # --- start / stop --------------------------------------------------------------------------------------------
    async def start(self, cid: str, by_user: bool = True) -> None:
        rec = self.records.find(cid)
        handle = self._restarts.pop(cid, None)
        if handle is not None:
            handle.cancel()
        if by_user:
            rec["ManuallyStopped"] = False
            tracker = self._tracker(rec)
            tracker.started_by_user()
        pending = self._pending_attach.pop(cid, [])
        attach = pending[0][0] if pending else None
        trace.mark("daemon.start", cid)
        size = (rec.get("HostConfig") or {}).get("ConsoleSize") or [0, 0]
        console = (int(size[0]), int(size[1])) if len(size) == 2 and size[0] and size[1] else None
        network, before_run = self._connect_network(rec)

        def launch() -> Any:  # one hop to a worker thread for both
            check_subpaths(self.engine.volumes, rec)
            return self.svc.start(cid, attach=attach, console_size=console, before_run=before_run, defer_spare=True)

        loop = asyncio.get_running_loop()
        try:
            conn = await asyncio.to_thread(launch)
        except BaseException as err:
            loop.call_soon(self.svc.replenish_spare)
            if network is not None:  # the start failed before it waited for the network: let that finish first
                with contextlib.suppress(Exception):
                    await asyncio.shield(network)
            if not isinstance(err, EngineError):
                raise
            for _flags, fut in pending:
                if not fut.done():
                    fut.set_result(None)
            if self.engine.networks is not None:
                await self.engine.networks.after_stop(rec)
            code = int(getattr(err, "exit_code", 128))
            rec["LastExitCode"] = code
            self.records.save(rec)
            self.engine.publish_container(rec, "die", {"exitCode": str(code)})
            result = _wait_result(code, str(err) or type(err).__name__)
            for fut in self._exit_waiters.pop(cid, []):
                if not fut.done():
                    fut.set_result(result)
            if rec.get("AutoRemove"):
                await self._destroy(rec, volumes=True)
            raise
        trace.mark("daemon.resumed", cid)  # back on the loop
        # the next spare's fork and warm-up after this reply went out (the handler returns, the reply is written,
        # then the loop runs this), not beside the thread hop and the reply
        loop.call_soon(self.svc.replenish_spare)
        for i, (_flags, fut) in enumerate(pending):
            if not fut.done():
                fut.set_result(conn if i == 0 else None)
        if rec.get("Health") is not None:
            rec["Health"] = {"Status": "starting", "FailingStreak": 0, "Log": (rec.get("Health") or {}).get("Log", [])}
        rec["LastStatus"] = "running"
        self.records.save_soon(rec)  # on disk right after the reply: the service's state.json says it runs already
        self.engine.publish_container(rec, "start")
        self._watch(cid, started=True)
        self._start_health(rec)
        trace.mark("daemon.started", cid)

    def _connect_network(self, rec: dict[str, Any]) -> tuple[asyncio.Future[None] | None, Callable[[], None] | None]:
        """Connect the network (on the loop) from the start's first moment, while the monitor spawns the init; and
        for the service's ``before_run``, a wait for it (re-raising its error: the start is called off)."""
        networks = self.engine.networks
        if networks is None:
            return None, None
        cid = rec["Id"]

        async def connect() -> None:
            await networks.before_start(rec)
            trace.mark("daemon.network_ready", cid)

        task = asyncio.ensure_future(connect())
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def relay(t: asyncio.Future[None]) -> None:
            if t.cancelled():
                done.cancel()
            elif t.exception() is not None:
                done.set_exception(t.exception())  # type: ignore[arg-type]
            else:
                done.set_result(None)

        task.add_done_callback(relay)
        return task, done.result

    async def stop(self, cid: str, timeout: int | None, signal: str | None) -> None:
        rec = self.records.find(cid)
        rec["ManuallyStopped"] = True
        self._tracker(rec).stopped_by_user()
        self.records.save(rec)
        handle = self._restarts.pop(cid, None)
        if handle is not None:
            handle.cancel()
        self._stopping.add(cid)
        try:
            if self.live(cid).status in _RUNNING:
                self.engine.publish_container(rec, "kill", {"signal": str(signal or "15")})
                await asyncio.to_thread(self.svc.stop, cid, timeout, signal)
            await self._exited(cid)
        finally:
            self._stopping.discard(cid)
        self.engine.publish_container(rec, "stop")

    async def _exited(self, cid: str) -> None:
        """Wait until the exit watcher has handled the exit (so the events are in order)."""
        task = self._watchers.get(cid)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)

    async def kill(self, cid: str, sig: int) -> None:
        rec = self.records.find(cid)
        if self.live(cid).status not in _RUNNING:
            raise InvalidState(f"Cannot kill container: {cid}: Container {cid} is not running")
        await asyncio.to_thread(self.svc.kill, cid, sig)
        self.engine.publish_container(rec, "kill", {"signal": str(sig)})

    async def pause(self, cid: str, on: bool) -> None:
        rec = self.records.find(cid)
        await asyncio.to_thread(self.svc.pause if on else self.svc.unpause, cid)
        self.engine.publish_container(rec, "pause" if on else "unpause")

    async def remove(self, cid: str, force: bool, volumes: bool) -> None:
        rec = self.records.find(cid)
        if self.live(cid).status in _RUNNING:
            if not force:
                raise Conflict(f"cannot remove container \"{rec['Name']}\": container is running: stop the "
                               f"container before removing or force remove")
            rec["ManuallyStopped"] = True
            self.records.save(rec)
            with contextlib.suppress(InvalidState):  # it exited meanwhile: removing it is what was asked
                await asyncio.to_thread(self.svc.kill, cid, 9)
            await self._exited(cid)
            if self._rec_or_none(cid) is None:
                return  # auto-removed on its exit
        handle = self._restarts.pop(cid, None)
        if handle is not None:
            handle.cancel()
        await self._destroy(rec, volumes)

    async def _destroy(self, rec: dict[str, Any], volumes: bool) -> None:
        cid = rec["Id"]
        self._stop_health(cid)
        if self.engine.networks is not None:
            await self.engine.networks.on_remove(rec)
        try:
            await asyncio.to_thread(self.svc.remove, cid, True)
        except NotFound:
            pass
        for name in rec.get("VolumeNames", []):
            await asyncio.to_thread(self.engine.volumes.release, name, cid)
            if volumes:
                with contextlib.suppress(NotFound, Conflict):
                    vol = self.engine.volumes.get(name)
                    if vol.anonymous:
                        await asyncio.to_thread(self.engine.volumes.remove, name)
        for ex in rec.get("ExecIDs", []):
            self.engine.execs.pop(ex, None)
        self.records.delete(cid)
        self._trackers.pop(cid, None)
        self._watchers.pop(cid, None)
        self.engine.publish_container(rec, "destroy")
        for fut in self._remove_waiters.pop(cid, []):
            if not fut.done():
                fut.set_result(_wait_result(self._last_code(cid, rec), ""))
        for fut in self._exit_waiters.pop(cid, []):
            if not fut.done():
                fut.set_result(_wait_result(self._last_code(cid, rec), ""))

    def _last_code(self, cid: str, rec: dict[str, Any]) -> int:
        return int(rec.get("LastExitCode", 0))

    async def update(self, cid: str, body: dict[str, Any]) -> list[str]:
        rec = self.records.find(cid)
        if "RestartPolicy" in body and body["RestartPolicy"]:
            policy = RestartPolicy.parse(body["RestartPolicy"])
            if policy.name != "no" and rec.get("AutoRemove"):
                raise InvalidArgument("Restart policy cannot be updated because AutoRemove is enabled for the "
                                      "container")
            rec["Restart"] = policy.to_api()
            rec["HostConfig"]["RestartPolicy"] = policy.to_api()
            self._trackers_reset(cid)
        resources = {k: v for k, v in body.items() if k != "RestartPolicy" and v not in (None, 0, "", [])}
        warnings: list[str] = []
        if resources:
            from runtime.daemon.specconv import host_resources

            unknown = sorted(set(resources) - _UPDATABLE)
            if unknown:
                raise InvalidArgument(f"update: unsupported fields: {', '.join(unknown)}")
            # kept in the container's spec (the next start applies them) and applied now if it runs
            warnings = list(await asyncio.to_thread(self.svc.update_resources, cid,
                                                    host_resources({**rec["HostConfig"], **resources})))
            rec["HostConfig"].update(resources)
        self.records.save(rec)
        self.engine.publish_container(rec, "update")
        return warnings

    # --- waiting -------------------------------------------------------------------------------------------------
    def waiter(self, cid: str, condition: str) -> Awaitable[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.records.find(cid)  # NotFound for an unknown container
        live = self.live(cid)
        status = live.status
        if condition == "removed":
            self._remove_waiters.setdefault(cid, []).append(fut)
        elif condition == "not-running" and status not in _RUNNING and status != "restarting":
            # as Docker's State.Wait: an exited container's code and its error (e.g. an execve that failed)
            fut.set_result(_wait_result(live.exit_code, live.error) if status == "exited" else _wait_result(0, ""))
        else:
            self._exit_waiters.setdefault(cid, []).append(fut)
        return fut

    # --- exits ---------------------------------------------------------------------------------------------------
    def _watch(self, cid: str, started: bool = False) -> None:
        old = self._watchers.get(cid)
        if old is not None and not old.done():
            return
        self._watchers[cid] = asyncio.ensure_future(self._watch_exit(cid, started))

    async def _watch_exit(self, cid: str, started: bool = False) -> None:
        """Wait for the container's exit, then handle it. ``started``: we just started it, so no inspect (whose
        look at the monitor in /proc would wait, blocking the loop, until the monitor's exec of its helper is done)."""
        if started:
            state_dir, running = str(self.svc.dir / cid), True
        else:
            try:
                st = self.svc.inspect(cid)
            except NotFound:
                return
            state_dir, running = st.state_dir, st.status in _RUNNING
        path = os.path.join(state_dir, "monitor.sock")
        if running:
            conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None
            try:
                conn = await connect_unix(path)
            except OSError:
                conn = None  # the monitor already finished
            if conn is not None:
                reader, writer = conn
                try:
                    writer.write(b'{"op":"wait"}\n')
                    await writer.drain()
                    await reader.readline()
                except (OSError, asyncio.IncompleteReadError):
                    pass
                finally:
                    writer.close()
            else:  # no monitor socket to ask: wait on the process, then on its monitor (it writes the record)
                from runtime.procs import alive
                from runtime.state import read_record

                record = read_record(Path(state_dir) / "state.json", {}) or {}
                if record.get("pid") and alive(int(record["pid"]), record.get("pid_start", -2)):
                    await wait_pid(int(record["pid"]))
                if record.get("monitor_pid"):
                    await wait_pid(int(record["monitor_pid"]))
            # the monitor writes the exit record before answering; a crashed monitor leaves "exited" (255)
        try:
            await self._on_exit(cid)
        except Exception:  # noqa: BLE001 - keep supervising the others
            _log.exception("handling the exit of %s failed", cid[:12])

    async def _on_exit(self, cid: str) -> None:
        rec = self._rec_or_none(cid)
        if rec is None:
            return
        try:
            st = await asyncio.to_thread(self.svc.inspect, cid)
        except NotFound:
            return
        if st.status in _RUNNING:
            self._watchers.pop(cid, None)
            self._watch(cid)  # woken for another reason; keep watching
            return
        self._stop_health(cid)
        if rec.get("LastStatus") != "running":
            return
        rec["LastStatus"] = "exited"
        rec["LastExitCode"] = st.exit_code
        self.records.save(rec)
        if self.engine.networks is not None:
            await self.engine.networks.after_stop(rec)
            self.records.save(rec)
        if st.oom_killed:
            self.engine.publish_container(rec, "oom")
        self.engine.publish_container(rec, "die", {"exitCode": str(st.exit_code)})
        result = _wait_result(st.exit_code, st.error)
        for fut in self._exit_waiters.pop(cid, []):
            if not fut.done():
                fut.set_result(result)
        if rec.get("AutoRemove"):
            await self._destroy(rec, volumes=True)
            return
        tracker = self._tracker(rec)
        run = max(0.0, _seconds(st.finished_at) - _seconds(st.started_at))
        delay = tracker.decide(st.exit_code, run)
        rec["RestartCount"] = tracker.restart_count
        rec["ManuallyStopped"] = tracker.manually_stopped
        self.records.save(rec)
        if delay is not None:
            loop = asyncio.get_running_loop()
            self._restarts[cid] = loop.call_later(delay, lambda: asyncio.ensure_future(self._policy_restart(cid)))

    async def _policy_restart(self, cid: str) -> None:
        if self._restarts.pop(cid, None) is None:
            return
        try:
            await self.start(cid, by_user=False)
        except EngineError as err:
            _log.warning("restart of %s failed: %s", cid[:12], err)
            rec = self._rec_or_none(cid)
            if rec is not None:
                rec["LastStatus"] = "running"  # treat as an immediate exit so the policy's back-off applies
                self.records.save(rec)
                await self._on_exit(cid)

    def _tracker(self, rec: dict[str, Any]) -> RestartTracker:
        t = self._trackers.get(rec["Id"])
        if t is None:
            t = RestartTracker(RestartPolicy.parse(rec.get("Restart")), int(rec.get("RestartCount", 0)),
                               bool(rec.get("ManuallyStopped")))
            self._trackers[rec["Id"]] = t
        return t

    def _trackers_reset(self, cid: str) -> None:
        self._trackers.pop(cid, None)

    # --- health --------------------------------------------------------------------------------------------------
    def _start_health(self, rec: dict[str, Any], resume: bool = False) -> None:
        if HealthConfig.from_api(rec.get("Healthcheck")) is None:
            return  # (no inspect for the start time)
        started = _seconds(self.live(rec["Id"]).started_at) or time.time()
        self.health.start(rec, started, resume)

    def _stop_health(self, cid: str) -> None:
        self.health.stop(cid)

    # --- attach --------------------------------------------------------------------------------------------------
    def attach_at_start(self, cid: str, flags: dict[str, bool]) -> asyncio.Future[Any]:
        """For an attach to a container that is not running yet: resolved with the stream at its start."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending_attach.setdefault(cid, []).append((flags, fut))
        return fut

    # --- processes -----------------------------------------------------------------------------------------------
    async def top(self, cid: str, ps_args: str) -> dict[str, Any]:
        procs = await asyncio.to_thread(self.svc.top, cid)
        return await asyncio.to_thread(top_table, procs, ps_args)

    async def stats(self, cid: str, previous: dict[str, Any] | None) -> dict[str, Any]:
        rec = self.records.find(cid)
        base: dict[str, Any] = {"read": now_rfc3339(), "preread": (previous or {}).get("read", ZERO_TIME),
                                "id": cid, "name": rec["Name"], "num_procs": 0,
                                "precpu_stats": (previous or {}).get("cpu_stats", {}), "networks": {}}
        if self.live(cid).status in _RUNNING:
            mgr = await asyncio.to_thread(self.svc.cgroup, cid)
            base.update(await asyncio.to_thread(mgr.stats))
        else:
            base.update({"cpu_stats": {}, "memory_stats": {}, "pids_stats": {}, "blkio_stats": {}})
        return base

    # --- adoption ------------------------------------------------------------------------------------------------
    async def adopt(self) -> None:
        """After a (re)start of the daemon: watch running containers, report those that ended meanwhile, start
        the ones their policy restarts on engine start."""
        for rec in self.records.all():
            cid = rec["Id"]
            try:
                st = self.svc.inspect(cid)
            except NotFound:
                self.records.delete(cid)
                continue
            if st.status in _RUNNING:
                if rec.get("LastStatus") != "running":  # killed between a start's reply and its record write
                    rec["LastStatus"], rec["ManuallyStopped"] = "running", False
                    if self.engine.networks is not None:
                        self.engine.networks.refresh(rec)  # the network view that record also missed
                    self.records.save(rec)
                self._watch(cid)
                self._start_health(rec, resume=True)
                if self.engine.networks is not None:
                    await self.engine.networks.adopt(rec)
            elif rec.get("LastStatus") == "running":
                await self._on_exit(cid)
            elif st.status == "exited" and self._tracker(rec).on_engine_start() and rec.get("LastStatus") == "exited":
                with contextlib.suppress(EngineError):
                    await self.start(cid, by_user=False)

    async def close(self) -> None:
        for handle in self._restarts.values():
            handle.cancel()
        tasks = list(self._watchers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.health.close()


def _wait_result(code: int, error: str) -> dict[str, Any]:
    """A ``wait`` answer, as Docker's: the exit code and, when there was one, the error (``Error`` null without)."""
    return {"StatusCode": code, "Error": {"Message": error} if error else None}
