"""Cell roles (nbgrader / JuICe / DSP) from the corpus to predictions and studies."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from coral.cli import app
from coral.corpora.cells import read_cells
from coral.corpora.parquet import cells_to_table, table_to_cells
from coral.jobs.predict import load_stage_model, predict_corpus
from coral.predictions import Prediction, read_predictions, write_predictions
from coral.stages import STAGE_NAMES
from coral.studies import compare, composition
from coral.studies.frame import load_predictions


@pytest.fixture(scope="module")
def course_predictions(fixtures_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("course") / "predictions.jsonl"
    predict_corpus([fixtures_dir / "nbgrader"], load_stage_model("heuristics"), out, progress=False)
    return out


def simulated_assignments(notebooks: int = 40, seed: int = 3) -> list[Prediction]:
    """Notebooks whose solution cells are mostly MODEL and whose other cells mostly EXPLORE."""
    rng = np.random.default_rng(seed)
    stage_probs = {"solution": [0.05, 0.1, 0.15, 0.6, 0.1], None: [0.1, 0.15, 0.6, 0.05, 0.1]}
    records = []
    for n in range(notebooks):
        for index in range(12):
            role = "solution" if index % 2 else None
            stage = STAGE_NAMES[rng.choice(5, p=stage_probs[role])]
            records.append(Prediction(f"nb{n}#{index}", stage, {}, f"nb{n}", index, 2, [], role))
    return records


def test_nbgrader_roles_reach_the_predictions(course_predictions):
    roles = {p.id: p.role for p in read_predictions(course_predictions)}
    assert roles["source/ps1/problem1.ipynb#2"] == "solution"  # def squares(n): ### BEGIN SOLUTION
    assert roles["source/ps1/problem1.ipynb#5"] == "grade"  # the autograder's asserts
    assert roles["source/ps1/problem1.ipynb#4"] is None  # squares(10), handed to students
    assert sorted(set(map(str, roles.values()))) == ["None", "grade", "solution"]


def test_juice_and_dsp_roles_reach_the_predictions(fixtures_dir, tmp_path):
    out = tmp_path / "p.jsonl"
    corpora = fixtures_dir / "corpora"
    predict_corpus([corpora / "juice_dev.jsonl", corpora / "dsp_problems.jsonl"], load_stage_model("heuristics"), out, progress=False)
    roles = {p.id: p.role for p in read_predictions(out)}
    assert roles["juice:alice/titanic/notebooks/eda.ipynb#8"] == "target"
    assert roles["DSP/500#3"] == "solution" and roles["DSP/500#4"] == "test"


def test_roles_survive_parquet_and_old_parts_read_back_without(fixtures_dir):
    cells = list(read_cells(fixtures_dir / "nbgrader"))
    table = cells_to_table(cells)
    assert [cell.role for cell in table_to_cells(table)] == [cell.role for cell in cells]
    without_role = table.drop_columns(["role"])
    assert isinstance(without_role, pa.Table)
    assert {cell.role for cell in table_to_cells(without_role)} == {None}


def test_predictions_without_role_load_with_role_none(tmp_path):
    path = tmp_path / "old.jsonl"
    path.write_text('{"id": "n#0", "stage": "MODEL", "probs": {}, "notebook_id": "n", "index": 0, "lines": 1, "apis": []}\n')
    assert load_predictions(path)["role"].tolist() == ["none"]
    write_predictions([Prediction("n#0", "MODEL", {}, "n", 0, 1, [], "solution")], path)
    assert load_predictions(path)["role"].tolist() == ["solution"]


def test_composition_by_role_pools_each_role(tmp_path):
    fractions = composition.stage_fractions(load_predictions(simulated_assignments()), by="role")
    assert set(fractions["role"]) == {"none", "solution"}
    by_role = fractions.set_index("role")
    assert by_role.loc["solution", "frac_lines_MODEL"] > 0.5 > by_role.loc["none", "frac_lines_MODEL"]
    assert by_role["n_cells"].sum() == 40 * 12


def test_compare_across_roles_splits_each_notebook_by_role(tmp_path):
    output = compare.run(simulated_assignments(), None, "role", tmp_path / "c", n_resamples=500)
    units = pd.read_csv(output.out_dir / "units.csv")
    assert len(units) == 80 and units["notebook_id|role"].str.endswith((" | none", " | solution")).all()
    tests = pd.read_csv(output.out_dir / "group_tests.csv").set_index("measure")
    model = tests.loc["frac_lines_MODEL"]
    assert (model["group_a"], model["group_b"]) == ("none", "solution")
    assert model["diff_ci_high"] < 0 and model["p_holm"] < 0.001


def test_compare_needs_metadata_for_a_column_the_predictions_lack(tmp_path):
    with pytest.raises(ValueError, match="no column 'kind' in the predictions"):
        compare.run(simulated_assignments(4), None, "kind", tmp_path / "c")


def test_study_cli_compares_roles_without_metadata(course_predictions, tmp_path):
    predictions = list(read_predictions(course_predictions))
    per_role = Counter(p.role or "none" for p in predictions)
    result = CliRunner().invoke(app, ["study", "composition", str(course_predictions), "--out", str(tmp_path / "c"), "--by", "role"])
    assert result.exit_code == 0, result.output
    fractions = pd.read_csv(tmp_path / "c" / "stage_fractions.csv").set_index("role")
    assert (fractions["n_cells"] + fractions["abstained_cells"]).to_dict() == dict(per_role)
    result = CliRunner().invoke(app, ["study", "compare", str(course_predictions), "--out", str(tmp_path / "g"),
                                      "--group", "role", "--resamples", "200"])
    assert result.exit_code == 0, result.output
    units = pd.read_csv(tmp_path / "g" / "units.csv")["notebook_id|role"]
    assert sorted(units) == sorted({f"{p.notebook_id} | {p.role or 'none'}" for p in predictions})
