"""The layers contract in pyproject.toml (import-linter): imports run one way.

The contract is first shown to catch an upward import in a throwaway package laid out like
symopt, then checked on symopt itself.
"""

import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
(LAYERS,) = [c for c in CONFIG["contracts"] if c["containers"] == ["symopt"]]
(STAGES,) = [c for c in CONFIG["contracts"] if c["containers"] == ["symopt.search"]]


def _toml_list(items):
    return "[" + ", ".join(f'"{x}"' for x in items) + "]"


def _fake_symopt(tmp_path: Path, violation: bool) -> Path:
    """A package `fakesym` with symopt's layers as empty modules; `lang` imports `search`
    (upward) when `violation` is set. Returns its import-linter config."""
    pkg = tmp_path / "fakesym"
    for layer in LAYERS["layers"]:
        for name in layer.replace("(", "").replace(")", "").split("|"):
            (pkg / name.strip()).mkdir(parents=True, exist_ok=True)
            (pkg / name.strip() / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "commands" / "__init__.py").write_text("import fakesym.search\n")  # downward: fine
    if violation:
        (pkg / "lang" / "__init__.py").write_text("import fakesym.search\n")
    config = tmp_path / "layers.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "fakesym"\n\n'
        '[[tool.importlinter.contracts]]\nname = "layers"\ntype = "layers"\n'
        f'containers = ["fakesym"]\nlayers = {_toml_list(LAYERS["layers"])}\n')
    return config


@pytest.mark.parametrize("violation", [True, False])
def test_the_contract_catches_an_upward_import(tmp_path, monkeypatch, violation):
    config = _fake_symopt(tmp_path, violation)
    monkeypatch.syspath_prepend(str(tmp_path))
    code = lint_imports(config_filename=str(config), no_cache=True, no_logo=True)
    assert code == (1 if violation else 0)


def test_symopt_keeps_its_layers(monkeypatch):
    monkeypatch.chdir(ROOT)  # lint-imports reads ./pyproject.toml; symopt imports from ROOT
    monkeypatch.syspath_prepend(str(ROOT))
    # every subpackage of search/ is a stage of the second contract
    stages = {name for layer in STAGES["layers"] for name in layer.split("|")}
    subpackages = {p.name for p in (ROOT / "symopt" / "search").iterdir()
                   if (p / "__init__.py").exists()}
    assert subpackages <= {s.strip() for s in stages}
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True,
                        no_logo=True) == 0
