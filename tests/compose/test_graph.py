"""The service graph: edges from every kind of need, start and stop levels, sub-graphs, cycles."""
from __future__ import annotations

import pytest

from compose.errors import UserError
from compose.graph import ServiceGraph, network_node, volume_node

from ._build import project_from_yaml

STACK = """
services:
  proxy: {image: x, depends_on: {web: {condition: service_healthy}}, networks: [front]}
  web: {image: x, depends_on: [db, cache], links: ["auth:login"], networks: [front, back]}
  db: {image: x, volumes: ["data:/var/lib/db"], networks: [back]}
  cache: {image: x, network_mode: "service:db"}
  auth: {image: x, volumes_from: ["db:ro"]}
  batch: {image: x}
networks: {front: {}, back: {}}
volumes: {data: {}}
"""


@pytest.fixture
def graph() -> ServiceGraph:
    return ServiceGraph(project_from_yaml(STACK))


def test_nodes_and_edges(graph: ServiceGraph):
    g = graph.graph
    assert graph.services == ["auth", "batch", "cache", "db", "proxy", "web"]
    assert g.edges["proxy", "web"] == {"via": "depends_on", "condition": "service_healthy", "required": True,
                                       "restart": False}
    assert g.edges["web", "auth"]["via"] == "links"
    assert g.edges["cache", "db"]["via"] == "network_mode"
    assert g.edges["auth", "db"]["via"] == "volumes_from"
    assert g.has_edge("db", volume_node("data")) and g.nodes[volume_node("data")]["kind"] == "volume"
    assert g.has_edge("web", network_node("back")) and g.nodes[network_node("front")]["kind"] == "network"
    assert graph.dependencies("web") == {"db", "cache", "auth"}
    assert graph.dependents("db") == {"web", "cache", "auth"}


def test_levels_start_dependencies_first_and_in_parallel(graph: ServiceGraph):
    assert graph.levels() == [{"batch", "db"}, {"auth", "cache"}, {"web"}, {"proxy"}]
    assert graph.reverse_levels() == [{"proxy"}, {"web"}, {"auth", "cache"}, {"batch", "db"}]


def test_levels_of_a_selection_add_nothing(graph: ServiceGraph):
    assert graph.levels(["proxy", "db"]) == [{"db", "proxy"}]


def test_subgraph_with_and_without_dependencies(graph: ServiceGraph):
    sub = graph.subgraph(["web"])
    assert sub.services == ["auth", "cache", "db", "web"]
    assert sub.levels() == [{"db"}, {"auth", "cache"}, {"web"}]
    alone = graph.subgraph(["web"], with_deps=False)
    assert alone.services == ["web"]
    assert alone.levels() == [{"web"}]
    assert set(alone.graph.nodes) == {"web", network_node("front"), network_node("back")}


def test_unknown_service_is_a_user_error(graph: ServiceGraph):
    with pytest.raises(UserError, match="no such service: nope"):
        graph.subgraph(["nope"])


def test_cycle_is_found_and_blocks_levels():
    graph = ServiceGraph(project_from_yaml("""
services:
  a: {image: x, depends_on: [b]}
  b: {image: x, links: [c]}
  c: {image: x, depends_on: [a]}
  d: {image: x}
"""))
    assert graph.cycle() == ["a", "b", "c", "a"]
    with pytest.raises(UserError, match="dependency cycle: a -> b -> c -> a"):
        graph.levels()
    assert ServiceGraph(project_from_yaml(STACK)).cycle() is None


def test_missing_optional_dependency_is_no_edge():
    graph = ServiceGraph(project_from_yaml(
        "services: {a: {image: x, depends_on: {gone: {condition: service_started, required: false}}}}"))
    assert graph.levels() == [{"a"}]


def test_a_thousand_services_in_a_chain_of_levels():
    lines = ["services:"] + [f"  s{i}: {{image: x, depends_on: [s{i // 2}]}}" if i else "  s0: {image: x}"
                             for i in range(1000)]
    levels = ServiceGraph(project_from_yaml("\n".join(lines))).levels()
    # s<i> needs s<i // 2>: its level is the bit length of i (s0 alone first).
    assert levels == [{f"s{i}" for i in range(1000) if i.bit_length() == depth} for depth in range(11)]


def _run(coro):
    import asyncio

    return asyncio.run(coro)


def test_walk_visits_each_service_after_what_it_needs(graph: ServiceGraph):
    order: list[str] = []

    async def visit(name: str) -> None:
        order.append(name)

    _run(graph.walk(visit))
    assert sorted(order) == graph.services
    for a, b in graph.graph.edges:
        if graph.graph.nodes[b]["kind"] == "service":
            assert order.index(b) < order.index(a), (a, b)
    order.clear()
    _run(graph.walk(visit, reverse=True))
    for a, b in graph.graph.edges:
        if graph.graph.nodes[b]["kind"] == "service":
            assert order.index(a) < order.index(b), (a, b)


def test_walk_holds_the_concurrency_limit():
    import asyncio

    graph = ServiceGraph(project_from_yaml("services:\n" + "".join(f"  s{i}: {{image: x}}\n" for i in range(6))))
    running: set[str] = set()
    peak = 0
    release = asyncio.Event()

    async def visit(name: str) -> None:
        nonlocal peak
        running.add(name)
        peak = max(peak, len(running))
        if len(running) == 2:
            release.set()
        await release.wait()
        running.discard(name)

    _run(graph.walk(visit, limit=2))
    assert peak == 2


def test_walk_stops_after_a_failure_and_raises_it(graph: ServiceGraph):
    visited: list[str] = []

    async def visit(name: str) -> None:
        visited.append(name)
        if name == "db":
            raise RuntimeError("db failed")

    with pytest.raises(RuntimeError, match="db failed") as caught:
        _run(graph.walk(visit, limit=1))
    assert "while visiting service 'db'" in caught.value.__notes__
    assert not {"web", "proxy", "cache", "auth"} & set(visited)  # everything that needs db was never visited
