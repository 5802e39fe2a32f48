"""Data Science Problems as DSP publishes them (tests/fixtures/corpora/README.md), field by field:
problems one per line (read.py / README), and the notebooks with task_id cells."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from coral.corpora.cells import read_cells
from coral.corpora.formats.dsp import split_prompt
from coral.corpora.readers import ReaderOptions, discover_sources, read_notebooks
from coral.problems import ProblemLog

HAT = "juice-github-repos/physics-course/hat_potential.ipynb"
GRIDS = "juice-github-repos/physics-course/grids.ipynb"


PROBLEMS_FILE = Path(__file__).parents[1] / "fixtures" / "corpora" / "dsp_problems.jsonl"
RECORDS = [json.loads(line) for line in PROBLEMS_FILE.read_text().splitlines()]


@pytest.fixture(scope="module")
def checkout(fixtures_dir: Path) -> Path:
    return fixtures_dir / "dsp"


def notebooks_of(path: Path, **options) -> tuple[dict, ProblemLog]:
    problems = ProblemLog()
    notebooks = read_notebooks(path, problems=problems, options=ReaderOptions(**options))
    return {notebook.id: notebook for notebook in notebooks}, problems


def test_task_id_names_the_notebook_and_a_record_without_solution_is_reported():
    notebooks, problems = notebooks_of(PROBLEMS_FILE)
    assert sorted(notebooks) == ["DSP/414", "DSP/415", "DSP/500"] == sorted(r["task_id"] for r in RECORDS if "solution" in r)
    assert [(p.item, p.reason) for p in problems] == [("DSP/999", "missing-field")]


def test_prompt_splits_into_its_code_and_markdown_parts():
    assert RECORDS[0]["prompt"].startswith("%matplotlib inline\nimport matplotlib.pyplot as plt")
    notebook = notebooks_of(PROBLEMS_FILE)[0]["DSP/414"]
    prompt = [(cell.cell_type, cell.role, cell.context_only) for cell in notebook.cells[:2]]
    assert prompt == [("code", "prompt", True), ("markdown", "prompt", False)]
    assert notebook.cells[0].source.splitlines()[-1] == "import scipy.optimize as opt"
    assert notebook.cells[1].source.startswith("## Hat potential")


def test_prompt_code_resolves_the_solution_calls():
    cells = {cell.id: cell for cell in read_cells(PROBLEMS_FILE)}
    assert cells["DSP/500#3"].source == "xs = np.linspace(0, 1, 50)"
    assert cells["DSP/500#3"].apis == ["numpy.linspace"]
    assert cells["DSP/500#3"].markdown_above.startswith("Make `xs`")  # prompt code is not markdown


def test_prompt_ends_with_the_solution_comments_as_markdown():
    assert RECORDS[1]["prompt"].endswith("# 100 points are enough")
    notebook = notebooks_of(PROBLEMS_FILE)[0]["DSP/415"]
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert markdown == ["Plot $V(x)$ for $a=5.0$ and $b=1.0$ on $[-3, 3]$ into `xs` and `vs`.\n# 100 points are enough"]


def test_solution_and_test_are_labeled_code_cells_with_roles():
    cells = list(read_cells(PROBLEMS_FILE))
    assert [(cell.id, cell.role, cell.nbgrader) for cell in cells if cell.notebook_id == "DSP/414"] == [
        ("DSP/414#2", "solution", "solution"), ("DSP/414#3", "test", "grade")
    ]
    assert cells[0].source == RECORDS[0]["solution"] and cells[1].source == RECORDS[0]["test"]
    assert {cell.role for cell in cells} == {"solution", "test"}  # prompt code is context only


def test_notebook_path_and_problem_index_are_kept():
    notebook = notebooks_of(PROBLEMS_FILE)[0]["DSP/415"]
    assert notebook.path == RECORDS[1]["notebook_path"] == HAT
    assert notebook.metadata["notebook_problem_index"] == RECORDS[1]["notebook_problem_index"] == 1


def test_split_prompt_keeps_prose_and_headings_out_of_code():
    assert split_prompt("x = 1\nThe value of x:\n\n$$ y = x^2 $$\n") == [
        ("code", "x = 1"), ("markdown", "The value of x:\n\n$$ y = x^2 $$")
    ]
    assert split_prompt("## Title\ndef f(a):\n    return a\n# Compute f\n") == [
        ("markdown", "## Title"), ("code", "def f(a):\n    return a"), ("markdown", "# Compute f")
    ]
    assert split_prompt("Introduction\n") == [("markdown", "Introduction")]  # a bare word is not code


def test_oversize_solution_is_reported(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(RECORDS[2]) + "\n")
    _, problems = notebooks_of(path, max_code_cell_chars=len(RECORDS[2]["solution"]) - 1)
    assert [(p.item, p.reason) for p in problems] == [("DSP/500#3", "oversize")]


def test_dsp_notebooks_read_as_notebooks_with_dsp_roles(checkout):
    notebooks, problems = notebooks_of(checkout)
    assert not problems and sorted(notebooks) == [GRIDS, HAT]
    roles = [(cell.index, cell.role) for cell in notebooks[HAT].cells]
    # 0-1 prompt of DSP/414, 2 its solution, 3 its test (also in DSP/415's prompt: stays a test),
    # 4 prompt of DSP/415, 5 its solution, 6 its test.
    assert roles == [(0, "prompt"), (1, "prompt"), (2, "solution"), (3, "test"), (4, "prompt"), (5, "solution"), (6, "test")]
    assert [source.kind for source in discover_sources(checkout)] == ["ipynb", "ipynb"]


def test_dsp_notebook_problem_cells_match_the_problems(checkout):
    cells = {cell.id: cell for cell in read_cells(checkout)}
    solution = cells[f"{HAT}#5"]
    assert solution.role == "solution" and solution.apis == ["numpy.linspace", "hat", "matplotlib.pyplot.plot"]
    notebook = nbformat.read(checkout / HAT, as_version=4)
    assert notebook.cells[5].metadata["task_id"] == RECORDS[1]["task_id"]
