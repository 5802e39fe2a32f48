"""Several encoders of one kind, trained on the same weak labels with their own seeds, whose
stage probabilities are averaged.

A small graph encoder trained on weak labels varies from seed to seed by several points on
the cells no LF covers (docs/results.md); the mean of a few seeds is steadier and usually at
least as accurate as a typical one. ``--encoder ensemble`` trains ``members`` copies of the
``member`` encoder (parameters ``member_params``) with seeds ``seed``, ``seed + 1``, ... on the
same cells and saves each as an ordinary model directory under ``member-<k>/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from coral.corpora.records import ParsedCell
from coral.encoders.base import Encoder, check_weak_labels, load_encoder, make_encoder

MEMBER_DIR = "member-{}"


class EnsembleEncoder(Encoder):
    """The mean stage probabilities of ``members`` ``member`` encoders, trained with seeds
    ``seed`` .. ``seed + members - 1`` and ``member_params`` (the member's defaults elsewhere)."""

    name = "ensemble"

    def __init__(self, *, member: str = "gnn", member_params: dict[str, Any] | None = None, members: int = 2,
                 seed: int = 0) -> None:
        self.member = member
        self.member_params = member_params
        self.members = members
        self.seed = seed

    @property
    def reads_notebooks(self) -> bool:  # type: ignore[override]
        return any(encoder.reads_notebooks for encoder in getattr(self, "members_", []))

    def _new_members(self) -> list[Encoder]:
        if self.member == self.name:
            raise ValueError("an ensemble's member is a single encoder, not another ensemble")
        if self.members < 1:
            raise ValueError(f"an ensemble needs at least one member, not {self.members}")
        params = dict(self.member_params or {})
        if "seed" in params:
            raise ValueError("member_params cannot set seed: member k is trained with seed + k")
        return [make_encoder(self.member, device=self.device, seed=self.seed + k, **params) for k in range(self.members)]

    def fit(
        self,
        cells: Sequence[ParsedCell],
        y: np.ndarray,
        *,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        progress: bool = False,
    ) -> EnsembleEncoder:
        """Train each member in turn on ``cells`` (checkpoints under ``member-<k>/``)."""
        y = check_weak_labels(cells, y)
        self.members_ = self._new_members()
        for k, encoder in enumerate(self.members_):
            member_dir = Path(checkpoint_dir) / MEMBER_DIR.format(k) if checkpoint_dir else None
            encoder.fit(cells, y, checkpoint_dir=member_dir, resume=resume, progress=progress)
        return self

    def predict_proba(self, cells: Sequence[ParsedCell]) -> np.ndarray:
        if not hasattr(self, "members_"):
            raise RuntimeError("this ensemble is not fitted: call fit or load it")
        return np.mean([encoder.predict_proba(cells) for encoder in self.members_], axis=0)

    def _save_state(self, directory: Path) -> None:
        for k, encoder in enumerate(self.members_):
            encoder.save(directory / MEMBER_DIR.format(k))

    def _load_state(self, directory: Path) -> None:
        self.members_ = [load_encoder(directory / MEMBER_DIR.format(k), device=self.device) for k in range(self.members)]
        kinds = {encoder.name for encoder in self.members_}
        if kinds != {self.member}:
            raise ValueError(f"{directory}: the members are {', '.join(sorted(kinds))} encoders, not {self.member!r}")
