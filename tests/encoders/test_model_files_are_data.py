"""Loading a model directory or checkpoint from someone else never runs code.

Each crafted file would create a marker file through ``os.system`` if it were unpickled or
imported; every test asserts that the load fails with an error naming the file, and that
the marker was never written.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from coral.artifacts import UnsafeModelFileError
from coral.cli import app
from coral.encoders import is_encoder_dir, load_encoder, make_encoder
from coral.encoders.training import CHECKPOINT_FILE
from coral.jobs.predict import DEFAULT_MODEL_DIR, load_stage_model
from coral.labeling.model import HeuristicStageModel

from .cells import toy_corpus


class RunsCommand:
    """Unpickling this runs ``touch marker``: what a malicious model file does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


@pytest.fixture(scope="module")
def corpus():
    return toy_corpus()


@pytest.fixture(scope="module")
def coral_dir(corpus, tmp_path_factory) -> Path:
    """A small trained CORAL model directory (weights.pt, vocab.json, encoder.json)."""
    cells, y, _ = corpus
    tiny = dict(model__d_model=16, model__d_ff=32, model__n_topics=4, model__layers=1, model__heads=2,
                graph__min_token_count=1, training__epochs=1, device="cpu")
    return make_encoder("coral", **tiny).fit(cells, y).save(tmp_path_factory.mktemp("coral"))


def write_pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps(RunsCommand(marker)))


def test_label_model_round_trips_as_arrays_with_identical_probabilities(tmp_path):
    from coral.labeling.aggregate import fit_label_model, load_label_model, save_label_model

    rng = np.random.default_rng(0)
    L = rng.integers(-1, 5, size=(300, 6))
    model = fit_label_model(L, n_epochs=100)
    save_label_model(model, tmp_path / "lm.npz")
    loaded = load_label_model(tmp_path / "lm.npz")
    np.testing.assert_array_equal(loaded.predict_proba(L), model.predict_proba(L))


@pytest.mark.parametrize("name, message", [
    ("label_model.pkl", r"label_model\.pkl: a pickle.*coral lfs fit"),  # the format earlier versions wrote
    ("label_model.npz", r"label_model\.npz: not a plain array file"),  # a pickle posing as arrays
])
def test_a_pickled_label_model_is_refused_not_unpickled(tmp_path, marker, name, message):
    model_dir = tmp_path / "model"
    HeuristicStageModel(lf_specs=("paper",)).save(model_dir)
    write_pickle(model_dir / name, marker)
    with pytest.raises(UnsafeModelFileError, match=message):
        load_stage_model(model_dir)
    assert not marker.exists()


def test_lfs_from_a_python_file_need_trust_code(tmp_path, marker):
    lf_file = tmp_path / "evil_lfs.py"
    lf_file.write_text(f"import os\nos.system('touch {marker}')\n")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "heuristics.json").write_text(json.dumps(
        {"model": "heuristics", "params": {"lf_specs": [str(lf_file)], "aggregation": "priority"}, "lf_names": []}))
    with pytest.raises(UnsafeModelFileError, match=r"evil_lfs\.py.*--trust-code"):
        load_stage_model(model_dir)
    result = CliRunner().invoke(app, ["predict", str(DEFAULT_MODEL_DIR.parents[1] / "examples"), "--model",
                                      str(model_dir), "--out", str(tmp_path / "p.jsonl")])
    assert result.exit_code == 1 and "--trust-code" in result.output and "Traceback" not in result.output
    assert not marker.exists() and not (tmp_path / "p.jsonl").exists()
    with pytest.raises(ValueError):  # trusted: the file is imported (and defines no LFs)
        load_stage_model(model_dir, trust_code=True)
    assert marker.exists()


@pytest.mark.parametrize("name, params, legacy_file", [
    ("lda", {"model__n_topics": 3, "tokens__min_token_count": 1, "model__passes": 2}, "lda.model"),
    ("lda", {"model__n_topics": 3, "tokens__min_token_count": 1, "model__passes": 2}, "lda.dictionary"),
    ("word2vec", {"model__vector_size": 8, "tokens__min_token_count": 1, "model__epochs": 2}, "word2vec.model"),
    ("word2vec", {"model__vector_size": 8, "tokens__min_token_count": 1, "model__epochs": 2}, "classifier.joblib"),
])
def test_pickled_baseline_files_are_refused(corpus, tmp_path, marker, name, params, legacy_file):
    cells, y, _ = corpus
    model_dir = make_encoder(name, **params).fit(cells, y).save(tmp_path / name)
    write_pickle(model_dir / legacy_file, marker)
    with pytest.raises(UnsafeModelFileError, match=rf"{legacy_file}: a pickle.*coral train --encoder {name}"):
        load_encoder(model_dir)
    assert not marker.exists()


def test_weights_holding_an_object_are_refused(tmp_path, marker, coral_dir):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for name in ("encoder.json", "vocab.json"):
        (model_dir / name).write_bytes((coral_dir / name).read_bytes())
    torch.save({"weight": RunsCommand(marker)}, model_dir / "weights.pt")
    with pytest.raises(UnsafeModelFileError, match=r"weights\.pt: holds objects other than tensors"):
        load_encoder(model_dir, device="cpu")
    assert not marker.exists()


def test_truncated_weights_are_a_clear_error(tmp_path, coral_dir):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for name in ("encoder.json", "vocab.json"):
        (model_dir / name).write_bytes((coral_dir / name).read_bytes())
    weights = (coral_dir / "weights.pt").read_bytes()
    (model_dir / "weights.pt").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(ValueError, match=r"weights\.pt: not a readable torch file"):
        load_encoder(model_dir, device="cpu")


def test_a_checkpoint_holding_an_object_is_refused_on_resume(corpus, tmp_path, marker):
    cells, y, _ = corpus
    params = dict(model__d_model=16, model__layers=1, model__heads=2, graph__min_token_count=1, device="cpu")
    make_encoder("gnn", training__epochs=1, **params).fit(cells, y, checkpoint_dir=tmp_path)
    saved = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)
    saved["state"] = RunsCommand(marker)
    torch.save(saved, tmp_path / CHECKPOINT_FILE)
    with pytest.raises(UnsafeModelFileError, match=rf"{CHECKPOINT_FILE}: holds objects other than tensors"):
        make_encoder("gnn", training__epochs=2, **params).fit(cells, y, checkpoint_dir=tmp_path, resume=True)
    assert not marker.exists()


def test_a_save_that_dies_leaves_no_model_directory_marker(corpus, tmp_path, monkeypatch):
    from coral.encoders import bow

    cells, y, _ = corpus
    encoder = make_encoder("word2vec", model__vector_size=8, tokens__min_token_count=1, model__epochs=2).fit(cells, y)

    def dies(*args, **kwargs):
        raise KeyboardInterrupt  # stands for the run dying part way through the save

    monkeypatch.setattr(bow, "save_arrays", dies)
    with pytest.raises(KeyboardInterrupt):
        encoder.save(tmp_path / "model")
    assert not is_encoder_dir(tmp_path / "model")  # encoder.json is written last
