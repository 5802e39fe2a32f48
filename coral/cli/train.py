"""``coral train``: fit an encoder on weak labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
import yaml

from coral.cli.main import (
    AggregateOption, Aggregation, Corpora, DeviceOption, ExcludeNotebooksOption, ExcludeOption, FormatOption, JuiceCells,
    JuiceCellsOption, LFsOption, ThreadsOption, app, choices, set_torch_threads, user_errors,
)
from coral.encoders.base import ENCODERS
from coral.labeling.lfsets import DEFAULT_LF_SETS


Encoder = choices("Encoder", ENCODERS)


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
    corpus: Corpora,
    out: Annotated[Path, typer.Option("--out", "-o", help="Model directory to write (weights, vocabulary, encoder.json, train.json, metrics.csv, checkpoints/).")],
    encoder: Annotated[Encoder, typer.Option(help="coral: the paper's graph-masked transformer; gnn: GATv2/GIN over the same graphs; lda / word2vec: gensim features + logistic regression; bert: a sequence transformer pretrained by masked-language modelling on the corpus; context: a BiGRU over a notebook's cells on top of another encoder; ensemble: the mean of several seeds of one encoder (--param member=gnn --param members=2).")] = Encoder("coral"),
    lfs: LFsOption = list(DEFAULT_LF_SETS),
    aggregate: AggregateOption = Aggregation("priority"),
    config: Annotated[Optional[Path], typer.Option(help="JSON/YAML mapping of encoder parameters, by group (graph: {max_nodes: 120}) or as graph__max_nodes: 120; options given here override it. Default: the encoder's defaults.")] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", help="Any encoder parameter as GROUP__NAME=VALUE (e.g. graph__masked=false, model__n_topics=20, training__lr=3e-4); a name only one group has may stand alone (masked=false); repeatable. See docs/encoders.md. Default: none.")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Training epochs (torch encoders). Default: the encoder's (docs/encoders.md).", min=1)] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Cells per batch (torch encoders). Default: the encoder's.", min=1)] = None,
    d_model: Annotated[Optional[int], typer.Option(help="Hidden size (torch encoders). Default: the encoder's.", min=1)] = None,
    max_nodes: Annotated[Optional[int], typer.Option(help="M: AST nodes kept per cell, in preorder. Default: the encoder's.", min=1)] = None,
    no_markdown: Annotated[bool, typer.Option("--no-markdown", help="Ablation: leave out the markdown-above nodes.")] = False,
    full_attention: Annotated[bool, typer.Option("--full-attention", help="Ablation: attend over all nodes of a cell instead of graph neighbours.")] = False,
    no_topic_losses: Annotated[bool, typer.Option("--no-topic-losses", help="Ablation (coral): drop the reconstruction and topic-uniqueness losses.")] = False,
    device: DeviceOption = "auto",
    seed: Annotated[int, typer.Option(help="Seed for the split, subsample and training.")] = 0,
    max_cells: Annotated[Optional[int], typer.Option(help="Train on a random subsample of whole notebooks, about this many cells. Default: every cell.", min=1)] = None,
    exclude: ExcludeOption = None,
    exclude_notebooks: ExcludeNotebooksOption = None,
    format: FormatOption = None,
    juice_cells: JuiceCellsOption = JuiceCells("target"),
    resume: Annotated[bool, typer.Option(help="Continue from OUT/checkpoints (same command otherwise; more --epochs may be given). Refused for another corpus, other weak labels or another model shape.")] = False,
    lfs_first: Annotated[bool, typer.Option("--lfs-first", help="Save the LFs and their aggregation in the model too: it then labels every cell an LF votes on with the LFs' label, and only the others with the encoder (docs/encoders.md). Default: the encoder labels every cell.")] = False,
    notebook_hmm: Annotated[bool, typer.Option("--notebook-hmm", help="With --lfs-first: also learn a notebook HMM (stage transitions between consecutive cells) from the weak labels, so that the model reads each cell no LF covers in its notebook's context (docs/encoders.md). `coral lfs fit-hmm` adds one to a trained model.")] = False,
    teacher: Annotated[Optional[Path], typer.Option(help="Self-training: a trained model directory whose confident predictions label the cells no LF covers (docs/encoders.md). Default: none.")] = None,
    teacher_confidence: Annotated[float, typer.Option(help="With --teacher: the least probability of the teacher's top stage for a cell to take its label.", min=0.0, max=1.0)] = 0.9,
    threads: ThreadsOption = None,
) -> None:
    """Train an encoder on weak labels from labeling functions (no expert labels are used).

    Validation (10% of notebooks) and early stopping use the weak-label loss only. Example:
    coral train notebooks/ --lfs extended --aggregate labelmodel --out runs/coral

    Started by torchrun, it trains with DistributedDataParallel, --batch-size per process (docs/scaling.md).
    """
    from coral.corpora.readers import ReaderOptions
    from coral.encoders.distributed import distributed_run
    from coral.encoders.training import resolve_device
    from coral.jobs.train import train_from_corpus

    set_torch_threads(threads)
    with user_errors():
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
        with distributed_run(resolve_device(device)) as shard:
            model, run = train_from_corpus(
                encoder.value, corpus, out, lf_specs=lfs, aggregation=aggregate.value, params=params, format=format,
                options=ReaderOptions(juice_cells=juice_cells.value), exclude=exclude or (), exclude_notebooks=exclude_notebooks or (),
                max_cells=max_cells, seed=seed, resume=resume, lfs_first=lfs_first, notebook_hmm=notebook_hmm,
                teacher=teacher, teacher_confidence=teacher_confidence,
            )
    if shard is not None and shard.rank != 0:
        return
    teacher_note = f", {run.n_teacher_labels} of them from the teacher" if run.teacher else ""
    typer.echo(f"trained {run.encoder} on {run.n_cells} cells ({run.n_covered} with a weak label{teacher_note}, "
               f"{run.n_excluded} excluded) in {run.seconds:.0f}s -> {out}")
    if run.n_problems:
        typer.echo(f"{run.n_problems} problems ({json.dumps(run.problems_by_reason)}) -> {out / 'errors.jsonl'}")


@app.command("ablate")
def ablate_command(
    spec: Annotated[str, typer.Argument(help="Spec file (YAML or TOML), or a spec shipped with coral: cpu (small sizes for 2 CPU cores; timings in docs/results.md), gpu (middle size, torch models, one GPU) or paper (full size, GPU).")],
    gold: Annotated[list[Path], typer.Option("--gold", help="Gold labels ({id, stage} JSON Lines) to score on; their cells and notebooks never train. Repeat for several gold sets.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: grid/ (per run and seed), cache/, results/<gold>/ (tables and charts).")],
    data: Annotated[Path, typer.Option(help="Folder the spec's relative paths (corpus, eval_corpus, exclusions) start from.")] = Path("."),
    finished_only: Annotated[bool, typer.Option("--finished-only", help="Train nothing: tabulate the runs that have finished (while the grid runs elsewhere, or after it was stopped).")] = False,
    device: DeviceOption = "auto",
    threads: ThreadsOption = None,
    workers: Annotated[int, typer.Option(help="Processes that parse the training corpus (a local Dask cluster when "
                                         "more than 1); the grid itself trains one model at a time.", min=1)] = 1,
) -> None:
    """Run an ablation grid (models x settings x seeds x training sizes) and write the paper's tables.

    Resumable: a rerun with the same OUT skips every finished (run, seed). See docs/results.md.
    """
    from coral.jobs.ablate import describe_spec, load_spec, run_ablation

    set_torch_threads(threads)
    try:
        ablation = load_spec(spec, data)
        typer.echo(f"grid: {json.dumps(describe_spec(ablation))}")
        result = run_ablation(ablation, gold, out, device=device, workers=workers, finished_only=finished_only)
    except (ValueError, FileNotFoundError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    excluded = f"; {result.n_excluded} training-corpus cells excluded (gold and held-out notebooks)" if result.trained else ""
    typer.echo(f"trained {result.trained} grid cells, {result.skipped} already done{excluded}")
    for name, folder in result.results.items():
        typer.echo(f"  {name}: {folder}")
