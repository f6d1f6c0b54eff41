"""``/containers/{id}/exec`` and ``/exec/{id}/{start,json,resize}``: processes run inside a running container,
attached over the hijacked connection (Docker's multiplexed stream, raw for a tty)."""
from __future__ import annotations

import asyncio
import base64
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime.daemon.bodycheck import EXEC, EXEC_START, check_body
from runtime.daemon.container_io import detach_keys, monitor_resize, pipe_streams
from runtime.daemon.detachkeys import EscapeMatcher
from runtime.daemon.headread import until_read
from runtime.daemon.router import Router
from runtime.daemon.server import Hijack, Reply, Request, Response, json_response
from runtime.stream import STDERR, frame
from runtime.errors import Conflict, EngineError, InvalidArgument, InvalidState, NotFound
from runtime.exec import init_running, not_running
from runtime.spec import ExecSpec

if TYPE_CHECKING:
    from runtime.daemon.app import Engine

__all__ = ["register", "ExecRecord"]


@dataclass
class ExecRecord:
    id: str
    container_id: str
    spec: ExecSpec
    attach_stdin: bool
    attach_stdout: bool
    attach_stderr: bool
    detach_keys: bytes = b""  # as parsed; inspect shows them as Docker's []byte does (base64)
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    process: Any = None
    state_dir: str = ""
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def to_api(self) -> dict[str, Any]:
        return {"CanRemove": False, "ContainerID": self.container_id,
                "DetachKeys": base64.b64encode(self.detach_keys).decode(), "ExitCode": self.exit_code, "ID": self.id,
                "OpenStderr": self.attach_stderr,
                "OpenStdin": self.attach_stdin, "OpenStdout": self.attach_stdout, "Running": self.running,
                "Pid": self.pid, "ProcessConfig": {"arguments": list(self.spec.args[1:]),
                                                   "entrypoint": self.spec.args[0], "privileged": self.spec.privileged,
                                                   "tty": self.spec.tty, "user": self.spec.user}}


def register(router: Router, engine: Engine) -> None:
    sup = engine.supervisor

    async def create(req: Request) -> Response:
        import secrets

        rec = engine.records.find(req.params["id"])
        body = await req.json_object()
        check_body(body, EXEC)
        cmd = body.get("Cmd")
        if isinstance(cmd, str):
            cmd = [cmd]
        if not cmd or not isinstance(cmd, list):
            raise InvalidArgument("No exec command specified")
        live = sup.live(rec["Id"])
        if live.status == "paused":
            raise Conflict(f"Container {rec['Id']} is paused, unpause the container before exec")
        if live.status != "running" or not init_running(sup.svc.inspect(rec["Id"]).state_dir):
            raise not_running(rec["Id"])
        # Go decodes field names case-insensitively and docker-py sends "detachKeys"; an invalid value is a plain
        # error (500) in Docker's exec create, not the 400 of attach
        spec_keys = str(next((v for k, v in body.items() if k.lower() == "detachkeys" and v), ""))
        keys = detach_keys(spec_keys, "Invalid escape keys ({}) provided", EngineError)
        env = body.get("Env") or []
        if not all(isinstance(e, str) and "=" in e for e in env):
            raise InvalidArgument("invalid environment variable in Env: want KEY=VALUE")
        spec = ExecSpec(args=tuple(str(c) for c in cmd), env=tuple(env), user=body.get("User") or "",
                        working_dir=body.get("WorkingDir") or "", tty=bool(body.get("Tty")),
                        open_stdin=bool(body.get("AttachStdin")), privileged=bool(body.get("Privileged")))
        if spec.working_dir and not spec.working_dir.startswith("/"):
            raise InvalidArgument(f"the working directory '{spec.working_dir}' is invalid, it needs to be an "
                                  f"absolute path")
        exec_id = secrets.token_hex(32)
        engine.execs[exec_id] = ExecRecord(exec_id, rec["Id"], spec, bool(body.get("AttachStdin")),
                                           bool(body.get("AttachStdout")), bool(body.get("AttachStderr")),
                                           keys.keys if spec_keys else b"")
        rec.setdefault("ExecIDs", []).append(exec_id)
        engine.records.save(rec)
        engine.publish_container(rec, f"exec_create: {' '.join(spec.args)}", {"execID": exec_id})
        return json_response({"Id": exec_id}, 201)

    def _forget(ex: ExecRecord) -> None:
        """A start that failed takes the exec off its container's ExecIDs (as Docker); its inspect stays."""
        crec = engine.records._by_id.get(ex.container_id)  # noqa: SLF001 - may be removed meanwhile
        if crec is not None and ex.id in (crec.get("ExecIDs") or []):
            crec["ExecIDs"].remove(ex.id)
            engine.records.save(crec)

    def _find(exec_id: str) -> ExecRecord:
        ex = engine.execs.get(exec_id)
        if ex is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return ex

    async def start(req: Request) -> Reply:
        ex = _find(req.params["id"])
        body = await req.json_object()
        check_body(body, EXEC_START)
        if ex.started:
            raise Conflict(f"Error: Exec command {ex.id} is already running" if ex.running else
                           f"Error: Exec command {ex.id} has already run")
        detach = bool(body.get("Detach"))
        size = body.get("ConsoleSize")
        console = (int(size[0]), int(size[1])) if isinstance(size, list) and len(size) == 2 and size[0] else None
        state = sup.svc.inspect(ex.container_id)
        if state.status == "paused":
            raise Conflict(f"Container {ex.container_id} is paused, unpause the container before exec")
        if state.status != "running" or not init_running(state.state_dir):
            raise not_running(ex.container_id)
        ex.started = True
        ex.state_dir = state.state_dir
        rec = engine.records.find(ex.container_id)

        async def launch() -> Any:
            try:
                proc = await asyncio.to_thread(sup.svc.exec, ex.container_id, ex.spec, attach=not detach,
                                               console_size=console)
            except Exception as err:
                gone = not await asyncio.to_thread(init_running, ex.state_dir)
                ex.exit_code, ex.running = 126 if gone else int(getattr(err, "exit_code", 126)), False
                ex.done.set()
                _forget(ex)
                if gone:  # the container stopped between the check and the launch: Docker's 409, whatever broke
                    raise not_running(ex.container_id) from err
                raise
            ex.process, ex.pid, ex.running = proc, proc.pid, True
            engine.publish_container(rec, f"exec_start: {' '.join(ex.spec.args)}", {"execID": ex.id})
            return proc

        if detach:
            await launch()
            asyncio.ensure_future(_reap(ex))
            return Response(200, content_type="application/json")

        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # The process starts at once, but its output (or a failure) goes out only once the client has read the
            # 101 head: a client (docker-py) that reads the head through a buffer would otherwise swallow what came
            # right behind it (runtime/daemon/headread.py). Until then it waits in the monitor's socket.
            launching = asyncio.ensure_future(launch())
            await until_read(writer)
            try:
                proc = await launching
            except EngineError as err:  # as Docker: the failure goes into the stream, the code into inspect
                text = f"exec failed: {err}\r\n".encode()
                writer.write(text if ex.spec.tty else frame(STDERR, text))
                await writer.drain()
                return
            conn = proc.conn
            if proc._early:
                writer.write(proc._early)
                await writer.drain()
            conn.setblocking(False)
            streams = await asyncio.open_unix_connection(sock=conn, limit=1 << 20)
            proc.conn = None
            detached = False
            try:  # a tty's input is watched for the detach keys (runtime/daemon/detachkeys.py), as Docker does
                escape = EscapeMatcher(ex.detach_keys) if ex.spec.tty else None
                detached = await pipe_streams((reader, writer), streams, ex.attach_stdin, escape)
            finally:
                if detached:  # the exec runs on; the connection ends now
                    engine.publish_container(rec, "exec_detach", {"execID": ex.id})
                    asyncio.ensure_future(_reap(ex))
                else:
                    await _reap(ex)

        return Hijack(run, "application/vnd.docker.raw-stream" if ex.spec.tty else
                      "application/vnd.docker.multiplexed-stream")

    async def _reap(ex: ExecRecord) -> None:
        proc = ex.process
        with contextlib.suppress(InvalidState):
            ex.exit_code = await asyncio.to_thread(proc.wait)
        ex.running = False
        ex.done.set()
        rec = engine.records._by_id.get(ex.container_id)  # noqa: SLF001 - may be removed meanwhile
        if rec is not None:
            engine.publish_container(rec, "exec_die", {"execID": ex.id, "exitCode": str(ex.exit_code)})

    async def inspect(req: Request) -> Response:
        return json_response(_find(req.params["id"]).to_api())

    async def resize(req: Request) -> Response:
        ex = _find(req.params["id"])
        if not ex.running:
            raise Conflict(f"Exec {ex.id} is not running")
        await monitor_resize(ex.state_dir, req.int_arg("h", 0) or 0, req.int_arg("w", 0) or 0,
                             sock_name=f"execs/{ex.process.id}.sock")
        return Response(200, content_type="text/plain")

    router.add("POST", "/containers/{id}/exec", create)
    router.add("POST", "/exec/{id}/start", start)
    router.add("GET", "/exec/{id}/json", inspect)
    router.add("POST", "/exec/{id}/resize", resize)
