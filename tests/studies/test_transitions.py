from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coral.predictions import Prediction
from coral.stages import STAGE_NAMES
from coral.studies import transitions
from coral.studies.transitions import transition_counts, transition_matrix, transition_rates

from .simulate import markov_notebooks


@pytest.fixture()
def predictions_path(fixtures_dir):
    return fixtures_dir / "studies" / "predictions.jsonl"


def test_counts_skip_abstained_cells_and_never_cross_notebooks(predictions_path):
    counts = transition_counts(predictions_path)
    expected = pd.DataFrame(0, index=list(STAGE_NAMES), columns=list(STAGE_NAMES))
    # a.ipynb: IMPORT, WRANGLE, (abstain), WRANGLE, MODEL, EVALUATE; b.ipynb: IMPORT, EXPLORE, EXPLORE
    for source, target in [("IMPORT", "WRANGLE"), ("WRANGLE", "WRANGLE"), ("WRANGLE", "MODEL"), ("MODEL", "EVALUATE"),
                           ("IMPORT", "EXPLORE"), ("EXPLORE", "EXPLORE")]:
        expected.loc[source, target] += 1
    assert counts.to_numpy().tolist() == expected.to_numpy().tolist()


def test_matrix_rows_are_conditional_distributions(predictions_path):
    matrix = transition_matrix(transition_counts(predictions_path))
    assert matrix.loc["WRANGLE"].tolist() == pytest.approx([0, 0.5, 0, 0.5, 0])
    assert matrix.loc["EVALUATE"].isna().all()  # never followed by anything


def test_rates_per_notebook_and_per_repo(predictions_path):
    by_notebook = transition_rates(predictions_path).set_index("notebook_id")
    assert by_notebook.loc["gh:alice/proj:a.ipynb", "transition_rate"] == pytest.approx(3 / 4)
    assert by_notebook.loc["gh:Alice/Proj:b.ipynb", "transition_rate"] == pytest.approx(1 / 2)
    assert np.isnan(by_notebook.loc["local/notebook.ipynb", "transition_rate"])  # a single cell
    by_repo = transition_rates(predictions_path, by="repo").set_index("repo")
    assert (by_repo.loc["alice/proj", "pairs"], by_repo.loc["alice/proj", "changes"]) == (6, 4)


def test_the_order_is_the_cell_index_not_the_file_order():
    shuffled = [Prediction(f"n#{i}", stage, {}, "n", i, 1) for i, stage in [(4, "MODEL"), (0, "IMPORT"), (2, "IMPORT")]]
    counts = transition_counts(shuffled)
    assert counts.loc["IMPORT", "IMPORT"] == 1 and counts.loc["IMPORT", "MODEL"] == 1 and counts.to_numpy().sum() == 2


def test_the_matrix_recovers_a_simulated_markov_chain():
    truth = np.array(
        [
            [0.2, 0.5, 0.2, 0.05, 0.05],
            [0.05, 0.5, 0.3, 0.1, 0.05],
            [0.05, 0.3, 0.4, 0.2, 0.05],
            [0.02, 0.1, 0.1, 0.38, 0.4],
            [0.02, 0.1, 0.2, 0.3, 0.38],
        ]
    )
    start = np.array([0.8, 0.1, 0.1, 0.0, 0.0])
    records = markov_notebooks(truth, start, n_notebooks=150, cells_per_notebook=60, seed=11, abstain_rate=0.1)
    counts = transition_counts(records)
    matrix = transition_matrix(counts).to_numpy()
    # binomial standard error of each entry, from the row totals; allow 4 of them
    se = np.sqrt(truth * (1 - truth) / counts.sum(axis=1).to_numpy()[:, None])
    assert np.all(np.abs(matrix - truth) <= 4 * se + 1e-9)
    # given the stages visited, a cell of stage i changes stage with probability 1 - P_ii
    rows = counts.sum(axis=1).to_numpy()
    expected_rate = (rows * (1 - np.diag(truth))).sum() / rows.sum()
    rates = transition_rates(records)
    assert rates["changes"].sum() / rates["pairs"].sum() == pytest.approx(expected_rate, abs=0.02)


def test_run_writes_the_heatmap_and_its_numbers(predictions_path, tmp_path):
    output = transitions.run(predictions_path, tmp_path)
    assert (tmp_path / "transitions.png").stat().st_size > 1000 and (tmp_path / "transitions.pdf").exists()
    counts = pd.read_csv(tmp_path / "transition_counts.csv").set_index("from")
    assert counts.loc["WRANGLE", "MODEL"] == 1 and counts.to_numpy().sum() == 6
    summary = output.tables["transition_summary"].iloc[0]
    assert (summary["pairs"], summary["changes"]) == (6, 4)
    assert summary["pooled_rate"] == pytest.approx(4 / 6)
