"""Scale: a corpus replicated to a million code cells through parse, label and predict.

    .venv/bin/python benchmarks/scale.py [--cells 1000000] [--corpus SHARD ...] [--work DIR]
                                         [--stages parse,label,predict] [--models heuristics,default]
                                         [--workers 1]

Replicates the corpus's notebooks (JSON Lines shards of whole notebooks; by default the
GitHub corpus next to the repository) into shards of half of ``--cells`` code cells, each copy
of a notebook with a new id (``<id>~<copy>``); the full size is those shards and a second copy
of them (new ids again), so that both sizes hold the same mix of notebooks and the peak
memory of the two differs only by size. Then, at half and at full size, runs each stage as
the command a user runs, in a child process:

- ``parse``: ``coral corpus parse SHARDS --out PARSED --workers W``;
- ``label``: ``coral label PARSED --out LABELS`` (the default LF sets);
- ``predict``: ``coral predict PARSED --model M --out PREDICTIONS`` for each of ``--models``.

and prints, per stage and size, the code cells it handled, wall time, cells/s and the peak
memory: the largest resident set of the process tree (summed over its processes, sampled
every 0.1 s) and of the largest single process (``ru_maxrss`` of the child, from ``wait4``).
Last, for each stage, how much peak memory grows from half to full size per 100,000 more
code cells; under 20 MiB (100 MiB from half a million to a million) is called flat. Imports
and models take about 400 MiB before the first cell; at small sizes, growth of the
allocators' pools weighs on the figure, so run it at the full million to judge.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "github"
MAX_CELLS_PER_SHARD = 25_000  # code cells per replicated shard file, at most
STAGES = ("parse", "label", "predict")
FLAT_MIB_PER_100K = 20  # peak memory growing less than this per 100,000 more code cells counts as flat
CORAL = [sys.executable, "-c", "from coral.cli import app; app()"]


def code_cell_count(notebook: object) -> int:
    """Code cells in notebook JSON (v4 cells, or v3 worksheets)."""
    if not isinstance(notebook, dict):
        return 0
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        cells = [cell for sheet in notebook.get("worksheets") or [] if isinstance(sheet, dict)
                 for cell in sheet.get("cells") or []]
    return sum(isinstance(cell, dict) and cell.get("cell_type") == "code" for cell in cells)


def corpus_records(corpus: list[Path]) -> Iterator[tuple[int, dict]]:
    """``(copy, record)`` for the corpus's records, over and over, each pass a new copy."""
    for copy in itertools.count():
        for shard in corpus:
            with gzip.open(shard, "rt", encoding="utf-8") as lines:
                for line in lines:
                    if line.strip():
                        yield copy, json.loads(line)


def replicate(corpus: list[Path], cells: int, out: Path, first_file: int = 0) -> list[Path]:
    """Shards in ``out`` holding at least ``cells`` code cells, about 20 of them, each copy of a
    notebook with a new id (``<id>~<copy>``), numbered from ``first_file``."""
    per_shard = min(MAX_CELLS_PER_SHARD, max(cells // 20, 1))
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    written = in_file = 0
    stream = None
    for copy, record in corpus_records(corpus):
        if stream is None:
            path = out / f"part-{first_file + len(files):05d}.jsonl.gz"
            stream = gzip.open(path, "wt", encoding="utf-8", compresslevel=1)
        record["id"] = f"{record['id']}~{copy}"
        stream.write(json.dumps(record) + "\n")
        n_cells = code_cell_count(record.get("notebook"))
        written += n_cells
        in_file += n_cells
        if in_file >= per_shard or written >= cells:
            stream.close()
            stream = None
            files.append(path)
            in_file = 0
            if written >= cells:
                return files
    raise ValueError("the corpus holds no code cell")


@dataclass
class Measure:
    seconds: float
    tree_peak_mib: float
    process_peak_mib: float


def run_measured(command: list[str], log: Path) -> Measure:
    """Run a command, sampling the resident memory of its process tree; fails on a non-zero exit."""
    started = time.perf_counter()
    with open(log, "w") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        process = psutil.Process(child.pid)
        tree_peak = 0
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            total = 0
            try:
                for member in [process, *process.children(recursive=True)]:
                    total += member.memory_info().rss
            except psutil.Error:
                pass  # a process ended while being sampled
            tree_peak = max(tree_peak, total)
            time.sleep(0.1)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command[3:])} failed ({child.returncode}); see {log}")
    return Measure(seconds, tree_peak / 2**20, usage.ru_maxrss / 1024)


def stage_commands(stage: str, shards: list[Path], work: Path, args: argparse.Namespace) -> list[tuple[str, list[str], Path]]:
    """``(name, command, output)`` for one stage at one size."""
    parsed = work / "parsed"
    if stage == "parse":
        return [("parse", [*CORAL, "corpus", "parse", *map(str, shards), "--out", str(parsed), "--workers", str(args.workers)], parsed)]
    if stage == "label":
        return [("label", [*CORAL, "label", str(parsed), "--out", str(work / "labels")], work / "labels")]
    return [(f"predict {model}", [*CORAL, "predict", str(parsed), "--model", model, "--out", str(work / f"predictions-{model}.jsonl")],
             work / f"predictions-{model}.jsonl") for model in args.models]


def cells_handled(stage: str, output: Path) -> int:
    if stage == "parse":
        return json.loads((output / "_summary.json").read_text())["parsed_cells"]
    if stage == "label":
        return json.loads((output / "_label_matrix.json").read_text())["n_cells"]
    with open(output, encoding="utf-8") as lines:
        return sum(1 for _ in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=1_000_000, help="code cells at full size (default 1,000,000)")
    parser.add_argument("--corpus", type=Path, nargs="+", default=sorted(DEFAULT_CORPUS.glob("part-*.jsonl.gz")),
                        help="gzipped JSON Lines shards of whole notebooks to replicate (default: the GitHub corpus)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the shards and outputs (default: a temporary one)")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated stages (default parse,label,predict)")
    parser.add_argument("--models", default="heuristics", help="comma-separated models for predict (default heuristics; "
                        "'default' is the shipped encoder)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes for parse (default 1)")
    args = parser.parse_args()
    args.models = args.models.split(",")
    stages = args.stages.split(",")
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        started = time.perf_counter()
        half = replicate(args.corpus, args.cells // 2, work / "shards")
        # full size: the half's notebooks once more, with new ids, so that both sizes hold the same mix
        twin = replicate(half, args.cells // 2, work / "shards", first_file=len(half))
        print(f"replicated {', '.join(path.name for path in args.corpus)} to {args.cells // 2:,}+ code cells in "
              f"{len(half)} shards, then those once more ({time.perf_counter() - started:.0f} s)")
        sizes = {"half": half, "full": half + twin}
        peaks: dict[str, dict[str, tuple[int, float]]] = {}  # stage -> size -> (code cells, tree peak MiB)
        print(f"{'size':<5} {'stage':<20} {'code cells':>11} {'wall s':>8} {'cells/s':>8} {'tree peak MiB':>14} {'process peak MiB':>17}")
        for size, shards in sizes.items():
            size_dir = work / size
            size_dir.mkdir(exist_ok=True)
            for stage in (stage for stage in STAGES if stage in stages):
                for name, command, output in stage_commands(stage, shards, size_dir, args):
                    measure = run_measured(command, size_dir / f"{name.replace(' ', '-')}.log")
                    cells = cells_handled(stage, output)
                    peaks.setdefault(name, {})[size] = (cells, measure.tree_peak_mib)
                    print(f"{size:<5} {name:<20} {cells:>11,} {measure.seconds:>8.1f} {cells / measure.seconds:>8,.0f} "
                          f"{measure.tree_peak_mib:>14,.0f} {measure.process_peak_mib:>17,.0f}", flush=True)
        for name, by_size in peaks.items():
            if len(by_size) == 2:
                (half_cells, half_peak), (full_cells, full_peak) = by_size["half"], by_size["full"]
                growth = (full_peak - half_peak) / (full_cells - half_cells) * 100_000
                print(f"{name}: peak memory {half_peak:,.0f} -> {full_peak:,.0f} MiB from {half_cells:,} to {full_cells:,} "
                      f"code cells, {growth:+,.0f} MiB per 100,000 cells: "
                      f"{'flat' if growth < FLAT_MIB_PER_100K else 'grows with the corpus'}")


if __name__ == "__main__":
    main()
