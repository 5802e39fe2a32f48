"""``coral evaluate``: predictions of one or more models against one or more gold sets."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from coral.cli.main import app, user_errors


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
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the report here instead of printing it. Default: print it.")] = None,
    reference: Annotated[Optional[str], typer.Option(help="Model the others are tested against (a predictions file or its name in the table). Default: the first file.")] = None,
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
    with user_errors():
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
