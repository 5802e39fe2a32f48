"""What the fuzzing found, one test each: the input that crashed, hung or was lost, now
reported with a reason while every other notebook is still read, parsed and stored."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from coral.corpora.parquet import read_parsed_cells
from coral.corpora.pipeline import parse_corpus
from coral.corpora.readers import read_notebooks
from coral.problems import ProblemLog

NOTEBOOK = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
            "cells": [{"cell_type": "code", "source": "import os", "metadata": {}, "outputs": [], "execution_count": 1}]}


def read(paths, format=None):
    problems = ProblemLog()
    notebooks = {notebook.id: notebook for notebook in read_notebooks(paths, format, problems)}
    return notebooks, [(problem.origin, problem.item, problem.reason) for problem in problems]


def test_a_shard_record_whose_repo_or_path_is_not_text_is_read_and_reported(tmp_path):
    shard = tmp_path / "part.jsonl"
    records = [{"id": "gh:a", "repo": 5, "path": ["p"], "notebook": NOTEBOOK}, {"id": "gh:b", "repo": "o/r", "notebook": NOTEBOOK}]
    shard.write_text("".join(json.dumps(record) + "\n" for record in records))
    notebooks, problems = read([shard])  # used to crash the whole read: AttributeError on int.isascii
    assert list(notebooks) == ["gh:a", "gh:b"] and notebooks["gh:a"].repo is None and notebooks["gh:b"].repo == "o/r"
    assert problems == [(f"{shard}:1", "gh:a", "bad-field"), (f"{shard}:1", "gh:a", "bad-field")]


def test_coral_funcs_that_are_not_strings_are_dropped_and_reported(tmp_path):
    cells = tmp_path / "train.txt"
    records = [{"id": 1, "file": "nb_1.py", "context": "df.head()", "funcs": ["pandas.read_csv.head", 3, None], "annotation": []},
               {"id": 2, "file": "nb_2.py", "context": "x = 1", "funcs": [], "annotation": []}]
    cells.write_text("".join(json.dumps(record) + "\n" for record in records))
    summary = parse_corpus([cells], tmp_path / "parsed", workers=1)  # used to fail parsing: int has no .split
    parsed = {cell.id: cell for cell in read_parsed_cells(tmp_path / "parsed")}
    assert summary.stats.parsed_cells == 2 and "pandas.DataFrame.head" in parsed["1"].apis
    errors = [json.loads(line) for line in (tmp_path / "parsed" / "_errors.jsonl").read_text().splitlines()]
    assert [(error["item"], error["reason"]) for error in errors] == [("1", "bad-field")]


def test_a_fifo_or_device_member_of_a_tar_named_like_a_notebook_is_reported(tmp_path):
    archive = tmp_path / "nbs.tar"
    with tarfile.open(archive, "w") as out:
        for name, kind in (("pipe.ipynb", tarfile.FIFOTYPE), ("dev.ipynb", tarfile.CHRTYPE), ("dir.ipynb", tarfile.DIRTYPE)):
            info = tarfile.TarInfo(name)
            info.type = kind
            out.addfile(info)
        data = json.dumps(NOTEBOOK).encode()
        info = tarfile.TarInfo("good.ipynb")
        info.size = len(data)
        out.addfile(info, io.BytesIO(data))
    notebooks, problems = read([archive])  # were passed over without a word
    assert list(notebooks) == ["good.ipynb"]
    assert problems == [(f"{archive}:pipe.ipynb", "pipe.ipynb", "special-file"), (f"{archive}:dev.ipynb", "dev.ipynb", "special-file")]


def test_juice_positions_past_a_32_bit_cell_index_are_not_trusted(tmp_path):
    records = [
        {"code": "df.head()", "context": [{"cell_type": "code", "code": "import pandas as pd", "distance_target": 1}],
         "metadata": {"repo": "o/r", "path": "a.ipynb", "cell_index": 2**70}},
        {"code": "df.head()", "context": [{"cell_type": "code", "code": "import pandas as pd", "distance_target": 2**40}],
         "metadata": {"repo": "o/r", "path": "b.ipynb", "cell_index": 3}},
    ]
    shard = tmp_path / "juice.jsonl"
    shard.write_text("".join(json.dumps(record) + "\n" for record in records))
    summary = parse_corpus([shard], tmp_path / "parsed", workers=1)  # both used to fail storing: int32 overflow
    assert summary.problems == 0
    assert sorted(cell.id for cell in read_parsed_cells(tmp_path / "parsed")) == ["juice:juice.jsonl:1#1", "juice:o/r/b.ipynb#3"]


def test_a_dsp_prompt_past_the_cell_limit_is_left_out_and_reported(tmp_path):
    prompt = "%matplotlib inline\n" * 30_000  # 570,000 characters: minutes to split into cells
    records = [{"task_id": "DSP/1", "prompt": prompt, "solution": "s = df.sum()", "test": "assert s"},
               {"task_id": "DSP/2", "prompt": "import pandas as pd", "solution": "df = pd.read_csv('x')", "test": "assert df"}]
    shard = tmp_path / "dsp.jsonl"
    shard.write_text("".join(json.dumps(record) + "\n" for record in records))
    notebooks, problems = read([shard])
    assert [cell.role for cell in notebooks["DSP/1"].cells] == ["solution", "test"]
    assert [cell.role for cell in notebooks["DSP/2"].cells] == ["prompt", "solution", "test"]
    assert problems == [(f"{shard}:1", "DSP/1#prompt", "oversize")]


def test_a_notebook_repeated_across_work_units_of_a_parse_is_stored_once(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.jsonl").write_text(json.dumps({"id": "gh:same", "notebook": NOTEBOOK}) + "\n")
    summary = parse_corpus([tmp_path / "a.jsonl", tmp_path / "b.jsonl"], tmp_path / "parsed", workers=1)
    assert [cell.id for cell in read_parsed_cells(tmp_path / "parsed")] == ["gh:same#0"]
    assert summary.stats.notebook_problems == {"duplicate-notebook": 1}
