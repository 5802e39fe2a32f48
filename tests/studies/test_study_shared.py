"""The studies on real notebook ids and repositories: the gold stages of gh-dev used as predictions."""

from __future__ import annotations

import json

import pytest

from coral.predictions import Prediction
from coral.problems import ProblemLog
from coral.studies import compare
from coral.studies.composition import overall_composition, stage_fractions
from coral.studies.frame import attach_metadata, load_predictions
from coral.studies.transitions import transition_rates

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def gold(shared_dir):
    records = []
    for line in (shared_dir / "annotations" / "gh-dev.jsonl").read_text().splitlines():
        record = json.loads(line)
        notebook_id, index = record["id"].rsplit("#", 1)
        records.append(Prediction(record["id"], record["stage"], {}, notebook_id, int(index), 1, []))
    return load_predictions(records)


def test_gold_composition_and_transitions_of_the_dev_notebooks(gold):
    assert gold["notebook_id"].nunique() == 20 and len(gold) == 331
    overall = overall_composition(gold, stage_fractions(gold)).set_index("stage")
    assert overall["cells"].to_dict() == gold["stage"].value_counts().to_dict()
    rates = transition_rates(gold)
    assert rates["pairs"].sum() == 331 - 20  # every cell but each notebook's last has a successor
    assert 0.2 < rates["changes"].sum() / rates["pairs"].sum() < 0.9


def test_every_dev_repository_is_in_repos_tsv_and_groups_compare(gold, shared_dir, tmp_path):
    problems = ProblemLog()
    frame = attach_metadata(gold, shared_dir / "corpora" / "github" / "repos.tsv", problems=problems)
    assert len(problems) == 0 and frame["course_or_tutorial"].notna().all()
    if frame["course_or_tutorial"].nunique() < 2:
        pytest.skip("the dev notebooks all fall in one group")
    output = compare.run(gold, shared_dir / "corpora" / "github" / "repos.tsv", "course_or_tutorial", tmp_path, n_resamples=500)
    assert output.tables["group_means"].groupby("group")["n"].max().sum() == 20
