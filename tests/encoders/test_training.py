"""Training end to end on a toy corpus: learning, save/load, resume, baselines, registry."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from coral.encoders import ENCODERS, load_encoder, make_encoder
from coral.encoders.monitor import METRICS_FILE, split_by_notebook
from coral.encoders.training import CHECKPOINT_FILE, lr_factor

from .cells import make_cell, toy_corpus

TINY = dict(model__d_model=32, model__heads=4, model__layers=2, model__dropout=0.0, graph__min_token_count=1,
            training__batch_size=8, training__lr=3e-3, training__patience=100, device="cpu")
TINY_CORAL = dict(TINY, model__d_ff=64, model__n_topics=8)
CONSTANT_LR = dict(training__warmup=0.0, training__min_lr_ratio=1.0)  # the schedule spans epochs: "interrupt" by fewer


@pytest.fixture(scope="module")
def corpus():
    return toy_corpus()


def test_split_keeps_notebooks_whole(corpus):
    cells, _, _ = corpus
    train, val = split_by_notebook(cells, 0.25, seed=0)
    assert len(train) + len(val) == len(cells) and len(val) > 0
    assert not {cells[i].notebook_id for i in train} & {cells[i].notebook_id for i in val}


@pytest.mark.parametrize("name, params", [("coral", TINY_CORAL), ("gnn", TINY)])
def test_torch_encoders_learn_the_toy_stages(corpus, name, params):
    cells, y, labels = corpus
    encoder = make_encoder(name, training__epochs=30, **params).fit(cells, y)
    proba = encoder.predict_proba(cells)
    assert proba.shape == (len(cells), 5)
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (proba.argmax(axis=1) == labels).mean() >= 0.8
    history = encoder.history_
    assert history[-1]["train_weak"] < history[0]["train_weak"]
    assert all(np.isfinite(row["val_weak_loss"]) for row in history)


def test_coral_ablation_switches_run(corpus):
    cells, y, _ = corpus
    for switches in ({"graph__markdown": False}, {"graph__masked": False}, {"model__topic_losses": False},
                     {"graph__max_nodes": 8}):
        encoder = make_encoder("coral", training__epochs=1, **TINY_CORAL, **switches).fit(cells, y)
        assert encoder.predict_proba(cells[:3]).shape == (3, 5)
        if switches == {"model__topic_losses": False}:
            assert "train_reconstruction" not in encoder.history_[0]


def test_uncovered_cells_do_not_need_labels(corpus):
    cells, y, _ = corpus
    y = y.copy()
    y[::2] = 0.0  # half the cells: no LF fired
    encoder = make_encoder("coral", training__epochs=1, **TINY_CORAL).fit(cells, y)
    assert encoder.training_["train_covered"] + encoder.training_["val_covered"] == len(cells) // 2


def test_save_load_round_trip_gives_identical_predictions(corpus, tmp_path):
    cells, y, _ = corpus
    encoder = make_encoder("coral", training__epochs=2, **TINY_CORAL).fit(cells, y)
    encoder.save(tmp_path / "model")
    loaded = load_encoder(tmp_path / "model")
    assert type(loaded) is type(encoder) and loaded.get_params() == encoder.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(cells), encoder.predict_proba(cells))
    with open(tmp_path / "model" / METRICS_FILE) as src:
        rows = list(csv.DictReader(src))
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    assert all(0 <= float(row["val_agreement"]) <= 1 and "val_agree_MODEL" in row for row in rows)


def test_resume_continues_from_the_saved_epoch(corpus, tmp_path):
    cells, y, _ = corpus
    params = dict(TINY_CORAL, **CONSTANT_LR)
    straight = make_encoder("coral", training__epochs=3, **params).fit(cells, y)
    make_encoder("coral", training__epochs=2, **params).fit(cells, y, checkpoint_dir=tmp_path)  # "interrupted" after 2
    saved = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)  # plain data: loads without unpickling objects
    assert saved["state"]["epoch"] == 2 and saved["state"]["step"] == straight.history_[1]["step"]
    assert saved["scheduler"]["last_epoch"] == saved["state"]["step"]
    resumed = make_encoder("coral", training__epochs=3, **params).fit(cells, y, checkpoint_dir=tmp_path, resume=True)
    assert [row["epoch"] for row in resumed.history_] == [1, 2, 3]
    assert resumed.history_[2]["step"] == straight.history_[2]["step"]
    np.testing.assert_allclose(resumed.predict_proba(cells), straight.predict_proba(cells), atol=1e-5)


def test_lr_schedule_warms_up_linearly_then_decays_by_cosine():
    factors = [lr_factor(step, 100, warmup=0.1, min_lr_ratio=0.1) for step in range(101)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)  # 10 warmup steps
    assert factors[10] == pytest.approx(1.0) and factors[55] == pytest.approx(0.55)  # cosine midpoint
    assert factors[100] == pytest.approx(0.1) and all(a >= b for a, b in zip(factors[9:], factors[10:]))
    assert {lr_factor(step, 100, warmup=0.0, min_lr_ratio=1.0) for step in range(100)} == {1.0}


def test_resume_without_checkpoint_is_a_clear_error(corpus, tmp_path):
    cells, y, _ = corpus
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        make_encoder("coral", training__epochs=1, **TINY_CORAL).fit(cells, y, checkpoint_dir=tmp_path, resume=True)


@pytest.mark.parametrize("name, params", [
    ("lda", {"model__n_topics": 5, "tokens__min_token_count": 1, "model__passes": 20}),
    ("word2vec", {"model__vector_size": 16, "tokens__min_token_count": 1, "model__epochs": 20}),
    ("word2vec", {"model__vector_size": 16, "tokens__min_token_count": 1, "model__epochs": 20, "model__token_source": "ast"}),
])
def test_baselines_fit_predict_save_load(corpus, tmp_path, name, params):
    cells, y, labels = corpus
    encoder = make_encoder(name, **params).fit(cells, y)
    proba = encoder.predict_proba(cells)
    assert proba.shape == (len(cells), 5) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (proba.argmax(axis=1) == labels).mean() >= 0.6
    encoder.save(tmp_path / name)
    assert not [path.name for path in (tmp_path / name).iterdir() if path.suffix in (".pkl", ".joblib", ".model")]
    np.testing.assert_array_equal(load_encoder(tmp_path / name).predict_proba(cells), proba)  # saved as arrays, exactly
    with pytest.raises(ValueError, match="one pass"):
        make_encoder(name, **params).fit(cells, y, resume=True)


def test_token_sources_read_code_or_the_serialised_ast():
    cell = make_cell("df.dropna()")
    code = make_encoder("word2vec")._docs([cell])[0]
    ast_tokens = make_encoder("word2vec", model__token_source="ast")._docs([cell])[0]
    assert "df" in code and not any(token.startswith("<") for token in code)
    assert ast_tokens[:2] == ["<Module>", "<Expr>"] and "df" in ast_tokens and "dropna" in ast_tokens
    with pytest.raises(ValueError, match="token_source must be one of code, ast"):
        make_encoder("word2vec", model__token_source="bpe")._docs([cell])


def test_soft_labels_reach_the_baseline_classifier():
    cells = [make_cell(f"x{i} = load()") for i in range(6)] + [make_cell(f"fit(m{i})") for i in range(6)]
    y = np.zeros((12, 5), dtype=np.float32)
    y[:6, 0], y[6:, 3] = 0.9, 0.9
    y[:6, 1], y[6:, 4] = 0.1, 0.1
    proba = make_encoder("word2vec", model__vector_size=8, tokens__min_token_count=1).fit(cells, y).predict_proba(cells)
    assert proba[:, [0, 1, 3, 4]].sum(axis=1).min() > 0.9  # stages 2 never labeled: no mass there
    assert proba[:, 2].max() == 0.0


def test_registry_and_parameter_errors(corpus):
    cells, y, _ = corpus
    assert set(ENCODERS) == {"coral", "gnn", "lda", "word2vec", "bert", "context", "ensemble"}
    with pytest.raises(ValueError, match="unknown encoder 'roberta'"):
        make_encoder("roberta")
    with pytest.raises(ValueError, match="no parameter.*n_heads"):
        make_encoder("coral", n_heads=3)
    with pytest.raises(ValueError, match="shape"):
        make_encoder("coral").fit(cells, y[:3])
    with pytest.raises(ValueError, match="no labeling function fired"):
        make_encoder("coral").fit(cells, np.zeros_like(y))
    with pytest.raises(RuntimeError, match="not fitted"):
        make_encoder("gnn").predict_proba(cells)
