"""The typer application: global options, one module per command, and ``run(argv) -> exit code``.

Start-up stays light: command modules import their heavy dependencies inside the command body, and take
``typer`` from ``compose.cli._typer`` (imported on first use). The commands in ``FAST_COMMANDS`` run through
``compose.cli.fastpath`` (no typer, no click) whenever their command line holds nothing but options and
arguments it models; help, errors and every other command go through typer as always.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from compose.cli.output import print_problems
from compose.errors import UserError

if TYPE_CHECKING:
    import typer

__all__ = ["COMMAND_MODULES", "EXIT_BUG", "EXIT_OK", "EXIT_USER_ERROR", "FAST_COMMANDS", "build_app", "command_module",
           "run"]

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_BUG = 2

# One module per command, each with ``register(app)``; keep their top-level imports light (``--help`` loads all).
COMMAND_MODULES = ("config", "version", "build",
                   "up", "down", "ps", "logs", "start", "stop", "restart", "rm", "kill", "pause", "unpause",
                   "create", "exec", "run", "pull", "push", "port", "top", "ls", "images", "wait", "events", "engine", "login", "watch",
                   "cp", "scale", "stats", "attach", "commit", "export", "volumes",
                   "publish")
_MODULE_OF = {"logout": "login"}  # commands registered by a module of another name
# Commands run without typer when their line allows (compose.cli.fastpath); their modules take typer from
# compose.cli._typer. Any command may be added once its module does.
FAST_COMMANDS = frozenset({"ps", "logs", "exec", "top", "port", "images", "version", "kill", "pause", "unpause",
                           "start", "stop", "restart", "ls", "events", "config", "cp", "export"})
# Global options that take a value (``-f FILE``): skipped when looking for the command word in argv.
_VALUED = frozenset({"--file", "-f", "--project-name", "-p", "--project-directory", "--env-file", "--profile",
                     "--progress", "--ansi", "--parallel"})

_HELP = "Define and run multi-container applications, on pycompose's own container runtime."


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


def build_app(only: str | None = None) -> "typer.Typer":
    """The application with every command, or (``only``) with the one command a command line runs: typer
    then builds one click command instead of 28, and the other modules are never imported."""
    import typer

    from compose.cli.globalflags import global_options

    app = typer.Typer(
        name="pycompose",
        help=_HELP,
        add_completion=False,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(global_options)
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
        fast = _fast(argv)
        if fast is not None:
            trace.mark("command line parsed (fast path)")
            result = fast()
        else:
            result = _run_typer(argv)
    except UserError as err:
        print_problems(err.problems)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        raise
    except Exception as err:
        code = _click_outcome(err)
        if code is not None:
            return code
        import traceback  # a bug: say so loudly

        traceback.print_exc()
        print("pycompose: internal error (a bug, please report it with the traceback above)", file=sys.stderr)
        return EXIT_BUG
    return result if isinstance(result, int) else EXIT_OK


def _fast(argv: list[str]) -> Any:
    """The fast path's call for ``argv``, or None (typer runs it)."""
    module = command_module(argv)
    if module is None:
        return None
    from compose.cli.fastpath import prepare
    from compose.cli.globalflags import global_options

    return prepare(argv, {name: _MODULE_OF.get(name, name) for name in FAST_COMMANDS}, global_options)


def _run_typer(argv: list[str]) -> Any:
    import typer

    from compose import trace

    app = build_app(command_module(argv))
    trace.mark("commands registered")
    command = typer.main.get_command(app)
    trace.mark("click command built")
    return command.main(args=list(argv), prog_name="pycompose", standalone_mode=False)


def _click_outcome(err: Exception) -> int | None:
    """The exit code for typer's and click's own exceptions (help shown, a usage error...); None for others.
    Only when typer ran: the fast path raises none of them."""
    if "typer" not in sys.modules:
        return None
    import typer

    try:  # recent typer vendors click as typer._click; older typer uses click itself
        from typer._click.exceptions import ClickException
    except ImportError:  # pragma: no cover - depends on the installed typer
        from click.exceptions import ClickException  # type: ignore[no-redef,assignment]

    if isinstance(err, typer.Exit):
        return int(err.exit_code)
    if isinstance(err, ClickException):
        if type(err).__name__ == "NoArgsIsHelpError":  # bare ``pycompose``: help on stdout, like docker compose
            print(err.format_message())
            return EXIT_OK
        err.show()
        return EXIT_USER_ERROR
    if isinstance(err, typer.Abort):
        print("Aborted.", file=sys.stderr)
        return 130
    return None

