"""The global flags that act through the environment the rest of the client reads, as Docker Compose's own
variables do: ``--ansi`` (``COMPOSE_ANSI``), ``--parallel`` (``COMPOSE_PARALLEL_LIMIT``), ``--compatibility``
(``COMPOSE_COMPATIBILITY``), ``--dry-run`` (``PYCOMPOSE_DRY_RUN``: plans are shown, not executed); and the
refusal under ``--dry-run`` of the commands that cannot rehearse yet; and ``global_options``, the typer callback that
declares the global options (read by typer, and without typer by ``compose.cli.fastpath``)."""
from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Annotated, Optional

from compose.cli._typer import typer

__all__ = ["apply_global_flags", "global_options", "ANSI_MODES", "NO_DRY_RUN"]

ANSI_MODES = ("never", "always", "auto")
# Commands whose changes do not go through a plan (or that run a process): refused under --dry-run, so that a
# dry run never changes anything.
NO_DRY_RUN = frozenset({"exec", "cp", "attach", "commit", "export", "push", "watch", "login", "logout", "engine"})


def apply_global_flags(command: str | None, *, dry_run: bool = False, ansi: str | None = None,
                       parallel: int | None = None, compatibility: bool = False, progress: str | None = None,
                       environ: MutableMapping[str, str] | None = None) -> str | None:
    """Check the flags, put them where the client reads them; the ``--progress`` mode to use (``--ansi never``
    makes ``auto`` plain, ``always`` makes it tty)."""
    from compose.errors import UserError

    env = os.environ if environ is None else environ
    if dry_run and command in NO_DRY_RUN:
        raise UserError.single(f"--dry-run: '{command}' does not support dry-run mode yet; nothing was done")
    if dry_run:
        env["PYCOMPOSE_DRY_RUN"] = "1"  # compose.execute.DRY_RUN_ENV (not imported: it loads the engine client)
    if ansi is not None:
        if ansi not in ANSI_MODES:
            raise UserError.single(f"--ansi {ansi}: expected never, always or auto")
        env["COMPOSE_ANSI"] = ansi
    if parallel is not None:
        if parallel == 0 or parallel < -1:
            raise UserError.single(f"--parallel {parallel}: expected a positive number, or -1 for unlimited")
        env["COMPOSE_PARALLEL_LIMIT"] = str(parallel if parallel > 0 else 1 << 16)
    if compatibility:
        env["COMPOSE_COMPATIBILITY"] = "true"
    mode = env.get("COMPOSE_ANSI", "auto")
    if (progress or env.get("COMPOSE_PROGRESS") or "auto") == "auto" and mode != "auto":
        return "plain" if mode == "never" else "tty"
    return progress


def global_options(
    ctx: typer.Context,
    file: Annotated[Optional[list[str]], typer.Option(
        "--file", "-f", help="Compose configuration file(s); '-' reads stdin.", metavar="FILE")] = None,
    project_name: Annotated[Optional[str], typer.Option(
        "--project-name", "-p", help="Project name.", metavar="NAME")] = None,
    project_directory: Annotated[Optional[str], typer.Option(
        "--project-directory", help="Working directory (default: the first file's directory).",
        metavar="DIR")] = None,
    env_file: Annotated[Optional[list[str]], typer.Option(
        "--env-file", help="Alternate environment file(s).", metavar="FILE")] = None,
    profile: Annotated[Optional[list[str]], typer.Option(
        "--profile", help="Enable a profile (repeatable).", metavar="PROFILE")] = None,
    progress: Annotated[Optional[str], typer.Option(
        "--progress", help="Progress output: auto, tty, plain, json or quiet.", metavar="MODE")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Execute command in dry run mode.")] = False,
    ansi: Annotated[Optional[str], typer.Option(
        "--ansi", help="Control when to print ANSI control characters (never|always|auto).", metavar="WHEN")] = None,
    parallel: Annotated[Optional[int], typer.Option(
        "--parallel", help="Control max parallelism, -1 for unlimited.", metavar="N")] = None,
    compatibility: Annotated[bool, typer.Option("--compatibility", help="Run compose in backward compatibility "
                                                "mode (container names with underscores).")] = False,
    all_resources: Annotated[bool, typer.Option("--all-resources", help="Include all resources, even those not "
                                                "used by services.")] = False,
) -> None:
    """The global options: checked and applied (``apply_global_flags``), then kept in ``ctx.obj``."""
    from compose.cli.options import GlobalOptions

    progress = apply_global_flags(ctx.invoked_subcommand, dry_run=dry_run, ansi=ansi, parallel=parallel,
                                  compatibility=compatibility, progress=progress)
    ctx.obj = GlobalOptions(
        files=list(file or []),
        project_name=project_name,
        project_directory=project_directory,
        env_files=list(env_file or []),
        profiles=list(profile or []),
        progress=progress,
        dry_run=dry_run,
        all_resources=all_resources,
    )
