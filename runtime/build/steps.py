"""One build step per instruction: variables in scope, the cache lookup, and the work on a miss (a metadata change,
a RUN in a container, a COPY/ADD into a new layer). Each step hands the next a new ``BuildState``."""
from __future__ import annotations

import codecs
import contextlib
import fnmatch
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.build.cache import cache_key
from runtime.build.context import BuildContext
from runtime.build.copy import Source, copy_into, fetch_url, parse_chmod, resolve_chown
from runtime.build.dockerfile import DockerfileError, Heredoc, Instruction
from runtime.build.dockerignore import IgnoreRules
from runtime.build.metadata import (DEFAULT_SHELL, METADATA, PREDEFINED_ARGS, apply_metadata, arg_words, env_dict,
                                    expand, join_workdir)
from runtime.build.run import Cancellation, RunFailed, cache_mount_dir, parse_run_mount, run_container
from runtime.build.state import BuildState
from runtime.build.substitution import expand_word
from runtime.build.view import lookup, merged_view
from runtime.rootfs import secure_join
from runtime.errors import InvalidArgument, NotFound, Unsupported
from runtime.images.config import now_rfc3339
from runtime.images.digest import chain_ids, short_id
from runtime.images.layertar import write_layer_tar
from runtime.spec import Mount

if TYPE_CHECKING:
    from runtime.build.builder import Builder, BuildOptions

__all__ = ["StageRun", "StepRunner", "RunFailed"]

_VARIABLE = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*")
_HEREDOC_WORD = re.compile(r"^<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2$")


@dataclass
class StageRun:
    """What a stage carries from step to step."""

    state: BuildState
    meta: dict[str, str]
    args: dict[str, str | None] = field(default_factory=dict)
    cmd_set: bool = False

    def variables(self) -> dict[str, str]:
        """For substitution: the stage's ARGs, then ENV (which wins)."""
        return {**{k: v for k, v in self.args.items() if v is not None}, **env_dict(self.state.config)}

    def arg_env(self) -> list[str]:
        """ARGs a RUN sees in its environment (not those an ENV overrides)."""
        env = env_dict(self.state.config)
        return [f"{k}={v}" for k, v in sorted(self.args.items()) if v is not None and k not in env]


class StepRunner:
    def __init__(self, builder: "Builder", context: BuildContext, options: "BuildOptions", escape: str,
                 lease: Any, say: Callable[[str], None], total: int, filename: str = "Dockerfile",
                 cancellation: Cancellation | None = None) -> None:
        self.builder = builder
        self.cancellation = cancellation
        self.filename = filename
        self.store = builder.store
        self.context = context
        self.options = options
        self.escape = escape
        self.lease = lease
        self.say = say
        self.total = total
        self.step = 0
        self.scratch = builder.root / "tmp"
        self.scratch.mkdir(parents=True, exist_ok=True)

    def announce(self, ins: Instruction, text: str | None = None) -> None:
        self.step += 1
        self.say(f"Step {self.step}/{self.total} : {text or ins.original.splitlines()[0]}\n")

    # ---- the cache ------------------------------------------------------------------------------------------
    def _cached(self, state: BuildState, text: str, extra: list[str],
                make: Callable[[], BuildState]) -> BuildState:
        key = cache_key(state, text, extra)
        if not self.options.no_cache:
            hit = self.builder.cache.get(key)
            if hit is not None:
                self.pin(hit)  # from now on no garbage collection takes its layers; were they still there?
                hit = self.builder.cache.get(key)
            if hit is not None:
                self.say(" ---> Using cache\n")
                self.say(f" ---> {short_id(hit.id)}\n")
                return hit
        new = make()
        self.builder.cache.put(key, new)
        self.say(f" ---> {short_id(new.id)}\n")
        return new

    def pin(self, state: BuildState) -> None:
        """Keep the layers and blobs of ``state`` from garbage collection until the build ends."""
        self.lease.add(*chain_ids(state.diff_ids), *(b.digest for b in state.blobs))

    def layer_dirs(self, state: BuildState) -> list[str]:
        return [str(layer.diff_dir) for layer in self.store.layers.chain(state.diff_ids)]

    def view(self, state: BuildState) -> contextlib.AbstractContextManager[Path]:
        return merged_view(self.layer_dirs(state), self.scratch)

    def commit_dir(self, state: BuildState, directory: Path, section: dict[str, Any],
                   created_by: str) -> BuildState:
        with tempfile.TemporaryFile(dir=self.store.root) as spool:
            write_layer_tar(directory, spool)  # type: ignore[arg-type]
            spool.seek(0)
            layer, blob = self.store.add_layer(state.top_chain, spool, label="build step", lease=self.lease)
        return state.with_config(section, {"created": now_rfc3339(), "created_by": created_by},
                                 diff_id=layer.diff_id, blob=blob)

    @staticmethod
    def metadata_state(state: BuildState, section: dict[str, Any], text: str) -> BuildState:
        return state.with_config(section, {"created": now_rfc3339(), "created_by": f"/bin/sh -c #(nop)  {text}",
                                           "empty_layer": True})

    # ---- steps ----------------------------------------------------------------------------------------------
    def execute(self, run: StageRun, ins: Instruction, done: Mapping[str, BuildState], used: set[str],
                trigger: bool = False) -> None:
        if self.cancellation is not None:
            self.cancellation.check()
        if not trigger:  # triggers run under their FROM's step, as Docker prints them
            self.announce(ins)
        variables = run.variables()
        state = run.state
        cmd = ins.cmd
        if cmd == "ARG":
            for name, default in arg_words(ins, variables, self.escape):
                used.add(name)
                given = self.options.build_args.get(name)
                run.args[name] = given if given is not None else default if default is not None \
                    else run.meta.get(name)
            self.say(f" ---> {short_id(state.id)}\n")
            return
        if cmd in METADATA:
            section, text = apply_metadata(state.config, ins, variables, self.escape, cmd_set=run.cmd_set)
            run.cmd_set = run.cmd_set or cmd == "CMD"

            def make() -> BuildState:
                new = self.metadata_state(state, section, text)
                if cmd == "MAINTAINER":
                    return BuildState({**new.image_config, "author": text.split(" ", 1)[1]}, new.blobs,
                                      new.base_name)
                return new

            run.state = self._cached(state, text, [], make)
        elif cmd == "WORKDIR":
            run.state = self._workdir(state, ins, variables)
        elif cmd == "RUN":
            run.state = self._run(run, ins, done)
        elif cmd in ("COPY", "ADD"):
            run.state = self._copy(run, ins, variables, done)
        else:
            raise DockerfileError(f"{cmd} is not allowed here", ins.line)

    def labels(self, state: BuildState, labels: Mapping[str, str]) -> BuildState:
        self.step += 1
        text = "LABEL " + " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
        self.say(f"Step {self.step}/{self.total} : {text}\n")
        section = {**state.config, "Labels": {**(state.config.get("Labels") or {}), **labels}}
        return self._cached(state, text, [], lambda: self.metadata_state(state, section, text))

    def _workdir(self, state: BuildState, ins: Instruction, variables: Mapping[str, str]) -> BuildState:
        path = join_workdir(state.config.get("WorkingDir") or "/", expand(ins, ins.rest, variables, self.escape))
        section = {**state.config, "WorkingDir": path}
        text = f"WORKDIR {path}"

        def make() -> BuildState:
            with self.view(state) as view:
                if lookup(view, path).is_dir():
                    return self.metadata_state(state, section, text)
                with self._layer_dir() as layer:
                    copy_into([], path + "/", view=view, layer=layer, force_dir=True)
                    return self.commit_dir(state, layer, section, f"/bin/sh -c #(nop)  {text}")

        return self._cached(state, text, [], make)

    @contextlib.contextmanager
    def _layer_dir(self) -> Iterator[Path]:
        path = Path(tempfile.mkdtemp(prefix="layer-", dir=self.scratch))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    # ---- RUN ------------------------------------------------------------------------------------------------
    def _run(self, run: StageRun, ins: Instruction, done: Mapping[str, BuildState]) -> BuildState:
        state = run.state
        section = state.config
        shell = list(section.get("Shell") or DEFAULT_SHELL)
        script: Heredoc | None = None  # a heredoc with a #! line runs as a file, with its interpreter
        if ins.json:
            argv = list(ins.args)
        elif ins.heredocs and _HEREDOC_WORD.match(ins.rest.strip()):
            doc = ins.heredocs[0]
            if doc.content.startswith("#!"):
                script = doc
                argv = [*doc.content[2:].splitlines()[0].split(), f"/dev/pipes/{doc.name}"]
            else:
                argv = [*shell, doc.content]
        elif ins.heredocs:
            argv = [*shell, ins.rest + "\n" + "".join(h.content + h.name + "\n" for h in ins.heredocs)]
        else:
            argv = [*shell, ins.rest]
        network = ins.flag("network") or self.options.network or "default"
        mounts = [parse_run_mount(m) for m in ins.flags.get("mount", [])]
        arg_env = run.arg_env()
        declared = env_dict(section).keys() | run.args.keys()
        proxies = [f"{k}={v}" for k, v in sorted(self.options.build_args.items())
                   if k in PREDEFINED_ARGS and v is not None and k not in declared]
        text = "RUN " + json.dumps(argv)
        extra = [f"network={network}", *[repr(m) for m in mounts], *arg_env]
        if script is not None:
            extra.append("script:" + hashlib.sha256(script.content.encode()).hexdigest())
        created_by = (f"|{len(arg_env)} {' '.join(arg_env)} " if arg_env else "") + " ".join(argv)

        def make() -> BuildState:
            with contextlib.ExitStack() as stack:
                spec_mounts = [self._mount(m, stack, done) for m in mounts]
                if script is not None:
                    holder = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=self.scratch)))
                    (holder / script.name).write_text(script.content)
                    os.chmod(holder / script.name, 0o755)
                    spec_mounts.append(Mount("bind", f"/dev/pipes/{script.name}", str(holder / script.name),
                                             read_only=True))
                env = [*(section.get("Env") or []), *arg_env, *proxies]

                def started(cid: str) -> None:
                    self.say(f" ---> Running in {cid[:12]}\n")

                decoder = codecs.getincrementaldecoder("utf-8")("replace")  # a character may span two frames

                def output(data: bytes) -> None:
                    text = decoder.decode(data)
                    if text:
                        self.say(text)

                with run_container(self.builder.containers, layer_dirs=self.layer_dirs(state), argv=argv,
                                   env=env, workdir=section.get("WorkingDir") or "/",
                                   user=section.get("User") or "", network=network, mounts=spec_mounts,
                                   shm_size=self.options.shm_size, output=output, started=started,
                                   extra_hosts=self.options.extra_hosts, cancellation=self.cancellation,
                                   command_text=" ".join(argv)) as (cid, upper):
                    new = self.commit_dir(state, upper, dict(section), created_by)
            self.say(f"Removing intermediate container {cid[:12]}\n")
            return new

        return self._cached(state, text, extra, make)

    def _mount(self, m: Any, stack: contextlib.ExitStack, done: Mapping[str, BuildState]) -> Mount:
        if m.type == "cache":
            return Mount("bind", m.target, str(cache_mount_dir(self.builder.root / "mounts", m)))
        if m.type == "tmpfs":
            return Mount("tmpfs", m.target, tmpfs_size=m.size)
        if m.from_:
            source_state = self.builder.base_state(m.from_, done, False, self.say)
            self.pin(source_state)
            root = stack.enter_context(self.view(source_state))
            source = lookup(root, m.source or "/")
        else:
            rel = os.path.normpath("/" + (m.source or ".")).lstrip("/")
            source = Path(secure_join(str(self.context.root), rel))  # a symlink resolves inside the context
        if not source.exists():
            raise NotFound(f"--mount: source {m.source or '.'} does not exist")
        if not m.read_only:  # rw: the RUN may write, and the writes are thrown away (never into the source)
            copy = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=self.scratch))) / "rw"
            if source.is_dir():
                shutil.copytree(source, copy, symlinks=True)
            else:
                shutil.copy2(source, copy)
            source = copy
        return Mount("bind", m.target, str(source), read_only=m.read_only)

    # ---- COPY / ADD -----------------------------------------------------------------------------------------
    def _copy(self, run: StageRun, ins: Instruction, variables: Mapping[str, str],
              done: Mapping[str, BuildState]) -> BuildState:
        state = run.state
        raw = list(ins.args)
        expanded = [expand(ins, w, variables, self.escape) for w in raw]
        dest, raw_sources, sources = expanded[-1], raw[:-1], expanded[:-1]
        if ins.heredocs and not raw_sources:
            raise DockerfileError(f"{ins.cmd} requires at least one source", ins.line)
        from_ = expand(ins, ins.flag("from") or "", variables, self.escape) if ins.cmd == "COPY" else ""
        chown_spec = expand(ins, ins.flag("chown") or "", variables, self.escape) or None
        chmod = parse_chmod(ins.flag("chmod"))
        checksum = ins.flag("checksum")
        if ins.flags.get("parents"):
            raise Unsupported(f"Dockerfile:{ins.line}: {ins.cmd} --parents is not supported by this builder")
        exclude = IgnoreRules([expand(ins, e, variables, self.escape) for e in ins.flags.get("exclude", [])])
        extra: list[str] = []
        heredocs = {h.name: h for h in ins.heredocs}
        with contextlib.ExitStack() as stack:
            downloads = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=self.scratch)))
            plan: list[tuple[str, Any]] = []  # (kind, data) resolved before the cache lookup
            source_state = None
            if from_:
                source_state = self.builder.base_state(from_, done, self.options.pull, self.say)
                self.pin(source_state)
                extra.append(f"from={source_state.id}")
            for raw_word, word in zip(raw_sources, sources):
                doc = _HEREDOC_WORD.match(raw_word)
                if doc and doc.group(3) in heredocs:
                    content = _heredoc_text(heredocs[doc.group(3)], variables, self.escape)
                    path = downloads / doc.group(3)
                    path.write_text(content)
                    os.chmod(path, 0o644)
                    plan.append(("file", Source(path, doc.group(3))))
                    extra.append("heredoc:" + hashlib.sha256(content.encode()).hexdigest())
                elif ins.cmd == "ADD" and re.match(r"^https?://", word):
                    src, digest = fetch_url(word, downloads / str(len(plan)), checksum)
                    plan.append(("file", src))
                    extra.append(f"url:{word}:{digest}")
                elif source_state is not None:
                    plan.append(("from", word))
                    extra.append(f"path:{word}")
                else:
                    for rel in self.context.match(word):
                        plan.append(("context", rel))
                        extra.append(f"{rel}:{self.context.checksum(rel)}")
            flags = [f"--{k}={expand(ins, v, variables, self.escape)}" for k, vs in sorted(ins.flags.items())
                     for v in vs if k != "link"]  # expanded: a changed --chown=$U is another step
            text = f"{ins.cmd} {' '.join(flags)} {sources} {dest}"

            def make() -> BuildState:
                with contextlib.ExitStack() as inner:
                    view = inner.enter_context(self.view(state))
                    src_view = inner.enter_context(self.view(source_state)) if source_state is not None else None
                    items = self._sources(plan, src_view, ins.cmd == "ADD", exclude)
                    chown = resolve_chown(chown_spec, view)
                    layer = inner.enter_context(self._layer_dir())
                    copy_into(items, dest, view=view, layer=layer, workdir=state.config.get("WorkingDir") or "/",
                              chown=chown, chmod=chmod, force_dir=any(_wild(s) for s in sources))
                    summary = ",".join(e.split(":", 1)[-1][:71] for e in extra) or "-"
                    return self.commit_dir(state, layer, dict(state.config),
                                           f"/bin/sh -c #(nop) {ins.cmd} {summary} in {dest} ")

            return self._cached(state, text, extra, make)

    def _sources(self, plan: list[tuple[str, Any]], src_view: Path | None, add: bool,
                 exclude: IgnoreRules) -> list[Source]:
        out: list[Source] = []
        excluded = bool(exclude.patterns)
        for kind, data in plan:
            if kind == "file":
                out.append(data)
            elif kind == "context":
                rel = data

                def include(sub: str, base: str = rel) -> bool:
                    if excluded and exclude.ignored(sub):
                        return False
                    return self.context.visible(f"{base}/{sub}" if base else sub)

                host = self.context.path(rel)
                out.append(Source(host, os.path.basename(rel) or ".", include=include,
                                  archive=add and host.is_file() and not host.is_symlink()))
            else:
                assert src_view is not None
                paths = _glob_view(src_view, data) if _wild(data) else [str(lookup(src_view, data))]
                if not paths or not all(os.path.lexists(p) for p in paths):
                    raise NotFound(f"COPY failed: stat {data}: file does not exist in the source stage")
                out += [Source(Path(p), os.path.basename(p.rstrip("/")), keep_owner=True,
                               include=(lambda sub: not exclude.ignored(sub)) if excluded else None)
                        for p in paths]
        if not out:
            raise InvalidArgument("no source files were specified")
        return out


def _glob_view(view: Path, pattern: str) -> list[str]:
    """Paths in ``view`` matching ``pattern`` (wildcards in any component), every symlink on the way resolved
    inside the view, never on the host."""
    found = [""]
    for part in [p for p in pattern.split("/") if p not in ("", ".")]:
        nxt = []
        for rel in found:
            directory = lookup(view, rel or "/")
            if not _wild(part):
                nxt.append(f"{rel}/{part}")
                continue
            try:
                names = sorted(os.listdir(directory))
            except (NotADirectoryError, FileNotFoundError):
                continue
            nxt += [f"{rel}/{n}" for n in names if fnmatch.fnmatchcase(n, part)]
        found = nxt
    out = []
    for rel in found:
        parent, name = os.path.split(rel)
        path = lookup(view, parent or "/") / name
        if os.path.lexists(path):
            out.append(str(path))
    return out


def _wild(word: str) -> bool:
    return any(c in word for c in "*?[")


def _heredoc_text(doc: Heredoc, variables: Mapping[str, str], escape: str) -> str:
    """A COPY heredoc's content; with an unquoted delimiter, ``$VAR`` and ``${VAR...}`` are expanded."""
    if not doc.expand:
        return doc.content

    def one(match: re.Match[str]) -> str:
        try:
            return expand_word(match.group(0), variables, escape)
        except ValueError as err:
            raise InvalidArgument(f"heredoc {doc.name}: {err}") from err

    return _VARIABLE.sub(one, doc.content)
