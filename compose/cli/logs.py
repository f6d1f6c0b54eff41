"""``pycompose logs``: the services' output, prefixed ``web-1  | `` (``-f`` follows, ``--tail``, ``-t``,
``--since``/``--until``)."""
from __future__ import annotations

from typing import Annotated, Optional

from compose.cli._typer import typer

__all__ = ["register", "logs"]


def register(app: typer.Typer) -> None:
    app.command("logs", help="View output from containers.")(logs)


def logs(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Follow log output.")] = False,
    timestamps: Annotated[bool, typer.Option("--timestamps", "-t", help="Show timestamps.")] = False,
    tail: Annotated[str, typer.Option("--tail", "-n", help="Lines to show from the end of each container's "
                                      "logs.", metavar="N")] = "all",
    no_log_prefix: Annotated[bool, typer.Option("--no-log-prefix", help="Don't print prefix in logs.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Produce monochrome output.")] = False,
    index: Annotated[Optional[int], typer.Option("--index", help="Index of the container if the service has "
                                                 "multiple replicas.")] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="Show logs since timestamp (e.g. "
                                                 "2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes).",
                                                 metavar="TIME")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="Show logs before a timestamp (e.g. "
                                                 "2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes).",
                                                 metavar="TIME")] = None,
) -> int:
    from functools import partial

    from compose.cli.logprinter import LogPrinter, Source
    from compose.cli._light import open_light_session
    from compose.engine.logs import log_lines
    from compose.naming import separator  # --compatibility names: project_web_1
    from compose.errors import UserError

    if tail != "all" and not tail.lstrip("-").isdigit():
        raise UserError.single(f"--tail {tail}: expected a number or 'all'")
    since_at, until_at = _moment("--since", since), _moment("--until", until)
    tail_value: str | int = tail if tail == "all" else max(0, int(tail))
    session = open_light_session(ctx, list(services or []), bare_ok=True)
    printer = LogPrinter(prefix=not no_log_prefix, colour=False if no_color else None)
    client = session.client
    for c in session.containers(list(services or []), oneoff=None):
        if index is not None and c.number != index:
            continue
        label = c.name.removeprefix(f"{session.name}{separator()}")
        printer.add(Source(label, partial(log_lines, client, c.id, follow=follow, tail=tail_value,
                                          timestamps=timestamps, since=since_at, until=until_at), c.id))
    try:
        printer.run()
    except KeyboardInterrupt:
        return 130
    return 0


def _moment(flag: str, value: str | None) -> float | None:
    """The engine's ``since``/``until`` (seconds since the epoch) for ``value``; None when not given."""
    from compose.errors import UserError
    from compose.timestamps import parse_timestamp_ns

    if not value:
        return None
    try:
        moment = parse_timestamp_ns(value)
    except ValueError as err:
        raise UserError.single(f"{flag} {value}: {err}") from None
    if moment <= 0:
        return None  # 0 is no bound, as the engine reads it
    # whole microseconds, widened outwards from the exact nanoseconds: docker-py sends a float, whose decimal
    # form keeps microseconds of today's seconds exactly but not nanoseconds (``--since`` a timestamp that
    # ``logs -t`` printed must keep that line)
    micros = moment // 1000 if flag == "--since" else -(-moment // 1000)
    return micros / 1e6
