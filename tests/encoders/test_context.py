"""The context encoder: a stage that only a cell's neighbours tell is learned, and a notebook is
read in order whatever order its cells come in."""

from __future__ import annotations

import numpy as np
import pytest

from coral.encoders import load_encoder, make_encoder
from coral.encoders.context import notebook_order
from coral.jobs.predict import notebook_chunks

from .cells import make_cell

LOAD, LOOK, FIT = "df = pd.read_csv('data.csv')", "df.head()", "model.fit(X, y)"
FAST = dict(base="word2vec", training__epochs=60, training__patience=100, training__lr=1e-2, context__dropout=0.0,
            device="cpu")


def ambiguous_corpus(notebooks: int = 24):
    """The same cell, ``df.head()``, is EXPLORE after a load and EVALUATE after a fit."""
    cells, y, looks = [], [], []
    for n in range(notebooks):
        after_fit = n % 2 == 1
        for index, (source, stage) in enumerate([(LOAD, 1), (FIT if after_fit else LOAD, 3 if after_fit else 1),
                                                 (LOOK, 4 if after_fit else 2)]):
            cells.append(make_cell(source, notebook_id=f"nb{n}", index=index))
            y.append(np.eye(5, dtype=np.float32)[stage])
        looks.append((len(cells) - 1, 4 if after_fit else 2))
    return cells, np.array(y), looks


def test_context_tells_apart_identical_cells_by_their_neighbours(tmp_path):
    cells, y, looks = ambiguous_corpus()
    encoder = make_encoder("context", **FAST).fit(cells, y)
    rows, stages = zip(*looks)
    cell_only = encoder.base_.predict_proba(cells)[list(rows)].argmax(axis=1)
    in_context = encoder.predict_proba(cells)[list(rows)].argmax(axis=1)
    assert (cell_only == stages).mean() <= 0.6  # the same source: the cell alone cannot tell
    assert (in_context == stages).mean() == 1.0
    assert encoder.history_[-1]["val_agreement"] >= 0.9
    encoder.save(tmp_path / "model")
    loaded = load_encoder(tmp_path / "model")
    np.testing.assert_allclose(loaded.predict_proba(cells), encoder.predict_proba(cells), atol=1e-5)
    shuffled = np.random.default_rng(0).permutation(len(cells))
    np.testing.assert_allclose(loaded.predict_proba([cells[i] for i in shuffled]),
                               encoder.predict_proba(cells)[shuffled], atol=1e-5)


def test_base_params_size_the_base_it_trains(tmp_path):
    cells, y, _ = ambiguous_corpus(notebooks=4)
    small = {"model__d_model": 16, "model__heads": 2, "model__layers": 1, "model__d_ff": 32, "training__epochs": 1}
    encoder = make_encoder("context", base="coral", base_params=small, training__epochs=1, device="cpu").fit(cells, y)
    assert (encoder.base_.model.d_model, encoder.base_.training.epochs) == (16, 1)
    reloaded = load_encoder(encoder.save(tmp_path / "model"), device="cpu")
    assert reloaded.base_params == small and reloaded.base_.model.d_model == 16
    with pytest.raises(ValueError, match="base_params are for a base trained here"):
        make_encoder("context", base=str(tmp_path / "model" / "base"), base_params=small).fit(cells, y)


def test_a_trained_base_directory_is_reused_frozen(tmp_path):
    cells, y, _ = ambiguous_corpus(8)
    base = make_encoder("word2vec").fit(cells, y).save(tmp_path / "base")
    encoder = make_encoder("context", **dict(FAST, base=str(base), training__epochs=2)).fit(cells, y)
    np.testing.assert_array_equal(encoder.base_.predict_proba(cells), load_encoder(base).predict_proba(cells))
    with pytest.raises(ValueError, match="unknown encoder 'nonsense'"):
        make_encoder("context", base="nonsense").fit(cells, y)


def test_notebooks_are_regrouped_in_order_and_never_split_across_chunks():
    cells = [make_cell("x = 1", notebook_id=nb, index=i) for nb, i in [("a", 2), ("b", 0), ("a", 0), ("a", 1)]]
    assert [order.tolist() for order in notebook_order(cells)] == [[2, 3, 0], [1]]
    runs = [make_cell("x = 1", notebook_id=nb, index=i) for nb, n in [("a", 3), ("b", 2), ("c", 1)] for i in range(n)]
    assert [[c.notebook_id for c in chunk] for chunk in notebook_chunks(runs, 2)] == [["a"] * 3, ["b"] * 2, ["c"]]
