"""Encoder hyper-parameters: one group dataclass per concern, nested the scikit-learn way."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
from sklearn.base import clone

from coral.encoders import ENCODERS, load_encoder, make_encoder
from coral.encoders.params import ParamGroup
from coral.encoders.runtime import available_cores, default_threads
from coral.jobs.predict import DEFAULT_MODEL_DIR

from .cells import toy_corpus

# encoder.json of the shipped model as earlier versions wrote it: flat names, with the device
FLAT_SHIPPED_PARAMS = {
    "batch_size": 32, "d_ff": 256, "d_model": 128, "device": "auto", "dropout": 0.1, "epochs": 2, "heads": 4,
    "layers": 4, "lr": 0.001, "markdown": True, "masked": True, "max_markdown_tokens": 16, "max_nodes": 160,
    "max_vocab": 20000, "min_lr_ratio": 0.1, "min_token_count": 2, "n_topics": 50, "negatives": 5, "patience": 2,
    "reconstruction_weight": 0.1, "seed": 0, "stage_entropy_weight": 0.3, "topic_losses": True,
    "topic_unique_weight": 0.1, "val_fraction": 0.1, "warmup": 0.1, "weak_weight": 1.0, "weight_decay": 0.01,
}


def groups_of(encoder) -> dict[str, ParamGroup]:
    return {key: value for key, value in encoder.get_params(deep=False).items() if isinstance(value, ParamGroup)}


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_a_fresh_encoder_has_the_group_defaults_and_each_name_once(name):
    encoder = make_encoder(name)
    params = encoder.get_params()
    names = []
    for group, config in groups_of(encoder).items():
        for field in dataclasses.fields(config):
            assert params[f"{group}__{field.name}"] == field.default, f"{group}__{field.name}"
            names.append(field.name)
    assert len(names) == len(set(names))  # no name in two groups: a bare name is never ambiguous
    assert params["seed"] == 0 and "device" not in params


def test_all_encoders_read_a_cell_with_the_same_defaults():
    reading = {name: {key.split("__")[1]: value for key, value in make_encoder(name).get_params().items()
                      if key.endswith(("__max_nodes", "__max_markdown_tokens", "__subtokens_per_node"))}
               for name in ENCODERS if name not in ("context", "ensemble")}  # these read cells through other encoders
    assert all(values == {"max_nodes": 160, "max_markdown_tokens": 16, "subtokens_per_node": 4}
               for values in reading.values()), reading


def test_the_shipped_model_differs_from_the_defaults_only_by_its_training_options():
    shipped = load_encoder(DEFAULT_MODEL_DIR).get_params()
    defaults = make_encoder("coral").get_params()
    changed = {key for key in shipped if "__" in key and shipped[key] != defaults[key]}
    assert changed == {"model__d_model", "model__d_ff", "training__epochs"}  # --d-model 128 --param d_ff=256 --epochs 2


def test_set_params_and_clone_round_trip_with_nested_names():
    encoder = make_encoder("coral", graph__max_nodes=120, training__grad_clip=0.5, model__n_topics=8, seed=3)
    assert (encoder.graph.max_nodes, encoder.training.grad_clip, encoder.model.n_topics, encoder.seed) == (120, 0.5, 8, 3)
    copy = clone(encoder)
    assert copy.get_params() == encoder.get_params() and copy.graph is not encoder.graph
    copy.set_params(graph={"masked": False}, training__epochs=4)
    assert copy.graph.masked is False and copy.graph.max_nodes == 120 and copy.training.epochs == 4
    assert encoder.graph.masked is True and encoder.training.epochs == 10  # the original is untouched
    assert make_encoder("coral").graph.max_nodes == 160  # and so is the shared default group
    assert make_encoder("word2vec", epochs=7).model.epochs == 7  # a bare name goes to the one group that has it


def test_unknown_parameters_are_errors_that_list_the_valid_names():
    with pytest.raises(ValueError, match=r"no parameter\(s\) graph__max_node\b.*graph__max_nodes"):
        make_encoder("coral", graph__max_node=3)
    with pytest.raises(ValueError, match=r"no parameter\(s\) optimizer__lr"):
        make_encoder("gnn", optimizer__lr=0.1)
    with pytest.raises(ValueError, match=r"no parameter\(s\) heads"):
        make_encoder("lda", heads=2)
    with pytest.raises(ValueError, match="'training' is a group"):
        make_encoder("coral", training=5)


def test_an_earlier_flat_encoder_json_with_a_device_still_loads(tmp_path):
    cells, y, _ = toy_corpus()
    # a CORAL of the earlier shipped model's shape, saved as this version writes it
    nested = make_encoder("coral", model__d_model=128, model__d_ff=256, training__epochs=2, device="cpu").fit(cells, y)
    current = nested.save(tmp_path / "current")
    model_dir = tmp_path / "old"
    shutil.copytree(current, model_dir)
    meta = json.loads((model_dir / "encoder.json").read_text())
    (model_dir / "encoder.json").write_text(json.dumps({**meta, "params": FLAT_SHIPPED_PARAMS}))
    old = load_encoder(model_dir, device="cpu")
    saved = load_encoder(current)
    assert old.get_params() == saved.get_params() and old.device == "cpu" and saved.device == "auto"
    np.testing.assert_array_equal(old.predict_proba(cells[:20]), saved.predict_proba(cells[:20]))


def test_grad_clip_reaches_training():
    cells, y, _ = toy_corpus()
    tiny = dict(model__d_model=16, model__d_ff=32, model__n_topics=4, model__layers=1, model__dropout=0.0,
                graph__min_token_count=1, training__epochs=1, training__batch_size=8, device="cpu")
    unclipped = make_encoder("coral", training__grad_clip=0, **tiny).fit(cells, y).predict_proba(cells)
    clipped = make_encoder("coral", training__grad_clip=1e-6, **tiny).fit(cells, y).predict_proba(cells)
    assert np.abs(unclipped - clipped).max() > 1e-4


def test_default_threads_fit_the_cores_available():
    assert 1 <= default_threads() <= available_cores()
