"""``pycompose up``: create and start the project's containers (networks, volumes and images first), then,
unless ``-d``, stream their logs until they all exit or Ctrl-C stops them (as ``docker compose up``)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from compose.cli._steps import builder, stop_all

if TYPE_CHECKING:
    from compose.cli.session import Session
    from compose.errors import UserError
    from compose.model import Project
    from compose.observe import Observed
    from compose.plan import Plan

__all__ = ["register", "up", "parse_scale", "wait_services", "attach_logs", "attached_services", "confirm_volumes",
           "located"]


def register(app: typer.Typer) -> None:
    app.command("up", help="Create and start containers.")(up)


def parse_scale(items: list[str] | None) -> dict[str, int]:
    from compose.errors import UserError

    out: dict[str, int] = {}
    for item in items or ():
        name, sep, count = item.partition("=")
        if not sep or not count.isdigit():
            raise UserError.single(f"--scale {item}: expected SERVICE=NUMBER")
        out[name] = int(count)
    return out


def located(session: "Session", err: "UserError") -> "UserError":
    """A planning error with the file:line:col of each problem's key path (``networks.back``...)."""
    from compose.errors import Problem, UserError

    sources = session.loaded.load.sources
    return UserError([Problem(p.message, p.path, p.location or (sources.locate(p.path) if p.path else None))
                      for p in err.problems])


def confirm_volumes(names: list[str], yes: bool) -> tuple[set[str], bool]:
    """Which of the diverged volumes ``names`` to recreate, and whether the user was asked: all with ``-y``;
    on a terminal Docker Compose's question for each (default no; end of input is no); without a terminal
    none, unasked (the plan then warns that each is kept)."""
    import sys

    if not names:
        return set(), False
    if yes:
        return set(names), True
    if not sys.stdin.isatty():
        return set(), False
    chosen: set[str] = set()
    for name in names:
        try:
            answer = input(f'? Volume "{name}" exists but doesn\'t match configuration in compose file. '
                           "Recreate (data will be lost)? (y/N) ")
        except EOFError:
            answer = ""
        if answer.strip().lower() in ("y", "yes"):
            chosen.add(name)
    return chosen, True


def _pull_option(value: str | None) -> str | None:
    from compose.errors import UserError

    if value is not None and value not in ("always", "missing", "never", "build"):
        raise UserError.single(f"--pull {value}: expected always, missing or never")
    return value


def wait_services(session: "Session", services: list[str], timeout: float | None) -> None:
    """``--wait``: every container of ``services`` running, and healthy when it has a healthcheck."""
    from compose.events import Event, Status
    from compose.execute import wait_healthy

    deadline = time.monotonic() + (timeout if timeout is not None else 3600.0)
    for c in session.containers(services):
        service = session.project.services.get(c.service)
        hc = service.healthcheck if service else None
        has_hc = hc is not None and not hc.disabled
        session.display(Event("Container", c.name, Status.WORKING, "Waiting"))
        try:
            wait_healthy(session.client, c.name, deadline, healthy_required=has_hc)
        except Exception:
            session.display(Event("Container", c.name, Status.ERROR, "Error"))
            session.display.close()
            raise
        session.display(Event("Container", c.name, Status.DONE, "Healthy" if has_hc else "Running"))
    session.display.close()


def attach_logs(session: "Session", services: list[str], since: int, *, abort_on_exit: bool = False,
                abort_on_failure: bool = False, exit_code_from: str | None = None, timeout: int | None = None,
                prefix: bool = True, colour: bool | None = None, timestamps: bool = False) -> int:
    """Print the containers' logs until they all exit (or one does, with ``abort_on_exit``; one fails, with
    ``abort_on_failure``); Ctrl-C stops them, a second Ctrl-C kills them."""
    import signal
    from functools import partial

    from compose.cli.logprinter import LogPrinter, Source
    from compose.engine import containers as C
    from compose.engine.logs import log_lines
    from compose.naming import separator  # --compatibility names: project_web_1

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, _interrupt)  # also when started with SIGINT ignored (a background job)
    signal.signal(signal.SIGTERM, _interrupt)
    printer = LogPrinter(prefix=prefix, colour=colour)
    client = session.client
    by_label = {}
    for c in session.containers(services):
        label = c.name.removeprefix(f"{session.name}{separator()}")
        by_label[label] = c
        printer.add(Source(label, partial(log_lines, client, c.id, follow=True, since=since,
                                          timestamps=timestamps), c.id))
    print("Attaching to " + ", ".join(sorted(by_label)), flush=True)
    code = 0
    try:
        while printer.live:
            ended = printer.next_event()
            if ended is None:
                continue
            c = by_label[ended[0]]
            exit_code = C.health(client, c.id)[2]
            print(f"{ended[0]} exited with code {exit_code}", flush=True)
            if exit_code_from and c.service == exit_code_from:
                code = exit_code
            if abort_on_exit or abort_on_failure and exit_code != 0:
                print("Aborting on container exit...", flush=True)
                stop_all(session, services, timeout)
                return code if exit_code_from else exit_code
    except KeyboardInterrupt:
        print("Gracefully stopping... (press Ctrl+C again to force)", flush=True)
        stop_all(session, services, timeout)
        return 130
    return code


def _wait_unattached(session: "Session", services: list[str], timeout: int | None) -> int:
    """Block until the running containers of ``services`` exit; Ctrl-C stops them, as the attached path does."""
    import signal

    from compose.engine import containers as C

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for c in session.containers(services, all=False):
            C.wait(session.client, c.id)
    except KeyboardInterrupt:
        print("Gracefully stopping... (press Ctrl+C again to force)", flush=True)
        stop_all(session, services, timeout)
        return 130
    return 0


def up(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Run containers in the background.")] = False,
    build: Annotated[bool, typer.Option("--build", help="Build images before starting containers.")] = False,
    no_build: Annotated[bool, typer.Option("--no-build", help="Don't build an image, even if it's missing.")] = False,
    force_recreate: Annotated[bool, typer.Option("--force-recreate", help="Recreate containers even if "
                                                 "their configuration hasn't changed.")] = False,
    no_recreate: Annotated[bool, typer.Option("--no-recreate", help="If containers already exist, don't "
                                              "recreate them.")] = False,
    no_deps: Annotated[bool, typer.Option("--no-deps", help="Don't start linked services.")] = False,
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans", help="Remove containers for services not "
                                                 "defined in the Compose file.")] = False,
    scale: Annotated[Optional[list[str]], typer.Option("--scale", help="Scale SERVICE to NUM instances.",
                                                       metavar="SERVICE=NUM")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for services to be running|healthy. Implies "
                                       "detached mode.")] = False,
    wait_timeout: Annotated[Optional[float], typer.Option("--wait-timeout", help="Maximum seconds to wait.",
                                                          metavar="SECONDS")] = None,
    timeout: Annotated[Optional[int], typer.Option("--timeout", "-t", help="Shutdown timeout in seconds.",
                                                   metavar="SECONDS")] = None,
    abort_on_container_exit: Annotated[bool, typer.Option(
        "--abort-on-container-exit", help="Stops all containers if any container was stopped.")] = False,
    exit_code_from: Annotated[Optional[str], typer.Option(
        "--exit-code-from", help="Return the exit code of the selected service container.",
        metavar="SERVICE")] = None,
    no_start: Annotated[bool, typer.Option("--no-start", help="Don't start the services after creating "
                                           "them.")] = False,
    pull: Annotated[Optional[str], typer.Option("--pull", help="Pull image before running "
                                                "(always|missing|never).", metavar="POLICY")] = None,
    no_log_prefix: Annotated[bool, typer.Option("--no-log-prefix", help="Don't print prefix in logs.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Produce monochrome output.")] = False,
    timestamps: Annotated[bool, typer.Option("--timestamps", help="Show timestamps.")] = False,
    attach: Annotated[Optional[list[str]], typer.Option("--attach", help="Restrict attaching to these "
                                                        "services.", metavar="SERVICE")] = None,
    no_attach: Annotated[Optional[list[str]], typer.Option("--no-attach", help="Don't attach to these services.",
                                                           metavar="SERVICE")] = None,
    attach_dependencies: Annotated[bool, typer.Option("--attach-dependencies", help="Also attach to the "
                                                      "dependencies' output.")] = False,
    always_recreate_deps: Annotated[bool, typer.Option("--always-recreate-deps", help="Recreate dependent "
                                                       "containers. Incompatible with --no-recreate.")] = False,
    renew_anon_volumes: Annotated[bool, typer.Option("--renew-anon-volumes", "-V", help="Recreate anonymous "
                                                     "volumes instead of retrieving data from the previous "
                                                     "containers.")] = False,
    quiet_pull: Annotated[bool, typer.Option("--quiet-pull", help="Pull without printing progress.")] = False,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Watch source code and rebuild/refresh containers "
                                        "when files are updated.")] = False,
    abort_on_container_failure: Annotated[bool, typer.Option(
        "--abort-on-container-failure", help="Stops all containers if any container exited with failure. "
        "Incompatible with -d.")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", "--y", "-y", help="Assume \"yes\" as answer to all prompts and run "
        "non-interactively.")] = False,
    quiet_build: Annotated[bool, typer.Option("--quiet-build", help="Suppress the build output.")] = False,
) -> int:
    from compose.cli.session import open_session
    from compose.errors import UserError
    from compose.observe import observe
    from compose.plan import UpOptions, plan_up, volumes_to_confirm

    if build and no_build:
        raise UserError.single("--build and --no-build are incompatible")
    if force_recreate and no_recreate:
        raise UserError.single("--force-recreate and --no-recreate are incompatible")
    if always_recreate_deps and no_recreate:
        raise UserError.single("--always-recreate-deps and --no-recreate are incompatible")
    if renew_anon_volumes and no_recreate:
        raise UserError.single("--no-recreate and --renew-anon-volumes are incompatible")
    if abort_on_container_failure and abort_on_container_exit:
        raise UserError.single("--abort-on-container-failure cannot be combined with --abort-on-container-exit")
    if detach and (abort_on_container_exit or exit_code_from or abort_on_container_failure):
        raise UserError.single("--detach cannot be combined with --abort-on-container-exit, "
                               "--abort-on-container-failure or --exit-code-from")
    if watch and (detach or wait or no_start or abort_on_container_exit or exit_code_from
                  or abort_on_container_failure):
        raise UserError.single("--watch cannot be combined with --detach, --wait, --no-start, "
                               "--abort-on-container-exit or --exit-code-from")
    wanted = list(services or [])
    session = open_session(ctx, wanted)
    if exit_code_from:
        session.check_services([exit_code_from])
    opts = UpOptions(services=wanted or None, no_deps=no_deps, force_recreate=force_recreate,
                     no_recreate=no_recreate, no_start=no_start, remove_orphans=remove_orphans,
                     scale=parse_scale(scale), pull=_pull_option(pull),
                     build=True if build else (False if no_build else None), timeout=timeout,
                     always_recreate_deps=always_recreate_deps, known_services=session.known_services(),
                     all_resources=ctx.obj.all_resources)
    from compose.graph import ServiceGraph

    graph = ServiceGraph(session.project)
    chosen = graph.subgraph(wanted, with_deps=not no_deps).services if wanted else graph.services
    started_at = int(time.time())
    observed = observe(session.client, session.project, services=chosen)
    opts.recreate_volumes, opts.volumes_asked = confirm_volumes(
        volumes_to_confirm(session.project, observed, chosen, opts.all_resources), yes)
    try:
        plan = plan_up(session.project, observed, opts)
    except UserError as err:
        raise located(session, err) from None
    _report_untouched(session, plan, observed, chosen)
    session.run(plan, build=builder(session), renew_anon_volumes=renew_anon_volumes)
    if no_start:
        return 0
    from compose.execute import dry_run

    if dry_run():  # nothing started: no logs to follow, nothing to wait for
        if not (detach or wait):
            print("end of 'compose up' output, interactive run is not supported in dry-run mode", flush=True)
        return 0
    if wait:
        wait_services(session, chosen, wait_timeout)
        return 0
    if detach:
        return 0
    shown = attached_services(session.project, chosen, wanted, attach, no_attach, attach_dependencies)
    if watch:  # develop.watch beside the log stream; a rebuilt service's new containers are followed
        from compose.cli.watch import up_watching

        return up_watching(session, shown, started_at, watched=wanted, progress=ctx.obj.progress, timeout=timeout,
                           prefix=not no_log_prefix, colour=False if no_color else None, timestamps=timestamps)
    if not shown:  # every service has ``attach: false``: no logs, but still wait for them and stop on Ctrl-C
        return _wait_unattached(session, chosen, timeout)
    return attach_logs(session, shown, started_at,
                       abort_on_exit=abort_on_container_exit or bool(exit_code_from) and not abort_on_container_failure,
                       abort_on_failure=abort_on_container_failure, exit_code_from=exit_code_from, timeout=timeout,
                       prefix=not no_log_prefix,
                       colour=False if no_color else None, timestamps=timestamps)


def attached_services(project: "Project", chosen: list[str], wanted: list[str], attach: list[str] | None,
                      no_attach: list[str] | None, attach_dependencies: bool) -> list[str]:
    """The services whose logs ``up`` follows: ``--attach`` as given, else the named services (all of
    ``chosen`` with ``--attach-dependencies`` or no names) minus those with ``attach: false``; then minus
    ``--no-attach``, as Docker Compose."""
    if attach:
        shown = list(attach)
    else:
        shown = [s for s in (chosen if attach_dependencies or not wanted else wanted)
                 if s not in project.services or project.services[s].extras.get("attach") is not False]
    return [s for s in shown if s not in set(no_attach or ())]


def _report_untouched(session: "Session", plan: "Plan", observed: "Observed", chosen: list[str]) -> None:
    """``Container x  Running`` for the containers the plan leaves alone, as Docker Compose reports them."""
    from compose.events import Event, Status

    touched = {step.target for step in plan.steps.values()}
    for c in observed.containers:
        if c.service in chosen and c.running and c.name not in touched:
            session.display(Event("Container", c.name, Status.DONE, "Running"))
