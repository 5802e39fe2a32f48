"""``coral label``, ``coral lfs ...``, ``coral predict`` and ``coral evaluate``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from coral.cli.main import DeviceOption, JuiceCells, JuiceCellsOption, ThreadsOption, TrustCodeOption, app, set_torch_threads

lfs_app = typer.Typer(help="Labeling functions: list, analyze and fit a label model.", no_args_is_help=True)
app.add_typer(lfs_app, name="lfs")


class Aggregation(str, Enum):
    priority = "priority"
    majority = "majority"
    labelmodel = "labelmodel"


class LFErrors(str, Enum):
    raise_ = "raise"
    log = "log"


LFS_HELP = (
    "LF set: a built-in name (paper, extended), a seed file (.yaml/.json), a .py file of "
    "@labeling_function LFs, or a module name. Repeat to combine."
)
LFsOption = Annotated[list[str], typer.Option("--lfs", help=LFS_HELP)]
FormatOption = Annotated[
    Optional[str], typer.Option("--format", "-f", help="Corpus format (ipynb, shards, coral, juice, dsp); guessed when not given.")
]
OnErrorOption = Annotated[
    LFErrors,
    typer.Option("--on-lf-error", help="An LF that raises: stop with an error naming the LF and cell (raise), or log it and abstain (log)."),
]
Corpora = Annotated[list[Path], typer.Argument(help="Corpus files or folders, or parsed Parquet directories.")]


@contextmanager
def _user_errors() -> Iterator[None]:
    """Library errors about the user's input become a one-line message and exit code 1."""
    from coral.labeling.apply import LabelingFunctionError
    from coral.labeling.corpus import LabelPartError

    try:
        yield
    except (ValueError, OSError, LabelingFunctionError, LabelPartError) as exc:  # OSError: a path, or a --scheduler
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


def _report_problems(problems, path: Path) -> None:
    problems.write_jsonl(path)
    counts = ", ".join(f"{reason}: {n}" for reason, n in problems.by_reason().most_common())
    typer.echo(f"{len(problems)} problems{f' ({counts})' if counts else ''} -> {path}")


@app.command("label")
def label_command(
    corpora: Corpora,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for label_matrix.parquet (a Parquet dataset), _label_matrix.json and _problems.jsonl.")],
    lfs: LFsOption = ["paper"],
    format: FormatOption = None,
    juice_cells: JuiceCellsOption = JuiceCells.target,
    on_lf_error: OnErrorOption = LFErrors.raise_,
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes: 1 (the default) labels in this process; more label the input's parts "
            "(Parquet parts of a parsed directory, or corpus work units) on a local Dask cluster.",
            min=1,
        ),
    ] = 1,
    scheduler: Annotated[
        Optional[str],
        typer.Option(help="Address of a Dask scheduler (tcp://host:8786) to label on a cluster; its workers need coral and the LF files."),
    ] = None,
) -> None:
    """Apply labeling functions to every code cell: the label matrix (cell ids x LFs, -1 = abstain).

    With --workers N or --scheduler, parts of the input are labeled in parallel with Dask and
    joined in input order: the same matrix as one process gives.
    """
    from coral.corpora.readers import ReaderOptions
    from coral.problems import ProblemLog
    from coral.labeling.corpus import label_corpus, label_corpus_parallel
    from coral.labeling.lfsets import load_lf_sets
    from coral.labeling.matrix import LABEL_PROBLEMS_FILE

    with _user_errors():
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
    _report_problems(problems, Path(out) / LABEL_PROBLEMS_FILE)


@lfs_app.command("list")
def lfs_list_command(lfs: LFsOption = ["paper", "extended"]) -> None:
    """List LFs by name with what each is for (a seed rule's description, or the docstring)."""
    from coral.labeling.lfsets import describe_lf, load_lfs

    with _user_errors():
        for spec in lfs:
            typer.secho(spec, bold=True)
            for lf in load_lfs(spec):
                typer.echo(f"  {lf.name:<36} {describe_lf(lf)}")


@lfs_app.command("analyze")
def lfs_analyze_command(
    corpora: Annotated[list[Path], typer.Argument(help="Corpora, parsed Parquet directories, or a label-matrix directory from `coral label`.")],
    lfs: LFsOption = ["paper"],
    gold: Annotated[Optional[Path], typer.Option(help="Gold labels ({\"id\", \"stage\"} JSON Lines): adds correct, incorrect, empirical accuracy.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Also write the table: .csv or .md.")] = None,
    show: Annotated[Optional[str], typer.Option(help="Also list the cells where this LF disagrees with gold (or, without --gold, with other LFs).")] = None,
    format: FormatOption = None,
    juice_cells: JuiceCellsOption = JuiceCells.target,
    on_lf_error: OnErrorOption = LFErrors.raise_,
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

    with _user_errors():
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
    lfs: LFsOption = ["extended"],
    format: FormatOption = None,
    juice_cells: JuiceCellsOption = JuiceCells.target,
    on_lf_error: OnErrorOption = LFErrors.raise_,
    seed: Annotated[int, typer.Option(help="Seed for the LabelModel's training.")] = 0,
) -> None:
    """Fit Snorkel's LabelModel on an unlabeled corpus and save LFs + label model as a stage model."""
    from coral.corpora.readers import ReaderOptions
    from coral.corpora.cells import read_cells
    from coral.labeling.corpus import label_cells
    from coral.problems import ProblemLog
    from coral.labeling.matrix import LabelMatrix, is_label_matrix_dir
    from coral.labeling.model import HeuristicStageModel

    with _user_errors():
        model = HeuristicStageModel(lfs=tuple(lfs), aggregation="labelmodel", on_error=on_lf_error.value, seed=seed)
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
        _report_problems(problems, Path(out) / "problems.jsonl")


@app.command("predict")
def predict_command(
    inputs: Annotated[list[Path], typer.Argument(help="Corpus files or folders, or parsed Parquet directories.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Predictions, JSON Lines (one line per code cell, input order).")],
    model: Annotated[str, typer.Option(help="heuristics, default, or a model directory (coral train / coral lfs fit).")] = "heuristics",
    lfs: Annotated[Optional[list[str]], typer.Option("--lfs", help=f"For --model heuristics: {LFS_HELP} [default: paper]")] = None,
    aggregate: Annotated[Optional[Aggregation], typer.Option(help="For --model heuristics: how LF votes combine [default: priority].")] = None,
    fit_on: Annotated[Optional[list[Path]], typer.Option(help="With --aggregate labelmodel: fit the LabelModel on these unlabeled corpora instead of on the input.")] = None,
    only_gold: Annotated[Optional[list[Path]], typer.Option("--only-gold", help="Gold files ({id, stage} JSON Lines): read and predict only the notebooks (or CORAL cells) they name; the rest of the input is skipped before parsing. Repeatable.")] = None,
    format: FormatOption = None,
    with_source: Annotated[bool, typer.Option("--with-source", help="Also write each cell's code (every line names its notebook's path and the cell index).")] = False,
    juice_cells: JuiceCellsOption = JuiceCells.target,
    device: DeviceOption = "auto",
    threads: ThreadsOption = None,
    trust_code: TrustCodeOption = False,
) -> None:
    """Predict the stage of every code cell; cells no LF covers get stage null (heuristics).

    Writes OUT, OUT's errors file and OUT's manifest (<stem>.manifest.json). Each prediction
    carries the cell's role (nbgrader, JuICe or DSP) where its corpus gives one.
    """
    import time

    from coral.corpora.readers import ReaderOptions
    from coral.jobs.predict import load_stage_model, predict_corpus
    from coral.manifest import describe_stage_model, write_manifest

    started = time.perf_counter()
    set_torch_threads(threads)
    with _user_errors():
        stage_model = load_stage_model(model, lfs=lfs, aggregation=aggregate.value if aggregate else None, device=device,
                                       trust_code=trust_code)
        options = ReaderOptions(juice_cells=juice_cells.value)
        run = predict_corpus(inputs, stage_model, out, format=format, fit_on=fit_on or (), options=options, with_source=with_source,
                             only_gold=only_gold or ())
    write_manifest(
        out.with_name(f"{out.stem}.manifest.json"), command="predict", model=describe_stage_model(model, stage_model),
        inputs=inputs, counts={"code_cells": run.n_cells, "with_stage": run.n_covered, "problems": run.n_problems},
        problems_by_reason=run.problems_by_reason, seconds=time.perf_counter() - started, outputs=[run.out, run.errors],
    )
    typer.echo(f"{run.n_cells} cells, {run.n_covered} ({run.n_covered / max(run.n_cells, 1):.1%}) with a stage -> {run.out}")
    counts = ", ".join(f"{reason}: {n}" for reason, n in sorted(run.problems_by_reason.items()))
    typer.echo(f"{run.n_problems} problems{f' ({counts})' if counts else ''} -> {run.errors}")


class TableFormat(str, Enum):
    text = "text"
    json = "json"
    csv = "csv"
    md = "md"
    latex = "latex"


@app.command("evaluate")
def evaluate_command(
    predictions: Annotated[list[Path], typer.Argument(help="Predictions JSON Lines from `coral predict`, one file per model.")],
    gold: Annotated[list[Path], typer.Option("--gold", help="Gold labels: JSON Lines of {\"id\", \"stage\"}. Repeat for several gold sets.")],
    format: Annotated[TableFormat, typer.Option("--format", help="text or json: with one predictions file and one gold set, the full report (per-stage P/R/F1, confusion matrix); otherwise the table of models. csv, md, latex (booktabs): always the table.")] = TableFormat.text,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the report here instead of printing it.")] = None,
    reference: Annotated[Optional[str], typer.Option(help="Model the others are tested against (a predictions file or its name in the table) [default: the first file].")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples of notebooks for the 95% intervals.", min=100)] = 1000,
    seeds: Annotated[int, typer.Option(help="Seeds for the random-fill protocol (abstain -> uniformly random stage).", min=1)] = 100,
) -> None:
    """Score predictions against gold labels: accuracy, macro-F1 and per-stage F1.

    With several models or gold sets: one table, each score with a 95% interval from a
    bootstrap over notebooks, and a Wilcoxon signed-rank test over notebooks of each model
    against --reference, Holm-corrected per gold set (see docs/results.md).
    Abstains are scored with the CORAL paper's random fill.
    """
    from coral.jobs.comparison import compare_models, model_names, render
    from coral.jobs.evaluate import evaluate_predictions, format_evaluation, read_gold
    from coral.predictions import read_predictions

    chosen = TableFormat.json if as_json else format
    with _user_errors():
        if len(predictions) == 1 and len(gold) == 1 and chosen in (TableFormat.text, TableFormat.json):
            evaluation = evaluate_predictions(read_predictions(predictions[0]), read_gold(gold[0]), random_seeds=seeds)
            report = json.dumps(evaluation.to_dict(), indent=2) + "\n" if chosen is TableFormat.json else format_evaluation(evaluation) + "\n"
        else:
            names = model_names([str(path) for path in predictions])
            by_name = {name: list(read_predictions(path)) for name, path in zip(names, predictions)}
            if reference is not None and reference not in by_name:
                reference = dict(zip(map(str, predictions), names)).get(reference, reference)
            golds = dict(zip(model_names([str(path) for path in gold]), map(read_gold, gold)))
            table = compare_models(by_name, golds, reference=reference, n_boot=bootstrap, random_seeds=seeds)
            report = render(table, chosen.value, reference or names[0])
    if out is None:
        typer.echo(report, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report, encoding="utf-8")
        typer.echo(f"-> {out}")
