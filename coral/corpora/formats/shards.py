"""JSON Lines shards of whole notebooks, one per line, as in ``shared/corpora/github``:

``{"id": "gh:OWNER/NAME:PATH", "repo": "OWNER/NAME", "path": PATH, "commit": SHA,
"notebook": <nbformat v3/v4 JSON>}``. The notebook id is the record's ``id``.
"""

from __future__ import annotations

from typing import Any

from coral.corpora.formats.common import ReaderOptions
from coral.corpora.formats.ipynb import notebook_from_json
from coral.corpora.records import Notebook
from coral.problems import BAD_FIELD, MISSING_FIELD, ProblemLog

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
    where: dict[str, str | None] = {}
    for name in ("repo", "path"):
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            problems.add(origin, str(notebook_id), BAD_FIELD, f"{name!r} is a {type(value).__name__}, not text: left out")
            value = None
        where[name] = value
    return notebook_from_json(record["notebook"], str(notebook_id), origin, problems, options, **where)
