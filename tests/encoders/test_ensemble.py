"""The ensemble encoder: members trained with their own seeds, probabilities averaged, saved as
ordinary model directories that load as data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coral.encoders import load_encoder, make_encoder
from coral.encoders.ensemble import MEMBER_DIR

from .cells import toy_corpus

SMALL = {"model__d_model": 16, "model__heads": 4, "model__layers": 2, "model__dropout": 0.0, "graph__min_token_count": 1,
         "training__batch_size": 8, "training__lr": 3e-3, "training__patience": 100, "training__epochs": 20}


def test_members_differ_by_seed_and_their_mean_is_the_prediction(tmp_path):
    cells, y, labels = toy_corpus()
    ensemble = make_encoder("ensemble", member="gnn", member_params=SMALL, members=2, seed=5, device="cpu").fit(cells, y)
    first, second = ensemble.members_
    assert (first.seed, second.seed) == (5, 6) and first.model.d_model == 16
    assert not np.allclose(first.predict_proba(cells), second.predict_proba(cells))
    proba = ensemble.predict_proba(cells)
    np.testing.assert_allclose(proba, (first.predict_proba(cells) + second.predict_proba(cells)) / 2, atol=1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (proba.argmax(axis=1) == labels).mean() >= 0.8
    directory = ensemble.save(tmp_path / "model")
    assert json.loads((directory / MEMBER_DIR.format(1) / "encoder.json").read_text())["encoder"] == "gnn"
    loaded = load_encoder(directory, device="cpu")
    np.testing.assert_allclose(loaded.predict_proba(cells), proba, atol=1e-5)
    assert loaded.reads_notebooks is False


@pytest.mark.parametrize(("params", "message"), [
    ({"member": "ensemble"}, "not another ensemble"),
    ({"members": 0}, "at least one member"),
    ({"member_params": {"seed": 3}}, "cannot set seed"),
    ({"member_params": {"model__nonsense": 1}}, "has no parameter"),
])
def test_bad_ensembles_are_refused(params, message):
    cells, y, _ = toy_corpus(per_stage=2)
    with pytest.raises(ValueError, match=message):
        make_encoder("ensemble", device="cpu", **params).fit(cells, y)


def test_a_member_of_another_kind_is_not_loaded(tmp_path):
    cells, y, _ = toy_corpus(per_stage=2)
    directory = make_encoder("ensemble", member="word2vec", members=1).fit(cells, y).save(tmp_path / "model")
    meta = json.loads((directory / "encoder.json").read_text())
    meta["params"]["member"] = "gnn"
    (directory / "encoder.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="the members are word2vec encoders, not 'gnn'"):
        load_encoder(directory)
