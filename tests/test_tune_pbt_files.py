"""PBT's own files read back through symopt.files (symopt.tune.pbt_files): damage is a
FileError naming the file, never a traceback. No Ray needed."""

import json

import numpy as np
import pytest

from symopt.files import FileError
from symopt.tune.pbt_files import (
    raise_member_errors,
    read_meta,
    read_records,
    read_state,
    records_limit,
)

ROW = {"trial_id": "a", "training_iteration": 1, "step": 10, "val_loss": 1.5, "status": "ok",
       "values": json.dumps({"c0": 0.1, "lr_multiplier": 1.0}), "origin": "",
       "restored_val": None, "source_val": None, "timestamp": 1.7e9}


def write_rows(path, *rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_records_read_back_and_a_line_cut_by_a_kill_is_skipped(tmp_path):
    path = write_rows(tmp_path / "r.jsonl", ROW, {**ROW, "training_iteration": 2, "step": 20},
                      json.dumps(ROW)[:25])
    records = read_records(path)
    assert [(r["trial"], r["generation"], r["step"]) for r in records] == [("a", 1, 10),
                                                                           ("a", 2, 20)]
    assert records[0]["values"] == {"c0": 0.1, "lr_multiplier": 1.0}
    assert read_records(tmp_path / "missing.jsonl") == []


@pytest.mark.parametrize("row, words", [
    ({**ROW, "step": "10"}, "line 2: not a PBT report"),
    ({**ROW, "trial_id": None}, "line 2: not a PBT report"),
    ([1, 2, 3], "line 2: not a PBT report"),
    ({**ROW, "values": "[1, 2]"}, "line 2: values: expected a table of numbers"),
    ({**ROW, "values": "{oops"}, "line 2: values: not JSON"),
    ({**ROW, "values": json.dumps({"c0": "x"})}, "values: expected a table of numbers"),
    ({**ROW, "timestamp": 1e300}, "line 2: restored_val, source_val, timestamp"),
    ({**ROW, "source_val": "big"}, "line 2: restored_val, source_val, timestamp"),
])
def test_a_damaged_record_names_the_file_and_line(tmp_path, row, words):
    path = write_rows(tmp_path / "r.jsonl", ROW, row)
    with pytest.raises(FileError, match=words) as err:
        read_records(path)
    assert err.value.path == str(path)


def test_records_file_not_regular_not_utf8_or_too_large(tmp_path):
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(FileError, match="not a regular file"):
        read_records(tmp_path / "dir.jsonl")
    (tmp_path / "bin.jsonl").write_bytes(json.dumps(ROW).encode() + b"\n\xff\xfe\n")
    with pytest.raises(FileError, match="not UTF-8"):
        read_records(tmp_path / "bin.jsonl")
    big = write_rows(tmp_path / "big.jsonl", *[ROW] * 20)
    with pytest.raises(FileError, match="file too large"):
        read_records(big, limit=1000)
    assert records_limit(8, 10) == 1_000_000 and records_limit(1000, 100) == 4096 * 1000 * 202


@pytest.mark.parametrize("text, words", [
    ('{"trial_id": "a", "val_loss": 1.0, "val0": 2.0}', "not the meta.json"),
    ('{"trial_id": 3, "val_loss": 1.0, "val0": 2.0, "step": 1}', "not the meta.json"),
    ('{"trial_id": "a", ', "not JSON"),
    pytest.param("[" * 100_000, "not JSON", id="deep"),
])
def test_a_damaged_checkpoint_meta_names_the_file(tmp_path, text, words):
    (tmp_path / "meta.json").write_text(text)
    with pytest.raises(FileError, match=words) as err:
        read_meta(tmp_path / "meta.json")
    assert err.value.path == str(tmp_path / "meta.json")


def test_a_damaged_checkpoint_state_names_the_file(tmp_path):
    path = tmp_path / "state.npz"
    path.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(FileError, match="damaged checkpoint state") as err:
        read_state(None, path, lambda trainer, arrays: arrays)
    assert err.value.path == str(path)
    np.savez(path, a=np.arange(3))
    assert list(read_state(None, path, lambda trainer, arrays: arrays)["a"]) == [0, 1, 2]
    with pytest.raises(FileError, match="KeyError"):
        read_state(None, path, lambda trainer, arrays: arrays["params"])


def test_a_members_file_error_is_raised_in_the_driver():
    inner = FileError("/run/pbt/ckpt/meta.json", "not JSON")
    wrapped = RuntimeError("the member failed")
    wrapped.__cause__ = inner
    raise_member_errors([RuntimeError("unrelated")])  # not a symopt error: left to Ray's report
    with pytest.raises(FileError, match="/run/pbt/ckpt/meta.json: not JSON"):
        raise_member_errors([wrapped])


def test_a_file_error_inside_rays_task_error_is_raised_in_the_driver():
    from ray.exceptions import RayTaskError

    cause = FileError("/run/pbt/ckpt/state.npz", "damaged checkpoint state")
    err = RayTaskError("pbt_trainable", "Traceback ...", cause).as_instanceof_cause()
    with pytest.raises(FileError) as raised:
        raise_member_errors([err])
    assert (raised.value.path, raised.value.reason) == (cause.path, cause.reason)
