"""`--set KEY=VALUE` on a search config (symopt.search.config.settings, `symopt search --set`)."""

import pytest

from symopt.cli import main
from symopt.errors import UserError
from symopt.search.config.loading import SearchConfig, load_config
from symopt.search.config.settings import apply_settings, parse_setting, set_key


def test_settings_change_the_default_config_and_nothing_else():
    base = load_config("default")
    cfg = apply_settings(base, ["search.budget=7", "task.overrides.steps=20",
                                "funnel.2.top_k=1", "funnel.*.lr_multipliers=[1.0]"])
    assert cfg.search.budget == 7 and cfg.task.overrides == {"steps": 20}
    assert [s.top_k for s in cfg.funnel] == [base.funnel[0].top_k, 1]
    assert [s.lr_multipliers for s in cfg.funnel] == [(1.0,), (1.0,)]
    # everything not named keeps the config's value
    unchanged = SearchConfig.from_dict({**cfg.to_dict(), "search": base.to_dict()["search"],
                                        "task": base.to_dict()["task"],
                                        "funnel": base.to_dict()["funnel"]})
    assert unchanged == base
    assert apply_settings(base, []) is base


def test_values_are_toml_literals_and_words_are_strings():
    assert parse_setting("search.method=constants") == ("search.method", "constants")
    assert parse_setting("task.time_limit_s=2.5") == ("task.time_limit_s", 2.5)
    assert parse_setting('task.name="quadratic"') == ("task.name", "quadratic")
    assert parse_setting("cache.fingerprint=false") == ("cache.fingerprint", False)


def test_set_key_indexes_lists_from_one_and_star_means_all():
    data = {"funnel": [{"top_k": 5}, {"top_k": 6}]}
    set_key(data, "funnel.2.top_k", 1)
    assert data == {"funnel": [{"top_k": 5}, {"top_k": 1}]}
    set_key(data, "funnel.*.overrides.steps", 3)
    assert [d["overrides"] for d in data["funnel"]] == [{"steps": 3}, {"steps": 3}]
    with pytest.raises(UserError, match=r"'0' is not one of the 2 \[\[funnel\]\] entries"):
        set_key(data, "funnel.0.top_k", 1)
    with pytest.raises(UserError, match=r"names a whole \[\[funnel\]\] entry"):
        set_key(data, "funnel.1", 1)


@pytest.mark.parametrize("setting, message", [
    ("funnel.3.top_k=1", "funnel.3.top_k: '3' is not one of the 2 [[funnel]] entries"),
    ("task.overides.steps=5", "--set task.overides.steps=5: task.overides: unknown key "
                              "(did you mean 'overrides'?)\n"),
    ("funnel.1.top_k=many", "--set funnel.1.top_k=many: funnel.1.top_k: expected an integer "
                            "(got 'many')\n"),
    ("funnel.2.top_k=0", "--set funnel.2.top_k=0: funnel.2.top_k: must be at least 1 "
                         "(got 0)\n"),
    ("task.overrides.stepz=5", "--set task.overrides.stepz=5: task.overrides: bad override"),
    ("steps=5", "KEY is SECTION.NAME"),
    ("search.budget", "expected KEY=VALUE"),
])
def test_a_bad_setting_exits_2_naming_it_before_the_run_exists(setting, message, tmp_path,
                                                               monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["search", "--seed", "adamw", "--set", setting]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symopt: error: ") and message in err, err
    assert setting.split("=")[0] in err
    assert not (tmp_path / "runs").exists()


def test_resume_refuses_set(tmp_path, capsys):
    assert main(["search", "--resume", str(tmp_path), "--set", "search.budget=3"]) == 2
    assert "drop --seed/--config/--set/--out" in capsys.readouterr().err
