"""``pycompose config``: parse, resolve and render the project in canonical form (like ``docker compose config``).

Without flags it prints the canonical project as YAML (``--format json`` for JSON). The listing flags print
one name per line instead: ``--services`` (start order), ``--volumes``, ``--networks``, ``--profiles``,
``--images``, ``--hash SERVICE[,SERVICE...]|*`` (``name hash`` lines), ``--variables`` (the variables the files
use, with their defaults). ``-q`` only validates. ``--no-interpolate`` keeps ``${VAR}`` as written.
``--no-normalize`` prints the merged files without the canonical form; ``--no-consistency`` renders despite
undefined references; ``--no-path-resolution`` keeps host paths as written (``compose.cli._configraw``). ``--resolve-image-digests`` pins images to the digests the
engine pulled (``compose.cli._digests``).
"""
from __future__ import annotations

import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Optional

from compose.cli._typer import typer

if TYPE_CHECKING:
    from compose.cli.options import GlobalOptions
    from compose.project import LoadedProject

__all__ = ["register", "render_config", "start_order"]

_TOP_LEVEL_ORDER = ("name", "services", "networks", "volumes", "secrets", "configs", "models")


class Format(str, Enum):
    yaml = "yaml"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command("config", help="Parse, resolve and render the Compose file in canonical format.")(config)


def config(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(help="Only these services.", metavar="SERVICE",
                                                            show_default=False)] = None,
    output_format: Annotated[str, typer.Option("--format", help="Output format: yaml or json.")] = "yaml",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only validate; print nothing.")] = False,
    list_services: Annotated[bool, typer.Option("--services", help="Print the service names.")] = False,
    list_volumes: Annotated[bool, typer.Option("--volumes", help="Print the volume names.")] = False,
    list_networks: Annotated[bool, typer.Option("--networks", help="Print the network names.")] = False,
    list_profiles: Annotated[bool, typer.Option("--profiles", help="Print the profile names.")] = False,
    list_images: Annotated[bool, typer.Option("--images", help="Print the image names.")] = False,
    hash_services: Annotated[Optional[str], typer.Option(
        "--hash", help="Print the config hash of SERVICE[,SERVICE...] or '*' for all.", metavar="SERVICES")] = None,
    no_interpolate: Annotated[bool, typer.Option("--no-interpolate", help="Don't interpolate variables.")] = False,
    variables: Annotated[bool, typer.Option("--variables", help="Print the variables the files use.")] = False,
    environment: Annotated[bool, typer.Option(
        "--environment", help="Print the environment used for interpolation.")] = False,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write to FILE instead of stdout.",
                                                  metavar="FILE")] = None,
    no_normalize: Annotated[bool, typer.Option("--no-normalize", help="Don't normalize compose model.")] = False,
    no_consistency: Annotated[bool, typer.Option(
        "--no-consistency", help="Don't check model consistency - warning: may produce invalid Compose "
        "output.")] = False,
    resolve_image_digests: Annotated[bool, typer.Option("--resolve-image-digests", help="Pin image tags to "
                                                        "digests.")] = False,
    lock_image_digests: Annotated[bool, typer.Option("--lock-image-digests", help="Produces an override file "
                                                     "with image digests.")] = False,
    no_path_resolution: Annotated[bool, typer.Option("--no-path-resolution", help="Don't resolve file "
                                                     "paths.")] = False,
) -> int:
    from compose.cli.context import global_options, load_for_command

    opts = global_options(ctx)
    wanted = list(services or [])
    fmt = _format(output_format)
    if variables:
        text = _render_variables(opts, fmt)
        return _emit(text, output)
    if no_interpolate:
        text = _render_uninterpolated(opts, wanted, fmt, quiet, list_services, list_volumes, list_networks,
                                      list_profiles)
        return _emit(text, output)
    listing = list_services or list_volumes or list_networks or list_profiles or list_images or environment
    if (no_normalize or no_consistency or no_path_resolution) and not listing and hash_services is None:
        from compose.cli._configraw import render_lenient
        from compose.cli.output import dump_json, dump_yaml

        raw = render_lenient(opts, wanted, normalize=not no_normalize, consistency=not no_consistency,
                             resolve_paths=not no_path_resolution)
        if quiet:
            return 0
        document = _ordered(raw)
        if resolve_image_digests or lock_image_digests:
            document = _pin(document, lock_image_digests)
        return _emit(dump_json(document) if fmt is Format.json else dump_yaml(document), output)
    if quiet:  # validation only: the compose.loadcache summary says so while no file read has changed
        from compose.cli._light import check_project

        check_project(opts, wanted)
        return 0
    loaded = load_for_command(ctx, wanted)
    if environment:
        text = "".join(f"{k}={v}\n" for k, v in sorted(loaded.load.environment.items()))
    elif list_services:
        text = _lines(start_order(loaded, wanted))
    elif list_volumes:
        text = _lines(loaded.canonical.get("volumes") or {})
    elif list_networks:
        text = _lines(loaded.canonical.get("networks") or {})
    elif list_profiles:
        text = _lines(_profiles(loaded))
    elif list_images:
        text = _lines(_images(loaded, wanted))
    elif hash_services is not None:
        text = _render_hashes(loaded, hash_services)
    else:
        document = render_config(loaded, wanted)
        if resolve_image_digests or lock_image_digests:
            document = _pin(document, lock_image_digests)
        if fmt is Format.json:
            from compose.cli.output import dump_json

            text = dump_json(document)
        else:
            from compose.cli.output import dump_yaml

            text = dump_yaml(document)
    return _emit(text, output)


def _pin(document: dict[str, Any], lock: bool) -> dict[str, Any]:
    """Images pinned to digests; ``lock``: only that, as an override file (``services: {name: {image}}``)."""
    from compose.cli._digests import pin_digests
    from compose.engine.client import connect

    pin_digests(connect(), document)
    if not lock:
        return document
    services = document.get("services") or {}
    return {"services": {name: {"image": svc["image"]} if svc.get("image") else {} for name, svc in services.items()}}


def _format(value: str) -> Format:
    try:
        return Format(value.lower())
    except ValueError:
        from compose.errors import UserError

        raise UserError.single(f"--format: unsupported format {value!r}: use yaml or json") from None


def _emit(text: str, output: str | None) -> int:
    if output:
        from pathlib import Path

        from compose.errors import UserError

        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as err:
            raise UserError.single(f"cannot write {output}: {err.strerror}") from None
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0


def _lines(names: Any) -> str:
    return "".join(f"{n}\n" for n in names)


def start_order(loaded: "LoadedProject", wanted: list[str] | None = None) -> list[str]:
    """Service names, dependencies first; within one level sorted by name."""
    from compose.graph import ServiceGraph

    graph = ServiceGraph(loaded.project)
    if wanted:
        graph = graph.subgraph(wanted, with_deps=True)
    return [name for level in graph.levels() for name in sorted(level)]


def _selected(loaded: "LoadedProject", wanted: list[str]) -> dict[str, Any]:
    services = loaded.canonical.get("services") or {}
    if not wanted:
        return dict(services)
    keep = set(start_order(loaded, wanted))
    return {name: svc for name, svc in services.items() if name in keep}


def render_config(loaded: "LoadedProject", wanted: list[str] | None = None) -> dict[str, Any]:
    """The canonical project with ``name`` first and Docker Compose's top-level order."""
    canonical = dict(loaded.canonical)
    canonical["name"] = loaded.name
    canonical["services"] = _selected(loaded, list(wanted or []))
    return _ordered(canonical)


def _ordered(canonical: dict[str, Any]) -> dict[str, Any]:
    """Docker Compose's top-level order (``name`` first, empty sections left out), ``$`` escaped."""
    ordered = {k: canonical[k] for k in _TOP_LEVEL_ORDER if k in canonical and canonical[k] not in (None, {})}
    if "services" not in ordered:
        ordered["services"] = {}
    for key, value in canonical.items():
        if key not in ordered and key not in _TOP_LEVEL_ORDER:
            ordered[key] = value
    return _escape_dollars(ordered)


def _escape_dollars(value: Any) -> Any:
    """``$`` -> ``$$`` in values, so that the output is itself a Compose file meaning the same thing."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _escape_dollars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_dollars(v) for v in value]
    return value


def _profiles(loaded: "LoadedProject") -> list[str]:
    from compose.profiles import all_profiles

    every = dict(loaded.load.config.get("services") or {})
    every.update(loaded.load.disabled_services)
    return all_profiles({"services": every})


def _images(loaded: "LoadedProject", wanted: list[str]) -> list[str]:
    services = _selected(loaded, wanted)
    out = []
    for name in start_order(loaded, wanted):
        if name in services:
            out.append(services[name].get("image") or f"{loaded.name}-{name}")
    return out


def _render_hashes(loaded: "LoadedProject", spec: str) -> str:
    from compose.confighash import service_hash
    from compose.errors import UserError

    services = loaded.canonical.get("services") or {}
    names = sorted(services) if spec.strip() == "*" else [s.strip() for s in spec.split(",") if s.strip()]
    for name in names:
        if name not in services:
            raise UserError.single(f"--hash: no such service: {name}")
    return "".join(f"{name} {service_hash(loaded.project, name)}\n" for name in names)


def _render_uninterpolated(opts: "GlobalOptions", wanted: list[str], fmt: Format, quiet: bool,
                           services: bool, volumes: bool, networks: bool, profiles: bool) -> str:
    """``--no-interpolate``: the merged files as written (templates kept), schema-checked but not normalized:
    short syntax such as ``"${PORT}:80"`` cannot be parsed before its variables are known."""
    from compose.cli.output import dump_json, dump_yaml, print_warnings
    from compose.errors import UserError
    from compose.loader import load
    from compose.profiles import all_profiles
    from compose.schema import validate

    result = load(opts.load_options(services=wanted, interpolate=False))
    problems = validate(result.config, result.sources)
    if problems:
        raise UserError(list(problems))
    print_warnings(result.warnings)
    config = dict(result.config)
    all_services = config.get("services") or {}
    unknown = [s for s in wanted if s not in all_services]
    if unknown:
        raise UserError.single(f"no such service: {unknown[0]}")
    if quiet:
        return ""
    if services:
        return _lines(sorted(all_services))
    if volumes or networks:
        return _lines(sorted(config.get("volumes" if volumes else "networks") or {}))
    if profiles:
        return _lines(all_profiles({"services": {**all_services, **result.disabled_services}}))
    if wanted:
        config["services"] = {k: v for k, v in all_services.items() if k in wanted}
    document = {"name": result.project_name, **{k: v for k, v in config.items() if k != "name"}}
    return dump_json(document) if fmt is Format.json else dump_yaml(document)


def _render_variables(opts: "GlobalOptions", fmt: Format) -> str:
    """The variables the (uninterpolated) files use: name, required, default, alternate."""
    from compose.interpolate import Variable, template_variables
    from compose.loader import load

    result = load(opts.load_options(interpolate=False))
    found: dict[str, Variable] = {}

    def walk(value: Any) -> None:
        if isinstance(value, str):
            template_variables(value, found)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(result.config)
    walk(result.disabled_services)
    rows = [found[k] for k in sorted(found)]
    if fmt is Format.json:
        from compose.cli.output import dump_json

        return dump_json({v.name: {"Name": v.name, "DefaultValue": v.default or "",
                                   "PresenceValue": v.alternate or "", "Required": v.required} for v in rows})
    table = [("NAME", "REQUIRED", "DEFAULT VALUE", "ALTERNATE VALUE")]
    table += [(v.name, str(v.required).lower(), v.default or "", v.alternate or "") for v in rows]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    return "".join("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n" for r in table)
