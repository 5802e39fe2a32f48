"""``coral evaluate``: predictions against gold labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from coral.cli.main import app, user_errors


@app.command("evaluate")
def evaluate_command(
    predictions: Annotated[Path, typer.Argument(help="Predictions JSON Lines from `coral predict`.")],
    gold: Annotated[Path, typer.Option(help="Gold labels: JSON Lines of {\"id\", \"stage\"}.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    seeds: Annotated[int, typer.Option(help="Seeds for the random-fill protocol (abstain -> uniformly random stage).", min=1)] = 100,
) -> None:
    """Accuracy, macro-F1, per-stage P/R/F1, confusion matrix and coverage against gold labels."""
    from coral.jobs.evaluate import evaluate_predictions, format_evaluation, read_gold
    from coral.predictions import read_predictions

    with user_errors():
        evaluation = evaluate_predictions(read_predictions(predictions), read_gold(gold), random_seeds=seeds)
    typer.echo(json.dumps(evaluation.to_dict(), indent=2) if as_json else format_evaluation(evaluation))
