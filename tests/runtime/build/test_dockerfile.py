import pytest

from runtime.build.dockerfile import DockerfileError, parse


def test_stages_args_and_lines():
    df = parse(
        "# syntax=docker/dockerfile:1\n"
        "ARG BASE=busybox\n"
        "FROM ${BASE} AS Build\n"
        "RUN echo a \\\n"
        "  # a comment inside a continuation\n"
        "\n"
        "  && echo b\n"
        "FROM scratch\n"
        "COPY --from=build /x /y\n"
    )
    assert df.directives == {"syntax": "docker/dockerfile:1"}
    assert [a.args for a in df.meta_args] == [["BASE=busybox"]]
    build, final = df.stages
    assert (build.name, build.base, build.line) == ("build", "${BASE}", 3)
    run = build.instructions[1]
    assert (run.cmd, run.line, run.args) == ("RUN", 4, ["echo a   && echo b"])
    assert final.instructions[1].flags == {"from": ["build"]}
    assert df.stage("BUILD") is build and df.stage(None) is final


def test_exec_and_shell_forms():
    df = parse('FROM x\nCMD ["sh", "-c", "echo"]\nENTRYPOINT echo "a b"\nRUN ["broken json\nSHELL ["/bin/sh", "-ec"]\n')
    cmd, entry, run, shell = df.stages[0].instructions[1:]
    assert cmd.json and cmd.args == ["sh", "-c", "echo"]
    assert not entry.json and entry.rest == 'echo "a b"'
    assert not run.json and run.rest == '["broken json'
    assert shell.json and shell.args == ["/bin/sh", "-ec"]


def test_heredocs():
    df = parse("FROM x\nRUN <<EOF\necho $HOME\nEOF\nCOPY <<-'A' <<B /dst/\n\tliteral $X\n\tA\nb\nB\nRUN true\n")
    run, copy, after = df.stages[0].instructions[1:]
    assert run.heredocs[0].content == "echo $HOME\n" and run.heredocs[0].expand
    first, second = copy.heredocs
    assert (first.name, first.content, first.expand, first.strip_tabs) == ("A", "literal $X\n", False, True)
    assert (second.name, second.content) == ("B", "b\n")
    assert after.line == 10


def test_escape_directive_backtick():
    df = parse("# escape=`\nFROM x\nRUN dir C:\\ `\n  && echo ok\n")
    assert df.escape == "`"
    assert df.stages[0].instructions[1].rest == "dir C:\\   && echo ok"


def test_healthcheck_and_onbuild():
    df = parse('FROM x\nHEALTHCHECK --interval=5s --retries=3 CMD ["wget", "-q", "x"]\n'
               "HEALTHCHECK NONE\nONBUILD RUN echo hi\n")
    hc, none, onbuild = df.stages[0].instructions[1:]
    assert hc.json and hc.args == ["CMD", "wget", "-q", "x"] and hc.flag("interval") == "5s"
    assert none.args == ["NONE"]
    assert onbuild.sub.cmd == "RUN" and onbuild.sub.args == ["echo hi"]


@pytest.mark.parametrize("text, line, message", [
    ("FROM x\nFOO bar\n", 2, "unknown instruction: FOO"),
    ("RUN x\n", 1, "cannot be used before the first FROM"),
    ("FROM x\nCOPY a\n", 2, "requires at least two arguments"),
    ("FROM x\nSHELL sh -c\n", 2, "JSON form"),
    ("FROM x\nRUN --bogus=1 true\n", 2, "unknown flag: --bogus"),
    ("FROM x AS a\nFROM y AS a\n", 2, "duplicate name"),
    ("FROM x\nONBUILD FROM y\n", 2, "isn't allowed as an ONBUILD trigger"),
    ("FROM x\nONBUILD ONBUILD RUN a\n", 2, "ONBUILD ONBUILD"),
    ("FROM x\nRUN <<EOF\nno end\n", 2, "unterminated heredoc"),
    ("FROM x y\n", 1, "FROM requires either one or three"),
    ("FROM x\nHEALTHCHECK NONE --x\n", 2, "NONE takes no other"),
])
def test_errors_name_the_line(text, line, message):
    with pytest.raises(DockerfileError) as info:
        parse(text, filename="app/Dockerfile")
    assert info.value.line == line
    assert message in str(info.value) and f"app/Dockerfile:{line}:" in str(info.value)


def test_no_from():
    with pytest.raises(DockerfileError, match="no FROM"):
        parse("# just a comment\n")


def test_missing_target():
    with pytest.raises(DockerfileError, match="target stage 'nope'"):
        parse("FROM x AS a\n").stage("nope")
