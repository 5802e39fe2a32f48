"""An output is written whole or not at all: a run that dies while writing leaves the previous
file (or none), never a partial one that later stages would take for complete."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coral.atomic import atomic_path, temporary_path
from coral.labeling.matrix import LabelMatrix
from coral.predictions import Prediction, write_predictions


class Killed(Exception):
    """Stands for the run dying part way through a write."""


def predictions(n: int, die_after: int | None = None):
    for i in range(n):
        if die_after is not None and i == die_after:
            raise Killed
        yield Prediction(id=f"nb#{i}", stage="IMPORT", probs={"IMPORT": 1.0}, notebook_id="nb", index=i)


def test_predictions_killed_while_writing_leave_the_previous_file(tmp_path):
    out = tmp_path / "preds.jsonl"
    assert write_predictions(predictions(3), out) == 3
    with pytest.raises(Killed):
        write_predictions(predictions(1000, die_after=500), out)
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["nb#0", "nb#1", "nb#2"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["preds.jsonl"]  # no temporary file left


def test_no_partial_file_when_there_was_none(tmp_path):
    with pytest.raises(Killed):
        write_predictions(predictions(10, die_after=5), tmp_path / "preds.jsonl")
    assert list(tmp_path.iterdir()) == []


def test_temporary_files_a_killed_run_left_are_cleaned_up(tmp_path):
    out = tmp_path / "label_matrix.parquet"
    stale = temporary_path(out).with_name(".label_matrix.tmp-999999.parquet")  # another, dead, process's
    stale.write_bytes(b"half a file")
    LabelMatrix(ids=["a#0", "a#1"], L=np.array([[0, -1], [-1, 1]]), lf_names=["lf1", "lf2"]).write(tmp_path)
    assert not stale.exists()
    assert LabelMatrix.read(tmp_path).ids == ["a#0", "a#1"]


def test_atomic_path_renames_only_on_success(tmp_path):
    target = tmp_path / "summary.json"
    with atomic_path(target) as temporary:
        temporary.write_text("{}")
        assert not target.exists()
    assert target.read_text() == "{}"
