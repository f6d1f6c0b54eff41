"""``pycompose watch [--no-up] [--prune] [--quiet] [SERVICE...]``: bring the project up (unless ``--no-up``), then
act on ``develop.watch`` rules as files change (sync, rebuild, sync+restart, sync+exec, restart). Ctrl-C (or
SIGTERM) stops watching and leaves the containers running, as ``docker compose watch`` does. ``start_watch`` is
what ``up --watch`` uses to watch beside its log stream."""
from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from compose.cli.session import Session
    from compose.watch.watcher import Watcher

__all__ = ["register", "watch", "watch_rules", "start_watch", "up_watching"]


def register(app: typer.Typer) -> None:
    app.command("watch", help="Watch the build context of services and rebuild/refresh containers when files "
                              "are updated.")(watch)


def _located(session: "Session", err: Any) -> Any:
    """The rule errors with the file:line:col of their key path."""
    from compose.errors import Problem, UserError

    sources = session.loaded.load.sources
    return UserError([Problem(p.message, p.path, p.location or (sources.locate(p.path) if p.path else None))
                      for p in err.problems])


def watch_rules(session: "Session", services: list[str] | None) -> list[Any]:
    from compose.errors import UserError
    from compose.watch.rules import service_rules

    try:
        rules = service_rules(session.project, services or None, str(session.loaded.load.project_dir))
    except UserError as err:
        raise _located(session, err) from None
    if not rules:
        raise UserError.single("none of the selected services is configured for watch, consider setting a "
                               "'develop' section")
    return rules


def _watcher(session: "Session", rules: list[Any]) -> "Watcher":
    from compose.errors import UserError
    from compose.watch.watcher import Watcher

    roots = []
    for rule in rules:
        if not rule.path.exists():
            index = [r for r in rules if r.service == rule.service].index(rule)
            raise _located(session, UserError.single(
                f"{rule.path} does not exist; create it or fix the path",
                ("services", rule.service, "develop", "watch", index, "path")))
        roots.append(rule.path)
    return Watcher(roots)


def start_watch(session: "Session", services: list[str] | None, *, prune: bool = True,
                quiet: bool = False, progress: str | None = None,
                rebuilds: "queue.Queue[tuple[str, bool]] | None" = None) -> tuple["Watcher", threading.Thread]:
    """Watch in a background thread (for ``up --watch``); ``watcher.stop()`` then ``thread.join()`` ends it.
    ``rebuilds`` receives ``(service, done)`` before and after each rebuild."""
    from compose.cli._steps import builder
    from compose.display import make_display
    from compose.watch.actions import initial_sync, watch_loop

    from dataclasses import replace

    from compose.engine.client import connect

    session = replace(session, client=connect())  # its own connection: the log stream keeps the other
    rules = watch_rules(session, services)
    watcher = _watcher(session, rules)
    initial_sync(session, rules, quiet=quiet)
    thread = threading.Thread(target=watch_loop, name="watch", daemon=True,
                              args=(session, rules, watcher, builder(session)),
                              kwargs={"prune": prune, "quiet": quiet, "fresh_display": lambda: make_display(progress),
                                      "on_rebuild": (lambda svc, done: rebuilds.put((svc, done))) if rebuilds else None})
    thread.start()
    return watcher, thread


def up_watching(session: "Session", services: list[str], since: int, *, watched: list[str] | None = None,
                progress: str | None = None, timeout: int | None = None, prefix: bool = True,
                colour: bool | None = None, timestamps: bool = False) -> int:
    """``up --watch``: the containers' logs, prefixed, while watching; a rebuilt service's new containers are
    followed in place of the old (no "exited" line for a replaced container). Ctrl-C stops watching and the
    containers, as plain ``up``; it returns when every container has exited and no rebuild is under way."""
    import signal
    from functools import partial

    from compose.cli.logprinter import LogPrinter, Source
    from compose.cli._steps import stop_all
    from compose.engine import containers as C
    from compose.engine.logs import log_lines
    from compose.errors import UserError
    from compose.naming import separator  # --compatibility names: project_web_1

    rebuilds: "queue.Queue[tuple[str, bool]]" = queue.Queue()
    watcher, thread = start_watch(session, watched or None, progress=progress, rebuilds=rebuilds)

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    printer = LogPrinter(prefix=prefix, colour=colour)
    tracked: dict[str, tuple[str, str]] = {}  # label -> (container id, service)
    client = session.client

    def _attach(service: str | None = None) -> bool:
        """Follow the running containers (of ``service``) not followed yet; False while an old one still is."""
        complete = True
        for c in session.containers([service] if service else services):
            label = c.name.removeprefix(f"{session.name}{separator()}")
            if tracked.get(label, ("", ""))[0] == c.id or (service and c.state != "running"):
                continue
            if label in printer.live:
                complete = False  # the replaced container's stream has not ended yet
                continue
            tracked[label] = (c.id, c.service)
            printer.add(Source(label, partial(log_lines, client, c.id, follow=True, since=since,
                                              timestamps=timestamps), c.id))
        return complete

    _attach()
    print("Attaching to " + ", ".join(sorted(tracked)), flush=True)
    rebuilding: set[str] = set()
    pending: set[str] = set()
    try:
        def _news() -> None:
            while not rebuilds.empty():
                service, done = rebuilds.get_nowait()
                (rebuilding.discard if done else rebuilding.add)(service)
                if done:
                    pending.add(service)

        while printer.live or pending or rebuilding:
            _news()
            pending = {svc for svc in pending if not _attach(svc)}
            ended = printer.next_event(timeout=0.2)  # a queue wait: wakes for rebuild news when logs are idle
            if ended is None:
                continue
            _news()  # a rebuild is announced before it stops anything: known by now if it ended this stream
            cid, service = tracked[ended[0]]
            try:
                code = C.health(client, cid)[2]
            except UserError:
                continue  # removed: replaced by a rebuild
            if service in rebuilding or service in pending:
                continue
            print(f"{ended[0]} exited with code {code}", flush=True)
    except KeyboardInterrupt:
        print("Gracefully stopping... (press Ctrl+C again to force)", flush=True)
        watcher.stop()
        thread.join(timeout=60)
        stop_all(session, services, timeout)
        return 130
    finally:
        watcher.stop()
        thread.join(timeout=60)
        watcher.close()
    return 0


def watch(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
    no_up: Annotated[bool, typer.Option("--no-up", help="Do not build & start services before watching.")] = False,
    prune: Annotated[bool, typer.Option("--prune/--no-prune", help="Prune dangling images on rebuild.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", help="Hide build output.")] = False,
) -> int:
    import signal

    from compose.cli.session import open_session
    from compose.cli._steps import builder
    from compose.display import make_display
    from compose.observe import observe
    from compose.plan import UpOptions, plan_up
    from compose.watch.actions import initial_sync, watch_loop

    wanted = list(services or [])
    session = open_session(ctx, wanted)
    rules = watch_rules(session, wanted)
    progress = ctx.obj.progress
    if not no_up:
        opts = UpOptions(services=wanted or None, known_services=session.known_services())
        observed = observe(session.client, session.project)
        session.run(plan_up(session.project, observed, opts), build=builder(session))
    watcher = _watcher(session, rules)

    def _stop(signum: int, frame: object) -> None:
        watcher.stop()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        initial_sync(session, rules, quiet=quiet)
        print("Watch enabled", flush=True)
        watch_loop(session, rules, watcher, builder(session), prune=prune, quiet=quiet,
                   fresh_display=lambda: make_display(progress))
    finally:
        watcher.close()
    return 0
