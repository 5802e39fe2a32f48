"""``coral run``: the main job, notebooks to predictions to composition and transition studies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from coral.cli.main import DeviceOption, JuiceCells, JuiceCellsOption, ThreadsOption, TrustCodeOption, app, set_torch_threads
from coral.stages import STAGE_NAMES


@app.command("run")
def run(
    inputs: Annotated[
        Optional[list[Path]],
        typer.Argument(help="Notebooks, folders, archives or corpus shards. Default: the example notebooks shipped with coral."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: predictions.jsonl, its errors file, study/, report.html and manifest.json.")] = Path("coral-demo"),
    model: Annotated[str, typer.Option(help="Stage model: 'default' (shipped), 'heuristics', or a model directory.")] = "default",
    format: Annotated[Optional[str], typer.Option("--format", "-f", help="Corpus format; guessed from the paths when not given.")] = None,
    with_source: Annotated[bool, typer.Option("--with-source", help="Also write each cell's code into predictions.jsonl.")] = False,
    juice_cells: JuiceCellsOption = JuiceCells.target,
    device: DeviceOption = "auto",
    threads: ThreadsOption = None,
    trust_code: TrustCodeOption = False,
) -> None:
    """Label every code cell of INPUTS with its stage and study the result.

    Writes OUT/predictions.jsonl (one line per code cell), OUT/predictions.errors.jsonl
    (every notebook or cell that could not be used, and why) and the composition and
    transition studies (CSV, Markdown, PNG, PDF) under OUT/study, OUT/report.html (browse
    the labelled notebooks) and OUT/manifest.json (model, inputs, counts, problems, time).
    """
    from coral.corpora.readers import ReaderOptions
    from coral.jobs.run import run_main_job

    set_torch_threads(threads)
    try:
        result = run_main_job(
            inputs or [], out, model=model, format=format, with_source=with_source, device=device,
            options=ReaderOptions(juice_cells=juice_cells.value), trust_code=trust_code,
        )
    except (ValueError, OSError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    predictions = result.predictions
    typer.echo(f"{predictions.n_cells} code cells labelled ({predictions.n_covered} with a stage) -> {predictions.out}")
    for stage in (*STAGE_NAMES, None):
        if result.stage_counts[stage]:
            typer.echo(f"  {stage or 'no stage':>9}: {result.stage_counts[stage]}")
    typer.echo(f"{predictions.n_problems} notebooks or cells could not be used -> {predictions.errors}")
    typer.echo(f"studies -> {result.study_dir}")
    typer.echo(f"report -> {result.report}")
    typer.echo(f"manifest -> {result.manifest}")
