"""``coral predict``: the stage of every code cell of a corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from coral.cli.main import (
    AGGREGATE_HELP, ChunkSizeOption, LFS_HELP, Aggregation, Corpora, DeviceOption, FormatOption, JuiceCells, JuiceCellsOption, ModelOption,
    SchedulerOption, ThreadsOption, TrustCodeOption, WorkersOption, app, set_torch_threads, user_errors,
)
from coral.corpora.units import DEFAULT_NOTEBOOKS_PER_UNIT
from coral.labeling.lfsets import DEFAULT_LF_SETS


@app.command("predict")
def predict_command(
    inputs: Corpora,
    out: Annotated[Path, typer.Option("--out", "-o", help="Predictions, JSON Lines (one line per code cell, input order).")],
    model: ModelOption = "default",
    lfs: Annotated[
        Optional[list[str]],
        typer.Option("--lfs", help=f"For --model heuristics only: {LFS_HELP} Default: {', '.join(DEFAULT_LF_SETS)}."),
    ] = None,
    aggregate: Annotated[
        Optional[Aggregation],
        typer.Option("--aggregate", help=f"For --model heuristics only: {AGGREGATE_HELP} Default: priority."),
    ] = None,
    fit_on: Annotated[Optional[list[Path]], typer.Option(help="With --aggregate labelmodel: fit the LabelModel on these unlabeled corpora instead of on the input. Default: fit on the input.")] = None,
    only_gold: Annotated[Optional[list[Path]], typer.Option("--only-gold", help="Gold files ({id, stage} JSON Lines): read and predict only the notebooks (or CORAL cells) they name; the rest of the input is skipped before parsing. Repeatable. Default: the whole input.")] = None,
    format: FormatOption = None,
    with_source: Annotated[bool, typer.Option("--with-source", help="Also write each cell's code (every line names its notebook's path and the cell index).")] = False,
    juice_cells: JuiceCellsOption = JuiceCells("target"),
    device: DeviceOption = "auto",
    threads: ThreadsOption = None,
    trust_code: TrustCodeOption = False,
    notebook_hmm: Annotated[bool, typer.Option("--notebook-hmm/--cell-only", help="With a model that has a notebook HMM (hmm.json, as the shipped one): read each cell no LF covers in the context of its notebook, or (--cell-only) by itself.")] = True,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = None,
    chunk_size: ChunkSizeOption = DEFAULT_NOTEBOOKS_PER_UNIT,
) -> None:
    """Predict the stage of every code cell with a stage model (by default the one shipped
    with coral); with --model heuristics, cells no LF covers get stage null.

    Writes OUT, OUT's errors file and OUT's manifest (<stem>.manifest.json). Each prediction
    carries the cell's role (nbgrader, JuICe or DSP) where its corpus gives one.

    The input is predicted in parts (Parquet parts of a parsed directory, or corpus work units
    of --chunk-size notebooks), joined in input order. Finished parts wait in OUT.parts/: after an
    interruption, the same command predicts only the parts not finished, with the same result.
    With --workers N or --scheduler, parts are predicted in parallel with Dask (one torch
    thread per worker).
    """
    import time

    from coral.corpora.readers import ReaderOptions
    from coral.jobs.predict import load_stage_model, predict_corpus, predict_corpus_parallel
    from coral.manifest import describe_stage_model, write_manifest

    started = time.perf_counter()
    aggregation = aggregate.value if aggregate else None
    with user_errors():
        options = ReaderOptions(juice_cells=juice_cells.value)
        if workers == 1 and scheduler is None:
            set_torch_threads(threads)
            stage_model = load_stage_model(model, lf_specs=lfs, aggregation=aggregation, device=device, trust_code=trust_code,
                                           notebook_hmm=notebook_hmm)
            run = predict_corpus(inputs, stage_model, out, format=format, fit_on=fit_on or (), options=options,
                                 with_source=with_source, only_gold=only_gold or (),
                                 model_identity=describe_stage_model(model, stage_model), notebooks_per_unit=chunk_size)
        else:
            if fit_on or with_source or trust_code or only_gold:
                raise ValueError("--fit-on, --with-source, --trust-code and --only-gold work in one process: use them without --workers/--scheduler")
            stage_model = load_stage_model(model, lf_specs=lfs, aggregation=aggregation, device="cpu", notebook_hmm=notebook_hmm)
            run = predict_corpus_parallel(inputs, model, out, lf_specs=lfs, aggregation=aggregation, format=format,
                                          notebook_hmm=notebook_hmm,
                                          device=device, workers=workers, scheduler=scheduler, options=options,
                                          notebooks_per_unit=chunk_size)
    write_manifest(
        out.with_name(f"{out.stem}.manifest.json"), command="predict", model=describe_stage_model(model, stage_model),
        inputs=inputs, counts={"code_cells": run.n_cells, "with_stage": run.n_covered, "problems": run.n_problems},
        problems_by_reason=run.problems_by_reason, seconds=time.perf_counter() - started, outputs=[run.out, run.errors],
    )
    typer.echo(f"{run.n_cells} cells, {run.n_covered} ({run.n_covered / max(run.n_cells, 1):.1%}) with a stage -> {run.out}")
    counts = ", ".join(f"{reason}: {n}" for reason, n in sorted(run.problems_by_reason.items()))
    typer.echo(f"{run.n_problems} problems{f' ({counts})' if counts else ''} -> {run.errors}")
