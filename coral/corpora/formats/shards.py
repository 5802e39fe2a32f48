"""JSON Lines shards of whole notebooks, one per line, as in ``shared/corpora/github``:

``{"id": "gh:OWNER/NAME:PATH", "repo": "OWNER/NAME", "path": PATH, "commit": SHA,
"notebook": <nbformat v3/v4 JSON>}``. The notebook id is the record's ``id``.
"""

from __future__ import annotations

from typing import Any

from coral.corpora.formats.common import ReaderOptions
from coral.corpora.formats.ipynb import notebook_from_json
from coral.corpora.records import Notebook
from coral.problems import MISSING_FIELD, ProblemLog

REQUIRED_FIELDS = ("id", "notebook")


def looks_like(record: Any) -> bool:
    return isinstance(record, dict) and "notebook" in record


def notebook_from_record(
    record: dict[str, Any], origin: str, fallback_id: str, problems: ProblemLog, options: ReaderOptions
) -> Notebook | None:
    notebook_id = record.get("id")
    missing = [name for name in REQUIRED_FIELDS if record.get(name) is None]
    if missing:
        problems.add(origin, notebook_id, MISSING_FIELD, f"record lacks {', '.join(missing)}")
        return None
    return notebook_from_json(
        record["notebook"], str(notebook_id), origin, problems, options, repo=record.get("repo"), path=record.get("path")
    )
