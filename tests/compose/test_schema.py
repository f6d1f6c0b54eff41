"""Our schema's messages: every invalid corpus file names the key path and what was expected; all errors at once."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.errors import Location
from compose.schema import load_schema, validate

from ._corpus import RtLocator, expectations, invalid_files, load_plain, sample_files, valid_files


def test_schema_ships_in_the_schemas_package():
    schema = load_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    assert "service" in schema["$defs"]


@pytest.mark.parametrize("path", valid_files() + sample_files(), ids=lambda p: p.name)
def test_valid_files_have_no_problems(path: Path):
    assert validate(load_plain(path), None) == []


@pytest.mark.parametrize("path", invalid_files(), ids=lambda p: p.name)
def test_invalid_files_report_the_expected_messages(path: Path):
    wanted = expectations(path)
    assert wanted, f"{path.name} has no '# expect:' line"
    got = [str(p) for p in validate(load_plain(path), None)]
    for line in wanted:
        assert any(g.startswith(line) for g in got), f"{line!r} not in {got!r}"


def test_every_error_in_a_file_is_reported_with_its_location():
    text = (
        "services:\n"
        "  a:\n"
        "    image: x\n"
        "    ports: '80'\n"
        "  b:\n"
        "    image: x\n"
        "    command: 5\n"
    )
    problems = validate(load_plain_text(text), RtLocator(text, "c.yaml"))
    assert [str(p) for p in problems] == [
        "c.yaml:4:12: services.a.ports: expected a list, got a string ('80')",
        "c.yaml:7:14: services.b.command: expected a string, a list or an empty value, got an integer (5)",
    ]


def test_problems_are_sorted_by_location():
    text = "services:\n  z:\n    image: 1\n  a:\n    image: 2\n"
    problems = validate(load_plain_text(text), RtLocator(text))
    assert [p.path for p in problems] == [("services", "z", "image"), ("services", "a", "image")]
    assert problems[0].location == Location("compose.yaml", 3, 12)


def test_unknown_key_points_at_the_key_and_suggests():
    problems = validate({"services": {"web": {"image": "x", "enviroment": {}}}}, None)
    assert [str(p) for p in problems] == [
        "services.web.enviroment: unknown key 'enviroment', did you mean 'environment'?"
    ]


def test_unknown_key_without_close_match_mentions_extensions():
    problems = validate({"services": {"web": {"image": "x", "zzz": 1}}}, None)
    assert str(problems[0]) == "services.web.zzz: unknown key 'zzz' (extension keys must start with 'x-')"


def test_alternatives_follow_the_branch_of_the_matching_type():
    # depends_on accepts a list or a mapping; a mapping with a bad entry gets the mapping's error, not both.
    problems = validate({"services": {"w": {"image": "x", "depends_on": {"db": {"condition": 1}}}}}, None)
    assert [str(p) for p in problems] == [
        "services.w.depends_on.db.condition: expected a string, got an integer (1)",
    ]


def test_empty_environment_key_is_named():
    problems = validate({"services": {"w": {"image": "x", "environment": {"": "v"}}}}, None)
    assert [str(p) for p in problems] == ["services.w.environment.: an empty key is not allowed here"]


def test_duplicate_list_entry_points_at_the_second():
    problems = validate({"services": {"w": {"image": "x", "dns": ["1.1.1.1", "8.8.8.8", "1.1.1.1"]}}}, None)
    assert [(p.path, p.message) for p in problems] == [
        (("services", "w", "dns", 2), "duplicate entry '1.1.1.1'; each entry may appear only once")
    ]


def test_root_must_be_a_mapping():
    assert [str(p) for p in validate(["services"], None)] == ["expected a mapping, got a list"]  # type: ignore[arg-type]


def load_plain_text(text: str):
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(text)


def test_non_string_keys_are_reported_not_crashed_on():
    problems = validate({"services": {"web": {"image": "x", "environment": {80: "x"}}}}, None)
    assert [str(p) for p in problems] == ["services.web.environment.80: expected a string key, got an integer (80)"]


def test_fast_checker_refuses_keywords_it_does_not_implement():
    from compose.schemafast import UnsupportedKeyword, compile_schema

    with pytest.raises(UnsupportedKeyword):
        compile_schema({"type": "object", "minProperties": 1})
    check = compile_schema({"type": "array", "items": {"enum": [1]}, "uniqueItems": True})
    assert check([1]) and not check([True]) and not check([1, 1.0]) and check([])


def test_a_service_written_at_the_top_level_is_recognised():
    problems = validate({"services": {}, "web": {"image": "nginx"}}, None)
    assert [str(p) for p in problems] == ["web: unknown key 'web': it looks like a service; put it under 'services:'"]


def test_keys_that_belong_one_level_down_say_where():
    problems = validate({"services": {"web": {"image": "x", "replicas": 2, "aliases": ["a"]}}}, None)
    assert [str(p) for p in problems] == [
        "services.web.aliases: unknown key 'aliases'; it belongs under 'networks' (networks.<network>.aliases)",
        "services.web.replicas: unknown key 'replicas'; it belongs under 'deploy' (deploy.replicas)",
    ]
