"""``coral label``: the label matrix of LF votes over a corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coral.cli.main import (
    Corpora, FormatOption, JuiceCells, JuiceCellsOption, LFErrors, LFsOption, OnErrorOption,
    SchedulerOption, app, report_problems, user_errors,
)
from coral.labeling.lfsets import DEFAULT_LF_SETS


@app.command("label")
def label_command(
    corpora: Corpora,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for label_matrix.parquet (a Parquet dataset), _label_matrix.json and _problems.jsonl.")],
    lfs: LFsOption = list(DEFAULT_LF_SETS),
    format: FormatOption = None,
    juice_cells: JuiceCellsOption = JuiceCells("target"),
    on_lf_error: OnErrorOption = LFErrors("raise"),
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes: 1 (the default) labels in this process; more label the input's parts "
            "(Parquet parts of a parsed directory, or corpus work units) on a local Dask cluster.",
            min=1,
        ),
    ] = 1,
    scheduler: SchedulerOption = None,
) -> None:
    """Apply labeling functions to every code cell: the label matrix (cell ids x LFs, -1 = abstain).

    With --workers N or --scheduler, parts of the input are labeled in parallel with Dask and
    joined in input order: the same matrix as one process gives. A cluster's workers need
    coral and the LF files.
    """
    from coral.corpora.readers import ReaderOptions
    from coral.problems import ProblemLog
    from coral.labeling.corpus import label_corpus, label_corpus_parallel
    from coral.labeling.lfsets import load_lf_sets
    from coral.labeling.matrix import LABEL_PROBLEMS_FILE

    with user_errors():
        problems = ProblemLog()
        options = ReaderOptions(juice_cells=juice_cells.value)
        if workers == 1 and scheduler is None:
            matrix = label_corpus(
                corpora, load_lf_sets(lfs), format=format, on_error=on_lf_error.value, problems=problems, progress=True,
                options=options,
            )
        else:
            matrix = label_corpus_parallel(
                corpora, lfs, format=format, on_error=on_lf_error.value, problems=problems,
                workers=workers, scheduler=scheduler, progress=True, options=options,
            )
        path = matrix.write(out, lf_sets=lfs, inputs=[str(path) for path in corpora])
    covered = int((matrix.L != -1).any(axis=1).sum())
    typer.echo(f"{len(matrix.ids)} cells x {len(matrix.lf_names)} LFs -> {path}; "
               f"{covered} cells ({covered / max(len(matrix.ids), 1):.1%}) have a vote")
    report_problems(problems, Path(out) / LABEL_PROBLEMS_FILE)
