"""Many models in one table: notebook-bootstrap intervals, the paired Wilcoxon test with Holm,
the table formats, and --only-gold reading only the notebooks a gold file names."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from coral.cli import app
from coral.jobs.comparison import align, bootstrap_intervals, compare_models, paired_wilcoxon, render
from coral.predictions import Prediction, read_predictions
from coral.stages import STAGE_NAMES

runner = CliRunner()


def _gold(n_notebooks: int = 30, cells: int = 6, seed: int = 0) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    return {f"nb{n}#{i}": str(rng.choice(STAGE_NAMES)) for n in range(n_notebooks) for i in range(cells)}


def _model(gold: dict[str, str], accuracy: float, seed: int, abstain: float = 0.0) -> list[Prediction]:
    rng = np.random.default_rng(seed)
    preds = []
    for cell_id, stage in gold.items():
        draw = rng.random()
        if draw < abstain:
            predicted = None
        elif rng.random() < accuracy:
            predicted = stage
        else:
            predicted = STAGE_NAMES[(STAGE_NAMES.index(stage) + 1) % len(STAGE_NAMES)]
        preds.append(Prediction(id=cell_id, stage=predicted, probs={}, notebook_id=cell_id.split("#")[0]))
    return preds


def test_interval_covers_the_score_and_widens_with_fewer_notebooks():
    gold = _gold()
    aligned = align(_model(gold, 0.7, 1), gold)
    accuracy = float((aligned.y_pred == aligned.y_true).mean())
    low, high = bootstrap_intervals(aligned, n_boot=500)["accuracy"]
    assert low < accuracy < high
    few = {k: v for k, v in gold.items() if int(k[2:].split("#")[0]) < 5}
    few_low, few_high = bootstrap_intervals(align(_model(few, 0.7, 1), few), n_boot=500)["accuracy"]
    assert few_high - few_low > high - low


def test_a_notebook_is_one_unit_even_when_its_cells_agree():
    # every notebook either all right or all wrong: the cluster bootstrap sees 10 units, not 60 cells
    gold = _gold(10, 6)
    preds = [Prediction(id=c, stage=s if int(c[2:].split("#")[0]) % 2 else "IMPORT" if s != "IMPORT" else "MODEL",
                        probs={}, notebook_id=c.split("#")[0]) for c, s in gold.items()]
    low, high = bootstrap_intervals(align(preds, gold), n_boot=1000)["accuracy"]
    assert high - low > 0.4  # a cell-level bootstrap of 60 cells would give about 0.25


def test_paired_test_separates_a_better_model_and_not_an_equal_one():
    gold = _gold(40)
    reference = align(_model(gold, 0.5, 1), gold)
    better = align(_model(gold, 0.95, 2), gold)
    same = align(_model(gold, 0.5, 1), gold)
    delta, p, notebooks = paired_wilcoxon(better, reference)
    assert delta > 0.3 and p < 1e-4 and notebooks == 40
    assert paired_wilcoxon(same, reference)[1] == 1.0


def test_compare_models_holm_and_random_fill():
    gold = _gold(30)
    table = compare_models(
        {"ref": _model(gold, 0.5, 1), "good": _model(gold, 0.9, 2), "abstains": _model(gold, 1.0, 3, abstain=0.5)},
        {"dev": gold}, n_boot=200, random_seeds=20,
    )
    rows = table.set_index("model")
    assert rows.loc["ref", "p_value"] != rows.loc["ref", "p_value"]  # NaN: the reference is not tested
    assert rows.loc["good", "p_holm"] >= rows.loc["good", "p_value"] and rows.loc["good", "significant"]
    # the covered cells are all right, an abstain is right 1 time in 5 under the random fill
    coverage = rows.loc["abstains", "coverage"]
    expected = coverage + (1 - coverage) / 5
    assert 0.3 < coverage < 0.7 and rows.loc["abstains", "accuracy"] == pytest.approx(expected, abs=0.02)
    assert rows.loc["abstains", "accuracy_lo"] < expected < rows.loc["abstains", "accuracy_hi"]
    latex = render(table, "latex", "ref")
    assert "\\toprule" in latex and "\\bottomrule" in latex and "accuracy \\%" in latex
    assert render(table, "md", "ref").startswith("| gold")


def test_evaluate_cli_table_and_only_gold(fixtures_dir, tmp_path):
    corpus = fixtures_dir / "labeling" / "notebooks"
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps({"id": f"churn.ipynb#{i}", "stage": s}) + "\n" for i, s in [(1, "IMPORT"), (2, "WRANGLE")]))
    out = tmp_path / "preds.jsonl"
    result = runner.invoke(app, ["predict", str(corpus), "--only-gold", str(gold), "--out", str(out)])
    assert result.exit_code == 0, result.output
    notebooks = {prediction.notebook_id for prediction in read_predictions(out)}
    assert notebooks == {"churn.ipynb"}
    extended = tmp_path / "extended.jsonl"
    result = runner.invoke(app, ["predict", str(corpus), "--only-gold", str(gold), "--model", "heuristics", "--lfs", "extended",
                                 "--out", str(extended)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["evaluate", str(out), str(extended), "--gold", str(gold), "--format", "csv",
                                 "--bootstrap", "100", "--seeds", "5"])
    assert result.exit_code == 0, result.output
    header, *rows = result.output.strip().splitlines()
    assert header.startswith("gold,model,n,") and [row.split(",")[1] for row in rows] == ["preds", "extended"]
