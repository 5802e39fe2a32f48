"""Rewrite IPython syntax into the Python IPython itself runs, so tree-sitter sees valid code.

``%matplotlib inline`` becomes ``get_ipython().run_line_magic('matplotlib', 'inline')``,
exactly as IPython (and nbconvert, hence CORAL's preprocessed corpus) writes it, so a raw
notebook and its converted script give the same AST and the same API names. Two deliberate
departures keep the code that a timing/profiling magic wraps visible as code instead of a
string: ``%%time`` and friends keep their body as Python, and ``%time stmt`` becomes the
magic call followed by ``stmt`` on its own line. Only logical line starts are rewritten
(never a ``%`` continuing an expression inside brackets, or a line inside a triple-quoted
string); cells with no candidate line are returned untouched without scanning.
"""

from __future__ import annotations

import re

# Cell magics whose body is Python that runs in the user namespace.
PYTHON_BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "memit", "px"})
# Line magics whose argument is a Python statement.
PYTHON_ARG_LINE_MAGICS = frozenset({"time", "timeit", "prun", "memit", "debug"})

# Cheap filter: a cell without any of these cannot contain IPython syntax.
_CANDIDATE = re.compile(r"^[ \t]*[%!?]|\?[ \t]*$|=[ \t]*[!%]", re.MULTILINE)

_LINE_MAGIC = re.compile(r"([ \t]*)(%{1,2})([A-Za-z_][\w.]*)[ \t]*(.*)", re.DOTALL)
_SHELL = re.compile(r"([ \t]*)(!{1,2})(.*)", re.DOTALL)
_ASSIGN = re.compile(
    r"([ \t]*)((?:[A-Za-z_][\w.]*|\([^)=]*\)|\[[^\]=]*\])(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*)"
    r"[ \t]*=[ \t]*(%|!)(.*)",
    re.DOTALL,
)
# one way to split any line (no two adjacent repeats of the same characters), so that a long
# line fails in linear time instead of backtracking through every split of its name
_HELP = re.compile(r"([ \t]*)(\?{0,2})([A-Za-z_][\w.]*(?:(?:\[[^\]]*\]|\(\))[\w.]*)?)(\?{0,2})[ \t]*")
_TIMEIT_OPTIONS = re.compile(r"(?:-[A-Za-z]+(?:[ \t]+\d+(?:\.\d+)?)?[ \t]+)*")

# A scanner over ordinary Python lines: strings, comments and brackets (to know whether the
# next line starts a logical line).
_TOKEN = re.compile(r"""[rRbBuUfF]{0,2}('''|\"\"\"|'|")|(#)|([(\[{])|([)\]}])""")
_STRING_END = {
    "'''": re.compile(r"(?:[^\\]|\\.)*?'''", re.DOTALL),
    '"""': re.compile(r'(?:[^\\]|\\.)*?"""', re.DOTALL),
    "'": re.compile(r"(?:[^\\'\n]|\\.)*'"),
    '"': re.compile(r'(?:[^\\"\n]|\\.)*"'),
}


def has_ipython_syntax(source: str) -> bool:
    """Whether a cell may contain IPython syntax (a fast pre-check, may say yes wrongly)."""
    if "%" not in source and "!" not in source and "?" not in source:
        return False  # most cells: three memchr scans instead of the regex
    return _CANDIDATE.search(source) is not None


def rewrite_magics(source: str) -> str:
    """The cell as Python: IPython magics, shell escapes and help syntax turned into calls."""
    if not has_ipython_syntax(source):
        return source
    lines = source.split("\n")
    out: list[str] = []
    depth = 0  # open brackets
    open_string: str | None = None  # the delimiter of a triple-quoted string left open
    continued = False  # the previous line ended with a backslash
    index = 0
    if lines and lines[0].lstrip().startswith("%%"):
        header, body = lines[0], "\n".join(lines[1:])
        match = _LINE_MAGIC.fullmatch(header)
        if match:
            name, args = match.group(3), match.group(4).strip()
            if name not in PYTHON_BODY_CELL_MAGICS:
                return f"get_ipython().run_cell_magic({name!r}, {args!r}, {body!r})"
            out.append(f"get_ipython().run_cell_magic({name!r}, {args!r})")
            index = 1
    while index < len(lines):
        line = lines[index]
        index += 1
        if open_string is None and depth == 0 and not continued:
            stripped = line.lstrip()
            if stripped[:1] in ("%", "!") or "?" in line or "=" in line:
                while line.endswith("\\") and index < len(lines) and stripped[:1] in ("%", "!"):
                    line = line[:-1] + lines[index]
                    index += 1
                rewritten = _rewrite_line(line)
                if rewritten is not None:
                    out.append(rewritten)
                    continue
        out.append(line)
        depth, open_string, continued = _scan(line, depth, open_string)
    return "\n".join(out)


def _rewrite_line(line: str) -> str | None:
    """One logical line in IPython syntax as Python, or None when it is plain Python."""
    stripped = line.lstrip()
    if stripped.startswith("%"):
        match = _LINE_MAGIC.fullmatch(line)
        if match is None:
            return None
        indent, _, name, args = match.groups()
        return _line_magic_call(indent, name, args.strip())
    if stripped.startswith("!"):
        indent, bangs, command = _SHELL.fullmatch(line).groups()  # type: ignore[union-attr]
        method = "getoutput" if bangs == "!!" else "system"
        return f"{indent}get_ipython().{method}({command.strip()!r})"
    match = _ASSIGN.fullmatch(line)
    if match:
        indent, target, kind, rest = match.groups()
        if kind == "!":
            return f"{indent}{target} = get_ipython().getoutput({rest.strip()!r})"
        magic = _LINE_MAGIC.fullmatch("%" + rest)
        if magic:
            _, _, name, args = magic.groups()
            return f"{indent}{target} = get_ipython().run_line_magic({name!r}, {args.strip()!r})"
        return None
    match = _HELP.fullmatch(line)
    if match and (match.group(2) or match.group(4)):
        indent, before, obj, after = match.groups()
        name = "pinfo2" if "??" in (before, after) else "pinfo"
        return f"{indent}get_ipython().run_line_magic({name!r}, {obj!r})"
    return None


def _line_magic_call(indent: str, name: str, args: str) -> str:
    if name in PYTHON_ARG_LINE_MAGICS and args:
        statement = args[_TIMEIT_OPTIONS.match(args).end() :]  # type: ignore[union-attr]
        if statement:
            return f"{indent}get_ipython().run_line_magic({name!r}, '')\n{indent}{statement}"
    return f"{indent}get_ipython().run_line_magic({name!r}, {args!r})"


def _scan(line: str, depth: int, open_string: str | None) -> tuple[int, str | None, bool]:
    """Bracket depth and open triple-quoted string after ``line``, and whether it continues."""
    position = 0
    if open_string is not None:
        end = _STRING_END[open_string].match(line)
        if end is None:
            return depth, open_string, False
        position = end.end()
        open_string = None
    while True:
        token = _TOKEN.search(line, position)
        if token is None:
            break
        quote, comment, opening, closing = token.groups()
        if comment:
            return depth, None, False
        if opening:
            depth += 1
        elif closing:
            depth = max(depth - 1, 0)
        else:
            end = _STRING_END[quote].match(line, token.end())
            if end is None:
                if len(quote) == 3:
                    return depth, quote, False
                break  # an unterminated one-line string: the line is broken anyway
            position = end.end()
            continue
        position = token.end()
    return depth, None, line.endswith("\\")
