"""Search configs: the shipped ones load; bad keys and types name the offending key."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from paths import CONFIGS

from symopt.errors import UserError
from symopt.search.config.loading import SearchConfig, load_config


@pytest.mark.parametrize("name", ["quick", "nanogpt_tiny", "paper", "default"])
def test_shipped_configs_load(name):
    cfg = load_config(CONFIGS / f"{name}.toml")
    assert cfg.search.tournament <= cfg.search.population
    assert SearchConfig.from_dict(cfg.to_dict()) == cfg


def test_paper_config_has_the_paper_settings():
    cfg = load_config(CONFIGS / "paper.toml")
    assert (cfg.search.population, cfg.search.tournament) == (1000, 2)


@pytest.mark.parametrize("data, message", [
    ({"search": {"populaton": 5}}, "search.populaton: unknown key (did you mean 'population'?)"),
    ({"serch": {}}, "serch: unknown section (did you mean 'search'?)"),
    ({"search": {"budget": "many"}}, "search.budget: expected an integer (got 'many')"),
    ({"search": {"budget": 0}}, "search.budget: must be at least 1 (got 0)"),
    ({"search": {"population": 2, "tournament": 3}},
     "search.tournament: 3 is larger than the population (2)"),
    ({"search": {"restart_from": "worst"}},
     "search.restart_from: must be 'seed' or 'best' (got 'worst')"),
    ({"task": {"seeds": []}}, "task.seeds: needs at least one seed"),
    ({"task": {"lr_multipliers": [1.0, -2]}}, "task.lr_multipliers: must be a non-empty list "
                                              "of positive finite numbers (got [1.0, -2.0])"),
    ({"cache": {"fingerprint": 1}}, "cache.fingerprint: expected true or false (got 1)"),
    ({"mutation": {"insert": -1}}, "mutation.insert: must be a non-negative number (got -1.0)"),
    ({"search": {"method": "genetic"}},
     "search.method: must be one of evolution, constants, random (got 'genetic')"),
    ({"funnel": {"task": "vit-tiny"}},
     "funnel: expected an array of tables ([[funnel]]) (got {'task': 'vit-tiny'})"),
    ({"funnel": [{"topk": 3}]}, "funnel.1.topk: unknown key (did you mean 'top_k'?)"),
    ({"funnel": [{}, {"top_k": 0}]}, "funnel.2.top_k: must be at least 1 (got 0)"),
    ({"funnel": [{"lr_multipliers": []}]},
     "funnel.1.lr_multipliers: must be a non-empty list of positive finite numbers (got [])"),
    ({"funnel": [{"seeds": [-1]}]},
     "funnel.1.seeds: needs at least one seed; seeds are non-negative (got [-1])"),
    ({"funnel": [{}, 3]}, "funnel.2: expected a table (got 3)"),
    ({"search": 3}, "search: expected a table (got 3)"),
    # documented upper bounds (issue 16): refused at load, naming the key
    ({"search": {"population": 1_000_000_000}},
     "search.population: must be at most 100,000 (got 1000000000)"),
    ({"search": {"budget": 10**11}},
     "search.budget: must be at most 10,000,000,000 (got 100000000000)"),
    ({"search": {"workers": 5000}}, "search.workers: must be at most 1,024 (got 5000)"),
    ({"task": {"seeds": list(range(101))}}, "task.seeds: 101 seeds; at most 100 are allowed"),
    ({"task": {"seeds": [2**40]}}, "task.seeds: seeds must be below 2^31 (got 1099511627776)"),
    ({"mutation": {"max_statements": 5000}},
     "mutation.max_statements: must be an integer from 1 to 1,000 (got 5000)"),
    ({"search": {"stall_after": 0}}, "search.stall_after: must be at least 1 (got 0)"),
    ({"search": {"on_stall": "panic"}}, "search.on_stall: must be 'restart' or 'stop' "
                                        "(got 'panic')"),
    ({"search": {"budget_unit": "flops"}}, "search.budget_unit: must be 'runs' or 'steps' "
                                           "(got 'flops')"),
    ({"search": {"lr_probe": [1.0, 0]}}, "search.lr_probe: must be a non-empty list of "
                                         "positive finite numbers (got [1.0, 0.0])"),
    ({"mutation": {"adapt": "yes"}}, "mutation.adapt: expected true or false (got 'yes')"),
    ({"mutation": {"adapt_floor": 0.5}},
     "mutation.adapt_floor: must be a number in [0, 0.2] (got 0.5)"),
    ({"mutation": {"functions": ["sign", "nope"]}},
     "mutation.functions: unknown function 'nope'"),
    ({"hurdles": {"rule": "median"}}, "hurdles.rule: must be 'quantile' or 'seed' "
                                      "(got 'median')"),
])
def test_bad_values_are_user_errors_naming_the_key(data, message):
    with pytest.raises(UserError) as err:
        SearchConfig.from_dict(data, source="c.toml")
    assert str(err.value) == "c.toml: " + message


def test_load_config_reports_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[search\npopulation = 3\n")
    with pytest.raises(UserError, match="invalid TOML"):
        load_config(bad)
    with pytest.raises(UserError, match="not found"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize("body, message", [
    (b"\xff\xfe[search]\n", "not UTF-8 text (byte 0xff at line 1, column 1)"),
    (b'[task]\nname = "nosuch"\n', "task.name: unknown task 'nosuch'"),
    (b'[task]\nname = "quadratic"\nseeds = [-1]\n', "task.seeds: seeds must be non-negative "
                                                    "(got -1)"),
    (b'[task]\nname = "quadratic"\noverrides = { steps = "x" }\n',
     "task.overrides: bad override for task 'quadratic': steps: expected int (got 'x')"),
    (b'[task]\nname = "quadratic"\noverrides = { steps = -5 }\n',
     "task.overrides: bad override for task 'quadratic': steps: must be at least 1 (got -5)"),
    (b'[task]\nname = "quadratic"\noverrides = { nosuch = 1 }\n', "task.overrides: bad override"),
    (b"[task]\nlr_multipliers = [nan]\n", "task.lr_multipliers: must be a non-empty list of "
                                          "positive finite numbers (got [nan])"),
    (b"[task]\nlr_multipliers = [inf]\n", "task.lr_multipliers"),
    (b"[task]\ntime_limit_s = nan\n", "task.time_limit_s: must be positive (got nan)"),
])
def test_load_config_names_the_offending_key(tmp_path, body, message):
    path = tmp_path / "c.toml"
    path.write_bytes(body)
    with pytest.raises(UserError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_default_config_is_the_nanogpt_proxy_with_a_funnel():
    from symopt.search.config.loading import default_config_path

    cfg = load_config(default_config_path())
    assert cfg.task.name == "nanogpt-tiny" and cfg.search.method == "evolution"
    assert [(s.task, s.lr_multipliers) for s in cfg.funnel] == [
        ("nanogpt-small", (0.5, 1.0, 2.0)), ("vit-tiny", (0.5, 1.0, 2.0))]
    assert [s.task for s in load_config(CONFIGS / "nanogpt_tiny.toml").funnel] == [
        "nanogpt-small", "vit-tiny"]
    assert load_config(CONFIGS / "quick.toml").funnel == ()  # the smoke test stays quick


def test_funnel_stages_round_trip_and_old_configs_have_none(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[task]\nname = "quadratic"\n[[funnel]]\ntask = "rosenbrock"\ntop_k = 3\n'
                    'seeds = [0, 1]\nlr_multipliers = [0.5, 2.0]\noverrides = { steps = 10 }\n'
                    '[[funnel]]\ntask = "logreg"\n')
    cfg = load_config(path)
    first = cfg.funnel[0]
    assert (first.task, first.top_k, first.seeds, first.lr_multipliers) == (
        "rosenbrock", 3, (0, 1), (0.5, 2.0))
    assert first.spec() == {"name": "rosenbrock", "seeds": [0, 1], "lr_multipliers": [0.5, 2.0],
                            "time_limit_s": None, "overrides": {"steps": 10}}
    assert SearchConfig.from_dict(cfg.to_dict()) == cfg
    # A config stored before funnels and methods existed reads as no funnel, evolution.
    old = SearchConfig().to_dict()
    del old["search"]["method"]
    assert "funnel" not in old
    assert SearchConfig.from_dict(old).funnel == ()
    assert SearchConfig.from_dict(old).search.method == "evolution"


def test_funnel_stage_with_an_unknown_task_names_the_stage(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[[funnel]]\ntask = "quadratic"\n[[funnel]]\ntask = "nanogpt-huge"\n')
    with pytest.raises(UserError, match=r"c.toml: funnel.2.task: unknown task 'nanogpt-huge'"):
        load_config(path)


@pytest.mark.parametrize("executor, message", [
    ({"kind": "slurm"}, r"executor.kind: must be one of 'auto', 'inline', 'process', 'ray' "
                        r"\(got 'slurm'\)$"),
    ({"kind": "ray", "cpus_per_eval": -1}, r"executor.cpus_per_eval: must be 0 or more "
                                           r"\(got -1.0\)$"),
    ({"kind": "ray", "gpus_per_eval": -0.25}, r"executor.gpus_per_eval: must be 0 or more"),
    ({"kind": "ray", "gpus_per_eval": 1.5}, r"executor.gpus_per_eval: above 1 it must be"),
    ({"kind": "ray", "cpus_per_eval": 0}, r"executor.cpus_per_eval: an evaluation needs"),
    ({"kind": "ray", "max_retries": -1}, r"executor.max_retries: must be 0 or more \(got -1\)"),
    ({"kind": "ray", "address": "head"}, r"executor.address: must be '', 'auto', 'host:port' "
                                         r"or 'ray://host:port' \(got 'head'\)$"),
    ({"kind": "ray", "address": "ray://head:99999"}, r"executor.address: .* "
                                                     r"\(got 'ray://head:99999'\)$"),
    ({"kind": "process", "address": "auto"}, r"executor.address: only a Ray executor"),
    ({"kind": "ray", "gpus_per_eval": "half"}, r"executor.gpus_per_eval: expected a number "
                                               r"\(got 'half'\)$"),
    ({"kind": "ray", "max_retry": 1}, r"executor.max_retry: unknown key \(did you mean "
                                      r"'max_retries'\?\)$"),
])
def test_bad_executor_sections_name_the_key(executor, message):
    with pytest.raises(UserError, match=message):
        SearchConfig.from_dict({"executor": executor}, source="c.toml")


def test_executor_section_round_trips_and_old_configs_get_the_default():
    cfg = SearchConfig.from_dict({"search": {"workers": 4}, "executor": {
        "kind": "ray", "address": "ray://10.0.0.1:10001", "cpus_per_eval": 2,
        "gpus_per_eval": 0.25, "max_retries": 3}})
    assert SearchConfig.from_dict(cfg.to_dict()) == cfg
    assert (cfg.executor.cpus_per_eval, cfg.executor.gpus_per_eval) == (2.0, 0.25)
    old = SearchConfig.from_dict({"search": {"workers": 2}})  # a run stored before [executor]
    assert old.executor.kind == "auto" and old.executor.max_retries == 2
    with pytest.raises(UserError, match=r"^command line: executor.kind: 'inline' runs one "
                                        r"evaluation at a time, but search.workers = 2"):
        SearchConfig().with_executor(kind="inline").with_search(workers=2)


def test_population_of_a_billion_is_refused_by_the_cli_without_a_traceback(tmp_path, capsys):
    from symopt.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text("[search]\npopulation = 1000000000\n")
    assert main(["search", "--seed", "sgd", "--config", str(cfg),
                 "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "c.toml: search.population: must be at most 100,000 (got 1000000000)\n" in err
    assert not (tmp_path / "r").exists()


# -- the built-in configs ship with the package ----------------------------------------

def test_built_in_config_names_resolve_from_any_directory(tmp_path, monkeypatch):
    from symopt.search.config.loading import config_names, default_config_path

    monkeypatch.chdir(tmp_path)  # an empty directory: no checkout, no search_configs/
    assert config_names() == ["default", "nanogpt_tiny", "paper", "quick"]
    assert load_config("quick").task.name == "quadratic"
    assert load_config("quick.toml") == load_config("quick")
    assert load_config(default_config_path()).task.name == "nanogpt-tiny"
    (tmp_path / "quick").mkdir()  # a name that is not a file still means the built-in
    assert load_config("quick").task.name == "quadratic"
    mine = tmp_path / "quick.toml"  # an existing file wins over the built-in name
    mine.write_text('[task]\nname = "rosenbrock"\n')
    assert load_config("quick.toml").task.name == "rosenbrock"
    with pytest.raises(UserError, match=r"nope: config file not found \(built-in configs: "
                                        r"default, nanogpt_tiny, paper, quick\)"):
        load_config("nope")


def test_checkout_search_configs_is_the_packaged_folder():
    root = Path(__file__).resolve().parent.parent
    from symopt.search.config.loading import default_config_path

    assert (root / "search_configs").resolve() == default_config_path().parent.resolve()


_BUILD = """
from setuptools.dist import Distribution
dist = Distribution()
dist.script_name = "setup.py"
dist.parse_config_files()
cmd = dist.get_command_obj("build_py")
cmd.build_lib = {lib!r}
cmd.compile = 0
cmd.ensure_finalized()
dist.run_command("build_py")
"""

_LOAD = """
from symopt.search.config.loading import default_config_path, load_config
print(default_config_path())
print(load_config(default_config_path()).task.name, load_config("quick").task.name)
"""


@pytest.mark.slow
def test_an_installed_package_finds_its_configs_without_a_checkout(tmp_path):
    """What `pip install .` puts in the wheel (setuptools' build_py, driven by pyproject's
    package-data) holds the configs, and that copy alone resolves them from an empty dir."""
    root = Path(__file__).resolve().parent.parent
    src, lib, cwd = tmp_path / "src", tmp_path / "lib", tmp_path / "elsewhere"
    src.mkdir(), cwd.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    shutil.copytree(root / "symopt", src / "symopt",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-W", "ignore", "-c", _BUILD.format(lib=str(lib))],
                   cwd=src, check=True, capture_output=True, timeout=120)
    builtin = lib / "symopt" / "search" / "config" / "builtin"
    shipped = sorted(p.name for p in builtin.glob("*.toml"))
    assert shipped == ["default.toml", "nanogpt_tiny.toml", "paper.toml", "quick.toml"]
    assert (lib / "symopt" / "programs" / "adamw.prog").is_file()
    assert (lib / "symopt" / "py.typed").is_file()  # PEP 561: the package is typed
    proc = subprocess.run([sys.executable, "-c", _LOAD], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(lib)})
    assert proc.returncode == 0, proc.stderr
    where, names = proc.stdout.splitlines()
    assert Path(where) == lib / "symopt" / "search" / "config" / "builtin" / "default.toml"
    assert names == "nanogpt-tiny quadratic"


def test_search_seed_key_is_random_seed_and_the_old_spelling_warns():
    from symopt.errors import SymoptDeprecationWarning

    with pytest.warns(SymoptDeprecationWarning, match=r"^c.toml: search.seed is deprecated, "
                                                     r"write search.random_seed"):
        old = SearchConfig.from_dict({"search": {"seed": 7}}, source="c.toml")
    assert old.search.random_seed == 7 == SearchConfig.from_dict(
        {"search": {"random_seed": 7}}).search.random_seed
    with pytest.raises(UserError, match=r"^config: search.seed: the old spelling of "
                                        r"random_seed; give only random_seed$"):
        SearchConfig.from_dict({"search": {"seed": 7, "random_seed": 7}})
