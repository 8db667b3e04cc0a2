"""The [mutation] config: every bad key named, the round trip through plain data."""

import pytest

from symopt.errors import UserError
from symopt.search.config.sections import MutationConfig


@pytest.mark.parametrize("data, key", [
    ({"insert": -1}, "mutation.insert"),
    ({"delete": "x"}, "mutation.delete"),
    ({"modify_arg": True}, "mutation.modify_arg"),
    ({"perturb_constant": float("nan")}, "mutation.perturb_constant"),
    ({"bogus": 1}, "mutation.bogus"),
    ({"max_statements": 0}, "mutation.max_statements"),
    ({"max_tries": 2.5}, "mutation.max_tries"),
    ({"constant_prob": 1.5}, "mutation.constant_prob"),
    ({"fresh_target_prob": -0.1}, "mutation.fresh_target_prob"),
    ({"functions": ["sign", "nope"]}, "mutation.functions"),
    ({"functions": []}, "mutation.functions"),
    ({"constant_min": 0.0}, "mutation.constant_min"),
    ({"constant_min": 5.0, "constant_max": 1.0}, "mutation.constant_min"),
    ({"insert": 0, "delete": 0, "modify_arg": 0, "perturb_constant": 0,
      "replace_function": 0}, "mutation.insert"),
])
def test_config_errors_name_the_key(data, key):
    with pytest.raises(UserError) as err:
        MutationConfig.from_dict(data)
    assert str(err.value).startswith(key + ":")


def test_config_from_dict_round_trip():
    cfg = MutationConfig.from_dict({"insert": 2, "functions": ["sign", "mul"],
                                    "max_statements": 12})
    assert cfg == MutationConfig(insert=2.0, functions=("sign", "mul"), max_statements=12)
    assert MutationConfig.from_dict({}) == MutationConfig()
    assert "copy" not in MutationConfig().functions
    with pytest.raises(UserError, match="expected a table"):
        MutationConfig.from_dict([1])
