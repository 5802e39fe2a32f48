"""Bag-of-tokens baselines: gensim LDA topic mixtures or averaged Word2Vec vectors of a cell,
then a scikit-learn logistic regression trained on the weak labels.

A cell's tokens (``model__token_source``): ``code``, the sub-tokens of its identifiers and
literals; or ``ast``, its serialised AST (each node's type, then its value's sub-tokens, in
preorder), as the CORAL paper's Word2Vec-with-AST baseline reads a cell. Both add the words
of the markdown above and the qualified API calls kept whole (``pandas.read_csv``). Soft weak
labels are used exactly: each covered cell enters the classifier once per stage with the
label model's probability as its sample weight, which makes the logistic loss the
cross-entropy against the soft label. As for the torch encoders, a share of the notebooks is
kept out of the classifier to measure agreement with their weak labels (``metrics.csv``).
"""

from __future__ import annotations

import json
import time
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
from gensim.corpora import Dictionary
from gensim.models import KeyedVectors, LdaModel, Word2Vec
from gensim.models.callbacks import CallbackAny2Vec, Metric
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from coral.artifacts import (
    fitted_attributes, load_arrays, read_token_list, refuse_pickles, save_arrays, set_fitted_attributes,
)
from coral.atomic import write_text
from coral.corpora.records import ParsedCell
from coral.encoders.base import N_STAGES, Encoder, check_weak_labels
from coral.encoders.monitor import describe, split_by_notebook, warn_if_collapsed, weak_agreement, write_metrics
from coral.encoders.params import ParamGroup
from coral.encoders.vocab import TokenConfig

CLASSIFIER_FILE = "classifier.npz"  # the scaler's and the logistic regression's fitted arrays
# pickles that earlier versions wrote: refused, since unpickling runs code
LEGACY_FILES = ("classifier.joblib", "lda.dictionary", "lda.model", "word2vec.model")


@dataclass(frozen=True)
class ClassifierConfig(ParamGroup):
    """The logistic regression on top of the token features; subclasses add the features' parameters."""

    C: float = 1.0  # inverse regularisation strength
    token_source: str = "code"  # "code": identifier and literal sub-tokens; "ast": the serialised AST
    val_fraction: float = 0.1  # share of notebooks kept out of the classifier, for the weak-label validation


def soft_label_rows(features: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand covered cells into (features, stage, weight) rows, one per stage with weight > 0."""
    covered = np.flatnonzero(y.sum(axis=1) > 0)
    target = y[covered] / y[covered].sum(axis=1, keepdims=True)
    cell_idx, stage = np.nonzero(target)
    return features[covered[cell_idx]], stage, target[cell_idx, stage]


class BagOfTokensEncoder(Encoder):
    """Unsupervised token features (fit on all cells) + a classifier on the weak labels.

    Parameters: ``tokens`` (what is read of a cell, as the graph encoders read it), ``model``
    (the features and the classifier; None: the subclass's ``model_config()``) and ``seed``.
    """

    model_config: ClassVar[type[ClassifierConfig]]

    def __init__(self, *, tokens: TokenConfig = TokenConfig(), model: ClassifierConfig | None = None,
                 seed: int = 0) -> None:
        self.tokens = tokens
        self.model = self.model_config() if model is None else model
        self.seed = seed

    def _docs(self, cells: Sequence[ParsedCell]) -> list[list[str]]:
        """A cell's tokens (``model.token_source``), and its qualified API calls kept whole."""
        return [self.tokens.source_tokens(cell, self.model.token_source) + list(cell.apis) for cell in cells]

    @abstractmethod
    def _fit_features(self, docs: list[list[str]], progress: bool) -> None:
        """Learn the unsupervised representation from every cell's tokens (labels not needed)."""

    @abstractmethod
    def _features(self, docs: list[list[str]]) -> np.ndarray:
        """(n, k) feature matrix."""

    @abstractmethod
    def _save_features(self, directory: Path) -> None: ...

    @abstractmethod
    def _load_features(self, directory: Path) -> None: ...

    def fit(
        self,
        cells: Sequence[ParsedCell],
        y: np.ndarray,
        *,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        progress: bool = False,
    ) -> BagOfTokensEncoder:
        """Fit the token model on all cells (labels not needed), then the classifier on the covered
        cells of the training notebooks; report agreement on the validation notebooks (one pass:
        no checkpoints)."""
        if resume:
            raise ValueError(f"the {self.name} encoder trains in one pass: there is nothing to resume")
        y = check_weak_labels(cells, y)
        started = time.perf_counter()
        docs = self._docs(cells)
        self._fit_features(docs, progress)
        features = self._features(docs)
        train_idx, val_idx = split_by_notebook(cells, self.model.val_fraction, self.seed)
        x, stage, weight = soft_label_rows(features[train_idx], y[train_idx])
        if len(np.unique(stage)) < 2:
            raise ValueError("the weak labels cover a single stage: a classifier needs at least two")
        self.classifier_ = self._new_classifier()
        self.classifier_.fit(x, stage, logisticregression__sample_weight=weight)
        row = {"epoch": 1, "train_cells": len(train_idx)}
        if len(val_idx):
            row.update(weak_agreement(self._classify(features[val_idx]), y[val_idx]))
            warn_if_collapsed(row, self.name)
        row["seconds"] = time.perf_counter() - started
        self.history_ = [row]
        if progress:
            tqdm.write(f"{self.name}: {describe(row)}, {row['seconds']:.0f}s")
        return self

    def _new_classifier(self) -> Pipeline:
        return make_pipeline(StandardScaler(), LogisticRegression(C=self.model.C, max_iter=2000, random_state=self.seed))

    def _classify(self, features: np.ndarray) -> np.ndarray:
        proba = np.zeros((len(features), N_STAGES), dtype=np.float32)
        if len(features):
            proba[:, self.classifier_.classes_] = self.classifier_.predict_proba(features)
        return proba

    def predict_proba(self, cells: Sequence[ParsedCell]) -> np.ndarray:
        if not hasattr(self, "classifier_"):
            raise RuntimeError(f"this {self.name} encoder is not fitted: call fit or load it")
        return self._classify(self._features(self._docs(cells)) if cells else np.zeros((0, 0), dtype=np.float32))

    def _save_state(self, directory: Path) -> None:
        self._save_features(directory)
        save_arrays(directory / CLASSIFIER_FILE, {key: value for name, step in self.classifier_.steps
                                                  for key, value in fitted_attributes(step, name).items()})
        write_metrics(directory, getattr(self, "history_", []))

    def _load_state(self, directory: Path) -> None:
        refuse_pickles(directory, LEGACY_FILES, f"Retrain it with this version of coral (coral train --encoder {self.name}).")
        self._load_features(directory)
        arrays = load_arrays(directory / CLASSIFIER_FILE)
        self.classifier_ = self._new_classifier()
        for name, step in self.classifier_.steps:
            set_fitted_attributes(step, arrays, name)


class _PassBar(Metric):
    """Advance a progress bar at the end of each LDA pass (gensim calls a topic model's metrics then)."""

    logger, title = None, "pass"

    def __init__(self, bar: tqdm) -> None:
        self.bar = bar

    def get_value(self, **kwargs) -> int:
        self.bar.update(1)
        return self.bar.n


@dataclass(frozen=True)
class LDAConfig(ClassifierConfig):
    n_topics: int = 50
    passes: int = 5
    max_doc_fraction: float = 0.5  # sub-tokens in more of the cells than this are dropped


LDA_FILE = "lda.npz"
LDA_ARRAYS = ("exp_elog_beta", "alpha", "eta")
LDA_VOCAB_FILE = "lda.vocab.json"
WORD2VEC_FILE = "word2vec.npz"
WORD2VEC_VOCAB_FILE = "word2vec.vocab.json"


class LDAEncoder(BagOfTokensEncoder):
    """A cell as its LDA topic mixture (gensim ``LdaModel``)."""

    name = "lda"
    model_config = LDAConfig
    model: LDAConfig

    def _fit_features(self, docs: list[list[str]], progress: bool) -> None:
        self.dictionary_ = Dictionary(docs)
        self.dictionary_.filter_extremes(no_below=self.tokens.min_token_count, no_above=self.model.max_doc_fraction,
                                         keep_n=self.tokens.max_vocab)
        bows = [self.dictionary_.doc2bow(doc) for doc in docs]
        with tqdm(total=self.model.passes, desc=f"lda: {len(bows)} cells", unit="pass", disable=not progress) as bar:
            self.lda_ = LdaModel(bows, id2word=self.dictionary_, num_topics=self.model.n_topics,
                                 passes=self.model.passes, random_state=self.seed, callbacks=[_PassBar(bar)])
        self.lda_.callbacks = None  # the bar is not part of the model

    def _features(self, docs: list[list[str]]) -> np.ndarray:
        out = np.zeros((len(docs), self.model.n_topics), dtype=np.float32)
        for i, doc in enumerate(docs):
            # inference starts from random topic weights: the same start for every document makes a
            # cell's features independent of what else is predicted, and of the calls made before
            self.lda_.random_state = np.random.RandomState(self.seed)
            for topic, weight in self.lda_.get_document_topics(self.dictionary_.doc2bow(doc), minimum_probability=0.0):
                out[i, topic] = weight
        return out

    def _save_features(self, directory: Path) -> None:
        """The vocabulary in JSON; what topic inference reads (topic-word weights, the priors) as arrays."""
        tokens = [self.dictionary_[i] for i in range(len(self.dictionary_))]
        write_text(directory / LDA_VOCAB_FILE, json.dumps(tokens) + "\n")
        save_arrays(directory / LDA_FILE, {"exp_elog_beta": self.lda_.expElogbeta, "alpha": self.lda_.alpha,
                                           "eta": self.lda_.eta})

    def _load_features(self, directory: Path) -> None:
        tokens = read_token_list(directory / LDA_VOCAB_FILE)
        self.dictionary_ = Dictionary()
        self.dictionary_.token2id = {token: i for i, token in enumerate(tokens)}
        arrays = load_arrays(directory / LDA_FILE, required=LDA_ARRAYS)
        beta = arrays["exp_elog_beta"]
        if beta.shape != (self.model.n_topics, len(tokens)):
            raise ValueError(f"{directory / LDA_FILE}: topic-word weights of shape {beta.shape}, expected "
                             f"({self.model.n_topics}, {len(tokens)}) for its encoder.json and {LDA_VOCAB_FILE}")
        self.lda_ = LdaModel(id2word=self.dictionary_, num_topics=self.model.n_topics, alpha=arrays["alpha"],
                             eta=arrays["eta"], dtype=beta.dtype.type)
        self.lda_.expElogbeta = beta


@dataclass(frozen=True)
class Word2VecConfig(ClassifierConfig):
    vector_size: int = 100
    window: int = 5
    epochs: int = 5


class _EpochBar(CallbackAny2Vec):
    """Advance a progress bar at the end of each Word2Vec epoch."""

    def __init__(self, bar: tqdm) -> None:
        self.bar = bar

    def on_epoch_end(self, model: Word2Vec) -> None:
        self.bar.update(1)


class Word2VecEncoder(BagOfTokensEncoder):
    """A cell as the mean Word2Vec vector of its tokens (gensim ``Word2Vec``, trained on the corpus)."""

    name = "word2vec"
    model_config = Word2VecConfig
    model: Word2VecConfig

    def _fit_features(self, docs: list[list[str]], progress: bool) -> None:
        # one worker: gensim is only reproducible for a fixed seed when single-threaded
        config = self.model
        with tqdm(total=config.epochs, desc=f"word2vec: {len(docs)} cells", unit="epoch", disable=not progress) as bar:
            self.vectors_: KeyedVectors = Word2Vec(
                docs, vector_size=config.vector_size, window=config.window, epochs=config.epochs,
                min_count=self.tokens.min_token_count, max_final_vocab=self.tokens.max_vocab, seed=self.seed, workers=1,
                callbacks=[_EpochBar(bar)]).wv  # only the vectors are kept: the bar is not part of the model

    def _features(self, docs: list[list[str]]) -> np.ndarray:
        vectors = self.vectors_
        out = np.zeros((len(docs), self.model.vector_size), dtype=np.float32)
        for i, doc in enumerate(docs):
            known = [tok for tok in doc if tok in vectors.key_to_index]
            if known:
                out[i] = vectors[known].mean(axis=0)
        return out

    def _save_features(self, directory: Path) -> None:
        """The tokens in JSON, their vectors (same order) as an array."""
        write_text(directory / WORD2VEC_VOCAB_FILE, json.dumps(list(self.vectors_.index_to_key)) + "\n")
        save_arrays(directory / WORD2VEC_FILE, {"vectors": self.vectors_.vectors})

    def _load_features(self, directory: Path) -> None:
        tokens = read_token_list(directory / WORD2VEC_VOCAB_FILE)
        vectors = load_arrays(directory / WORD2VEC_FILE, required=("vectors",))["vectors"]
        if vectors.shape != (len(tokens), self.model.vector_size):
            raise ValueError(f"{directory / WORD2VEC_FILE}: vectors of shape {vectors.shape}, expected "
                             f"({len(tokens)}, {self.model.vector_size}) for its encoder.json and {WORD2VEC_VOCAB_FILE}")
        self.vectors_ = KeyedVectors(self.model.vector_size, dtype=vectors.dtype)
        self.vectors_.add_vectors(tokens, vectors)
