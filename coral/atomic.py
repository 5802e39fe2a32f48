"""Writing output files so that a killed run never leaves one half written.

Every output (predictions, problems logs, label matrices, model files, study tables and
figures, Parquet parts) is written to a temporary file beside its final path and renamed
onto it when complete: a reader sees the old file or the whole new one, never a part.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMPORARY_MARK = ".tmp-"


def temporary_path(path: Path) -> Path:
    """Where ``path`` is written before it is renamed: hidden, and named after this process.
    The suffix is kept, so that writers which go by it (matplotlib, pandas) still work."""
    return path.with_name(f".{path.stem}{TEMPORARY_MARK}{os.getpid()}{path.suffix}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` to; rename it onto ``path`` when the block ends,
    remove it if the block raises. Temporary files a killed run left for ``path`` are removed first."""
    path = Path(path)
    for stale in path.parent.glob(f".{glob.escape(path.stem)}{TEMPORARY_MARK}*{glob.escape(path.suffix)}"):
        stale.unlink(missing_ok=True)
    temporary = temporary_path(path)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
