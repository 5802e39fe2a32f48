"""Bag-of-tokens baselines: gensim LDA topic mixtures or averaged Word2Vec vectors of a cell,
then a scikit-learn logistic regression trained on the weak labels.

A cell's tokens are the sub-tokens of its AST values (identifiers, literals), the words of
its markdown above, and its qualified API calls kept whole (``pandas.read_csv``). Soft weak
labels are used exactly: each covered cell enters the classifier once per stage with the
label model's probability as its sample weight, which makes the logistic loss the
cross-entropy against the soft label. As for the torch encoders, a share of the notebooks is
kept out of the classifier to measure agreement with their weak labels (``metrics.csv``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import time

import joblib
import numpy as np
from gensim.corpora import Dictionary
from gensim.models import LdaModel, Word2Vec
from gensim.models.callbacks import CallbackAny2Vec, Metric
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from coral.corpora.records import ParsedCell
from coral.encoders.base import N_STAGES, Encoder, check_weak_labels
from coral.encoders.monitor import describe, split_by_notebook, warn_if_collapsed, weak_agreement, write_metrics
from coral.encoders.params import ParamGroup
from coral.encoders.vocab import TokenConfig

CLASSIFIER_FILE = "classifier.joblib"


@dataclass(frozen=True)
class ClassifierConfig(ParamGroup):
    """The logistic regression on top of the token features; subclasses add the features' parameters."""

    C: float = 1.0  # inverse regularisation strength
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
        """A cell's tokens, and its qualified API calls kept whole."""
        return [self.tokens.cell_tokens(cell) + list(cell.apis) for cell in cells]

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
        self.classifier_: Pipeline = make_pipeline(
            StandardScaler(), LogisticRegression(C=self.model.C, max_iter=2000, random_state=self.seed))
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

    def _classify(self, features: np.ndarray) -> np.ndarray:
        proba = np.zeros((len(features), N_STAGES), dtype=np.float32)
        if len(features):
            proba[:, self.classifier_.classes_] = self.classifier_.predict_proba(features)
        return proba

    def predict_proba(self, cells: Sequence[ParsedCell]) -> np.ndarray:
        if not hasattr(self, "classifier_"):
            raise RuntimeError(f"this {self.name} encoder is not fitted: call fit or load it")
        return self._classify(self._features(self._docs(cells)) if cells else np.zeros((0, 0), dtype=np.float32))

    def save(self, directory: str | Path) -> Path:
        directory = super().save(directory)
        self._save_features(directory)
        joblib.dump(self.classifier_, directory / CLASSIFIER_FILE)
        write_metrics(directory, getattr(self, "history_", []))
        return directory

    def _load_state(self, directory: Path) -> None:
        self._load_features(directory)
        self.classifier_ = joblib.load(directory / CLASSIFIER_FILE)


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
            for topic, weight in self.lda_.get_document_topics(self.dictionary_.doc2bow(doc), minimum_probability=0.0):
                out[i, topic] = weight
        return out

    def _save_features(self, directory: Path) -> None:
        self.dictionary_.save(str(directory / "lda.dictionary"))
        self.lda_.save(str(directory / "lda.model"))

    def _load_features(self, directory: Path) -> None:
        self.dictionary_ = Dictionary.load(str(directory / "lda.dictionary"))
        self.lda_ = LdaModel.load(str(directory / "lda.model"))


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
            self.word2vec_ = Word2Vec(docs, vector_size=config.vector_size, window=config.window, epochs=config.epochs,
                                      min_count=self.tokens.min_token_count, max_final_vocab=self.tokens.max_vocab,
                                      seed=self.seed, workers=1, callbacks=[_EpochBar(bar)])
        self.word2vec_.callbacks = ()  # the bar is not part of the model

    def _features(self, docs: list[list[str]]) -> np.ndarray:
        vectors = self.word2vec_.wv
        out = np.zeros((len(docs), self.model.vector_size), dtype=np.float32)
        for i, doc in enumerate(docs):
            known = [tok for tok in doc if tok in vectors.key_to_index]
            if known:
                out[i] = vectors[known].mean(axis=0)
        return out

    def _save_features(self, directory: Path) -> None:
        self.word2vec_.save(str(directory / "word2vec.model"))

    def _load_features(self, directory: Path) -> None:
        self.word2vec_ = Word2Vec.load(str(directory / "word2vec.model"))
