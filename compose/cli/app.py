"""The typer application: global options, one module per command, and ``run(argv) -> exit code``.

Start-up stays light: command modules import their heavy dependencies inside the command body, so
``pycompose --help`` loads only typer/click and these small modules.
"""
from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

try:  # recent typer vendors click as typer._click; older typer uses click itself
    from typer._click.exceptions import ClickException as _ClickException
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import ClickException as _ClickException  # type: ignore[no-redef,assignment]

from compose.cli.options import GlobalOptions
from compose.cli.output import print_problems
from compose.errors import UserError

__all__ = ["COMMAND_MODULES", "EXIT_BUG", "EXIT_OK", "EXIT_USER_ERROR", "build_app", "command_module", "run"]

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_BUG = 2

# One module per command, each with ``register(app)``; keep their top-level imports light (``--help`` loads all).
COMMAND_MODULES = ("config", "version", "build",
                   "up", "down", "ps", "logs", "start", "stop", "restart", "rm", "kill", "pause", "unpause",
                   "create", "exec", "run", "pull", "push", "port", "top", "ls", "images", "wait", "events", "engine", "login", "watch",
                   "cp", "scale", "stats", "attach", "commit", "export", "volumes")
_MODULE_OF = {"logout": "login"}  # commands registered by a module of another name
# Global options that take a value (``-f FILE``): skipped when looking for the command word in argv.
_VALUED = frozenset({"--file", "-f", "--project-name", "-p", "--project-directory", "--env-file", "--profile",
                     "--progress", "--ansi", "--parallel"})

_HELP = "Define and run multi-container applications, on pycompose's own container runtime."


def _global_options(
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
    from compose.cli.globalflags import apply_global_flags

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


def command_module(argv: list[str]) -> str | None:
    """The module of the command ``argv`` names (after the global options), or None (none named, ``--help``,
    an unknown word: then every command is registered, for the full help or click's error)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--":
            return None
        elif arg.startswith("-"):
            if arg in ("-h", "--help"):
                return None
            skip = arg in _VALUED  # ``--file=X`` and ``-fX`` carry their value
        else:
            module = _MODULE_OF.get(arg, arg)
            return module if module in COMMAND_MODULES else None
    return None


def build_app(only: str | None = None) -> typer.Typer:
    """The application with every command, or (``only``) with the one command a command line runs: typer
    then builds one click command instead of 28, and the other modules are never imported."""
    app = typer.Typer(
        name="pycompose",
        help=_HELP,
        add_completion=False,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_global_options)
    import importlib

    for name in (only,) if only else COMMAND_MODULES:
        importlib.import_module(f"compose.cli.{name}").register(app)
    return app


def run(argv: list[str]) -> int:
    """Run one command line; return the exit code. User errors exit 1, bugs print a traceback and exit 2."""
    try:
        return _run(argv)
    except BrokenPipeError:  # stdout closed early (``pycompose config | head``): not an error of ours
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_USER_ERROR


def _run(argv: list[str]) -> int:
    from compose import trace

    try:
        app = build_app(command_module(argv))
        trace.mark("commands registered")
        command = typer.main.get_command(app)
        trace.mark("click command built")
        result = command.main(args=list(argv), prog_name="pycompose", standalone_mode=False)
    except UserError as err:
        print_problems(err.problems)
        return EXIT_USER_ERROR
    except typer.Exit as err:
        return err.exit_code
    except _ClickException as err:
        if type(err).__name__ == "NoArgsIsHelpError":  # bare ``pycompose``: help on stdout, like docker compose
            print(err.format_message())
            return EXIT_OK
        err.show()
        return EXIT_USER_ERROR
    except typer.Abort:
        print("Aborted.", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        raise
    except Exception:  # a bug: say so loudly
        import traceback

        traceback.print_exc()
        print("pycompose: internal error (a bug, please report it with the traceback above)", file=sys.stderr)
        return EXIT_BUG
    return result if isinstance(result, int) else EXIT_OK
