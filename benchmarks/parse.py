"""Reading + parsing + API resolution throughput, beside bare tree-sitter on the same cells.

    /tmp/venv/bin/python benchmarks/parse.py [CORPUS ...] [--workers N] [--units-of 250]
                                             [--breakdown 20000] [--modes read,bare,full]

Prints, for 1 core and for ``--workers`` processes (all cores by default): code cells per
second (wall clock, and per CPU second of the workers, which is what dedicated cores give
when the machine is shared) reading only, reading + bare tree-sitter parsing, and end to end (reading + ``parse_notebook``: graph, features, API
resolution); peak RSS of the 1-core end-to-end run at 25/50/100% of the corpus (it streams,
so this should stay flat); and the 30 most common qualified APIs as a sanity check that
common calls resolve. Work units are the pipeline's (line ranges of shards), so the
multi-process figure is what ``coral corpus parse`` can reach. Last, a per-stage breakdown
on the first ``--breakdown`` code cells, in this process (CPU microseconds per cell, best
of three): reading (gzip + JSON + records), IPython syntax rewriting, counting code lines,
the bare tree-sitter parse, the walk with resolution switched off, the walk with it (the
difference is resolution), ParsedCell construction, and ``parse_notebook`` as a whole.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections import Counter
from multiprocessing import get_context
from pathlib import Path

from coral.corpora.magics import rewrite_magics
from coral.corpora.parse import _parsed_cell, _parser, _walk, count_code_lines, parse_notebook
from coral.corpora.readers import read_source
from coral.corpora.records import Notebook
from coral.corpora.resolve import Scope, Value
from coral.corpora.units import WorkUnit, plan_work_units
from coral.problems import ProblemLog

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "github"
MODES = ("read", "bare", "full")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_unit(job: tuple[WorkUnit, str]) -> tuple[int, float, Counter[str]]:
    """One work unit in one mode: (code cells, CPU seconds, API counts when parsing fully)."""
    unit, mode = job
    cpu_started = time.process_time()
    problems = ProblemLog()
    parser = _parser()
    cells = 0
    apis: Counter[str] = Counter()
    for source, start, stop in unit.slices:
        for notebook in read_source(source, problems, start=start, stop=stop):
            if mode == "full":
                parsed = parse_notebook(notebook, problems)
                cells += len(parsed)
                for cell in parsed:
                    apis.update(cell.apis)
            else:
                for cell in notebook.cells:
                    if cell.cell_type == "code":
                        cells += 1
                        if mode == "bare":
                            parser.parse(cell.source.encode("utf-8", "replace"))
    return cells, time.process_time() - cpu_started, apis


def measure(units: list[WorkUnit], mode: str, workers: int) -> tuple[float, float, int, Counter[str]]:
    """Cells per wall-clock second and per CPU second of each worker over all units, with
    ``workers`` processes (1: in this process). On a shared machine the CPU figure is what
    the same number of dedicated cores would give (units are small, so workers balance)."""
    jobs = [(unit, mode) for unit in units]
    started = time.perf_counter()
    total_cells = 0
    cpu_seconds = 0.0
    apis: Counter[str] = Counter()
    checkpoints = {round(len(units) * share): share for share in (0.25, 0.5, 1.0)}
    if workers == 1:
        for done, job in enumerate(jobs, start=1):
            cells, cpu, unit_apis = run_unit(job)
            total_cells += cells
            cpu_seconds += cpu
            apis.update(unit_apis)
            if mode == "full" and done in checkpoints:
                print(f"    {checkpoints[done]:>4.0%} of the corpus: {total_cells:,} cells, "
                      f"peak RSS {peak_rss_mib():,.0f} MiB")
    else:
        with get_context("fork").Pool(workers) as pool:
            for cells, cpu, unit_apis in pool.imap_unordered(run_unit, jobs):
                total_cells += cells
                cpu_seconds += cpu
                apis.update(unit_apis)
    wall_rate = total_cells / (time.perf_counter() - started)
    return wall_rate, total_cells / (cpu_seconds / workers), total_cells, apis


class InertScope(Scope):
    """A scope that resolves nothing: the walk timed with it, and with a real Scope, tells the
    walk's own cost (graph, features) from resolution's."""

    def lookup(self, name: str) -> Value:
        return _INERT

    def attribute(self, obj: Value | None, attr: str) -> Value:
        return _INERT

    def call_result(self, func: Value) -> Value:
        return _INERT

    def subscript(self, obj: Value | None, index_node_type: str | None) -> Value | None:
        return None

    def apis_of_call(self, func: Value) -> tuple[str, ...]:
        return ()

    def bind(self, name: str, value: Value) -> None:
        pass

    def bind_result(self, name: str, value: Value | None) -> None:
        pass

    def import_module(self, dotted: str, alias: str | None) -> None:
        pass

    def import_from(self, module: str, name: str, alias: str | None) -> None:
        pass

    def import_star(self, module: str) -> bool:
        return False

    def unpack_types(self, value: Value | None, count: int) -> list[Value | None]:
        return [None] * count


_INERT = Value("name", "name")


def breakdown(units: list[WorkUnit], cell_count: int) -> None:
    """CPU microseconds per code cell of each stage of ``parse_notebook``, on the first
    ``cell_count`` code cells, each stage timed alone (best of three)."""

    def best_of_three(stage) -> float:
        times = []
        for _ in range(3):
            started = time.process_time()
            stage()
            times.append(time.process_time() - started)
        return min(times) * 1e6 / len(sources)

    def read() -> list[Notebook]:
        notebooks, cells = [], 0
        for source, start, stop in (piece for unit in units for piece in unit.slices):
            for notebook in read_source(source, ProblemLog(), start=start, stop=stop):
                notebooks.append(notebook)
                cells += sum(cell.cell_type == "code" for cell in notebook.cells)
                if cells >= cell_count:
                    return notebooks
        return notebooks

    notebooks = read()
    by_notebook = [[cell for cell in notebook.cells if cell.cell_type == "code"] for notebook in notebooks]
    sources = [cell.source for cells in by_notebook for cell in cells]
    texts = [rewrite_magics(source) for source in sources]
    codes = [text.encode("utf-8", "replace") for text in texts]
    parser = _parser()
    trees = [parser.parse(code) for code in codes]
    facts = []

    def walk(scope_class: type[Scope]) -> None:
        facts.clear()
        position = 0
        for cells in by_notebook:
            scope = scope_class()
            for _ in cells:
                facts.append(_walk(trees[position].root_node, texts[position], codes[position], scope, 0))
                scope.reset_nesting()
                position += 1

    stages = {
        "read (gzip, JSON, records)": read,
        "rewrite IPython syntax": lambda: [rewrite_magics(source) for source in sources],
        "count code lines": lambda: [count_code_lines(source) for source in sources],
        "tree-sitter parse": lambda: [parser.parse(code) for code in codes],
        "walk, resolution off": lambda: walk(InertScope),
        "walk with resolution": lambda: walk(Scope),
        "ParsedCell construction": lambda: [
            _parsed_cell(cell, fact, 0.0) for cell, fact in zip((c for cs in by_notebook for c in cs), facts)
        ],
        "parse_notebook (all but reading)": lambda: [parse_notebook(notebook) for notebook in notebooks],
    }
    print(f"per-stage CPU cost on the first {len(sources):,} code cells (best of 3):")
    for name, stage in stages.items():
        print(f"  {name:<34} {best_of_three(stage):7.1f} us/cell")


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("corpus", nargs="*", type=Path, default=[DEFAULT_CORPUS])
    arguments.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    arguments.add_argument("--units-of", type=int, default=250, help="notebooks per work unit")
    arguments.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of read,bare,full")
    arguments.add_argument("--breakdown", type=int, default=20_000, help="code cells for the per-stage costs (0: skip)")
    options = arguments.parse_args()
    units = plan_work_units(options.corpus, notebooks_per_unit=options.units_of)
    print(f"{len(units)} work units over {', '.join(map(str, options.corpus))}; "
          f"load average before: {os.getloadavg()[0]:.1f}")
    full_apis: Counter[str] = Counter()
    for mode in options.modes.split(","):
        for workers in sorted({1, options.workers}):
            wall_rate, cpu_rate, cells, apis = measure(units, mode, workers)
            print(f"{mode:>4} x{workers}: {wall_rate:>8,.0f} code cells/s wall clock, "
                  f"{cpu_rate:>8,.0f} per {workers} dedicated core(s) ({cells:,} cells)")
            full_apis = apis or full_apis
    if full_apis:
        print("top 30 qualified APIs:")
        for name, count in full_apis.most_common(30):
            print(f"  {count:>7,}  {name}")
    if options.breakdown:  # last: the cells it holds would blur the streaming run's peak RSS
        breakdown(units, options.breakdown)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
