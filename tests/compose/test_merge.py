"""merge: the spec's merge table (YAML in, YAML out), !reset / !override, locations after merging."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from compose.errors import Location
from compose.merge import merge_configs
from compose.sourcemap import SourceMap, to_plain
from compose.yamlread import read_yaml


def _y(text: str, name: str = "f.yaml"):
    return read_yaml(textwrap.dedent(text), name)


def _merge(base: str, override: str) -> dict:
    return to_plain(merge_configs(_y(base, "base.yaml"), _y(override, "override.yaml")))


CASES = [
    # (name, base service body, override service body, expected merged service)
    ("scalars replace", "image: a\nuser: root", "image: b", {"image": "b", "user": "root"}),
    ("mappings merge", "healthcheck: {interval: 1s, retries: 2}", "healthcheck: {retries: 5}",
     {"healthcheck": {"interval": "1s", "retries": 5}}),
    ("command replaces", "command: [a, b]", "command: [c]", {"command": ["c"]}),
    ("entrypoint replaces", "entrypoint: [a, b]", "entrypoint: c", {"entrypoint": "c"}),
    ("healthcheck.test replaces", "healthcheck: {test: [CMD, a]}", "healthcheck: {test: [CMD, b]}",
     {"healthcheck": {"test": ["CMD", "b"]}}),
    ("environment list+list by key", "environment: [A=1, B=2]", "environment: [B=3, C=4]",
     {"environment": ["A=1", "B=3", "C=4"]}),
    ("environment list+map", "environment: [A=1, B=2]", "environment: {B: 3}",
     {"environment": {"A": "1", "B": 3}}),
    ("environment map+list", "environment: {A: 1}", "environment: [A=2, C]",
     {"environment": {"A": "2", "C": None}}),
    ("labels map+map", "labels: {a: 1, b: 2}", "labels: {b: 3}", {"labels": {"a": 1, "b": 3}}),
    ("extra_hosts by host", "extra_hosts: ['h1:1.1.1.1', 'h2=2.2.2.2']", "extra_hosts: ['h1=9.9.9.9']",
     {"extra_hosts": ["h1=9.9.9.9", "h2=2.2.2.2"]}),
    ("ports de-dup", "ports: ['80:80', '127.0.0.1:81:81']", "ports: ['80:80', '82:82', '80:80/udp']",
     {"ports": ["80:80", "127.0.0.1:81:81", "82:82", "80:80/udp"]}),
    ("ports long/short same key", "ports: ['8080:80']", "ports: [{target: 80, published: '8080'}]",
     {"ports": [{"target": 80, "published": "8080"}]}),
    ("volumes by target", "volumes: ['./a:/data', 'v:/other:ro']", "volumes: ['./b:/data', {type: volume, source: w, target: /w}]",
     {"volumes": ["./b:/data", "v:/other:ro", {"type": "volume", "source": "w", "target": "/w"}]}),
    ("volumes long replaces short by target", "volumes: ['./a:/data']", "volumes: [{type: bind, source: ./b, target: /data}]",
     {"volumes": [{"type": "bind", "source": "./b", "target": "/data"}]}),
    ("secrets by target", "secrets: [s1, {source: s2, target: t}]", "secrets: [{source: s1, mode: 0o400}, s3]",
     {"secrets": [{"source": "s1", "mode": 0o400}, {"source": "s2", "target": "t"}, "s3"]}),
    ("entries sharing a key merge", "ports: [{target: 80, published: '8080', app_protocol: http}]",
     "ports: [{target: 80, published: '8080', name: web}]",
     {"ports": [{"target": 80, "published": "8080", "app_protocol": "http", "name": "web"}]}),
    ("volume entries merge by target", "volumes: [{type: volume, source: a, target: /d, read_only: true}]",
     "volumes: [{type: volume, source: b, target: /d}]",
     {"volumes": [{"type": "volume", "source": "b", "target": "/d", "read_only": True}]}),
    ("configs by target", "configs: [c1]", "configs: [c1, c2]", {"configs": ["c1", "c2"]}),
    ("env_file by path", "env_file: [a.env, b.env]", "env_file: [{path: a.env, required: false}, c.env]",
     {"env_file": [{"path": "a.env", "required": False}, "b.env", "c.env"]}),
    ("dns de-dup", "dns: [1.1.1.1, 8.8.8.8]", "dns: [8.8.8.8, 9.9.9.9]",
     {"dns": ["1.1.1.1", "8.8.8.8", "9.9.9.9"]}),
    ("cap_add de-dup", "cap_add: [NET_ADMIN]", "cap_add: [NET_ADMIN, SYS_TIME]",
     {"cap_add": ["NET_ADMIN", "SYS_TIME"]}),
    ("expose de-dup", "expose: ['80', 81]", "expose: ['80', '82']", {"expose": ["80", 81, "82"]}),
    ("other lists append", "security_opt: [a]", "security_opt: [b]", {"security_opt": ["a", "b"]}),
    ("depends_on list+list", "depends_on: [a, b]", "depends_on: [b, c]", {"depends_on": ["a", "b", "c"]}),
    ("depends_on list+map", "depends_on: [a]", "depends_on: {b: {condition: service_healthy}}",
     {"depends_on": {"a": {"condition": "service_started"}, "b": {"condition": "service_healthy"}}}),
    ("networks list+map", "networks: [front]", "networks: {back: {aliases: [x]}}",
     {"networks": {"front": None, "back": {"aliases": ["x"]}}}),
    ("networks aliases de-dup", "networks: {n: {aliases: [a, b]}}", "networks: {n: {aliases: [b, c]}}",
     {"networks": {"n": {"aliases": ["a", "b", "c"]}}}),
    ("build string+map", "build: ./dir", "build: {dockerfile: Dockerfile.dev}",
     {"build": {"context": "./dir", "dockerfile": "Dockerfile.dev"}}),
    ("build args by key", "build: {args: [A=1, B=2]}", "build: {args: {B: 3}}",
     {"build": {"args": {"A": "1", "B": 3}}}),
    ("ulimits entry replaces", "ulimits: {nofile: {soft: 1, hard: 2}, nproc: 5}", "ulimits: {nofile: {soft: 3}}",
     {"ulimits": {"nofile": {"soft": 3}, "nproc": 5}}),
    ("logging same driver merges options", "logging: {driver: json-file, options: {max-size: 1m}}",
     "logging: {options: {max-file: '3'}}",
     {"logging": {"driver": "json-file", "options": {"max-size": "1m", "max-file": "3"}}}),
    ("logging other driver replaces", "logging: {driver: json-file, options: {max-size: 1m}}",
     "logging: {driver: syslog}", {"logging": {"driver": "syslog"}}),
    ("!reset drops", "ports: ['80:80']\nimage: a", "ports: !reset []", {"image": "a"}),
    ("!reset null drops", "environment: {A: 1}\nimage: a", "environment: !reset null", {"image": "a"}),
    ("!override replaces list", "ports: ['80:80']", "ports: !override ['81:81']", {"ports": ["81:81"]}),
    ("!override replaces mapping", "environment: {A: 1, B: 2}", "environment: !override {C: 3}",
     {"environment": {"C": 3}}),
    ("nested !reset", "healthcheck: {test: [CMD, x], interval: 1s}", "healthcheck: {interval: !reset null}",
     {"healthcheck": {"test": ["CMD", "x"]}}),
    ("type change replaces", "command: [a]", "command: b", {"command": "b"}),
    ("empty override keeps base", "environment: {A: 1}", "environment:", {"environment": {"A": 1}}),
]


def _indent(body: str, by: int) -> str:
    return textwrap.indent(body, " " * by)


@pytest.mark.parametrize(("name", "base", "override", "expected"), CASES, ids=[c[0] for c in CASES])
def test_merge_table(name, base, override, expected):
    merged = _merge(f"services:\n  web:\n{_indent(base, 4)}\n", f"services:\n  web:\n{_indent(override, 4)}\n")
    assert merged["services"]["web"] == expected


def test_sections_merge_and_new_entries_are_added():
    merged = _merge(
        """
        services: {a: {image: x}}
        networks: {n1: {}}
        volumes: {v1: {labels: [a=1]}}
        x-ext: {keep: 1}
        """,
        """
        services: {b: {image: y}}
        networks: {n2: {driver: bridge}}
        volumes: {v1: {labels: {b: 2}}}
        """,
    )
    assert merged == {
        "services": {"a": {"image": "x"}, "b": {"image": "y"}},
        "networks": {"n1": {}, "n2": {"driver": "bridge"}},
        "volumes": {"v1": {"labels": {"a": "1", "b": 2}}},
        "x-ext": {"keep": 1},
    }


def test_reset_of_whole_service_and_inputs_untouched():
    base = _y("services: {a: {image: x}, b: {image: y}}")
    over = _y("services: {b: !reset null}")
    assert to_plain(merge_configs(base, over)) == {"services": {"a": {"image": "x"}}}
    assert to_plain(base) == {"services": {"a": {"image": "x"}, "b": {"image": "y"}}}


def test_locations_follow_the_winning_file():
    base = _y("services:\n  web:\n    image: a\n    ports: ['80:80']\n    environment: {A: 1}\n", "base.yaml")
    over = _y("services:\n  web:\n    image: b\n    ports: ['81:81']\n", "over.yaml")
    sources = SourceMap.from_tree(merge_configs(base, over))
    assert sources.locate(("services", "web", "image")) == Location("over.yaml", 3, 5)
    assert sources.locate(("services", "web", "ports", 0)) == Location("base.yaml", 4, 13)
    assert sources.locate(("services", "web", "ports", 1)) == Location("over.yaml", 4, 13)
    assert sources.locate(("services", "web", "environment", "A")) == Location("base.yaml", 5, 19)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_VALID = sorted((Path(__file__).parent / "corpus" / "valid").glob("*.yaml")) + sorted(
    (Path(__file__).resolve().parents[2] / "samples").glob("*/compose.yaml"))


@pytest.mark.parametrize("path", _VALID, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_merging_a_file_with_itself_changes_nothing(path):
    tree = read_yaml(path.read_text(), str(path))
    assert _normalized(to_plain(merge_configs(tree, read_yaml(path.read_text(), str(path))))) == _normalized(
        to_plain(merge_configs({}, tree)))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_VALID), st.randoms(use_true_random=False))
def test_splitting_services_across_two_files_merges_back(path, rnd):
    """Each service attribute goes to the base, the override or both: merging gives the whole file back."""
    whole = to_plain(merge_configs({}, read_yaml(path.read_text(), str(path))))
    base, over = {}, {}
    for section, value in whole.items():
        if section != "services" or not isinstance(value, dict):
            (base if rnd.random() < 0.5 else over)[section] = value
            continue
        for name, service in value.items():
            if not isinstance(service, dict):
                base.setdefault("services", {})[name] = service
                continue
            for key, attr in service.items():
                where = rnd.choice(["base", "over", "both"])
                if where in ("base", "both"):
                    base.setdefault("services", {}).setdefault(name, {})[key] = attr
                if where in ("over", "both"):
                    over.setdefault("services", {}).setdefault(name, {})[key] = attr
            base.setdefault("services", {}).setdefault(name, {})
    merged = to_plain(merge_configs(base, over))
    assert _normalized(merged) == _normalized(whole)


def _normalized(doc):
    """Key order is not part of the meaning, nor is ``build: dir`` against ``build: {context: dir}``."""
    if isinstance(doc, dict):
        return {k: _normalized({"context": v} if k == "build" and isinstance(v, str) else v)
                for k, v in sorted(doc.items())}
    if isinstance(doc, list):
        return [_normalized(v) for v in doc]
    return doc


from ._fuzz import generated_docs, mutated_docs  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.one_of(generated_docs(), mutated_docs()), st.one_of(generated_docs(), mutated_docs()))
def test_merging_any_two_documents_never_crashes(base, override):
    merged = to_plain(merge_configs(base, override))
    assert isinstance(merged, dict) or merged == override
