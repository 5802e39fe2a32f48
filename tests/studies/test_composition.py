from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy

from coral.stages import STAGE_NAMES
from coral.studies import composition
from coral.studies.composition import position_profile, stage_entropy, stage_fractions
from coral.studies.summary import summarize

from .simulate import independent_notebooks


@pytest.fixture()
def predictions_path(fixtures_dir):
    return fixtures_dir / "studies" / "predictions.jsonl"


def test_fractions_of_a_notebook_exclude_abstained_cells(predictions_path):
    table = stage_fractions(predictions_path).set_index("notebook_id")
    a = table.loc["gh:alice/proj:a.ipynb"]
    # labelled: IMPORT 2 lines, WRANGLE 4 + 2, MODEL 4, EVALUATE 0; one abstained cell of 3 lines
    assert (a["n_cells"], a["n_lines"], a["abstained_cells"], a["abstained_lines"]) == (5, 12, 1, 3)
    assert [a[f"frac_cells_{s}"] for s in STAGE_NAMES] == pytest.approx([0.2, 0.4, 0.0, 0.2, 0.2])
    assert [a[f"frac_lines_{s}"] for s in STAGE_NAMES] == pytest.approx([2 / 12, 6 / 12, 0.0, 4 / 12, 0.0])


def test_a_notebook_whose_cells_all_abstain_has_null_fractions(predictions_path):
    c = stage_fractions(predictions_path).set_index("notebook_id").loc["gh:bob/other:c.ipynb"]
    assert c["n_cells"] == 0 and c["abstained_cells"] == 2
    assert np.isnan(c["frac_lines_MODEL"])


def test_grouping_by_repo_concatenates_its_notebooks(predictions_path):
    table = stage_fractions(predictions_path, by="repo").set_index("repo")
    assert set(table.index) == {"alice/proj", "bob/other"}  # the local notebook has no repo
    proj = table.loc["alice/proj"]
    assert proj["n_cells"] == 8 and proj["n_lines"] == 17
    assert proj["frac_lines_EXPLORE"] == pytest.approx(4 / 17)


@pytest.mark.parametrize("base", [math.e, 2.0])
def test_entropy_matches_scipy_and_is_z_scored(predictions_path, base):
    table = stage_entropy(stage_fractions(predictions_path), log_base=base).set_index("notebook_id")
    a = table.loc["gh:alice/proj:a.ipynb"]
    assert a["entropy_lines"] == pytest.approx(entropy([2, 6, 0, 4, 0], base=base))
    assert table.loc["local/notebook.ipynb", "entropy_lines"] == 0.0
    valid = table["entropy_lines"].dropna()
    assert table["z_entropy_lines"].dropna().to_numpy() == pytest.approx(((valid - valid.mean()) / valid.std(ddof=1)).to_numpy())
    assert np.isnan(table.loc["gh:bob/other:c.ipynb", "z_entropy_lines"])


def test_entropy_rejects_a_meaningless_base(predictions_path):
    with pytest.raises(ValueError, match="log_base"):
        stage_entropy(stage_fractions(predictions_path), log_base=1)


def test_fractions_recover_the_simulated_stage_distribution():
    probs = np.array([0.1, 0.35, 0.25, 0.2, 0.1])
    table = stage_fractions(independent_notebooks(probs, n_notebooks=200, cells_per_notebook=40, seed=3, prefix="u"))
    means = table[[f"frac_cells_{s}" for s in STAGE_NAMES]].mean().to_numpy()
    assert means == pytest.approx(probs, abs=0.02)
    assert np.allclose(table[[f"frac_lines_{s}" for s in STAGE_NAMES]].sum(axis=1), 1.0)


def test_position_profile_shares_and_densities_sum_to_one(predictions_path):
    profile = position_profile(predictions_path, bins=4)
    assert len(profile) == 4 * len(STAGE_NAMES)
    assert profile["cells"].sum() == 9
    shares = profile.groupby("bin")["share"].sum()
    assert shares.to_numpy() == pytest.approx(np.ones(4))
    densities = profile.groupby("stage")["density"].sum()
    assert densities.to_numpy() == pytest.approx(np.ones(len(STAGE_NAMES)))
    # the first code cell of both alice notebooks is IMPORT: the first bin holds only IMPORT
    first = profile[profile["bin"] == 0].set_index("stage")["cells"]
    assert first["IMPORT"] == 2 and first.drop("IMPORT").sum() == 0


def test_summary_puts_composition_positions_and_transitions_side_by_side(predictions_path):
    summary = summarize(predictions_path).set_index("notebook_id")
    a = summary.loc["gh:alice/proj:a.ipynb"]
    assert a["pos_WRANGLE"] == pytest.approx((1.5 / 6 + 3.5 / 6) / 2)
    assert (a["pairs"], a["changes"]) == (4, 3)


def test_run_writes_tables_figures_and_problems(predictions_path, tmp_path):
    output = composition.run(predictions_path, tmp_path, by="repo", log_base=2)
    names = {path.name for path in output.files}
    for stem in ("stage_fractions", "composition", "entropy_summary", "entropy_histogram", "position_profile"):
        assert {f"{stem}.csv", f"{stem}.md"} <= names
    for stem in ("composition", "entropy", "position_profile"):
        assert {f"{stem}.png", f"{stem}.pdf"} <= names
        assert (tmp_path / f"{stem}.png").stat().st_size > 1000
    assert [p.reason for p in output.problems] == ["all-abstain"]
    written = pd.read_csv(tmp_path / "composition.csv")
    assert written["cells"].sum() == 9 and written["frac_lines"].sum() == pytest.approx(1.0)
    histogram = pd.read_csv(tmp_path / "entropy_histogram.csv")
    assert histogram["units"].sum() == 1 and histogram["bin_end"].max() == pytest.approx(math.log2(5))
    assert "bits" in (tmp_path / "entropy_summary.md").read_text()
