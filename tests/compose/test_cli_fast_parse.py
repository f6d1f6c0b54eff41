"""``compose.cli.fastpath`` against typer itself: for the fast commands, the parameters read without typer match
the click command typer builds, and every sample command line either parses to the same values as click's
parse or is left to typer (never accepted where click refuses it, never read differently)."""
from __future__ import annotations

import pytest

from compose.cli import fastpath
from compose.cli._argspec import spec_of
from compose.cli.app import _MODULE_OF, FAST_COMMANDS, build_app
from compose.cli.globalflags import global_options


def _click_command(name: str):
    import typer

    group = typer.main.get_command(build_app(_MODULE_OF.get(name, name)))
    return group, group.commands[name]


@pytest.mark.parametrize("name", sorted(FAST_COMMANDS))
def test_spec_matches_the_click_command_typer_builds(name):
    func, _ = fastpath.command_function(_MODULE_OF.get(name, name), name)
    spec = spec_of(func)
    assert spec is not None, f"{name}: the fast path cannot read its parameters"
    _, command = _click_command(name)
    ours = {p.name: p for p in spec if p.kind != "context"}
    assert set(ours) == {p.name for p in command.params}
    for param in command.params:
        mine = ours[param.name]
        if param.param_type_name == "option":
            assert mine.kind == "option"
            assert set(mine.names) == set(param.opts), name
            assert set(mine.off_names) == set(param.secondary_opts), name
            assert mine.type is bool if param.is_flag else mine.type is not bool
            assert mine.many == param.multiple, name
        else:
            assert mine.kind == "argument"
            assert mine.many == (param.nargs == -1), name
            assert mine.required == param.required, name


def test_global_options_match_the_typer_callback():
    group, _ = _click_command("ps")
    spec = {p.name: p for p in spec_of(global_options) if p.kind == "option"}
    assert set(spec) == {p.name for p in group.params}
    for param in group.params:
        assert set(spec[param.name].names) == set(param.opts)
        assert spec[param.name].many == param.multiple


def _normal(value):
    if isinstance(value, (tuple, list)):
        return list(value) or None
    return value


_SAMPLES = [
    ["ps"], ["ps", "-q"], ["ps", "-aq"], ["ps", "--all", "--format", "json", "box"], ["ps", "--format=json"],
    ["ps", "--status", "running", "--status=exited"], ["ps", "--no-orphans", "a", "b"], ["ps", "--filter"],
    ["ps", "--nope"], ["ps", "-x"], ["ps", "--all=1"], ["ps", "--", "-a"],
    ["logs", "-f", "--tail", "5", "box"], ["logs", "-n5", "-t", "box"], ["logs", "--index", "x"],
    ["logs", "--since", "-1m", "box"], ["logs", "-ft", "--no-color", "box", "web"],
    ["exec", "-T", "box", "ls", "-l", "--help"], ["exec", "box"], ["exec", "-e", "A=1", "-eB=2", "box", "env"],
    ["exec", "-u", "0", "-w", "/tmp", "--index", "2", "box", "sh", "-c", "x"], ["exec", "--index=2.5", "box", "x"],
    ["exec", "box", "-T", "true"], ["exec", "-dT", "box", "sleep", "1"],
    ["top"], ["top", "box", "web"], ["port", "box", "80"], ["port", "box"], ["port", "box", "eighty"],
    ["port", "--protocol", "udp", "box", "53", "extra"], ["port", "box", "-1"],
    ["images", "-q"], ["images", "--format", "json", "box"], ["version"], ["version", "--short"],
    ["version", "extra"], ["kill", "-s", "HUP", "box"], ["kill", "-sHUP"], ["kill", "-s"], ["pause", "box"],
    ["unpause"], ["stop", "-t", "0"], ["stop", "-t", "x"], ["restart", "--no-deps", "-t5", "box"],
    ["start", "--wait", "--wait-timeout", "1.5"], ["ls", "-a", "--filter", "name=x"], ["events", "--json", "box"],
    ["-p", "x", "ps"], ["-f", "a.yaml", "-f", "b.yaml", "--profile", "p", "ps", "-q"], ["--dry-run", "kill"],
    ["--parallel", "2", "--ansi", "never", "ps"], ["--parallel", "two", "ps"], ["-p"], ["--help"], ["ps", "-h"],
    ["-h", "ps"], ["--progress=quiet", "--compatibility", "--all-resources", "ps"], ["--env-file", ".e", "top"],
    ["--project-directory", "/tmp", "images"], ["nosuch"], ["config"], ["up", "-d"], ["--", "ps"], [],
    ["config", "-q"], ["config", "--format", "json", "--services", "web"], ["config", "--hash", "*"],
    ["-f", "x.yaml", "config", "-qo", "out.yaml"], ["config", "--format"], ["config", "--no-such"],
]


def _click_parse(argv):
    """What click makes of ``argv``: (global values, command name, command values), or None when it refuses
    it or would show help."""
    import typer

    group = typer.main.get_command(build_app(fastpath_module(argv)))
    try:
        top = group.make_context("pycompose", list(argv), resilient_parsing=False)
        protected = getattr(top, "_protected_args", None) or getattr(top, "protected_args", [])
        name, command, rest = group.resolve_command(top, list(protected) + top.args)
        sub = command.make_context(name, rest, parent=top)
    except (typer.Exit, Exception) as err:  # noqa: BLE001 - click's usage errors and help exits
        if type(err).__module__.split(".")[0] in ("click", "typer"):
            return None
        raise
    return ({k: _normal(v) for k, v in top.params.items()}, name, {k: _normal(v) for k, v in sub.params.items()})


def fastpath_module(argv):
    from compose.cli.app import command_module

    return command_module(argv)


@pytest.mark.parametrize("argv", _SAMPLES, ids=lambda a: " ".join(a) or "(none)")
def test_the_fast_parse_is_clicks_or_none(argv):
    commands = {name: _MODULE_OF.get(name, name) for name in FAST_COMMANDS}
    line = fastpath.read_line(argv, commands, global_options)
    clicks = _click_parse(argv)
    if line is None:
        return  # typer runs it: the same outcome by construction
    assert clicks is not None, f"the fast path accepts {argv}, click refuses it"
    assert line.command == clicks[1]
    assert {k: _normal(v) for k, v in line.global_args.items() if k != "ctx"} == clicks[0]
    assert {k: _normal(v) for k, v in line.args.items() if k != "ctx"} == clicks[2]


_EVERYDAY = [["ps"], ["ps", "-q"], ["-p", "x", "ps", "-a"], ["logs", "box"], ["logs", "-f", "--tail", "5", "box"],
             ["exec", "-T", "box", "true"], ["exec", "box", "sh", "-c", "echo --help"], ["top"], ["port", "box", "80"],
             ["images"], ["version"], ["kill", "-s", "SIGCONT", "box"], ["pause", "box"], ["unpause", "box"],
             ["stop", "-t", "0"], ["start"], ["restart", "box"], ["ls", "-a"], ["events", "--json"],
             ["config", "-q"], ["config"]]


@pytest.mark.parametrize("argv", _EVERYDAY, ids=" ".join)
def test_everyday_lines_take_the_fast_path(argv):
    commands = {name: _MODULE_OF.get(name, name) for name in FAST_COMMANDS}
    assert fastpath.read_line(argv, commands, global_options) is not None
    assert _click_parse(argv) is not None


def test_exec_keeps_the_command_words_after_the_service():
    commands = {name: _MODULE_OF.get(name, name) for name in FAST_COMMANDS}
    line = fastpath.read_line(["exec", "-T", "box", "ls", "-T", "--help", "--", "x"], commands, global_options)
    assert line is not None and line.args["service"] == "box"
    assert line.args["command"] == ["ls", "-T", "--help", "--", "x"] and line.args["no_tty"] is True
