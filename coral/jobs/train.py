"""``coral train`` as a library call: corpus -> weak labels -> a fitted encoder in a directory.

The model directory holds the encoder (``encoder.json`` with its parameters, weights,
vocabulary), ``train.json`` (corpus, LF sets, label model, counts: the run's config),
``metrics.csv`` per epoch, ``errors.jsonl`` (every notebook or cell the run could not use)
and ``checkpoints/``: for torch encoders the checkpoint ``--resume`` continues from, and
``run.json``, the encoder shape and training data it belongs to, so that ``--resume``
refuses another corpus or another model shape rather than mixing them.

In a process group (``torchrun``, see docs/scaling.md) every rank reads the same corpus (checked),
rank 0 computes the weak labels and sends them to the others, all ranks train, and rank 0
alone writes the model directory while the others wait.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coral.atomic import write_text
from coral.corpora.cells import read_cells
from coral.corpora.readers import ReaderOptions
from coral.corpora.records import ParsedCell
from coral.encoders.base import Encoder, make_encoder
from coral.encoders.distributed import barrier, broadcast_from_main, check_same_on_every_rank, is_main
from coral.encoders.params import params_as_json
from coral.jobs.evaluate import gold_ids
from coral.jobs.lfs_first import LFS_DIR, has_lfs_first
from coral.jobs.notebook_hmm import NotebookHMM
from coral.jobs.predict import StageModel, load_stage_model, predict_rows
from coral.labeling.aggregate import AggregationMethod
from coral.labeling.lfsets import DEFAULT_LF_SETS
from coral.labeling.model import HeuristicStageModel
from coral.problems import ProblemLog
from coral.stages import STAGE_NAMES, is_covered

TRAIN_FILE = "train.json"
ERRORS_FILE = "errors.jsonl"
CHECKPOINT_DIR = "checkpoints"
RESUME_FILE = "run.json"  # in CHECKPOINT_DIR: the encoder, its shape and the data the checkpoints belong to


@dataclass(slots=True)
class TrainRun:
    """What ``train_from_corpus`` did, as written to ``train.json``."""

    encoder: str
    params: dict[str, Any]
    corpus: list[str]
    lfs: list[str]
    aggregation: str
    excluded_by: list[str]
    excluded_notebooks_from: list[str]
    max_cells: int | None
    seed: int
    lfs_first: bool = False
    notebook_hmm: bool = False
    n_cells: int = 0
    n_covered: int = 0
    n_excluded: int = 0
    teacher: str | None = None
    teacher_confidence: float | None = None
    n_teacher_labels: int = 0
    n_problems: int = 0
    problems_by_reason: dict[str, int] = field(default_factory=dict)
    weak_label_counts: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def choose_notebooks(cell_counts: dict[str, int], max_cells: int, seed: int) -> set[str]:
    """Whole notebooks in a seeded random order until they hold ``max_cells`` cells."""
    chosen: set[str] = set()
    total = 0
    for notebook in np.random.default_rng(seed).permutation(sorted(cell_counts)):
        if total >= max_cells:
            break
        chosen.add(str(notebook))
        total += cell_counts[notebook]
    return chosen


def read_notebook_list(path: str | Path) -> set[str]:
    """Notebook ids of a list file, one a line (blank lines and ``#`` comment lines skipped),
    as ``annotations/heldout-notebooks.txt`` lists the held-out evaluation notebooks."""
    ids = set()
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("{"):
                raise ValueError(f"{path}:{number}: a notebook list holds one notebook id a line, not JSON "
                                 "(give a gold file with --exclude instead)")
            ids.add(line)
    if not ids:
        raise ValueError(f"{path}: no notebook id in this list")
    return ids


def excluded_ids(exclude: Sequence[str | Path], exclude_notebooks: Sequence[str | Path]) -> tuple[set[str], set[str]]:
    """(cell ids, notebook ids) that must stay out of training: the cells of the gold files
    ``exclude`` (and the notebooks of ``<notebook>#<index>`` ids), the notebooks listed in
    ``exclude_notebooks``."""
    skip_cells, skip_notebooks = gold_ids(exclude)
    for path in exclude_notebooks:
        skip_notebooks |= read_notebook_list(path)
    return skip_cells, skip_notebooks


def training_cells(corpus: Sequence[str | Path], problems: ProblemLog, *, format: str | None = None,
                   options: ReaderOptions | None = None, exclude: Sequence[str | Path] = (),
                   exclude_notebooks: Sequence[str | Path] = ()) -> tuple[list[ParsedCell], int]:
    """The parsed cells of ``corpus`` less every cell of ``exclude`` (gold files: their cells,
    and the whole notebook of a ``<notebook>#<index>`` id) and every notebook listed in
    ``exclude_notebooks``. Also the number of cells left out by the exclusions."""
    skip_cells, skip_notebooks = excluded_ids(exclude, exclude_notebooks)
    cells, n_excluded = [], 0
    for cell in read_cells(corpus, format=format, problems=problems, options=options):
        if cell.id in skip_cells or cell.notebook_id in skip_notebooks:
            n_excluded += 1
        else:
            cells.append(cell)
    if not cells:
        raise ValueError(f"no usable code cell in {', '.join(map(str, corpus))} (see the problems: {dict(problems.by_reason())})")
    return cells, n_excluded


def fit_notebook_hmm(model_dir: str | Path, corpus: Sequence[str | Path], *, format: str | None = None,
                     options: ReaderOptions | None = None, exclude: Sequence[str | Path] = (),
                     exclude_notebooks: Sequence[str | Path] = (), max_cells: int | None = None,
                     trust_code: bool = False, progress: bool = True) -> tuple[NotebookHMM, int, ProblemLog]:
    """Give an LFs-first model (``coral train --lfs-first``) its notebook HMM, learned from its
    own LFs' weak labels on ``corpus`` (with the exclusions of ``coral train``); saved as
    ``hmm.json`` in ``model_dir``. The encoder is not retrained. LFs that are code load only
    with ``trust_code``. Also: how many cells the exclusions left out, and what could not be used."""
    if not has_lfs_first(model_dir):
        raise ValueError(f"{model_dir}: not an LFs-first model directory (no {LFS_DIR}/; train it with --lfs-first)")
    labeler = HeuristicStageModel.load(Path(model_dir) / LFS_DIR, trust_code=trust_code)
    problems = ProblemLog()
    cells, n_excluded = training_cells(corpus, problems, format=format, options=options, exclude=exclude,
                                       exclude_notebooks=exclude_notebooks)
    cells = subsample_notebooks(cells, max_cells, seed=0)
    hmm = NotebookHMM().fit(cells, labeler.predict_proba(cells, problems=problems, progress=progress))
    hmm.save(model_dir)
    return hmm, n_excluded, problems


def subsample_notebooks(cells: list[ParsedCell], max_cells: int | None, seed: int) -> list[ParsedCell]:
    """Whole notebooks in a seeded random order until ``max_cells``: keeps notebook context intact.
    ``cells`` itself when there is no limit or it holds no more."""
    if max_cells is None or len(cells) <= max_cells:
        return cells
    chosen = choose_notebooks(Counter(cell.notebook_id for cell in cells), max_cells, seed)
    return [cell for cell in cells if cell.notebook_id in chosen]


def weak_labels(cells: Sequence[ParsedCell], lf_specs: Sequence[str], aggregation: AggregationMethod, problems: ProblemLog,
                progress: bool = False) -> np.ndarray:
    """(n, 5) weak labels: the ``heuristics`` stage model of ``coral predict`` with these LF sets
    and aggregation (LF errors logged, not raised); all-zero rows where no LF fires."""
    return weak_labeler(lf_specs, aggregation).predict_proba(cells, problems=problems, progress=progress).astype(np.float32)


def weak_labeler(lf_specs: Sequence[str], aggregation: AggregationMethod) -> HeuristicStageModel:
    """The LFs and aggregation that give the weak labels (a LabelModel is fitted on the first
    cells it labels)."""
    return HeuristicStageModel(lf_specs=tuple(lf_specs), aggregation=aggregation, on_error="log")


def add_teacher_labels(y: np.ndarray, cells: Sequence[ParsedCell], teacher: StageModel, confidence: float) -> int:
    """Give the rows of ``y`` no LF covers the teacher's probabilities where its top stage has at
    least ``confidence`` (in place); the number of rows labelled."""
    rows = np.flatnonzero(~is_covered(y))
    if not len(rows):
        return 0
    proba = predict_rows(teacher, cells, rows).astype(np.float32)
    confident = proba.max(axis=1) >= confidence
    y[rows[confident]] = proba[confident]
    return int(confident.sum())


def cells_digest(cells: Sequence[ParsedCell]) -> str:
    """A fingerprint of the cells (ids and sources, in order): equal on ranks that read the same corpus."""
    digest = hashlib.sha256()
    for cell in cells:
        digest.update(f"{cell.id}\0{cell.source}\0".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _resumed_run(path: Path) -> dict[str, Any] | None:
    """What the checkpoints to resume belong to (None for checkpoints written before it was recorded)."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _check_resumed(resumed: dict[str, Any] | None, key: str, now: dict[str, Any], out: Path, what: str) -> None:
    """Refuse to resume checkpoints that belong to ``what`` (another corpus, shape...)."""
    if resumed is not None and resumed.get(key) != now:
        raise ValueError(f"--resume: {out / CHECKPOINT_DIR} {what} than this run's "
                         f"({_differences(resumed.get(key) or {}, now)}); train without --resume, or into another --out")


def _shape_params(model: Encoder) -> dict[str, Any]:
    """The parameters that make the model what it is: all but the ``training`` group (a resumed
    run may train for more epochs, or with another learning rate)."""
    params = params_as_json(model.get_params(deep=False))
    params.pop("training", None)
    return json.loads(json.dumps(params, default=str))


def _differences(saved: dict[str, Any], now: dict[str, Any], prefix: str = "") -> str:
    """The first few keys that differ, as ``key: saved -> now``."""
    changes = []
    for key in sorted(set(saved) | set(now), key=str):
        before, after = saved.get(key), now.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            inner = _differences(before, after, f"{prefix}{key}__")
            changes.extend([inner] if inner else [])
        elif before != after:
            changes.append(f"{prefix}{key}: {_short(before)} -> {_short(after)}")
    return "; ".join(changes[:3])


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 16 else text[:12] + "..."


def train_from_corpus(
    encoder: str,
    corpus: Sequence[str | Path],
    out: str | Path,
    *,
    lf_specs: Sequence[str] = DEFAULT_LF_SETS,
    aggregation: AggregationMethod = "priority",
    params: dict[str, Any] | None = None,
    format: str | None = None,
    options: ReaderOptions | None = None,
    exclude: Sequence[str | Path] = (),
    exclude_notebooks: Sequence[str | Path] = (),
    max_cells: int | None = None,
    seed: int = 0,
    resume: bool = False,
    lfs_first: bool = False,
    notebook_hmm: bool = False,
    teacher: str | Path | None = None,
    teacher_confidence: float = 0.9,
    progress: bool = True,
) -> tuple[Encoder, TrainRun]:
    """Read and parse ``corpus`` (with reader ``options``), label it with ``lf_specs`` + ``aggregation``,
    fit ``encoder``, save to ``out``.

    Self-training: with a ``teacher`` (a trained model directory), the cells no LF covers that
    the teacher labels with probability >= ``teacher_confidence`` take its probabilities as
    their weak labels.

    With ``lfs_first`` the LFs and their fitted aggregation are saved beside the encoder, and
    the model labels the cells they cover with their vote (``coral.jobs.lfs_first``); with
    ``notebook_hmm`` too, a notebook HMM learned from the weak labels reads the other cells in
    their notebook's context (``coral.jobs.notebook_hmm``).

    Nothing of ``exclude`` (gold files: their cells, and the whole notebook of a
    ``<notebook>#<index>`` id) or of the notebooks listed in ``exclude_notebooks`` reaches the
    label model or the encoder. In a process group, only rank 0 labels and writes files.
    """
    started = time.perf_counter()
    out = Path(out)
    if notebook_hmm and not lfs_first:
        raise ValueError("--notebook-hmm reads the cells no LF covers beside those the LFs label: it needs --lfs-first")
    model = make_encoder(encoder, **(params or {}))  # fails fast on a bad parameter, before reading
    resumed = _resumed_run(out / CHECKPOINT_DIR / RESUME_FILE) if resume else None
    shape = {"encoder": encoder, "params": _shape_params(model)}
    _check_resumed(resumed, "shape", shape, out, "holds a model of another shape")
    run = TrainRun(encoder=encoder, params=model.get_params(), corpus=[str(p) for p in corpus], lfs=list(lf_specs),
                   aggregation=aggregation, excluded_by=[str(p) for p in exclude],
                   excluded_notebooks_from=[str(p) for p in exclude_notebooks], max_cells=max_cells, seed=seed,
                   lfs_first=lfs_first, notebook_hmm=notebook_hmm)
    problems = ProblemLog()
    every_cell, run.n_excluded = training_cells(corpus, problems, format=format, options=options, exclude=exclude,
                                                exclude_notebooks=exclude_notebooks)
    cells = subsample_notebooks(every_cell, max_cells, seed)
    data = {"cells": len(cells), "cells_sha256": cells_digest(cells)}
    check_same_on_every_rank(data["cells_sha256"], f"the cells read from {', '.join(run.corpus)}")
    _check_resumed(resumed, "data", data, out, "was trained on another corpus")
    # one labeling, sent to every rank: identical labels even where a LabelModel fit's floating
    # point differs between machines, and the LFs run once rather than once per process
    labeler = weak_labeler(lf_specs, aggregation)
    if teacher is not None:
        run.teacher, run.teacher_confidence = str(teacher), teacher_confidence
        teacher_model = load_stage_model(teacher, device=str((params or {}).get("device", "auto")))

    def labels_on_main() -> np.ndarray:
        y = labeler.predict_proba(cells, problems=problems, progress=progress).astype(np.float32)
        if teacher is not None:
            run.n_teacher_labels = add_teacher_labels(y, cells, teacher_model, teacher_confidence)
        return y

    y = broadcast_from_main(labels_on_main() if is_main() else None)
    hmm = None
    if notebook_hmm and is_main():  # counted on every cell read, as `coral lfs fit-hmm` does: counts are cheap
        reuse = cells is every_cell and teacher is None
        hmm = NotebookHMM().fit(every_cell, y if reuse else labeler.predict_proba(every_cell, problems=problems))
    del every_cell  # a --max-cells run keeps only its sample while it trains
    run.n_cells, run.n_covered = len(cells), int(is_covered(y).sum())
    run.weak_label_counts = {name: round(float(v), 2) for name, v in zip(STAGE_NAMES, y.sum(axis=0))}
    labels = {"weak_labels_sha256": hashlib.sha256(y.tobytes()).hexdigest(), "lfs": list(lf_specs), "aggregation": aggregation}
    _check_resumed(resumed, "labels", labels, out, "was trained on other weak labels")
    if is_main():
        (out / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        write_text(out / CHECKPOINT_DIR / RESUME_FILE,
                   json.dumps({"shape": shape, "data": data, "labels": labels}, indent=1, default=str) + "\n")
    model.fit(cells, y, checkpoint_dir=out / CHECKPOINT_DIR, resume=resume, progress=progress)
    run.n_problems, run.problems_by_reason = len(problems), dict(problems.by_reason())
    run.seconds = round(time.perf_counter() - started, 1)
    if is_main():
        model.save(out)
        if lfs_first:
            labeler.save(out / LFS_DIR)
        if hmm is not None:
            hmm.save(out)
        problems.write_jsonl(out / ERRORS_FILE)
        write_text(out / TRAIN_FILE, json.dumps(asdict(run), indent=2, default=str) + "\n")
    barrier()
    return model, run
