"""The heuristics stage model, model resolution, and predicting from hand-made cells."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coral.artifacts import UnsafeModelFileError
from coral.corpora.parse import parse_code
from coral.jobs import predict as predict_job
from coral.jobs.predict import ModelNotFoundError, load_stage_model, predict_cells
from coral.labeling.model import HeuristicStageModel
from coral.stages import Stage


@pytest.fixture
def cells(make_cell):
    return [
        make_cell("import numpy", id="n#0", statements=1, imports=1, names_bound=["numpy"],
                  graph=parse_code("import numpy").graph),
        make_cell("df = pd.read_csv(p)", id="n#1", apis=["pandas.read_csv"], names_bound=["df"]),
        make_cell("def f(a):\n    return a", id="n#2", lines=2, names_bound=["f"]),
        make_cell("m = SVC()\nscore = accuracy_score(y, m.predict(X))", id="n#3", lines=2, statements=2,
                  names_bound=["m", "score"], apis=["sklearn.svm.SVC", "sklearn.metrics.accuracy_score"]),
    ]


def test_heuristics_is_the_paper_rules_with_priority(cells):
    model = load_stage_model("heuristics")
    assert isinstance(model, HeuristicStageModel) and model.aggregation == "priority"
    proba = model.predict_proba(cells)
    assert proba.shape == (4, 5)
    assert proba.argmax(axis=1)[[0, 1, 3]].tolist() == [Stage.IMPORT, Stage.WRANGLE, Stage.MODEL]
    assert not proba[2].any()  # nothing fires: abstain
    assert model.predict(cells).tolist() == [0, 1, -1, 3]


def test_predictions_keep_input_order_and_abstain_as_null(cells):
    predictions = predict_cells(load_stage_model("heuristics"), cells)
    assert [p.id for p in predictions] == ["n#0", "n#1", "n#2", "n#3"]
    assert [p.stage for p in predictions] == ["IMPORT", "WRANGLE", None, "MODEL"]
    assert predictions[2].probs == {} and predictions[1].probs["WRANGLE"] == 1.0
    assert predictions[3].apis == ["sklearn.svm.SVC", "sklearn.metrics.accuracy_score"]
    assert (predictions[3].notebook_id, predictions[3].index, predictions[3].lines) == ("n", 3, 2)


def test_saved_label_model_round_trip(tmp_path, make_cell, fixtures_dir):
    user_lfs = str(fixtures_dir / "labeling" / "my_lfs.py")
    rng = np.random.default_rng(0)
    train = [
        make_cell(f"c{i}", id=f"t#{i}", statements=2, imports=int(rng.random() < 0.3),
                  apis=list(rng.choice(["pandas.read_csv", "sklearn.svm.SVC", "matplotlib.pyplot.show", "x.y"], 2)),
                  called_names=["plt.plot"] if rng.random() < 0.3 else [], names_bound=["a"])
        for i in range(200)
    ]
    model = HeuristicStageModel(lf_specs=("paper", user_lfs), aggregation="labelmodel", n_epochs=100).fit(train)
    model.save(tmp_path / "lm")
    with pytest.raises(UnsafeModelFileError, match="my_lfs.py.*--trust-code"):  # its LFs are code
        load_stage_model(tmp_path / "lm")
    loaded = load_stage_model(tmp_path / "lm", trust_code=True)
    assert isinstance(loaded, HeuristicStageModel) and loaded.lf_specs[1] == str((fixtures_dir / "labeling" / "my_lfs.py").resolve())
    np.testing.assert_array_equal(loaded.predict_proba(train), model.predict_proba(train))


def test_labelmodel_without_fit_fits_on_the_input(cells):
    model = load_stage_model("heuristics", aggregation="labelmodel")
    proba = model.predict_proba(cells * 10)
    assert model.n_fit_cells_ == 40
    assert not proba[2].any() and np.allclose(proba[[0, 1, 3]].sum(axis=1), 1)


def test_model_resolution_errors(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not a model name \\(heuristics, default\\) or a model directory"):
        load_stage_model("bert")
    with pytest.raises(ModelNotFoundError, match="not a model directory"):
        load_stage_model(tmp_path)
    with pytest.raises(ValueError, match="configure the 'heuristics' model"):
        load_stage_model(tmp_path, aggregation="majority")


def test_default_model_is_a_clear_error_until_packaged(monkeypatch, tmp_path):
    import coral.jobs.predict

    monkeypatch.setattr(coral.jobs.predict, "DEFAULT_MODEL_DIR", tmp_path / "missing")
    with pytest.raises(ModelNotFoundError, match="packaged default model is not installed"):
        load_stage_model("default")


class _UniformModel:
    """A stand-in encoder: every cell gets the same probabilities."""

    def predict_proba(self, cells):
        return np.full((len(cells), 5), 0.2)


def test_encoder_predictions_stream_chunk_by_chunk(monkeypatch, make_cell):
    monkeypatch.setattr(predict_job, "PREDICT_CHUNK", 4)
    consumed = []

    def cells():
        for i in range(100):
            consumed.append(i)
            yield make_cell(f"x = {i}", id=f"n{i // 2}#{i % 2}")  # notebooks of two cells: chunks end between them

    predictions = predict_job.iter_predictions(_UniformModel(), cells())
    first = next(predictions)
    assert first.id == "n0#0" and first.stage == "IMPORT"
    assert len(consumed) <= 3 * 5  # the chunk predicted, the one prefetched, at most one being read
    assert [p.id for p in predictions] == [f"n{i // 2}#{i % 2}" for i in range(1, 100)]


class _FailingModel(_UniformModel):
    """Dies on the notebook named ``fatal``, as a run killed there would stop."""

    def __init__(self, fatal: str) -> None:
        self.fatal = fatal

    def predict_proba(self, cells):
        if any(cell.notebook_id == self.fatal for cell in cells):
            raise RuntimeError("disk gone")
        return super().predict_proba(cells)


def test_an_interrupted_prediction_leaves_no_output_and_a_rerun_finishes_it(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in "abc":
        (corpus / f"{name}.ipynb").write_text(json.dumps({
            "cells": [{"cell_type": "code", "source": f"{name} = 1", "metadata": {}, "outputs": [], "execution_count": None}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    out = tmp_path / "out" / "preds.jsonl"
    with pytest.raises(RuntimeError, match="disk gone"):
        predict_job.predict_corpus([corpus], _FailingModel("c.ipynb"), out, progress=False, notebooks_per_unit=1)
    assert not out.exists() and not predict_job.errors_path(out).exists()
    assert sorted(path.name for path in predict_job.parts_dir(out).glob("part-*.jsonl")) == [
        "part-00000.jsonl", "part-00001.jsonl"]  # the two parts finished before
    run = predict_job.predict_corpus([corpus], _UniformModel(), out, progress=False, notebooks_per_unit=1)
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a.ipynb#0", "b.ipynb#0", "c.ipynb#0"]
    assert run.n_cells == 3 and sorted(path.name for path in out.parent.iterdir()) == ["preds.errors.jsonl", "preds.jsonl"]
