"""The BERT-style baseline: masking, pretraining, frozen vs fine-tuned, save/load and resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coral.artifacts import UnsafeModelFileError, load_arrays
from coral.encoders import load_encoder, make_encoder
from coral.encoders.bert import (
    CLS_ID, IGNORE, MASK_ID, PAD_ID, PRETRAINED_WEIGHTS, SPECIAL_TOKENS, WEIGHTS_FILE, mask_tokens,
)

from .cells import toy_corpus
from .test_model_files_are_data import write_pickle

TINY_BERT = dict(model__d_model=32, model__heads=4, model__layers=2, model__d_ff=64, model__dropout=0.0,
                 model__max_length=64, tokens__min_token_count=1, training__batch_size=8, training__lr=3e-3,
                 training__patience=100, device="cpu")
ENCODER_PREFIXES = ("tokens.", "positions.", "embed_norm.", "encoder.")


@pytest.fixture(scope="module")
def corpus():
    return toy_corpus()


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "pwned"


def test_masking_follows_bert_80_10_10():
    generator = torch.Generator().manual_seed(0)
    n_tokens = 5000
    ids = torch.randint(len(SPECIAL_TOKENS), n_tokens, (400, 120), generator=generator)
    ids[:, 0] = CLS_ID
    ids[:, 100:] = PAD_ID  # padding
    inputs, targets = mask_tokens(ids, 0.15, n_tokens, generator)
    chosen = targets != IGNORE
    real = (ids != PAD_ID) & (ids != CLS_ID)
    assert not (chosen & ~real).any()  # never padding or [CLS]
    assert torch.equal(inputs[~chosen], ids[~chosen]) and torch.equal(targets[chosen], ids[chosen])
    assert abs(chosen.sum().item() / real.sum().item() - 0.15) < 0.005
    n = chosen.sum().item()
    masked = (inputs[chosen] == MASK_ID).sum().item() / n
    kept = (inputs[chosen] == ids[chosen]).sum().item() / n
    replaced = inputs[chosen][(inputs[chosen] != MASK_ID) & (inputs[chosen] != ids[chosen])]
    assert abs(masked - 0.8) < 0.01 and abs(kept - 0.1) < 0.01 and abs(len(replaced) / n - 0.1) < 0.01
    assert (replaced >= len(SPECIAL_TOKENS)).all()  # a random replacement is a real token


def test_mlm_loss_decreases_on_a_small_repeated_corpus(corpus):
    cells, y, _ = corpus
    # 40 cells of 5 templates: tokens that the rest of a cell predicts, learnt in a few steps at a high lr
    encoder = make_encoder("bert", model__mlm_epochs=15, model__mlm_lr=1e-2, training__epochs=1, **TINY_BERT).fit(cells, y)
    history = encoder.pretraining_
    assert [row["epoch"] for row in history] == list(range(1, 16))
    assert history[-1]["mlm_loss"] < 0.6 * history[0]["mlm_loss"]
    assert history[-1]["mlm_accuracy"] > history[0]["mlm_accuracy"]
    assert encoder.training_["pretraining"] == history
    capped = make_encoder("bert", model__mlm_epochs=12, model__mlm_max_steps=3, training__epochs=1, **TINY_BERT)
    assert capped.fit(cells, y).pretraining_[-1]["step"] == 3


@pytest.mark.parametrize("token_source", ["code", "ast"])
def test_fine_tuned_bert_learns_the_toy_stages(corpus, token_source):
    cells, y, labels = corpus
    encoder = make_encoder("bert", model__mlm_epochs=2, training__epochs=15, model__token_source=token_source,
                           **TINY_BERT).fit(cells, y)
    proba = encoder.predict_proba(cells)
    assert proba.shape == (len(cells), 5) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (proba.argmax(axis=1) == labels).mean() >= 0.8
    assert encoder.history_[-1]["train_weak"] < encoder.history_[0]["train_weak"]


def test_frozen_mode_leaves_the_pretrained_encoder_unchanged(corpus, tmp_path):
    cells, y, _ = corpus
    trained = {}
    for finetune in (False, True):
        checkpoint = tmp_path / f"finetune-{finetune}"
        encoder = make_encoder("bert", model__mlm_epochs=2, model__finetune=finetune, training__epochs=3, **TINY_BERT)
        encoder.fit(cells, y, checkpoint_dir=checkpoint)
        pretrained = load_arrays(checkpoint / PRETRAINED_WEIGHTS)
        after = {name: tensor.numpy() for name, tensor in encoder.network_.state_dict().items()}
        trained[finetune] = {name: np.array_equal(after[name], pretrained[name]) for name in after}
    frozen, finetuned = trained[False], trained[True]
    encoder_weights = [name for name in frozen if name.startswith(ENCODER_PREFIXES)]
    assert encoder_weights and all(frozen[name] for name in encoder_weights)
    assert not frozen["stage.weight"]  # the head did learn
    assert not all(finetuned[name] for name in encoder_weights)  # fine-tuning does change the encoder


def test_save_load_round_trip_gives_identical_predictions(corpus, tmp_path, marker):
    cells, y, _ = corpus
    encoder = make_encoder("bert", model__mlm_epochs=1, training__epochs=2, model__token_source="ast",
                           **TINY_BERT).fit(cells, y)
    model_dir = encoder.save(tmp_path / "model")
    assert not [path.name for path in model_dir.iterdir() if path.suffix in (".pt", ".pkl", ".joblib")]
    loaded = load_encoder(model_dir)
    assert type(loaded) is type(encoder) and loaded.get_params() == encoder.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(cells), encoder.predict_proba(cells))
    write_pickle(model_dir / WEIGHTS_FILE, marker)
    with pytest.raises(UnsafeModelFileError, match=rf"{WEIGHTS_FILE}: not a plain array file"):
        load_encoder(model_dir)
    assert not marker.exists()


def test_resume_keeps_the_pretraining_and_the_finished_epochs(corpus, tmp_path):
    cells, y, _ = corpus
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        make_encoder("bert", **TINY_BERT).fit(cells, y, checkpoint_dir=tmp_path, resume=True)
    params = dict(TINY_BERT, model__mlm_epochs=2, training__epochs=2)
    first = make_encoder("bert", **params).fit(cells, y, checkpoint_dir=tmp_path)
    resumed = make_encoder("bert", **params).fit(cells, y, checkpoint_dir=tmp_path, resume=True)
    assert resumed.pretraining_ == first.pretraining_ and resumed.history_ == first.history_
    np.testing.assert_array_equal(resumed.predict_proba(cells), first.predict_proba(cells))


def test_bad_token_source_or_heads_are_clear_errors(corpus):
    cells, y, _ = corpus
    with pytest.raises(ValueError, match="token_source must be one of code, ast"):
        make_encoder("bert", model__token_source="bpe", **TINY_BERT).fit(cells, y)
    with pytest.raises(ValueError, match="divisible by heads"):
        make_encoder("bert", **{**TINY_BERT, "model__heads": 5}).fit(cells, y)
