"""A search's configuration: the sections (one dataclass per TOML table), loading and
checking a config file or built-in name (`builtin/*.toml`), and `--set KEY=VALUE` changes.

>>> from symopt.search.config import load_config
>>> load_config("quick").task.name
'quadratic'
"""

from symopt.search.config.loading import SearchConfig, config_names, load_config

__all__ = ["SearchConfig", "config_names", "load_config"]
