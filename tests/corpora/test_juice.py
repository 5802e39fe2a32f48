"""JuICe records in the layout JuICe's pipeline writes (tests/fixtures/corpora/README.md), field by field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coral.corpora.cells import read_cells
from coral.corpora.formats.juice import import_preamble
from coral.corpora.pipeline import parse_corpus
from coral.corpora.readers import ReaderOptions, read_notebooks
from coral.corpora.units import plan_work_units
from coral.problems import ProblemLog

EDA = "juice:alice/titanic/notebooks/eda.ipynb"
HOMEWORK = "juice:bob/ds-course/hw1/hw1.ipynb"


@pytest.fixture(scope="module")
def juice_file(fixtures_dir: Path) -> Path:
    return fixtures_dir / "corpora" / "juice_dev.jsonl"


@pytest.fixture(scope="module")
def records(juice_file: Path) -> list[dict]:
    return [json.loads(line) for line in juice_file.read_text().splitlines()]


def parsed(path: Path, juice_cells: str = "target", problems: ProblemLog | None = None) -> dict:
    cells = read_cells(path, format="juice", problems=problems, options=ReaderOptions(juice_cells=juice_cells))
    return {cell.id: cell for cell in cells}


def write_records(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def test_one_item_per_target_by_default(juice_file):
    cells = parsed(juice_file)
    assert sorted(cells) == [f"{EDA}#5", f"{EDA}#6", f"{EDA}#8", f"{HOMEWORK}#4", "juice:juice_dev.jsonl:5#1"]
    assert {cell.role for cell in cells.values()} == {"target"}


def test_all_cells_label_each_distinct_code_cell_once(juice_file, records):
    context_code = sum(entry["cell_type"] == "code" for record in records for entry in record["context"])
    cells = parsed(juice_file, "all", problems := ProblemLog())
    assert not problems
    # 5 targets plus 7 context code cells as written in the records, but cells 3 and 5 of
    # eda.ipynb repeat: eda.ipynb#3 is context of two records, #5 a target and context.
    assert len(records) + context_code == 12
    assert sorted(cells) == sorted(
        [f"{EDA}#3", f"{EDA}#5", f"{EDA}#6", f"{EDA}#8", f"{HOMEWORK}#1", f"{HOMEWORK}#4",
         "juice:juice_dev.jsonl:5#0", "juice:juice_dev.jsonl:5#1"]
    )
    assert cells[f"{EDA}#3"].role == "context" and cells[f"{EDA}#5"].role == "target"


def test_parsing_in_work_units_stores_each_cell_once(juice_file, tmp_path):
    """A JuICe file read with every cell is one work unit: a cell that records of two units
    would name (context of one, target of another) is never stored twice."""
    options = ReaderOptions(juice_cells="all")
    parse_corpus([juice_file], tmp_path / "parsed", format="juice", workers=1, notebooks_per_unit=1, options=options)
    stored = [cell.id for cell in read_cells([tmp_path / "parsed"])]
    assert sorted(stored) == sorted(parsed(juice_file, "all")) and len(stored) == len(set(stored))


def test_code_is_the_target_source(juice_file, records):
    cells = parsed(juice_file)
    assert cells[f"{EDA}#5"].source == records[0]["code"]


def test_code_tokens_clean_stand_in_for_missing_code(juice_file):
    target = parsed(juice_file)["juice:juice_dev.jsonl:5#1"]
    assert target.source == "def loss ( y , p ) :\n    return ( ( y - p ) ** 2 ) . mean ( )"


def test_metadata_location_gives_notebook_and_cell_ids(juice_file, records):
    notebooks = list(read_notebooks(juice_file, format="juice"))
    first = notebooks[0]
    metadata = records[0]["metadata"]
    assert first.id == f"juice:{metadata['repo']}/{metadata['path']}" == EDA
    assert (first.repo, first.path) == ("alice/titanic", "notebooks/eda.ipynb")
    assert first.cells[-1].index == metadata["cell_index"] == 5


def test_nb_index_names_the_notebook_without_repo_and_path(tmp_path, records):
    record = dict(records[0], metadata={"nb_index": 17, "cell_index": 5})
    notebook = next(read_notebooks(write_records(tmp_path / "r.jsonl", [record]), format="juice"))
    assert notebook.id == "juice:nb17" and notebook.cells[-1].id == "juice:nb17#5"


def test_num_cells_above_stands_in_for_cell_index(tmp_path, records):
    metadata = {key: value for key, value in records[0]["metadata"].items() if key != "cell_index"}
    record = dict(records[0], metadata=metadata)
    notebook = next(read_notebooks(write_records(tmp_path / "r.jsonl", [record]), format="juice"))
    assert notebook.cells[-1].index == record["num_cells_above"] == 5


def test_distance_target_places_context_cells_and_gaps_count(juice_file, records):
    homework = next(nb for nb in read_notebooks(juice_file, format="juice") if nb.id == HOMEWORK)
    # The record leaves out the autograder test cell at distance 2, as JuICe does.
    assert [entry["distance_target"] for entry in records[3]["context"]] == [1, 3]
    assert [(cell.index, cell.cell_type) for cell in homework.cells] == [
        (1, "code"), (3, "markdown"), (4, "code")
    ]


def test_markdown_above_follows_the_three_cell_rule_over_real_positions(juice_file):
    cells = parsed(juice_file, "all")
    assert cells[f"{EDA}#6"].markdown_above == "Plot the distribution of ages"  # two cells up
    assert cells[f"{EDA}#8"].markdown_above == "Fares are skewed: take their logarithm"
    assert cells[f"{HOMEWORK}#1"].markdown_above == ""  # its markdown (cell 0) is not in the record


def test_nl_original_is_the_markdown_text(juice_file, records):
    entry = records[0]["context"][0]
    assert entry["cell_type"] == "markdown" and entry["nl"] == ["plot", "the", "distribution", "of", "ages"]
    assert parsed(juice_file)[f"{EDA}#5"].markdown_above == entry["nl_original"]


def test_nl_tokens_stand_in_without_nl_original(tmp_path, records):
    context = [{k: v for k, v in entry.items() if k != "nl_original"} for entry in records[0]["context"]]
    cells = parsed(write_records(tmp_path / "r.jsonl", [dict(records[0], context=context)]))
    assert cells[f"{EDA}#5"].markdown_above == "plot the distribution of ages"


def test_record_nl_is_the_target_markdown_only_without_markdown_context(juice_file, tmp_path, records):
    assert parsed(juice_file)["juice:juice_dev.jsonl:5#1"].markdown_above == "define the loss"
    record = dict(records[1], nl=["something", "else"])  # context holds markdown two cells up
    cells = parsed(write_records(tmp_path / "r.jsonl", [record]))
    assert cells[f"{EDA}#6"].markdown_above == "Plot the distribution of ages"


def test_context_code_resolves_the_target_calls(juice_file):
    cells = parsed(juice_file)
    assert "pandas.read_csv.describe" in cells[f"{EDA}#6"].apis  # df from a context cell


def test_imports_become_a_preamble_of_conventional_aliases(juice_file, records):
    assert records[2]["imports"] == ["numpy", "np", "pandas", "pd", "matplotlib", "pyplot", "plt"]
    # The import cell is beyond the record's context: only `imports` says np is numpy.
    assert all("import" not in entry.get("code", "") for entry in records[2]["context"])
    assert parsed(juice_file)[f"{EDA}#8"].apis == ["numpy.log1p"]
    third = list(read_notebooks(juice_file, format="juice"))[2]
    assert third.preamble == "import numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt"
    assert all(cell.index >= 0 for cell in third.cells)  # the preamble is no cell


def test_import_preamble_rebuilds_only_aliases_that_follow_their_module():
    assert import_preamble(["numpy", "np", "matplotlib", "pyplot", "plt"]) == (
        "import numpy as np\nimport matplotlib.pyplot as plt"
    )
    assert import_preamble(["os", "np", "LinearRegression", "pyplot", "plt"]) == ""
    assert import_preamble(None) == ""


def test_metadata_nbgrader_gives_the_target_its_nbgrader_kind(juice_file, records):
    assert records[3]["metadata"]["nbgrader"]["solution"] is True
    target = parsed(juice_file)[f"{HOMEWORK}#4"]
    assert target.nbgrader == "solution" and target.role == "target"


def test_execution_count_is_ignored(juice_file, records):
    assert records[0]["execution_count"] == 0  # JuICe resets it on every cell
    assert parsed(juice_file)[f"{EDA}#5"].execution_count is None


def test_context_code_cells_obey_the_cell_size_limit(tmp_path, records):
    problems = ProblemLog()
    options = ReaderOptions(max_code_cell_chars=len(records[0]["code"]) - 1)
    path = write_records(tmp_path / "r.jsonl", [records[1]])  # context code cell 5 is longer than its target
    cells = list(read_cells(path, format="juice", problems=problems, options=options))
    assert [cell.id for cell in cells] == [f"{EDA}#6"]
    assert [(p.item, p.reason) for p in problems] == [(f"{EDA}#5", "oversize")]


def test_unusable_context_cells_are_reported(tmp_path, records):
    record = dict(records[0], context=["text", {"cell_type": "code", "distance_target": 2}])
    problems = ProblemLog()
    list(read_notebooks(write_records(tmp_path / "r.jsonl", [record]), format="juice", problems=problems))
    assert sorted((p.item, p.reason) for p in problems) == [(f"{EDA}#3", "missing-field"), (f"{EDA}#4", "bad-cell")]


def test_a_juice_file_stays_one_work_unit_when_every_cell_is_labeled(juice_file):
    split = plan_work_units([juice_file], "juice", notebooks_per_unit=2)
    whole = plan_work_units([juice_file], "juice", notebooks_per_unit=2, options=ReaderOptions(juice_cells="all"))
    assert (len(split), len(whole)) == (3, 1)


def test_unknown_juice_cells_choice_is_an_error():
    with pytest.raises(ValueError, match="juice_cells"):
        ReaderOptions(juice_cells="context")


def test_labeling_reads_juice_cells_through_the_reader_options(juice_file, tmp_path):
    from coral.corpora.cells import plan_cell_parts
    from coral.labeling.corpus import label_corpus, label_to_directory
    from coral.labeling.lfsets import load_lf_sets

    every = ReaderOptions(juice_cells="all")
    assert len(label_corpus([juice_file], load_lf_sets(["paper"])).ids) == 5
    assert len(label_corpus([juice_file], load_lf_sets(["paper"]), options=every).ids) == 8
    assert len(plan_cell_parts([juice_file], notebooks_per_unit=2, options=every)) == 1  # the file stays whole
    assert label_to_directory([juice_file], ["paper"], tmp_path, notebooks_per_unit=2, options=every).n_cells == 8
