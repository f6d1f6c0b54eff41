"""``pycompose stats``: a live stream of the service containers' resource usage, as ``docker compose stats``
(``--no-stream`` for one table, ``-a`` for stopped containers too, ``--format table|json|TEMPLATE``,
``--no-trunc``). One reader thread per container; the table is drawn again as new samples arrive."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from compose.cli.session import Session
    from compose.engine.containers import ContainerInfo

__all__ = ["register", "stats", "collect_once"]

_CLEAR = "\033[2J\033[H"


def register(app: typer.Typer) -> None:
    app.command("stats", help="Display a live stream of container(s) resource usage statistics.")(stats)


def stats(
    ctx: typer.Context,
    service: Annotated[Optional[str], typer.Argument(metavar="[SERVICE]", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Show all containers (default shows just "
                                       "running).")] = False,
    output_format: Annotated[str, typer.Option("--format", help="Format output using a custom template: 'table', "
                                               "'json' or a Go-style template such as '{{.Name}}'.")] = "table",
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Disable streaming stats and only pull the first "
                                            "result.")] = False,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Do not truncate output.")] = False,
) -> int:
    from compose.cli._statsrow import check_format
    from compose.cli._light import open_light_session

    check_format(output_format)
    services = [service] if service else []
    session = open_light_session(ctx, services, bare_ok=True)
    containers = session.containers(services, all=all_, oneoff=None)
    if no_stream:
        _print(collect_once(session, containers, trunc=not no_trunc), output_format, clear=False)
        return 0
    return _stream(session, containers, output_format, trunc=not no_trunc, all_=all_, services=services)


def _first_usable(session: "Session", c: "ContainerInfo") -> dict[str, Any] | None:
    """The first sample with a previous one to compare (two reads, about a second apart), or the only sample of a
    container that does not run."""
    from compose.engine.errors import EngineError
    from compose.engine.stats import open_stats

    try:
        stream = open_stats(session.client, c.id, stream=c.running)
    except EngineError:  # removed meanwhile
        return None
    last = None
    try:
        for sample in stream:
            last = sample
            if sample.get("precpu_stats") or not c.running:
                break
    finally:
        stream.close()
    return last


def collect_once(session: "Session", containers: list["ContainerInfo"], *, trunc: bool = True
                 ) -> list[dict[str, str]]:
    """One row per container, sampled in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    from compose.cli._statsrow import stats_row

    if not containers:
        return []
    with ThreadPoolExecutor(max_workers=min(32, len(containers))) as pool:
        samples = list(pool.map(lambda c: _first_usable(session, c), containers))
    return [stats_row(c.id, c.name, s, running=c.running and s is not None and bool(s.get("cpu_stats")),
                      trunc=trunc) for c, s in zip(containers, samples)]


def _print(rows: list[dict[str, str]], fmt: str, *, clear: bool) -> None:
    import sys

    from compose.cli._statsrow import render

    text = render(fmt, rows)
    sys.stdout.write((_CLEAR if clear else "") + text)
    sys.stdout.flush()


def _stream(session: "Session", containers: list["ContainerInfo"], fmt: str, *, trunc: bool, all_: bool,
            services: list[str]) -> int:
    """Redraw the table at most once a second while samples arrive, until Ctrl-C; containers the project starts
    meanwhile join the table (the engine's events), removed ones leave it (stopped ones too, unless ``-a``)."""
    import sys
    import threading
    import time

    from compose import labels as L
    from compose.cli._statsrow import stats_row
    from compose.engine.errors import EngineError
    from compose.engine.stats import open_stats

    order: list["ContainerInfo"] = []
    latest: dict[str, dict[str, str]] = {}
    changed = threading.Condition()
    streams: list[Any] = []
    dirty = [False]

    def drop(cid: str) -> None:
        with changed:
            if cid in latest:
                del latest[cid]
                order[:] = [c for c in order if c.id != cid]
                dirty[0] = True
                changed.notify()

    def read(c: "ContainerInfo") -> None:
        try:
            stream = open_stats(session.client, c.id, stream=True)
        except EngineError:
            drop(c.id)
            return
        with changed:
            streams.append(stream)
        for sample in stream:
            row = stats_row(c.id, c.name, sample, running=bool(sample.get("cpu_stats")), trunc=trunc)
            with changed:
                if c.id not in latest:
                    break
                latest[c.id] = row
                dirty[0] = True
                changed.notify()
        if not all_:
            drop(c.id)

    def track(c: "ContainerInfo") -> None:
        with changed:
            if c.id in latest:
                return
            order.append(c)
            latest[c.id] = stats_row(c.id, c.name, None, trunc=trunc)
            dirty[0] = True
            changed.notify()
        threading.Thread(target=read, args=(c,), daemon=True, name=f"stats-{c.name}").start()

    def watch(events: Any) -> None:
        try:
            for ev in events:
                action = ev.get("Action") or ev.get("status") or ""
                cid = (ev.get("Actor") or {}).get("ID") or ev.get("id", "")
                if action == "destroy":
                    drop(cid)
                elif action == "start" and cid not in latest:
                    for c in session.containers(services, all=True, oneoff=None):
                        if c.id == cid:
                            track(c)
        except Exception:  # noqa: BLE001 - closed at the end, or the engine went away: no more joiners
            return

    events = None
    try:
        events = session.client.events(decode=True, filters={"type": ["container"], "label": [
            f"{L.PROJECT}={session.name}"], "event": ["start", "destroy"]})
        threading.Thread(target=watch, args=(events,), daemon=True, name="stats-events").start()
    except Exception:  # noqa: BLE001 - an engine without events: the containers listed at the start only
        events = None
    for c in containers:
        track(c)
    clear = sys.stdout.isatty()
    try:
        while True:
            with changed:
                while not dirty[0]:
                    changed.wait()
                rows = [latest[c.id] for c in order]
                dirty[0] = False
            _print(rows, fmt, clear=clear)
            drawn = time.monotonic()
            time.sleep(max(0.0, drawn + 1.0 - time.monotonic()))  # at most one redraw a second (pacing output)
    except KeyboardInterrupt:
        return 130
    finally:
        if events is not None:
            events.close()
        with changed:
            for stream in streams:
                stream.close()
