from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coral.studies import compare
from coral.studies.compare import group_means, group_tests
from coral.studies.frame import load_predictions
from coral.studies.summary import summarize

from .simulate import independent_notebooks

# Group "a" does more MODEL and less WRANGLE than group "b"; EXPLORE is the same.
PROBS_A = np.array([0.1, 0.2, 0.3, 0.3, 0.1])
PROBS_B = np.array([0.1, 0.4, 0.3, 0.1, 0.1])


@pytest.fixture(scope="module")
def two_groups():
    records = independent_notebooks(PROBS_A, 120, 30, seed=7, prefix="a") + independent_notebooks(PROBS_B, 100, 30, seed=8, prefix="b")
    frame = load_predictions(records)
    metadata = pd.DataFrame({"repo": sorted(frame["repo"].unique())})
    metadata["kind"] = metadata["repo"].str[0]
    return frame, metadata


def test_means_and_their_bootstrap_cis_cover_the_simulated_truth(two_groups):
    frame, metadata = two_groups
    summary = summarize(frame.merge(metadata, on="repo"), carry=["kind"])
    means = group_means(summary, "kind", n_resamples=2000, seed=1).set_index(["group", "measure"])
    covered = 0
    for group, probs in (("a", PROBS_A), ("b", PROBS_B)):
        for stage, p in zip(("IMPORT", "WRANGLE", "EXPLORE", "MODEL", "EVALUATE"), probs):
            row = means.loc[(group, f"frac_lines_{stage}")]
            covered += row["ci_low"] <= p <= row["ci_high"]
            half_width = (row["ci_high"] - row["ci_low"]) / 2
            assert 0 < half_width < 0.025 and abs(row["mean"] - p) < 2 * half_width, (group, stage, row.to_dict())
    assert covered >= 8  # ten 95% intervals: 9.5 expected to cover
    assert means.loc[("a", "frac_lines_MODEL"), "n"] == 120


def test_tests_find_the_real_differences_only(two_groups):
    frame, metadata = two_groups
    summary = summarize(frame.merge(metadata, on="repo"), carry=["kind"])
    tests = group_tests(summary, "kind", n_resamples=2000, seed=1).set_index("measure")
    model = tests.loc["frac_lines_MODEL"]
    assert model["p_holm"] < 1e-10 and model["effect_size"] > 0.9
    assert model["diff_ci_low"] <= 0.2 <= model["diff_ci_high"]
    wrangle = tests.loc["frac_lines_WRANGLE"]
    assert wrangle["diff_ci_low"] <= -0.2 <= wrangle["diff_ci_high"]
    assert tests.loc["frac_lines_EXPLORE", "p"] > 0.01
    assert (tests["p_holm"] >= tests["p"]).all()


def test_run_compares_repositories_from_a_metadata_table(two_groups, tmp_path):
    frame, metadata = two_groups
    output = compare.run(frame, metadata, "kind", tmp_path, by="repo", n_resamples=500)
    assert {"units.csv", "group_means.md", "group_tests.csv", "comparison.png", "comparison.pdf"} <= {p.name for p in output.files}
    means = pd.read_csv(tmp_path / "group_means.csv")
    assert set(means["group"]) == {"a", "b"} and set(means["measure"]) == set(compare.DEFAULT_MEASURES)
    assert len(output.tables["units"]) == 220


def test_groups_from_the_fixture_and_a_single_group_is_an_error(fixtures_dir, tmp_path):
    predictions = fixtures_dir / "studies" / "predictions.jsonl"
    output = compare.run(predictions, fixtures_dir / "studies" / "repos.tsv", "course_or_tutorial", tmp_path, by="repo", n_resamples=200)
    means = output.tables["group_means"].set_index(["group", "measure"])
    assert means.loc[("1", "frac_lines_EXPLORE"), "mean"] == pytest.approx(4 / 17)
    assert means.loc[("0", "frac_lines_EXPLORE"), "n"] == 0  # bob/other: every cell abstained
    with pytest.raises(ValueError, match="at least two groups"):
        group_tests(pd.DataFrame({"g": [1, 1], "transition_rate": [0.1, 0.2]}), "g", measures=["transition_rate"])
    with pytest.raises(ValueError, match="unknown measures nonsense"):
        compare.run(predictions, fixtures_dir / "studies" / "repos.tsv", "course_or_tutorial", tmp_path, measures=["nonsense"])


def test_units_without_a_group_value_are_reported_not_dropped_silently(two_groups, tmp_path):
    frame, metadata = two_groups
    metadata = metadata.copy()
    metadata.loc[0, "kind"] = None
    output = compare.run(frame, metadata, "kind", tmp_path, n_resamples=200)
    assert [(p.reason, p.item) for p in output.problems] == [("no-group", "gh:a/repo0:nb.ipynb")]
    assert len(output.tables["units"]) == 219
