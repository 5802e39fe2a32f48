"""``coral annotate``: labels written into notebooks, everything else kept, reruns and strip."""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from coral.cli import app
from coral.corpora.readers import example_paths
from coral.views.annotate import annotate, notebook_text
from coral.views.labelled import load_stage_model
from .annotated import assert_only_coral_differs, flat_cells, is_header


@pytest.fixture(scope="module")
def heuristics():
    """The extended LFs: unlike the paper's set, they label the small fixtures' cells (``import pylab``)."""
    return load_stage_model("heuristics", lf_specs=["extended"])


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_examples_round_trip_with_headers_and_validate(tmp_path):
    result = CliRunner().invoke(app, ["annotate", *map(str, example_paths()), "--out", str(tmp_path), "--headers"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["command"] == "annotate" and manifest["counts"]["notebooks_written"] == len(example_paths())
    for original in example_paths():
        annotated = _load(tmp_path / original.name)
        tagged = assert_only_coral_differs(_load(original), annotated)
        assert tagged == sum(cell["cell_type"] == "code" for cell in _load(original)["cells"])
        nbformat.validate(annotated)
        cells = annotated["cells"]
        # a header opens each run of one stage, and only there
        stages_after_headers = []
        for position, cell in enumerate(cells):
            if is_header(cell):
                following = next(c for c in cells[position + 1 :] if c["cell_type"] == "code")
                assert cells[position + 1] is following
                stages_after_headers.append(following["metadata"]["coral"]["stage"])
                assert cell["source"] == f"## Stage: {following['metadata']['coral']['stage'].title()}"
        runs = [cell["metadata"]["coral"]["stage"] for cell in cells if cell["cell_type"] == "code"]
        # the default model says whether its LFs or its encoder in context labelled each cell
        assert {c["metadata"]["coral"]["decided_by"] for c in cells if c["cell_type"] == "code"} <= {"lfs", "context"}
        changes = [stage for i, stage in enumerate(runs) if i == 0 or stage != runs[i - 1]]
        assert stages_after_headers == changes


def test_rerun_replaces_labels_and_headers_and_strip_restores_the_original(tmp_path, heuristics):
    first, second, stripped = tmp_path / "first", tmp_path / "second", tmp_path / "stripped"
    annotate(example_paths(), heuristics, "heuristics", out_dir=first, headers=True)
    annotate([first], heuristics, "heuristics", out_dir=second, headers=True)
    annotate([second], None, "", out_dir=stripped, strip=True)
    for original in example_paths():
        assert (second / original.name).read_text() == (first / original.name).read_text()
        assert _load(stripped / original.name) == _load(original)


def test_in_place_keeps_a_backup_and_rewrites_atomically(tmp_path, heuristics):
    notebook = tmp_path / "churn.ipynb"
    shutil.copy(example_paths()[1], notebook)
    before = notebook.read_bytes()
    run = annotate([notebook], heuristics, "heuristics", in_place=True)
    assert run.written == [notebook] and run.backups == [tmp_path / "churn.ipynb.bak"]
    assert (tmp_path / "churn.ipynb.bak").read_bytes() == before
    assert_only_coral_differs(json.loads(before), _load(notebook))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["churn.ipynb", "churn.ipynb.bak"]  # no temporary left


def test_in_place_refuses_archives_and_needs_one_destination(tmp_path, heuristics):
    archive = tmp_path / "nbs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(example_paths()[0], "a/first.ipynb")
    run = annotate([archive], heuristics, "heuristics", in_place=True)
    assert run.written == [] and [p.reason for p in run.problems] == ["not-a-file"]
    with pytest.raises(ValueError, match="exactly one"):
        annotate([archive], heuristics, "heuristics", out_dir=tmp_path / "o", in_place=True)


def test_archives_and_shards_are_written_out_as_ipynb_files(tmp_path, heuristics):
    archive = tmp_path / "nbs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(example_paths()[0], "a/first.ipynb")
    shard = tmp_path / "part-0.jsonl.gz"
    with gzip.open(shard, "wt") as out:
        record = {"id": "gh:me/repo:dir/x.ipynb", "repo": "me/repo", "path": "dir/x.ipynb", "notebook": _load(example_paths()[2])}
        out.write(json.dumps(record) + "\n")
    run = annotate([archive, shard], heuristics, "heuristics", out_dir=tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in run.written) == ["a/first.ipynb", "me/repo/dir/x.ipynb"]
    assert_only_coral_differs(_load(example_paths()[2]), _load(tmp_path / "out/me/repo/dir/x.ipynb"))


def test_v3_notebooks_stay_v3_with_labels_on_their_cells(tmp_path, heuristics, fixtures_dir):
    original = fixtures_dir / "corpora/notebooks/course/week1/v3_worksheets.ipynb"
    run = annotate([original], heuristics, "heuristics", out_dir=tmp_path, headers=True)
    annotated = _load(run.written[0])
    assert annotated["nbformat"] == 3 and "cells" not in annotated
    assert assert_only_coral_differs(_load(original), annotated) >= 1
    assert any(is_header(cell) for cell in flat_cells(annotated))
    assert [p.reason for p in run.problems] == ["invalid-as-read"]  # the fixture lacks 'outputs', as many old corpora do


def test_unusable_notebooks_are_reported_not_written(tmp_path, fixtures_dir):
    folder = fixtures_dir / "corpora/notebooks"
    result = CliRunner().invoke(app, ["annotate", str(folder / "broken.ipynb"), str(folder / "r_kernel.ipynb"), "--model", "heuristics", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "malformed-json" in result.output and "non-python-kernel" in result.output
    assert not list(tmp_path.glob("*.ipynb"))


def test_notebook_text_is_laid_out_as_jupyter_writes_it():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1\ny = 2\n")])
    as_jupyter_writes_it = nbformat.writes(notebook)
    assert notebook_text(json.loads(as_jupyter_writes_it)) == as_jupyter_writes_it + "\n"


@pytest.mark.shared
@pytest.mark.slow
def test_two_hundred_github_notebooks_round_trip_and_validate(tmp_path, github_sample, heuristics):
    records = [json.loads(line) for line in github_sample.read_text(encoding="utf-8").splitlines()]
    run = annotate([github_sample], heuristics, "heuristics", out_dir=tmp_path / "out", headers=True)
    by_id = {record["id"]: record["notebook"] for record in records}
    written = {path.relative_to(tmp_path / "out").as_posix(): path for path in run.written}
    assert len(written) + len({p.item for p in run.problems if p.reason != "invalid-as-read"}) >= 200
    checked = valid = 0
    for record in records:
        path = written.get(f"{record['repo']}/{record['path']}")
        if path is None:
            continue
        annotated = _load(path)
        assert_only_coral_differs(by_id[record["id"]], annotated)
        checked += 1
        try:
            nbformat.validate(json.loads(json.dumps(by_id[record["id"]])))
        except nbformat.ValidationError:
            continue
        nbformat.validate(annotated)
        valid += 1
    assert checked >= 180 and valid >= 100
