"""Desired (the model) against observed (the engine): a DAG of operations, each named for the API call it makes
and carrying its ``cause``. The executor runs the plan as given and decides nothing.

``plan_up`` covers ``up``/``create`` (networks, volumes, images, containers to create, recreate, start, scale
down, orphans, the waits ``depends_on`` conditions need and the restarts ``restart: true`` asks for);
``plan_down`` covers ``down``. A network whose ``config-hash`` label no longer matches the file is recreated
(the project's containers on it removed first and created again after), a volume likewise only when confirmed
(``UpOptions.recreate_volumes``, from ``up -y`` or the prompt); see ``compose.divergence``. ``str(plan)`` is a
stable listing, one step a line, in a fixed topological order (``compose.plansteps``).
"""
from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from compose import labels as L
from compose.confighash import service_hash
from compose.divergence import diverged_volumes, plan_recreations, recreate_leftovers, resource_keys
from compose.engine.containers import ContainerInfo
from compose.engine.createbody import service_image
from compose.errors import UserError
from compose.graph import ServiceGraph
from compose.model import Project, Service
from compose.naming import container_name
from compose.observe import Observed
from compose.plansteps import Op, Plan, Step
from compose.plansteps import remove_container_steps as _remove_container
from compose.servicedeps import plan_start_over, plan_stop_over, wait_steps

__all__ = ["Op", "Step", "Plan", "UpOptions", "DownOptions", "plan_up", "plan_down", "plan_stop", "plan_start", "plan_run",
           "volume_images", "volumes_to_confirm"]


@dataclass
class UpOptions:
    services: list[str] | None = None  # the command line's SERVICE...; None means all
    no_deps: bool = False
    force_recreate: bool = False
    no_recreate: bool = False
    no_start: bool = False
    remove_orphans: bool = False
    scale: dict[str, int] = field(default_factory=dict)
    pull: str | None = None  # --pull always|missing|never (None: each service's pull_policy)
    build: bool | None = None  # --build True, --no-build False
    timeout: int | None = None  # -t for stops of recreated containers
    always_recreate_deps: bool = False  # recreate the services pulled in as dependencies of ``services``
    known_services: set[str] = field(default_factory=set)  # services disabled by profiles: not orphans
    all_resources: bool = False  # --all-resources: also the networks and volumes no service uses
    recreate_volumes: set[str] = field(default_factory=set)  # diverged volumes (keys or names) to recreate
    volumes_asked: bool = False  # the user answered for the diverged volumes: no warning for the ones kept


@dataclass
class DownOptions:
    volumes: bool = False
    rmi: str | None = None  # local | all
    remove_orphans: bool = False
    timeout: int | None = None
    known_services: set[str] = field(default_factory=set)
    labelled: bool = False  # no Compose file (``down -p NAME``): remove what carries the project's label


def _image_step(plan: Plan, project: Project, service: Service, observed: Observed, opts: UpOptions) -> str | None:
    ref = service_image(project, service)
    present = observed.images.get(ref) is not None
    policy = (opts.pull or service.pull_policy or "missing").replace("if_not_present", "missing")
    if service.build is not None and opts.build is not False:
        if opts.build or policy == "build" or not present:
            return plan.add(Op.BUILD_IMAGE, ref, "--build" if opts.build else ("pull_policy build" if present
                            else "image missing"), service=service.name)
    if policy == "always":
        return plan.add(Op.PULL_IMAGE, ref, "pull_policy always", service=service.name)
    every = _schedule(policy)
    if present and every is not None:
        stamp = observed.image_times.get(ref)
        if stamp is None or time.time() - stamp > every:
            return plan.add(Op.PULL_IMAGE, ref, f"pull_policy {policy}: image older than that",
                            service=service.name)
    if present:
        return None
    if policy == "never":
        raise UserError.single(f"image {ref} of service {service.name} is not present and pull_policy is never",
                               ("services", service.name, "image"))
    if service.build is not None and opts.build is False:
        raise UserError.single(f"image {ref} of service {service.name} is not present and --no-build was given")
    return plan.add(Op.PULL_IMAGE, ref, "image missing", service=service.name)


def volume_images(service: Service) -> list[tuple[int, str]]:
    """The images ``service`` mounts as ``type: image`` volumes: (index in ``volumes``, reference)."""
    return [(i, m.source) for i, m in enumerate(service.volumes or ()) if m.type == "image" and m.source]


def _volume_image_steps(plan: Plan, project: Project, service: Service, observed: Observed,
                        opts: UpOptions) -> set[str]:
    """Steps that make the images of ``service``'s ``type: image`` volumes present, as Docker Compose does: an
    image another service of the project builds waits for that build (never pulled); any other is pulled when
    missing (pull policy ``missing``); ``--pull never`` makes a missing one an error."""
    out: set[str] = set()
    for i, ref in volume_images(service):
        builder = next((s for s in project.services.values()
                        if s.build is not None and service_image(project, s) == ref), None)
        if builder is not None and opts.build is not False:
            out.add(f"{Op.BUILD_IMAGE.name} {ref}")  # a dangling key (that service not planned) is ignored
            continue
        if observed.images.get(ref) is not None:
            continue
        if opts.pull == "never":
            raise UserError.single(f"image {ref} of a type: image volume of service {service.name} is not present "
                                   "and --pull never was given", ("services", service.name, "volumes", i, "source"))
        out.add(plan.add(Op.PULL_IMAGE, ref, "image volume missing", service=service.name))
    return out


_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}


def _schedule(policy: str) -> float | None:
    """Seconds between pulls for ``daily``, ``weekly`` and ``every_<n><unit>...`` (w, d, h, m, s); else None."""
    if policy in ("daily", "weekly"):
        return _UNITS["d" if policy == "daily" else "w"]
    if not policy.startswith("every_"):
        return None
    parts = re.findall(r"(\d+)([wdhms])", policy[len("every_"):])
    return float(sum(int(n) * _UNITS[unit] for n, unit in parts)) if parts else None


def _resources(plan: Plan, project: Project, service: Service, observed: Observed) -> set[str]:
    """Create steps for the networks and volumes ``service`` uses; fail on a missing external one."""
    after: set[str] = set()
    if not service.network_mode:
        for key in service.networks or {}:
            net = project.networks.get(key)
            if net is not None:
                after |= _create_step(plan, Op.CREATE_NETWORK, "networks", key, net.name, net.external,
                                      observed.networks)
    for mount in service.volumes or ():
        vol = project.volumes.get(mount.source or "") if mount.type == "volume" else None
        if vol is not None:
            after |= _create_step(plan, Op.CREATE_VOLUME, "volumes", mount.source or "", vol.name, vol.external,
                                  observed.volumes)
    return after


def _create_step(plan: Plan, op: Op, section: str, key: str, name: str, external: bool,
                 observed: Mapping[str, Any]) -> set[str]:
    """The step a service waits for on its network or volume ``name`` (top-level ``section.key``): its create
    when missing, or its re-create when diverged (planned already); none when it is there. A missing external
    one is an error."""
    step = f"{op.name} {name}"
    if name in observed:
        return {step} if step in plan.steps else set()
    if external:
        raise UserError.single(f"{section[:-1]} {name} declared as external, but could not be found; create it "
                               "first", (section, key))
    return {plan.add(op, name, "missing", args={"key": key})}


_JOINS = frozenset({"network_mode", "ipc", "pid", "uts", "volumes_from"})  # ties to the target container itself


@dataclass
class _ServicePlan:
    creates: set[str] = field(default_factory=set)
    starts: dict[str, str] = field(default_factory=dict)  # container name -> START step key
    live: list[str] = field(default_factory=list)  # every container name that will run
    untouched: list[ContainerInfo] = field(default_factory=list)  # running, up to date: no step
    changed: bool = False


def volumes_to_confirm(project: Project, observed: Observed, services: list[str],
                       all_resources: bool = False) -> list[str]:
    """Names of the volumes ``services`` use whose engine copy no longer matches the file: recreated only when
    the user confirms (``UpOptions.recreate_volumes``)."""
    keys = resource_keys(project, services, all_resources)[1]
    return [project.volumes[k].name for k in diverged_volumes(project, observed, keys)]


def _plan_service(plan: Plan, project: Project, name: str, observed: Observed, opts: UpOptions,
                  needs: set[str], forced: str | None = None,
                  doomed: dict[str, tuple[str, str]] | None = None) -> _ServicePlan:
    service = project.services[name]
    wanted = opts.scale.get(name, service.replicas)
    if service.container_name and wanted > 1:
        raise UserError.single(f"service {name} sets container_name, so it cannot run {wanted} replicas",
                               ("services", name, "container_name"))
    _check_fixed_ports(service, wanted)
    forced_all: str | None
    if forced is None and opts.always_recreate_deps and opts.services and name not in opts.services:
        forced_all = "--always-recreate-deps"
    else:  # --force-recreate is for the named services (all when none is); their dependencies only if changed
        forced_all = "--force-recreate" if opts.force_recreate and (
            not opts.services or name in opts.services) else None
    digest = service_hash(project, name)
    existing = observed.service_containers(name)
    keep, extra = existing[:wanted], existing[wanted:]
    out = _ServicePlan()
    for c in extra:
        _remove_container(plan, c, f"scale {name} to {wanted}", opts.timeout)
        out.changed = True
    numbers = {c.number for c in keep}
    free = (n for n in range(1, 10**6) if n not in numbers)
    slots: list[tuple[int, ContainerInfo | None]] = [(c.number, c) for c in keep]
    slots += [(next(free), None) for _ in range(wanted - len(keep))]
    for number, current in slots:
        cname = current.name if current is not None else container_name(project.name, service, number)
        after = set(needs)
        if current is not None and current.name in (doomed or {}):  # removed for a network or volume recreate
            create_cause, removed = (doomed or {})[current.name]
            after.add(removed)
        elif current is not None:
            outdated = current.config_hash != digest or _image_changed(project, service, current, observed)
            if not (forced_all or forced or (outdated and not opts.no_recreate)):
                if current.state in ("running", "restarting"):
                    out.untouched.append(current)
                    out.live.append(cname)
                elif current.state == "paused":
                    out.live.append(cname)
                elif not opts.no_start:
                    out.starts[cname] = plan.add(Op.START_CONTAINER, cname, current.state or "stopped",
                                                 service=name, number=number, container_id=current.id)
                    out.live.append(cname)
                    out.changed = True
                continue
            cause = forced_all if forced_all else (
                "config changed" if current.config_hash != digest else (
                    "image changed" if outdated else str(forced)))
            out.changed = True
            if forced:  # the old one holds namespaces or volumes the new one must not share: it goes first
                after.add(_remove_container(plan, current, cause, opts.timeout))
            else:
                ready = _replace_container(plan, current, cname, cause, after, digest, opts.timeout)
                out.creates.add(ready)
                if not opts.no_start:
                    out.starts[cname] = plan.add(Op.START_CONTAINER, cname, "created", {ready}, service=name,
                                                 number=number)
                    out.live.append(cname)
                continue
            create_cause = cause
        else:
            create_cause = "missing"
        out.changed = True
        create = plan.add(Op.CREATE_CONTAINER, cname, create_cause, after, service=name, number=number,
                          args={"config_hash": digest})
        out.creates.add(create)
        if not opts.no_start:
            out.starts[cname] = plan.add(Op.START_CONTAINER, cname, "created", {create}, service=name,
                                         number=number)
            out.live.append(cname)
    return out


def _check_fixed_ports(service: Service, wanted: int) -> None:
    """Refuse ``wanted`` replicas when a published host port (or a range) has fewer ports than replicas: each
    replica binds its own, so the extra ones would fail at start."""
    if wanted <= 1:
        return
    for i, port in enumerate(service.ports or ()):
        if not port.published:
            continue
        low, _, high = str(port.published).partition("-")
        try:
            size = int(high or low) - int(low) + 1
        except ValueError:
            continue
        if size < wanted:
            raise UserError.single(
                f"service {service.name} publishes host port {port.published}, so it cannot run {wanted} "
                "replicas; publish a range of at least that many ports or leave the host port out",
                ("services", service.name, "ports", i))


def _replace_container(plan: Plan, current: ContainerInfo, cname: str, cause: str, after: set[str],
                       digest: str, timeout: int | None) -> str:
    """Recreate as Docker Compose does: the new container is made under ``<id12>_<name>`` while the old one
    still runs, then the old one is stopped and removed and the new one renamed; the RENAME step's key."""
    temp = f"{current.id[:12]}_{cname}"
    create = plan.add(Op.CREATE_CONTAINER, cname, cause, after, service=current.service, number=current.number,
                      args={"config_hash": digest, "temp_name": temp})
    removed = _remove_container(plan, current, cause, timeout, {create})
    return plan.add(Op.RENAME_CONTAINER, cname, f"replaces {current.id[:12]}", {removed}, service=current.service,
                    number=current.number, args={"from": temp})


def _image_changed(project: Project, service: Service, current: ContainerInfo, observed: Observed) -> bool:
    """The container was made from another image than the one its reference names now (rebuilt or pulled)."""
    made_from = current.labels.get(L.IMAGE, "")
    now = observed.images.get(service_image(project, service))
    return bool(now and made_from.startswith("sha256:") and made_from != now)


def plan_up(project: Project, observed: Observed, opts: UpOptions | None = None) -> Plan:
    opts = opts or UpOptions()
    plan = Plan()
    graph = ServiceGraph(project)
    if opts.services:
        graph = graph.subgraph(opts.services, with_deps=not opts.no_deps)
    unknown_scale = sorted(set(opts.scale) - set(project.services))
    if unknown_scale:
        raise UserError.single(f"--scale: no such service: {', '.join(unknown_scale)}")
    per: dict[str, _ServicePlan] = {}
    doomed = plan_recreations(plan, project, observed, graph.services, all_resources=opts.all_resources,
                              confirmed=opts.recreate_volumes, asked=opts.volumes_asked, timeout=opts.timeout)
    for level in graph.levels():
        for name in sorted(level):
            service = project.services[name]
            needs = _resources(plan, project, service, observed)
            image = _image_step(plan, project, service, observed, opts)
            if image:
                needs.add(image)
            needs |= _volume_image_steps(plan, project, service, observed, opts)
            forced = None
            for dep in graph.dependencies(name):  # containers this one names must exist before its create
                via = graph.edge(name, dep).get("via")
                if via != "depends_on":
                    needs |= per[dep].creates
                    if via in _JOINS and per[dep].creates and not opts.no_start:
                        forced = f"{dep} recreated ({via})"  # a joined namespace or volumes go with the old one
            per[name] = _plan_service(plan, project, name, observed, opts, needs, forced, doomed)
            if forced:  # the joined container stops before the one whose namespaces it uses is removed
                stops = {k for k, st in plan.steps.items() if st.op is Op.STOP_CONTAINER and st.service == name}
                for dep in graph.dependencies(name):
                    for st in plan.steps.values():
                        if st.op is Op.REMOVE_CONTAINER and st.service == dep:
                            st.after |= stops
    for name in graph.services:
        sp = per[name]
        for dep in graph.dependencies(name):
            edge = graph.edge(name, dep)
            restarts = bool(edge.get("restart") and per[dep].changed and sp.untouched)
            waits = wait_steps(plan, dep, per[dep].starts, per[dep].live, edge["condition"], name) if (
                sp.starts or restarts) and not opts.no_start else set()
            for start in sp.starts.values():
                plan.steps[start].after |= waits
                if not edge["required"]:
                    plan.steps[start].optional |= waits
            if restarts and not opts.no_start:
                for c in sp.untouched:
                    key = plan.add(Op.RESTART_CONTAINER, c.name, f"{dep} changed (depends_on restart: true)",
                                   waits, service=name, number=c.number, container_id=c.id,
                                   args={"timeout": opts.timeout})
                    if not edge["required"]:
                        plan.steps[key].optional |= waits
    recreate_leftovers(plan, project, observed, doomed, set(graph.services), opts.no_start)
    _orphans(plan, project, observed, opts.remove_orphans, opts.known_services, opts.timeout)
    if opts.all_resources:
        _unused_resources(plan, project, observed)
    _images_first(plan)
    return plan


def _images_first(plan: Plan) -> None:
    """Every pull and build before anything else, as Docker Compose ensures the images first: an image that
    cannot be had (a typo, a failed build) leaves no network, volume or container made meanwhile."""
    images = {k for k, st in plan.steps.items() if st.op in (Op.PULL_IMAGE, Op.BUILD_IMAGE)}
    if images:
        for key, st in plan.steps.items():
            # a step that waits (not optionally) for another step waits for the images through it
            if key not in images and not (st.after - images - st.optional):
                st.after |= images


def _unused_resources(plan: Plan, project: Project, observed: Observed) -> None:
    """``--all-resources``: create the declared networks and volumes that no service uses (external ones are
    never created)."""
    for key, net in sorted(project.networks.items()):
        if not net.external and net.name not in observed.networks:
            plan.add(Op.CREATE_NETWORK, net.name, "declared (--all-resources)", args={"key": key})
    for key, vol in sorted(project.volumes.items()):
        if not vol.external and vol.name not in observed.volumes:
            plan.add(Op.CREATE_VOLUME, vol.name, "declared (--all-resources)", args={"key": key})


def _orphans(plan: Plan, project: Project, observed: Observed, remove: bool, known: set[str],
             timeout: int | None) -> None:
    orphans = [c for c in observed.containers
               if c.service not in project.services and c.service not in known]
    if not orphans:
        return
    if remove:
        for c in orphans:
            _remove_container(plan, c, "orphan", timeout)
    else:
        names = ", ".join(sorted(c.name for c in orphans))
        plan.warnings.append(f"Found orphan containers ({names}) for this project. If you removed or renamed "
                             "this service in your compose file, you can run this command with the "
                             "--remove-orphans flag to clean it up.")


def plan_down(project: Project, observed: Observed, opts: DownOptions | None = None) -> Plan:
    """Stop and remove the project's containers (dependents first), then its networks, volumes (``-v``) and
    images (``--rmi``)."""
    opts = opts or DownOptions()
    plan = Plan()
    graph = ServiceGraph(project)
    removes: set[str] = set()
    stops_of: dict[str, set[str]] = {}
    ordered = [s for level in graph.reverse_levels() for s in sorted(level)]
    for name in ordered:
        after = set().union(*(stops_of.get(d, set()) for d in graph.dependents(name)))
        mine: set[str] = set()
        for c in [c for c in observed.containers if c.service == name]:
            key = _remove_container(plan, c, "down", opts.timeout, after, volumes=opts.volumes)
            removes.add(key)
            stop = f"{Op.STOP_CONTAINER.name} {c.name}"
            mine.add(stop if stop in plan.steps else key)
        stops_of[name] = mine
    orphans_before = len(plan.steps)
    _orphans(plan, project, observed, opts.remove_orphans, opts.known_services, opts.timeout)
    removes |= {k for k in list(plan.steps)[orphans_before:] if k.startswith(Op.REMOVE_CONTAINER.name)}
    networks = {net.name for net in project.networks.values() if not net.external and net.name in observed.networks}
    volumes = {vol.name for vol in project.volumes.values() if not vol.external and vol.name in observed.volumes}
    if opts.labelled:
        networks |= {name for name, n in observed.networks.items()
                     if (n.get("Labels") or {}).get(L.PROJECT) == project.name}
        volumes |= {name for name, v in observed.volumes.items()
                    if (v.get("Labels") or {}).get(L.PROJECT) == project.name}
    for name in sorted(networks):
        plan.add(Op.REMOVE_NETWORK, name, "down", set(removes))
    if opts.volumes:
        for name in sorted(volumes):
            plan.add(Op.REMOVE_VOLUME, name, "down -v", set(removes))
    if opts.rmi:
        for name in sorted(project.services):
            service = project.services[name]
            if opts.rmi == "all" or not service.image:
                ref = service_image(project, service)
                if observed.images.get(ref) is not None:
                    plan.add(Op.REMOVE_IMAGE, ref, f"--rmi {opts.rmi}", set(removes))
    return plan


def _project_graph(project: Project) -> ServiceGraph:
    return ServiceGraph(project)


def plan_stop(project: Project, observed: Observed, services: list[str] | None = None,
              timeout: int | None = None, op: Op = Op.STOP_CONTAINER) -> Plan:
    """Stop (or restart, with ``op``) the running containers of ``services`` (default all), each service after
    the services that depend on it."""
    plan = Plan()
    if not project.services:  # known by name only (``-p NAME``, no file): the labelled containers, no order
        for c in observed.containers:
            if c.running and (not services or c.service in services):
                plan.add(op, c.name, op.name.split("_")[0].lower(), service=c.service, number=c.number,
                         container_id=c.id, args={"timeout": timeout})
        return plan
    graph = _project_graph(project)
    return plan_stop_over(graph.levels(), graph.service_edges(), observed.service_containers,
                          set(services or project.services), timeout, op)


def plan_start(project: Project, observed: Observed, services: list[str] | None = None) -> Plan:
    """Start the stopped containers of ``services`` (default all) in dependency order, waiting for the
    ``depends_on`` conditions as ``up`` does; nothing is created."""
    plan = Plan()
    if not project.services:  # known by name only: start the labelled stopped containers, no waits
        for c in observed.containers:
            if not c.running and not c.oneoff and (not services or c.service in services):
                plan.add(Op.START_CONTAINER, c.name, c.state or "stopped", service=c.service, number=c.number,
                         container_id=c.id)
        return plan
    graph = _project_graph(project)
    return plan_start_over(graph.levels(), graph.service_edges(), observed.service_containers,
                           set(services or project.services))


def plan_run(project: Project, observed: Observed, service: str, opts: UpOptions | None = None) -> Plan:
    """What ``run SERVICE`` needs before its one-off container: the services it depends on brought up as ``up``
    would (unless ``no_deps``), their ``depends_on`` conditions met, and the service's networks, volumes and
    image. The one-off container itself is made by the command after this plan ran."""
    opts = opts or UpOptions()
    graph = ServiceGraph(project)
    deps = [] if opts.no_deps else [s for s in graph.subgraph([service]).services if s != service]
    plan = plan_up(project, observed, UpOptions(**{**opts.__dict__, "services": deps})) if deps else Plan()
    if not deps:
        plan.warnings.clear()
        if opts.remove_orphans:  # ``run --remove-orphans``; with dependencies plan_up removed them
            _orphans(plan, project, observed, True, opts.known_services, opts.timeout)
    doomed = plan_recreations(plan, project, observed, [service], confirmed=opts.recreate_volumes,
                              asked=opts.volumes_asked, timeout=opts.timeout)
    recreate_leftovers(plan, project, observed, doomed, set(deps), opts.no_start)
    _resources(plan, project, project.services[service], observed)
    _image_step(plan, project, project.services[service], observed, opts)
    _volume_image_steps(plan, project, project.services[service], observed, opts)
    _images_first(plan)
    if deps:
        for dep in graph.dependencies(service):
            edge = graph.edge(service, dep)
            sp = _ServicePlan(live=[c.name for c in observed.service_containers(dep)])
            sp.starts = {st.target: k for k, st in plan.steps.items()
                         if st.op is Op.START_CONTAINER and st.service == dep}
            sp.live = sorted(set(sp.live) | set(sp.starts))
            wait_steps(plan, dep, sp.starts, sp.live, edge["condition"], service)
    return plan
