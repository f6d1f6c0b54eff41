"""The global flags that act through the environment the rest of the client reads, as Docker Compose's own
variables do: ``--ansi`` (``COMPOSE_ANSI``), ``--parallel`` (``COMPOSE_PARALLEL_LIMIT``), ``--compatibility``
(``COMPOSE_COMPATIBILITY``), ``--dry-run`` (``PYCOMPOSE_DRY_RUN``: plans are shown, not executed); and the
refusal under ``--dry-run`` of the commands that cannot rehearse yet."""
from __future__ import annotations

import os
from collections.abc import MutableMapping

__all__ = ["apply_global_flags", "ANSI_MODES", "NO_DRY_RUN"]

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
