"""``coral lfs ...``: list and analyze labeling functions, fit a label model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from coral.cli.main import (
    ExcludeNotebooksOption, ExcludeOption, FormatOption, JuiceCells, JuiceCellsOption, LFErrors, LFsOption, OnErrorOption,
    TrustCodeOption, app, report_problems, user_errors,
)
from coral.labeling.lfsets import BUILTIN_LF_SETS, DEFAULT_LF_SETS

lfs_app = typer.Typer(help="Labeling functions: list, analyze, fit a label model or a notebook HMM.", no_args_is_help=True)
app.add_typer(lfs_app, name="lfs")


@lfs_app.command("list")
def lfs_list_command(lfs: LFsOption = list(BUILTIN_LF_SETS)) -> None:
    """List LFs by name with what each is for (a seed rule's description, or the docstring)."""
    from coral.labeling.lfsets import describe_lf, load_lfs

    with user_errors():
        for spec in lfs:
            typer.secho(spec, bold=True)
            for lf in load_lfs(spec):
                typer.echo(f"  {lf.name:<36} {describe_lf(lf)}")


@lfs_app.command("analyze")
def lfs_analyze_command(
    corpora: Annotated[list[Path], typer.Argument(help="Corpora, parsed Parquet directories, or a label-matrix directory from `coral label`.")],
    lfs: LFsOption = list(DEFAULT_LF_SETS),
    gold: Annotated[Optional[Path], typer.Option(help="Gold labels ({\"id\", \"stage\"} JSON Lines): adds correct, incorrect, empirical accuracy. Default: no gold.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Also write the table: .csv or .md. Default: print it only.")] = None,
    show: Annotated[Optional[str], typer.Option(help="Also list the cells where this LF disagrees with gold (or, without --gold, with other LFs). Default: none.")] = None,
    format: FormatOption = None,
    juice_cells: JuiceCellsOption = JuiceCells("target"),
    on_lf_error: OnErrorOption = LFErrors("raise"),
) -> None:
    """Snorkel's LFAnalysis per LF: polarity, coverage, overlaps, conflicts (and accuracy on gold)."""
    import pandas as pd

    from coral.corpora.readers import ReaderOptions
    from coral.problems import ProblemLog
    from coral.jobs.evaluate import read_gold
    from coral.labeling.analysis import disagreements, lf_summary, overall_summary
    from coral.labeling.corpus import label_corpus
    from coral.labeling.lfsets import load_lf_sets
    from coral.labeling.matrix import LabelMatrix, is_label_matrix_dir

    with user_errors():
        problems = ProblemLog()
        if len(corpora) == 1 and is_label_matrix_dir(corpora[0]):
            matrix = LabelMatrix.read(corpora[0])
        else:
            matrix = label_corpus(corpora, load_lf_sets(lfs), format=format, on_error=on_lf_error.value,
                                  problems=problems, progress=True, options=ReaderOptions(juice_cells=juice_cells.value))
        gold_labels = read_gold(gold) if gold else None
        table = lf_summary(matrix, gold_labels)
        overall = overall_summary(matrix)
        with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 40):
            typer.echo(table.round(3).to_string())
        typer.echo(f"\n{int(overall['cells'])} cells; covered {overall['coverage']:.1%}, "
                   f"overlap {overall['overlap']:.1%}, conflict {overall['conflict']:.1%}")
        if gold_labels is not None:
            found = set(matrix.ids) & set(gold_labels)
            typer.echo(f"gold: {len(found)} of {len(gold_labels)} gold cells are in the input")
        if out:
            _write_table(table, out)
            typer.echo(f"table -> {out}")
        if show:
            rows = disagreements(matrix, show, gold_labels)
            typer.echo(f"\n{len(rows)} cells where {show} disagrees:")
            typer.echo(rows.to_string(index=False) if len(rows) else "(none)")
    if len(problems):
        typer.echo(f"{len(problems)} cells or notebooks could not be used: {dict(problems.by_reason())}")


def _write_table(table, out: Path) -> None:
    from coral.studies.output import markdown_table

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".md":
        out.write_text(markdown_table(table.reset_index()), encoding="utf-8")
    elif out.suffix == ".csv":
        table.to_csv(out)
    else:
        raise ValueError(f"{out}: write the table as .csv or .md")


@lfs_app.command("fit")
def lfs_fit_command(
    corpora: Annotated[list[Path], typer.Argument(help="Unlabeled corpora (or a label-matrix directory) to fit the LabelModel on.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model directory; use it as `coral predict --model DIR`.")],
    lfs: LFsOption = list(DEFAULT_LF_SETS),
    format: FormatOption = None,
    juice_cells: JuiceCellsOption = JuiceCells("target"),
    on_lf_error: OnErrorOption = LFErrors("raise"),
    seed: Annotated[int, typer.Option(help="Seed for the LabelModel's training.")] = 0,
) -> None:
    """Fit Snorkel's LabelModel on an unlabeled corpus and save LFs + label model as a stage model."""
    from coral.corpora.readers import ReaderOptions
    from coral.corpora.cells import read_cells
    from coral.labeling.corpus import label_cells
    from coral.problems import ProblemLog
    from coral.labeling.matrix import LabelMatrix, is_label_matrix_dir
    from coral.labeling.model import HeuristicStageModel

    with user_errors():
        model = HeuristicStageModel(lf_specs=tuple(lfs), aggregation="labelmodel", on_error=on_lf_error.value, seed=seed)
        problems = ProblemLog()
        if len(corpora) == 1 and is_label_matrix_dir(corpora[0]):
            matrix = LabelMatrix.read(corpora[0])
            if matrix.lf_names != model.lf_names:
                raise ValueError(f"{corpora[0]}: its LF columns are not the LFs of {', '.join(lfs)}")
        else:
            cells = read_cells(corpora, format=format, problems=problems, options=ReaderOptions(juice_cells=juice_cells.value))
            matrix = label_cells(cells, model.labeling_functions, on_error=on_lf_error.value, problems=problems, progress=True)
        model.fit_matrix(matrix.L)
        model.save(out)
    typer.echo(f"LabelModel fitted on {len(matrix.ids)} cells x {len(matrix.lf_names)} LFs -> {out}")
    if len(problems):
        report_problems(problems, Path(out) / "problems.jsonl")


@lfs_app.command("fit-hmm")
def lfs_fit_hmm_command(
    corpora: Annotated[list[Path], typer.Argument(help="Unlabeled training corpora whose notebooks give the stage transitions.")],
    model: Annotated[Path, typer.Option("--model", help="An LFs-first model directory (coral train --lfs-first); hmm.json is written into it.")],
    exclude: ExcludeOption = None,
    exclude_notebooks: ExcludeNotebooksOption = None,
    max_cells: Annotated[Optional[int], typer.Option(help="Count transitions in a random sample of whole notebooks holding about this many cells. Default: every cell.", min=1)] = None,
    format: FormatOption = None,
    juice_cells: JuiceCellsOption = JuiceCells("target"),
    trust_code: TrustCodeOption = False,
) -> None:
    """Learn a notebook HMM for an LFs-first model from its own LFs' weak labels: stage transitions
    between consecutive code cells. `coral predict` then reads each cell no LF covers in its
    notebook's context (--cell-only turns it off). The encoder is not retrained."""
    from coral.corpora.readers import ReaderOptions
    from coral.jobs.train import fit_notebook_hmm

    with user_errors():
        hmm, n_excluded, problems = fit_notebook_hmm(
            model, corpora, format=format, options=ReaderOptions(juice_cells=juice_cells.value), exclude=exclude or (),
            exclude_notebooks=exclude_notebooks or (), max_cells=max_cells, trust_code=trust_code)
    typer.echo(f"notebook HMM from {hmm.n_pairs_} pairs of consecutive weakly labelled cells ({n_excluded} cells "
               f"excluded) -> {model / 'hmm.json'}")
    if len(problems):
        report_problems(problems, model / "hmm-problems.jsonl")
