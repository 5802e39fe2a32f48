"""Reading paper records: GitHub references, year, domain and citation count of each paper.

Only the standard library here, so that dask worker processes start fast; the table,
linking and regressions are in :mod:`coral.studies.citations`.

Paper corpus: JSON Lines files (``.gz`` or ``.bz2`` read transparently) in the S2ORC/GORC
layouts, one paper per line, read in parallel with ``dask.bag`` (one partition per file):

- GORC / S2ORC 2019: ``{"paper_id", "metadata": {"title", "year", "mag_field_of_study",
  "inbound_citations", ...}, "grobid_parse": {"abstract", "body_text", "bib_entries",
  "ref_entries"}, "latex_parse": {...}}``;
- S2ORC 2020: the metadata fields at the top level (``metadata_*.jsonl.gz``) and the parse
  (``abstract``, ``body_text``, ``bib_entries``, ``ref_entries``) in separate
  ``pdf_parses_*.jsonl.gz`` lines; records of one ``paper_id`` are merged across files.

Repository references are searched in every string of the abstract, body text, bibliography
and reference entries (and the metadata abstract): ``github.com/OWNER/REPO`` with or without
scheme or ``www.``, tolerating the spaces PDF extraction puts around dots and slashes,
normalised to lower-case ``owner/repo`` with a trailing ``.git`` and punctuation removed.

Citation count, in order of preference: a separate ``citations`` table (paper id ->
count; see :func:`coral.studies.citations.apply_citation_table`); a ``citation_count``, ``n_citations``, ``citations`` or ``cited_by_count`` field;
the length of ``inbound_citations`` (S2ORC's resolved in-corpus citations). Year is
``year``; domain is the first entry of ``mag_field_of_study`` (or ``fields_of_study`` /
``discipline``). Papers missing the count, year or domain are left out of the regressions
and reported.
"""

from __future__ import annotations

import bz2
import gzip
import json
import re
from collections.abc import Iterator
from typing import Any

from coral.problems import MALFORMED_PAPER, UNREADABLE_FILE

_GITHUB = re.compile(
    r"github\s?\.\s?com\s?/\s?([A-Za-z0-9][A-Za-z0-9-]{0,38})/([A-Za-z0-9_.-]+)",
    re.IGNORECASE,
)
# Paths under github.com that are site pages, not repository owners.
_NOT_OWNERS = frozenset(
    "about apps blog collections contact customer-stories enterprise events explore features "
    "issues join login marketplace new notifications orgs organizations pricing pulls search "
    "security settings site sponsors topics trending users".split()
)
_COUNT_FIELDS = ("citation_count", "n_citations", "citations", "cited_by_count")
_DOMAIN_FIELDS = ("mag_field_of_study", "fields_of_study", "discipline")
_PARSE_KEYS = ("grobid_parse", "latex_parse", "pdf_parse")
_TEXT_KEYS = ("abstract", "body_text", "bib_entries", "ref_entries")


def normalize_repo(owner: str, name: str) -> str | None:
    """``owner``/``name`` as matched in text -> ``owner/name`` lower-case, or None if not a repository."""
    owner = owner.lower()
    name = name.lower().rstrip(".").removesuffix(".git").rstrip(".")
    if owner in _NOT_OWNERS or not name:
        return None
    return f"{owner}/{name}"


def find_repos(text: str) -> set[str]:
    """Every GitHub repository referenced in ``text`` (see the module docstring)."""
    found = set()
    for match in _GITHUB.finditer(text):
        repo = normalize_repo(match.group(1), match.group(2))
        if repo:
            found.add(repo)
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _first(values: Any) -> str | None:
    if isinstance(values, list):
        values = values[0] if values else None
    return str(values) if values not in (None, "") else None


def paper_facts(record: dict[str, Any]) -> dict[str, Any]:
    """What one paper line says: id, year, domain, citation count, referenced repositories."""
    metadata = record["metadata"] if isinstance(record.get("metadata"), dict) else record
    paper_id = record.get("paper_id") or metadata.get("paper_id")
    if paper_id in (None, ""):
        raise KeyError("paper_id")
    sources = [record, metadata, *(record[k] for k in _PARSE_KEYS if isinstance(record.get(k), dict))]
    repos: set[str] = set()
    for source in sources:
        for key in _TEXT_KEYS:
            for text in _strings(source.get(key)):
                repos |= find_repos(text)
    citations = next((metadata[f] for f in _COUNT_FIELDS if isinstance(metadata.get(f), (int, float))), None)
    if citations is None and isinstance(metadata.get("inbound_citations"), list):
        citations = len(metadata["inbound_citations"])
    year = metadata.get("year")
    return {
        "paper_id": str(paper_id),
        "title": metadata.get("title"),
        "year": int(year) if isinstance(year, (int, float)) or (isinstance(year, str) and year.isdigit()) else None,
        "domain": next((_first(metadata[f]) for f in _DOMAIN_FIELDS if metadata.get(f)), None),
        "citations": int(citations) if citations is not None else None,
        "repos": sorted(repos),
    }


def _open_text(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    if path.endswith(".bz2"):
        return bz2.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_paper_file(path: str) -> list[dict[str, Any]]:
    """Facts of every paper line in one file; a bad line becomes a problem record, not a crash."""
    out: list[dict[str, Any]] = []
    try:
        with _open_text(path) as src:
            for lineno, line in enumerate(src, 1):
                if not line.strip():
                    continue
                try:
                    out.append(paper_facts(json.loads(line)))
                except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
                    out.append({"problem": MALFORMED_PAPER, "origin": f"{path}:{lineno}", "detail": f"{type(exc).__name__}: {exc}"})
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        out.append({"problem": UNREADABLE_FILE, "origin": path, "detail": f"{type(exc).__name__}: {exc}"})
    return out


def merge_facts(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Combine two records of one paper (S2ORC 2020 metadata + pdf parse): union of repos, first non-null field."""
    merged = {key: a.get(key) if a.get(key) is not None else b.get(key) for key in a.keys() | b.keys()}
    merged["repos"] = sorted(set(a.get("repos") or []) | set(b.get("repos") or []))
    return merged
