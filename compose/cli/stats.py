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
    from compose.cli.session import open_session

    check_format(output_format)
    services = [service] if service else []
    session = open_session(ctx, services, bare_ok=True)
    containers = session.containers(services, all=all_, oneoff=None)
    if no_stream:
        _print(collect_once(session, containers, trunc=not no_trunc), output_format, clear=False)
        return 0
    return _stream(session, containers, output_format, trunc=not no_trunc)


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


def _stream(session: "Session", containers: list["ContainerInfo"], fmt: str, *, trunc: bool) -> int:
    """Redraw the table at most once a second while samples arrive, until Ctrl-C (or every stream has ended)."""
    import sys
    import threading
    import time

    from compose.cli._statsrow import stats_row
    from compose.engine.errors import EngineError
    from compose.engine.stats import open_stats

    latest: dict[str, dict[str, str]] = {c.id: stats_row(c.id, c.name, None, trunc=trunc) for c in containers}
    changed = threading.Condition()
    streams = []
    live = [0]
    dirty = [False]

    def read(c: "ContainerInfo") -> None:
        try:
            stream = open_stats(session.client, c.id, stream=True)
        except EngineError:
            stream = None
        if stream is not None:
            with changed:
                streams.append(stream)
            for sample in stream:
                row = stats_row(c.id, c.name, sample, running=bool(sample.get("cpu_stats")), trunc=trunc)
                with changed:
                    latest[c.id] = row
                    dirty[0] = True
                    changed.notify()
        with changed:
            live[0] -= 1
            changed.notify()

    live[0] = len(containers)
    for c in containers:
        threading.Thread(target=read, args=(c,), daemon=True, name=f"stats-{c.name}").start()
    clear = sys.stdout.isatty()
    try:
        while True:
            with changed:
                while not dirty[0] and live[0] > 0:
                    changed.wait()
                rows = [latest[c.id] for c in containers]
                dirty[0] = False
                ended = live[0] <= 0
            _print(rows, fmt, clear=clear)
            if ended:
                return 0
            drawn = time.monotonic()
            with changed:  # at most one redraw a second (samples come about once a second per container)
                changed.wait_for(lambda: live[0] <= 0, timeout=max(0.0, drawn + 1.0 - time.monotonic()))
    except KeyboardInterrupt:
        return 130
    finally:
        with changed:
            for stream in streams:
                stream.close()
