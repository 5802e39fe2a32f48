"""Generated hostile corpora and the accounting that checks coral against them.

A *case* is a folder of generated inputs: notebooks (good, damaged, absurd), archives, JSON
Lines shards (plain and gzipped) of every record layout, special files and links. The
accounting enumerates the input items of a folder on its own (without coral's readers):
every notebook file, archive member and non-blank JSON line, and every file coral must
refuse (hidden, FIFO, dangling link...). Then it reads the folder with coral and checks that
each item was either **used** (a notebook came from it) or **reported** (a problem names it,
its file or a folder above it), and, for each notebook used, that each of its code cells was
parsed or reported. ``benchmarks/fuzz.py`` runs many cases and prints the counts; the tests
in this package run a few.

Every case runs under :func:`time_limit`: a case that takes longer fails as a hang.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import re
import signal
import tarfile
import traceback
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coral.corpora.parquet import cells_to_table
from coral.corpora.parse import parse_notebook
from coral.corpora.readers import ReaderOptions, read_notebooks
from coral.corpora.records import Cell, Notebook
from coral.problems import PARSE_FAILED, UNREADABLE_NOTEBOOK, Problem, ProblemLog

CASE_LIMIT_S = 60  # far above what any case takes (well under a second each)
# Small limits, so that oversize inputs stay small files.
OPTIONS = ReaderOptions(max_notebook_bytes=300_000, max_code_cell_chars=30_000)
# Failures the readers and the parser did not foresee: reported, but each is a bug to fix.
UNFORESEEN = frozenset({UNREADABLE_NOTEBOOK, PARSE_FAILED})
# Problems about one cell (their item is a cell id): they never account for a whole notebook.
CELL_ITEM = re.compile(r".*#\d+")
SKIPPED_BY_DESIGN = frozenset({".ipynb_checkpoints", "__MACOSX", ".git", ".DS_Store", ".gitignore", ".gitattributes"})
ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
JSON_LINES = (".jsonl", ".ndjson", ".txt", ".jsonl.gz", ".ndjson.gz", ".txt.gz")
_SURROGATE = re.compile("[\ud800-\udfff]")


class CaseTimeout(BaseException):
    """A case ran past its limit. A BaseException, so that no ``except Exception`` in coral
    (which logs unforeseen failures and reads on) can swallow it."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`CaseTimeout` in this (main) thread if the block runs longer than
    ``seconds``. SIGALRM interrupts Python code, regular expressions and blocking reads."""
    def expired(signum: int, frame: object) -> None:
        raise CaseTimeout(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------- code cells

CODE_FRAGMENTS = [
    "import pandas as pd\nimport numpy as np",
    "from sklearn.model_selection import train_test_split as tts",
    "df = pd.read_csv('data.csv')\ndf.head()",
    "df = df.dropna().groupby('a').agg({'b': 'mean'})",
    "X_train, X_test, y_train, y_test = tts(X, y)",
    "model.fit(X_train, y_train)\nprint(model.score(X_test, y_test))",
    "import matplotlib.pyplot as plt\nplt.plot(x, y)\nplt.show()",
    "%matplotlib inline", "%%time\nx = 1", "!pip install foo", "files = !ls", "df.head?", "??np.mean",
    "%timeit -n 3 f(x)", "%%bash\necho hi", "%pylab inline", "x = %env HOME",
    "print 'python 2'", "exec 'x = 1'", "lambda x: (yield)", "def f(a, *b, c=1, **d):\n    return a",
    "class A(B, metaclass=M):\n    x: int = 1", "match x:\n    case [a, *b]:\n        pass",
    "with open(f) as (a, b), g() as c:\n    pass", "del a, b[0]", "if (n := len(a)) > 10: pass",
    "f'{x!r:{width}}'", "x = [i for i in range(10) if i for j in i]", "@dec\nasync def g():\n    await h()",
    "try:\n    pass\nexcept (A, B) as e:\n    raise", "global x\nnonlocal y", "from . import a\nfrom .. b import *",
    "import a.b.c as d, e", "x = y = z = pd.DataFrame()", "a, *b = c.split()", "print(x, file=sys.stderr)",
    "def", "(((", "]]]", "'''unterminated", "x = 'unterminated", "if x\n  y", "\\", "\t\tx = 1\n y = 2",
    "\x00\x01\x02", "\r\nx = 1\r", "\u00e9t\u00e9 = 1", "\ud800 = 1", "x = '\udfff'", "\u202e", "\ufeffx = 1",
    "# only a comment", "", "   ", "\n\n\n",
]


def code_cell_source(rng: random.Random) -> str:
    """A cell of a few fragments, sometimes stretched into a long or deep line."""
    parts = [rng.choice(CODE_FRAGMENTS) for _ in range(rng.randint(1, 4))]
    roll = rng.random()
    if roll < 0.04:
        parts.append("a" * rng.randint(1_000, 20_000) + rng.choice(["?", "?x", " = 1 ?", ""]))
    elif roll < 0.08:
        depth = rng.randint(100, 3_000)
        parts.append(rng.choice(["(" * depth + ")" * depth, "-" * depth + "1", "a." * depth + "b", "[" * depth]))
    elif roll < 0.10:
        parts.append("!" + "x" * rng.randint(1_000, 20_000))
    return "\n".join(parts)


# ---------------------------------------------------------------- notebooks

def notebook_dict(rng: random.Random, cells: int | None = None) -> dict[str, Any]:
    """A well-formed nbformat v4 notebook."""
    out = []
    for _ in range(rng.randint(1, 8) if cells is None else cells):
        if rng.random() < 0.3:
            out.append({"cell_type": "markdown", "metadata": {}, "source": rng.choice(["# Load", "Model it", "x" * 50])})
        else:
            out.append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": rng.choice([None, 1, 2, 3]),
                        "source": code_cell_source(rng)})
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"language": "python"}}, "cells": out}


def odd_cell(rng: random.Random) -> Any:
    """A cell as broken corpora hold them."""
    return rng.choice([
        None, 7, "a string", [], {"source": "x = 1"}, {"cell_type": "code"},
        {"cell_type": "code", "source": 5}, {"cell_type": "code", "source": ["a", 1]},
        {"cell_type": None, "source": "x"}, {"cell_type": ["code"], "source": "x"}, {"cell_type": "heading", "source": "x"},
        {"cell_type": "code", "source": "x", "execution_count": 2**70},
        {"cell_type": "code", "source": "x", "execution_count": -(2**64)},
        {"cell_type": "code", "source": "x", "execution_count": True},
        {"cell_type": "code", "source": "x", "execution_count": 1.5},
        {"cell_type": "code", "source": "x", "metadata": "not a dict"},
        {"cell_type": "code", "source": "x", "metadata": {"nbgrader": {"solution": True, "grade": "yes"}}},
        {"cell_type": "code", "source": "x", "metadata": {"nbgrader": ["solution"]}},
        {"cell_type": "code", "source": "x", "metadata": {"task_id": {"a": 1}}},
        {"cell_type": "code", "source": "x" * (OPTIONS.max_code_cell_chars + 1)},
        {"cell_type": "markdown", "source": ["# head\n", "more"]},
        {"cell_type": "code", "source": "\ud800\udc00\udfff"},
    ])


def odd_notebook(rng: random.Random) -> Any:
    """Notebook JSON that is damaged, absurd or of another kind."""
    good = notebook_dict(rng)
    roll = rng.randrange(14)
    if roll == 0:
        return rng.choice([None, 3, "notebook", [], [good], True])
    if roll == 1:
        return {"nbformat": 4, "metadata": {}}
    if roll == 2:
        return {**good, "cells": rng.choice([None, "cells", {"a": 1}, 3])}
    if roll == 3:
        return {**good, "metadata": rng.choice([None, [], {"kernelspec": "python"}, {"language_info": {"name": 3}}])}
    if roll == 4:
        return {**good, "metadata": {"kernelspec": {"language": rng.choice(["R", "julia", "scala", " ", "Python 3"])}}}
    if roll == 5:
        return {**good, "nbformat": rng.choice([3, 2, 1, 0, -1, "4", None, 2**80])}
    if roll == 6:  # nbformat v3 worksheets, well formed or not
        cells = [{"cell_type": "code", "input": code_cell_source(rng), "language": "python"},
                 {"cell_type": "markdown", "source": "# a"}, {"cell_type": "heading", "level": 2, "source": ["x"]}]
        return {"nbformat": 3, "worksheets": rng.choice([[{"cells": cells}], [{"cells": None}], [None], "w", [{"cells": [1]}]])}
    if roll == 7:
        return {**good, "cells": good["cells"] + [odd_cell(rng) for _ in range(rng.randint(1, 5))]}
    if roll == 8:
        return {**good, "cells": [odd_cell(rng) for _ in range(rng.randint(1, 6))]}
    if roll == 9:
        return {**good, "cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}} for _ in range(rng.randint(500, 3_000))]}
    if roll == 10:
        return {**good, "cells": good["cells"] + [{"cell_type": "code", "source": "pad = 0\n" * 40_000}]}
    if roll == 11:
        return {**good, "cells": [{**cell, "metadata": {"task_id": "DSP/1"}} if index % 2 else cell
                                  for index, cell in enumerate(good["cells"])]}
    if roll == 12:
        return {**good, "extra": "\ud800", "cells": good["cells"] + [{"cell_type": "markdown", "source": "\udc80"}]}
    return good


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """Flip, drop or insert a few bytes, or cut the tail off."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not data:
            break
        position = rng.randrange(len(data))
        action = rng.randrange(4)
        if action == 0:
            data[position] = rng.randrange(256)
        elif action == 1:
            del data[position]
        elif action == 2:
            data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        else:
            del data[position:]
    return bytes(data)


def notebook_bytes(rng: random.Random) -> bytes:
    """The bytes of a notebook file: good, odd, damaged, or not JSON at all."""
    roll = rng.random()
    if roll < 0.3:
        return json.dumps(notebook_dict(rng)).encode()
    if roll < 0.6:
        return json.dumps(odd_notebook(rng)).encode()
    if roll < 0.8:
        return mutate_bytes(json.dumps(notebook_dict(rng)).encode(), rng)
    return rng.choice([
        b"", b"   \n", b"\xef\xbb\xbf" + json.dumps(notebook_dict(rng)).encode(),
        json.dumps(notebook_dict(rng)).encode("utf-16"), "{\"cells\": [\"\xe9\"]}".encode("latin-1"),
        b"[" * 100_000, b'{"a":' * 50_000, bytes(rng.randrange(256) for _ in range(rng.randint(1, 2_000))),
        b'{"cells": [], "metadata": {}}' + b" " * (OPTIONS.max_notebook_bytes + 1),
        b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": "' + b"\\ud800" * 5 + b'"}]}',
        b"\x00" * 100,
    ])


# ---------------------------------------------------------------- JSON Lines records

def shard_record(rng: random.Random, index: int) -> Any:
    roll = rng.random()
    ident: Any = f"gh:owner/repo:nb{index}.ipynb"
    if roll < 0.5:
        return {"id": ident, "repo": "owner/repo", "path": f"nb{index}.ipynb", "notebook": notebook_dict(rng)}
    if roll < 0.75:
        return {"id": ident, "notebook": odd_notebook(rng)}
    return rng.choice([
        {"id": 7}, {"notebook": notebook_dict(rng)}, {"id": None, "notebook": notebook_dict(rng)},
        {"id": [1, 2], "notebook": notebook_dict(rng)}, {"id": {"a": "b"}, "notebook": notebook_dict(rng)},
        {"id": "dup", "notebook": notebook_dict(rng)}, {"id": "\ud800", "notebook": notebook_dict(rng)},
        {"id": ident, "repo": 5, "path": ["p"], "notebook": notebook_dict(rng)}, None, [], "text", 42,
    ])


def coral_record(rng: random.Random, index: int) -> Any:
    good = {"id": index, "file": f"nb_{index}.py", "context": code_cell_source(rng), "annotation": ["# a"],
            "header": "h", "funcs": ["pandas.read_csv", "pandas.read_csv.head"], "nodes": [{"type": "Module"}]}
    if rng.random() < 0.5:
        return good
    key, value = rng.choice([
        ("context", None), ("context", 5), ("context", ["x"]), ("id", None), ("id", [1]), ("file", 3), ("file", ""),
        ("annotation", "text"), ("annotation", [1, None]), ("header", 3), ("funcs", "pandas.read_csv"),
        ("funcs", [1, None, ["a"]]), ("funcs", ["", ".", "a..b"]), ("nodes", "x"), ("nodes", [1, 2]),
        ("context", "x" * (OPTIONS.max_code_cell_chars + 1)),
    ])
    return {**good, key: value}


def juice_record(rng: random.Random, index: int) -> Any:
    context = [
        {"cell_type": "markdown", "nl_original": "Load the data", "distance_target": 1},
        {"cell_type": "code", "code": "import pandas as pd", "distance_target": 2},
    ]
    good = {"code": code_cell_source(rng), "nl": ["load"], "context": context, "imports": ["pandas", "pd"],
            "metadata": {"repo": "o/r", "path": f"nb{index % 3}.ipynb", "cell_index": 5}}
    if rng.random() < 0.4:
        return good
    key, value = rng.choice([
        ("code", None), ("code", 5), ("code_tokens", ["x", "NEWLINE", "INDENT", 3]), ("context", "x"),
        ("context", [None, 1, "a", {"cell_type": "code"}]),
        ("context", [{"cell_type": "code", "code": "x", "distance_target": d} for d in (1, 1, -1, 0, True, 2**70, None)]),
        ("metadata", {"repo": "o/r", "path": "p.ipynb", "cell_index": 2**70}),
        ("metadata", {"repo": "o/r", "path": "p.ipynb", "cell_index": -3}),
        ("metadata", {"nb_index": 2**70, "cell_index": 2**80}), ("metadata", {"nbgrader": {"solution": True}}),
        ("metadata", "x"), ("imports", "numpy np"), ("imports", [None, 3, "np"]), ("nl", 5), ("num_cells_above", 2**90),
    ])
    return {**good, key: value}


def dsp_record(rng: random.Random, index: int) -> Any:
    good = {"task_id": f"DSP/{index}", "prompt": "# Load\nimport pandas as pd\ndf = pd.read_csv('x')\n# Now sum it",
            "solution": "s = df.sum()", "test": "assert s == 1", "notebook_path": "a.ipynb", "notebook_problem_index": 0}
    if rng.random() < 0.5:
        return good
    key, value = rng.choice([
        ("task_id", None), ("task_id", 3), ("prompt", None), ("prompt", ["x"]), ("solution", 4), ("test", None),
        ("notebook_path", 5), ("prompt", "Some prose line here\n" * rng.randint(50, 400)),
        ("prompt", "x = 1\n" * rng.randint(50, 400)), ("prompt", "%matplotlib inline\n?x\n!ls\n" * 30),
        ("prompt", "(" * 2_000), ("solution", "x" * (OPTIONS.max_code_cell_chars + 1)),
    ])
    return {**good, key: value}


RECORD_MAKERS: dict[str, Callable[[random.Random, int], Any]] = {
    "shards": shard_record, "coral": coral_record, "juice": juice_record, "dsp": dsp_record,
}


def json_lines(rng: random.Random, layout: str) -> bytes:
    """A JSON Lines file of ``layout`` records, with bad lines among them."""
    lines: list[bytes] = []
    make = RECORD_MAKERS[layout]
    for index in range(rng.randint(1, 12)):
        roll = rng.random()
        if roll < 0.8:
            lines.append(json.dumps(make(rng, index)).encode())
        elif roll < 0.85:
            lines.append(b"")
        elif roll < 0.9:
            lines.append(b"{not json")
        elif roll < 0.93:
            lines.append(json.dumps(RECORD_MAKERS[rng.choice(list(RECORD_MAKERS))](rng, index)).encode())
        elif roll < 0.96:
            lines.append(b'{"id": "big", "notebook": "' + b"x" * (OPTIONS.max_notebook_bytes + 1) + b'"}')
        else:
            lines.append(b"\xff\xfe" + bytes(rng.randrange(256) for _ in range(20)).replace(b"\n", b""))
    data = b"\n".join(lines) + rng.choice([b"\n", b"", b"\r\n"])
    return data


# ---------------------------------------------------------------- archives

def zip_archive(rng: random.Random) -> bytes:
    buffer = io.BytesIO()
    patches: list[tuple[str, int, int | None]] = []
    with zipfile.ZipFile(buffer, "w", compression=rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])) as archive:
        for index in range(rng.randint(1, 6)):
            roll = rng.random()
            name = rng.choice([f"nb{index}.ipynb", f"dir/nb{index}.ipynb", f".ipynb_checkpoints/nb{index}.ipynb",
                               f"__MACOSX/._nb{index}.ipynb", f"../up{index}.ipynb", f"/abs{index}.ipynb",
                               f"n\u00e9{index}.ipynb", f"readme{index}.md"])
            if roll < 0.1:
                name = rng.choice([f"inner{index}.zip", f"inner{index}.tar.gz"])
            archive.writestr(name, notebook_bytes(rng))
            if roll > 0.85 and name.endswith(".ipynb"):
                patches.append((name, *rng.choice([(0x1, None), (0, 9), (0, 14)])))
    data = buffer.getvalue()
    for name, flags, method in patches:
        data = patch_zip_member(data, name, flags=flags, method=method)
    if rng.random() < 0.15:
        data = mutate_bytes(data, rng)
    return data


def patch_zip_member(data: bytes, name: str, *, flags: int = 0, method: int | None = None) -> bytes:
    """A zip archive's bytes with general-purpose flags (0x1: encrypted) or the compression
    method (9: deflate64, 14: LZMA) of a member set in both its local header and the central
    directory, as other zip tools write them."""
    patched = bytearray(data)
    encoded = name.encode()
    for signature, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        position = patched.find(signature)
        while position >= 0:
            if patched[position + name_at: position + name_at + len(encoded)] == encoded:
                patched[position + flag_at] |= flags
                if method is not None:
                    patched[position + flag_at + 2: position + flag_at + 4] = method.to_bytes(2, "little")
            position = patched.find(signature, position + 1)
    return bytes(patched)


def tar_archive(rng: random.Random, mode: str) -> bytes:
    buffer = io.BytesIO()
    names: list[str] = []
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for index in range(rng.randint(1, 6)):
            roll = rng.random()
            info = tarfile.TarInfo(rng.choice([f"nb{index}.ipynb", f"d/nb{index}.ipynb", f"inner{index}.zip",
                                               f".ipynb_checkpoints/c{index}.ipynb", f"x{index}.txt"]))
            if roll < 0.15 and names:  # a link to a member before it, or to one the archive lacks
                info.type = rng.choice([tarfile.LNKTYPE, tarfile.SYMTYPE])
                info.linkname = rng.choice([names[0], "missing.ipynb", info.name])
                info.name = f"link{index}.ipynb"
                archive.addfile(info)
            elif roll < 0.2:
                info.type = rng.choice([tarfile.DIRTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE])
                info.name = f"special{index}.ipynb"
                archive.addfile(info)
            else:
                content = notebook_bytes(rng)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
                names.append(info.name)
    data = buffer.getvalue()
    if rng.random() < 0.2:
        data = data[: rng.randrange(len(data))] if rng.random() < 0.5 else mutate_bytes(data, rng)
    return data


# ---------------------------------------------------------------- a case

def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def add_entry(folder: Path, rng: random.Random, index: int) -> None:
    """One generated entry (a file, a link, a folder of files) in ``folder``."""
    roll = rng.randrange(20)
    name = f"e{index}"
    if roll <= 5:
        _write(folder / f"{name}.ipynb", notebook_bytes(rng))
    elif roll == 6:
        _write(folder / "sub" / rng.choice(["", ".hidden/", ".ipynb_checkpoints/", "deeper/"]) / f"{name}.ipynb", notebook_bytes(rng))
    elif roll == 7:
        _write(folder / f".{name}.ipynb", notebook_bytes(rng))
    elif roll == 8:
        target = folder / rng.choice([f"{name}.ipynb", f"{name}.jsonl"])
        kind = rng.randrange(4)
        if kind == 0:
            os.mkfifo(target)
        elif kind == 1:
            target.symlink_to("/dev/zero")
        elif kind == 2:
            target.symlink_to(folder / "missing-target")
        else:
            target.symlink_to(target)
    elif roll == 9:
        raw = os.fsencode(folder) + b"/" + name.encode() + rng.choice([b"\xff\xfe", b"\xed\xa0\x80", b"#3"]) + b".ipynb"
        with open(raw, "wb") as out:
            out.write(notebook_bytes(rng))
    elif roll == 10:
        _write(folder / f"{name}.zip", zip_archive(rng))
    elif roll == 11:
        suffix, mode = rng.choice([(".tar", "w"), (".tar.gz", "w:gz"), (".tgz", "w:gz"), (".tar.bz2", "w:bz2"), (".tar.xz", "w:xz")])
        _write(folder / f"{name}{suffix}", tar_archive(rng, mode))
    elif roll == 12:
        _write(folder / f"{name}{rng.choice(ARCHIVES)}", bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))))
    elif roll == 13:
        _write(folder / f"{name}.md", b"not read by design")
    else:
        layout = rng.choice(list(RECORD_MAKERS))
        data = json_lines(rng, layout)
        suffix = rng.choice([".jsonl", ".txt", ".ndjson"] if layout != "coral" else [".txt", ".jsonl"])
        if rng.random() < 0.35:
            data = gzip.compress(data)
            suffix += ".gz"
            if rng.random() < 0.3:
                data = data[: rng.randrange(len(data))] if rng.random() < 0.6 else mutate_bytes(data, rng)
        _write(folder / f"{name}{suffix}", data)


def make_case(folder: Path, seed: int, entries: int = 8) -> None:
    """A generated corpus folder: ``entries`` hostile or good entries, from ``seed``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(entries):
        add_entry(folder, rng, index)
    good = notebook_dict(rng, cells=2)  # one good notebook, so that commands have something to use
    good["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                          "source": "import pandas as pd\ndf = pd.read_csv('a.csv')"})
    _write(folder / "good.ipynb", json.dumps(good).encode())


# ---------------------------------------------------------------- accounting

def _valid(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


@dataclass
class Item:
    """One input item: where coral must say it came from, and how many cells it holds (v4
    notebook JSON only; None when unknown)."""

    origin: str
    cells: int | None = None


def _notebook_cells(raw: bytes, shard: bool) -> int | None:
    """How many cells a v4 notebook (or a shard record's notebook) holds, read independently."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if shard:
        data = data.get("notebook") if isinstance(data, dict) else None
    if not isinstance(data, dict) or "worksheets" in data or not isinstance(data.get("cells"), list):
        return None
    version = data.get("nbformat")
    return None if isinstance(version, int) and version < 4 else len(data["cells"])


def _is_notebook_member(name: str) -> bool:
    parts = name.split("/")
    return name.endswith(".ipynb") and not {".ipynb_checkpoints", "__MACOSX"} & set(parts) and not parts[-1].startswith("._")


def _archive_items(path: Path) -> list[Item]:
    origin = _valid(str(path))
    items: list[Item] = []
    try:
        if path.name.lower().endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if info.is_dir():
                        continue
                    if _is_notebook_member(info.filename) or (info.filename.lower().endswith(ARCHIVES) and "__MACOSX" not in info.filename):
                        items.append(Item(f"{origin}:{info.filename}"))
            return items
        with tarfile.open(path, "r:*") as archive:
            for info in archive:
                if info.isdir():
                    continue
                if _is_notebook_member(info.name) or info.name.lower().endswith(ARCHIVES):
                    items.append(Item(f"{origin}:{info.name}"))
    except Exception:  # a damaged archive: whatever it holds past the damage is one item, the archive
        items.append(Item(origin))
    return items


def _line_items(path: Path) -> list[Item]:
    origin = _valid(str(path))
    items: list[Item] = []
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    number = 0
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as stream:
            for number, line in enumerate(stream, start=1):
                if line.strip():
                    items.append(Item(f"{origin}:{number}", _notebook_cells(line, True)))
    except Exception:  # a damaged gzip stream: the rest of the file is one item
        items.append(Item(f"{origin}:{number + 1}"))
    return items


def input_items(folder: Path) -> list[Item]:
    """Every item in ``folder``, found without coral's readers."""
    items: list[Item] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_BY_DESIGN)
        for name in sorted(files):
            if name in SKIPPED_BY_DESIGN:
                continue
            path = Path(root) / name
            lower = name.lower()
            if not (os.path.isfile(path) and not os.path.islink(path)) or name.startswith("."):
                items.append(Item(_valid(str(path))))  # to be refused: a link, FIFO, hidden file
            elif lower.endswith(".ipynb"):
                items.append(Item(_valid(str(path)), _notebook_cells(path.read_bytes(), False)))
            elif lower.endswith(ARCHIVES):
                items.extend(_archive_items(path))
            elif lower.endswith(JSON_LINES):
                items.extend(_line_items(path))
    return items


@dataclass
class Counts:
    """What the fuzzing saw. ``lost`` must stay empty, and so must ``unforeseen`` (failures the
    readers or the parser caught only in their catch-all) and ``failures`` (crashes, hangs)."""

    cases: int = 0
    inputs: int = 0
    used: int = 0
    reported: int = 0
    code_cells: int = 0
    cells_parsed: int = 0
    cells_reported: int = 0
    lost: list[str] = field(default_factory=list)
    unforeseen: list[Problem] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def merge(self, other: Counts) -> None:
        for name in ("cases", "inputs", "used", "reported", "code_cells", "cells_parsed", "cells_reported"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.lost += other.lost
        self.unforeseen += other.unforeseen
        self.failures += other.failures

    def summary(self) -> str:
        return (f"{self.cases} cases: {self.inputs} inputs = {self.used} used + {self.reported} reported "
                f"+ {len(self.lost)} lost; {self.code_cells} code cells (and cells the readers skipped) = "
                f"{self.cells_parsed} parsed + {self.cells_reported} reported; {len(self.unforeseen)} unforeseen failures, "
                f"{len(self.failures)} crashes or hangs")


def _covers(problem_origin: str, origin: str) -> bool:
    """Whether a problem about ``problem_origin`` speaks for the item at ``origin``: the same
    origin, or a folder or file that holds it."""
    return origin == problem_origin or origin.startswith((problem_origin + "/", problem_origin + ":"))


_BREAK = re.compile(r"(.*):(\d+)")


def account(items: list[Item], notebooks: list[Notebook], problems: ProblemLog, parsed_ids: set[str]) -> Counts:
    """Check each item against what coral read (``notebooks``), parsed and reported."""
    counts = Counts(cases=1, inputs=len(items))
    by_origin = {notebook.origin: notebook for notebook in notebooks}
    whole: list[str] = []  # origins of problems that can account for a whole item
    breaks: list[tuple[str, int]] = []  # a gzip stream broken at a line: it accounts for the lines after
    items_named: set[str] = set()  # notebook or cell ids that problems name
    for problem in problems:
        if problem.reason in UNFORESEEN:
            counts.unforeseen.append(problem)
        if problem.reason in ("truncated-gzip", "corrupt-gzip"):
            match = _BREAK.fullmatch(problem.origin)
            if match:
                breaks.append((match.group(1), int(match.group(2))))
        if problem.item is not None:
            items_named.add(problem.item)
        if (problem.item is None or not CELL_ITEM.fullmatch(problem.item)) and problem.reason != "no-notebooks":
            whole.append(problem.origin)
    for item in items:
        notebook = by_origin.get(item.origin)
        if notebook is not None:
            counts.used += 1
            _account_cells(item, notebook, items_named, parsed_ids, counts)
        elif any(_covers(origin, item.origin) for origin in whole) or any(
            item.origin.startswith(path + ":") and int(item.origin.rsplit(":", 1)[1]) >= line for path, line in breaks
        ):
            counts.reported += 1
        else:
            counts.lost.append(item.origin)
    return counts


def _account_cells(item: Item, notebook: Notebook, items_named: set[str], parsed_ids: set[str], counts: Counts) -> None:
    read = {cell.index for cell in notebook.cells}
    for index in range(item.cells or 0):  # every cell of the input: read, or skipped and reported
        if index in read:
            continue
        counts.code_cells += 1
        if f"{notebook.id}#{index}" in items_named:
            counts.cells_reported += 1
        else:
            counts.lost.append(f"{item.origin} cell {index}")
    for cell in notebook.cells:
        if cell.cell_type != "code" or cell.context_only:
            continue
        counts.code_cells += 1
        if cell.id in parsed_ids:
            counts.cells_parsed += 1
        elif cell.id in items_named:
            counts.cells_reported += 1
        else:
            counts.lost.append(f"{item.origin} cell {cell.id}")


def read_and_parse(paths: list[Path], options: ReaderOptions = OPTIONS) -> tuple[list[Notebook], ProblemLog, list[str]]:
    """Read with coral's readers and parse every notebook with ``parse_notebook`` itself (not
    the pipeline's catch-all, so that a parser crash shows as a crash), and convert its cells
    to the Parquet table ``coral corpus parse`` stores: the notebooks, the problems and the
    parsed cells' ids in input order."""
    problems = ProblemLog()
    notebooks = list(read_notebooks(paths, None, problems, options))
    parsed_ids: list[str] = []
    for notebook in notebooks:
        cells = parse_notebook(notebook, problems)
        cells_to_table(cells)
        parsed_ids.extend(cell.id for cell in cells)
    return notebooks, problems, parsed_ids


def check_folder(folder: Path, limit_s: float = CASE_LIMIT_S) -> Counts:
    """Read and parse a folder under a time limit and account for every item in it."""
    items = input_items(folder)
    try:
        with time_limit(limit_s):
            notebooks, problems, parsed_ids = read_and_parse([folder])
    except CaseTimeout as error:
        return Counts(cases=1, inputs=len(items), failures=[f"{folder}: hang: {error}"])
    except Exception as error:  # noqa: BLE001 - a crash is what the fuzzing looks for
        where = traceback.extract_tb(error.__traceback__)[-1]
        return Counts(cases=1, inputs=len(items), failures=[f"{folder}: crash: {error!r} at {where.filename}:{where.lineno}"])
    return account(items, notebooks, problems, set(parsed_ids))


# ---------------------------------------------------------------- the command line

def _problem_keys(problems: list[Problem]) -> Counter[tuple[str, str | None, str]]:
    return Counter((problem.origin, problem.item, problem.reason) for problem in problems)


def check_cli(folder: Path, work: Path, limit_s: float = CASE_LIMIT_S) -> tuple[list[str], int]:
    """Run ``coral corpus parse`` (in small work units), ``coral corpus stats``, ``coral label``
    and ``coral predict --model heuristics`` on ``folder`` and compare with the library: each exits 0 without a traceback, uses the cells
    the library parses (same ids, same order) and reports every problem the library reports.
    Returns what went wrong (empty when nothing did), and how many cells ``coral corpus parse``
    wrote more than the library parses: it does not yet detect a JuICe cell id named by records
    of two work units, so there the comparison checks that no cell is lost or
    unknown to the library, in any order, and leaves out the ``duplicate-notebook`` problems."""
    from typer.testing import CliRunner

    from coral.cli import app
    from coral.corpora.parquet import ERRORS_FILE, read_parsed_cells
    from coral.labeling.matrix import LABEL_PROBLEMS_FILE, LabelMatrix

    _, expected_problems, expected_ids = read_and_parse([folder], ReaderOptions())
    expected = _problem_keys(list(expected_problems))
    runner = CliRunner()
    failures: list[str] = []

    def invoke(*args: str) -> bool:
        try:
            with time_limit(limit_s):
                result = runner.invoke(app, [*args])
        except CaseTimeout as error:
            failures.append(f"coral {args[0]} {folder}: hang: {error}")
            return False
        if result.exit_code != 0 or "Traceback" in result.output:
            failures.append(f"coral {' '.join(args[:2])}: exit {result.exit_code}: {result.output[-2_000:]!r} "
                            f"{result.exception!r}")
            return False
        return True

    def compare(command: str, ids: list[str], problems: list[Problem], known: Counter[tuple[str, str | None, str]] = Counter()) -> None:
        if ids != expected_ids:
            failures.append(f"coral {command} {folder}: {len(ids)} cells, the library parses {len(expected_ids)}")
        missing = expected - known - _problem_keys(problems)
        if missing:
            failures.append(f"coral {command} {folder}: problems not reported: {list(missing)[:5]}")

    parsed = work / "parsed"  # in work units of 3 notebooks: archives and shards are read in slices
    written_twice = 0
    if invoke("corpus", "parse", str(folder), "--out", str(parsed), "--workers", "1", "--chunk-size", "3"):
        cells = list(read_parsed_cells(parsed))
        duplicates = Counter({key: n for key, n in expected.items() if key[2] == "duplicate-notebook"})
        repeated = {item for _, item, _ in duplicates}  # notebooks the library reads once, parse more often
        written, wanted = Counter(cell.id for cell in cells), Counter(expected_ids)
        extra = written - wanted
        written_twice = sum(extra.values())
        unknown = {cell.id for cell in cells if cell.id in extra and cell.id not in wanted and cell.notebook_id not in repeated}
        if wanted - written or unknown:
            failures.append(f"coral corpus parse {folder}: cells lost {list(wanted - written)[:5]}, "
                            f"cells the library does not parse {list(unknown)[:5]}")
        compare("corpus parse", expected_ids, ProblemLog.read_jsonl(parsed / ERRORS_FILE), duplicates)
    errors = work / "stats-errors.jsonl"
    if invoke("corpus", "stats", str(folder), "--json", "--errors", str(errors)):
        compare("corpus stats", expected_ids, ProblemLog.read_jsonl(errors))
    if invoke("label", str(folder), "--out", str(work / "label")):
        compare("label", LabelMatrix.read(work / "label").ids, ProblemLog.read_jsonl(work / "label" / LABEL_PROBLEMS_FILE))
    predictions = work / "predictions.jsonl"
    if invoke("predict", str(folder), "--model", "heuristics", "--out", str(predictions)):
        ids = [json.loads(line)["id"] for line in predictions.read_text(encoding="utf-8").splitlines()]
        compare("predict", ids, ProblemLog.read_jsonl(work / "predictions.errors.jsonl"))
    return failures, written_twice


# ---------------------------------------------------------------- hypothesis strategies

def strategies() -> dict[str, Any]:
    """Hypothesis strategies for notebook JSON, JSON Lines records of each layout, and code."""
    from hypothesis import strategies as st

    text = st.text(st.characters(exclude_categories=()), max_size=30)  # surrogates included
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | text
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                          max_leaves=8)
    code = st.lists(st.sampled_from(CODE_FRAGMENTS) | st.text(st.sampled_from("%!?()[]{}'\"\\#\n\t =.:;,ab1_\ud800"), max_size=40)
                    | text, max_size=5).map("\n".join)
    source = code | st.lists(code, max_size=3) | values
    cell = st.fixed_dictionaries(
        {"cell_type": st.sampled_from(["code", "markdown", "raw"]) | values, "source": source},
        optional={"execution_count": st.integers() | values, "outputs": values,
                  "metadata": values | st.fixed_dictionaries({}, optional={"nbgrader": values, "task_id": values})},
    ) | values
    language = st.sampled_from(["python", "Python 3", "R", ""]) | values
    notebook = st.fixed_dictionaries(
        {"cells": st.lists(cell, max_size=6)},
        optional={"nbformat": st.sampled_from([1, 2, 3, 4, 5]) | values,
                  "metadata": values | st.fixed_dictionaries({}, optional={"kernelspec": st.fixed_dictionaries({"language": language}),
                                                                           "language_info": st.fixed_dictionaries({"name": language})}),
                  "worksheets": st.lists(st.fixed_dictionaries({"cells": st.lists(cell, max_size=4) | values}) | values, max_size=2)},
    ) | values
    records = {
        "shards": st.fixed_dictionaries({"id": scalars, "notebook": notebook}, optional={"repo": values, "path": values}),
        "coral": st.fixed_dictionaries({"context": code | values, "funcs": st.lists(text | values, max_size=4) | values},
                                       optional={"id": scalars, "file": values, "annotation": values, "header": values, "nodes": values}),
        "juice": st.fixed_dictionaries(
            {"code": code | values,
             "context": st.lists(st.fixed_dictionaries({"cell_type": st.sampled_from(["code", "markdown"]) | values},
                                                       optional={"code": code | values, "nl": values, "nl_original": values,
                                                                 "code_tokens": values, "distance_target": st.integers() | values})
                                 | values, max_size=5)},
            optional={"metadata": st.fixed_dictionaries({}, optional={"repo": values, "path": values, "cell_index": st.integers() | values,
                                                                      "nb_index": st.integers() | values, "nbgrader": values}) | values,
                      "imports": st.lists(st.sampled_from(["numpy", "np", "pandas", "pd"]) | text, max_size=6) | values,
                      "nl": values, "num_cells_above": st.integers() | values, "code_tokens_clean": values}),
        "dsp": st.fixed_dictionaries({"task_id": scalars, "prompt": code | text | values},
                                     optional={"solution": code | values, "test": code | values, "notebook_path": values,
                                               "notebook_problem_index": values}),
    }
    return {"code": code, "notebook": notebook, "records": records}


def write_json_inputs(folder: Path, notebooks: list[Any], records: dict[str, list[Any]], gzipped: bool) -> None:
    """Notebook JSON values as ``.ipynb`` files, records as one JSON Lines file per layout."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, notebook in enumerate(notebooks):
        (folder / f"nb{index}.ipynb").write_text(json.dumps(notebook))
    for layout, layout_records in records.items():
        data = "".join(json.dumps(record) + "\n" for record in layout_records).encode()
        name = f"{layout}.txt" if layout == "coral" else f"{layout}.jsonl"
        if gzipped:
            data, name = gzip.compress(data), name + ".gz"
        (folder / name).write_bytes(data)


def check_code(sources: list[str], execution_counts: list[Any], limit_s: float = CASE_LIMIT_S) -> None:
    """Parse a notebook of these code cells: each parses (or is reported), and its graph is a
    preorder tree (parents before children, one root)."""
    cells = [Cell("fuzz", index, "code", source, execution_count=count)
             for index, (source, count) in enumerate(zip(sources, execution_counts))]
    problems = ProblemLog()
    with time_limit(limit_s):
        parsed = parse_notebook(Notebook("fuzz", cells, origin="fuzz"), problems)
    reported = {problem.item for problem in problems}
    assert {cell.id for cell in parsed} | reported >= {cell.id for cell in cells}
    for cell in parsed:
        graph = cell.graph
        assert len(graph.types) == len(graph.values) == len(graph.parents) >= 1
        assert graph.parents[0] == -1 and all(0 <= parent < index for index, parent in enumerate(graph.parents) if index)
        assert all(isinstance(api, str) for api in cell.apis) and 0 < cell.position < 1
