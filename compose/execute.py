"""Run a ``Plan``: one ``asyncio.run`` per command, one task per step waiting on the steps it comes after,
docker-py calls in a worker-thread pool, a semaphore capping how many run at once (``COMPOSE_PARALLEL_LIMIT``,
default 32). Steps send events to a sink; nothing here prints.

The first failure stops new steps from starting (the running ones finish) and is raised as a ``UserError``. A
step after an optional dependency (``depends_on.required: false``) that failed goes on with a warning.

Around the container steps run the service's lifecycle hooks (``compose.hooks``): ``pre_stop`` before a stop or
restart, ``post_start`` after a start or restart. A create prints the engine's ``Warnings`` (one line each, per
container, as the docker CLI does). A recreate carries the old container's anonymous volumes over to the new one,
unless ``renew_anon_volumes`` (``up -V``) asks for fresh ones.
"""
from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from compose.containersteps import parallel_limit
from compose.engine import containers as C
from compose.engine.client import engine_socket
from compose.engine.createbody import ContainerSpec, create_body, endpoint_config, ordered_networks
from compose import labels as L
from compose.engine.errors import translated
from compose.engine.images import image_id, pull, remove_image
from compose.engine.networks import create_network, remove_network
from compose.engine.volumes import create_volume, remove_volume
from compose.errors import UserError
from compose.events import Event, Sink, Status, null_sink, step_event
from compose.hooks import run_hooks
from compose.model import Project, Service
from compose.naming import network_name
from compose.plan import Op, Plan, Step
from compose.secretcopy import copy_grants

if TYPE_CHECKING:
    import docker

__all__ = ["Context", "execute", "rehearse", "dry_run", "DRY_RUN", "DRY_RUN_ENV", "run_plan", "wait_healthy",
           "parallel_limit", "create_container",
           "inherit_anonymous_volumes"]


@dataclass
class Context:
    client: "docker.APIClient"
    project: Project
    sink: Sink = null_sink
    working_dir: str = ""
    config_files: tuple[str, ...] = ()
    wait_timeout: float | None = None  # for health/completion waits; None: from the healthcheck's settings
    build: Callable[[str, str], None] | None = None  # (service, image ref) -> builds it
    environment: dict[str, str] = field(default_factory=dict)  # for secrets/configs from ``environment:``
    created: dict[str, str] = field(default_factory=dict)  # container name -> id, filled by CREATE steps
    renew_anon_volumes: bool = False  # ``up -V``: a recreated container gets new anonymous volumes
    replaced: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> inspect of the one removed first
    successors: set[str] = field(default_factory=set)  # names removed and then created again by the plan


def _health_deadline(ctx: Context, service: str | None) -> float:
    if ctx.wait_timeout is not None:
        return time.monotonic() + ctx.wait_timeout
    hc = ctx.project.services[service].healthcheck if service in ctx.project.services else None
    interval = (hc.interval if hc and hc.interval else 30.0)
    timeout = (hc.timeout if hc and hc.timeout else 30.0)
    retries = (hc.retries if hc and hc.retries else 3)
    start = (hc.start_period if hc and hc.start_period else 0.0)
    return time.monotonic() + start + (interval + timeout) * (retries + 1) + 30.0


def wait_healthy(client: "docker.APIClient", name: str, deadline: float, *, healthy_required: bool = True) -> None:
    """Look at the container's state until healthy (or running, without ``healthy_required``); raise a
    ``UserError`` when it turns unhealthy, exits, or the deadline passes. Between looks it waits on the
    engine's events for the container (``compose.engine.waits``), re-looking at least every second."""
    from compose.engine.waits import watching

    while True:
        with watching(client, name, max(0.05, min(1.0, deadline - time.monotonic()))) as changed:
            state, health, code = C.health(client, name)
            if state in ("exited", "dead"):
                raise UserError.single(f"container {name} exited ({code})")
            if health is None and healthy_required and state == "running":
                raise UserError.single(f"container {name} has no healthcheck configured")
            if health == "unhealthy":
                raise UserError.single(f"container {name} is unhealthy")
            if (health == "healthy") or (not healthy_required and health is None and state == "running"):
                return
            if time.monotonic() > deadline:
                raise UserError.single(f"timed out waiting for container {name} to be healthy (state {state}, "
                                       f"health {health})")
            changed()


def _create(ctx: Context, step: Step) -> None:
    project = ctx.project
    service = project.services[step.service or ""]
    spec = ContainerSpec(number=step.number or 1, config_hash=step.args.get("config_hash", ""),
                         working_dir=ctx.working_dir, config_files=ctx.config_files, api_socket=engine_socket())
    body = create_body(project, service, spec)
    found = image_id(ctx.client, body["Image"])
    if found:
        body["Labels"][L.IMAGE] = found  # as Docker Compose: the image ID, so a new build or pull recreates
    if not ctx.renew_anon_volumes:
        if step.args.get("temp_name"):  # a recreate: the old container still has the name
            inherit_anonymous_volumes(body, C.inspect(ctx.client, step.target))
        elif step.target in ctx.replaced:  # a recreate that removed the old one first (joined namespaces)
            inherit_anonymous_volumes(body, ctx.replaced[step.target])
    cid, warnings = create_container(ctx.client, step.args.get("temp_name") or step.target, body,
                                     platform=service.platform)
    _warn(ctx, step.target, warnings)
    ctx.created[step.target] = cid
    _inject_contents(ctx, service, cid)
    if not service.network_mode:
        for key in ordered_networks(service)[1:]:
            endpoint = endpoint_config(service, key, number=spec.number, project=project.name)
            C.connect(ctx.client, cid, network_name(project, key), endpoint)


def create_container(client: "docker.APIClient", name: str, body: dict[str, Any],
                     platform: str | None = None) -> tuple[str, list[str]]:
    """``POST /containers/create``: the new container's ID and the engine's ``Warnings``."""
    with translated(f"create container {name}"):
        result = client.create_container_from_config(body, name=name, platform=platform)
    return str(result["Id"]), [str(w) for w in result.get("Warnings") or () if w]


def _warn(ctx: Context, container: str, warnings: list[str]) -> None:
    """The engine's create warnings: a free line each when the sink can print one (a display), else events."""
    message = getattr(ctx.sink, "message", None)
    for text in warnings:
        if callable(message):
            message(f"WARNING: container {container}: {text}")
        else:
            ctx.sink(Event("Container", container, Status.WARNING, text))


def _anonymous(name: str) -> bool:
    return len(name) == 64 and all(ch in "0123456789abcdef" for ch in name)


def inherit_anonymous_volumes(body: dict[str, Any], old: dict[str, Any]) -> None:
    """Point ``body``'s anonymous volumes at the ones ``old`` (the inspect of the container being replaced) has at
    the same targets, as Docker Compose does on a recreate; an anonymous volume of the old container at a target
    the new body leaves unmounted (an image ``VOLUME``) is carried over too."""
    carried = {m["Destination"].rstrip("/") or "/": m["Name"] for m in old.get("Mounts") or ()
               if m.get("Type") == "volume" and _anonymous(str(m.get("Name") or "")) and m.get("Destination")}
    if not carried:
        return
    host = body.setdefault("HostConfig", {})
    mounts: list[dict[str, Any]] = list(host.get("Mounts") or ())
    taken: set[str] = set()
    for m in mounts:
        target = str(m.get("Target") or "").rstrip("/") or "/"
        taken.add(target)
        if m.get("Type") == "volume" and not m.get("Source") and target in carried:
            m["Source"] = carried[target]
    for bind in host.get("Binds") or ():
        parts = str(bind).split(":")
        taken.add((parts[1] if len(parts) > 1 else parts[0]).rstrip("/") or "/")
    taken |= {str(t).rstrip("/") or "/" for t in host.get("Tmpfs") or {}}
    for target, name in sorted(carried.items()):
        if target not in taken:
            mounts.append({"Type": "volume", "Source": name, "Target": target})
    if mounts:
        host["Mounts"] = mounts


def _inject_contents(ctx: Context, service: Service, cid: str) -> None:
    """Secrets and configs written into the created container with their uid, gid and mode
    (``compose.secretcopy``); file ones without those are bind mounts."""
    copy_grants(ctx.client, ctx.project, service, cid, ctx.environment)


def _build(ctx: Context, step: Step) -> None:
    if ctx.build is None:
        raise UserError.single(f"service {step.service} needs its image {step.target} built, and this command "
                               "cannot build (use `pycompose build` first)")
    ctx.build(step.service or "", step.target)


def _wait_completed(ctx: Context, step: Step) -> None:
    code = C.wait(ctx.client, step.target)
    if code != 0:
        raise UserError.single(f"service {step.service} didn't complete successfully: exit {code}")


def _run_step(ctx: Context, step: Step) -> None:
    client, ref, args = ctx.client, step.container_id or step.target, step.args
    project = ctx.project
    if step.op is Op.CREATE_NETWORK:
        create_network(client, project.name, project.networks[args["key"]])
    elif step.op is Op.CREATE_VOLUME:
        create_volume(client, project.name, project.volumes[args["key"]])
    elif step.op is Op.PULL_IMAGE:
        service = project.services.get(step.service or "")
        pull(client, step.target, platform=service.platform if service else None)
    elif step.op is Op.BUILD_IMAGE:
        _build(ctx, step)
    elif step.op is Op.CREATE_CONTAINER:
        _create(ctx, step)
    elif step.op is Op.RENAME_CONTAINER:
        C.rename(client, ctx.created.get(step.target) or args["from"], step.target)
    elif step.op is Op.START_CONTAINER:
        C.start(client, step.target)  # by name: errors then name the container
        _hooks(ctx, step, "post_start")
    elif step.op is Op.WAIT_HEALTHY:
        wait_healthy(client, step.target, _health_deadline(ctx, step.service))
    elif step.op is Op.WAIT_COMPLETED:
        _wait_completed(ctx, step)
    elif step.op is Op.RESTART_CONTAINER:
        _hooks(ctx, step, "pre_stop")
        C.restart(client, ref, args.get("timeout"))
        _hooks(ctx, step, "post_start")
    elif step.op is Op.STOP_CONTAINER:
        _hooks(ctx, step, "pre_stop")
        C.stop(client, ref, args.get("timeout"))
    elif step.op is Op.REMOVE_CONTAINER:
        if step.target in ctx.successors and not ctx.renew_anon_volumes:  # its anonymous volumes go on
            ctx.replaced[step.target] = C.inspect(client, ref)
        C.remove(client, ref, force=True, volumes=bool(args.get("volumes")))
    elif step.op is Op.REMOVE_NETWORK:
        remove_network(client, step.target)
    elif step.op is Op.REMOVE_VOLUME:
        remove_volume(client, step.target)
    elif step.op is Op.REMOVE_IMAGE:
        remove_image(client, step.target)
    else:  # pragma: no cover - every Op is handled above
        raise AssertionError(f"unhandled operation {step.op}")


def _hooks(ctx: Context, step: Step, kind: str) -> None:
    service = ctx.project.services.get(step.service or "")
    if service is not None and getattr(service, kind):
        run_hooks(ctx.client, step.container_id or step.target, service, kind)


async def run_plan(plan: Plan, ctx: Context, limit: int | None = None) -> None:
    loop = asyncio.get_running_loop()
    limit = limit or parallel_limit()
    gate = asyncio.Semaphore(limit)
    done = {key: loop.create_future() for key in plan.steps}  # result: True ok, False failed or skipped
    errors: list[UserError] = []
    ctx.successors = {s.target for s in plan.steps.values()
                      if s.op is Op.CREATE_CONTAINER and not s.args.get("temp_name")}

    async def one(step: Step) -> None:
        ok = False
        try:
            for dep in sorted(step.after & set(done)):
                if not await asyncio.shield(done[dep]):
                    if dep not in step.optional:
                        return
                    ctx.sink(step_event(step, Status.WARNING, f"{plan.steps[dep].target} failed, not required"))
            if errors:
                return
            async with gate:
                if errors:
                    return
                ctx.sink(step_event(step, Status.WORKING))
                try:
                    await loop.run_in_executor(pool, _run_step, ctx, step)
                except UserError as err:
                    ctx.sink(step_event(step, Status.ERROR, str(err)))
                    errors.append(err)
                    return
                ctx.sink(step_event(step, Status.DONE))
                ok = True
        finally:
            if not done[step.key].done():
                done[step.key].set_result(ok)

    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="engine") as pool:
        await asyncio.gather(*(one(s) for s in plan.order()))
    if errors:
        raise UserError.together(errors)


DRY_RUN = "DRY-RUN MODE - "
DRY_RUN_ENV = "PYCOMPOSE_DRY_RUN"


def rehearse(plan: Plan, sink: Sink) -> None:
    """``--dry-run``: the events ``execute`` would send, in the plan's order, each kind prefixed with
    ``DRY-RUN MODE - `` as Docker Compose shows them; nothing is called on the engine."""
    for step in plan.order():
        for status in (Status.WORKING, Status.DONE):
            event = step_event(step, status)
            sink(Event(f"{DRY_RUN} {event.kind}", event.name, event.status, event.text))


def dry_run() -> bool:
    """``--dry-run`` is on (the CLI sets ``PYCOMPOSE_DRY_RUN=1`` for the command's process)."""
    return os.environ.get(DRY_RUN_ENV) == "1"


def execute(plan: Plan, ctx: Context, limit: int | None = None) -> None:
    """Run ``plan`` to the end (one ``asyncio.run``); raise a ``UserError`` listing the failures. Under
    ``--dry-run`` only show its steps."""
    if dry_run():
        rehearse(plan, ctx.sink)
        return
    if plan:
        asyncio.run(run_plan(plan, ctx, limit))
