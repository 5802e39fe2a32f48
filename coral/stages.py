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


def stage_from_name(name: str) -> Stage:
    """Parse a stage name case-insensitively; raise a ValueError that lists the valid names."""
    try:
        return Stage[name.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; expected one of {', '.join(STAGE_NAMES)}") from None
