from __future__ import annotations

import json

import pandas as pd
import pytest

from coral.predictions import Prediction, write_predictions
from coral.problems import ProblemLog
from coral.studies.frame import attach_metadata, load_predictions, read_table, repo_from_notebook_id


@pytest.fixture()
def predictions_path(fixtures_dir):
    return fixtures_dir / "studies" / "predictions.jsonl"


def test_cells_are_ordered_by_index_within_notebooks(predictions_path):
    frame = load_predictions(predictions_path)
    a = frame[frame["notebook_id"] == "gh:alice/proj:a.ipynb"]
    assert a["index"].tolist() == [0, 2, 3, 5, 6, 8]
    assert a["position"].tolist() == pytest.approx([(r + 0.5) / 6 for r in range(6)])
    assert frame["labelled"].sum() == 9


def test_repo_is_read_off_github_notebook_ids_case_insensitively():
    assert repo_from_notebook_id("gh:Alice/Proj:dir/a.ipynb") == "alice/proj"
    assert repo_from_notebook_id("local/notebook.ipynb") is None


def test_duplicate_cells_are_reported_and_the_first_kept(tmp_path):
    path = tmp_path / "p.jsonl"
    write_predictions([Prediction("n#0", "MODEL", {}, "n", 0, 1), Prediction("n#0", "WRANGLE", {}, "n", 0, 1)], path)
    problems = ProblemLog()
    frame = load_predictions(path, problems)
    assert frame["stage"].tolist() == ["MODEL"]
    assert problems.by_reason() == {"duplicate-cell": 1}


def test_a_notebook_two_files_hold_is_kept_from_the_first_not_merged(tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_predictions([Prediction("n#0", "IMPORT", {}, "n", 0, 1), Prediction("n#1", "MODEL", {}, "n", 1, 1)], first)
    write_predictions([Prediction("n#0", "WRANGLE", {}, "n", 0, 1), Prediction("n#2", "EXPLORE", {}, "n", 2, 1),
                       Prediction("m#0", "EVALUATE", {}, "m", 0, 1)], second)
    problems = ProblemLog()
    frame = load_predictions([first, second], problems)
    assert frame["id"].tolist() == ["m#0", "n#0", "n#1"] and frame["stage"].tolist() == ["EVALUATE", "IMPORT", "MODEL"]
    assert [(p.origin, p.item, p.reason) for p in problems] == [(str(second), "n", "duplicate-notebook")]


def test_an_unknown_stage_is_an_error_naming_file_and_cell(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": "n#3", "stage": "PLOT", "notebook_id": "n", "index": 3}) + "\n")
    with pytest.raises(ValueError, match=r"p\.jsonl: cell n#3 has stage 'PLOT'"):
        load_predictions(path)


def test_a_malformed_line_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": "n#0", "stage": None}) + "\n{not json\n")
    with pytest.raises(ValueError, match=r"p\.jsonl:2"):
        load_predictions(path)


def test_metadata_joins_on_repo_case_insensitively_and_reports_uncovered_notebooks(predictions_path, fixtures_dir):
    problems = ProblemLog()
    frame = attach_metadata(predictions_path, fixtures_dir / "studies" / "repos.tsv", problems=problems)
    groups = frame.groupby("notebook_id")["course_or_tutorial"].first()
    assert groups["gh:Alice/Proj:b.ipynb"] == 1 and groups["gh:bob/other:c.ipynb"] == 0
    assert pd.isna(groups["local/notebook.ipynb"])
    assert [p.item for p in problems] == ["local/notebook.ipynb"]


def test_metadata_keyed_by_notebook_can_supply_the_repo(predictions_path, fixtures_dir):
    frame = attach_metadata(predictions_path, fixtures_dir / "studies" / "notebooks.csv")
    repos = frame.groupby("notebook_id")["repo"].first()
    assert repos["local/notebook.ipynb"] == "carol/tool"
    assert repos["gh:alice/proj:a.ipynb"] == "alice/proj"  # empty in the table: keeps the id's repo


def test_metadata_errors_name_the_table(predictions_path, tmp_path):
    repeated = tmp_path / "meta.csv"
    repeated.write_text("repo,g\nalice/proj,1\nALICE/PROJ,2\n")
    with pytest.raises(ValueError, match="meta.csv: repo values repeat"):
        attach_metadata(predictions_path, repeated)
    keyless = tmp_path / "keyless.csv"
    keyless.write_text("name,g\nx,1\n")
    with pytest.raises(ValueError, match="keyless.csv: the metadata table needs a notebook_id or repo column"):
        attach_metadata(predictions_path, keyless)


def test_tables_are_read_by_extension(tmp_path):
    table = pd.DataFrame({"repo": ["a/b"], "g": [1]})
    table.to_parquet(tmp_path / "t.parquet")
    table.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    assert read_table(tmp_path / "t.parquet").equals(read_table(tmp_path / "t.tsv"))
    with pytest.raises(ValueError, match="cannot tell the table format"):
        read_table(tmp_path / "t.xlsx")
