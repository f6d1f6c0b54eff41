"""The builder: a Dockerfile and a context in, an image in the store out, printed the way Docker's classic builder
prints (``Step 2/5 : RUN ...``, `` ---> Using cache``, ``Successfully built``).

Stages run in order up to the target; ARGs before the first FROM feed FROM lines and are re-declared inside a
stage to be used there; build args override defaults; ENV beats ARG of the same name. Every step is cached on the
state it starts from, the instruction after substitution and the checksums of what it copies (steps.py).
"""
from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.build.cache import BuildCache
from runtime.build.context import BuildContext
from runtime.build.dockerfile import Dockerfile, DockerfileError, Instruction, Stage, parse
from runtime.build.metadata import PREDEFINED_ARGS, arg_words, expand
from runtime.build.state import BuildState
from runtime.build.steps import StageRun, StepRunner
from runtime.build.view import release_views
from runtime.build.run import BUILD_LABEL, BuildCancelled, Cancellation, RunFailed
from runtime.errors import EngineError, InvalidArgument, NotFound, Unsupported
from runtime.images.config import config_bytes, host_platform
from runtime.images.digest import short_id
from runtime.images.image import Image
from runtime.images.reference import parse_reference
from runtime.images.store import ImageStore

__all__ = ["BuildOptions", "Builder", "Emit", "check_platform", "needed_stages"]

Emit = Callable[[str], None]
Pull = Callable[[str], Image]


@dataclass
class BuildOptions:
    dockerfile: str = "Dockerfile"
    dockerfile_text: str | None = None  # inline Dockerfile (compose's dockerfile_inline); wins over ``dockerfile``
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str | None] = field(default_factory=dict)
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    no_cache: bool = False
    pull: bool = False
    network: str = "default"
    shm_size: int = 0
    extra_hosts: list[tuple[str, str]] = field(default_factory=list)  # (name, address) for RUN's /etc/hosts
    quiet: bool = False


class Builder:
    """``containers`` is the runtime's ``ContainerService`` (RUN steps are its containers); ``pull(ref)`` fetches
    a base image that is missing (or every base with ``pull``); ``root`` holds the cache and cache mounts."""

    def __init__(self, store: ImageStore, containers: Any, root: Path, pull: Pull | None = None) -> None:
        self.store = store
        self.containers = containers
        self.root = Path(root)
        self.cache = BuildCache(self.root / "cache", store)
        self.pull = pull

    def remove_leftovers(self) -> int:
        """After a crash: remove RUN containers and scratch files a build left (call before any build runs).
        Returns how many containers were removed."""
        removed = 0
        for state in self.containers.list():
            if state.spec.labels.get(BUILD_LABEL) == "true":
                with contextlib.suppress(EngineError):
                    self.containers.remove(state.id, force=True)
                    removed += 1
        for name in ("tmp", "contexts"):
            scratch = self.root / name
            if scratch.is_dir():
                release_views(scratch)
                for entry in scratch.iterdir():
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)
        return removed

    def prune(self, everything: bool = False) -> tuple[list[str], int]:
        """``docker builder prune``: forget cached steps (all with ``everything``, else stale ones) and, with
        ``everything``, the ``RUN --mount=type=cache`` directories. (ids removed, bytes freed)"""
        removed, freed = self.cache.prune(everything)
        mounts = self.root / "mounts"
        if everything and mounts.is_dir():
            for entry in sorted(mounts.iterdir()):
                freed += _tree_size(entry)
                shutil.rmtree(entry, ignore_errors=True)
                removed.append("cache-mount:" + entry.name)
        return removed, freed

    def build(self, context: BuildContext, options: BuildOptions, emit: Emit,
              built: Callable[[Image], None] | None = None, cancellation: Cancellation | None = None) -> Image:
        """Build; ``emit`` gets the progress text, ``built(image)`` the image just before the closing lines;
        ``cancellation.cancel()`` from another thread stops it (``BuildCancelled``)."""
        say: Emit = (lambda _t: None) if options.quiet else emit
        tags = [str(parse_reference(t)) for t in options.tags]  # bad names fail before any work
        text = options.dockerfile_text if options.dockerfile_text is not None else context.read_dockerfile()
        name = "Dockerfile" if options.dockerfile_text is not None else options.dockerfile
        dockerfile = parse(text, name)
        target = dockerfile.stage(options.target)
        meta = self._meta_args(dockerfile, options.build_args)
        stages = needed_stages(dockerfile, target, meta)
        total = sum(len(s.instructions) for s in stages) + (1 if options.labels else 0)
        used: set[str] = set()
        with self.store.lease() as lease:
            steps = StepRunner(self, context, options, dockerfile.escape, lease, say, total, name, cancellation)
            done: dict[str, BuildState] = {}
            state = BuildState.scratch()
            for stage in stages:
                state = self._stage(steps, stage, meta, done, used)
                done[str(stage.index)] = state
                if stage.name:
                    done[stage.name] = state
            if options.labels:
                state = steps.labels(state, options.labels)
            image = self.store.add_image(config_bytes(state.image_config), state.blobs, references=tags)
        declared = {n for ins in dockerfile.meta_args for n, _ in arg_words(ins, {}, dockerfile.escape)}
        unused = sorted(set(options.build_args) - used - declared - PREDEFINED_ARGS)
        if unused:
            say(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n")
        if built is not None:
            built(image)
        say(f"Successfully built {short_id(image.id)}\n")
        for tag in options.tags:
            say(f"Successfully tagged {_familiar_tag(tag)}\n")
        return image

    # ---- stages ---------------------------------------------------------------------------------------------
    @staticmethod
    def _meta_args(dockerfile: Dockerfile, build_args: Mapping[str, str | None]) -> dict[str, str]:
        values: dict[str, str] = _platform_args()
        for ins in dockerfile.meta_args:
            for name, default in arg_words(ins, values, dockerfile.escape):
                given = build_args.get(name)
                if given is not None:
                    values[name] = given
                elif default is not None:
                    values[name] = default
        return values

    def _stage(self, steps: StepRunner, stage: Stage, meta: dict[str, str], done: dict[str, BuildState],
               used: set[str]) -> BuildState:
        head = stage.instructions[0]
        base = expand(head, stage.base, meta, steps.escape)
        if not base:
            raise DockerfileError("base name (" + stage.base + ") should not be blank", head.line)
        if stage.platform:
            check_platform(expand(head, stage.platform, meta, steps.escape), head.line)
        steps.announce(head, f"FROM {base}" + (f" AS {stage.name}" if stage.name else ""))
        state = self.base_state(base, done, steps.options.pull, steps.say)
        steps.pin(state)
        if base.lower() != "scratch":
            steps.say(f" ---> {short_id(state.id)}\n")
        run = StageRun(state=state, meta=meta)
        triggers = list(state.config.get("OnBuild") or [])
        if triggers:
            steps.say(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n")
            section = dict(run.state.config)
            section.pop("OnBuild", None)
            run.state = _replace_section(run.state, section)
            for trigger in triggers:
                ins = _parse_trigger(trigger, head.line)
                _at_line(steps.execute, steps.filename, ins, run, ins, done, used, trigger=True)
        for ins in stage.instructions[1:]:
            _at_line(steps.execute, steps.filename, ins, run, ins, done, used)
        return run.state

    def base_state(self, base: str, done: Mapping[str, BuildState], pull: bool, say: Emit) -> BuildState:
        """The state a FROM (or COPY --from) names: scratch, an earlier stage, or an image (pulled if needed)."""
        if base.lower() == "scratch":
            return BuildState.scratch()
        if base.lower() in done:
            return done[base.lower()]
        image = self.resolve_image(base, pull, say)
        return BuildState.of_image(image, base)

    def resolve_image(self, ref: str, pull: bool, say: Emit) -> Image:
        if not pull:
            try:
                return self.store.resolve(ref)
            except NotFound:
                if self.pull is None:
                    raise
        if self.pull is None:
            raise InvalidArgument(f"cannot pull {ref}: this builder has no registry access")
        say(f"Pulling {ref}\n")
        try:
            return self.pull(ref)
        except NotFound:
            raise
        except Exception as err:  # noqa: BLE001 - registry failures are reported with the image name
            raise NotFound(f"pull access denied or image not found: {ref}: {err}") from err


def needed_stages(dockerfile: Dockerfile, target: Stage, meta: Mapping[str, str]) -> list[Stage]:
    """The stages the target depends on (its FROM, ``COPY --from``, ``RUN --mount from=``), in file order; the
    others are skipped, as BuildKit does. A reference made with a variable keeps every earlier stage."""
    by_name = {s.name: s for s in dockerfile.stages if s.name}
    wanted = {target.index}
    todo = [target]
    while todo:
        stage = todo.pop()
        refs = [expand(stage.instructions[0], stage.base, meta, dockerfile.escape).lower()]
        for ins in stage.instructions[1:]:
            refs += [v.lower() for v in ins.flags.get("from", [])]
            refs += [part.split("=", 1)[1].lower() for m in ins.flags.get("mount", []) for part in m.split(",")
                     if part.startswith("from=")]
        for ref in refs:
            if "$" in ref:
                found = dockerfile.stages[: stage.index]
            elif ref.isdigit() and int(ref) < stage.index:
                found = [dockerfile.stages[int(ref)]]
            else:
                found = [by_name[ref]] if ref in by_name and by_name[ref].index < stage.index else []
            for dep in found:
                if dep.index not in wanted:
                    wanted.add(dep.index)
                    todo.append(dep)
    return [s for s in dockerfile.stages if s.index in wanted]


def check_platform(text: str, line: int | None = None) -> None:
    """Builds run on this host's platform only: another one (``--platform=linux/arm64`` on amd64) is refused."""
    plat = host_platform()
    parts = text.strip().lower().split("/")
    if not parts[0]:
        return
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(parts[1], parts[1]) if len(parts) > 1 else plat["architecture"]
    if parts[0] != plat["os"] or arch != plat["architecture"]:
        message = (f"platform {text} is not supported: this builder runs steps on the host "
                   f"({plat['os']}/{plat['architecture']}) and does not emulate others")
        raise DockerfileError(message, line) if line else Unsupported(message)


def _platform_args() -> dict[str, str]:
    """BuildKit's automatic platform args (TARGETARCH...), which many Dockerfiles declare with ``ARG``: we build
    for the host only, so build and target platform are the host's."""
    plat = host_platform()
    text = f"{plat['os']}/{plat['architecture']}" + (f"/{plat['variant']}" if plat.get("variant") else "")
    out = {}
    for prefix in ("TARGET", "BUILD"):
        out.update({f"{prefix}PLATFORM": text, f"{prefix}OS": plat["os"], f"{prefix}ARCH": plat["architecture"],
                    f"{prefix}VARIANT": plat.get("variant", "")})
    return out


def _tree_size(path: Path) -> int:
    total = 0
    for base, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(base, name)).st_size
    return total


def _at_line(step: Callable[..., None], filename: str, ins: Instruction, *args: Any, **kw: Any) -> None:
    """Run a step; an engine error it raises names the Dockerfile line (the same error type, so the status
    and the client's view stay right)."""
    try:
        step(*args, **kw)
    except (DockerfileError, RunFailed, BuildCancelled):
        raise
    except EngineError as err:
        text = str(err)
        if text.startswith(f"{filename}:"):
            raise
        message = f"{filename}:{ins.line}: {ins.cmd}: {text}"
        try:
            located = type(err)(message)
        except TypeError:  # an error type with more arguments (StartFailed): keep its meaning, lose the extras
            located = InvalidArgument(message)
        raise located from err


def _replace_section(state: BuildState, section: dict[str, Any]) -> BuildState:
    cfg = dict(state.image_config)
    cfg["config"] = section
    return BuildState(cfg, state.blobs, state.base_name)


def _parse_trigger(text: str, line: int) -> Instruction:
    try:
        parsed = parse("FROM scratch\n" + text + "\n", "ONBUILD trigger")
    except DockerfileError as err:
        raise DockerfileError(f"invalid ONBUILD trigger {text!r}: {err}", line) from err
    ins = parsed.stages[0].instructions[1]
    return Instruction(ins.cmd, line, ins.original, ins.flags, ins.args, ins.rest, ins.json, ins.heredocs, ins.sub)


def _familiar_tag(tag: str) -> str:
    ref = parse_reference(tag)
    text = str(ref)
    for prefix in ("docker.io/library/", "docker.io/"):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text

