"""Semantic checks: every rule, with its message, key path and location; warnings apart from errors."""
from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from compose.canonical import canonicalize
from compose.errors import Location, UserError, format_path
from compose.graph import ServiceGraph
from compose.model import Project
from compose.schema import load_schema
from compose.validate import check

from ._corpus import RtLocator, expectations, load_plain, load_sample, sample_projects, semantic_files, valid_files
from ._fuzz import generated_docs, mutated_docs, schema_docs


def _errors(doc, disabled=None) -> list[str]:
    return [str(p) for p in check(doc, None, disabled)[0]]


def _warnings(doc) -> list[str]:
    return [str(p) for p in check(doc, None)[1]]


def _svc(**services) -> dict:
    return {"services": {name: {"image": "busybox", **spec} for name, spec in services.items()}}


@pytest.mark.parametrize("path", [p for p in valid_files() if p.name not in
                                  ("include-extends.yaml", "network-open-names.yaml", "ulimits-open.yaml")],
                         ids=lambda p: p.name)
def test_valid_corpus_has_no_semantic_errors(path: Path):
    assert _errors(load_plain(path)) == []


@pytest.mark.parametrize("path", semantic_files(), ids=lambda p: p.name)
def test_semantic_corpus_reports_the_expected_errors_with_locations(path: Path):
    text = path.read_text()
    errors, _ = check(YAML(typ="safe", pure=True).load(text), RtLocator(text, path.name))
    got = [f"{format_path(e.path)}: {e.message}" for e in errors]
    wanted = expectations(path)
    assert wanted, f"{path.name} has no '# expect:' line"
    for line in wanted:
        assert any(g.startswith(line) for g in got), f"{line!r} not in {got!r}"
    assert all(e.location is not None and e.location.file == path.name for e in errors)


@pytest.mark.parametrize("directory", sample_projects(), ids=lambda p: p.name)
def test_samples_have_no_semantic_errors(directory: Path):
    loaded = load_sample(directory)
    errors, _ = check(loaded.config, loaded.sources, loaded.disabled_services)
    assert [str(e) for e in errors] == []


def test_undefined_networks_are_named_in_both_forms():
    doc = _svc(a={"networks": ["front", "default"]}, b={"networks": {"back": {"aliases": ["x"]}}})
    assert _errors(doc) == [
        "services.a.networks[0]: service 'a' uses network 'front', which is not defined in the top-level 'networks'",
        "services.b.networks.back: service 'b' uses network 'back', which is not defined in the top-level 'networks'",
    ]


def test_undefined_volumes_short_and_long():
    doc = _svc(a={"volumes": ["data:/data", "./here:/here", "/anon"],
                  "tmpfs": "/t"}, b={"volumes": [{"type": "volume", "source": "cache", "target": "/c"}]})
    assert _errors(doc) == [
        "services.a.volumes[0]: service 'a' mounts volume 'data', which is not defined in the top-level 'volumes'",
        "services.b.volumes[0].source: service 'b' mounts volume 'cache', which is not defined in the top-level "
        "'volumes'",
    ]


def test_mount_target_must_be_absolute_and_bind_needs_a_source():
    doc = _svc(a={"volumes": [{"type": "bind", "target": "rel"}, "data:rel"]})
    doc["volumes"] = {"data": None}
    assert _errors(doc) == [
        "services.a.volumes[0]: a bind mount needs a 'source' (a host path)",
        "services.a.volumes[0].target: the container path 'rel' must be absolute",
        "services.a.volumes[1]: invalid volume 'data:rel': the container path 'rel' must be absolute",
    ]


def test_undefined_secrets_and_configs():
    doc = _svc(a={"secrets": ["token", {"source": "cert"}], "configs": ["conf"],
                  "build": {"context": ".", "secrets": ["npmrc"]}})
    doc["secrets"] = {"token": {"file": "t"}}
    assert _errors(doc) == [
        "services.a.build.secrets[0]: service 'a' uses secret 'npmrc', which is not defined in the top-level 'secrets'",
        "services.a.configs[0]: service 'a' uses config 'conf', which is not defined in the top-level 'configs'",
        "services.a.secrets[1]: service 'a' uses secret 'cert', which is not defined in the top-level 'secrets'",
    ]


def test_secret_without_a_source():
    doc = _svc(a={})
    doc["secrets"] = {"s": {"name": "x"}}
    assert _errors(doc) == ["secrets.s: secret 's' needs one of 'file', 'environment' or 'external'"]


def test_depends_on_unknown_service_suggests_by_case():
    assert _errors(_svc(web={"depends_on": ["DB"]}, db={})) == [
        "services.web.depends_on[0]: service 'web' depends on undefined service 'DB', did you mean 'db'?"
    ]


def test_depends_on_a_service_disabled_by_profiles():
    disabled = {"debug": {"image": "busybox", "profiles": ["dev", "test"]}}
    doc = _svc(web={"depends_on": {"debug": {"condition": "service_started"}}})
    assert _errors(doc, disabled) == [
        "services.web.depends_on.debug: service 'web' depends on service 'debug', which is not enabled by the "
        "active profiles (its profiles: dev, test); enable one with --profile"
    ]


def test_optional_dependency_on_a_missing_service_only_warns():
    doc = _svc(web={"depends_on": {"db": {"condition": "service_started", "required": False}}})
    errors, warnings = check(doc, None)
    assert errors == []
    assert [str(w) for w in warnings] == [
        "services.web.depends_on.db: service 'web' depends on undefined service 'db'; ignored (required: false)"
    ]


def test_links_network_mode_volumes_from_ipc_need_services():
    doc = _svc(a={"links": ["db:database"], "network_mode": "service:vpn", "volumes_from": ["data:ro",
               "container:other"], "ipc": "service:shm"})
    assert _errors(doc) == [
        "services.a.ipc: service 'a' shares the ipc namespace of undefined service 'shm'",
        "services.a.links[0]: service 'a' links to undefined service 'db'",
        "services.a.network_mode: service 'a' shares the network of undefined service 'vpn'",
        "services.a.volumes_from[0]: service 'a' takes volumes from undefined service 'data'",
    ]


def test_dependency_cycle_is_named():
    doc = _svc(a={"depends_on": ["b"]}, b={"links": ["c"]}, c={"volumes_from": ["a"]}, d={"depends_on": ["a"]})
    assert _errors(doc) == ["services.a.depends_on: dependency cycle: a -> b -> c -> a"]


def test_self_dependency():
    assert _errors(_svc(a={"depends_on": ["a"]})) == ["services.a.depends_on[0]: service 'a' depends on itself"]


def test_container_names_unique_valid_and_not_scaled():
    doc = _svc(a={"container_name": "app"}, b={"container_name": "app"}, c={"container_name": "_x"},
               d={"container_name": "solo", "deploy": {"replicas": 2}})
    assert _errors(doc) == [
        "services.b.container_name: container name 'app' is already used by service 'a'",
        "services.c.container_name: invalid container name '_x': it must start with a letter or digit and use "
        "only letters, digits, '_', '.' and '-'",
        "services.d.container_name: service 'd' sets container_name and runs 2 replicas; names must be unique",
    ]


@pytest.mark.parametrize("port, message", [
    ("abc", "invalid container port 'abc': expected a port number or a range like 8000-8010"),
    ("70000:80", "invalid published port '70000': ports are 0-65535"),
    ("8000-8002:80-81", "invalid port '8000-8002:80-81': host and container port ranges differ in size"),
    ("1.2.3:80:80", "invalid host IP '1.2.3' in port '1.2.3:80:80'"),
    ("80/icmp", "invalid protocol 'icmp' in port '80/icmp': expected tcp, udp or sctp"),
    ("90-80", "invalid container port '90-80': the range ends before it starts"),
])
def test_port_syntax(port, message):
    assert _errors(_svc(a={"ports": ["8080:80", port]})) == [f"services.a.ports[1]: {message}"]


def test_long_port_values():
    doc = _svc(a={"ports": [{"target": 0}, {"target": 80, "published": "x", "protocol": "icmp", "mode": "swarm",
                                            "host_ip": "localhost"}], "expose": ["99999"]})
    assert _errors(doc) == [
        "services.a.expose[0]: invalid exposed port '99999': ports are 1-65535",
        "services.a.ports[0].target: invalid container port '0': ports are 1-65535",
        "services.a.ports[1].host_ip: 'localhost' is not an IP address",
        "services.a.ports[1].mode: expected 'host' or 'ingress', got 'swarm'",
        "services.a.ports[1].protocol: expected tcp, udp or sctp, got 'icmp'",
        "services.a.ports[1].published: invalid published port 'x': expected a port number or a range like "
        "8000-8010",
    ]


def test_network_mode_and_networks_conflict():
    doc = _svc(a={"network_mode": "host", "networks": ["default"]})
    assert _errors(doc) == [
        "services.a.network_mode: 'network_mode: host' and 'networks' cannot be combined; remove one of them"
    ]


def test_unreadable_durations_sizes_and_flags():
    doc = _svc(a={"healthcheck": {"test": "true", "interval": "5 minutes"}, "mem_limit": "lots",
                  "init": "maybe", "stop_grace_period": "1x"})
    assert _errors(doc) == [
        "services.a.healthcheck.interval: expected a duration like '1m30s' or '500ms', got '5 minutes'",
        "services.a.init: expected true or false, got 'maybe'",
        "services.a.mem_limit: expected a size like '512m' or '2g', got 'lots'",
        "services.a.stop_grace_period: expected a duration like '1m30s' or '500ms', got '1x'",
    ]


def test_service_values():
    doc = _svc(a={"restart": "sometimes", "pull_policy": "xalways", "healthcheck": {"test": ["RUN", "x"]},
                  "scale": 2, "deploy": {"replicas": 3}, "ulimits": {"nofile": {"soft": 10, "hard": 5}}})
    doc["services"]["b"] = {"command": "true"}
    assert _errors(doc) == [
        "services.a.healthcheck.test[0]: the first item must be NONE, CMD or CMD-SHELL, got 'RUN'",
        "services.a.pull_policy: expected always, never, missing, build, if_not_present, refresh, daily, weekly or "
        "every_<duration>, got 'xalways'",
        "services.a.restart: expected 'no', 'always', 'on-failure[:max-retries]' or 'unless-stopped', got 'sometimes'",
        "services.a.scale: 'scale: 2' and 'deploy.replicas: 3' disagree; set one",
        "services.a.ulimits.nofile: the soft limit (10) is above the hard limit (5)",
        "services.b: service 'b' has neither an 'image' nor a 'build' context",
    ]


def test_unknown_ulimit_and_odd_network_names_the_spec_lets_through():
    doc = _svc(a={"ulimits": {"NOFILE": 5}})
    doc["networks"] = {"odd name!": {}}
    assert _errors(doc) == [
        "networks.odd name!: invalid network name 'odd name!': use only letters, digits, '.', '_' and '-'",
        "services.a.ulimits.NOFILE: unknown ulimit 'NOFILE'; expected one of as, core, cpu, data, fsize, locks, "
        "memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack",
    ]


def test_unsupported_keys_warn_by_name_and_are_not_errors():
    doc = _svc(a={"credential_spec": {"file": "x"}, "deploy": {"placement": {"constraints": ["a"]}},
                  "logging": {"driver": "syslog"}, "blkio_config": {"weight": 300, "device_read_bps": []}},
               b={"logging": {"driver": "json-file"}, "post_start": [{"command": "true"}]})
    doc["version"] = "3.8"
    doc["networks"] = {"o": {"driver": "overlay"}}
    doc["volumes"] = {"v": {"driver": "nfs"}}
    errors, warnings = check(doc, None)
    assert errors == []
    assert [str(w) for w in warnings] == [
        "networks.o.driver: network driver 'overlay' is not supported; pycompose creates bridge networks",
        "services.a.credential_spec: 'credential_spec' is not supported by pycompose (Windows only); ignored",
        "services.a.deploy.placement: 'deploy.placement' is not supported by pycompose (swarm only); ignored",
        "services.a.logging.driver: logging driver 'syslog' is not supported; pycompose keeps json-file logs",
        "version: the 'version' key is obsolete and ignored; remove it",
        "volumes.v.driver: volume driver 'nfs' is not supported; pycompose creates local volumes",
    ]


def test_endpoint_keys_and_ipv6_only_networks_are_supported_and_other_driver_opts_warn():
    doc = _svc(a={"networks": {"n": {"interface_name": "lan0", "link_local_ips": ["169.254.8.8", "fe80::8"],
                                     "driver_opts": {"x": "1", "com.docker.network.endpoint.ifname": "lan0"},
                                     "aliases": ["x"]}}})
    doc["networks"] = {"n": {"enable_ipv4": False, "enable_ipv6": True}, "e": {"external": True, "enable_ipv4": False}}
    doc["secrets"] = {"s": {"file": "./s", "driver_opts": {"a": "b"}}}
    errors, warnings = check(doc, None)
    assert errors == []
    assert [str(w) for w in warnings] == [
        "secrets.s.driver_opts: 'driver_opts' is not supported by pycompose; ignored",
        "services.a.networks.n.driver_opts.x: endpoint driver option 'x' is not supported by pycompose; ignored",
    ]


def test_bad_interface_names_link_local_ips_and_ipv6_only_networks_are_errors():
    doc = _svc(a={"networks": {"n": {"interface_name": "way-too-long-name0", "link_local_ips": ["nope"]},
                               "m": {"interface_name": "lan0"}, "v6": {"ipv4_address": "10.1.2.3"}}},
               b={"networks": {"n": {"interface_name": "lan0"}, "m": {"interface_name": "lan0"}}})
    doc["networks"] = {"n": {}, "m": {}, "v6": {"enable_ipv4": False, "enable_ipv6": True},
                       "none": {"enable_ipv4": False},
                       "bad": {"enable_ipv4": False, "enable_ipv6": True, "ipam": {"config": [{"subnet": "10.9.0.0/24"}]}}}
    assert sorted(_errors(doc)) == [
        "networks.bad.ipam.config[0].subnet: 10.9.0.0/24 is an IPv4 subnet but the network is IPv6-only "
        "(enable_ipv4: false)",
        "networks.none.enable_ipv4: IPv4 or IPv6 must be enabled: an IPv6-only network (enable_ipv4: false) needs "
        "enable_ipv6: true",
        "services.a.networks.n.interface_name: invalid interface name 'way-too-long-name0': 1 to 15 letters, digits, "
        "'_', '.' or '-'",
        "services.a.networks.n.link_local_ips[0]: 'nope' is not an IP address",
        "services.a.networks.v6.ipv4_address: network 'v6' is IPv6-only (enable_ipv4: false): it has no IPv4 address",
        "services.b.networks.m.interface_name: interface name 'lan0' is already used by network 'n' of this "
        "service; each network needs its own",
    ]


def test_errors_carry_file_line_and_column_and_come_in_file_order():
    text = (
        "services:\n"
        "  web:\n"
        "    image: nginx\n"
        "    depends_on: [db]\n"
        "    networks: [front]\n"
        "    ports:\n"
        "      - '80:80:80:80'\n"
    )
    errors, _ = check(YAML(typ="safe", pure=True).load(text), RtLocator(text, "compose.yaml"))
    assert [str(e) for e in errors] == [
        "compose.yaml:4:18: services.web.depends_on[0]: service 'web' depends on undefined service 'db'",
        "compose.yaml:5:16: services.web.networks[0]: service 'web' uses network 'front', which is not defined in "
        "the top-level 'networks'",
        "compose.yaml:7:9: services.web.ports[0]: invalid host IP '80:80' in port '80:80:80:80'",
    ]
    assert errors[0].location == Location("compose.yaml", 4, 18)


_VALID = jsonschema.Draft202012Validator(load_schema())


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=st.one_of(mutated_docs(), generated_docs(), schema_docs()))
def test_checks_and_canonical_form_never_crash_on_schema_valid_input(doc):
    if not _VALID.is_valid(doc):
        return
    errors, _ = check(doc, None)
    try:
        canonical = canonicalize(doc, Path("/project"), {})
    except UserError as err:
        assert errors, f"canonicalize failed ({err}) where check found nothing"
        return
    if errors:
        return
    # A project the checks pass goes through the model and the graph without a surprise.
    project = Project.from_dict(canonical, "fuzz")
    assert Project.from_dict(project.to_dict(), "fuzz") == project
    ServiceGraph(project).levels()


def test_engine_values_are_judged_at_load_time():
    doc = _svc(a={"image": "MyApp:latest", "cap_add": ["NET_ADMN", "cap_sys_admin", "ALL"], "stop_signal": "SIGFOO",
                  "working_dir": "app", "tmpfs": ["/run", "tmp:size=1m"], "dns": ["8.8.8.8", "dns.google"],
                  "mac_address": "02:42:zz:00:00:01"},
               b={"image": "localhost:5000/team/app:1.2@sha256:" + "a" * 64, "stop_signal": "9",
                  "cap_drop": ["CAP_CHOWN"]})
    assert _errors(doc) == [
        "services.a.cap_add[0]: unknown capability 'NET_ADMN', did you mean 'NET_ADMIN'?",
        "services.a.dns[1]: DNS server 'dns.google' is not an IP address",
        "services.a.image: invalid image reference 'MyApp:latest': the repository name must be lowercase",
        "services.a.mac_address: invalid MAC address '02:42:zz:00:00:01': expected six hex pairs like "
        "02:42:ac:11:00:02",
        "services.a.stop_signal: unknown signal 'SIGFOO'",
        "services.a.tmpfs[1]: the tmpfs mount point 'tmp' must be an absolute path",
        "services.a.working_dir: the working directory 'app' must be an absolute path",
    ]


@pytest.mark.parametrize("image", ["nginx", "nginx:1.27-alpine", "library/nginx", "ghcr.io/org/app:v1",
                                   "registry.local:5000/a/b/c", "[::1]:5000/app", "app@sha256:" + "0" * 64,
                                   "sha256:" + "f" * 64, "my_app__x-y.z"])
def test_good_image_references(image):
    assert _errors(_svc(a={"image": image})) == []


def test_mount_options_must_match_the_type():
    doc = _svc(a={"volumes": [{"type": "volume", "source": "v", "target": "/v", "bind": {"propagation": "shared"}},
                              {"type": "tmpfs", "source": "x", "target": "/t"}]})
    doc["volumes"] = {"v": None}
    assert _errors(doc) == [
        "services.a.volumes[0].bind: 'bind' options do not apply to a mount of type 'volume'",
        "services.a.volumes[1].source: a tmpfs mount has no 'source'",
    ]


def test_ipam_and_static_addresses():
    doc = _svc(a={"networks": {"n": {"ipv4_address": "10.1.0.5"}, "m": {"ipv4_address": "10.9.0.5",
                                                                        "ipv6_address": "10.0.0.1"},
                               "plain": {"ipv4_address": "172.20.0.9"}}})
    doc["networks"] = {
        "n": {"ipam": {"config": [{"subnet": "10.0.0.0/16", "gateway": "10.1.0.1", "ip_range": "10.0.128.0/17"}]}},
        "m": {"ipam": {"config": [{"subnet": "10.9.0.1/24"}]}},
        "plain": {},
        "ext": {"external": True, "driver": "bridge"},
    }
    assert _errors(doc) == [
        "networks.ext.driver: network 'ext' is external: 'driver' belongs to whoever created it; remove it here",
        "networks.m.ipam.config[0].subnet: invalid subnet '10.9.0.1/24': 10.9.0.1/24 has host bits set",
        "networks.n.ipam.config[0].gateway: the gateway 10.1.0.1 is outside the subnet 10.0.0.0/16",
        "services.a.networks.m.ipv4_address: a static address needs a subnet declared in networks.m.ipam.config",
        "services.a.networks.m.ipv6_address: '10.0.0.1' is not an IPv6 address",
        "services.a.networks.n.ipv4_address: 10.1.0.5 is outside the subnets of network 'n' (10.0.0.0/16)",
        "services.a.networks.plain.ipv4_address: a static address needs a subnet declared in "
        "networks.plain.ipam.config",
    ]


def test_locations_come_from_the_loaders_source_map_across_files(tmp_path: Path):
    from compose.loader import LoadOptions, load
    from compose.schema import validate

    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx\n    depends_on: [db]\n  db:\n"
                                           "    image: postgres\n")
    (tmp_path / "compose.override.yaml").write_text("services:\n  web:\n    networks: [front]\n  db:\n"
                                                    "    healthcheck:\n      interval: 10\n")
    loaded = load(LoadOptions(cwd=tmp_path, environ={}))
    schema_problems = [str(p) for p in validate(loaded.config, loaded.sources)]
    assert schema_problems == [
        f"{tmp_path / 'compose.override.yaml'}:6:7: services.db.healthcheck.interval: expected a string, "
        "got an integer (10)"]
    loaded.config["services"]["db"]["healthcheck"]["interval"] = "10s"
    errors, _ = check(loaded.config, loaded.sources, loaded.disabled_services)
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'compose.override.yaml'}:3:16: services.web.networks[0]: service 'web' uses network 'front', "
        "which is not defined in the top-level 'networks'"]


@settings(max_examples=200, deadline=None)
@given(edges=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=20))
def test_every_group_of_mutually_dependent_services_gets_one_real_cycle(edges):
    import networkx as nx

    names = [f"s{i}" for i in range(8)]
    doc = _svc(**{n: {} for n in names})
    for a, b in edges:
        if a != b:
            doc["services"][f"s{a}"].setdefault("depends_on", []).append(f"s{b}")
    for spec in doc["services"].values():
        if "depends_on" in spec:
            spec["depends_on"] = list(dict.fromkeys(spec["depends_on"]))
    graph = nx.DiGraph((f"s{a}", f"s{b}") for a, b in edges if a != b)
    groups = [g for g in nx.strongly_connected_components(graph) if len(g) > 1]
    cycles = [e.message.removeprefix("dependency cycle: ").split(" -> ") for e in check(doc, None)[0]]
    assert len(cycles) == len(groups)
    for cycle in cycles:
        assert cycle[0] == cycle[-1] and len(set(cycle)) == len(cycle) - 1
        assert all(graph.has_edge(a, b) for a, b in zip(cycle, cycle[1:]))
        assert any(set(cycle) <= group for group in groups)


def test_host_ports_published_twice():
    doc = _svc(a={"ports": ["8080:80", "127.0.0.1:9000:9000", "53:53/udp"]},
               b={"ports": ["0.0.0.0:8080:80", "127.0.0.2:9000:9000", "53:53/tcp", "7000-7002:7000-7002"]},
               c={"ports": ["[::1]:8080:80", {"target": 1, "published": "7001"}]},
               d={"ports": ["6000:6000", "6000:6001"], "scale": 1},
               e={"ports": ["5000:5000", "5100-5101:80", "0:81"], "deploy": {"replicas": 2}})
    assert _errors(doc) == [
        "services.b.ports[0]: host port 8080/tcp is already published by service 'a'",
        "services.c.ports[0]: host port 8080/tcp is already published by service 'a'",
        "services.c.ports[1]: host port 7001/tcp is already published by service 'b'",
        "services.d.ports[1]: host port 6000/tcp is already published by this service",
        "services.e.ports[0]: service 'e' runs 2 replicas but publishes the single host port 5000; use a range "
        "(e.g. '5000-5001:...') or no host port",
    ]


def test_subnets_of_two_networks_must_not_overlap():
    doc = _svc(a={})
    doc["networks"] = {"one": {"ipam": {"config": [{"subnet": "10.10.0.0/16"}]}},
                       "two": {"ipam": {"config": [{"subnet": "10.10.5.0/24"}, {"subnet": "fd00::/64"}]}}}
    assert _errors(doc) == [
        "networks.two.ipam.config[0].subnet: subnet 10.10.5.0/24 overlaps 10.10.0.0/16 of network 'one'"]


def test_waiting_for_health_of_a_service_without_healthcheck():
    doc = _svc(web={"depends_on": {"db": {"condition": "service_healthy"}, "cache": {"condition": "service_healthy"},
                                   "api": {"condition": "service_healthy"}}},
               db={"healthcheck": {"disable": True}}, cache={"healthcheck": {"test": ["NONE"]}},
               api={"healthcheck": {"test": ["CMD", "true"]}})
    assert _errors(doc) == [
        "services.web.depends_on.cache.condition: service 'web' waits for 'cache' to be healthy, but 'cache' "
        "disables its healthcheck, so it never will",
        "services.web.depends_on.db.condition: service 'web' waits for 'db' to be healthy, but 'db' disables its "
        "healthcheck, so it never will",
    ]
