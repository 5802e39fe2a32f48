"""``coral corpus parse`` end to end: Dask, Parquet parts, resuming, and reading parts back.

    /tmp/venv/bin/python benchmarks/corpus_parse.py [CORPUS ...] [--workers 2] [--chunk-size 500]

Prints the wall time and code cells per second of a fresh run (cluster start-up included),
the start-up of the local Dask cluster alone, the time of a rerun where every part is
already done, the speed of ``read_parsed_cells`` over the output, and its size on disk.
On a shared machine wall times swing with the load, so it also prints CPU-time rates of
one process over the first ``--cpu-units`` work units: reading + parsing alone, and the
same plus writing the Parquet part (``process_unit``), which isolates the pipeline's cost.
``benchmarks/parse.py`` measures reading and parsing without Dask and Parquet, so the
difference between the two is what the pipeline itself costs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from coral.corpora.cells import parse_safely
from coral.corpora.dask_runner import dask_client
from coral.corpora.parquet import cells_to_table, read_parsed_cells
from coral.corpora.pipeline import parse_corpus, process_unit
from coral.corpora.readers import ReaderOptions
from coral.corpora.units import plan_work_units
from coral.problems import ProblemLog

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "github"


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("corpus", nargs="*", type=Path, default=[DEFAULT_CORPUS])
    arguments.add_argument("--workers", type=int, default=2)
    arguments.add_argument("--chunk-size", type=int, default=500, help="notebooks per work unit")
    arguments.add_argument("--cpu-units", type=int, default=3, help="work units timed in CPU seconds")
    options = arguments.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    units = plan_work_units(options.corpus, notebooks_per_unit=options.chunk_size)[: options.cpu_units]
    cells_to_table([])  # pyarrow imports pandas on first use: a one-off second per process, not per cell
    started = time.process_time()
    notebooks = (notebook for unit in units for notebook in unit.notebooks(ProblemLog(), ReaderOptions()))
    cells = sum(len(parse_safely(notebook, ProblemLog())) for notebook in notebooks)
    parse_rate = cells / (time.process_time() - started)
    with tempfile.TemporaryDirectory() as folder:
        started = time.process_time()
        for unit in units:
            process_unit(unit, folder)
        unit_rate = cells / (time.process_time() - started)
    print(
        f"one process, {len(units)} units, {cells:,} cells: read + parse {parse_rate:,.0f} cells/CPU-s; "
        f"with the Parquet part {unit_rate:,.0f} cells/CPU-s (pipeline cost {parse_rate / unit_rate - 1:.0%})"
    )

    started = time.perf_counter()
    with dask_client(workers=options.workers):
        pass
    print(f"local cluster start + stop ({options.workers} workers): {time.perf_counter() - started:.1f} s")

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "parsed"
        summary = parse_corpus(options.corpus, out, workers=options.workers, notebooks_per_unit=options.chunk_size)
        cells = summary.stats.parsed_cells
        print(
            f"fresh run: {summary.units} parts, {summary.stats.notebooks:,} notebooks, {cells:,} code cells "
            f"in {summary.seconds:.1f} s = {cells / summary.seconds:,.0f} cells/s; {summary.problems} problems"
        )
        rerun = parse_corpus(options.corpus, out, workers=options.workers, notebooks_per_unit=options.chunk_size)
        print(f"rerun, all {rerun.units_reused} parts already done: {rerun.seconds:.1f} s")

        started = time.perf_counter()
        count = sum(1 for _ in read_parsed_cells(out))
        elapsed = time.perf_counter() - started
        size = sum(part.stat().st_size for part in out.glob("part-*.parquet"))
        print(f"read_parsed_cells: {count:,} cells in {elapsed:.1f} s = {count / elapsed:,.0f} cells/s")
        print(f"Parquet on disk: {size / 2**20:,.1f} MiB ({size / max(count, 1):,.0f} bytes per cell)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
