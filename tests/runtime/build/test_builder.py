"""The builder with real Dockerfiles on the busybox base: every instruction, stages, args, cache, whiteouts."""
from __future__ import annotations

import gzip
import os
import io
import json
import tarfile
from pathlib import Path

import pytest

from runtime.build.dockerfile import DockerfileError
from runtime.build.run import RunFailed
from runtime.errors import NotFound

pytestmark = pytest.mark.root


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    path = tmp_path / "ctx"
    path.mkdir()
    return path


METADATA_DOCKERFILE = """\
# syntax=docker/dockerfile:1
FROM busybox:test
MAINTAINER someone@example.com
LABEL a=1 "b c"="two words"
ENV GREETING="hello world" OTHER=x
ENV LEGACY value with spaces
EXPOSE 80 53/udp 8000-8001
VOLUME ["/data", "/logs"]
USER nobody
WORKDIR /srv
WORKDIR app
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --retries=2 CMD wget -q -O- http://localhost/ || exit 1
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/echo"]
CMD ["from", "cmd"]
ONBUILD RUN echo triggered
"""


def test_every_metadata_instruction_lands_in_the_config(benv, ctx):
    image = benv.build(ctx, METADATA_DOCKERFILE, tags=["meta:1"])
    cfg = image.config
    assert image.image_config["author"] == "someone@example.com"
    assert cfg["Labels"] == {"a": "1", "b c": "two words"}
    env = dict(e.split("=", 1) for e in cfg["Env"])
    assert env["GREETING"] == "hello world" and env["OTHER"] == "x" and env["LEGACY"] == "value with spaces"
    assert set(cfg["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}
    assert set(cfg["Volumes"]) == {"/data", "/logs"}
    assert cfg["User"] == "nobody" and cfg["WorkingDir"] == "/srv/app" and cfg["StopSignal"] == "SIGQUIT"
    assert cfg["Healthcheck"]["Test"] == ["CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"]
    assert cfg["Healthcheck"]["Interval"] == 5_000_000_000 and cfg["Healthcheck"]["Retries"] == 2
    assert cfg["Shell"] == ["/bin/sh", "-ec"]
    assert cfg["Entrypoint"] == ["/bin/echo"] and cfg["Cmd"] == ["from", "cmd"]
    assert cfg["OnBuild"] == ["RUN echo triggered"]
    base = benv.store.resolve("busybox:test")
    assert len(image.diff_ids) == len(base.diff_ids) + 2  # only the WORKDIRs that made a directory add layers
    empty = [h for h in image.history if h.get("empty_layer")]
    assert len(empty) == 13
    code, out = benv.run("meta:1", "sh", "-c", "pwd; id -u")
    assert (code, out) == (0, "/srv/app\n65534\n")


def test_entrypoint_clears_an_inherited_cmd_and_shell_form_uses_shell(benv, ctx):
    image = benv.build(ctx, 'FROM busybox:test\nSHELL ["/bin/sh", "-xc"]\nENTRYPOINT echo hi\n')
    assert image.config["Entrypoint"] == ["/bin/sh", "-xc", "echo hi"]
    assert image.config.get("Cmd") is None


RUN_DOCKERFILE = """\
FROM busybox:test
ARG FLAVOUR=plain
ENV FROM_ENV=env
RUN echo "$FLAVOUR $FROM_ENV" > /shell-form
RUN ["/bin/sh", "-c", "echo exec form > /exec-form"]
RUN <<EOF
echo line one > /heredoc
echo "arg is $FLAVOUR" >> /heredoc
EOF
RUN cat <<'EOT' > /quoted
$NOT_EXPANDED
EOT
RUN <<SCRIPT
#!/bin/sh -e
echo "run as a file: $0" > /script
SCRIPT
"""


def test_run_forms_heredoc_args_and_env(benv, ctx):
    benv.build(ctx, RUN_DOCKERFILE, tags=["runs:1"], build_args={"FLAVOUR": "spicy"})
    code, out = benv.run("runs:1", "cat", "/shell-form", "/exec-form", "/heredoc", "/quoted", "/script")
    assert code == 0
    assert out == "spicy env\nexec form\nline one\narg is spicy\n$NOT_EXPANDED\nrun as a file: /dev/pipes/SCRIPT\n"
    image = benv.store.resolve("runs:1")
    for blob in image.blobs[1:]:  # the script's mount point lives on the container's /dev, not in a layer
        with gzip.GzipFile(fileobj=io.BytesIO(benv.store.blobs.read(blob.digest))) as fh:
            assert not [n for n in tarfile.open(fileobj=fh, mode="r|").getnames() if n.startswith("dev")]
    assert not any(e.startswith("FLAVOUR=") for e in image.config["Env"])  # ARGs are not kept in the image
    assert "|1 FLAVOUR=spicy" in json.dumps(image.history)


def test_failing_run_raises_with_exit_code_and_leaves_no_container(benv, ctx):
    with pytest.raises(RunFailed) as info:
        benv.build(ctx, "FROM busybox:test\nRUN echo out; echo err >&2; exit 7\n")
    assert info.value.code == 7
    assert "out\n" in benv.output and "err\n" in benv.output
    assert benv.containers.list() == []


WHITEOUT_DOCKERFILE = """\
FROM busybox:test
RUN mkdir -p /opt/dir /opt/opq && echo 1 > /opt/dir/a && echo 2 > /opt/b && echo keep > /opt/c && touch /opt/opq/old
RUN rm /opt/b && rm -r /opt/dir && rm /etc/passwd
RUN mkdir /opt/dir && echo fresh > /opt/dir/new && rm -r /opt/opq && mkdir /opt/opq && touch /opt/opq/only
"""


def test_whiteouts_a_file_deleted_in_a_later_layer_is_absent(benv, ctx):
    image = benv.build(ctx, WHITEOUT_DOCKERFILE, tags=["wh:1"])
    code, out = benv.run("wh:1", "sh", "-c", "ls -A /opt /opt/dir /opt/opq; test -e /etc/passwd || echo nopasswd")
    assert code == 0
    assert out == "/opt:\nc\ndir\nopq\n\n/opt/dir:\nnew\n\n/opt/opq:\nonly\nnopasswd\n"
    with gzip.GzipFile(fileobj=io.BytesIO(benv.store.blobs.read(image.blobs[-1].digest))) as fh:
        assert "opt/opq/.wh..wh..opq" in tarfile.open(fileobj=fh, mode="r|").getnames()  # an opaque directory
    # the deletion layer carries AUFS whiteouts, as registries and Docker expect
    blob = image.blobs[-2]
    with gzip.GzipFile(fileobj=io.BytesIO(benv.store.blobs.read(blob.digest))) as fh:
        names = tarfile.open(fileobj=fh, mode="r|").getnames()
    assert {"opt/.wh.b", "etc/.wh.passwd", "opt/.wh.dir"} <= set(names)
    # mount points the runtime made for the RUN (hosts, resolv.conf, /proc...) are not part of any layer
    for blob in image.blobs[1:]:
        with gzip.GzipFile(fileobj=io.BytesIO(benv.store.blobs.read(blob.digest))) as fh:
            names = tarfile.open(fileobj=fh, mode="r|").getnames()
        assert not {"etc/hosts", "etc/resolv.conf", "etc/hostname", "proc", "sys"} & set(names), names


COPY_DOCKERFILE = """\
FROM busybox:test
COPY src /dst/
COPY src/one.txt /renamed.txt
COPY *.conf /confs/
COPY --chown=nobody:nogroup --chmod=640 src/one.txt /owned/
COPY --chown=1234 --link src/sub /numeric
WORKDIR /rel
COPY src/one.txt here.txt
RUN ln -s /dst /linkdir
COPY a.conf /linkdir/
"""


def test_copy_rules_chown_chmod_and_dockerignore(benv, ctx):
    (ctx / "src" / "sub").mkdir(parents=True)
    (ctx / "src" / "one.txt").write_text("one\n")
    (ctx / "src" / "sub" / "two.txt").write_text("two\n")
    (ctx / "src" / "skip.log").write_text("log\n")
    (ctx / "src" / "keep.log").write_text("kept\n")
    (ctx / "a.conf").write_text("a\n")
    (ctx / "b.conf").write_text("b\n")
    (ctx / ".dockerignore").write_text("**/*.log\n!src/keep.log\n")
    benv.build(ctx, COPY_DOCKERFILE, tags=["copy:1"])
    code, out = benv.run("copy:1", "sh", "-c",
                         "find /dst /confs /numeric | sort; cat /renamed.txt /rel/here.txt /dst/a.conf;"
                         "stat -c '%u:%g %a' /owned/one.txt /numeric/two.txt /dst/one.txt")
    assert code == 0, out
    assert out.split("\n") == [
        "/confs", "/confs/a.conf", "/confs/b.conf",
        "/dst", "/dst/a.conf", "/dst/keep.log", "/dst/one.txt", "/dst/sub", "/dst/sub/two.txt",
        "/numeric", "/numeric/two.txt",
        "one", "one", "a",
        "65534:65534 640", "1234:1234 644", "0:0 644", ""]
    with pytest.raises(NotFound):
        benv.build(ctx, "FROM busybox:test\nCOPY src/skip.log /x\n")


def test_add_unpacks_archives_and_fetches_urls(benv, ctx, tmp_path):
    import hashlib
    import http.server
    import threading

    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as tar:
        data = b"from the archive\n"
        info = tarfile.TarInfo("pkg/readme")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (ctx / "bundle.tar.gz").write_bytes(gzip.compress(inner.getvalue()))
    served = tmp_path / "www"
    served.mkdir()
    (served / "remote.txt").write_text("over http\n")
    digest = "sha256:" + hashlib.sha256(b"over http\n").hexdigest()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(served), **kw)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/remote.txt"
        benv.build(ctx, f"FROM busybox:test\nADD bundle.tar.gz /unpacked/\nADD --checksum={digest} {url} /dl/\n"
                        "COPY bundle.tar.gz /copied/\n", tags=["add:1"])
        code, out = benv.run("add:1", "sh", "-c", "cat /unpacked/pkg/readme /dl/remote.txt; stat -c %a "
                                                  "/dl/remote.txt; ls /copied")
        assert (code, out) == (0, "from the archive\nover http\n600\nbundle.tar.gz\n")
        with pytest.raises(Exception, match="checksum"):
            benv.build(ctx, f"FROM busybox:test\nADD --checksum=sha256:{'0' * 64} {url} /dl/\n")
    finally:
        server.shutdown()
        server.server_close()


HEREDOC_COPY = """\
FROM busybox:test
ARG NAME=world
COPY <<EOF /greeting.txt
hello ${NAME}
EOF
COPY <<-"RAW" /raw.txt
\t$NAME stays
\tRAW
"""


def test_copy_heredoc(benv, ctx):
    benv.build(ctx, HEREDOC_COPY, tags=["hd:1"])
    code, out = benv.run("hd:1", "cat", "/greeting.txt", "/raw.txt")
    assert (code, out) == (0, "hello world\n$NAME stays\n")


MULTI_STAGE = """\
ARG BASE=busybox:test
FROM ${BASE} AS builder
ARG BASE
RUN mkdir /out && echo "built on $BASE" > /out/artifact && chown 42:42 /out/artifact && ln -s /etc /hostetc \
    && echo "image passwd" > /etc/passwd-image
FROM scratch AS bare
COPY --from=builder /out/artifact /artifact
FROM busybox:test AS final
COPY --from=builder /out /from-stage
COPY --from=0 /out/artifact /from-index
COPY --from=busybox:test /bin/busybox /copied-busybox
COPY --from=builder /o*/art* /globbed/
COPY --from=builder /hostetc/pass* /leak/
FROM busybox:test AS unused
RUN exit 1
"""


def test_multi_stage_target_scratch_and_copy_from(benv, ctx):
    final = benv.build(ctx, MULTI_STAGE, target="final", tags=["ms:final"])
    code, out = benv.run("ms:final", "sh", "-c", "cat /from-stage/artifact /from-index; stat -c %u "
                                                 "/from-stage/artifact; test -x /copied-busybox && echo ok; "
                                                 "ls /globbed /leak")
    assert (code, out) == (0, "built on busybox:test\nbuilt on busybox:test\n42\nok\n/globbed:\nartifact\n\n"
                              "/leak:\npasswd\npasswd-image\n")  # the image's /etc, through its own symlink
    code, out = benv.run("ms:final", "cat", "/leak/passwd-image")
    assert (code, out) == (0, "image passwd\n")
    bare = benv.build(ctx, MULTI_STAGE, target="bare", tags=["ms:bare"])
    assert len(bare.diff_ids) == 1 and bare.id != final.id
    with pytest.raises(DockerfileError, match="target stage"):
        benv.build(ctx, MULTI_STAGE, target="nope")


def test_cache_hits_misses_and_no_cache(benv, ctx):
    (ctx / "file.txt").write_text("v1\n")
    dockerfile = "FROM busybox:test\nRUN date +%s%N > /stamp\nCOPY file.txt /file.txt\nRUN cat /file.txt > /copy\n"
    first = benv.build(ctx, dockerfile)
    again = benv.build(ctx, dockerfile)
    assert again.id == first.id and benv.output.count(" ---> Using cache") == 3
    (ctx / "file.txt").write_text("v2\n")
    changed = benv.build(ctx, dockerfile)
    assert changed.id != first.id
    assert benv.output.count(" ---> Using cache") == 1  # the RUN before the COPY
    assert changed.diff_ids[:-2] == first.diff_ids[:-2]
    fresh = benv.build(ctx, dockerfile, no_cache=True)
    assert " ---> Using cache" not in benv.output and fresh.diff_ids[-3] != changed.diff_ids[-3]
    benv.build(ctx, dockerfile, build_args={"UNUSED": "1"})
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in benv.output


def test_onbuild_triggers_run_in_the_child_build(benv, ctx):
    (ctx / "app.txt").write_text("app\n")
    benv.build(ctx, "FROM busybox:test\nONBUILD COPY app.txt /app/\nONBUILD RUN echo child > /app/by-trigger\n",
               tags=["onbuild:base"])
    child = benv.build(ctx, "FROM onbuild:base\nRUN ls /app > /listing\n", tags=["onbuild:child"])
    assert "# Executing 2 build triggers" in benv.output
    assert not child.config.get("OnBuild")
    code, out = benv.run("onbuild:child", "cat", "/listing", "/app/by-trigger")
    assert (code, out) == (0, "app.txt\nby-trigger\nchild\n")


MOUNTS = """\
FROM busybox:test
ARG N
RUN --mount=type=cache,target=/cache echo $N >> /cache/runs && cat /cache/runs > /seen
RUN --network=none ls /sys/class/net > /links
RUN --mount=type=tmpfs,target=/scratch touch /scratch/x
RUN --mount=type=bind,source=ctx.txt,target=/in.txt cp /in.txt /from-bind
RUN --mount=type=bind,target=/ctx,rw echo scribble > /ctx/ctx.txt && cat /ctx/ctx.txt > /rw-seen
"""


def test_run_mounts_cache_bind_tmpfs_and_network_none(benv, ctx):
    (ctx / "ctx.txt").write_text("bound\n")
    benv.build(ctx, MOUNTS, build_args={"N": "1"}, tags=["mnt:1"])
    benv.build(ctx, MOUNTS, build_args={"N": "2"}, tags=["mnt:2"])
    code, out = benv.run("mnt:2", "sh", "-c", "cat /seen /links /from-bind; ls -A /cache /scratch /in.txt 2>&1")
    assert code != 0  # the mount targets are not in the image
    lines = out.split("\n")
    assert lines[:4] == ["1", "2", "lo", "bound"]  # the cache persisted across builds; no network but loopback
    assert all("No such file" in line for line in lines[4:7])
    assert (ctx / "ctx.txt").read_text() == "bound\n"  # a rw bind's writes are thrown away
    assert benv.run("mnt:2", "cat", "/rw-seen") == (0, "scribble\n")


def test_errors_name_the_dockerfile_line(benv, ctx):
    with pytest.raises(DockerfileError, match=r"Dockerfile:3: .*unknown instruction: BOGUS"):
        benv.build(ctx, "FROM busybox:test\nRUN true\nBOGUS x\n")
    with pytest.raises(NotFound, match="No such image"):
        benv.build(ctx, "FROM nothere:1\n")
    with pytest.raises(NotFound, match=r"^Dockerfile:3: COPY: .*missing.txt"):
        benv.build(ctx, "FROM busybox:test\nENV A=1\nCOPY missing.txt /x\n")
    with pytest.raises(Exception, match="invalid reference format|invalid"):
        benv.build(ctx, "FROM busybox:test\n", tags=["Bad Tag"])


def test_add_archive_without_trailing_slash_exclude_and_symlinked_context(benv, ctx, tmp_path):
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as tar:
        info = tarfile.TarInfo("inside.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"in\n"))
    (ctx / "a.tar").write_bytes(inner.getvalue())
    (ctx / "tree").mkdir()
    (ctx / "tree" / "keep.py").write_text("k\n")
    (ctx / "tree" / "drop.pyc").write_text("d\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host file\n")
    (ctx / "escape").symlink_to(outside)
    benv.build(ctx, "FROM busybox:test\nADD a.tar /unpacked\nCOPY --exclude=*.pyc tree /tree\n"
                    "COPY escape /escape\n", tags=["misc:1"])
    code, out = benv.run("misc:1", "sh", "-c", "cat /unpacked/inside.txt; ls /tree; readlink /escape")
    assert (code, out) == (0, f"in\nkeep.py\n{outside}\n")  # a symlink is copied as a symlink, never followed
    with pytest.raises(NotFound):  # a path through a symlink resolves inside the context
        benv.build(ctx, "FROM busybox:test\nCOPY escape/secret /s\n")
    with pytest.raises(NotFound):  # and a wildcard below one
        benv.build(ctx, "FROM busybox:test\nCOPY escape/* /s/\n")
    with pytest.raises(NotFound):  # so does a RUN bind mount's source
        benv.build(ctx, "FROM busybox:test\nRUN --mount=type=bind,source=escape,target=/e cat /e/secret\n")
    (outside / "host.tar").write_bytes(inner.getvalue())
    (ctx / "archive-link").symlink_to(outside / "host.tar")
    benv.build(ctx, "FROM busybox:test\nADD archive-link /added/\n", tags=["misc:2"])
    code, out = benv.run("misc:2", "sh", "-c", "ls /added; test -e /added/inside.txt || echo not-unpacked")
    assert (code, out) == (0, "archive-link\nnot-unpacked\n")  # a symlink to a host archive is not read


def test_platform_args_as_buildkit_names_them(benv, ctx):
    from runtime.images.config import host_platform

    benv.build(ctx, "FROM --platform=$BUILDPLATFORM busybox:test\nARG TARGETARCH\nARG TARGETOS\n"
                    "RUN echo $TARGETOS/$TARGETARCH > /arch\n", tags=["plat:1"])
    code, out = benv.run("plat:1", "cat", "/arch")
    assert (code, out) == (0, f"linux/{host_platform()['architecture']}\n")
    assert "were not consumed" not in benv.output


def test_leftovers_of_a_crashed_build_are_removed(benv, ctx):
    from runtime import linux
    from runtime.build.run import BUILD_LABEL
    from runtime.spec import ContainerSpec

    image = benv.build(ctx, "FROM busybox:test\nRUN echo one > /1\n")
    cid = benv.containers.create(None, ContainerSpec(args=("sleep", "60"), image=image.id,
                                                     labels={BUILD_LABEL: "true"}))
    benv.containers.start(cid)
    other = benv.containers.create(None, ContainerSpec(args=("true",), image=image.id))
    scratch = benv.root / "build" / "tmp"
    view = scratch / "view-crashed"
    view.mkdir(parents=True)
    layers = ":".join(str(d) for d in reversed(image.layer_dirs()))
    linux.mount("overlay", str(view), "overlay", linux.MS_RDONLY, f"lowerdir={layers}")
    try:
        assert benv.builder.remove_leftovers() == 1
    finally:
        if os.path.ismount(view):
            linux.umount(str(view), linux.MNT_DETACH)
    assert [s.id for s in benv.containers.list()] == [other]
    assert list(scratch.iterdir()) == []
    assert all(layer.is_dir() for layer in image.layer_dirs())  # the layers under the view are untouched


def test_proxy_args_reach_run_without_arg_and_stay_out_of_history(benv, ctx):
    dockerfile = "FROM busybox:test\nRUN echo \"$HTTP_PROXY\" > /proxy\n"
    image = benv.build(ctx, dockerfile, build_args={"HTTP_PROXY": "http://127.0.0.1:3128"}, tags=["proxy:1"])
    assert benv.run("proxy:1", "cat", "/proxy") == (0, "http://127.0.0.1:3128\n")
    assert "3128" not in json.dumps(image.history) and "were not consumed" not in benv.output
    again = benv.build(ctx, dockerfile, build_args={"HTTP_PROXY": "http://127.0.0.1:9999"})
    assert again.id == image.id  # not part of the cache key


@pytest.mark.parametrize("marker", ["42-up", "Step 2/3"])  # while the RUN runs; just before it starts
def test_cancelling_a_build_kills_its_run_container(benv, ctx, marker):
    import threading

    from runtime.build.builder import BuildOptions
    from runtime.build.context import BuildContext
    from runtime.build.run import BuildCancelled, Cancellation

    (ctx / "Dockerfile").write_text("FROM busybox:test\nRUN echo $((6*7))-up && sleep 600\nRUN echo never\n")
    cancellation = Cancellation()
    running = threading.Event()
    outcome: list[BaseException] = []

    def emit(text: str) -> None:
        if marker in text:  # "42-up" is printed by the RUN itself (the step line shows $((6*7)))
            running.set()

    def build() -> None:
        try:
            with BuildContext(ctx) as context:
                benv.builder.build(context, BuildOptions(), emit, cancellation=cancellation)
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            outcome.append(err)

    thread = threading.Thread(target=build)
    thread.start()
    try:
        assert running.wait(60), "the RUN never started"
        cancellation.cancel()
        thread.join(60)
        assert not thread.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], BuildCancelled)
        assert benv.containers.list() == []
    finally:
        cancellation.cancel()
        thread.join(60)


def test_a_changed_chown_variable_is_a_cache_miss(benv, ctx):
    (ctx / "f").write_text("f\n")
    dockerfile = "FROM busybox:test\nARG U=1\nCOPY --chown=$U f /f\n"
    benv.build(ctx, dockerfile, build_args={"U": "11"}, tags=["own:11"])
    benv.build(ctx, dockerfile, build_args={"U": "22"}, tags=["own:22"])
    assert "Using cache" not in benv.output
    assert benv.run("own:22", "stat", "-c", "%u", "/f") == (0, "22\n")


def test_a_run_that_cannot_start_names_the_line(benv, ctx):
    from runtime.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match=r"^Dockerfile:2: RUN: .*nonexistent"):
        benv.build(ctx, 'FROM busybox:test\nRUN ["/nonexistent"]\n')
    with pytest.raises(InvalidArgument, match=r"^Dockerfile:3: RUN: .*ghost"):
        benv.build(ctx, "FROM busybox:test\nUSER ghost\nRUN true\n")
    assert benv.containers.list() == []


def test_another_platform_is_refused_clearly(benv, ctx):
    from runtime.images.config import host_platform

    other = "arm64" if host_platform()["architecture"] != "arm64" else "amd64"
    with pytest.raises(DockerfileError, match=f"Dockerfile:1: platform linux/{other} is not supported"):
        benv.build(ctx, f"FROM --platform=linux/{other} busybox:test\n")
    here = f"linux/{host_platform()['architecture']}"
    benv.build(ctx, f"FROM --platform={here} busybox:test\n")


SKIPPED_STAGES = """\
FROM busybox:test AS broken
RUN exit 1
FROM busybox:test AS base
RUN echo base > /base
FROM base AS tools
RUN echo tools > /tools
FROM busybox:test AS final
COPY --from=tools /tools /tools
COPY --from=1 /base /base
"""


def test_stages_the_target_does_not_need_are_skipped(benv, ctx):
    benv.build(ctx, SKIPPED_STAGES, tags=["skip:1"])
    assert "exit 1" not in benv.output and "Step 1/7 : FROM busybox:test AS base" in benv.output
    assert benv.run("skip:1", "cat", "/tools", "/base") == (0, "tools\nbase\n")
    with pytest.raises(RunFailed):  # named as the target, it is built
        benv.build(ctx, SKIPPED_STAGES, target="broken")
    with pytest.raises(RunFailed):  # a reference through a variable keeps every earlier stage
        benv.build(ctx, SKIPPED_STAGES + "ARG FROM_STAGE=base\nCOPY --from=$FROM_STAGE /base /again\n")
