"""Ablation grids: the CORAL paper's evaluation (Figure 3, Tables I-III) as one resumable job.

A spec (YAML or TOML; ``coral/data/ablations/*.yaml`` are examples) names the runs (a stage
model and its settings), the seeds and the training sizes. The job

1. reads the gold cells once, from ``eval_corpus`` with only the gold notebooks read
   (``ReaderOptions.only_ids``);
2. parses the training corpus once into ``OUT/cache/train-cells`` (Parquet, resumable), draws
   one pool of whole notebooks (the largest training size of the grid), leaving out every
   gold cell and gold notebook and every notebook of ``exclude_notebooks``, and labels the
   pool once per LF set and aggregation (``OUT/cache/weak-*.npz``);
3. trains and predicts every (run, seed) of the grid, writing each one's predictions and
   ``result.json`` atomically under ``OUT/grid/<run>/seed-<seed>/``: a rerun skips finished
   cells, and a killed run loses at most the cell it was in;
4. scores every gold set (``coral.jobs.comparison``: notebook-bootstrap intervals, Wilcoxon
   against ``reference`` with Holm) and writes the tables (CSV, Markdown, booktabs LaTeX)
   and bar charts (PNG, PDF) under ``OUT/results/<gold>/``.

Intervals and the paired test are computed on the first seed's predictions; ``*_mean`` and
``*_sd`` columns summarise all seeds.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure
from tqdm import tqdm

from coral.atomic import atomic_path, write_text
from coral.corpora.cells import read_cells
from coral.corpora.formats.common import ReaderOptions
from coral.corpora.parquet import is_parsed_dir, parsed_cell_ids, read_parsed_cells
from coral.corpora.pipeline import parse_corpus
from coral.corpora.records import ParsedCell
from coral.encoders.base import make_encoder
from coral.jobs.comparison import SCORES, compare_models, display_table
from coral.jobs.evaluate import gold_ids, read_gold
from coral.jobs.predict import predict_cells
from coral.jobs.train import choose_notebooks, excluded_ids, weak_labels
from coral.labeling.model import HeuristicStageModel
from coral.predictions import Prediction, predictions_from_proba, read_predictions, write_predictions
from coral.problems import ProblemLog
from coral.stages import is_covered
from coral.studies.output import StudyOutput

SPECS_DIR = Path(__file__).resolve().parents[1] / "data" / "ablations"
RUN_KEYS = {"name", "model", "params", "lfs", "aggregation", "coverage", "train_cells", "sweep", "label"}
SPEC_KEYS = {"description", "corpus", "eval_corpus", "exclude_gold", "exclude_notebooks", "lfs", "label_model", "seeds",
             "train_cells", "reference", "bootstrap", "random_seeds", "params", "runs", "tables"}
HEURISTICS = "heuristics"


@dataclass(frozen=True)
class Run:
    """One model with its settings: a row of the tables."""

    name: str
    model: str  # heuristics, or an encoder name (coral, gnn, lda, word2vec, bert, context)
    params: dict[str, Any] = field(default_factory=dict)
    lfs: tuple[str, ...] = ()  # heuristics: the LFs it applies; encoders: the weak labels' LFs
    aggregation: str = ""
    coverage: float = 1.0  # share of the weakly labelled training cells whose label is kept
    train_cells: int | None = None  # None: the whole pool
    label: str = ""  # the setting a sweep gave it, for the tables

    @property
    def seeded(self) -> bool:
        return self.model != HEURISTICS or self.aggregation == "labelmodel"


@dataclass
class AblationSpec:
    corpus: list[Path]
    eval_corpus: list[Path]
    runs: list[Run]
    tables: dict[str, list[str]]
    exclude_gold: list[Path] = field(default_factory=list)
    exclude_notebooks: list[Path] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])
    reference: str = "coral"
    bootstrap: int = 1000
    random_seeds: int = 100
    description: str = ""

    @property
    def pool_cells(self) -> int | None:
        sizes = [run.train_cells for run in self.runs if run.model != HEURISTICS]
        return None if not sizes or None in sizes else max(sizes)  # type: ignore[type-var]


def spec_path(name_or_path: str | Path) -> Path:
    """A spec file, or the name of one shipped with coral (``cpu``, ``paper``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = SPECS_DIR / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    names = ", ".join(sorted(p.stem for p in SPECS_DIR.glob("*.yaml")))
    raise FileNotFoundError(f"no spec file {name_or_path!r} (shipped specs: {names})")


def load_spec(name_or_path: str | Path, data: str | Path = ".") -> AblationSpec:
    """Read a YAML or TOML spec; relative paths in it are taken from ``data``."""
    path = spec_path(name_or_path)
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: not a valid spec ({error})") from error
    if not isinstance(raw, dict) or not raw.get("runs"):
        raise ValueError(f"{path}: a spec is a mapping with at least 'corpus', 'eval_corpus' and 'runs'")
    unknown = set(raw) - SPEC_KEYS
    if unknown:
        raise ValueError(f"{path}: unknown spec keys {', '.join(sorted(unknown))} (known: {', '.join(sorted(SPEC_KEYS))})")
    root = Path(data)

    def paths(key: str) -> list[Path]:
        return [Path(p) if Path(p).is_absolute() else root / p for p in raw.get(key) or []]

    defaults = {
        "lfs": tuple(raw.get("lfs") or ("paper",)), "aggregation": raw.get("label_model", "priority"),
        "train_cells": raw.get("train_cells"),
    }
    runs = [run for entry in raw["runs"] for run in _expand_run(entry, defaults, raw.get("params") or {}, path)]
    names = [run.name for run in runs]
    duplicated = sorted(name for name, n in Counter(names).items() if n > 1)
    if duplicated:
        raise ValueError(f"{path}: run names must be unique; repeated: {', '.join(duplicated)}")
    tables = {}
    for table, members in (raw.get("tables") or {"all": [run["name"] for run in raw["runs"]]}).items():
        expanded = [run.name for member in members for run in runs if run.name == member or run.name.startswith(f"{member}@")]
        missing = [member for member in members if not any(n == member or n.startswith(f"{member}@") for n in names)]
        if missing:
            raise ValueError(f"{path}: table {table!r} names runs the spec lacks: {', '.join(missing)}")
        tables[table] = expanded
    spec = AblationSpec(
        corpus=paths("corpus"), eval_corpus=paths("eval_corpus"), runs=runs, tables=tables,
        exclude_gold=paths("exclude_gold"), exclude_notebooks=paths("exclude_notebooks"),
        seeds=[int(seed) for seed in raw.get("seeds") or [0]], reference=str(raw.get("reference", runs[0].name)),
        bootstrap=int(raw.get("bootstrap", 1000)), random_seeds=int(raw.get("random_seeds", 100)),
        description=str(raw.get("description", "")),
    )
    if not spec.corpus or not spec.eval_corpus:
        raise ValueError(f"{path}: 'corpus' (training) and 'eval_corpus' (where the gold cells are) are required")
    if spec.reference not in names:
        raise ValueError(f"{path}: reference {spec.reference!r} is not a run")
    return spec


def _expand_run(entry: Mapping[str, Any], defaults: Mapping[str, Any], params: Mapping[str, Any], path: Path) -> list[Run]:
    """A run entry, and one run per value of its ``sweep`` (``{key: [values]}``)."""
    unknown = set(entry) - RUN_KEYS
    if unknown or "name" not in entry or "model" not in entry:
        raise ValueError(f"{path}: run {entry!r}: needs 'name' and 'model'; unknown keys: {', '.join(sorted(unknown)) or 'none'}")
    model = str(entry["model"])
    run = Run(
        name=str(entry["name"]), model=model,
        params={**(params.get(model) or {}), **(entry.get("params") or {})},
        lfs=tuple(entry.get("lfs") or defaults["lfs"]), aggregation=str(entry.get("aggregation", defaults["aggregation"])),
        coverage=float(entry.get("coverage", 1.0)), train_cells=entry.get("train_cells", defaults["train_cells"]),
        label=str(entry.get("label", "")),
    )
    sweep = entry.get("sweep") or {}
    if not sweep:
        return [run]
    if len(sweep) != 1:
        raise ValueError(f"{path}: run {run.name!r}: a sweep varies one key, e.g. sweep: {{graph__max_nodes: [80, 120, 160]}}")
    (key, values), = sweep.items()
    runs = []
    for value in values:
        if key in ("coverage", "train_cells"):
            varied = replace(run, **{key: value})
        else:
            varied = replace(run, params={**run.params, key: value})
        runs.append(replace(varied, name=f"{run.name}@{key}={value}", label=f"{key}={value}"))
    return runs


@dataclass
class GridCell:
    run: Run
    seed: int

    def directory(self, out: Path) -> Path:
        return out / "grid" / self.run.name.replace("/", "_") / f"seed-{self.seed}"


def grid_cells(spec: AblationSpec) -> list[GridCell]:
    """Every (run, seed) to train; an unseeded heuristic runs once, with the first seed."""
    return [GridCell(run, seed) for run in spec.runs for seed in (spec.seeds if run.seeded else spec.seeds[:1])]


@dataclass
class TrainingPool:
    """The training cells of the grid and their weak labels (one matrix per LF set + aggregation)."""

    cells: list[ParsedCell]
    n_excluded: int
    labels: dict[tuple[tuple[str, ...], str], np.ndarray] = field(default_factory=dict)

    def weak_labels(self, lfs: tuple[str, ...], aggregation: str, cache: Path, problems: ProblemLog) -> np.ndarray:
        key = (lfs, aggregation)
        if key not in self.labels:
            path = cache / f"weak-{'+'.join(Path(lf).stem for lf in lfs)}-{aggregation}.npz"
            ids = np.array([cell.id for cell in self.cells])
            if path.is_file():
                stored = np.load(path, allow_pickle=False)
                if np.array_equal(stored["ids"], ids):
                    self.labels[key] = stored["y"]
            if key not in self.labels:
                self.labels[key] = weak_labels(self.cells, lfs, aggregation, problems, progress=True)
                with atomic_path(path) as temporary:
                    np.savez(temporary, ids=ids, y=self.labels[key])
        return self.labels[key]


def training_pool(spec: AblationSpec, gold_files: Sequence[Path], cache: Path, problems: ProblemLog,
                  workers: int = 1) -> TrainingPool:
    """Parse the training corpus once (Parquet cache, on ``workers`` processes) and draw the
    grid's pool of notebooks, leaving out gold cells and notebooks and ``exclude_notebooks``.

    Notebooks are sized from two Parquet columns; only the pool's cells are built."""
    parsed = [path for path in spec.corpus if is_parsed_dir(path)]
    corpora = [path for path in spec.corpus if not is_parsed_dir(path)]
    if corpora:
        cached = cache / "train-cells"
        parse_corpus(corpora, cached, workers=workers, progress=True)  # its problems: cache/train-cells/errors.jsonl
        parsed.append(cached)
    skip_cells, skip_notebooks = excluded_ids([*gold_files, *spec.exclude_gold], spec.exclude_notebooks)
    sizes: Counter[str] = Counter()  # usable cells per notebook, in input order
    source: dict[str, Path] = {}  # the parsed directory a notebook is read from: the first that has it
    n_excluded = 0
    for directory in parsed:
        for cell_id, notebook_id in parsed_cell_ids(directory):
            if source.setdefault(notebook_id, directory) != directory:
                continue
            if cell_id in skip_cells or notebook_id in skip_notebooks:
                n_excluded += 1
            else:
                sizes[notebook_id] += 1
    chosen = set(sizes) if spec.pool_cells is None else choose_notebooks(sizes, spec.pool_cells, seed=0)
    cells = [cell for directory in parsed
             for cell in read_parsed_cells(directory, notebooks=frozenset(n for n in chosen if source[n] == directory))
             if cell.id not in skip_cells]
    leaked = {cell.id for cell in cells} & skip_cells
    if leaked:  # cannot happen through the filter above; a guard against future changes of it
        raise ValueError(f"refusing to train on gold cells: {sorted(leaked)[:5]}")
    if not cells:
        raise ValueError(f"no training cell left in {', '.join(map(str, spec.corpus))} after the exclusions")
    return TrainingPool(cells, n_excluded)


def _training_subset(pool: TrainingPool, run: Run, seed: int, y: np.ndarray) -> tuple[list[ParsedCell], np.ndarray]:
    """The run's training cells (whole notebooks, seeded) and their weak labels, coverage subsampled."""
    index = np.arange(len(pool.cells))
    if run.train_cells is not None and run.train_cells < len(pool.cells):
        counts = Counter(cell.notebook_id for cell in pool.cells)
        chosen = choose_notebooks(counts, int(run.train_cells), seed)
        index = np.array([i for i, cell in enumerate(pool.cells) if cell.notebook_id in chosen])
    labels = y[index].copy()
    if run.coverage < 1:
        covered = np.flatnonzero(is_covered(labels))
        rng = np.random.default_rng(seed)
        dropped = rng.choice(covered, size=int(round(len(covered) * (1 - run.coverage))), replace=False)
        labels[dropped] = 0
    return [pool.cells[i] for i in index], labels


def run_grid_cell(cell: GridCell, pool: TrainingPool, eval_cells: list[ParsedCell], out: Path, device: str,
                  problems: ProblemLog) -> dict[str, Any]:
    """Train and predict one (run, seed); write predictions, then result.json (the done marker)."""
    started = time.perf_counter()
    run = cell.run
    directory = cell.directory(out)
    directory.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"run": run.name, "seed": cell.seed, "model": run.model, "params": run.params}
    if run.model == HEURISTICS:
        model = HeuristicStageModel(lf_specs=run.lfs, aggregation=run.aggregation, on_error="log", seed=cell.seed)  # type: ignore[arg-type]
        if run.aggregation == "labelmodel":
            model.fit(pool.cells, problems=problems)
        predictions = predict_cells(model, eval_cells, problems)
    else:
        y = pool.weak_labels(run.lfs, run.aggregation, out / "cache", problems)
        cells, labels = _training_subset(pool, run, cell.seed, y)
        encoder = make_encoder(run.model, device=device, **{**run.params, "seed": cell.seed})
        encoder.fit(cells, labels, checkpoint_dir=None, progress=False)
        predictions = predictions_from_proba(eval_cells, encoder.predict_proba(eval_cells))
        result.update(n_train=len(cells), n_covered=int(is_covered(labels).sum()))
    write_predictions(predictions, directory / "predictions.jsonl")  # atomic, as result.json
    result["seconds"] = round(time.perf_counter() - started, 1)
    write_text(directory / "result.json", json.dumps(result, indent=1, default=str) + "\n")
    return result


@dataclass
class AblationRun:
    """What ``run_ablation`` did."""

    out: Path
    trained: int
    skipped: int
    results: dict[str, Path]  # gold set -> its results folder
    n_excluded: int


def run_ablation(spec: AblationSpec, gold_files: Sequence[Path], out: str | Path, *, device: str = "auto",
                 workers: int = 1, finished_only: bool = False, progress: bool = True) -> AblationRun:
    """Run the grid (resumably), then score and tabulate every gold set. ``finished_only``
    trains nothing and tabulates the runs whose grid cells have all finished (while a long
    grid is still running, or after it was stopped)."""
    out = Path(out)
    (out / "cache").mkdir(parents=True, exist_ok=True)
    problems = ProblemLog()
    golds = {Path(path).name.removesuffix(".jsonl"): read_gold(path) for path in gold_files}
    if finished_only:
        spec = finished_part(spec, out)
    grid = grid_cells(spec)
    todo = [cell for cell in grid if not (cell.directory(out) / "result.json").is_file()]
    pool = TrainingPool([], 0)
    if todo:
        cells_ids, notebooks = gold_ids(gold_files)
        only = ReaderOptions(only_ids=frozenset(cells_ids | notebooks))
        eval_cells = list(read_cells(spec.eval_corpus, problems=problems, options=only))
        pool = training_pool(spec, gold_files, out / "cache", problems, workers)
    for cell in tqdm(todo, desc="ablation grid", unit=" runs", disable=not progress):
        if progress:
            tqdm.write(f"{cell.run.name} seed {cell.seed}")
        run_grid_cell(cell, pool, eval_cells, out, device, problems)
    problems.write_jsonl(out / "problems.jsonl")
    results = {name: write_results(spec, grid, gold, out, out / "results" / name) for name, gold in golds.items()}
    return AblationRun(out, len(todo), len(grid) - len(todo), results, pool.n_excluded)


def finished_part(spec: AblationSpec, out: Path) -> AblationSpec:
    """The spec cut down to the runs whose every grid cell has a result, and the tables to them."""
    finished = {cell.run.name for cell in grid_cells(spec)} - {
        cell.run.name for cell in grid_cells(spec) if not (cell.directory(out) / "result.json").is_file()}
    if spec.reference not in finished:
        raise ValueError(f"the reference run {spec.reference!r} has not finished in {out}: nothing to test against")
    tables = {name: [run for run in members if run in finished] for name, members in spec.tables.items()}
    return replace(spec, runs=[run for run in spec.runs if run.name in finished],
                   tables={name: members for name, members in tables.items() if members})


def _seed_predictions(spec: AblationSpec, grid: list[GridCell], out: Path) -> dict[int, dict[str, list[Prediction]]]:
    """seed -> run name -> predictions; an unseeded run's one result stands for every seed."""
    by_run: dict[str, dict[int, list[Prediction]]] = {}
    for cell in grid:
        by_run.setdefault(cell.run.name, {})[cell.seed] = list(read_predictions(cell.directory(out) / "predictions.jsonl"))
    return {seed: {name: runs.get(seed, next(iter(runs.values()))) for name, runs in by_run.items()} for seed in spec.seeds}


def write_results(spec: AblationSpec, grid: list[GridCell], gold: Mapping[str, str], out: Path, folder: Path) -> Path:
    """Score one gold set: ``all`` (every run) and the spec's tables, each as CSV, Markdown and
    LaTeX, with a bar chart of accuracy (PNG, PDF); ``seeds.csv`` holds every seed's scores."""
    per_seed = []
    for seed, predictions in _seed_predictions(spec, grid, out).items():
        table = compare_models(predictions, {folder.name: gold}, reference=spec.reference, n_boot=spec.bootstrap,
                               random_seeds=spec.random_seeds, seed=seed)
        per_seed.append(table.assign(seed=seed))
    seeds = pd.concat(per_seed, ignore_index=True)
    summary = per_seed[0].copy()
    spread = seeds.groupby("model")[list(SCORES)].agg(["mean", "std"])
    for score in ("accuracy", "macro_f1"):
        summary[f"{score}_mean"] = summary["model"].map(spread[(score, "mean")])
        summary[f"{score}_sd"] = summary["model"].map(spread[(score, "std")]).fillna(0.0)
    labels = {run.name: run.label for run in spec.runs}
    summary.insert(2, "setting", summary["model"].map(labels))
    output = StudyOutput(folder)
    output.table("seeds", seeds)
    for name, members in {"all": [run.name for run in spec.runs], **spec.tables}.items():
        table = summary[summary["model"].isin(members)].set_index("model").loc[[m for m in members if m in set(summary["model"])]].reset_index()
        shown = display_table(table, spec.reference).drop(columns=["gold"])
        shown.insert(1, "setting", table["setting"].to_numpy())
        shown.insert(4, "accuracy % mean ± sd", [f"{100 * m:.1f} ± {100 * s:.1f}" for m, s in zip(table["accuracy_mean"], table["accuracy_sd"])])
        output.table(name, table, digits=1, display=shown, latex=True)
        output.figure(name, accuracy_figure(table, f"{folder.name}: {name}"))
    return folder


def accuracy_figure(table: pd.DataFrame, title: str) -> Figure:
    """Bars of accuracy (first seed) with the bootstrap 95% interval and each run's seed mean."""
    figure = Figure(figsize=(max(4.0, 0.55 * len(table) + 1.5), 3.6))
    axes = figure.add_subplot()
    x = np.arange(len(table))
    accuracy = 100 * table["accuracy"].to_numpy()
    error = np.vstack([accuracy - 100 * table["accuracy_lo"].to_numpy(), 100 * table["accuracy_hi"].to_numpy() - accuracy])
    axes.bar(x, accuracy, yerr=error, capsize=3, color="#4c72b0")
    axes.scatter(x, 100 * table["accuracy_mean"].to_numpy(), color="black", marker="_", s=120, zorder=3, label="mean over seeds")
    axes.set_xticks(x, table["model"], rotation=45, ha="right", fontsize=8)
    axes.set_ylabel("accuracy % (95% CI)")
    axes.set_ylim(0, 100)
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=7, frameon=False)
    return figure


def describe_spec(spec: AblationSpec) -> dict[str, Any]:
    """The grid in numbers, for the command line."""
    grid = grid_cells(spec)
    return {"runs": len(spec.runs), "grid_cells": len(grid), "seeds": spec.seeds, "pool_cells": spec.pool_cells,
            "tables": list(spec.tables), "runs_by_model": dict(Counter(run.model for run in spec.runs))}

