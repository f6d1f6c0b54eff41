"""Config changes, dict form and ``--change`` lines (docker import / commit)."""
from __future__ import annotations

import pytest

from runtime.errors import InvalidArgument
from runtime.images.config import apply_changes, parse_changes


def test_change_lines():
    changes = parse_changes([
        'CMD ["nginx", "-g", "daemon off;"]',
        "ENTRYPOINT /docker-entrypoint.sh run",
        "ENV A=1 B=\"two words\"",
        "ENV LEGACY value with spaces",
        "LABEL org.example.a=1 b=2",
        "LABEL c=3",
        "EXPOSE 80 443/tcp 53/udp",
        'VOLUME ["/data", "/logs"]',
        "VOLUME /cache",
        "WORKDIR /srv",
        "USER www:www",
        "STOPSIGNAL SIGQUIT",
        "ONBUILD RUN make",
        "HEALTHCHECK --interval=30s --timeout=1m30s --retries=3 CMD curl -f http://localhost/",
    ])
    assert changes["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert changes["Entrypoint"] == ["/bin/sh", "-c", "/docker-entrypoint.sh run"]
    assert changes["Env"] == ["A=1", "B=two words", "LEGACY=value with spaces"]
    assert changes["Labels"] == {"org.example.a": "1", "b": "2", "c": "3"}
    assert changes["ExposedPorts"] == {"80/tcp": {}, "443/tcp": {}, "53/udp": {}}
    assert changes["Volumes"] == {"/data": {}, "/logs": {}, "/cache": {}}
    assert (changes["WorkingDir"], changes["User"], changes["StopSignal"]) == ("/srv", "www:www", "SIGQUIT")
    assert changes["OnBuild"] == ["RUN make"]
    assert changes["Healthcheck"] == {"Test": ["CMD-SHELL", "curl -f http://localhost/"], "Interval": 30_000_000_000,
                                      "Timeout": 90_000_000_000, "Retries": 3}
    assert parse_changes(["HEALTHCHECK NONE"])["Healthcheck"] == {"Test": ["NONE"]}
    assert parse_changes(['HEALTHCHECK CMD ["true"]'])["Healthcheck"] == {"Test": ["CMD", "true"]}


@pytest.mark.parametrize("line, message", [
    ("FROM busybox", "FROM is not a valid change command"),
    ("CMD", "missing arguments"),
    ("EXPOSE eighty", "invalid port"),
    ("HEALTHCHECK --interval=5 CMD x", "needs a unit"),
    ("HEALTHCHECK --bogus=1 CMD x", "unknown HEALTHCHECK option"),
    ("LABEL a=1 b", "expected key=value"),
])
def test_bad_change_lines(line, message):
    with pytest.raises(InvalidArgument, match=message):
        parse_changes([line])


def test_apply_merges_maps_and_env_replaces_the_rest():
    base = {"Env": ["PATH=/bin", "A=1"], "Labels": {"x": "1"}, "Cmd": ["sh"], "ExposedPorts": {"80/tcp": {}}}
    out = apply_changes(base, {"Env": ["A=2", "B=3"], "Labels": {"y": "2"}, "Cmd": ["true"],
                               "ExposedPorts": {"443/tcp": {}}})
    assert out == {"Env": ["PATH=/bin", "A=2", "B=3"], "Labels": {"x": "1", "y": "2"}, "Cmd": ["true"],
                   "ExposedPorts": {"80/tcp": {}, "443/tcp": {}}}
    assert base["Env"] == ["PATH=/bin", "A=1"]  # not mutated
    with pytest.raises(InvalidArgument, match="unknown image config key 'Bogus'"):
        apply_changes(base, {"Bogus": 1})
