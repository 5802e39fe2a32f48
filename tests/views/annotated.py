"""Checking an annotated notebook against its original, written independently of coral's
own strip code: only coral's metadata, ``stage:`` tags and marked header cells may differ."""

from __future__ import annotations

from typing import Any

STAGES = ("IMPORT", "WRANGLE", "EXPLORE", "MODEL", "EVALUATE")


def flat_cells(notebook: dict[str, Any]) -> list[Any]:
    if "cells" in notebook:
        return list(notebook["cells"])
    return [cell for sheet in notebook["worksheets"] for cell in sheet["cells"]]


def is_header(cell: Any) -> bool:
    return isinstance(cell, dict) and cell.get("metadata", {}).get("coral", {}).get("header") is True


def assert_only_coral_differs(original: dict[str, Any], annotated: dict[str, Any]) -> int:
    """Assert the diff is coral's alone; return how many code cells carry a stage tag."""
    outside = lambda nb: {key: value for key, value in nb.items() if key not in ("cells", "worksheets")}  # noqa: E731
    assert outside(annotated) == outside(original)
    if "worksheets" in original:
        strip_cells = lambda nb: [{k: v for k, v in sheet.items() if k != "cells"} for sheet in nb["worksheets"]]  # noqa: E731
        assert strip_cells(annotated) == strip_cells(original)
    cells = [cell for cell in flat_cells(annotated) if not is_header(cell)]
    before = flat_cells(original)
    assert len(cells) == len(before)
    tagged = 0
    for new, old in zip(cells, before):
        if not isinstance(old, dict):
            assert new == old
            continue
        assert {k: v for k, v in new.items() if k != "metadata"} == {k: v for k, v in old.items() if k != "metadata"}
        new_meta, old_meta = dict(new.get("metadata", {})), dict(old.get("metadata", {}))
        coral = new_meta.pop("coral", None)
        new_tags, old_tags = new_meta.pop("tags", None), old_meta.pop("tags", None)
        assert new_meta == old_meta
        added = [tag for tag in (new_tags or []) if tag not in (old_tags or [])]
        assert [tag for tag in (new_tags or []) if tag not in added] == (old_tags or [])
        if coral is None:
            assert not added
            continue
        assert new.get("cell_type") == "code"
        if coral["stage"] is None:
            assert not added
        else:
            assert coral["stage"] in STAGES and added == [f"stage:{coral['stage']}"]
            assert coral["probabilities"][coral["stage"]] == max(coral["probabilities"].values())
            tagged += 1
    return tagged
