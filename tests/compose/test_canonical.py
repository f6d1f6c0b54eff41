"""Normalization table: short syntax in, canonical long syntax out (YAML in, YAML out), plus units."""
from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from compose.canonical import canonicalize
from compose.errors import UserError
from compose.schema import load_schema
from compose.units import format_duration, parse_bool, parse_bytes, parse_duration

from ._corpus import load_plain, load_sample, sample_projects, valid_files
from ._fuzz import mutated_docs, schema_docs

PROJECT = Path("/srv/app")


def _yaml(text: str):
    return YAML(typ="safe", pure=True).load(text)


def _service(text: str, env: dict[str, str] | None = None) -> dict:
    doc = {"services": {"s": {"image": "busybox", **_yaml(text)}}}
    return canonicalize(doc, PROJECT, env or {})["services"]["s"]


# (service YAML, key, expected canonical value as YAML)
TABLE = [
    ("ports: [80]", "ports", "[{mode: ingress, target: 80, protocol: tcp}]"),
    ("ports: ['8080:80']", "ports", "[{mode: ingress, target: 80, published: '8080', protocol: tcp}]"),
    ("ports: ['127.0.0.1:53:53/udp']", "ports",
     "[{mode: ingress, host_ip: 127.0.0.1, target: 53, published: '53', protocol: udp}]"),
    ("ports: ['[::1]:8080:80']", "ports",
     "[{mode: ingress, host_ip: '::1', target: 80, published: '8080', protocol: tcp}]"),
    ("ports: ['127.0.0.1::80']", "ports", "[{mode: ingress, host_ip: 127.0.0.1, target: 80, protocol: tcp}]"),
    ("ports: ['9000-9001:8000-8001']", "ports",
     "[{mode: ingress, target: 8000, published: '9000', protocol: tcp},"
     " {mode: ingress, target: 8001, published: '9001', protocol: tcp}]"),
    ("ports: ['9000-9010:80']", "ports", "[{mode: ingress, target: 80, published: 9000-9010, protocol: tcp}]"),
    ("ports: ['3000-3001']", "ports",
     "[{mode: ingress, target: 3000, protocol: tcp}, {mode: ingress, target: 3001, protocol: tcp}]"),
    ("ports: [{target: '80', published: 8080}]", "ports",
     "[{mode: ingress, target: 80, published: '8080', protocol: tcp}]"),
    ("volumes: ['/data']", "volumes", "[{type: volume, target: /data, volume: {}}]"),
    ("volumes: ['db:/var/lib/db:ro,nocopy']", "volumes",
     "[{type: volume, source: db, target: /var/lib/db, read_only: true, volume: {nocopy: true}}]"),
    ("volumes: ['./conf:/etc/conf:Z,rshared']", "volumes",
     "[{type: bind, source: /srv/app/conf, target: /etc/conf,"
     " bind: {create_host_path: true, selinux: Z, propagation: rshared}}]"),
    ("volumes: ['../up:/up:rw']", "volumes",
     "[{type: bind, source: /srv/up, target: /up, bind: {create_host_path: true}}]"),
    ("volumes: ['~/cache:/cache']", "volumes",
     "[{type: bind, source: /home/u/cache, target: /cache, bind: {create_host_path: true}}]"),
    ("volumes: [{type: bind, source: rel, target: /r, read_only: 'true'}]", "volumes",
     "[{type: bind, source: /srv/app/rel, target: /r, read_only: true}]"),
    ("volumes: [{type: tmpfs, target: /t, tmpfs: {size: 64m, mode: '1777'}}]", "volumes",
     "[{type: tmpfs, target: /t, tmpfs: {size: 67108864, mode: 1023}}]"),
    ("secrets: [token, {source: cert, mode: '0440'}, {source: k, target: k.pem}]", "secrets",
     "[{source: token, target: /run/secrets/token}, {source: cert, target: /run/secrets/cert, mode: 288},"
     " {source: k, target: /run/secrets/k.pem}]"),
    ("links: ['db:database']\nnetwork_mode: 'service:vpn'\nvolumes_from: ['data:ro']\n"
     "depends_on: {db: {condition: service_healthy}}", "depends_on",
     "{db: {condition: service_healthy, required: true}, vpn: {condition: service_started, required: true,"
     " restart: true}, data: {condition: service_started, required: true}}"),
    ("pull_policy: if_not_present", "pull_policy", "missing"),
    ("volumes: ['/data/../cache/']", "volumes", "[{type: volume, target: /cache, volume: {}}]"),
    ("volumes: [{type: bind, source: /x, target: /y, bind: {propagation: shared}}]", "volumes",
     "[{type: bind, source: /x, target: /y, bind: {propagation: shared, create_host_path: true}}]"),
    ("develop: {watch: [{path: ./src, action: sync, target: /app}]}", "develop",
     "{watch: [{path: /srv/app/src, action: sync, target: /app}]}"),
    ("deploy: {resources: {reservations: {devices: [{capabilities: [gpu]}]}}}", "deploy",
     "{resources: {reservations: {devices: [{capabilities: [gpu], count: -1}]}}}"),
    ("configs: [conf]", "configs", "[{source: conf}]"),
    ("depends_on: [db]", "depends_on", "{db: {condition: service_started, required: true}}"),
    ("depends_on: {db: {condition: service_healthy, restart: true}}", "depends_on",
     "{db: {condition: service_healthy, required: true, restart: true}}"),
    ("depends_on: {db: {condition: service_started, required: false, restart: false}}", "depends_on",
     "{db: {condition: service_started, required: false}}"),
    ("networks: [a, b]", "networks", "{a: null, b: null}"),
    ("networks: {a: {aliases: [x]}, b: null}", "networks", "{a: {aliases: [x]}, b: null}"),
    ("environment: [A=1, B=, C, D=x=y]", "environment", "{A: '1', B: '', C: from-env, D: x=y}"),
    ("environment: {A: 1, B: true, C: null, E: 1.5, F: null}", "environment",
     "{A: '1', B: 'true', C: from-env, E: '1.5', F: null}"),
    ("labels: [a=b, c]", "labels", "{a: b, c: ''}"),
    ("sysctls: {net.core.somaxconn: 1024}", "sysctls", "{net.core.somaxconn: '1024'}"),
    ("build: .", "build", "{context: /srv/app, dockerfile: Dockerfile}"),
    ("build: {context: ./web, args: [V=1, C], dockerfile_inline: 'FROM x'}", "build",
     "{context: /srv/app/web, args: {V: '1', C: from-env}, dockerfile_inline: 'FROM x'}"),
    ("build: {context: 'https://github.com/a/b.git#main'}", "build",
     "{context: 'https://github.com/a/b.git#main', dockerfile: Dockerfile}"),
    ("command: echo \"hello world\" 'a b'", "command", "[echo, hello world, a b]"),
    ("entrypoint: [/bin/sh, -c]", "entrypoint", "[/bin/sh, -c]"),
    ("entrypoint: []", "entrypoint", "[]"),
    ("healthcheck: {test: curl -f x, interval: 90s, timeout: 1.5s, start_period: 0, retries: '3'}",
     "healthcheck", "{test: [CMD-SHELL, curl -f x], interval: 1m30s, timeout: 1.5s, start_period: 0s, retries: 3}"),
    ("healthcheck: {test: [NONE]}", "healthcheck", "{test: [NONE]}"),
    ("stop_grace_period: 1h", "stop_grace_period", "1h0m0s"),
    ("mem_limit: 512m", "mem_limit", "536870912"),
    ("memswap_limit: -1", "memswap_limit", "-1"),
    ("shm_size: 1.5GB", "shm_size", "1610612736"),
    ("cpus: '0.5'", "cpus", "0.5"),
    ("ulimits: {nofile: 1024, nproc: {soft: '10', hard: 20}}", "ulimits",
     "{nofile: {soft: 1024, hard: 1024}, nproc: {soft: 10, hard: 20}}"),
    ("deploy: {replicas: '2', resources: {limits: {cpus: '1.5', memory: 1g, pids: '50'},"
     " reservations: {memory: 256m}}, restart_policy: {delay: 5000ms}}", "deploy",
     "{replicas: 2, resources: {limits: {cpus: 1.5, memory: '1073741824', pids: 50},"
     " reservations: {memory: '268435456'}}, restart_policy: {delay: 5s}}"),
    ("ports: [80, '80', '8080:80', {target: 80, published: '8080'}]", "ports",
     "[{mode: ingress, target: 80, protocol: tcp}, {mode: ingress, target: 80, published: '8080', protocol: tcp}]"),
    ("expose: [80, '80']", "expose", "['80']"),
    ("extra_hosts: ['a:1.2.3.4', 'b=::1', 'c:[fe80::1]']", "extra_hosts", "[a=1.2.3.4, b=::1, c=fe80::1]"),
    ("extra_hosts: {a: 1.2.3.4, b: [10.0.0.1, 10.0.0.2]}", "extra_hosts", "[a=1.2.3.4, b=10.0.0.1, b=10.0.0.2]"),
    ("devices: ['/dev/fuse', '/dev/sda:/dev/xvda:r']", "devices",
     "[{source: /dev/fuse, target: /dev/fuse, permissions: rwm},"
     " {source: /dev/sda, target: /dev/xvda, permissions: r}]"),
    ("env_file: .env", "env_file", "[{path: /srv/app/.env, required: true}]"),
    ("env_file: [{path: x.env, required: 'false'}]", "env_file", "[{path: /srv/app/x.env, required: false}]"),
    ("dns: 8.8.8.8", "dns", "[8.8.8.8]"),
    ("tmpfs: [/run, /tmp]", "tmpfs", "[/run, /tmp]"),
    ("expose: [80, '90/udp']", "expose", "['80', 90/udp]"),
    ("init: 'yes'", "init", "true"),
    ("privileged: 'False'", "privileged", "false"),
    ("logging: {driver: json-file, options: {max-file: 3}}", "logging",
     "{driver: json-file, options: {max-file: '3'}}"),
    ("scale: '3'", "scale", "3"),
]


def _fill(value):
    """``from-env`` in an expectation stands for the value of C in the environment ("X")."""
    if isinstance(value, dict):
        return {k: _fill(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v) for v in value]
    return "X" if value == "from-env" else value


@pytest.mark.parametrize("source, key, expected", TABLE, ids=[f"{k}:{s[:40]}" for s, k, _ in TABLE])
def test_normalization_table(source, key, expected):
    want = _fill(_yaml(f"v: {expected}")["v"])
    got = _service(source, {"C": "X", "HOME": "/home/u"})
    assert got[key] == want


def test_services_get_the_default_network_and_the_project_declares_it():
    out = canonicalize({"name": "demo", "services": {"a": {"image": "x"}, "b": {"image": "x",
                        "network_mode": "host"}}}, PROJECT, {})
    assert out["services"]["a"]["networks"] == {"default": None}
    assert "networks" not in out["services"]["b"]
    assert out["networks"] == {"default": {"name": "demo_default"}}


def test_resources_get_engine_names_external_keeps_its_own():
    doc = {"name": "demo", "services": {"a": {"image": "x", "networks": ["n"]}},
           "networks": {"n": None, "ext": {"external": True}, "old": {"external": {"name": "legacy"}},
                        "named": {"name": "custom"}},
           "volumes": {"v": {}, "e": {"external": "true"}},
           "secrets": {"s": {"file": "./s.txt"}}, "configs": {"c": {"content": "x"}}}
    out = canonicalize(doc, PROJECT, {})
    assert out["networks"] == {"ext": {"external": True, "name": "ext"}, "n": {"name": "demo_n"},
                               "named": {"name": "custom"}, "old": {"external": True, "name": "legacy"}}
    assert out["volumes"] == {"e": {"external": True, "name": "e"}, "v": {"name": "demo_v"}}
    assert out["secrets"] == {"s": {"file": "/srv/app/s.txt", "name": "demo_s"}}
    from_env = canonicalize({"services": {}, "secrets": {"e": {"environment": "TOKEN"}},
                             "configs": {"c": {"environment": "TOKEN"}},
                             "volumes": {"d": {"driver": "local", "driver_opts": {"o": "bind", "device": "./data"}}}},
                            PROJECT, {"TOKEN": "s3cret"})
    assert from_env["secrets"] == {"e": {"environment": "TOKEN"}}  # a secret's value is never printed
    assert from_env["configs"] == {"c": {"content": "s3cret", "environment": "TOKEN"}}
    assert from_env["volumes"]["d"]["driver_opts"]["device"] == "/srv/app/data"
    assert out["configs"] == {"c": {"content": "x", "name": "demo_c"}}


def test_input_is_not_modified_and_output_is_idempotent_and_valid():
    docs = [load_plain(p) for p in valid_files() if p.name != "ulimits-open.yaml"]
    docs += [load_sample(d).config for d in sample_projects()]
    for doc in docs:
        before = repr(doc)
        once = canonicalize(doc, PROJECT, {})
        assert repr(doc) == before
        assert canonicalize(once, PROJECT, {}) == once
        assert _SCHEMA.is_valid(once), [e.message for e in _SCHEMA.iter_errors(once)][:3]


def test_unreadable_values_raise_one_user_error_with_every_path():
    doc = {"services": {"s": {"image": "x", "ports": ["x:y"], "mem_limit": "big", "stop_grace_period": "soon"}}}
    with pytest.raises(UserError) as caught:
        canonicalize(doc, PROJECT, {})
    assert [p.path for p in caught.value.problems] == [
        ("services", "s", "ports", 0), ("services", "s", "mem_limit"), ("services", "s", "stop_grace_period")]


@pytest.mark.parametrize("text, seconds", [("1m30s", 90), ("1.5h", 5400), ("300ms", 0.3), ("2h45m", 9900),
                                           ("10us", 1e-5), ("0", 0), ("-5s", -5), ("45", 45)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("seconds, text", [(90, "1m30s"), (0, "0s"), (0.5, "500ms"), (3600, "1h0m0s"),
                                           (1.5, "1.5s"), (3725, "1h2m5s"), (1e-6, "1µs")])
def test_format_duration_like_go(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("text, size", [("512m", 512 * 2**20), ("1g", 2**30), ("1GB", 2**30), ("100k", 102400),
                                        ("10mib", 10 * 2**20), ("2048", 2048), ("1.5g", int(1.5 * 2**30)),
                                        (123, 123), ("0", 0)])
def test_parse_bytes(text, size):
    assert parse_bytes(text) == size


@pytest.mark.parametrize("bad", ["", "12x", "m", "1..5g", "ten"])
def test_parse_bytes_rejects(bad):
    with pytest.raises(ValueError, match="expected a size"):
        parse_bytes(bad)


@pytest.mark.parametrize("bad", ["", "5 minutes", "1d", "m", "1.2.3s"])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(bad)


def test_parse_bool():
    assert [parse_bool(v) for v in ("true", "FALSE", "1", "0", "yes", "off", True)] == [
        True, False, True, False, True, False, True]
    with pytest.raises(ValueError):
        parse_bool("maybe")


_SCHEMA = jsonschema.Draft202012Validator(load_schema())


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=st.one_of(schema_docs(), mutated_docs()))
def test_canonical_form_is_a_fixed_point(doc):
    """Whatever the canonicalizer can read, its output canonicalizes to itself (and stays schema-valid)."""
    if not _SCHEMA.is_valid(doc):
        return
    try:
        once = canonicalize(doc, PROJECT, {"HOME": "/home/u"})
    except UserError:
        return
    assert canonicalize(once, PROJECT, {"HOME": "/home/u"}) == once
    assert _SCHEMA.is_valid(once), [e.message for e in _SCHEMA.iter_errors(once)][:3]


@pytest.mark.parametrize("directory", sample_projects(), ids=lambda p: p.name)
def test_canonical_output_read_back_as_a_compose_file_gives_itself(directory: Path, tmp_path: Path):
    """What `config` prints is a Compose file: loading it again yields the same canonical form."""
    import io

    from compose.loader import LoadOptions, load

    def pipeline(cwd: Path) -> dict:
        loaded = load(LoadOptions(cwd=cwd, environ={}, project_name="rt"))
        loaded.config["name"] = "rt"
        return canonicalize(loaded.config, loaded.project_dir, loaded.environment)

    first = pipeline(directory)
    text = io.StringIO()
    YAML().dump(first, text)
    (tmp_path / "compose.yaml").write_text(text.getvalue())
    assert pipeline(tmp_path) == first


def test_numbers_from_strings_keep_the_schemas_ranges():
    doc = {"services": {"s": {"image": "x", "cpu_percent": "440", "oom_score_adj": "-2000", "cpu_count": "-1",
                              "volumes": [{"type": "tmpfs", "target": "/t", "tmpfs": {"size": "-5"}}]}}}
    with pytest.raises(UserError) as caught:
        canonicalize(doc, PROJECT, {})
    assert sorted(str(p) for p in caught.value.problems) == [
        "services.s.cpu_count: expected at least 0, got -1",
        "services.s.cpu_percent: expected at most 100, got 440",
        "services.s.oom_score_adj: expected at least -1000, got -2000",
        "services.s.volumes[0].tmpfs.size: expected at least 0, got -5",
    ]
