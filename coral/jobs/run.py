"""The main job end to end: notebooks -> parsed cells -> stage predictions -> studies.

``coral run`` calls :func:`run_main_job`; with no inputs it uses the example notebooks that
ship with the package, so a fresh install can show the whole pipeline at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from coral.corpora.readers import example_paths
from coral.jobs.predict import PredictionRun, load_stage_model, predict_corpus
from coral.predictions import read_predictions
from coral.studies import composition, transitions


@dataclass(slots=True)
class MainJobResult:
    """Where the main job wrote its outputs, and the stage counts it found."""

    predictions: PredictionRun
    study_dir: Path
    stage_counts: Counter[str | None]


def run_main_job(
    inputs: Sequence[str | Path] = (),
    out_dir: str | Path = "coral-demo",
    model: str | Path = "default",
    format: str | None = None,
    progress: bool = True,
    device: str = "auto",
) -> MainJobResult:
    """Predict the stage of every code cell of ``inputs`` (the packaged examples when empty)
    and write the composition and transition studies of those predictions under ``out_dir``;
    an encoder model computes on ``device``."""
    out_dir = Path(out_dir)
    stage_model = load_stage_model(model, device=device)
    run = predict_corpus(list(inputs) or example_paths(), stage_model, out_dir / "predictions.jsonl", format=format, progress=progress)
    study_dir = out_dir / "study"
    composition.run(run.out, study_dir / "composition")
    transitions.run(run.out, study_dir / "transitions")
    counts = Counter(prediction.stage for prediction in read_predictions(run.out))
    return MainJobResult(predictions=run, study_dir=study_dir, stage_counts=counts)
