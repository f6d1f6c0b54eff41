"""``pycompose run``: a one-off container of a service (dependencies brought up first unless ``--no-deps``),
attached unless ``-d``; ``--rm`` removes it after it exits. Its exit code is ours."""
from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

__all__ = ["register", "run", "apply_run_flags", "drop_aliases"]


def register(app: typer.Typer) -> None:
    app.command("run", help="Run a one-off command on a service.",
                context_settings={"allow_interspersed_args": False})(run)


def run(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    command: Annotated[Optional[list[str]], typer.Argument(metavar="[COMMAND] [ARGS...]")] = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Run container in background.")] = False,
    rm: Annotated[bool, typer.Option("--rm", help="Remove the container when it exits.")] = False,
    name: Annotated[Optional[str], typer.Option("--name", help="Assign a name to the container.")] = None,
    entrypoint: Annotated[Optional[str], typer.Option("--entrypoint", help="Override the entrypoint.")] = None,
    env: Annotated[Optional[list[str]], typer.Option("--env", "-e", metavar="KEY=VAL")] = None,
    user: Annotated[Optional[str], typer.Option("--user", "-u")] = None,
    workdir: Annotated[Optional[str], typer.Option("--workdir", "-w")] = None,
    no_tty: Annotated[bool, typer.Option("--no-TTY", "-T", help="Disable pseudo-TTY allocation.")] = False,
    no_deps: Annotated[bool, typer.Option("--no-deps", help="Don't start linked services.")] = False,
    service_ports: Annotated[bool, typer.Option("--service-ports", help="Publish the service's ports.")] = False,
    build: Annotated[bool, typer.Option("--build", help="Build the image first.")] = False,
    pull: Annotated[Optional[str], typer.Option("--pull", metavar="POLICY")] = None,
    quiet_pull: Annotated[bool, typer.Option("--quiet-pull")] = False,
    use_aliases: Annotated[bool, typer.Option("--use-aliases", help="Use the service's network aliases in the "
                                              "network(s) the container connects to.")] = False,
    label: Annotated[Optional[list[str]], typer.Option("--label", "-l", help="Add or override a label.",
                                                       metavar="KEY=VAL")] = None,
    volume: Annotated[Optional[list[str]], typer.Option("--volume", "-v", help="Bind mount a volume.",
                                                        metavar="SRC:DST[:MODE]")] = None,
    publish: Annotated[Optional[list[str]], typer.Option("--publish", "-p", help="Publish a container's port(s) "
                                                         "to the host.", metavar="[IP:]HOST:CONTAINER")] = None,
    cap_add: Annotated[Optional[list[str]], typer.Option("--cap-add", help="Add Linux capabilities.", metavar="CAP")] = None,
    cap_drop: Annotated[Optional[list[str]], typer.Option("--cap-drop", help="Drop Linux capabilities.", metavar="CAP")] = None,
    interactive: Annotated[bool, typer.Option("--interactive", "-i", help="Keep STDIN open even if not attached "
                                              "(the default).")] = True,
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans", help="Remove containers for services not "
                                                 "defined in the Compose file.")] = False,
    env_from_file: Annotated[Optional[list[str]], typer.Option("--env-from-file", help="Set environment "
                                                               "variables from file.", metavar="FILE")] = None,
    quiet_build: Annotated[bool, typer.Option("--quiet-build", help="Suppress the build output.")] = False,
) -> int:
    import shlex
    import sys

    from compose.cli._envfile import read_env_files
    from compose.cli.exec import parse_env
    from compose.cli.session import open_session
    from compose.cli._steps import builder
    from compose.cli.up import confirm_volumes, located
    from compose.errors import UserError
    from compose.engine import containers as C
    from compose.engine.createbody import ContainerSpec, create_body, endpoint_config, ordered_networks
    from compose.engine.client import engine_socket
    from compose.engine.exec import attach, pump
    from compose.execute import create_container, dry_run
    from compose.hooks import run_hooks
    from compose.naming import network_name, new_slug, oneoff_name
    from compose.observe import observe
    from compose.graph import ServiceGraph
    from compose.plan import UpOptions, plan_run, volumes_to_confirm
    from compose.secretcopy import copy_grants

    environment = {**read_env_files(list(env_from_file or [])), **parse_env(env)}  # -e wins, as docker compose
    session = open_session(ctx, [service])
    project = session.project
    svc = project.services[service]
    observed = observe(session.client, project)
    opts = UpOptions(no_deps=no_deps, pull=pull, build=True if build else None, remove_orphans=remove_orphans,
                     known_services=session.known_services())
    deps = [service] if no_deps else ServiceGraph(project).subgraph([service]).services
    opts.recreate_volumes, opts.volumes_asked = confirm_volumes(volumes_to_confirm(project, observed, deps), False)
    try:
        plan = plan_run(project, observed, service, opts)
    except UserError as err:
        raise located(session, err) from None
    session.run(plan, build=builder(session))
    slug = new_slug()
    tty = not no_tty and sys.stdin.isatty() and not detach
    spec = ContainerSpec(number=1, config_hash="", oneoff=True, slug=slug, api_socket=engine_socket(),
                         working_dir=str(session.loaded.load.project_dir),
                         config_files=tuple(session.loaded.load.files),
                         command=tuple(command) if command else None,
                         entrypoint=tuple(shlex.split(entrypoint)) if entrypoint is not None else None,
                         environment=environment, user=user, workdir=workdir, tty=tty,
                         stdin_open=not detach, publish_ports=service_ports)
    body = create_body(project, svc, spec)
    apply_run_flags(body, labels=label, volumes=volume, publish=publish, cap_add=cap_add, cap_drop=cap_drop,
                    base=str(session.loaded.load.project_dir))
    if not use_aliases:
        drop_aliases(body)
    cname = name or oneoff_name(project.name, service, slug)
    if dry_run():  # --dry-run: the dependencies' plan was shown; the one-off container is shown, not made
        from compose.events import Event, Status

        for working, done in (("Creating", "Created"), ("Starting", "Started")):
            session.display(Event("DRY-RUN MODE -  Container", cname, Status.WORKING, working))
            session.display(Event("DRY-RUN MODE -  Container", cname, Status.DONE, done))
        session.display.close()
        return 0
    cid, warnings = create_container(session.client, cname, body, platform=svc.platform)
    for text in warnings:
        print(f"WARNING: container {cname}: {text}", file=sys.stderr)
    try:
        copy_grants(session.client, project, svc, cid, dict(session.loaded.load.environment))
        if not svc.network_mode:
            for key in ordered_networks(svc)[1:]:
                endpoint = endpoint_config(svc, key, number=1, project=project.name)
                if not use_aliases:
                    endpoint.pop("Aliases", None)
                C.connect(session.client, cid, network_name(project, key), endpoint)
        if detach:
            C.start(session.client, cid)
            run_hooks(session.client, cid, svc, "post_start")
            print(cname)
            return 0
        sock = attach(session.client, cid, stdin=True)
        C.start(session.client, cid)
        # the output waits in the attach stream while the hooks run, as under Docker Compose nothing is lost
        run_hooks(session.client, cid, svc, "post_start")
        pump(sock, tty=tty, stdin=True)
        return C.wait(session.client, cid)
    finally:
        if rm and not detach:
            C.remove(session.client, cid, force=True, volumes=True)


def apply_run_flags(body: dict[str, Any], *, labels: list[str] | None = None, volumes: list[str] | None = None,
                    publish: list[str] | None = None, cap_add: list[str] | None = None,
                    cap_drop: list[str] | None = None, base: str = ".") -> None:
    """``run``'s ``-l``, ``-v``, ``-p``, ``--cap-add`` and ``--cap-drop`` laid over the service's create body."""
    import os

    from compose.errors import UserError

    host = body.setdefault("HostConfig", {})
    for item in labels or ():
        key, _, value = item.partition("=")
        body.setdefault("Labels", {})[key] = value
    for item in volumes or ():
        parts = item.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("/"):
            raise UserError.single(f"--volume {item}: expected SRC:/container/path[:ro|rw]")
        if parts[0].startswith((".", "~")):
            parts[0] = os.path.abspath(os.path.join(base, os.path.expanduser(parts[0])))
        host["Binds"] = [*(host.get("Binds") or []), ":".join(parts)]
    for item in publish or ():
        spec, _, proto = item.partition("/")
        pieces = spec.rsplit(":", 2)
        if not pieces[-1].isdigit() or any(p and not p.isdigit() for p in pieces[-2:-1]):
            raise UserError.single(f"--publish {item}: expected [IP:][HOST:]CONTAINER[/PROTOCOL]")
        key = f"{pieces[-1]}/{proto or 'tcp'}"
        binding = {"HostIp": pieces[0] if len(pieces) == 3 else "", "HostPort": pieces[-2] if len(pieces) > 1 else ""}
        host.setdefault("PortBindings", {}).setdefault(key, []).append(binding)
        body.setdefault("ExposedPorts", {})[key] = {}
    if cap_add:
        host["CapAdd"] = [*(host.get("CapAdd") or []), *cap_add]
    if cap_drop:
        host["CapDrop"] = [*(host.get("CapDrop") or []), *cap_drop]


def drop_aliases(body: dict[str, Any]) -> None:
    """As Docker Compose: a one-off container answers to no service alias unless ``--use-aliases``."""
    for ep in ((body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}).values():
        ep.pop("Aliases", None)
