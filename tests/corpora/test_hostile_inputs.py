"""One hostile input never stops or hangs a run: each is reported as a problem naming the file
or notebook, and every other notebook is still read, parsed and predicted."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from coral.corpora.parquet import read_parsed_cells
from coral.corpora.pipeline import corpus_stats, parse_corpus
from coral.corpora.readers import ReaderOptions, read_notebooks
from coral.jobs.predict import load_stage_model, predict_corpus
from coral.problems import ProblemLog
from tests.fuzz.hostile import patch_zip_member

HANG_LIMIT_S = 120  # a bound on inputs that used to hang or take minutes; far above what they take now


def notebook_json(*sources: str, execution_count: int | None = 1) -> dict:
    cells = [{"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": execution_count}
             for source in sources]
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


def write_notebook(path: Path, *sources: str, **fields) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook_json(*sources, **fields)))
    return path


def read(paths, options: ReaderOptions | None = None, format: str | None = None) -> tuple[dict, ProblemLog]:
    problems = ProblemLog()
    notebooks = {notebook.id: notebook for notebook in read_notebooks(paths, format, problems, options)}
    return notebooks, problems


def finishes(run: Callable[[], object]) -> object:
    """``run()``'s result; fails the test, rather than hanging it, if it does not return."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(run()), daemon=True)
    thread.start()
    thread.join(HANG_LIMIT_S)
    assert not thread.is_alive(), "the read never finished"
    return result[0]


def problem_reasons(problems) -> dict[str, str]:
    return {problem.origin: problem.reason for problem in problems}


@pytest.mark.parametrize("patch, words", [({"flags": 0x1}, "encrypted"), ({"method": 9}, "compression method")])
def test_encrypted_and_deflate64_zip_members_are_reported(tmp_path, patch, words):
    archive = tmp_path / "nbs.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("bad.ipynb", json.dumps(notebook_json("import os")))
        out.writestr("good.ipynb", json.dumps(notebook_json("import sys")))
    archive.write_bytes(patch_zip_member(archive.read_bytes(), "bad.ipynb", **patch))
    notebooks, problems = read([archive])
    assert list(notebooks) == ["good.ipynb"]
    [problem] = list(problems)
    assert problem.origin == f"{archive}:bad.ipynb" and problem.reason == "corrupt-archive" and words in problem.detail


def test_a_fifo_and_a_link_to_a_device_are_reported_not_read(tmp_path):
    folder = tmp_path / "nbs"
    write_notebook(folder / "good.ipynb", "import os")
    os.mkfifo(folder / "pipe.ipynb")
    os.mkfifo(folder / "pipe.jsonl")
    (folder / "zero.ipynb").symlink_to("/dev/zero")
    notebooks, problems = finishes(lambda: read([folder]))
    assert list(notebooks) == ["good.ipynb"]
    assert problem_reasons(problems) == {str(folder / name): "special-file" for name in ("pipe.ipynb", "pipe.jsonl", "zero.ipynb")}
    _, named = finishes(lambda: read([folder / "pipe.ipynb"]))  # named on its own
    assert problem_reasons(named) == {str(folder / "pipe.ipynb"): "special-file"}


def test_dangling_and_looping_links_in_a_folder_are_reported(tmp_path):
    folder = tmp_path / "nbs"
    write_notebook(folder / "good.ipynb", "import os")
    (folder / "dangling.ipynb").symlink_to(tmp_path / "missing.ipynb")
    (folder / "loop.ipynb").symlink_to(folder / "loop.ipynb")
    out = tmp_path / "parsed"
    summary = parse_corpus([folder], out, workers=1)
    assert summary.stats.notebooks == 1
    errors = [json.loads(line) for line in (out / "_errors.jsonl").read_text().splitlines()]
    assert {(error["origin"], error["reason"]) for error in errors} == {
        (str(folder / "dangling.ipynb"), "unreadable-file"), (str(folder / "loop.ipynb"), "unreadable-file")}


@pytest.mark.parametrize("line", ["a" * 60_000 + "?x", "?" + "a." * 30_000 + "(", "a" * 60_000 + " = 1 ?", "!" + "x" * 60_000])
def test_a_long_line_with_magic_syntax_is_rewritten_in_linear_time(line):
    # in a child process, so that a regular expression stuck in C can be stopped
    code = f"from coral.corpora.magics import rewrite_magics; rewrite_magics({line!r}); print('done')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_LIMIT_S,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert result.stdout.strip() == "done", result.stderr


def test_a_shard_record_without_a_notebook_is_reported(tmp_path):
    shard = tmp_path / "part.jsonl"
    good = {"id": "gh:good", "notebook": notebook_json("import os")}
    shard.write_text("\n".join(json.dumps(record) for record in (good, {"id": 7}, {"id": 8, "notebook": None})) + "\n")
    problems = ProblemLog()
    stats = corpus_stats([shard], format="shards", problems=problems)
    assert stats.notebooks == 1 and stats.notebook_problems == {"missing-field": 2}
    assert [(problem.origin, problem.item) for problem in problems] == [(f"{shard}:2", "7"), (f"{shard}:3", "8")]


def test_lone_surrogates_in_ids_file_names_and_sources_are_mended_and_reported(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    bad_name = os.fsdecode(b"bad\xff.ipynb")  # not UTF-8: Python names it with a lone surrogate
    write_notebook(folder / bad_name, "import os")
    shard = tmp_path / "part.jsonl"
    # JSON may escape lone surrogates (json.dumps writes them as \\ud800), but no UTF-8 writer can take them
    shard.write_text(json.dumps({"id": "gh:a\ud800b", "notebook": notebook_json("x = '\udc00'\nimport os")}) + "\n")
    parsed = tmp_path / "parsed"
    parse_corpus([folder, shard], parsed, workers=1)
    cells = list(read_parsed_cells(parsed))
    assert sorted(cell.notebook_id for cell in cells) == ["bad\ufffd.ipynb", "gh:a\ufffdb"]
    assert "x = '\ufffd'" in next(cell.source for cell in cells if cell.notebook_id == "gh:a\ufffdb")
    errors = [json.loads(line) for line in (parsed / "_errors.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted((error["item"], error["reason"]) for error in errors) == [
        ("bad\ufffd.ipynb", "invalid-unicode"), ("gh:a\ufffdb", "invalid-unicode")]
    run = predict_corpus([folder, shard], load_stage_model("heuristics"), tmp_path / "p.jsonl")
    assert run.n_cells == 2 and run.problems_by_reason == {"invalid-unicode": 2}
    ids = [json.loads(line)["id"] for line in (tmp_path / "p.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(ids) == ["bad\ufffd.ipynb#0", "gh:a\ufffdb#0"]


def test_an_execution_count_beyond_64_bits_is_dropped_and_reported(tmp_path):
    write_notebook(tmp_path / "nbs" / "big.ipynb", "import os", execution_count=2**70)
    write_notebook(tmp_path / "nbs" / "ok.ipynb", "import sys")
    summary = parse_corpus([tmp_path / "nbs"], tmp_path / "parsed", workers=1)
    cells = sorted(read_parsed_cells(tmp_path / "parsed"), key=lambda cell: cell.notebook_id)
    assert summary.stats.parsed_cells == 2 and [cell.execution_count for cell in cells] == [None, 1]
    errors = [json.loads(line) for line in (tmp_path / "parsed" / "_errors.jsonl").read_text().splitlines()]
    assert [(error["item"], error["reason"]) for error in errors] == [("big.ipynb#0", "bad-field")]


def test_an_oversized_gzip_line_is_skipped_without_being_held_in_memory(tmp_path):
    shard = tmp_path / "part.jsonl.gz"
    huge = json.dumps({"id": "gh:huge", "notebook": notebook_json("x = 1" + " " * 8_000_000)})
    with gzip.open(shard, "wt") as out:
        out.write(huge + "\n" + json.dumps({"id": "gh:small", "notebook": notebook_json("import os")}) + "\n")
    options = ReaderOptions(max_notebook_bytes=100_000)
    tracemalloc.start()
    try:
        notebooks, problems = read([shard], options, format="shards")  # format guessing reads lines up to 20 MB
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert list(notebooks) == ["gh:small"]
    [problem] = list(problems)
    assert problem.origin == f"{shard}:1" and problem.reason == "oversize" and f"{len(huge) + 1:,} bytes" in problem.detail
    assert peak < 4_000_000  # the 8 MB line was read past in pieces, never held whole


def test_a_notebook_that_cannot_be_stored_costs_only_itself(tmp_path, monkeypatch):
    from coral.corpora import pipeline

    folder = tmp_path / "nbs"
    for name in ("a", "b", "c"):
        write_notebook(folder / f"{name}.ipynb", "import os", "x = 1")
    real = pipeline.cells_to_table

    def fails_on_b(cells):
        if any(cell.notebook_id == "b.ipynb" for cell in cells):
            raise OverflowError("value too large")
        return real(cells)

    monkeypatch.setattr(pipeline, "cells_to_table", fails_on_b)
    summary = parse_corpus([folder], tmp_path / "parsed", workers=1, notebooks_per_unit=10)
    assert summary.units == 1 and summary.problems == 1
    assert sorted({cell.notebook_id for cell in read_parsed_cells(tmp_path / "parsed")}) == ["a.ipynb", "c.ipynb"]
    errors = [json.loads(line) for line in (tmp_path / "parsed" / "_errors.jsonl").read_text().splitlines()]
    assert [(error["item"], error["reason"]) for error in errors] == [("b.ipynb", "parse-failed")]


def test_a_reader_failure_costs_only_its_slice_of_the_unit(tmp_path, monkeypatch):
    from coral.corpora import units

    folder = tmp_path / "nbs"
    for name in ("a", "b", "c"):
        write_notebook(folder / f"{name}.ipynb", "import os")
    real = units.read_source

    def fails_on_b(source, *args):
        if source.path.name == "b.ipynb":
            raise RuntimeError("unforeseen")
        return real(source, *args)

    monkeypatch.setattr(units, "read_source", fails_on_b)
    summary = parse_corpus([folder], tmp_path / "parsed", workers=1, notebooks_per_unit=10)
    assert summary.units == 1 and summary.stats.notebooks == 2
    errors = [json.loads(line) for line in (tmp_path / "parsed" / "_errors.jsonl").read_text().splitlines()]
    assert [(error["origin"], error["reason"]) for error in errors] == [(f"{folder / 'b.ipynb'}[0:]", "unreadable-notebook")]
