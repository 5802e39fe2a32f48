from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coral.predictions import Prediction
from coral.studies import functions
from coral.labeling.analysis import lfs_firing_on_functions
from coral.labeling.lfsets import load_lf_sets
from coral.studies.functions import DEFAULT_FUNCTIONS, PAPER_FUNCTIONS, calls, function_stages


def test_a_call_matches_the_name_or_a_call_chained_on_its_result():
    assert calls(["pandas.DataFrame.groupby.mean"], "pandas.DataFrame.groupby")
    assert calls(["sklearn.metrics.f1_score"], "sklearn.metrics.f1_score")
    assert not calls(["pandas.DataFrame.groupbyx"], "pandas.DataFrame.groupby")
    assert not calls(["pandas.DataFrame"], "pandas.DataFrame.groupby")


def test_stage_distribution_of_the_cells_calling_each_function(fixtures_dir):
    table = function_stages(fixtures_dir / "studies" / "predictions.jsonl", PAPER_FUNCTIONS).set_index("function")
    assert list(table.index) == list(PAPER_FUNCTIONS)
    dropna = table.loc["pandas.DataFrame.dropna"]
    assert (dropna["cells"], dropna["abstained"], dropna["n_WRANGLE"], dropna["frac_WRANGLE"]) == (3, 1, 2, 1.0)
    groupby = table.loc["pandas.DataFrame.groupby"]
    assert (groupby["n_WRANGLE"], groupby["n_EXPLORE"]) == (1, 1)
    assert table.loc["sklearn.linear_model.SGDClassifier", "n_MODEL"] == 2  # one cell calling it twice counts once
    assert table.loc["seaborn.jointplot", "cells"] == 0 and np.isnan(table.loc["seaborn.jointplot", "frac_MODEL"])


def test_run_writes_the_table_and_figure_and_reports_unused_functions(tmp_path):
    records = [Prediction(f"n#{i}", stage, {}, "n", i, 1, ["my.func"]) for i, stage in enumerate(["MODEL", "MODEL", "EVALUATE", None])]
    output = functions.run(records, tmp_path, functions=["my.func", "other.func"])
    written = pd.read_csv(tmp_path / "functions.csv").set_index("function")
    assert written.loc["my.func", "frac_MODEL"] == pytest.approx(2 / 3) and written.loc["my.func", "top_stage"] == "MODEL"
    assert [p.item for p in output.problems] == ["other.func"]
    assert (tmp_path / "functions.png").stat().st_size > 1000 and (tmp_path / "functions.pdf").exists()


def test_the_default_functions_are_unseen_by_the_shipped_lfs_and_seen_ones_are_named():
    seen = lfs_firing_on_functions([*DEFAULT_FUNCTIONS, "sklearn.linear_model.LogisticRegression", "seaborn.heatmap"],
                                   load_lf_sets(["paper", "extended"]))
    assert all(seen[function] == [] for function in DEFAULT_FUNCTIONS)
    assert "paper_seed_model" in seen["sklearn.linear_model.LogisticRegression"]
    assert "paper_seed_explore" in seen["seaborn.heatmap"]


def test_seen_functions_are_marked_in_the_table(tmp_path):
    records = [Prediction(f"n#{i}", "MODEL", {}, "n", i, 1, ["my.func"]) for i in range(2)]
    functions.run(records, tmp_path, functions=["my.func", "other.func"], seen_by={"my.func": ["lf_a", "lf_b"], "other.func": []})
    written = pd.read_csv(tmp_path / "functions.csv", keep_default_na=False).set_index("function")
    assert written.loc["my.func", "seen_by_lfs"] == "lf_a, lf_b" and written.loc["other.func", "seen_by_lfs"] == ""
