"""``coral annotate``, ``coral report`` and ``coral show``: the labels in the notebooks, in a
browsable HTML report and in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from coral.cli.labeling import FormatOption, _user_errors
from coral.cli.main import DeviceOption, TrustCodeOption, app

ModelOption = Annotated[str, typer.Option("--model", help="Stage model: 'default' (shipped), 'heuristics', or a model directory.")]
Notebooks = Annotated[list[Path], typer.Argument(help="Notebooks (.ipynb), folders or archives of them, or JSON Lines shards of notebooks.")]


def _echo_problems(problems, errors_file: Path | None) -> None:
    """Every notebook or cell that could not be used: to a file when there is an output folder,
    else one line each on stderr."""
    if not len(problems):
        return
    counts = ", ".join(f"{reason}: {n}" for reason, n in sorted(problems.by_reason().items()))
    if errors_file is not None:
        problems.write_jsonl(errors_file)
        typer.echo(f"{len(problems)} problems ({counts}) -> {errors_file}")
        return
    for problem in problems:
        typer.echo(f"{problem.reason}: {problem.item or problem.origin} ({problem.origin}) {problem.detail}".rstrip(), err=True)


@app.command("annotate")
def annotate_command(
    notebooks: Notebooks,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the labelled copies here, as <notebook id>.ipynb.")] = None,
    in_place: Annotated[bool, typer.Option("--in-place", help="Rewrite the notebooks themselves (.ipynb files only), keeping each as <name>.ipynb.bak.")] = False,
    model: ModelOption = "default",
    headers: Annotated[bool, typer.Option("--headers", help="Also insert a markdown header cell '## Stage: <Stage>' where the stage changes.")] = False,
    strip: Annotated[bool, typer.Option("--strip", help="Remove coral's labels, tags and headers instead of adding them.")] = False,
    format: FormatOption = None,
    device: DeviceOption = "auto",
    trust_code: TrustCodeOption = False,
) -> None:
    """Write stage labels into notebooks: per code cell, metadata.coral (stage, probabilities,
    model, coral version) and the tag stage:<STAGE>, shown in JupyterLab's and VS Code's cell
    toolbars. Everything else in the notebook is kept; rerunning replaces earlier labels.
    """
    import time

    from coral.manifest import MANIFEST_FILE, describe_stage_model, write_manifest
    from coral.views.annotate import annotate
    from coral.views.labelled import load_stage_model

    started = time.perf_counter()
    with _user_errors():
        stage_model = None if strip else load_stage_model(model, device=device, trust_code=trust_code)
        run = annotate(notebooks, stage_model, model, out_dir=out, in_place=in_place, headers=headers, strip=strip, format=format)
    if out is not None and run.written:
        write_manifest(
            out / MANIFEST_FILE, command="annotate --strip" if strip else "annotate",
            model=describe_stage_model(model, stage_model) if stage_model is not None else {},
            inputs=notebooks, counts={"notebooks_written": len(run.written), "code_cells_labelled": run.n_cells},
            problems_by_reason=run.problems.by_reason(), seconds=time.perf_counter() - started,
        )
    done = "coral's labels removed from" if strip else f"{run.n_cells} code cells labelled in"
    where = "in place (each kept as <name>.ipynb.bak)" if in_place else f"-> {out}"
    typer.echo(f"{done} {len(run.written)} notebooks {where}")
    _echo_problems(run.problems, out / "annotate.errors.jsonl" if out is not None and run.written else None)
    if not run.written:
        typer.secho("error: no notebook could be written; see the problems above", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)


@app.command("report")
def report_command(
    notebooks: Annotated[
        Optional[list[Path]],
        typer.Argument(help="Notebooks, folders, archives or shards to show (optional with --predictions: the cells' code then comes from the predictions, if they carry it)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("report.html"),
    model: ModelOption = "default",
    predictions: Annotated[Optional[Path], typer.Option("--predictions", help="Show these predictions (from coral predict / coral run) instead of predicting with --model.")] = None,
    title: Annotated[str, typer.Option(help="The report's title.")] = "coral report",
    format: FormatOption = None,
    device: DeviceOption = "auto",
    trust_code: TrustCodeOption = False,
) -> None:
    """Write one self-contained HTML report (no network needed): the stage composition,
    transitions and entropy of the corpus, one stage barcode per notebook (a block per code
    cell, as wide as its lines of code), and each notebook's cells with their stage and
    probabilities, low-confidence cells marked. Filter by stage, search by notebook name.
    """
    from coral.problems import ProblemLog
    from coral.views.labelled import label_notebooks, labelled_from_predictions, load_stage_model
    from coral.views.report import write_report

    problems = ProblemLog()
    with _user_errors():
        if predictions is not None:
            labelled = labelled_from_predictions(predictions, notebooks or [], problems, format)
            source = str(predictions)
        elif notebooks:
            labelled = label_notebooks(notebooks, load_stage_model(model, device=device, trust_code=trust_code), problems, format)
            source = model
        else:
            raise ValueError("give notebooks to label, --predictions, or both")
        summary = write_report(labelled, out, title=title, model=source)
    typer.echo(f"{summary.n_notebooks} notebooks, {summary.n_code_cells} code cells ({summary.n_labelled} with a stage) -> {summary.out}")
    _echo_problems(problems, out.with_name(f"{out.stem}.errors.jsonl"))


@app.command("show")
def show_command(
    notebook: Annotated[Path, typer.Argument(help="A notebook (.ipynb), or a folder, archive or shard of them.")],
    model: ModelOption = "default",
    only: Annotated[Optional[str], typer.Option("--only", help="Show only the cells of this stage (IMPORT, WRANGLE, EXPLORE, MODEL, EVALUATE).")] = None,
    low_confidence: Annotated[bool, typer.Option("--low-confidence", help="Show only cells whose stage has a probability under 0.5, or no stage.")] = False,
    format: FormatOption = None,
    device: DeviceOption = "auto",
    trust_code: TrustCodeOption = False,
) -> None:
    """Print a notebook's code cells in the terminal, each under its stage (colour and name)
    and the model's confidence in it."""
    from rich.console import Console

    from coral.problems import ProblemLog
    from coral.stages import stage_from_name
    from coral.views.labelled import label_notebooks, load_stage_model
    from coral.views.terminal import show_notebook

    problems = ProblemLog()
    console = Console()
    shown = 0
    with _user_errors():
        stage = stage_from_name(only).name if only else None
        for labelled in label_notebooks([notebook], load_stage_model(model, device=device, trust_code=trust_code), problems, format):
            shown += 1
            show_notebook(labelled, console, only=stage, low_confidence=low_confidence)
    _echo_problems(problems, None)
    if not shown:
        typer.secho(f"error: no notebook could be read from {notebook}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
