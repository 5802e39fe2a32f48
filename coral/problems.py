"""What a run could not use, and why: the ``Problem`` record, the ``ProblemLog`` and its reasons.

Every stage reports a skipped notebook, cell, LF vote or study row as a ``Problem`` with one
of the reason codes below, so a problems file (``_errors.jsonl``, ``*.errors.jsonl``,
``problems.jsonl``) always says what was left out.

``problems=None``, wherever a function takes a log, means: report each problem as a
logged warning (:class:`WarningProblemLog`), so that nothing is dropped silently. Pass a
``ProblemLog`` to collect them instead.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from coral.atomic import atomic_path

log = logging.getLogger("coral.problems")

DETAIL_CHARS = 500  # a detail is a hint, not a dump of the input

# Reading corpora (coral.corpora.readers and formats)
NO_NOTEBOOKS = "no-notebooks"  # a folder holds no file a reader can read
UNKNOWN_FORMAT = "unknown-format"  # a JSON Lines file whose records match no known layout
UNREADABLE_FILE = "unreadable-file"  # the operating system refused to read a file (or a dangling/looping link)
SPECIAL_FILE = "special-file"  # a FIFO, device or socket where a file was expected: never read
CORRUPT_ARCHIVE = "corrupt-archive"  # a zip archive or member that cannot be read
NESTED_ARCHIVE = "nested-archive"  # an archive inside an archive: not opened
HIDDEN_FILE = "hidden-file"  # a hidden file or folder (name starting with "."): not read
DUPLICATE_NOTEBOOK = "duplicate-notebook"  # a notebook id already read from another input: the first is kept
TRUNCATED_ARCHIVE = "truncated-archive"  # a tar archive that ends early
TRUNCATED_GZIP = "truncated-gzip"  # a gzip stream that ends early
CORRUPT_GZIP = "corrupt-gzip"  # a gzip stream that cannot be decompressed
OVERSIZE = "oversize"  # past a ReaderOptions limit (notebook bytes, code-cell characters)
UNDECODABLE_BYTES = "undecodable-bytes"  # not UTF-8
INVALID_UNICODE = "invalid-unicode"  # lone surrogates in an id, file name or source: replaced by U+FFFD
MALFORMED_JSON = "malformed-json"  # empty, invalid or too deeply nested JSON
BAD_RECORD = "bad-record"  # a JSON Lines record that is not an object
NOT_A_NOTEBOOK = "not-a-notebook"  # JSON without a cell list
CONVERSION_FAILED = "conversion-failed"  # nbformat could not upgrade an old notebook
NON_PYTHON_KERNEL = "non-python-kernel"  # a notebook in another language
BAD_CELL = "bad-cell"  # a cell that is not an object
MISSING_FIELD = "missing-field"  # a record or cell without a field the layout needs
BAD_FIELD = "bad-field"  # a field of the wrong type
UNREADABLE_NOTEBOOK = "unreadable-notebook"  # a failure the reader did not foresee

# Parsing (coral.corpora.parse, coral.corpora.cells, coral.corpora.pipeline)
UNPARSABLE_CELL = "unparsable-cell"  # the parser could not read a code cell at all
PARSE_FAILED = "parse-failed"  # a failure the parser did not foresee; the notebook is skipped
UNIT_FAILED = "unit-failed"  # a work unit's task failed on a Dask worker

# Labeling (coral.labeling)
LF_ERROR = "lf-error"  # an LF raised or returned a non-label; counted as an abstain

# Studies (coral.studies)
DUPLICATE_CELL = "duplicate-cell"  # a cell id seen twice (predicted twice, two JuICe context cells at one position); the first is kept
NO_METADATA = "no-metadata"  # no metadata row for a notebook
NO_GROUP = "no-group"  # a metadata row without the grouping value
ALL_ABSTAIN = "all-abstain"  # the model abstained on every code cell of a unit
NEVER_CALLED = "never-called"  # a function no predicted cell calls
MALFORMED_PAPER = "malformed-paper"  # a paper record that cannot be read
MISSING_VALUE = "no-{column}"  # a paper without a value of ``column``: ``MISSING_VALUE.format(column=...)``
TOO_FEW_PAPERS = "too-few-papers"  # a regression with fewer papers than its minimum
NO_CONTRAST = "no-contrast"  # a regression whose predictor never varies
FIT_FAILED = "fit-failed"  # a regression that raised
NOT_CONVERGED = "not-converged"  # a regression whose optimiser did not converge

# Views (coral.views: annotate, report, show)
NOT_PREDICTED = "not-predicted"  # a notebook no prediction in the given predictions file names
NO_NOTEBOOK_JSON = "no-notebook-json"  # a corpus of cell records, where whole notebooks are needed
NOT_A_FILE = "not-a-file"  # --in-place on a notebook that is not an .ipynb file
DUPLICATE_OUTPUT = "duplicate-output"  # two input notebooks that would be written to one file
INVALID_AFTER_ANNOTATION = "invalid-after-annotation"  # nbformat rejects the annotated notebook; not written
INVALID_AS_READ = "invalid-as-read"  # written, but nbformat already rejected the notebook as read


_SURROGATE = re.compile("[\ud800-\udfff]")  # in a Python str, every surrogate is a lone one


def valid_unicode(text: str) -> str:
    """``text`` with lone surrogates (from JSON escapes or undecodable file names) replaced by U+FFFD,
    so that it can be written as UTF-8; other text is returned as is."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


@dataclass(slots=True, frozen=True)
class Problem:
    """Something a run could not use, and why. Nothing is dropped without one of these."""

    origin: str  # file path, with ":<line>" for JSON Lines shards; or the stage that met it
    item: str | None  # notebook or cell id when known
    reason: str  # one of the reason codes of this module
    detail: str = ""


class ProblemLog:
    """An append-only list of problems with counts by reason, written out as JSON Lines."""

    def __init__(self) -> None:
        self._problems: list[Problem] = []

    def add(self, origin: str, item: str | None, reason: str, detail: str = "") -> None:
        """Log a problem; ``item`` is made a string and lone surrogates replaced, so that any log can be written."""
        self._problems.append(Problem(
            origin=valid_unicode(str(origin)), item=None if item is None else valid_unicode(str(item)), reason=reason,
            detail=valid_unicode(detail[:DETAIL_CHARS])))

    def extend(self, problems: Iterable[Problem]) -> None:
        self._problems.extend(problems)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self._problems)

    def __len__(self) -> int:
        return len(self._problems)

    def by_reason(self) -> Counter[str]:
        return Counter(problem.reason for problem in self._problems)

    def write_jsonl(self, path: str | Path) -> None:
        with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as out:
            for problem in self._problems:
                out.write(json.dumps(asdict(problem), ensure_ascii=False) + "\n")

    @staticmethod
    def read_jsonl(path: str | Path) -> list[Problem]:
        with open(path, encoding="utf-8") as src:
            return [Problem(**json.loads(line)) for line in src if line.strip()]


class WarningProblemLog(ProblemLog):
    """The log behind ``problems=None``: problems still reach the user, as logged warnings."""

    def add(self, origin: str, item: str | None, reason: str, detail: str = "") -> None:
        super().add(origin, item, reason, detail)
        log.warning("skipped %s (%s): %s %s", item or origin, origin, reason, detail)

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.add(problem.origin, problem.item, problem.reason, problem.detail)


def problem_log(problems: ProblemLog | None) -> ProblemLog:
    """``problems`` itself, or for None a :class:`WarningProblemLog` (see the module docstring)."""
    return problems if problems is not None else WarningProblemLog()
