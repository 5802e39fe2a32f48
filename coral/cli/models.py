"""``coral train``: fit an encoder on weak labels."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
import yaml

from coral.cli.main import DeviceOption, ThreadsOption, app, set_torch_threads


class EncoderName(str, Enum):
    coral = "coral"
    gnn = "gnn"
    lda = "lda"
    word2vec = "word2vec"
    context = "context"


class LabelModelName(str, Enum):
    priority = "priority"
    majority = "majority"
    labelmodel = "labelmodel"


def _read_config(path: Path) -> dict[str, Any]:
    """Encoder parameters from a JSON or YAML mapping."""
    try:
        config = yaml.safe_load(path.read_text())  # YAML is a superset of JSON
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the config ({exc})") from exc
    if not isinstance(config, dict):
        raise ValueError(f"{path}: a config is a mapping of encoder parameters, e.g. {{training: {{epochs: 5}}, model: {{d_model: 128}}}}")
    return config


def _parse_param(assignment: str) -> tuple[str, Any]:
    key, sep, value = assignment.partition("=")
    if not sep or not key:
        raise ValueError(f"--param {assignment!r}: expected KEY=VALUE, e.g. --param graph__masked=false")
    return key.strip().replace("-", "_"), yaml.safe_load(value)


@app.command("train")
def train_command(
    corpus: Annotated[list[Path], typer.Option("--corpus", help="Corpus file or folder (any format), or a parsed Parquet directory. Repeat to combine.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model directory to write (weights, vocabulary, encoder.json, train.json, metrics.csv, checkpoints/).")],
    encoder: Annotated[EncoderName, typer.Option(help="coral: the paper's graph-masked transformer; gnn: GATv2/GIN over the same graphs; lda / word2vec: gensim features + logistic regression; context: a BiGRU over a notebook's cells on top of a cell-only encoder (--param base=coral or a trained model directory).")] = EncoderName.coral,
    lfs: Annotated[list[str], typer.Option("--lfs", help="LF set for the weak labels: paper, extended, a seed file, a .py file or a module. Repeat to combine.")] = ["paper"],
    label_model: Annotated[LabelModelName, typer.Option(help="How LF votes become weak labels: priority (the paper's order), majority, or Snorkel's labelmodel (soft labels).")] = LabelModelName.priority,
    config: Annotated[Optional[Path], typer.Option(help="JSON/YAML mapping of encoder parameters, by group (graph: {max_nodes: 120}) or as graph__max_nodes: 120; options given here override it.")] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", help="Any encoder parameter as GROUP__NAME=VALUE (e.g. graph__masked=false, model__n_topics=20, training__lr=3e-4); a name only one group has may stand alone (masked=false); repeatable. See docs/encoders.md.")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Training epochs (torch encoders).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Cells per batch (torch encoders).")] = None,
    d_model: Annotated[Optional[int], typer.Option(help="Hidden size (torch encoders).")] = None,
    max_nodes: Annotated[Optional[int], typer.Option(help="M: AST nodes kept per cell, in preorder.")] = None,
    no_markdown: Annotated[bool, typer.Option("--no-markdown", help="Ablation: leave out the markdown-above nodes.")] = False,
    full_attention: Annotated[bool, typer.Option("--full-attention", help="Ablation: attend over all nodes of a cell instead of graph neighbours.")] = False,
    no_topic_losses: Annotated[bool, typer.Option("--no-topic-losses", help="Ablation (coral): drop the reconstruction and topic-uniqueness losses.")] = False,
    device: DeviceOption = "auto",
    seed: Annotated[int, typer.Option(help="Seed for the split, subsample and training.")] = 0,
    max_cells: Annotated[Optional[int], typer.Option(help="Train on a random subsample of whole notebooks, about this many cells.")] = None,
    exclude: Annotated[Optional[list[Path]], typer.Option("--exclude", help="Gold files ({id, stage} JSON Lines) whose cells (and, for '<notebook>#<i>' ids, whole notebooks) must stay out of training.")] = None,
    exclude_notebooks: Annotated[Optional[list[Path]], typer.Option("--exclude-notebooks", help="Lists of notebook ids (one a line, '#' comments) whose notebooks must stay out of training, e.g. held-out evaluation notebooks.")] = None,
    format: Annotated[Optional[str], typer.Option("--format", "-f", help="Corpus format; guessed when not given.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/checkpoints (same command otherwise).")] = False,
    threads: ThreadsOption = None,
) -> None:
    """Train an encoder on weak labels from labeling functions (no expert labels are used).

    Validation (10% of notebooks) and early stopping use the weak-label loss only. Example:
    coral train --corpus notebooks/ --lfs extended --label-model labelmodel --out runs/coral
    """
    from coral.jobs.train import train_from_corpus

    set_torch_threads(threads)
    try:
        params = _read_config(config) if config else {}
        params.update(_parse_param(assignment) for assignment in param or [])
        flags = {"epochs": epochs, "batch_size": batch_size, "d_model": d_model, "max_nodes": max_nodes, "device": device}
        params.update({key: value for key, value in flags.items() if value is not None})
        if no_markdown:
            params["markdown"] = False
        if full_attention:
            params["masked"] = False
        if no_topic_losses:
            params["topic_losses"] = False
        params.setdefault("seed", seed)
        model, run = train_from_corpus(
            encoder.value, corpus, out, lfs=lfs, label_model=label_model.value, params=params, format=format,
            exclude=exclude or (), exclude_notebooks=exclude_notebooks or (), max_cells=max_cells, seed=seed, resume=resume,
        )
    except (ValueError, FileNotFoundError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"trained {run.encoder} on {run.n_cells} cells ({run.n_covered} with a weak label, "
               f"{run.n_excluded} excluded) in {run.seconds:.0f}s -> {out}")
    if run.n_problems:
        typer.echo(f"{run.n_problems} problems ({json.dumps(run.problems_by_reason)}) -> {out / 'errors.jsonl'}")
