"""Instructions that change only the image config (ENV, LABEL, EXPOSE, VOLUME, USER, WORKDIR, CMD, ENTRYPOINT,
STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD, MAINTAINER): pure functions from the config section and the instruction
(variables already known) to the new section and the text the history records."""
from __future__ import annotations

import copy
import re
import posixpath
from collections.abc import Mapping
from typing import Any

from runtime.build.dockerfile import DockerfileError, Instruction
from runtime.build.substitution import SubstitutionError, expand_word, expand_words
from runtime.errors import InvalidArgument
from runtime.images.config import parse_changes

__all__ = ["PREDEFINED_ARGS", "DEFAULT_SHELL", "METADATA", "apply_metadata", "env_dict", "key_values", "expand",
           "expand_all", "join_workdir", "arg_words"]

DEFAULT_SHELL = ["/bin/sh", "-c"]
# Build args every RUN sees without an ARG, kept out of the image's history and the cache key (as Docker does).
PREDEFINED_ARGS = frozenset({"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                             "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"})
METADATA = frozenset({"ENV", "LABEL", "EXPOSE", "VOLUME", "USER", "CMD", "ENTRYPOINT", "STOPSIGNAL", "HEALTHCHECK",
                      "SHELL", "ONBUILD", "MAINTAINER"})


def env_dict(section: Mapping[str, Any]) -> dict[str, str]:
    return dict(e.split("=", 1) if "=" in e else (e, "") for e in section.get("Env") or [])


def expand(ins: Instruction, text: str, variables: Mapping[str, str], escape: str) -> str:
    try:
        return expand_word(text, variables, escape)
    except SubstitutionError as err:
        raise DockerfileError(str(err), ins.line) from err


def expand_all(ins: Instruction, text: str, variables: Mapping[str, str], escape: str) -> list[str]:
    try:
        return expand_words(text, variables, escape)
    except SubstitutionError as err:
        raise DockerfileError(str(err), ins.line) from err


def key_values(ins: Instruction, variables: Mapping[str, str], escape: str) -> list[tuple[str, str]]:
    """``k=v k2="v 2"`` or the legacy ``key value with spaces`` of ENV and LABEL, expanded."""
    words = ins.args
    if words and "=" not in words[0]:
        key, _, rest = ins.rest.partition(" ") if " " in ins.rest else ins.rest.partition("\t")
        return [(expand(ins, key, variables, escape), expand(ins, rest.strip(), variables, escape))]
    out = []
    for word in words:
        expanded = expand(ins, word, variables, escape)
        if "=" not in expanded:
            raise DockerfileError(f"{ins.cmd} names can not be blank or must be followed by '=': {word!r}", ins.line)
        key, _, value = expanded.partition("=")
        if not key:
            raise DockerfileError(f"{ins.cmd} names can not be blank", ins.line)
        out.append((key, value))
    return out


def _command(ins: Instruction, section: Mapping[str, Any]) -> list[str]:
    if ins.json:
        return list(ins.args)
    shell = list(section.get("Shell") or DEFAULT_SHELL)
    return [*shell, ins.rest] if ins.rest else []


def apply_metadata(section: Mapping[str, Any], ins: Instruction, variables: Mapping[str, str], escape: str,
                   *, cmd_set: bool = True) -> tuple[dict[str, Any], str]:
    """(new config section, the instruction as the history shows it). ``cmd_set``: has this stage set CMD yet
    (an ENTRYPOINT clears an inherited CMD)."""
    out = copy.deepcopy(dict(section))
    cmd = ins.cmd
    if cmd == "ENV":
        pairs = key_values(ins, variables, escape)
        env = env_dict(out)
        env.update(pairs)
        out["Env"] = [f"{k}={v}" for k, v in env.items()]
        return out, "ENV " + " ".join(f"{k}={v}" for k, v in pairs)
    if cmd == "LABEL":
        pairs = key_values(ins, variables, escape)
        out["Labels"] = {**(out.get("Labels") or {}), **dict(pairs)}
        return out, "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)
    if cmd == "EXPOSE":
        ports = dict(out.get("ExposedPorts") or {})
        words = expand_all(ins, ins.rest, variables, escape)
        for word in words:
            port, _, proto = word.partition("/")
            proto = (proto or "tcp").lower()
            first, _, last = port.partition("-")
            if not first.isdigit() or (last and not last.isdigit()) or proto not in ("tcp", "udp", "sctp"):
                raise DockerfileError(f"invalid containerPort: {word}", ins.line)
            for number in range(int(first), int(last or first) + 1):
                ports[f"{number}/{proto}"] = {}
        out["ExposedPorts"] = ports
        return out, "EXPOSE " + " ".join(sorted(ports))
    if cmd == "VOLUME":
        paths = [expand(ins, a, variables, escape) for a in ins.args] if ins.json \
            else expand_all(ins, ins.rest, variables, escape)
        if not paths or any(not p.strip() for p in paths):
            raise DockerfileError("VOLUME specified can not be an empty string", ins.line)
        out["Volumes"] = {**(out.get("Volumes") or {}), **{p: {} for p in paths}}
        return out, "VOLUME " + str(paths)
    if cmd in ("USER", "STOPSIGNAL"):
        value = expand(ins, ins.rest, variables, escape)
        out["User" if cmd == "USER" else "StopSignal"] = value
        return out, f"{cmd} {value}"
    if cmd == "CMD":
        out["Cmd"] = _command(ins, out)
        return out, "CMD " + str(out["Cmd"])
    if cmd == "ENTRYPOINT":
        out["Entrypoint"] = _command(ins, out) or None
        if not cmd_set:
            out["Cmd"] = None
        return out, "ENTRYPOINT " + str(out["Entrypoint"])
    if cmd == "SHELL":
        if not ins.args:
            raise DockerfileError("SHELL requires at least one argument", ins.line)
        out["Shell"] = list(ins.args)
        return out, "SHELL " + str(out["Shell"])
    if cmd == "HEALTHCHECK":
        flags = " ".join(f"--{k}={v}" for k, vs in ins.flags.items() for v in vs)
        try:
            check = parse_changes([f"HEALTHCHECK {flags} {ins.rest}".replace("  ", " ")])["Healthcheck"]
        except InvalidArgument as err:
            raise DockerfileError(str(err), ins.line) from err
        out["Healthcheck"] = check
        return out, "HEALTHCHECK " + str(check)
    if cmd == "ONBUILD":
        out["OnBuild"] = list(out.get("OnBuild") or []) + [ins.rest]
        return out, "ONBUILD " + ins.rest
    if cmd == "MAINTAINER":
        return out, "MAINTAINER " + expand(ins, ins.rest, variables, escape)
    raise DockerfileError(f"{cmd} is not a metadata instruction", ins.line)


def join_workdir(current: str, new: str) -> str:
    return posixpath.normpath(posixpath.join(current or "/", new))


def arg_words(ins: Instruction, variables: Mapping[str, str], escape: str) -> list[tuple[str, str | None]]:
    """``ARG a b=2 c="x y"`` -> [(a, None), (b, "2"), (c, "x y")], defaults expanded."""
    out: list[tuple[str, str | None]] = []
    for word in ins.args:
        name, eq, default = word.partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise DockerfileError(f"ARG names can not be blank or invalid: {word!r}", ins.line)
        out.append((name, expand(ins, default, variables, escape) if eq else None))
    return out
