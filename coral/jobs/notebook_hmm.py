"""Notebook context for an LFs-first model: a hidden Markov model over each notebook's code cells.

A cell's stage depends on its neighbours: a cell no LF covers is usually of the stage of the
covered cells around it (the transitions study shows how structured notebooks are), while the
cell-only encoder, trained on the covered cells' weak labels, is often wrong on such cells.
The HMM's states are the five stages; its transitions and start probabilities are counted
from the weak labels of consecutive covered cells of the training notebooks (no expert label).
At prediction time each cell emits what the LFs-first model says of it:

- an LF-covered cell: the LFs' vote, trusted with probability ``lf_confidence``;
- any other cell: the encoder's probabilities, divided by the stage prior (a hybrid HMM reads a
  classifier's posterior as a scaled likelihood) and raised to ``encoder_weight`` < 1, because
  on the cells no LF describes the encoder is far less sure than its probabilities say.

Forward-backward gives each uncovered cell its posterior stage given the whole notebook;
covered cells keep the LFs' label, and a cell that is its notebook's only one in the input
keeps the encoder's reading (it has no neighbours to be read with). A notebook is a run of
consecutive cells with one ``notebook_id`` (``coral predict`` never splits one). Parameters
are saved as JSON (``hmm.json`` in the model directory): data, never code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from coral.atomic import write_text
from coral.corpora.records import ParsedCell
from coral.stages import STAGE_NAMES, is_covered

HMM_FILE = "hmm.json"
N_STAGES = len(STAGE_NAMES)


def notebook_runs(cells: Sequence[ParsedCell]) -> Iterator[slice]:
    """The slices of ``cells`` that are one notebook's consecutive cells."""
    start = 0
    for i in range(1, len(cells) + 1):
        if i == len(cells) or cells[i].notebook_id != cells[start].notebook_id:
            yield slice(start, i)
            start = i


@dataclass
class NotebookHMM:
    """Stage transitions between consecutive code cells, learned from weak labels.

    ``encoder_weight`` and ``lf_confidence`` were chosen on gh-dev (docs/results.md);
    ``pseudocount`` smooths the transition counts.
    """

    encoder_weight: float = 0.2
    lf_confidence: float = 0.9
    pseudocount: float = 1.0
    transitions_: list[list[float]] = field(default_factory=list)  # [from][to]
    prior_: list[float] = field(default_factory=list)  # stage shares of the covered cells; also the start
    n_pairs_: int = 0

    def fit(self, cells: Sequence[ParsedCell], y: np.ndarray) -> NotebookHMM:
        """Count transitions between consecutive covered cells of each notebook in ``cells``
        (soft counts: the outer product of the two cells' weak-label distributions)."""
        y = np.asarray(y, dtype=np.float64)
        covered = is_covered(y)
        if not covered.any():
            raise ValueError("no cell has a weak label: the HMM has nothing to count transitions from")
        counts = np.full((N_STAGES, N_STAGES), self.pseudocount)
        self.n_pairs_ = 0
        for run in notebook_runs(cells):
            rows = np.arange(run.start, run.stop)
            pairs = rows[:-1][covered[rows[:-1]] & covered[rows[1:]]]
            counts += y[pairs].T @ y[pairs + 1]
            self.n_pairs_ += len(pairs)
        totals = counts.sum(axis=1, keepdims=True)  # a stage never seen before another: uniform
        self.transitions_ = np.divide(counts, totals, out=np.full_like(counts, 1 / N_STAGES), where=totals > 0).tolist()
        prior = y[covered].sum(axis=0) + self.pseudocount
        self.prior_ = (prior / prior.sum()).tolist()
        return self

    def smooth(self, cells: Sequence[ParsedCell], proba: np.ndarray, labelled: np.ndarray) -> np.ndarray:
        """``proba`` with every row not ``labelled`` (by the LFs) replaced by its posterior
        given its notebook. A notebook of one cell (a sample of single cells, such as the
        CORAL corpus's) keeps the encoder's reading: with no neighbours the posterior would
        only pull the tempered encoder toward the stage prior."""
        if not self.transitions_:
            raise ValueError("the notebook HMM is not fitted")
        transitions, prior = np.array(self.transitions_), np.array(self.prior_)
        trust = self.lf_confidence - (1 - self.lf_confidence) / (N_STAGES - 1)
        emissions = np.where(labelled[:, None], proba * trust + (1 - self.lf_confidence) / (N_STAGES - 1),
                             ((proba + 1e-3) / prior) ** self.encoder_weight)
        out = proba.copy()
        read = ~labelled & has_neighbours(cells)  # a cell alone has no context to read
        for run in notebook_runs(cells):
            if read[run].any():
                out[run][read[run]] = forward_backward(emissions[run], transitions, prior)[read[run]]
        return out

    def save(self, directory: str | Path) -> None:
        write_text(Path(directory) / HMM_FILE, json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> NotebookHMM:
        path = Path(directory) / HMM_FILE
        try:
            hmm = cls(**json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError) as error:
            raise ValueError(f"{path}: not a notebook HMM file ({error})") from None
        if np.shape(hmm.transitions_) != (N_STAGES, N_STAGES) or np.shape(hmm.prior_) != (N_STAGES,):
            raise ValueError(f"{path}: transitions must be {N_STAGES} x {N_STAGES} and the prior {N_STAGES} numbers")
        return hmm


def has_neighbours(cells: Sequence[ParsedCell]) -> np.ndarray:
    """Whether each cell shares its notebook with another cell of ``cells`` (the HMM reads only those)."""
    out = np.zeros(len(cells), dtype=bool)
    for run in notebook_runs(cells):
        out[run] = run.stop - run.start > 1
    return out


def has_notebook_hmm(directory: str | Path) -> bool:
    return (Path(directory) / HMM_FILE).is_file()


def forward_backward(emissions: np.ndarray, transitions: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Posterior state probabilities of one sequence (rows of ``emissions``: each state's
    likelihood up to a factor), scaled at every step so that long notebooks do not underflow."""
    n = len(emissions)
    alpha = np.empty_like(emissions)
    beta = np.ones_like(emissions)
    alpha[0] = start * emissions[0]
    alpha[0] /= alpha[0].sum()
    for k in range(1, n):
        alpha[k] = (alpha[k - 1] @ transitions) * emissions[k]
        alpha[k] /= alpha[k].sum()
    for k in range(n - 2, -1, -1):
        beta[k] = transitions @ (emissions[k + 1] * beta[k + 1])
        beta[k] /= beta[k].sum()
    posterior = alpha * beta
    return posterior / posterior.sum(axis=1, keepdims=True)
