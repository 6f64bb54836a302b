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

import difflib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .model import Finding, FixEdit, Report, Span

_PLAIN_UNSAFE_START = tuple("'\"[]{}&*!|>%@`#,?-:")


@dataclass
class Refusal:
    finding: Finding
    why: str


@dataclass
class FileFix:
    """The planned change of one file."""

    path: str  # repository-relative
    before: str
    after: str
    fixed: list[Finding] = field(default_factory=list)

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


def requote(original: str, value: str) -> str:
    """``value`` written where ``original`` was: in the same quotes, escaped for them; plain
    when the original was plain and ``value`` can stand plain (else double-quoted)."""
    if len(original) >= 2 and original[0] == original[-1] and original[0] in "\"'":
        quote = original[0]
        if quote == '"':
            inner = value.replace("\\", "\\\\").replace('"', '\\"')
        else:
            inner = value.replace("'", "''")
        return quote + inner + quote
    if (
        value.startswith(_PLAIN_UNSAFE_START)
        or ": " in value
        or " #" in value
        or value != value.strip()
    ):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _offsets(text: str) -> list[int]:
    """Where each line starts (lines end at \\n; a \\r before it stays on its line)."""
    starts = [0]
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


def replacement(data: bytes, edit: FixEdit) -> str | None:
    """The exact text `plan` would write in place of the edit's span of this file (quoting
    kept): what SARIF's and the JSON report's fixes insert. None when it cannot say."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    where = _range(text, _offsets(text), edit.span)
    return None if where is None else requote(text[where[0] : where[1]], edit.text)


def plan(root: Path, findings: Iterable[Finding], read: Callable[[Path], bytes | None]) -> Plan:
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
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            out.refused += [Refusal(f, "the file is not UTF-8") for f in found]
            continue
        starts = _offsets(text)
        edits: list[tuple[int, int, str, Finding]] = []
        for f in found:
            assert f.fix is not None
            where = _range(text, starts, f.fix.span)
            if where is None:
                out.refused.append(Refusal(f, "its place is not in the file as it is now"))
                continue
            new = requote(text[where[0] : where[1]], f.fix.text)
            if new != text[where[0] : where[1]]:
                edits.append((where[0], where[1], new, f))
        edits.sort(key=lambda e: (e[0], e[1]))
        kept: list[tuple[int, int, str, Finding]] = []
        for e in edits:
            if kept and e[0] < kept[-1][1]:
                if (kept[-1][0], kept[-1][1], kept[-1][2]) == e[:3]:
                    continue  # the same edit twice (two rules, one remedy): once is enough
                out.refused.append(Refusal(e[3], "its edit overlaps another's"))
                out.refused.append(Refusal(kept.pop()[3], "its edit overlaps another's"))
                continue
            kept.append(e)
        if not kept:
            continue
        pieces, pos = [], 0
        for a, b, new, _f in kept:
            pieces += [text[pos:a], new]
            pos = b
        pieces.append(text[pos:])
        out.files.append(FileFix(path, text, "".join(pieces), [e[3] for e in kept]))
    return out


def write(root: Path, fix: FileFix) -> str | None:
    """Write one planned file atomically, keeping its mode; the reason it was not written
    (a link, changed since it was read), else None."""
    target = root / fix.path
    try:
        st = os.lstat(target)
    except OSError as e:
        return f"cannot read it: {e.strerror or e}"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a link is never written through)"
    with open(target, "rb") as fh:
        if fh.read() != fix.before.encode("utf-8"):
            return "it changed since it was read"
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tether", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(fix.after.encode("utf-8"))
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.replace(tmp, target)
    except BaseException:
        with _quiet():
            os.unlink(tmp)
        raise
    return None


def restore(root: Path, fix: FileFix) -> None:
    """Put a written file back as it was."""
    target = root / fix.path
    mode = stat.S_IMODE(os.lstat(target).st_mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tether", dir=target.parent)
    with os.fdopen(fd, "wb") as out:
        out.write(fix.before.encode("utf-8"))
    os.chmod(tmp, mode)
    os.replace(tmp, target)


def regressions(before: Report, after: Report, written: Sequence[FileFix]) -> dict[str, str]:
    """Per written file, why the rescan refuses it: a fixed finding still there, or a
    finding that was not there before. Findings are compared by rule, path and target."""

    def keys(report: Report, path: str) -> list[tuple[str, str]]:
        return sorted((f.rule_id, f.target) for f in report.findings if f.path == path)

    out = {}
    for fix in written:
        had = keys(before, fix.path)
        has = keys(after, fix.path)
        fixed = {(f.rule_id, f.target) for f in fix.fixed}
        still = [k for k in has if k in fixed and has.count(k) >= had.count(k)]
        new = sorted(k for k in set(has) if has.count(k) > had.count(k))
        if still:
            out[fix.path] = f"{still[0][0]} still fails there after the edit"
        elif new:
            rules = ", ".join(sorted({k[0] for k in new}))
            out[fix.path] = f"the edit brings new findings ({rules})"
    return out


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)  # type: ignore[arg-type]
