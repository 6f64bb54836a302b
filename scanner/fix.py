"""`tether fix` (issue 13): write the remedies findings carry (a rule's `fix:`, see
`Finding.fix`) into the files, as minimal edits.

An edit replaces exactly the text of one span (a YAML scalar, an HCL literal) and nothing
else: comments, indentation, key order, quoting, CRLF and trailing newlines are kept byte for
byte outside it. A quoted value stays quoted the same way (its new text escaped for that
quote); a plain YAML scalar is quoted only if the new text could not stand plain.

Edits are planned per file from the text the scan read, merged, and refused (reported, not
applied) when two overlap or the file changed since it was read; a file is written through a
temporary file and a rename, keeping its mode; links are never written through. After
writing, the repository is scanned again: a file where a fixed finding remains, or where a
new finding appears, is put back as it was and reported.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import json
import os
import re
import secrets
import stat
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .model import Finding, FixEdit, Report, Span

_PLAIN_UNSAFE_START = tuple("'\"[]{}&*!|>%@`#,?-:")


@dataclass
class Refusal:
    finding: Finding
    why: str

    def __str__(self) -> str:
        f = self.finding
        return f"{f.path}:{f.span.start_line} {f.rule_id}: {self.why}"


@dataclass
class FileFix:
    """The planned change of one file."""

    path: str  # repository-relative
    before: str
    after: str
    fixed: list[Finding] = field(default_factory=list)
    edits: list[tuple[str, str]] = field(default_factory=list)  # per fixed: (old, new) text

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=f"a/{self.path}",
                tofile=f"b/{self.path}",
            )
        )


@dataclass
class Plan:
    files: list[FileFix] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def _hcl(path: str) -> bool:
    return path.endswith((".tf", ".hcl", ".tfvars"))


def requote(original: str, value: str, hcl: bool = False) -> str | None:
    """``value`` written where ``original`` was, or None when it cannot be written safely
    (the edit is then refused):

    * a value with a control character, or an original that is anchored, aliased or tagged
      (``&a``, ``*a``, ``!!str``: other nodes may share it), or holds escapes, never;
    * in the original's quotes, escaped for them (HCL: a ``${`` or ``%{`` would start a
      template, refused); an HCL value that was not a quoted string (a heredoc, an
      expression), never;
    * a plain YAML scalar stays plain when ``value`` can stand plain, else double-quoted.
    """
    if not _safe_text(value) or original[:1] in ("&", "*", "!"):
        return None
    quoted = len(original) >= 2 and original[0] == original[-1] and original[0] in "\"'"
    if quoted and "\\" in original:
        return None  # escapes in the original: a rewrite could change what they meant
    if hcl:
        if not (quoted and original[0] == '"') or "${" in value or "%{" in value:
            return None
        return _double_quoted(value)
    if quoted and original[0] == "'":
        return "'" + value.replace("'", "''") + "'"
    if (
        quoted
        or value.startswith(_PLAIN_UNSAFE_START)
        or ": " in value
        or " #" in value
        or value != value.strip()
    ):
        return _double_quoted(value)
    return value


def _double_quoted(value: str) -> str:
    """``value`` in double quotes, its backslashes and quotes escaped (the same in YAML,
    JSON and HCL; a value with control characters is never written)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _why_not(original: str, value: str, hcl: bool) -> str:
    """Why `requote` refuses to write ``value`` over ``original`` (for the console)."""
    if not _safe_text(value):
        return "the new value has a control character or a line break"
    if original[:1] in ("&", "*", "!"):
        return "it is anchored, aliased or tagged YAML (other places may share it)"
    if original[:1] in "\"'" and "\\" in original:
        return "the quoted value holds escapes"
    if hcl and original[:1] != '"':
        return "it is not a quoted string (a heredoc, a number or an expression)"
    return "the new value would start an HCL template"


# line breaks YAML counts beside \n (and a lone \r): a file holding one is not edited, since
# tether's lines and the parser's could differ
_OTHER_BREAKS = ("\u2028", "\u2029", "\x85")


def _offsets(text: str) -> list[int]:
    """Where each line starts (lines end at \\n; a \\r before it stays on its line)."""
    starts = [1 if text.startswith("\ufeff") else 0]  # parsers do not count a BOM
    i = text.find("\n")
    while i != -1:
        starts.append(i + 1)
        i = text.find("\n", i + 1)
    return starts


def _char(line: str, utf16_col: int) -> int | None:
    """The character index of a UTF-16 column (0-based) in ``line``; None past its end."""
    units = 0
    for i, ch in enumerate(line):
        if units == utf16_col:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(line) if units == utf16_col else None


def _range(text: str, starts: list[int], span: Span) -> tuple[int, int] | None:
    def at(line: int, col: int) -> int | None:
        if not 1 <= line <= len(starts):
            return None
        begin = starts[line - 1]
        end = starts[line] - 1 if line < len(starts) else len(text)
        ch = _char(text[begin:end], col - 1)
        return None if ch is None else begin + ch

    a, b = at(span.start_line, span.start_col), at(span.end_line, span.end_col)
    if a is None or b is None or b <= a:
        return None
    return a, b


def _text(data: bytes) -> str:
    """A file's text as edits are planned on it; ValueError saying why it is not edited."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8") from None
    if any(b in text for b in _OTHER_BREAKS) or "\r" in text.replace("\r\n", ""):
        raise ValueError(
            "the file has line breaks other than \\n and \\r\\n (a lone \\r, U+2028, U+2029, "
            "U+0085): tether's lines and a parser's could differ"
        )
    return text


def _located(text: str, starts: list[int], edit: FixEdit, path: str) -> tuple[int, int, str]:
    """Where the edit goes in ``text`` (offsets) and what it writes there (quoting kept);
    ValueError saying why it is refused."""
    where = _range(text, starts, edit.span)
    if where is None:
        raise ValueError("its place is not in the file as it is now")
    if edit.adds:
        return _addition(text, starts, where[0], edit, path)
    original = text[where[0] : where[1]]
    new = requote(original, edit.text, hcl=_hcl(path))
    if new is None:
        why = _why_not(original, edit.text, _hcl(path))
        raise ValueError(f"its value cannot be rewritten safely there: {why}")
    if edit.comment is None:
        if not _hcl(path) and not path.endswith(".json"):
            m = _TRAILING.fullmatch(_rest_of_line(text, where[1]))
            if m is not None and m.group(2) is not None and _VERSION_COMMENT.fullmatch(m.group(2)):
                raise ValueError(
                    "a version comment follows it, which the new value would contradict"
                )
        return where[0], where[1], new
    # the trailing comment on the value's line becomes `# <comment>` (pinact style)
    if _hcl(path) or not _safe_text(edit.comment):
        raise ValueError("its comment cannot be written safely there")
    rest = _rest_of_line(text, where[1])
    end = where[1] + len(rest)
    m = _TRAILING.fullmatch(rest)
    if m is None:
        raise ValueError("something other than a comment follows the value on its line")
    if m.group(2) is not None and not _VERSION_COMMENT.fullmatch(m.group(2)):
        raise ValueError("its line has a comment that is not a version (it is never dropped)")
    return where[0], end, f"{new}{m.group(1) or ' '}# {edit.comment}"


def _rest_of_line(text: str, at: int) -> str:
    """The text from ``at`` to the end of its line (its line break left out)."""
    end = text.find("\n", at)
    end = len(text) if end == -1 else end
    if end > at and text[end - 1] == "\r":
        end -= 1
    return text[at:end]


# what may follow a value whose trailing comment is set: blanks, then a comment or nothing
_TRAILING = re.compile(r"([ \t]+)(#[^\r\n]*)|[ \t]*")
# a comment that only names a version (`# v4.1.1`, `# tag=v4`, `# pin@v4`): what a new pin's
# comment replaces; any other words are the author's and stay
_VERSION_COMMENT = re.compile(
    r"#\s*(?:tag\s*[:=]?\s*|pin\s*)?@?\s*v?\d+(?:\.\d+){0,3}(?:-[\w.]+)?\s*"
)


def _safe_text(value: str) -> bool:
    return not any(unicodedata.category(c) in ("Cc", "Zl", "Zp") or c == "\x85" for c in value)


# words some YAML version reads as a boolean or null; anything starting with a digit, a sign
# or a dot may read as a number, a date or a time: both are quoted
_NOT_PLAIN = re.compile(r"(?i:true|false|yes|no|on|off|y|n|null|~)|[-+.0-9].*")
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/@-]*")


def yaml_scalar(value: str) -> str:
    """``value`` as a YAML scalar that reads back as that string: plain when it is a simple
    word no YAML version resolves to anything else, else double-quoted (JSON escapes,
    which YAML reads the same)."""
    if _PLAIN.fullmatch(value) and not _NOT_PLAIN.fullmatch(value):
        return value
    return json.dumps(value, ensure_ascii=True)


def _addition(
    text: str, starts: list[int], at: int, edit: FixEdit, path: str
) -> tuple[int, int, str]:
    """An add edit: the entries written just above the key at ``at`` (and above the
    comments that belong to that key), at its indentation, in block style with the file's step and
    line ending."""
    hcl = _hcl(path)
    if path.endswith(".json"):
        raise ValueError("adding an entry is not supported in JSON files")
    assert edit.entries is not None
    value = json.loads(edit.entries)
    if not isinstance(value, dict) or not value:
        raise ValueError("it adds nothing")
    line = bisect.bisect_right(starts, at) - 1
    first = starts[line]
    indent = text[first:at]
    if indent.strip(" "):
        raise ValueError("the mapping it goes into is not in block style")

    def line_text(i: int) -> str:
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        return text[starts[i] : end]

    # the line ending of the key's line (of the one above when it ends the file)
    nl = (
        "\r\n"
        if line_text(line if line_text(line).endswith("\n") or not line else line - 1).endswith(
            "\r\n"
        )
        else "\n"
    )

    # the indentation step: of the key's own value, else of the key under its parent
    def depth(i: int) -> int | None:
        body = line_text(i).rstrip("\r\n")
        if not body.strip() or body.lstrip().startswith(("#", "//")):
            return None
        return len(body) - len(body.lstrip(" "))

    step = 2
    below = next((d for i in range(line + 1, len(starts)) if (d := depth(i)) is not None), None)
    if below is not None and below > len(indent):
        step = below - len(indent)
    else:
        parent = next(
            (d for i in range(line - 1, -1, -1) if (d := depth(i)) is not None and d < len(indent)),
            None,
        )
        if parent is not None:
            step = len(indent) - parent
    top = line
    inside = _in_text(text, starts, hcl)  # lines that only look like comments
    while top > 0:
        above = line_text(top - 1)
        comment = ("#", "//") if hcl else ("#",)
        if not above.startswith(indent) or not above[len(indent) :].startswith(comment):
            break
        if inside(top - 1):
            break
        top -= 1

    if hcl:
        lines = _hcl_entries(value, indent, " " * step, nl)
        # terraform fmt aligns the = of a run of one-line attributes (a blank, comment or
        # bracket line ends it): new one-line entries followed by an attribute get a blank
        # line, so they are a run of their own, aligned among themselves
        after = line_text(top).strip() if top < len(starts) else ""
        if (
            after
            and not after.startswith(("#", "//", "/*", "}"))
            and not lines[-1].strip().endswith("}")
        ):
            lines.append(nl)
        return starts[top], starts[top], "".join(lines)

    # a key at the start of its line may still be inside a flow mapping (`labels: {` on the
    # line above): block entries written there would break it
    for i in range(top - 1, -1, -1):
        body = re.sub(r"(^|[ \t])#.*", "", line_text(i)).rstrip()
        if body:
            if body.endswith(("{", "[", ",")):
                raise ValueError("the mapping it goes into is not in block style")
            break

    def entry(key: str, v: Any, depth: int) -> list[str]:
        pad = indent + " " * (step * depth)
        if isinstance(v, str):
            if not _safe_text(v):
                raise ValueError("its value has a control character or a line break")
            return [f"{pad}{yaml_scalar(key)}: {yaml_scalar(v)}{nl}"]
        if isinstance(v, dict):
            out = [f"{pad}{yaml_scalar(key)}:{nl}"]
            for k, x in v.items():
                out += entry(k, x, depth + 1)
            return out
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            if not all(_safe_text(x) for x in v):
                raise ValueError("its value has a control character or a line break")
            inner = indent + " " * (step * (depth + 1))
            return [f"{pad}{yaml_scalar(key)}:{nl}"] + [f"{inner}- {yaml_scalar(x)}{nl}" for x in v]
        raise ValueError("its value cannot be written in block style")

    lines = []
    for key, v in value.items():
        if not _safe_text(key):
            raise ValueError("a key has a control character or a line break")
        lines += entry(key, v, 0)
    return starts[top], starts[top], "".join(lines)


def _in_text(text: str, starts: list[int], hcl: bool) -> Callable[[int], bool]:
    """Whether a line (0-based) lies inside something that is not a comment line though it
    may start like one: a YAML scalar over several lines (a quoted string), an HCL
    ``/* */`` comment. When the YAML cannot be read, every line counts (no comment is
    climbed over)."""
    if hcl:

        def in_block(i: int) -> bool:
            at = starts[i]
            return text.rfind("/*", 0, at) > text.rfind("*/", 0, at)

        return in_block
    spans: list[tuple[int, int]] = []
    if "#" in text and ('"' in text or "'" in text):
        from ruamel.yaml.nodes import ScalarNode

        composed = _compose(text)
        if composed is None:
            return lambda i: True
        spans = [
            (n.start_mark.line, n.end_mark.line)
            for n in composed[0]
            if isinstance(n, ScalarNode) and n.end_mark.line > n.start_mark.line
        ]
    return lambda i: any(a < i <= b for a, b in spans)


_HCL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def hcl_string(value: str) -> str:
    """``value`` as an HCL quoted string that reads back as that text: quotes and
    backslashes escaped, ``${`` and ``%{`` escaped so they start no template."""
    return _double_quoted(value).replace("${", "$${").replace("%{", "%%{")


def _hcl_entries(entries: dict[str, Any], pad: str, step: str, nl: str) -> list[str]:
    """HCL object entries (``key = "value"``, or nested objects) at ``pad``, the ``=`` of
    each run of one-line entries aligned as terraform fmt aligns them."""
    names = {}
    for key in entries:
        if not _safe_text(key):
            raise ValueError("a key has a control character or a line break")
        names[key] = key if _HCL_NAME.fullmatch(key) else hcl_string(key)
    width = max((len(names[k]) for k, v in entries.items() if isinstance(v, str)), default=0)
    out: list[str] = []
    for key, v in entries.items():
        if isinstance(v, str):
            if not _safe_text(v):
                raise ValueError("its value has a control character or a line break")
            out.append(f"{pad}{names[key].ljust(width)} = {hcl_string(v)}{nl}")
        elif isinstance(v, dict):
            out += [
                f"{pad}{names[key]} = {{{nl}",
                *_hcl_entries(v, pad + step, step, nl),
                f"{pad}}}{nl}",
            ]
        else:
            raise ValueError("its value cannot be written as an HCL object entry")
    return out


def _span_at(text: str, starts: list[int], a: int, b: int) -> Span:
    """The Span (1-based lines, UTF-16 columns) of offsets ``a`` to ``b``."""

    def point(x: int) -> tuple[int, int]:
        line = bisect.bisect_right(starts, x) - 1
        col = sum(2 if ord(c) > 0xFFFF else 1 for c in text[starts[line] : x])
        return line + 1, col + 1

    (l1, c1), (l2, c2) = point(a), point(b)
    return Span(l1, c1, l2, c2)


@dataclass(frozen=True)
class _Source:
    """A file's text as edits are planned on it: its line starts, and the ranges of the
    YAML nodes aliases share (None: YAML that cannot be read, so nothing in it is edited)."""

    path: str
    text: str
    starts: list[int]
    shared: list[tuple[int, int]] | None


def _source(data: bytes, path: str) -> _Source:
    """A file's `_Source`; ValueError saying why nothing in it is edited."""
    text = _text(data)
    starts = _offsets(text)
    return _Source(path, text, starts, _shared(text, starts) if _yaml(path) else [])


def _yaml(path: str) -> bool:
    return path.endswith((".yml", ".yaml"))


def _edit(src: _Source, edit: FixEdit) -> tuple[int, int, str]:
    """Where the edit goes (offsets) and what it writes there; ValueError saying why it is
    refused: `plan`, SARIF and JSON refuse alike, anchors included."""
    if src.shared is None:
        raise ValueError("the file cannot be read as YAML to check anchors")
    where = _range(src.text, src.starts, edit.span)
    if where is not None and any(a <= where[0] and where[1] <= b for a, b in src.shared):
        raise ValueError(
            "it is inside an anchored node that an alias or merge key uses elsewhere: an "
            "edit would change that place too"
        )
    return _located(src.text, src.starts, edit, src.path)


def replacement(data: bytes, edit: FixEdit, path: str) -> tuple[Span, str] | str:
    """The region `plan` would replace for this edit in this file and the exact text it
    would write there (an add: an empty region where the entry goes): what SARIF's fixes
    and the JSON report carry. Else why it would not write one."""
    try:
        return _placed(_source(data, path), edit)
    except ValueError as why:
        return str(why)


def _placed(src: _Source, edit: FixEdit) -> tuple[Span, str]:
    a, b, new = _edit(src, edit)
    return _span_at(src.text, src.starts, a, b), new


@functools.lru_cache(maxsize=4)  # a file's anchors and its comment lines read one parse
def _compose(text: str) -> tuple[list[Any], list[Any]] | None:
    """A YAML file's nodes, each once, and those used more than once (anchored nodes an
    alias or merge key uses again); None when it cannot be read as YAML (deeper than 200
    levels counts as unreadable)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    seen: dict[int, Any] = {}
    again: dict[int, Any] = {}

    def walk(node: Any, depth: int) -> None:
        if depth > 200:
            raise ValueError("too deep")
        if id(node) in seen:  # an alias: walked once (no exponential walk)
            again[id(node)] = node
            return
        seen[id(node)] = node
        value = node.value
        if isinstance(value, list):
            for item in value:
                for x in item if isinstance(item, tuple) else (item,):
                    walk(x, depth + 1)

    try:
        for doc in YAML().compose_all(text.lstrip("\ufeff")):
            if doc is not None:
                walk(doc, 0)
    except (YAMLError, ValueError, RecursionError):
        return None
    return list(seen.values()), list(again.values())


def _shared(text: str, starts: list[int]) -> list[tuple[int, int]] | None:
    """The ranges of a YAML file's nodes that aliases share (an anchored node some ``*name``
    or ``<<: *name`` uses again): an edit inside one changes every place that uses it. None
    when the file cannot be read as YAML (then nothing in it is edited)."""
    if "&" not in text:
        return []
    composed = _compose(text)
    if composed is None:
        return None

    def at(mark: Any) -> int:
        line = min(int(mark.line), len(starts) - 1)
        return starts[line] + int(mark.column)

    return [(at(n.start_mark), at(n.end_mark)) for n in composed[1]]


class Replacements:
    """`replacement` for the findings of one repository, as reports list them (file by
    file): the last file read, and what planning needs of it, is kept for the next
    finding's fix."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._file: tuple[str, _Source | str] | None = None

    def get(self, path: str, edit: FixEdit) -> tuple[Span, str] | None:
        found = self.edit(path, edit)
        return None if isinstance(found, str) else found

    def edit(self, path: str, edit: FixEdit) -> tuple[Span, str] | str:
        """`get`, or why the edit cannot be written in place."""
        from .source import read_regular

        if self._file is None or self._file[0] != path:
            data = read_regular(os.path.join(self.root, path))
            try:
                src: _Source | str = (
                    "the file cannot be read as a regular file"
                    if data is None
                    else _source(data, path)
                )
            except ValueError as why:
                src = str(why)
            self._file = (path, src)
        src = self._file[1]
        if isinstance(src, str):
            return src
        try:
            return _placed(src, edit)
        except ValueError as why:
            return str(why)


def wanted(f: Finding, unsafe: bool) -> bool:
    """Whether `tether fix` writes this finding's remedy: it has one in the repository, and
    it is safe or ``unsafe`` remedies are asked for (`tether fix`, `tether org --fix`)."""
    return f.fix is not None and not f.external and (unsafe or f.fix.safe)


def read_file(path: Path) -> bytes | None:
    """A regular file's bytes, never through a link (None: not one, or unreadable): what
    `plan` may edit."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def plan(
    root: Path,
    findings: Iterable[Finding],
    read: Callable[[Path], bytes | None] = read_file,
) -> Plan:
    """The edits the findings' remedies make, per file (see the module doc). ``read``
    returns a file's bytes (None: not a regular file, or unreadable)."""
    out = Plan()
    by_path: dict[str, list[Finding]] = {}
    for f in findings:
        if f.fix is not None and not f.external:
            by_path.setdefault(f.path, []).append(f)
    for path, found in sorted(by_path.items()):
        data = read(root / path)
        if data is None:
            out.refused += [Refusal(f, "the file cannot be read as a regular file") for f in found]
            continue
        try:
            src = _source(data, path)
        except ValueError as why:
            out.refused += [Refusal(f, str(why)) for f in found]
            continue
        text = src.text
        edits: list[tuple[int, int, str, Finding]] = []
        for f in found:
            assert f.fix is not None
            try:
                a, b, new = _edit(src, f.fix)
            except ValueError as why:
                out.refused.append(Refusal(f, str(why)))
                continue
            if new != text[a:b]:
                edits.append((a, b, new, f))
        edits.sort(key=lambda e: (e[0], e[1]))
        kept: list[tuple[int, int, str, list[Finding]]] = []
        for a, b, new, f in edits:
            if kept and (a < kept[-1][1] or a == b == kept[-1][0] == kept[-1][1]):
                if (kept[-1][0], kept[-1][1], kept[-1][2]) == (a, b, new):
                    kept[-1][3].append(f)  # the same edit twice (two rules): made once
                    continue
                out.refused.append(Refusal(f, "its edit overlaps another's"))
                out.refused += [Refusal(g, "its edit overlaps another's") for g in kept.pop()[3]]
                continue
            kept.append((a, b, new, [f]))
        if not kept:
            continue
        pieces, pos = [], 0
        for a, b, new, _f in kept:
            pieces += [text[pos:a], new]
            pos = b
        pieces.append(text[pos:])
        change = FileFix(path, text, "".join(pieces))
        for a, b, new, found in kept:
            change.fixed += found
            change.edits += [(text[a:b], new)] * len(found)
        out.files.append(change)
    return out


def _parent_fd(root: Path, rel: str) -> int:
    """The directory holding ``rel``, opened component by component without following a
    link (a directory swapped for one after the scan is refused, not written through)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in rel.split("/")[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _replace(root: Path, rel: str, data: bytes, expect: bytes | None) -> str | None:
    """Write ``data`` at ``rel`` through a temporary file and a rename in the same
    directory, keeping mode and owner; ``expect``: the bytes the file must hold now."""
    name = rel.rsplit("/", 1)[-1]
    try:
        parent = _parent_fd(root, rel)
    except OSError as e:
        return f"its directory cannot be opened without following a link ({e.strerror or e})"
    try:
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except OSError as e:
            return f"cannot read it: {e.strerror or e}"
        if not stat.S_ISREG(st.st_mode):
            return "not a regular file (a link is never written through)"
        if st.st_nlink > 1:
            return "it is hard-linked elsewhere (an edit would split the link)"
        if expect is not None:
            fd = os.open(name, os.O_RDONLY | _NOFOLLOW, dir_fd=parent)
            with os.fdopen(fd, "rb") as fh:
                if fh.read() != expect:
                    return "it changed since it was read"
        tmp = f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tether"
        try:
            fd = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=parent
            )
        except OSError as e:  # a file of that name is there: never ours to remove
            return f"cannot write it: {e.strerror or e}"
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(tmp, stat.S_IMODE(st.st_mode), dir_fd=parent)
            with _quiet():  # (only root may give a file away; others keep their own)
                os.chown(tmp, st.st_uid, st.st_gid, dir_fd=parent)
            os.replace(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
        except OSError as e:
            with _quiet():
                os.unlink(tmp, dir_fd=parent)
            return f"cannot write it: {e.strerror or e}"
    finally:
        os.close(parent)
    return None


def write(root: Path, fix: FileFix) -> str | None:
    """Write one planned file atomically, keeping its mode and owner; the reason it was not
    written (a link on the way, a hard link, changed since it was read, an error), else
    None."""
    return _replace(root, fix.path, fix.after.encode("utf-8"), fix.before.encode("utf-8"))


def restore(root: Path, fix: FileFix) -> str | None:
    """Put a written file back as it was (the reason it could not be, else None)."""
    return _replace(root, fix.path, fix.before.encode("utf-8"), None)


def regressions(before: Report, after: Report, written: Sequence[FileFix]) -> dict[str, str]:
    """Per written file, why the rescan refuses it: a fixed finding still there, or a
    finding that was not there before. Findings are compared by rule, path and target."""
    paths = {fix.path for fix in written}

    def keys(report: Report) -> dict[str, Counter[tuple[str, str]]]:
        out: dict[str, Counter[tuple[str, str]]] = {p: Counter() for p in paths}
        for f in report.findings:
            if f.path in paths:
                out[f.path][(f.rule_id, f.target)] += 1
        return out

    def problems(report: Report) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = {p: Counter() for p in paths}
        for d in report.diagnostics:
            if d.path in paths:
                out[d.path][d.code] += 1
        return out

    had, has = keys(before), keys(after)
    was, now = problems(before), problems(after)
    out = {}
    for fix in written:
        worse = sorted(now[fix.path] - was[fix.path])
        if worse:  # the file no longer reads as it did: its findings say nothing
            out[fix.path] = f"the file no longer reads cleanly after the edit ({worse[0]})"
            continue
        fixed = {(f.rule_id, f.target) for f in fix.fixed}
        before_, after_ = had[fix.path], has[fix.path]
        still = sorted(k for k in after_ if k in fixed and after_[k] >= before_[k])
        new = sorted(after_ - before_)
        if still:
            out[fix.path] = f"{still[0][0]} still fails there after the edit"
        elif new:
            rules = ", ".join(sorted({k[0] for k in new}))
            out[fix.path] = f"the edit brings new findings ({rules})"
    return out


@dataclass
class Applied:
    """What `apply` did: the files written and kept, and those not written or put back
    (one line each, path first; the plan's refusals are the plan's)."""

    kept: list[FileFix] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def apply(root: Path, planned: Plan, before: Report, rescan: Callable[[], Report]) -> Applied:
    """Write a plan's files, scan again (``rescan``) and put back every file the rescan
    refuses (see `regressions`). A failing rescan puts back every written file and is
    raised again: no edit is kept unchecked."""
    out = Applied()
    written = []
    for change in planned.files:
        why = write(root, change)
        if why is None:
            written.append(change)
        else:
            out.problems.append(f"{change.path}: not written: {why}")
    if not written:
        return out
    try:
        after = rescan()
    except BaseException as e:
        unrestored = [
            f"{change.path}: NOT put back: {why}"
            for change in written
            if (why := restore(root, change)) is not None
        ]
        raise RescanFailed(e, unrestored) from e
    rolled = regressions(before, after, written)
    for change in written:
        if change.path in rolled:
            why = restore(root, change)
            out.problems.append(
                f"{change.path}: put back: {rolled[change.path]}"
                if why is None
                else f"{change.path}: {rolled[change.path]}, and NOT put back: {why}"
            )
        else:
            out.kept.append(change)
    return out


class RescanFailed(Exception):
    """The scan after writing failed; every written file was put back, except those in
    ``unrestored`` (one line each)."""

    def __init__(self, cause: BaseException, unrestored: list[str]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.unrestored = unrestored


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)  # type: ignore[arg-type]
