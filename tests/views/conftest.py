"""A sample of the shared GitHub corpus for the views' integration tests."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

SAMPLE_NOTEBOOKS = 200


@pytest.fixture(scope="session")
def github_sample(shared_dir, tmp_path_factory) -> Path:
    """The first 200 notebooks of the first GitHub shard, as a shard of their own."""
    shard = sorted((shared_dir / "corpora/github").glob("part-*.jsonl.gz"))[0]
    sample = tmp_path_factory.mktemp("github") / "sample.jsonl"
    with gzip.open(shard, "rt", encoding="utf-8") as src, open(sample, "w", encoding="utf-8") as out:
        out.writelines(line for _, line in zip(range(SAMPLE_NOTEBOOKS), src))
    return sample
