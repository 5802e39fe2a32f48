"""Every notebook or cell a run does not use is reported: none is lost without a word."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

from coral.corpora.pipeline import parse_corpus
from coral.corpora.readers import read_notebooks
from coral.jobs.predict import load_stage_model, predict_corpus
from coral.problems import ProblemLog


def notebook_json(*sources: str) -> dict:
    cells = [{"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": 1}
             for source in sources]
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


def read(paths, format=None):
    problems = ProblemLog()
    notebooks = list(read_notebooks(paths, format, problems))
    return notebooks, [(problem.origin, problem.item, problem.reason) for problem in problems]


def test_a_null_notebook_and_a_null_shard_line_are_reported(tmp_path):
    (tmp_path / "null.ipynb").write_text("null")
    shard = tmp_path / "part.jsonl"
    shard.write_text("null\n" + json.dumps({"id": "gh:a", "notebook": notebook_json("import os")}) + "\n")
    notebooks, problems = read([tmp_path / "null.ipynb", shard], format=None)
    assert [notebook.id for notebook in notebooks] == ["gh:a"]
    assert problems == [(str(tmp_path / "null.ipynb"), "null.ipynb", "not-a-notebook"), (f"{shard}:1", None, "bad-record")]


def test_cells_with_a_missing_or_malformed_cell_type_are_kept_as_raw_and_reported(tmp_path):
    data = notebook_json("import os", "x = 1", "y = 2")
    del data["cells"][1]["cell_type"]
    data["cells"][2]["cell_type"] = ["code"]
    (tmp_path / "nb.ipynb").write_text(json.dumps(data))
    [notebook], problems = read([tmp_path / "nb.ipynb"])
    assert [cell.cell_type for cell in notebook.cells] == ["code", "raw", "raw"]
    assert [(item, reason) for _, item, reason in problems] == [("nb.ipynb#1", "missing-field"), ("nb.ipynb#2", "bad-field")]


def test_hidden_files_and_folders_are_reported(tmp_path):
    for name in ("seen.ipynb", ".hidden.ipynb", ".secret/inside.ipynb", ".ipynb_checkpoints/seen-checkpoint.ipynb"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(json.dumps(notebook_json("import os")))
    notebooks, problems = read([tmp_path])
    assert [notebook.id for notebook in notebooks] == ["seen.ipynb"]
    assert problems == [(str(tmp_path / ".secret"), None, "hidden-file"), (str(tmp_path / ".hidden.ipynb"), None, "hidden-file")]


def add_tar_member(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def test_nested_archives_are_reported_and_tar_links_are_read(tmp_path):
    notebook = json.dumps(notebook_json("import os")).encode()
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as nested:
        nested.writestr("deep.ipynb", notebook)
    with zipfile.ZipFile(tmp_path / "outer.zip", "w") as outer:
        outer.writestr("a.ipynb", notebook)
        outer.writestr("more/inner.zip", inner.getvalue())
    with tarfile.open(tmp_path / "outer.tar.gz", "w:gz") as outer:
        add_tar_member(outer, "a.ipynb", notebook)
        add_tar_member(outer, "inner.zip", inner.getvalue())
        link = tarfile.TarInfo("copy.ipynb")
        link.type, link.linkname = tarfile.LNKTYPE, "a.ipynb"
        outer.addfile(link)
    notebooks, problems = read([tmp_path / "outer.zip", tmp_path / "outer.tar.gz"])
    assert [notebook.id for notebook in notebooks] == ["a.ipynb", "copy.ipynb"]  # the tar's a.ipynb repeats the zip's
    assert [(item, reason) for _, item, reason in problems] == [
        ("more/inner.zip", "nested-archive"), ("a.ipynb", "duplicate-notebook"), ("inner.zip", "nested-archive")]


def test_a_shard_with_a_damaged_head_is_still_read_in_a_folder(tmp_path):
    folder = tmp_path / "shards"
    folder.mkdir()
    good = [json.dumps({"id": f"gh:{i}", "notebook": notebook_json("import os")}) for i in range(20)]
    (folder / "part.jsonl").write_text("\n".join(["{not json"] * 25 + good) + "\n")
    notebooks, problems = read([folder])
    assert len(notebooks) == 20 and len(problems) == 25 and {reason for _, _, reason in problems} == {"malformed-json"}


def test_duplicate_notebook_ids_across_inputs_are_reported_and_the_first_kept(tmp_path):
    for folder, source in (("a", "import os"), ("b", "import sys")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "nb.ipynb").write_text(json.dumps(notebook_json(source)))
    notebooks, problems = read([tmp_path / "a", tmp_path / "b"])
    assert [notebook.cells[0].source for notebook in notebooks] == ["import os"]
    assert problems == [(str(tmp_path / "b" / "nb.ipynb"), "nb.ipynb", "duplicate-notebook")]


def test_predicting_from_a_parsed_directory_carries_the_parse_problems_over(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    (folder / "good.ipynb").write_text(json.dumps(notebook_json("import os")))
    (folder / "broken.ipynb").write_text("{")
    summary = parse_corpus([folder], tmp_path / "parsed", workers=1)
    assert summary.problems == 1
    run = predict_corpus([tmp_path / "parsed"], load_stage_model("heuristics"), tmp_path / "p.jsonl", progress=False)
    assert run.n_cells == 1 and run.problems_by_reason == {"malformed-json": 1}
    [error] = [json.loads(line) for line in Path(run.errors).read_text().splitlines()]
    assert error["origin"] == str(folder / "broken.ipynb")
