"""``config --no-normalize`` and ``config --no-consistency``: the project rendered from the steps before the
model. ``--no-normalize`` prints the merged, interpolated files (short syntax kept, no defaults added);
``--no-consistency`` skips the cross-reference checks (undefined networks, volumes, secrets, services in
``depends_on`` ...), printing them as warnings, and renders what the files say anyway (the output may then not
be a valid Compose file, as Docker Compose warns); ``--no-path-resolution`` keeps relative host paths (bind
sources, build contexts, env files, secret and config files ...) as written."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compose.cli.options import GlobalOptions

__all__ = ["render_lenient"]


def render_lenient(opts: "GlobalOptions", wanted: list[str], *, normalize: bool = True, consistency: bool = True,
                   resolve_paths: bool = True) -> dict[str, Any]:
    """The document ``config`` prints (``name`` first; ``$`` not yet escaped)."""
    from compose.canonical import canonicalize
    from compose.cli.output import print_warnings
    from compose.envfiles import apply_env_files
    from compose.errors import Problem, UserError
    from compose.loader import load
    from compose.schema import validate
    from compose.validate import check

    result = load(opts.load_options(services=wanted))
    problems = validate(result.config, result.sources)
    if problems:
        raise UserError(list(problems))
    errors, warnings = check(result.config, result.sources, result.disabled_services)
    if errors and consistency:
        raise UserError(list(errors))
    print_warnings(list(result.warnings) + list(warnings) +
                   [Problem(f"{p.message} (--no-consistency: rendered anyway)", p.path, p.location) for p in errors])
    document = dict(result.config)
    if normalize:
        resolved = apply_env_files(canonicalize(result.config, result.project_dir, result.environment),
                                   result.environment)
        document = resolved if resolve_paths else _paths_as_written(result, resolved)
    services = document.get("services") or {}
    unknown = [s for s in wanted if s not in services]
    if unknown:
        raise UserError.single(f"no such service: {unknown[0]}")
    if wanted:
        document["services"] = {k: v for k, v in services.items() if k in _with_dependencies(services, wanted)}
    return {"name": result.project_name, **{k: v for k, v in document.items() if k != "name"}}


def _paths_as_written(result: Any, resolved: dict[str, Any]) -> dict[str, Any]:
    """The canonical form with host paths as the files wrote them; the ``env_file`` values still read (from
    the resolved paths) into each service's ``environment``."""
    from compose.canonical import canonicalize

    document = canonicalize(result.config, result.project_dir, result.environment, resolve_paths=False)
    for name, service in (document.get("services") or {}).items():
        environment = ((resolved.get("services") or {}).get(name) or {}).get("environment")
        if environment is not None:
            service["environment"] = environment
    return document


def _with_dependencies(services: dict[str, Any], wanted: list[str]) -> set[str]:
    """``wanted`` and what they depend on (short or long ``depends_on``), leaving out undefined names."""
    seen: set[str] = set()
    todo = list(wanted)
    while todo:
        name = todo.pop()
        if name in seen or name not in services:
            continue
        seen.add(name)
        depends = (services[name] or {}).get("depends_on") or ()
        todo.extend(depends if isinstance(depends, list) else list(depends))
    return seen
