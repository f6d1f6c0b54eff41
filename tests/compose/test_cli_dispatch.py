"""The command line registers only the command it names: every command must be found that way, and the global
options before it must not be taken for it."""
from __future__ import annotations

import pytest
import typer

from compose.cli.app import build_app, command_module


def _commands(app: typer.Typer) -> set[str]:
    group = typer.main.get_command(app)
    return set(group.commands)  # type: ignore[attr-defined]


def test_every_command_is_registered_by_the_module_its_name_leads_to():
    names = _commands(build_app())
    assert {"up", "down", "login", "logout", "engine"} <= names
    for name in sorted(names):
        module = command_module([name])
        assert module is not None, name
        assert name in _commands(build_app(module)), f"{name}: not registered by compose.cli.{module}"


@pytest.mark.parametrize(("argv", "module"), [
    (["up", "-d"], "up"),
    (["-f", "down", "ps"], "ps"),  # a file named like a command
    (["--file=up", "-p", "x", "--profile", "logs", "down", "-t", "0"], "down"),
    (["-fup", "ps"], "ps"),
    (["--progress", "quiet", "logout"], "login"),
    (["--help"], None),
    (["-h", "up"], None),
    ([], None),
    (["nope"], None),
])
def test_the_command_word_is_found_after_the_global_options(argv, module):
    assert command_module(argv) == module
