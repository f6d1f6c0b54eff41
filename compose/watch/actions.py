"""What a batch of changes does to a service: ``sync`` (copy/delete), ``sync+restart`` (then restart its
containers), ``sync+exec`` (then run ``exec.command`` in each), ``restart``, and ``rebuild`` (build the image and
recreate the service's containers through the same plan and executor as ``up``). ``watch_loop`` turns the
watcher's batches into these actions; it ends when the watcher is stopped."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, TextIO

from compose.errors import UserError
from compose.watch.rules import Action, WatchRule
from compose.watch.sync import SyncSet, apply_sync, collect, exec_in

if TYPE_CHECKING:
    from compose.watch.watcher import Watcher

__all__ = ["ServiceWork", "plan_batch", "running_containers", "restart_service", "exec_after_sync",
           "rebuild_service", "initial_sync", "watch_loop"]


@dataclass
class ServiceWork:
    """One service's share of a batch, in rule order: the syncs (and restart/exec after them) or a rebuild."""
    service: str
    rebuild: bool = False
    restart: bool = False
    syncs: list[tuple[WatchRule, SyncSet]] = field(default_factory=list)
    execs: list[WatchRule] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(len(s) for _r, s in self.syncs)


def plan_batch(rules: list[WatchRule], paths: Iterable[Path]) -> list[ServiceWork]:
    """Per service (in rule order): a rebuild when any rebuild rule takes a path (it makes syncs moot), else the
    sync sets and whether a restart or execs follow. Pure apart from ``stat`` of the changed paths."""
    paths = list(paths)
    work: dict[str, ServiceWork] = {}
    for rule in rules:
        hit = [p for p in paths if rule.takes(p)]
        if not hit:
            continue
        item = work.setdefault(rule.service, ServiceWork(rule.service))
        if rule.action is Action.REBUILD:
            item.rebuild = True
        elif rule.action is Action.RESTART:
            item.restart = True
        else:
            todo = collect(rule, hit)
            if not todo:
                continue
            item.syncs.append((rule, todo))
            if rule.action is Action.SYNC_RESTART:
                item.restart = True
            elif rule.action is Action.SYNC_EXEC:
                item.execs.append(rule)
    return [w for w in work.values() if w.rebuild or w.restart or w.syncs]


def running_containers(session: Any, service: str) -> list[str]:
    return [c.id for c in session.containers([service]) if c.state == "running"]


def restart_service(session: Any, service: str) -> None:
    from compose.engine import containers as C
    from compose.engine.errors import translated

    timeout = getattr(session.project.services[service], "stop_grace_period", None)
    for c in session.containers([service]):
        with translated(f"restart {c.name}"):
            C.restart(session.client, c.id, int(timeout) if timeout is not None else None)


def exec_after_sync(session: Any, rule: WatchRule, out: TextIO) -> None:
    spec = rule.exec
    if spec is None:
        return
    for container in running_containers(session, rule.service):
        code, output = exec_in(session.client, container, list(spec.command), user=spec.user,
                               workdir=spec.working_dir, environment=spec.environment, privileged=spec.privileged)
        if output:
            out.write(output.decode(errors="replace"))
        if code != 0:
            raise UserError.single(f"watch: exec {' '.join(spec.command)} in service {rule.service} exited "
                                   f"with code {code}")


def rebuild_service(session: Any, service: str, builder: Callable[[str, str], None], *, prune: bool = False,
                    fresh_display: Callable[[], Any] | None = None) -> None:
    """Build the service's image and recreate its containers (``up --build --no-deps --force-recreate SERVICE``
    through ``plan_up`` and the executor); with ``prune``, the image it replaced is removed when unused."""
    from compose.engine.images import image_id, remove_image
    from compose.engine.createbody import service_image
    from compose.observe import observe
    from compose.plan import UpOptions, plan_up

    ref = service_image(session.project, session.project.services[service])
    before = image_id(session.client, ref)
    if fresh_display is not None:
        session.display = fresh_display()
    opts = UpOptions(services=[service], no_deps=True, force_recreate=True, build=True,
                     known_services=session.known_services())
    observed = observe(session.client, session.project, services=[service])
    session.run(plan_up(session.project, observed, opts), build=builder)
    after = image_id(session.client, ref)
    if prune and before and after and before != after:
        try:
            remove_image(session.client, before)
        except UserError:
            pass  # still used by another container: left, as Docker Compose leaves it


def _apply(session: Any, work: ServiceWork, out: TextIO, quiet: bool, owners: dict[str, tuple[int, int]]) -> None:
    containers = running_containers(session, work.service)
    if work.syncs and not containers:
        out.write(f"service \"{work.service}\" has no running container: {work.changes} changes not synced\n")
    for _rule, todo in work.syncs:
        apply_sync(session.client, containers, todo, owners)
    if not quiet and work.syncs:
        out.write(f"Syncing service \"{work.service}\" after {work.changes} changes were detected\n")
    if work.restart:
        if not quiet:
            out.write(f"Restarting service \"{work.service}\" after changes were detected\n")
        restart_service(session, work.service)
    for rule in work.execs:
        exec_after_sync(session, rule, out)
    out.flush()


def initial_sync(session: Any, rules: list[WatchRule], out: TextIO = sys.stdout, quiet: bool = False) -> None:
    """``initial_sync: true``: copy the whole watched path of those sync rules before the first event."""
    for rule in rules:
        if not (rule.initial_sync and rule.action.syncs) or not rule.path.exists():
            continue
        todo = collect(rule, [rule.path])
        if todo:
            apply_sync(session.client, running_containers(session, rule.service), todo)
            if not quiet:
                out.write(f"Initial sync of service \"{rule.service}\": {len(todo)} files\n")
    out.flush()


def watch_loop(session: Any, rules: list[WatchRule], watcher: "Watcher", builder: Callable[[str, str], None], *,
               prune: bool = False, quiet: bool = False, out: TextIO = sys.stdout,
               fresh_display: Callable[[], Any] | None = None,
               on_rebuild: Callable[[str, bool], None] | None = None) -> None:
    """Act on every batch until the watcher stops. A failed action is reported and watching goes on, as Docker
    Compose does (the next change gets another try). ``on_rebuild(service, done)`` is told before and after
    each rebuild (``up --watch`` follows the recreated containers' logs with it)."""
    owners: dict[str, tuple[int, int]] = {}  # container id -> uid/gid synced files get
    for batch in watcher.batches():
        for work in plan_batch(rules, batch):
            try:
                if work.rebuild:
                    if not quiet:
                        out.write(f"Rebuilding service(s) [\"{work.service}\"] after changes were detected...\n")
                        out.flush()
                    if on_rebuild is not None:
                        on_rebuild(work.service, False)
                    try:
                        rebuild_service(session, work.service, builder, prune=prune, fresh_display=fresh_display)
                    finally:
                        if on_rebuild is not None:
                            on_rebuild(work.service, True)
                    if not quiet:
                        out.write(f"service(s) [\"{work.service}\"] successfully built\n")
                else:
                    _apply(session, work, out, quiet, owners)
            except UserError as err:
                out.write(f"watch: service {work.service}: {err}\n")
            out.flush()
