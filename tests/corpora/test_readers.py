"""Readers over every layout, on hand-written fixtures (tests/fixtures/corpora) and bad input."""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import nbformat
import pytest

from coral.corpora.readers import (
    ReaderOptions,
    count_records,
    discover_sources,
    example_paths,
    read_notebooks,
    read_source,
)
from coral.problems import ProblemLog


@pytest.fixture(scope="module")
def corpora(fixtures_dir: Path) -> Path:
    return fixtures_dir / "corpora"


def read(path, format=None, options=None):
    problems = ProblemLog()
    notebooks = list(read_notebooks(path, format=format, problems=problems, options=options))
    return {notebook.id: notebook for notebook in notebooks}, problems


def reasons(problems: ProblemLog) -> dict[str, str]:
    return {problem.item or problem.origin: problem.reason for problem in problems}


def v4_notebook(*cells: dict, language: str = "python") -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"language_info": {"name": language}}, "cells": list(cells)}


def code(source, **extra) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source, **extra}


def shard_line(notebook_id: str, notebook: dict) -> str:
    return json.dumps({"id": notebook_id, "repo": "o/r", "path": "p.ipynb", "commit": "0" * 40, "notebook": notebook})


# --- .ipynb files and folders ----------------------------------------------------------------


def test_folder_ids_are_relative_paths_and_unusable_notebooks_are_logged(corpora):
    notebooks, problems = read(corpora / "notebooks")
    assert list(notebooks) == [
        "analysis.ipynb",
        "empty.ipynb",
        "course/week1/assignment.ipynb",
        "course/week1/v3_worksheets.ipynb",
    ]  # sorted walk; checkpoint copies and non-notebook files are not read
    assert reasons(problems) == {"broken.ipynb": "malformed-json", "r_kernel.ipynb": "non-python-kernel"}
    assert all(problem.origin.endswith(problem.item) for problem in problems)
    assert notebooks["empty.ipynb"].cells == []


def test_a_file_given_alone_is_named_by_its_file_name(corpora):
    notebooks, problems = read(corpora / "notebooks" / "course" / "week1" / "assignment.ipynb")
    assert list(notebooks) == ["assignment.ipynb"] and not problems
    assert notebooks["assignment.ipynb"].cells[1].id == "assignment.ipynb#1"


def test_cells_sources_and_markdown_above_follow_the_three_cell_rule(corpora):
    notebooks, _ = read(corpora / "notebooks" / "analysis.ipynb")
    cells = notebooks["analysis.ipynb"].cells
    assert [cell.cell_type for cell in cells] == ["markdown", "code", "code", "raw", "code", "markdown", "code", "code"]
    assert cells[1].source == "import pandas as pd\nimport numpy as np"  # list source joined
    assert cells[1].execution_count == 1 and cells[7].execution_count is None
    above = {cell.index: cell.markdown_above for cell in cells if cell.cell_type == "code"}
    assert above[1] == above[2] == "# Iris\nLoad and look at the data."
    assert above[4] == ""  # the markdown is four cells up: too far
    assert above[6] == above[7] == "## Model"
    assert [cell.id for cell in cells] == [f"analysis.ipynb#{index}" for index in range(8)]


def test_nbformat_v3_worksheets_are_flattened_in_order(corpora):
    notebooks, problems = read(corpora / "notebooks" / "course" / "week1" / "v3_worksheets.ipynb")
    cells = notebooks["v3_worksheets.ipynb"].cells
    assert not problems
    assert [(cell.index, cell.cell_type) for cell in cells] == [(0, "markdown"), (1, "code"), (2, "markdown"), (3, "code")]
    assert cells[0].source == "# Old notebook"  # heading cell converted by nbformat
    assert cells[1].source == "import pylab\nx = 1" and cells[1].execution_count == 3  # prompt_number
    assert cells[3].markdown_above == "Second worksheet"


def test_nbgrader_cell_roles(corpora):
    notebooks, _ = read(corpora / "notebooks" / "course" / "week1" / "assignment.ipynb", format="nbgrader")
    roles = [cell.nbgrader for cell in notebooks["assignment.ipynb"].cells]
    assert roles == ["locked", "solution", "grade", None]


def test_cell_without_source_or_with_a_bad_source_is_logged_and_the_rest_kept(tmp_path):
    path = tmp_path / "holes.ipynb"
    cells = [code("a = 1"), {"cell_type": "code", "metadata": {}}, code(42), "junk", code("b = 2")]
    path.write_text(json.dumps(v4_notebook(*cells)))
    notebooks, problems = read(path)
    assert [cell.index for cell in notebooks["holes.ipynb"].cells] == [0, 4]
    assert reasons(problems) == {"holes.ipynb#1": "missing-field", "holes.ipynb#2": "bad-field", "holes.ipynb#3": "bad-cell"}


def test_not_a_notebook_undecodable_and_binary_junk_are_logged_not_raised(tmp_path):
    (tmp_path / "list.ipynb").write_text("[1, 2, 3]")
    utf8 = json.dumps(v4_notebook(code("s = 'é'")), ensure_ascii=False).encode("utf-8")
    (tmp_path / "latin1.ipynb").write_bytes(utf8.replace("é".encode(), "é".encode("latin-1")))
    (tmp_path / "junk.ipynb").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "blank.ipynb").write_text("   \n")
    notebooks, problems = read(tmp_path)
    assert notebooks == {}
    assert reasons(problems) == {
        "blank.ipynb": "malformed-json",
        "junk.ipynb": "undecodable-bytes",
        "latin1.ipynb": "undecodable-bytes",
        "list.ipynb": "not-a-notebook",
    }


def test_a_one_megabyte_cell_is_oversize_under_the_default_limit_and_kept_under_a_larger_one(tmp_path):
    huge = "x = [" + "1, " * 350_000 + "]"
    path = tmp_path / "big.ipynb"
    path.write_text(json.dumps(v4_notebook(code("import numpy"), code(huge), code("x"))))
    notebooks, problems = read(path)
    assert [cell.index for cell in notebooks["big.ipynb"].cells] == [0, 2]
    assert reasons(problems) == {"big.ipynb#1": "oversize"}
    notebooks, problems = read(path, options=ReaderOptions(max_code_cell_chars=2_000_000))
    assert notebooks["big.ipynb"].cells[1].source == huge and not problems
    _, problems = read(path, options=ReaderOptions(max_notebook_bytes=10_000))
    assert reasons(problems) == {"big.ipynb": "oversize"}


def test_deep_nesting_in_code_and_in_json(tmp_path):
    nested = "x = " + "(" * 5000 + "1" + ")" * 5000
    (tmp_path / "deep_code.ipynb").write_text(json.dumps(v4_notebook(code(nested))))
    (tmp_path / "deep_json.ipynb").write_text('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}")
    notebooks, problems = read(tmp_path)
    assert notebooks["deep_code.ipynb"].cells[0].source == nested
    assert reasons(problems) == {"deep_json.ipynb": "malformed-json"}


# --- archives ---------------------------------------------------------------------------------


def _archive_members(corpora: Path) -> dict[str, bytes]:
    folder = corpora / "notebooks"
    return {
        "nbs/analysis.ipynb": (folder / "analysis.ipynb").read_bytes(),
        "nbs/w1/v3.ipynb": (folder / "course" / "week1" / "v3_worksheets.ipynb").read_bytes(),
        "nbs/broken.ipynb": (folder / "broken.ipynb").read_bytes(),
        "nbs/.ipynb_checkpoints/analysis-checkpoint.ipynb": b"{}",
        "nbs/data.csv": b"a,b\n1,2\n",
    }


def test_zip_archive_ids_are_member_paths(corpora, tmp_path):
    path = tmp_path / "course.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in _archive_members(corpora).items():
            archive.writestr(name, data)
    notebooks, problems = read(path)
    assert list(notebooks) == ["nbs/analysis.ipynb", "nbs/w1/v3.ipynb"]
    assert reasons(problems) == {"nbs/broken.ipynb": "malformed-json"}
    assert problems._problems[0].origin == f"{path}:nbs/broken.ipynb"
    assert count_records(next(discover_sources(path))) == 3


def _write_tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_tar_gz_archive_and_a_truncated_one(corpora, tmp_path):
    members = _archive_members(corpora)
    path = tmp_path / "course.tar.gz"
    _write_tar(path, members)
    notebooks, problems = read(path)
    assert list(notebooks) == ["nbs/analysis.ipynb", "nbs/w1/v3.ipynb"]
    assert reasons(problems) == {"nbs/broken.ipynb": "malformed-json"}

    padded = {i: code(f"x = {i}" + " " * 3000 + "#" + str(i) * 500) for i in range(60)}
    many = {f"nbs/{i:03d}.ipynb": json.dumps(v4_notebook(cell)).encode() for i, cell in padded.items()}
    _write_tar(path, many)
    cut = tmp_path / "cut.tgz"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    notebooks, problems = read(cut)
    assert 0 < len(notebooks) < 60
    assert list(notebooks) == [f"nbs/{i:03d}.ipynb" for i in range(len(notebooks))]  # everything before the break
    assert [problem.reason for problem in problems] == ["truncated-archive"]


# --- JSON Lines shards ------------------------------------------------------------------------


def test_shards_ids_origins_and_problems(corpora):
    notebooks, problems = read(corpora / "shards")
    assert list(notebooks) == ["gh:alice/eda:nb/one.ipynb", "gh:bob/ml:train.ipynb"]
    first = notebooks["gh:alice/eda:nb/one.ipynb"]
    assert first.repo == "alice/eda" and first.path == "nb/one.ipynb"
    assert [cell.id for cell in first.code_cells] == ["gh:alice/eda:nb/one.ipynb#1", "gh:alice/eda:nb/one.ipynb#2"]
    assert first.origin.endswith("part-0000.jsonl:1")
    assert len(notebooks["gh:bob/ml:train.ipynb"].cells) == 4  # a v3 notebook inside a shard
    shard = corpora / "shards" / "part-0000.jsonl"
    assert [(problem.origin, problem.reason) for problem in problems] == [
        (f"{shard}:2", "malformed-json"),
        (f"{shard}:3", "missing-field"),
        (f"{shard}:5", "non-python-kernel"),
    ]  # the blank line 4 is not a record


@pytest.mark.parametrize("format", ["shards", "coral", "juice", "dsp"])
def test_a_line_that_is_not_a_json_object_is_logged_in_every_record_layout(tmp_path, format):
    path = tmp_path / "records.jsonl"
    path.write_text(shard_line("gh:o/r:a.ipynb", v4_notebook(code("x = 1"))) + "\n[1, 2]\n")
    notebooks, problems = read(path, format=format)
    assert [(problem.origin, problem.reason) for problem in problems if problem.reason == "bad-record"] == [
        (f"{path}:2", "bad-record")
    ]


def test_gzipped_shards_read_the_same(corpora, tmp_path):
    text = (corpora / "shards" / "part-0000.jsonl").read_bytes()
    (tmp_path / "part-0000.jsonl.gz").write_bytes(gzip.compress(text))
    plain, plain_problems = read(corpora / "shards")
    gzipped, gz_problems = read(tmp_path)
    assert list(gzipped) == list(plain)
    assert [problem.reason for problem in gz_problems] == [problem.reason for problem in plain_problems]


def test_truncated_gzip_keeps_every_notebook_before_the_break(tmp_path):
    lines = [shard_line(f"nb{i}", v4_notebook(code(f"x = {i}\n" + "# padding " * 300))) for i in range(400)]
    whole = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "part.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    notebooks, problems = read(path)
    read_count = len(notebooks)
    assert 0 < read_count < 400
    assert list(notebooks) == [f"nb{i}" for i in range(read_count)]
    (problem,) = list(problems)
    assert problem.reason == "truncated-gzip"
    assert problem.origin == f"{path}:{read_count + 1}"  # the line that was cut off


def test_corrupt_gzip_and_undecodable_lines(tmp_path):
    (tmp_path / "junk.jsonl.gz").write_bytes(b"\x1f\x8b" + bytes(range(256)) * 8)
    good = shard_line("ok", v4_notebook(code("a = 1")))
    lines = [good.encode(), b'{"id": "bad\xff\xfe"}', good.replace('"ok"', '"ok2"').encode()]
    (tmp_path / "mixed.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    problems = ProblemLog()
    notebooks = list(read_notebooks(tmp_path, format="shards", problems=problems))
    assert [notebook.id for notebook in notebooks] == ["ok", "ok2"]
    assert sorted((Path(p.origin).name, p.reason) for p in problems) == [
        ("junk.jsonl.gz:1", "corrupt-gzip"),
        ("mixed.jsonl:2", "undecodable-bytes"),
    ]


def test_record_ranges_split_a_shard_exactly(corpora):
    source = next(discover_sources(corpora / "shards"))
    assert count_records(source) == 6
    whole = [notebook.id for notebook in read_source(source, ProblemLog())]
    ranges = [(0, 2), (2, 5), (5, None)]
    pieces = [nb.id for start, stop in ranges for nb in read_source(source, ProblemLog(), start=start, stop=stop)]
    assert pieces == whole


def test_reading_is_streaming(corpora):
    problems = ProblemLog()
    notebooks = read_notebooks(corpora / "shards", problems=problems)
    assert next(notebooks).id == "gh:alice/eda:nb/one.ipynb"
    assert len(problems) == 0  # the malformed line 2 has not been read yet


def test_without_a_problem_log_problems_become_warnings(corpora, caplog):
    with caplog.at_level(logging.WARNING, logger="coral.problems"):
        list(read_notebooks(corpora / "notebooks" / "broken.ipynb"))
    assert "malformed-json" in caplog.text and "broken.ipynb" in caplog.text


# --- CORAL, JuICe and DSP records -------------------------------------------------------------


def test_coral_cells_keep_their_ids_and_precomputed_features(corpora):
    notebooks = list(read_notebooks(corpora / "coral_sample.txt", problems=(problems := ProblemLog())))
    ids = [(notebook.id, notebook.cells[0].id) for notebook in notebooks]
    assert ids == [("coral:nb_1001", "42"), ("coral:nb_1001", "43")]
    first, second = notebooks[0].cells[0], notebooks[1].cells[0]
    assert first.funcs == ["pandas.read_csv"] and first.coral_nodes[1] == {"type": "Import", "children": [2]}
    assert first.markdown_above == "Sales\nLoad the monthly sales"
    assert second.markdown_above == "Trends"  # no annotation: the header
    assert reasons(problems) == {"77": "missing-field"}


# --- choosing the format ----------------------------------------------------------------------


def test_formats_are_guessed_per_file_and_can_be_forced(corpora, tmp_path):
    kinds = {source.path.name: source.kind for source in discover_sources(corpora)}
    assert kinds["part-0000.jsonl"] == "shards"
    assert kinds["juice_dev.jsonl"] == "juice" and kinds["dsp_problems.jsonl"] == "dsp"
    assert kinds["coral_sample.txt"] == "coral" and kinds["analysis.ipynb"] == "ipynb"
    assert "notes.md" not in kinds  # other files in folders are not corpus files
    forced = {source.path.name: source.kind for source in discover_sources(corpora, format="juice")}
    assert forced["coral_sample.txt"] == forced["part-0000.jsonl"] == "juice" and forced["analysis.ipynb"] == "ipynb"

    (tmp_path / "other.jsonl").write_text('{"name": "a table row"}\n')
    (tmp_path / "README.txt").write_text("Data from a course.\n")
    problems = ProblemLog()
    assert list(discover_sources(tmp_path, problems=problems)) == []
    assert sorted(problem.reason for problem in problems) == ["no-notebooks", "unknown-format", "unknown-format"]


def test_bad_paths_and_formats_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such"):
        list(read_notebooks(tmp_path / "no-such"))
    with pytest.raises(ValueError, match="unknown corpus format"):
        list(read_notebooks(tmp_path, format="csv"))


# --- shipped examples -------------------------------------------------------------------------


def test_example_notebooks_ship_and_read_cleanly():
    paths = example_paths()
    assert 3 <= len(paths) <= 5
    for path in paths:
        nbformat.validate(nbformat.read(path, as_version=4))
    notebooks, problems = read(paths)
    assert not problems and len(notebooks) == len(paths)
    for notebook in notebooks.values():
        assert len(notebook.code_cells) >= 8
        assert sum(bool(cell.markdown_above) for cell in notebook.code_cells) >= 4


def test_reader_options_print_alike_in_every_process():
    """Work units and resumable runs are named after them: a rerun in a new process must find its parts."""
    script = ("from coral.corpora.formats.common import ReaderOptions; "
              "print(repr(ReaderOptions(only_ids=frozenset(f'nb{i}.ipynb' for i in range(50)))))")
    printed = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(printed) == 1 and "nb0.ipynb" in printed.pop()
