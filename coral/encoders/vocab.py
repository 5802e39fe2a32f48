"""Tokens of a cell and the vocabulary built from a training corpus.

Identifier and literal values are split into sub-tokens on non-alphanumerics (``.``, ``_``,
``/``...) and camelCase, lower-cased, with digit runs folded to ``<num>``: ``pd.read_csv``
gives ``pd read csv``, ``RandomForestClassifier`` gives ``random forest classifier``. So the
vocabulary generalises across the naming habits of different notebooks. Markdown is split
into lower-cased words the same way.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from coral.atomic import write_text
from coral.corpora.records import ParsedCell
from coral.encoders.params import ParamGroup

PAD, UNK = "[PAD]", "[UNK]"
CLS_TYPE, MARKDOWN_TYPE = "[CLS]", "[MD]"
NUM = "<num>"
TOKEN_SOURCES = ("code", "ast")  # what the token baselines read of a cell: sub-tokens, or the serialised AST
VALUE_CACHE_SIZE = 200_000  # distinct values whose sub-token ids a vocabulary remembers

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def subtokens(text: str, limit: int | None = None) -> list[str]:
    """Split an identifier, literal or markdown text into lower-cased sub-tokens."""
    tokens = []
    for match in _WORD.finditer(text):
        word = match.group()
        tokens.append(NUM if word[0].isdigit() else word.lower())
        if limit is not None and len(tokens) >= limit:
            break
    return tokens


def markdown_tokens(cell: ParsedCell, limit: int) -> list[str]:
    return subtokens(cell.markdown_above, limit) if cell.markdown_above else []


@dataclass(frozen=True)
class TokenConfig(ParamGroup):
    """What every encoder reads of a cell, and how many distinct sub-tokens it keeps."""

    max_nodes: int = 160  # M: AST nodes kept, in preorder
    max_markdown_tokens: int = 16  # words of the markdown above the cell
    subtokens_per_node: int = 4  # sub-tokens kept of an identifier or literal
    min_token_count: int = 2  # rarer sub-tokens are unknown
    max_vocab: int = 20000  # most frequent sub-tokens kept

    def cell_tokens(self, cell: ParsedCell) -> list[str]:
        """Value sub-tokens of the first ``max_nodes`` AST nodes, then the markdown words."""
        tokens = [tok for value in cell.graph.values[: self.max_nodes] if value
                  for tok in subtokens(value, self.subtokens_per_node)]
        return tokens + markdown_tokens(cell, self.max_markdown_tokens)

    def ast_tokens(self, cell: ParsedCell) -> list[str]:
        """The first ``max_nodes`` AST nodes serialised in preorder (each node's type, then its
        value's sub-tokens), then the markdown words."""
        tokens = []
        for node_type, value in zip(cell.graph.types[: self.max_nodes], cell.graph.values[: self.max_nodes]):
            tokens.append(f"<{node_type}>")  # apart from sub-tokens of the same spelling
            if value:
                tokens.extend(subtokens(value, self.subtokens_per_node))
        return tokens + markdown_tokens(cell, self.max_markdown_tokens)

    def source_tokens(self, cell: ParsedCell, source: str) -> list[str]:
        """A cell's tokens as ``source`` says: ``code`` (``cell_tokens``) or ``ast`` (``ast_tokens``)."""
        if source == "code":
            return self.cell_tokens(cell)
        if source == "ast":
            return self.ast_tokens(cell)
        raise ValueError(f"model__token_source must be one of {', '.join(TOKEN_SOURCES)}, not {source!r}")

    def kept_tokens(self, counts: Counter[str], reserved: Sequence[str]) -> list[str]:
        """``reserved`` first, then the ``max_vocab`` most frequent tokens seen ``min_token_count`` times or more."""
        return list(reserved) + [tok for tok, n in counts.most_common(self.max_vocab)
                                 if n >= self.min_token_count and tok not in reserved]


@dataclass
class Vocabulary:
    """Node types and sub-tokens seen in training; index 0 is padding, 1 unknown."""

    types: list[str] = field(default_factory=lambda: [PAD, UNK, CLS_TYPE, MARKDOWN_TYPE])
    tokens: list[str] = field(default_factory=lambda: [PAD, UNK])

    def __post_init__(self) -> None:
        self._type_index = {name: i for i, name in enumerate(self.types)}
        self._token_index = {name: i for i, name in enumerate(self.tokens)}
        self._value_rows: dict[tuple[str, int], tuple[int, ...]] = {}

    @classmethod
    def build(cls, cells: Iterable[ParsedCell], config: TokenConfig) -> Vocabulary:
        """Count types and sub-tokens over what the encoder will actually see (truncated graphs)."""
        type_counts: Counter[str] = Counter()
        token_counts: Counter[str] = Counter()
        for cell in cells:
            type_counts.update(cell.graph.types[: config.max_nodes])
            token_counts.update(config.cell_tokens(cell))
        base = cls()
        return cls(types=base.types + sorted(type_counts), tokens=config.kept_tokens(token_counts, base.tokens))

    def type_id(self, name: str) -> int:
        return self._type_index.get(name, 1)

    def token_ids(self, tokens: Sequence[str]) -> list[int]:
        return [self._token_index.get(tok, 1) for tok in tokens]

    def value_row(self, value: str, width: int) -> tuple[int, ...]:
        """The ids of a value's first ``width`` sub-tokens, padded with 0 to ``width``.

        Remembered per value: identifiers repeat across cells, and splitting them is most of
        the cost of turning a cell into arrays.
        """
        key = (value, width)
        row = self._value_rows.get(key)
        if row is None:
            ids = self.token_ids(subtokens(value, width))
            row = tuple(ids) + (0,) * (width - len(ids))
            if len(self._value_rows) >= VALUE_CACHE_SIZE:
                self._value_rows.clear()
            self._value_rows[key] = row
        return row

    def save(self, path: str | Path) -> None:
        write_text(path, json.dumps({"types": self.types, "tokens": self.tokens}))

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        data = json.loads(Path(path).read_text())
        return cls(types=data["types"], tokens=data["tokens"])
