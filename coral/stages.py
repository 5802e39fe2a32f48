"""The five stages of the data-analysis process, as integer labels Snorkel understands, and
the one rule for when a row of stage probabilities (or weak labels) names a stage at all."""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stage(IntEnum):
    """A stage label. Values are Snorkel class indices; ``ABSTAIN`` (-1) is not a stage."""

    IMPORT = 0
    WRANGLE = 1
    EXPLORE = 2
    MODEL = 3
    EVALUATE = 4


ABSTAIN = -1
STAGES: tuple[Stage, ...] = tuple(Stage)
STAGE_NAMES: tuple[str, ...] = tuple(stage.name for stage in Stage)
N_STAGES = len(STAGES)  # columns of every stage-probability and weak-label matrix


def is_covered(proba: np.ndarray) -> np.ndarray:
    """Which rows of an (n, N_STAGES) probability or weak-label matrix name a stage: an
    all-zero row is an abstain (no LF fired, or the model declined)."""
    return np.asarray(proba).sum(axis=-1) > 0


def cell_position(rank, n_cells):
    """Where a code cell sits in its notebook, in 0..1: the centre of its slot among the
    notebook's ``n_cells`` code cells (``rank`` counts from 0). Works on numbers and arrays."""
    return (rank + 0.5) / n_cells


def stage_from_name(name: str) -> Stage:
    """Parse a stage name case-insensitively; raise a ValueError that lists the valid names."""
    try:
        return Stage[name.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; expected one of {', '.join(STAGE_NAMES)}") from None
