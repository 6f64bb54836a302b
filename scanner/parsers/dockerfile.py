"""Dockerfile instructions with spans: enough to read every `FROM` exactly.

Handles parser directives (`# syntax=`, `# escape=`), line continuations (the escape
character, `\\` or the directive's), comment and blank lines inside continuations (Docker
skips both), BuildKit heredocs (`RUN <<EOF` ... `EOF`, whose body lines are not
instructions), global `ARG`s before the first `FROM` with literal defaults substituted into
`FROM` lines (`$VAR`, `${VAR}`, `${VAR:-default}`), `--platform=` flags and `AS name` stage
aliases. Images read by other instructions (`COPY --from=IMAGE`, `RUN --mount=...,from=IMAGE`)
are collected beside the `FROM`s: they run or ship as much foreign code as a base image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..model import Diagnostic, Level, Span
from .text import LineIndex

_DIRECTIVE = re.compile(r"^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$")
_VAR = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+])?(?P<word>[^}]*)\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
# `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'` (BuildKit heredocs; `<<<` is a shell herestring)
_HEREDOC = re.compile(r"(?<!<)<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2(?!<)")
_HEREDOC_KEYWORDS = ("RUN", "COPY", "ADD")


@dataclass(frozen=True, slots=True)
class Word:
    """One whitespace-separated word of an instruction's arguments, where it is written."""

    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str  # upper-case
    args: str  # continuation-joined argument text
    span: Span  # the whole instruction, over continuation lines
    args_span: Span
    words: tuple[Word, ...] = ()


@dataclass(frozen=True, slots=True)
class FromLine:
    image: str  # after ARG substitution
    image_raw: str  # as written
    image_span: Span
    span: Span
    platform: str | None
    alias: str | None
    stage_index: int
    unresolved: bool  # a variable without a literal default remains


@dataclass(frozen=True, slots=True)
class ImageUse:
    """An image an instruction reads other than its stage's base: `COPY --from=IMAGE`
    (via copy-from) or `RUN --mount=type=bind|cache,from=IMAGE` (via mount-from). Stage names
    and indexes are not images and are left out."""

    image: str  # after ARG substitution
    image_raw: str  # as written
    image_span: Span
    span: Span  # the instruction
    via: str  # copy-from or mount-from
    stage_index: int  # the stage the instruction belongs to
    unresolved: bool


@dataclass(slots=True)
class DockerfileDocument:
    path: str
    instructions: list[Instruction]
    froms: list[FromLine]
    diagnostics: list[Diagnostic]
    image_uses: list[ImageUse] = field(default_factory=list)


def _escape_char(lines: list[str]) -> tuple[str, int]:
    """The escape character and the index of the first line after the parser directives.
    Directives are `# key=value` comments at the very top; the first other line (a blank
    line, an ordinary comment, an instruction) ends them."""
    escape = "\\"
    seen: set[str] = set()
    for i, line in enumerate(lines):
        m = _DIRECTIVE.match(line.strip())
        if not m or m.group(1).lower() in seen:
            return escape, i
        key = m.group(1).lower()
        seen.add(key)
        if key == "escape" and m.group(2) in ("\\", "`"):
            escape = m.group(2)
    return escape, len(lines)


def _words(
    lines: list[str], pieces: list[tuple[int, int, int]], index: LineIndex
) -> tuple[Word, ...]:
    """Words of the argument text, from (row, start, end) character pieces of physical lines."""
    out: list[Word] = []
    for row, start, end in pieces:
        for m in re.finditer(r"\S+", lines[row][start:end]):
            c0, c1 = start + m.start(), start + m.end()
            c0, c1 = index.col_from_char(row, c0), index.col_from_char(row, c1)
            out.append(Word(m.group(0), Span(row + 1, c0, row + 1, c1)))
    return tuple(out)


def _instructions(text: str, index: LineIndex) -> list[Instruction]:
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    escape, i = _escape_char(lines)
    out: list[Instruction] = []
    n = len(lines)
    while i < n:
        raw = lines[i]
        stripped = raw.lstrip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        indent = len(raw) - len(stripped)
        kw = stripped.split(None, 1)[0]
        args_col = indent + len(kw)
        while args_col < len(raw) and raw[args_col] in " \t":
            args_col += 1
        # (row, start, end) of each physical piece of the argument text
        pieces: list[tuple[int, int, int]] = []
        row, col = i, args_col
        while True:
            line = lines[row]
            body = line.rstrip()
            if body.endswith(escape) and len(body) - 1 >= col:
                pieces.append((row, col, len(body) - 1))
                row += 1
                # comment and blank lines inside a continuation are skipped, as Docker does
                while row < n and (not lines[row].strip() or lines[row].lstrip().startswith("#")):
                    row += 1
                if row >= n:
                    row = n - 1
                    break
                col = 0
                continue
            pieces.append((row, col, len(body)))
            break
        end_line = row
        args = " ".join(lines[r][s:e].strip() for r, s, e in pieces).strip()
        keyword = kw.upper()
        if keyword in _HEREDOC_KEYWORDS:
            end_line = _skip_heredocs(lines, args, end_line)
        last = lines[end_line]
        span = Span(
            start + 1,
            index.col_from_char(start, indent),
            end_line + 1,
            index.col_from_char(end_line, len(last.rstrip())),
        )
        args_span = Span(
            start + 1, index.col_from_char(start, args_col), span.end_line, span.end_col
        )
        out.append(Instruction(keyword, args, span, args_span, _words(lines, pieces, index)))
        i = end_line + 1
    return out


def _skip_heredocs(lines: list[str], args: str, end_line: int) -> int:
    """The last line of an instruction's heredoc bodies (each up to its terminator line).
    A `<<WORD` without a terminator line is not a heredoc (a quoted `<<` in a shell
    command); it must not swallow the rest of the file."""
    row = end_line
    for m in _HEREDOC.finditer(args):
        strip_tabs, word = m.group(1) == "-", m.group(3)
        r = row + 1
        while r < len(lines):
            if (lines[r].lstrip("\t") if strip_tabs else lines[r]) == word:
                break
            r += 1
        if r >= len(lines):
            return row
        row = r
    return row


def substitute(value: str, env: dict[str, str | None]) -> tuple[str, bool]:
    """Substitute ARG values; returns (text, unresolved) where unresolved is True when a
    variable had no literal value."""
    unresolved = False

    def repl(m: re.Match[str]) -> str:
        nonlocal unresolved
        name = m.group("braced") or m.group("bare")
        op = m.group("op")
        word = m.group("word") or ""
        val = env.get(name)
        if op == ":-":  # unset or empty: the default
            return val if val else word
        if op == "-":  # unset only
            return val if val is not None else word
        if op == ":+":
            return word if val else ""
        if op == "+":
            return word if val is not None else ""
        if val is None:
            unresolved = True
            return m.group(0)
        return val

    return _VAR.sub(repl, value), unresolved


def _arg_defaults(args: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in args.split():
        name, eq, default = item.partition("=")
        out[name] = _unquote(default) if eq else None
    return out


def _unquote(s: str) -> str:
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        return s[1:-1]
    return s


def parse(path: str, text: str) -> DockerfileDocument:
    index = LineIndex(text)
    instructions = _instructions(text, index)
    diags: list[Diagnostic] = []
    global_args: dict[str, str | None] = {}
    stage_args: dict[str, str | None] = {}
    froms: list[FromLine] = []
    uses: list[ImageUse] = []
    seen_from = False
    for ins in instructions:
        if ins.keyword == "ARG" and not seen_from:
            global_args.update(_arg_defaults(ins.args))
        elif ins.keyword == "ARG":
            # `ARG NAME` in a stage brings the global default in; `ARG NAME=x` sets its own
            for name, default in _arg_defaults(ins.args).items():
                stage_args[name] = default if default is not None else global_args.get(name)
        elif ins.keyword in ("COPY", "RUN") and froms:
            env = {**global_args, **stage_args}
            uses.extend(_image_uses(ins, env, len(froms) - 1))
        elif ins.keyword == "FROM":
            seen_from = True
            stage_args = {}
            froms_line = _from(ins, global_args, len(froms))
            if froms_line is None:
                diags.append(
                    Diagnostic(
                        path,
                        ins.span,
                        "parse-error",
                        "FROM without an image reference",
                        Level.ERROR,
                    )
                )
            else:
                froms.append(froms_line)
    if not seen_from and instructions:
        diags.append(
            Diagnostic(
                path,
                instructions[0].span,
                "parse-error",
                "Dockerfile has no FROM instruction",
                Level.WARNING,
            )
        )
    # BuildKit resolves `--from` names against every stage of the file (an integer is a stage
    # index); anything else is an image (or a named build context) pulled for the build
    stages = {f.alias.lower() for f in froms if f.alias}
    uses = [u for u in uses if u.image.lower() not in stages and not _STAGE_INDEX.match(u.image)]
    return DockerfileDocument(path, instructions, froms, diags, uses)


_STAGE_INDEX = re.compile(r"^[+-]?[0-9]+$")


def _image_uses(ins: Instruction, env: dict[str, str | None], stage: int) -> list[ImageUse]:
    """`COPY --from=X` and `RUN --mount=...,from=X` of one instruction (flags lead the
    arguments, as BuildKit reads them)."""
    out: list[ImageUse] = []
    for w in ins.words:
        if not w.text.startswith("--"):
            break
        flag, eq, value = w.text.partition("=")
        flag = flag.lower()
        if not eq:
            continue
        found: tuple[str, int, str] | None = None
        if ins.keyword == "COPY" and flag == "--from":
            found = (value, len(flag) + 1, "copy-from")
        elif ins.keyword == "RUN" and flag == "--mount":
            found = _mount_from(value, len(flag) + 1)
            if found is None:
                continue
        else:
            continue
        raw, offset, via = found
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
            raw, offset = raw[1:-1], offset + 1
        if not raw:
            continue
        start = w.span.start_col + _utf16(w.text[:offset])
        span = Span(w.span.start_line, start, w.span.start_line, start + _utf16(raw))
        image, unresolved = substitute(raw, env)
        out.append(ImageUse(image, raw, span, ins.span, via, stage, unresolved))
    return out


def _mount_from(value: str, offset: int) -> tuple[str, int, str] | None:
    """The `from=` field of a `--mount` value (comma-separated key=value fields; BuildKit
    reads keys case-insensitively), with its offset in the word."""
    pos = offset
    for fld in value.split(","):
        key, eq, v = fld.partition("=")
        if eq and key.strip().lower() == "from":
            return v, pos + len(key) + 1, "mount-from"
        pos += len(fld) + 1
    return None


def _utf16(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-16-le")) // 2


def _from(ins: Instruction, args: dict[str, str | None], stage: int) -> FromLine | None:
    words = list(ins.words)
    platform = None
    while words and words[0].text.startswith("--"):
        flag = words.pop(0).text
        if flag.startswith("--platform="):
            platform = flag.split("=", 1)[1]
    if not words:
        return None
    image_word = words[0]
    alias = words[2].text if len(words) >= 3 and words[1].text.lower() == "as" else None
    image, unresolved = substitute(image_word.text, args)
    return FromLine(
        image, image_word.text, image_word.span, ins.span, platform, alias, stage, unresolved
    )
