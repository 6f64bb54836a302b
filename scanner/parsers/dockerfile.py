"""Dockerfile instructions with spans: enough to read every `FROM` exactly.

Handles line continuations (the escape character, `\\` or a `# escape=` directive), comments,
global `ARG`s before the first `FROM` with literal defaults substituted into `FROM` lines
(`$VAR`, `${VAR}`, `${VAR:-default}`), `--platform=` flags and `AS name` stage aliases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import Diagnostic, Level, Span
from .text import LineIndex

_DIRECTIVE = re.compile(r"^#\s*escape\s*=\s*(\S)\s*$", re.IGNORECASE)
_VAR = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+])?(?P<word>[^}]*)\}"
                  r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str  # upper-case
    args: str  # continuation-joined argument text
    span: Span  # the whole instruction, over continuation lines
    args_span: Span


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


@dataclass(slots=True)
class DockerfileDocument:
    path: str
    instructions: list[Instruction]
    froms: list[FromLine]
    diagnostics: list[Diagnostic]


def _instructions(text: str, index: LineIndex) -> list[Instruction]:
    lines = text.split("\n")
    escape = "\\"
    # parser directives come first, before any instruction or ordinary comment
    for line in lines:
        m = _DIRECTIVE.match(line.strip())
        if m:
            escape = m.group(1)
            continue
        break
    out: list[Instruction] = []
    i = 0
    n = len(lines)
    while i < n:
        raw = lines[i].rstrip("\r")
        stripped = raw.lstrip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        parts: list[str] = []
        end_line = i
        cur = raw
        while True:
            body = cur.rstrip()
            if body.endswith(escape):
                parts.append(body[: -len(escape)])
                i += 1
                # comment lines inside a continuation are skipped, as Docker does
                while i < n and lines[i].lstrip().startswith("#"):
                    i += 1
                if i >= n:
                    end_line = i - 1
                    break
                cur = lines[i].rstrip("\r")
                end_line = i
                continue
            parts.append(cur)
            end_line = i
            break
        i += 1
        joined = " ".join(p.strip() for p in parts)
        kw, _, args = joined.partition(" ")
        first = lines[start].rstrip("\r")
        indent = len(first) - len(first.lstrip())
        kw_len = len(first.lstrip().split(None, 1)[0]) if first.strip() else 0
        args_col = indent + kw_len
        while args_col < len(first) and first[args_col] in " \t":
            args_col += 1
        last = lines[end_line].rstrip("\r") if end_line < n else ""
        span = Span(
            start + 1,
            index.col_from_char(start, indent),
            end_line + 1,
            index.col_from_char(end_line, len(last.rstrip())),
        )
        args_span = Span(start + 1, index.col_from_char(start, args_col), span.end_line, span.end_col)
        out.append(Instruction(kw.upper(), args.strip(), span, args_span))
    return out


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
        if op in (":-", "-"):
            if val:
                return val
            return word
        if op in (":+", "+"):
            return word if val else ""
        if val is None:
            unresolved = True
            return m.group(0)
        return val

    return _VAR.sub(repl, value), unresolved


def parse(path: str, text: str) -> DockerfileDocument:
    index = LineIndex(text)
    instructions = _instructions(text, index)
    diags: list[Diagnostic] = []
    global_args: dict[str, str | None] = {}
    froms: list[FromLine] = []
    seen_from = False
    for ins in instructions:
        if ins.keyword == "ARG" and not seen_from:
            for item in ins.args.split():
                name, eq, default = item.partition("=")
                global_args[name] = default.strip("\"'") if eq else None
        elif ins.keyword == "FROM":
            seen_from = True
            froms_line = _from(ins, global_args, len(froms), text, index)
            if froms_line is None:
                diags.append(
                    Diagnostic(path, ins.span, "parse-error",
                               "FROM without an image reference", Level.ERROR)
                )
            else:
                froms.append(froms_line)
    if not froms and instructions:
        diags.append(
            Diagnostic(path, instructions[0].span, "parse-error",
                       "Dockerfile has no FROM instruction", Level.WARNING)
        )
    return DockerfileDocument(path, instructions, froms, diags)


def _from(
    ins: Instruction, args: dict[str, str | None], stage: int, text: str, index: LineIndex
) -> FromLine | None:
    tokens = ins.args.split()
    platform = None
    while tokens and tokens[0].startswith("--"):
        flag = tokens.pop(0)
        if flag.startswith("--platform="):
            platform = flag.split("=", 1)[1]
    if not tokens:
        return None
    image_raw = tokens[0]
    alias = tokens[2] if len(tokens) >= 3 and tokens[1].lower() == "as" else None
    image, unresolved = substitute(image_raw, args)
    # exact span of the image token on the instruction's first line (where it nearly always is)
    line_no = ins.span.start_line
    line = text.split("\n", line_no)[line_no - 1] if line_no else ""
    col = line.find(image_raw)
    if col >= 0:
        c0 = index.col_from_char(line_no - 1, col)
        c1 = index.col_from_char(line_no - 1, col + len(image_raw))
        image_span = Span(line_no, c0, line_no, c1)
    else:
        image_span = ins.args_span
    return FromLine(image, image_raw, image_span, ins.span, platform, alias, stage, unresolved)
