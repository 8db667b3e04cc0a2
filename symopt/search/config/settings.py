"""`KEY=VALUE` changes to a search config from the command line (`symopt search --set`).

A key is a dotted path into the config's TOML tables: ``search.population``,
``task.overrides.steps``, ``funnel.2.top_k`` (the second `[[funnel]]` stage; stages are
numbered from 1, as in error messages) or ``funnel.*.overrides.steps`` (every stage). A
value is a TOML literal (``8``, ``0.5``, ``true``, ``[0.5, 1.0]``, ``"adamw"``); anything
that does not parse as one is taken as a string. The changed config is validated like a
file, the offending setting named (`--set SETTINGS: search.population: must be at least
1 (got 0)`, the format of `symopt.config_table`).

>>> from symopt.search.config.loading import load_config
>>> cfg = apply_settings(load_config("default"), ["task.overrides.steps=20",
...                      "funnel.*.lr_multipliers=[1.0]", "funnel.2.top_k=1"])
>>> cfg.task.overrides, [s.lr_multipliers for s in cfg.funnel], cfg.funnel[1].top_k
({'steps': 20}, [(1.0,), (1.0,)], 1)
>>> apply_settings(cfg, ["search.populaton=8"])
Traceback (most recent call last):
...
symopt.errors.UserError: --set search.populaton=8: search.populaton: unknown key \
(did you mean 'population'?)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from symopt.errors import UserError
from symopt.files import toml_value
from symopt.search.config.loading import SearchConfig

__all__ = ["apply_settings", "parse_setting", "set_key"]


def parse_setting(text: str, flag: str = "--set") -> tuple[str, Any]:
    """`"task.overrides.steps=20"` → `("task.overrides.steps", 20)`.

    >>> parse_setting("funnel.1.lr_multipliers=[0.5, 1]"), parse_setting("task.name=quadratic")
    (('funnel.1.lr_multipliers', [0.5, 1]), ('task.name', 'quadratic'))
    """
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key or not value:
        raise UserError(f"{flag} {text!r}: expected KEY=VALUE (e.g. task.overrides.steps=50)")
    if len(key.split(".")) < 2 or any(not part for part in key.split(".")):
        raise UserError(f"{flag} {text!r}: KEY is SECTION.NAME, e.g. search.population or "
                        f"funnel.1.top_k")
    parsed = toml_value(value, f"{flag} {key}")
    return key, value if parsed is None else parsed


def set_key(data: dict, key: str, value: Any, flag: str = "--set") -> None:
    """Set dotted `key` in plain config data (tables are created; a list such as the
    `[[funnel]]` stages is indexed from 1, or ``*`` for every element).

    >>> d = {"funnel": [{"top_k": 5}, {"top_k": 5}]}
    >>> set_key(d, "funnel.*.overrides.steps", 10); set_key(d, "funnel.1.top_k", 2); d
    {'funnel': [{'top_k': 2, 'overrides': {'steps': 10}}, {'top_k': 5, 'overrides': {'steps': 10}}]}
    """
    nodes: list[Any] = [data]
    *parents, last = key.split(".")
    for i, part in enumerate(parents + [last]):
        is_last = i == len(parents)
        nxt = []
        for node in nodes:
            if isinstance(node, list):
                nxt += _elements(node, part, key, flag)
            elif isinstance(node, dict):
                if is_last:
                    node[part] = value
                else:
                    nxt.append(node.setdefault(part, {}))
            else:
                raise UserError(f"{flag} {key}: {'.'.join((parents + [last])[:i])} is not a "
                                f"table")
        if is_last and nxt:  # the key ends on a list element: replace the elements
            raise UserError(f"{flag} {key}: names a whole [[{key.split('.')[0]}]] entry; "
                            f"set one of its keys")
        nodes = nxt


def _elements(items: list, part: str, key: str, flag: str) -> list:
    if part == "*":
        return list(items)
    if not part.isdigit() or not 1 <= int(part) <= len(items):
        where = key.split(".")[0]
        raise UserError(f"{flag} {key}: {part!r} is not one of the {len(items)} [[{where}]] "
                        f"entries (1..{len(items)} or *)")
    return [items[int(part) - 1]]


def apply_settings(config: SearchConfig, settings: Sequence[str],
                   flag: str = "--set") -> SearchConfig:
    """A copy of `config` with each ``KEY=VALUE`` of `settings` applied, validated (a bad
    setting is a `UserError` naming it; task overrides are checked against the task)."""
    if not settings:
        return config
    data = config.to_dict()
    for text in settings:
        key, value = parse_setting(text, flag)
        set_key(data, key, value, flag)
    source = f"{flag} {' '.join(settings)}"
    cfg = SearchConfig.from_dict(data, source=source)
    cfg.check_task(source)
    return cfg
