"""The main job end to end: notebooks -> parsed cells -> stage predictions -> studies,
the HTML report and a manifest.

``coral run`` calls :func:`run_main_job`; with no inputs it uses the example notebooks that
ship with the package, so a fresh install can show the whole pipeline at once.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from coral.corpora.readers import ReaderOptions, example_paths
from coral.jobs.predict import PredictionRun, load_stage_model, predict_corpus
from coral.manifest import MANIFEST_FILE, describe_stage_model, write_manifest
from coral.predictions import read_predictions
from coral.problems import ProblemLog
from coral.studies import composition, transitions
from coral.views.labelled import labelled_from_predictions
from coral.views.report import write_report


@dataclass(slots=True)
class MainJobResult:
    """Where the main job wrote its outputs, and the stage counts it found."""

    predictions: PredictionRun
    study_dir: Path
    stage_counts: Counter[str | None]
    report: Path
    manifest: Path


def run_main_job(
    inputs: Sequence[str | Path] = (),
    out_dir: str | Path = "coral-demo",
    model: str | Path = "default",
    format: str | None = None,
    progress: bool = True,
    with_source: bool = False,
    device: str = "auto",
    options: ReaderOptions | None = None,
    trust_code: bool = False,
) -> MainJobResult:
    """Predict the stage of every code cell of ``inputs`` (the packaged examples when empty),
    write the composition and transition studies of those predictions and the HTML report
    under ``out_dir``, and a manifest of the run; an encoder model computes on ``device``;
    ``options`` says how corpora are read; a model whose LFs are code loads only with ``trust_code``."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    paths = list(inputs) or example_paths()
    stage_model = load_stage_model(model, device=device, trust_code=trust_code)
    run = predict_corpus(
        paths, stage_model, out_dir / "predictions.jsonl", format=format, progress=progress, options=options, with_source=with_source
    )
    study_dir = out_dir / "study"
    composition.run(run.out, study_dir / "composition")
    transitions.run(run.out, study_dir / "transitions")
    counts = Counter(prediction.stage for prediction in read_predictions(run.out))
    # the notebooks are read again for their markdown; their problems are already in run.errors
    report = write_report(
        labelled_from_predictions(run.out, paths, ProblemLog(), format, options), out_dir / "report.html", model=str(model)
    ).out
    manifest = write_manifest(
        out_dir / MANIFEST_FILE,
        command="run",
        model=describe_stage_model(str(model), stage_model),
        inputs=paths,
        counts={"code_cells": run.n_cells, "with_stage": run.n_covered, "problems": run.n_problems},
        problems_by_reason=run.problems_by_reason,
        seconds=time.perf_counter() - started,
        outputs=[run.out, run.errors, study_dir, report],
    )
    return MainJobResult(predictions=run, study_dir=study_dir, stage_counts=counts, report=report, manifest=manifest)
