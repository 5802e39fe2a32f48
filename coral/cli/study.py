"""``coral study ...``: analyses over predicted stages."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer

from coral.cli.main import app, choices, user_errors

study_app = typer.Typer(help="Studies over predicted stages: composition, transitions, comparisons, citations, functions.", no_args_is_help=True)
app.add_typer(study_app, name="study")

Predictions = Annotated[list[Path], typer.Argument(help="Predictions JSONL file(s) written by `coral predict`.", exists=True, dir_okay=False)]
OutDir = Annotated[Path, typer.Option("--out", help="Directory for the CSV and Markdown tables, PNG and PDF figures, and problems.jsonl.")]
By = Annotated[str, typer.Option("--by", help="Unit of analysis: notebook_id, repo, role (the cells' nbgrader / JuICe / DSP role), or a metadata column; a unit concatenates its cells.")]
Metadata = Annotated[Optional[Path], typer.Option("--metadata", help="CSV/TSV/Parquet table keyed by notebook_id or repo; its columns become usable as --by / --group. Default: none.", exists=True, dir_okay=False)]
Key = Annotated[Optional[str], typer.Option("--key", help="Metadata column to join on. Default: notebook_id if the table has it, else repo.")]

_LOG_BASES = {"e": math.e, "2": 2.0, "10": 10.0}
LogBase = choices("LogBase", _LOG_BASES)


def _report(run: Callable[[], object]) -> None:
    with user_errors():
        output = run()
    typer.echo(f"wrote {len(output.files)} files to {output.out_dir}")
    counts = output.problems.by_reason()
    if counts:
        listed = ", ".join(f"{reason}: {n}" for reason, n in counts.most_common())
        typer.echo(f"not used or incomplete ({output.out_dir / 'problems.jsonl'}): {listed}")


@study_app.command("composition")
def composition(
    predictions: Predictions,
    out: OutDir,
    by: By = "notebook_id",
    metadata: Metadata = None,
    key: Key = None,
    log_base: Annotated[LogBase, typer.Option("--log-base", help="Logarithm of the stage entropy: e (nats), 2 (bits) or 10.")] = LogBase("e"),
    bins: Annotated[int, typer.Option(help="Position bins for the where-stages-occur profile.", min=1)] = 10,
) -> None:
    """Stage fractions of code lines and cells, stage entropy, where stages occur.

    Per unit (notebook, repository, or a metadata group; a unit concatenates its
    notebooks) and pooled. Entropy comes with a z-score across units. Abstained cells are
    excluded from fractions and counted.
    """
    from coral.studies import composition as study

    _report(lambda: study.run(predictions, out, by=by, log_base=_LOG_BASES[log_base.value], bins=bins, metadata=metadata, key=key))


@study_app.command("transitions")
def transitions(predictions: Predictions, out: OutDir, by: By = "notebook_id", metadata: Metadata = None, key: Key = None) -> None:
    """Stage transitions between consecutive code cells, and transition rates.

    Counts and the row-normalised matrix (with a heatmap), and per unit the fraction of
    cells followed by a cell of another stage. Abstained cells are skipped over;
    transitions never cross notebooks.
    """
    from coral.studies import transitions as study

    _report(lambda: study.run(predictions, out, by=by, metadata=metadata, key=key))


@study_app.command("compare")
def compare(
    predictions: Predictions,
    out: OutDir,
    group: Annotated[str, typer.Option("--group", help="Column whose values define the groups: a metadata column, or role to compare the cells of each unit by role.")],
    metadata: Annotated[Optional[Path], typer.Option("--metadata", help="CSV/TSV/Parquet table keyed by notebook_id or repo with the group column; not needed for --group role. Default: none.", exists=True, dir_okay=False)] = None,
    key: Key = None,
    by: Annotated[str, typer.Option("--by", help="Unit of analysis: notebook_id, or repo to concatenate each repository's notebooks.")] = "notebook_id",
    measure: Annotated[Optional[list[str]], typer.Option("--measure", help="Measure to compare (repeatable). Default: line fraction per stage, transition rate, entropy.")] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples for the 95% CIs.", min=100)] = 9999,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
) -> None:
    """Compare groups of notebooks or repositories defined by a metadata column, or the
    cells of each notebook by role (--group role, no metadata: each notebook splits into
    one unit per role).

    Mean stage fractions and transition rates with bootstrap 95% CIs, differences with
    CIs, Mann-Whitney U tests (Holm-adjusted), and a plot like the CORAL paper's Figure 5.
    """
    from coral.studies import compare as study

    measures = tuple(measure) if measure else study.DEFAULT_MEASURES
    _report(lambda: study.run(predictions, metadata, group, out, key=key, by=by, measures=measures, n_resamples=resamples, seed=seed))


@study_app.command("citations")
def citations(
    predictions: Predictions,
    out: OutDir,
    papers: Annotated[list[Path], typer.Option("--papers", help="Paper corpus JSON Lines file or folder of them, S2ORC/GORC layout (.gz/.bz2 fine; repeatable).", exists=True)],
    citation_table: Annotated[Optional[Path], typer.Option("--citations", help="Table with paper_id and citations columns; overrides counts in the corpus. Default: the corpus's counts.", exists=True, dir_okay=False)] = None,
    metadata: Metadata = None,
    key: Key = None,
    all_papers: Annotated[bool, typer.Option("--all-papers", help="Keep papers without GitHub references (R3 then contrasts against all papers).")] = False,
    min_papers: Annotated[int, typer.Option(help="Fit a regression only with at least this many papers.", min=2)] = 20,
    dask_scheduler: Annotated[Optional[str], typer.Option("--dask-scheduler", help="How dask.bag reads the papers: processes, threads or sync. Default: dask's (processes).")] = None,
) -> None:
    """Link papers to notebooks and regress citations on how the notebooks look.

    Papers (S2ORC/GORC JSON Lines) are linked through the GitHub repositories they
    reference. Negative binomial regressions of citations on stage entropy (R1), stage
    fractions x domain (R2) and having notebooks (R3), controlling for year and domain.
    """
    from coral.studies import citations as study

    _report(lambda: study.run(predictions, papers, out, citations=citation_table, metadata=metadata, key=key,
                              all_papers=all_papers, min_papers=min_papers, dask_scheduler=dask_scheduler))


@study_app.command("functions")
def functions(
    predictions: Predictions,
    out: OutDir,
    function: Annotated[Optional[list[str]], typer.Option("--function", help="Qualified function (repeatable). Default: functions no shipped LF fires on (see --paper-list).")] = None,
    paper_list: Annotated[bool, typer.Option("--paper-list", help="Use the CORAL paper's Table IV functions (most of which the extended LFs label).")] = False,
    lfs: Annotated[list[str], typer.Option("--lfs", help="The LF sets the model was trained on, to check that the functions are unseen. Repeatable.")] = ["paper", "extended"],
) -> None:
    """Stages of the cells that call given functions (the CORAL paper's Table IV).

    Warns about, and marks in the table (seen_by_lfs) and figure (†), every function that a
    training LF fires on: the model saw those labelled, so they do not show generalisation.
    """
    from coral.labeling.analysis import lfs_firing_on_functions
    from coral.labeling.lfsets import load_lf_sets
    from coral.studies import functions as study

    chosen = tuple(function) if function else study.PAPER_FUNCTIONS if paper_list else study.DEFAULT_FUNCTIONS
    seen_by = lfs_firing_on_functions(chosen, load_lf_sets(lfs))
    for name, fired in seen_by.items():
        if fired:
            typer.secho(f"warning: {name} is not unseen: LF {', '.join(fired)} fires on it", fg=typer.colors.YELLOW, err=True)
    _report(lambda: study.run(predictions, out, functions=chosen, seen_by=seen_by))
