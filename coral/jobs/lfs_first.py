"""A stage model that keeps the labeling functions' label where they vote and asks the encoder
only where every LF abstains.

Weak supervision trains an encoder so that it generalises beyond the LFs' coverage; on the
cells the LFs do cover, their aggregated vote is usually more accurate than an encoder trained
on it (the encoder only imitates it, with errors of its own). ``coral train --lfs-first``
saves the LFs and their fitted aggregation under ``lfs/`` in the encoder's directory, and
``coral predict`` then labels each covered cell with the LFs and every other cell with the
encoder. With a notebook HMM (``hmm.json``, ``coral.jobs.notebook_hmm``) the cells no LF covers
are read in the context of their notebook. docs/results.md has every reading of the shipped
model on the dev sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coral.corpora.records import ParsedCell
from coral.encoders.base import Encoder
from coral.jobs.notebook_hmm import NotebookHMM, has_neighbours, has_notebook_hmm
from coral.jobs.predict import predict_rows
from coral.labeling.model import HeuristicStageModel, is_heuristics_dir
from coral.stages import is_covered

LFS_DIR = "lfs"  # the heuristics model inside an encoder directory


@dataclass(slots=True)
class LFsFirstModel:
    """The LFs' aggregated label where any LF votes, the encoder's elsewhere (read in its
    notebook's context when there is an ``hmm``)."""

    lfs: HeuristicStageModel
    encoder: Encoder
    hmm: NotebookHMM | None = None

    def predict_proba(self, cells: Sequence[ParsedCell]) -> np.ndarray:
        return self.decide(cells)[0]

    def decide(self, cells: Sequence[ParsedCell]) -> tuple[np.ndarray, list[str]]:
        """The stage probabilities and, for each cell, what gave them (``DECIDERS``): the
        LFs, the encoder alone (no HMM, or no neighbour to read the cell with), or the
        notebook HMM (encoder and neighbours)."""
        proba = self.lfs.predict_proba(cells)
        uncovered = ~is_covered(proba)
        if uncovered.any():  # the encoder, the costly part, runs only where it is needed
            proba[uncovered] = predict_rows(self.encoder, cells, np.flatnonzero(uncovered))
            if self.hmm is not None:
                proba = self.hmm.smooth(cells, proba, labelled=~uncovered)
        in_context = has_neighbours(cells) if self.hmm is not None else np.zeros(len(cells), dtype=bool)
        return proba, ["lfs" if covered else "context" if read else "encoder" for covered, read in zip(~uncovered, in_context)]


def has_lfs_first(directory: str | Path) -> bool:
    return is_heuristics_dir(Path(directory) / LFS_DIR)


def load_lfs_first(directory: str | Path, encoder: Encoder, *, trust_code: bool = False,
                   notebook_hmm: bool = True) -> LFsFirstModel:
    """The model of ``directory``; its notebook HMM too, if it has one and ``notebook_hmm``."""
    hmm = NotebookHMM.load(directory) if notebook_hmm and has_notebook_hmm(directory) else None
    return LFsFirstModel(HeuristicStageModel.load(Path(directory) / LFS_DIR, trust_code=trust_code), encoder, hmm)
