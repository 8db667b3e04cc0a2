"""symopt.config_table: one reader of config tables and one error format,
`{source}: {section}.{key}: {problem} (got {value})`, for search, tune and sweep configs."""

import json
import re
from dataclasses import dataclass, field

import pytest

from symopt import checks
from symopt.cli import main
from symopt.config_table import NO_VALUE, at, error, read_table, toml_key
from symopt.errors import SymoptDeprecationWarning, UserError
from symopt.report.sweep import plan_sweep
from symopt.search.config.loading import SearchConfig
from symopt.search.config.sections import MutationConfig
from symopt.search.config.settings import apply_settings
from symopt.tune.config import TuneConfig


def _search(key, value):
    SearchConfig.from_dict({"search": {key: value}}, source="c.toml")


def _tune(key, value):
    TuneConfig.from_dict({"tune": {key: value}}, source="c.toml")


def _sweep(key, value):
    plan_sweep({}, [f"search.{key}={value}"], seeds=1)


def _set(key, value):
    apply_settings(SearchConfig(), [f"search.{key}={value}"])


# (reads one key, the source it names, the section the key is in)
READERS = [
    pytest.param(_search, lambda k, v: "c.toml", "search", id="search config"),
    pytest.param(_tune, lambda k, v: "c.toml", "tune", id="tune config"),
    pytest.param(_sweep, lambda k, v: f"--vary search.{k}={json.dumps(v)}", "search",
                 id="sweep --vary"),  # the sweep's label quotes a string
    pytest.param(_set, lambda k, v: f"--set search.{k}={v}", "search", id="search --set"),
]


def _message(read, key, value) -> str:
    with pytest.raises(UserError) as err:
        read(key, value)
    return str(err.value)


@pytest.mark.parametrize("read, source, section", READERS)
def test_an_unknown_key_reads_the_same_in_every_config(read, source, section):
    assert _message(read, "populaton", 8) == (
        f"{source('populaton', 8)}: {section}.populaton: unknown key "
        f"(did you mean 'population'?)")


@pytest.mark.parametrize("read, source, section", READERS)
def test_a_wrong_type_reads_the_same_in_every_config(read, source, section):
    assert _message(read, "population", "many") == (
        f"{source('population', 'many')}: {section}.population: expected an integer "
        f"(got 'many')")


@pytest.mark.parametrize("read, source, section", READERS)
def test_a_bad_value_reads_the_same_in_every_config(read, source, section):
    # the bounds differ (a GA needs 2 members), the format does not
    message = _message(read, "population", 0)
    pattern = rf"{re.escape(source('population', 0))}: {section}\.population: must be [^()]+ " \
              r"\(got 0\)"
    assert re.fullmatch(pattern, message), message


@dataclass(frozen=True)
class Inner:
    rate: float = 0.5


@dataclass(frozen=True)
class Table:
    flag: bool = False
    count: int = 1
    rate: float = 1.0
    name: str = ""
    limit: float | None = None
    seeds: tuple[int, ...] = (0,)
    pair: tuple[float, float] = (1.0, 2.0)
    extra: dict = field(default_factory=dict)
    inner: Inner = field(default_factory=Inner)
    stages: tuple[Inner, ...] = ()
    new_name: int = field(default=0, metadata=toml_key("spelled", old="older"))


def test_values_are_converted_by_the_annotations():
    t = read_table(Table, {"flag": True, "count": 3, "rate": 2, "limit": 4, "seeds": [1, 2],
                           "pair": [3, 4.5], "extra": {"a": 1}, "inner": {"rate": 1},
                           "stages": [{}, {"rate": 3}], "spelled": 7}, "c.toml", "t")
    assert t == Table(True, 3, 2.0, "", 4.0, (1, 2), (3.0, 4.5), {"a": 1}, Inner(1.0),
                      (Inner(), Inner(3.0)), 7)
    assert isinstance(t.rate, float) and isinstance(t.pair[0], float)
    assert read_table(Table, {"limit": None}, "c.toml", "t").limit is None


@pytest.mark.parametrize("data, message", [
    ({"flag": 1}, "t.flag: expected true or false (got 1)"),
    ({"count": True}, "t.count: expected an integer (got True)"),
    ({"count": 2.0}, "t.count: expected an integer (got 2.0)"),
    ({"rate": "fast"}, "t.rate: expected a number (got 'fast')"),
    ({"rate": False}, "t.rate: expected a number (got False)"),
    ({"name": 3}, "t.name: expected a string (got 3)"),
    ({"limit": "x"}, "t.limit: expected a number (got 'x')"),
    ({"seeds": 3}, "t.seeds: expected a list (got 3)"),
    ({"seeds": [1, "2"]}, "t.seeds: expected an integer (got '2')"),
    ({"pair": [1.0]}, "t.pair: expected a list of 2 (got [1.0])"),
    ({"extra": [1]}, "t.extra: expected a table (got [1])"),
    ({"inner": 5}, "t.inner: expected a table (got 5)"),
    ({"inner": {"rate": "x"}}, "t.inner.rate: expected a number (got 'x')"),
    ({"inner": {"rat": 1}}, "t.inner.rat: unknown key (did you mean 'rate'?)"),
    ({"stages": {"rate": 1}}, "t.stages: expected an array of tables ([[stages]]) "
                              "(got {'rate': 1})"),
    ({"stages": [{}, {"rate": "x"}]}, "t.stages.2.rate: expected a number (got 'x')"),
    ({"stages": [{}, 3]}, "t.stages.2: expected a table (got 3)"),
    ({"new_name": 1}, "t.new_name: unknown key (did you mean 'name'?)"),
    ({"zzz": 1}, "t.zzz: unknown key (known: count, extra, flag, inner, limit, name, pair, "
                 "rate, seeds, spelled, stages)"),
])
def test_type_errors_and_unknown_keys_name_the_dotted_path(data, message):
    with pytest.raises(UserError) as err:
        read_table(Table, data, "c.toml", "t")
    assert str(err.value) == "c.toml: " + message


def test_a_whole_file_has_sections_and_a_non_table_is_refused():
    with pytest.raises(UserError, match=r"^c.toml: serch: unknown section \(did you mean "
                                        r"'search'\?\)$"):
        SearchConfig.from_dict({"serch": {}}, source="c.toml")
    with pytest.raises(UserError, match=r"^c.toml: expected a table \(got 3\)$"):
        read_table(Table, 3, "c.toml")
    with pytest.raises(UserError, match=r"^c.toml: searc: unknown section \(a tune config has "
                                        r"one: \[tune\]\)$"):
        TuneConfig.from_dict({"searc": {}}, source="c.toml")


def test_a_deprecated_key_is_read_with_a_warning_and_not_both():
    with pytest.warns(SymoptDeprecationWarning,
                      match=r"^c.toml: t.older is deprecated, write t.spelled \(same meaning\)$"):
        assert read_table(Table, {"older": 5}, "c.toml", "t").new_name == 5
    with pytest.raises(UserError, match=r"^c.toml: t.older: the old spelling of spelled; "
                                        r"give only spelled$"):
        read_table(Table, {"older": 5, "spelled": 5}, "c.toml", "t")
    # the search config's one old key, through every reader
    with pytest.warns(SymoptDeprecationWarning, match=r"^c.toml: search.seed is deprecated"):
        assert SearchConfig.from_dict({"search": {"seed": 3}}, "c.toml").search.random_seed == 3
    with pytest.raises(UserError, match=r"^--set search.seed=4: search.seed: the old spelling "
                                        r"of random_seed; give only random_seed$"):
        apply_settings(SearchConfig(), ["search.seed=4"])  # the config has random_seed
    # and the tune config's: its random seed is `random_seed` too (glossary)
    with pytest.warns(SymoptDeprecationWarning, match=r"^c.toml: tune.seed is deprecated"):
        assert TuneConfig.from_dict({"tune": {"seed": 3}}, "c.toml").random_seed == 3


def test_a_toml_name_other_than_the_field_name():
    cfg = TuneConfig.from_dict({"tune": {"overrides": {"steps": 5}}})
    assert cfg.task_overrides == {"steps": 5} and cfg.to_dict()["tune"]["overrides"] == {
        "steps": 5}
    with pytest.raises(UserError, match=r"^c.toml: tune.task_overrides: unknown key \(did you "
                                        r"mean 'overrides'\?\)$"):
        TuneConfig.from_dict({"tune": {"task_overrides": {}}}, source="c.toml")


def test_tune_reads_its_nested_tables_with_the_same_reader():
    with pytest.raises(UserError, match=r"^c.toml: tune.pbt.iterations: expected an integer "
                                        r"\(got 2.5\)$"):
        TuneConfig.from_dict({"tune": {"pbt": {"iterations": 2.5}}}, source="c.toml")
    with pytest.raises(UserError, match=r"^c.toml: tune.pbt.iterations: must be an integer in "
                                        r"\[2, 100,000\] \(got 1\)$"):
        TuneConfig.from_dict({"tune": {"pbt": {"iterations": 1}}}, source="c.toml")
    with pytest.raises(UserError, match=r"^c.toml: tune.pbt.perturbation_factors: expected a "
                                        r"list of 2 \(got \[1.2\]\)$"):
        TuneConfig.from_dict({"tune": {"pbt": {"perturbation_factors": [1.2]}}}, "c.toml")
    with pytest.raises(UserError, match=r"^c.toml: tune.space: expected a table \(got 3\)$"):
        TuneConfig.from_dict({"tune": {"space": 3}}, source="c.toml")
    cfg = TuneConfig.from_dict({"tune": {"mutation_rate": 0, "time_limit_s": 60}})
    assert cfg.mutation_rate == 0.0 and isinstance(cfg.time_limit_s, float)


def test_a_dataclass_checking_itself_gets_the_source_in_front():
    with pytest.raises(UserError, match=r"^mutation.insert: must be a non-negative number "
                                        r"\(got -1\)$"):
        MutationConfig(insert=-1)
    with pytest.raises(UserError, match=r"^c.toml: mutation.insert: must be a non-negative "
                                        r"number \(got -1.0\)$"):
        MutationConfig.from_dict({"insert": -1}, "c.toml")
    with pytest.raises(UserError, match=r"^c.toml: mutation.insert: must be a non-negative "):
        SearchConfig.from_dict({"mutation": {"insert": -1}}, source="c.toml")


def test_the_error_format():
    assert str(error(at("c.toml", "funnel", 2, "top_k"), "must be at least 1", 0)) == (
        "c.toml: funnel.2.top_k: must be at least 1 (got 0)")
    assert str(error(at("c.toml", "search", "x"), "unknown key")) == (
        "c.toml: search.x: unknown key")
    assert str(error("k", "p", NO_VALUE)) == "k: p"
    assert str(error("k", "p", None)) == "k: p (got None)"  # None is a value
    long = str(error("k", "p", "x" * 500))
    assert long.endswith("...)") and len(long) == len("k: p (got )") + 80
    # the shared validators use it for config keys and flags alike
    with pytest.raises(UserError, match=r"^--seeds: must be at least 1 \(got 0\)$"):
        checks.at_least(0, 1, "--seeds")
    with pytest.raises(UserError, match=r"^--seeds: must be at most 100 \(got 101\)$"):
        checks.bounded(101, 1, checks.MAX_SEEDS, "--seeds")


def test_the_cli_exits_2_with_the_same_message(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[tune]\nbudjet = 4\n")
    assert main(["tune", "sgd", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == (
        f"symopt: error: {cfg}: tune.budjet: unknown key (did you mean 'budget'?)\n")
    cfg.write_text("[search]\nbudjet = 4\n")
    assert main(["search", "--seed", "sgd", "--config", str(cfg),
                 "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == (
        f"symopt: error: {cfg}: search.budjet: unknown key (did you mean 'budget'?)\n")
    assert not (tmp_path / "o").exists()
