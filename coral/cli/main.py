"""The root ``coral`` app, the options several commands share and the one error wrapper.

Command groups register themselves from their own modules. Choices (formats, LF sets,
aggregation methods, encoders) come from the library's registries, never from copies here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

from coral.corpora.readers import FORMAT_ALIASES, FORMATS, normalize_format
from coral.labeling.aggregate import AGGREGATION_METHODS
from coral.labeling.lfsets import BUILTIN_LF_SETS

app = typer.Typer(
    name="coral",
    help="Label Jupyter notebook cells with their data-analysis stage (IMPORT, WRANGLE, "
    "EXPLORE, MODEL, EVALUATE) from weak supervision, and study how data science is done.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _print_version(value: bool) -> None:
    if value:
        from coral import __version__

        typer.echo(f"coral {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool], typer.Option("--version", help="Print coral's version and exit.", callback=_print_version, is_eager=True)
    ] = None,
) -> None:
    """coral: weakly supervised stage labels for notebook cells."""


@contextmanager
def user_errors() -> Iterator[None]:
    """Library errors about the user's input (a bad path, format, LF or parameter) become one
    ``error:`` line on stderr and exit code 1 instead of a traceback."""
    from coral.labeling.apply import LabelingFunctionError
    from coral.labeling.corpus import LabelPartError

    try:
        yield
    except (ValueError, OSError, LabelingFunctionError, LabelPartError) as exc:  # OSError: a path, or a --scheduler
        fail(str(exc))


def fail(message: str) -> NoReturn:
    """Stop with one ``error:`` line and exit code 1."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1) from None


def choices(name: str, values: Iterable[str]) -> type[Enum]:
    """A typer choice type built from a library registry, so ``--help`` lists what the library accepts."""
    return Enum(name, {value: value for value in values}, type=str)  # type: ignore[return-value]


def report_problems(problems, path: Path) -> None:
    """Write every unusable notebook or cell to ``path`` and say how many, by reason."""
    problems.write_jsonl(path)
    echo_problems(problems, path)


def echo_problems(problems, path: Path) -> None:
    """Say how many notebooks or cells were unusable, by reason, and where they are listed."""
    counts = ", ".join(f"{reason}: {n}" for reason, n in problems.by_reason().most_common())
    typer.echo(f"{len(problems)} problems{f' ({counts})' if counts else ''} -> {path}")


Aggregation = choices("Aggregation", AGGREGATION_METHODS)
LFErrors = choices("LFErrors", ("raise", "log"))
JuiceCells = choices("JuiceCells", ("target", "all"))

LFS_HELP = (
    f"LF set: a built-in name ({', '.join(BUILTIN_LF_SETS)}), a seed file (.yaml/.json), a .py file of "
    "@labeling_function LFs, or a module name. Repeat to combine."
)
LFsOption = Annotated[list[str], typer.Option("--lfs", help=LFS_HELP)]
AGGREGATE_HELP = "How LF votes combine: priority (the paper's stage order), majority, or labelmodel (Snorkel's LabelModel, soft labels)."
AggregateOption = Annotated[Aggregation, typer.Option("--aggregate", help=AGGREGATE_HELP)]
OnErrorOption = Annotated[
    LFErrors,
    typer.Option("--on-lf-error", help="An LF that raises: stop with an error naming the LF and cell (raise), or log it and abstain (log)."),
]
def check_format(format: str | None) -> str | None:
    """Refuse an unknown --format before any corpus is read."""
    try:
        normalize_format(format)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--format") from None
    return format


FormatOption = Annotated[
    Optional[str],
    typer.Option(
        "--format",
        "-f",
        help=f"Input layout: {', '.join(FORMATS)} (aliases: {', '.join(FORMAT_ALIASES)}). Default: guessed per file.",
        callback=lambda value: check_format(value),
    ),
]
TrustCodeOption = Annotated[
    bool,
    typer.Option("--trust-code", help="Load a model directory whose labeling functions are Python code (a .py file or module), "
                 "which runs that code: only for model directories you trust."),
]
ExcludeOption = Annotated[
    Optional[list[Path]],
    typer.Option("--exclude", help="Gold files ({id, stage} JSON Lines) whose cells (and, for '<notebook>#<i>' ids, whole "
                 "notebooks) must stay out of training. Default: none."),
]
ExcludeNotebooksOption = Annotated[
    Optional[list[Path]],
    typer.Option("--exclude-notebooks", help="Lists of notebook ids (one a line, '#' comments) whose notebooks must stay out "
                 "of training, e.g. held-out evaluation notebooks. Default: none."),
]
WorkersOption = Annotated[
    int,
    typer.Option(
        help="Worker processes: 1 runs in this process; more run the input's parts "
        "(Parquet parts of a parsed directory, or corpus work units) on a local Dask cluster.",
        min=1,
    ),
]
SchedulerOption = Annotated[
    Optional[str],
    typer.Option("--scheduler", help="Address of a Dask scheduler (tcp://host:8786) to run on a cluster. Default: run locally."),
]
ChunkSizeOption = Annotated[
    int,
    typer.Option("--chunk-size", help="Notebooks per work unit of a corpus: the part a run finishes, keeps and skips "
                 "when rerun after an interruption (a parsed directory keeps its own parts).", min=1),
]
ModelOption = Annotated[
    str, typer.Option("--model", help="Stage model: default (shipped with coral), heuristics (LFs + --aggregate), or a model directory.")
]
ThreadsOption = Annotated[
    Optional[int],
    typer.Option("--threads", help="torch CPU threads. Default: the cores available to coral that other work leaves idle, at most 8.", min=1),
]
DeviceOption = Annotated[
    str,
    typer.Option("--device", help="Where torch models compute: auto (CUDA when available, with mixed precision), cpu, cuda, cuda:1..."),
]
JuiceCellsOption = Annotated[
    JuiceCells,
    typer.Option(
        "--juice-cells",
        help="JuICe records: label each record's target cell only (its context cells serve as context), "
        "or every distinct code cell, context included (one item per notebook and position).",
    ),
]
Corpora = Annotated[list[Path], typer.Argument(help="Corpus files or folders (any format), or parsed Parquet directories.")]


def set_torch_threads(threads: int | None) -> None:
    """Apply ``--threads`` (or the default thread count) before any model work starts."""
    from coral.encoders.runtime import set_threads

    set_threads(threads)
