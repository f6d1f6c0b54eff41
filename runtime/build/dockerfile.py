"""A Dockerfile parser: directives, continuations, comments, heredocs, exec and shell forms, flags.

``parse(text)`` gives a ``Dockerfile``: the parser directives, the ``ARG``s before the first ``FROM`` and the
stages, each a list of ``Instruction``s that keep their line numbers. Variable substitution is not done here: it
depends on build-time state (build args, ``ENV``) and happens in the builder through ``substitution``. Errors are
``DockerfileError``s that name the file and line.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from runtime.errors import InvalidArgument

__all__ = ["DockerfileError", "Heredoc", "Instruction", "Stage", "Dockerfile", "parse", "INSTRUCTIONS"]

INSTRUCTIONS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})
# Instructions whose arguments may be a JSON array (exec form).
_JSON_FORMS = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "VOLUME", "ADD", "COPY"})
# Instructions whose non-JSON form is one command line for the shell (kept whole, never split).
_SHELL_FORMS = frozenset({"RUN", "CMD", "ENTRYPOINT"})
# Instructions that may carry heredocs.
_HEREDOC_FORMS = frozenset({"RUN", "COPY", "ADD"})
_FLAGS = {
    "FROM": {"platform"},
    "RUN": {"mount", "network", "security"},
    "COPY": {"from", "chown", "chmod", "link", "parents", "exclude"},
    "ADD": {"chown", "chmod", "link", "keep-git-dir", "checksum", "exclude"},
    "HEALTHCHECK": {"interval", "timeout", "start-period", "start-interval", "retries"},
}
_DIRECTIVE = re.compile(r"^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$")
_HEREDOC = re.compile(r"<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


class DockerfileError(InvalidArgument):
    def __init__(self, message: str, line: int | None = None, filename: str = "Dockerfile") -> None:
        self.line = line
        self.filename = filename
        where = f"{filename}:{line}: " if line else f"{filename}: "
        super().__init__(where + message)


@dataclass(frozen=True)
class Heredoc:
    name: str
    content: str
    expand: bool  # False when the delimiter was quoted
    strip_tabs: bool


@dataclass(frozen=True)
class Instruction:
    """One instruction. ``args`` is the JSON list (exec form), the whole command line as one item (shell form of
    RUN/CMD/ENTRYPOINT), or else the words of the line as written (quotes kept); ``rest`` is the text after the
    flags, as written."""

    cmd: str
    line: int
    original: str
    flags: dict[str, list[str]]
    args: list[str]
    rest: str
    json: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    sub: "Instruction | None" = None  # the triggered instruction of an ONBUILD

    def flag(self, name: str, default: str | None = None) -> str | None:
        values = self.flags.get(name)
        return values[-1] if values else default


@dataclass
class Stage:
    index: int
    base: str
    name: str | None
    platform: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    directives: dict[str, str]
    escape: str
    meta_args: list[Instruction]
    stages: list[Stage]

    def stage(self, target: str | None) -> Stage:
        if target is None:
            return self.stages[-1]
        for stage in self.stages:
            if stage.name == target.lower():
                return stage
        raise DockerfileError(f"target stage {target!r} could not be found")


def _read_directives(lines: list[str]) -> tuple[dict[str, str], int]:
    directives: dict[str, str] = {}
    for index, line in enumerate(lines):
        match = _DIRECTIVE.match(line.strip())
        if not match or not line.lstrip().startswith("#"):
            return directives, index
        key = match.group(1).lower()
        if key in directives:
            raise DockerfileError(f"only one {key} parser directive can be used", index + 1)
        directives[key] = match.group(2)
    return directives, len(lines)


def _continues(line: str, escape: str) -> bool:
    stripped = line.rstrip()
    if not stripped.endswith(escape):
        return False
    # An escaped escape character at the end does not continue the line.
    run = len(stripped) - len(stripped.rstrip(escape))
    return run % 2 == 1


def _logical_lines(lines: list[str], start: int, escape: str, filename: str):
    """Yield (first line number, text, heredoc bodies) for each instruction."""
    i = start
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        first = i + 1
        parts: list[str] = []
        line = raw
        while True:
            if _continues(line, escape):
                parts.append(line.rstrip()[:-1])
                i += 1
                # Comment lines and empty lines inside a continuation are dropped.
                while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                    i += 1
                if i >= len(lines):
                    break
                line = lines[i]
                continue
            parts.append(line)
            i += 1
            break
        text = "".join(parts).strip()
        heredocs: list[Heredoc] = []
        keyword = text.split(None, 1)[0].upper() if text else ""
        if keyword == "ONBUILD" and len(text.split(None, 2)) > 1:
            keyword = text.split(None, 2)[1].upper()
        if keyword in _HEREDOC_FORMS:
            for match in _HEREDOC.finditer(text):
                strip_tabs, quote, name = match.group(1) == "-", match.group(2), match.group(3)
                body: list[str] = []
                while True:
                    if i >= len(lines):
                        raise DockerfileError(f"unterminated heredoc {name!r}", first, filename)
                    candidate = lines[i]
                    i += 1
                    check = candidate.lstrip("\t") if strip_tabs else candidate
                    if check.rstrip("\r") == name:
                        break
                    body.append(candidate.lstrip("\t") if strip_tabs else candidate)
                content = "".join(line + "\n" for line in body)
                heredocs.append(Heredoc(name, content, expand=not quote, strip_tabs=strip_tabs))
        yield first, text, tuple(heredocs)


def _split_flags(cmd: str, rest: str, line: int, filename: str) -> tuple[dict[str, list[str]], str]:
    flags: dict[str, list[str]] = {}
    allowed = _FLAGS.get(cmd, set())
    while rest.startswith("--"):
        token, _, remainder = rest.partition(" ")
        if token == "--":
            rest = remainder.lstrip()
            break
        name, eq, value = token[2:].partition("=")
        if name not in allowed:
            raise DockerfileError(f"unknown flag: --{name} for {cmd}", line, filename)
        flags.setdefault(name, []).append(value if eq else "true")
        rest = remainder.lstrip()
    return flags, rest


def _json_args(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _parse_instruction(text: str, line: int, heredocs: tuple[Heredoc, ...], escape: str,
                       filename: str, nested: bool = False) -> Instruction:
    from runtime.build.substitution import SubstitutionError, split_words

    keyword, _, rest = text.partition(" ")
    keyword_upper = keyword.upper()
    if "\t" in keyword:  # "RUN\tcmd"
        keyword, _, more = keyword.partition("\t")
        keyword_upper, rest = keyword.upper(), (more + " " + rest).strip()
    if keyword_upper not in INSTRUCTIONS:
        raise DockerfileError(f"unknown instruction: {keyword}", line, filename)
    rest = rest.strip()
    if keyword_upper == "ONBUILD":
        if nested:
            raise DockerfileError("ONBUILD ONBUILD is not allowed", line, filename)
        if not rest:
            raise DockerfileError("ONBUILD requires an instruction", line, filename)
        inner = _parse_instruction(rest, line, heredocs, escape, filename, nested=True)
        if inner.cmd in ("FROM", "MAINTAINER", "ONBUILD"):
            raise DockerfileError(f"{inner.cmd} isn't allowed as an ONBUILD trigger", line, filename)
        return Instruction("ONBUILD", line, text, {}, [rest], rest, sub=inner)
    flags, rest = _split_flags(keyword_upper, rest, line, filename)
    args = _json_args(rest) if keyword_upper in _JSON_FORMS else None
    is_json = args is not None
    if keyword_upper == "HEALTHCHECK" and rest[:3].upper() == "CMD" and rest[3:4] in (" ", "\t", "["):
        exec_form = _json_args(rest[3:].strip())
        if exec_form is not None:
            args, is_json = ["CMD", *exec_form], True
    if args is None and keyword_upper in _SHELL_FORMS:
        args = [rest] if rest else []
    if args is None:
        try:
            args = split_words(rest, escape)
        except SubstitutionError as err:
            raise DockerfileError(str(err), line, filename) from err
    instruction = Instruction(keyword_upper, line, text, flags, args, rest, is_json, heredocs)
    _check_arity(instruction, filename)
    return instruction


def _check_arity(ins: Instruction, filename: str) -> None:
    cmd, args = ins.cmd, ins.args
    need_one = {"FROM", "USER", "WORKDIR", "STOPSIGNAL", "EXPOSE", "VOLUME", "ARG", "ENV", "LABEL", "MAINTAINER"}
    if cmd in need_one and not args:
        raise DockerfileError(f"{cmd} requires at least one argument", ins.line, filename)
    if cmd in ("RUN",) and not args and not ins.heredocs:
        raise DockerfileError("RUN requires at least one argument", ins.line, filename)
    if cmd in ("COPY", "ADD") and len(args) + len(ins.heredocs) < 2:
        raise DockerfileError(f"{cmd} requires at least two arguments, but only one was provided. "
                              "Destination could not be determined", ins.line, filename)
    if cmd == "SHELL" and not ins.json:
        raise DockerfileError("SHELL requires the arguments to be in JSON form", ins.line, filename)
    if cmd in ("USER", "WORKDIR", "STOPSIGNAL") and len(args) != 1 and cmd != "WORKDIR":
        raise DockerfileError(f"{cmd} requires exactly one argument", ins.line, filename)
    if cmd == "FROM":
        if len(args) not in (1, 3) or (len(args) == 3 and args[1].lower() != "as"):
            raise DockerfileError("FROM requires either one or three arguments (FROM image [AS name])",
                                  ins.line, filename)
    if cmd == "ENV" and "=" not in args[0] and len(args) < 2:
        raise DockerfileError("ENV must have two arguments", ins.line, filename)
    if cmd == "HEALTHCHECK":
        kind = args[0].upper() if args else ""
        if kind not in ("NONE", "CMD"):
            raise DockerfileError("HEALTHCHECK requires NONE or CMD", ins.line, filename)
        if kind == "NONE" and (len(args) > 1 or ins.flags):
            raise DockerfileError("HEALTHCHECK NONE takes no other arguments", ins.line, filename)
        if kind == "CMD" and len(args) < 2:
            raise DockerfileError("HEALTHCHECK CMD requires a command", ins.line, filename)


def parse(text: str, filename: str = "Dockerfile") -> Dockerfile:
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.replace("\r\n", "\n").split("\n")
    directives, start = _read_directives(lines)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(f"invalid escape token {escape!r} does not match ` or \\", 1, filename)
    meta_args: list[Instruction] = []
    stages: list[Stage] = []
    for line, logical, heredocs in _logical_lines(lines, start, escape, filename):
        ins = _parse_instruction(logical, line, heredocs, escape, filename)
        if ins.cmd == "FROM":
            name = ins.args[2].lower() if len(ins.args) == 3 else None
            if name is not None:
                if not re.fullmatch(r"[a-z][a-z0-9_.-]*", name):
                    raise DockerfileError(f"invalid name for build stage: {ins.args[2]!r}", line, filename)
                if any(s.name == name for s in stages):
                    raise DockerfileError(f"duplicate name {name!r} for build stage", line, filename)
            stages.append(Stage(len(stages), ins.args[0], name, ins.flag("platform"), line, [ins]))
        elif not stages:
            if ins.cmd != "ARG":
                raise DockerfileError(f"{ins.cmd} cannot be used before the first FROM", line, filename)
            meta_args.append(ins)
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise DockerfileError("the Dockerfile has no FROM instruction", None, filename)
    return Dockerfile(directives, escape, meta_args, stages)
