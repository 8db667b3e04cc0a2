"""Search configs: the shipped ones load; bad keys and types name the offending key."""

from pathlib import Path

import pytest

from symopt.errors import UserError
from symopt.search.config import SearchConfig, load_config


@pytest.mark.parametrize("name", ["quick", "nanogpt_tiny", "paper"])
def test_shipped_configs_load(name):
    cfg = load_config(Path("search_configs") / f"{name}.toml")
    assert cfg.search.tournament <= cfg.search.population
    assert SearchConfig.from_dict(cfg.to_dict()) == cfg


def test_paper_config_has_the_paper_settings():
    cfg = load_config("search_configs/paper.toml")
    assert (cfg.search.population, cfg.search.tournament) == (1000, 2)


@pytest.mark.parametrize("data, message", [
    ({"search": {"populaton": 5}},
     r"\[search\] populaton: unknown key \(did you mean 'population'\?\)"),
    ({"serch": {}}, r"\[serch\]: unknown section \(did you mean 'search'\?\)"),
    ({"search": {"budget": "many"}}, r"\[search\] budget: expected an integer, got 'many'"),
    ({"search": {"budget": 0}}, r"\[search\] budget: must be at least 1"),
    ({"search": {"population": 2, "tournament": 3}}, r"\[search\] tournament: 3 is larger"),
    ({"search": {"restart_from": "worst"}}, r"restart_from: must be 'seed' or 'best'"),
    ({"task": {"seeds": []}}, r"\[task\] seeds: needs at least one seed"),
    ({"task": {"lr_multipliers": [1.0, -2]}}, r"lr_multipliers: must be a non-empty list"),
    ({"cache": {"fingerprint": 1}}, r"\[cache\] fingerprint: expected true or false"),
    ({"mutation": {"insert": -1}}, r"\[mutation\] mutation.insert"),
])
def test_bad_values_are_user_errors_naming_the_key(data, message):
    with pytest.raises(UserError, match=message):
        SearchConfig.from_dict(data, source="c.toml")


def test_load_config_reports_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[search\npopulation = 3\n")
    with pytest.raises(UserError, match="invalid TOML"):
        load_config(bad)
    with pytest.raises(UserError, match="not found"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize("body, message", [
    (b"\xff\xfe[search]\n", "invalid TOML: not UTF-8 text"),
    (b'[task]\nname = "nosuch"\n', "[task] name: unknown task 'nosuch'"),
    (b'[task]\nname = "quadratic"\nseeds = [-1]\n', "[task] seeds: seeds are non-negative"),
    (b'[task]\nname = "quadratic"\noverrides = { steps = "x" }\n',
     "[task] overrides: bad override for task 'quadratic': steps: expected int, got 'x'"),
    (b'[task]\nname = "quadratic"\noverrides = { steps = -5 }\n',
     "[task] overrides: bad override for task 'quadratic': steps: must be at least 1"),
    (b'[task]\nname = "quadratic"\noverrides = { nosuch = 1 }\n', "[task] overrides: bad override"),
    (b"[task]\nlr_multipliers = [nan]\n", "[task] lr_multipliers: must be a non-empty list of "
                                          "positive finite numbers"),
    (b"[task]\nlr_multipliers = [inf]\n", "[task] lr_multipliers"),
    (b"[task]\ntime_limit_s = nan\n", "[task] time_limit_s: must be positive"),
])
def test_load_config_names_the_offending_key(tmp_path, body, message):
    path = tmp_path / "c.toml"
    path.write_bytes(body)
    with pytest.raises(UserError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
