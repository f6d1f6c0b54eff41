"""The whole client-side pipeline: load -> schema -> semantic checks -> canonical (+ env files) -> typed model.

Every command that needs a project calls ``load_project``. Problems the user must fix come out as one
``UserError`` listing all of them (schema errors first, then semantic errors); warnings are collected.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compose.errors import Problem, UserError
from compose.loader import LoadOptions, LoadResult, load, paused_gc
from compose.model import Project

__all__ = ["LoadedProject", "load_project", "validate_loaded"]


@dataclass
class LoadedProject:
    load: LoadResult
    canonical: dict[str, Any]
    project: Project
    warnings: list[Problem] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.load.project_name


def validate_loaded(result: LoadResult) -> list[Problem]:
    """Schema and semantic checks of a loaded config; raises ``UserError`` with every error; returns warnings."""
    from compose.schema import validate
    from compose.validate import check

    problems = validate(result.config, result.sources)
    if problems:
        raise UserError(list(problems))
    errors, warnings = check(result.config, result.sources, result.disabled_services)
    if errors:
        raise UserError(list(errors))
    return list(warnings)


def _located(problem: Problem, result: LoadResult) -> Problem:
    if problem.location is not None or not problem.path:
        return problem
    return Problem(problem.message, problem.path, result.sources.locate(problem.path))


def load_project(options: LoadOptions | None = None) -> LoadedProject:
    """Load, validate, canonicalize and model the project the options describe."""
    from compose.canonical import canonicalize
    from compose.envfiles import apply_env_files

    with paused_gc():
        result = load(options)
        warnings = list(result.warnings) + validate_loaded(result)
        canonical = canonicalize(result.config, result.project_dir, result.environment)
        try:
            canonical = apply_env_files(canonical, result.environment)
        except UserError as err:
            raise UserError([_located(p, result) for p in err.problems]) from None
        project = Project.from_dict(canonical, result.project_name)
    return LoadedProject(result, canonical, project, warnings)
