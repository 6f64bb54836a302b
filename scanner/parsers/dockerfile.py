"""Dockerfile instructions with spans, read as BuildKit reads them: every image a build pulls.

The reading follows moby/buildkit's frontend/dockerfile (parser/parser.go, directives.go,
split_command.go, line_parsers.go, shell/lex.go, instructions/parse.go,
dockerfile2llb/convert.go, builder/build.go), because any difference is a way to write an
image BuildKit pulls and tether never sees:

- the build frontend: `# syntax=IMAGE` (also `// syntax=` and a JSON `{"syntax": ...}`, after
  an optional `#!` line), found as BuildKit's DetectSyntax finds it, is an image BuildKit pulls
  and runs before it reads anything else;
- parser directives (`syntax`, `escape`, `check`; names case-insensitive, each once) only at
  the very top: the first line that is not one (an unknown or value-less directive, another
  comment, a blank line, an instruction) ends them;
- line continuations: the escape character followed only by spaces and tabs, not preceded by
  an escape character (BuildKit's `([^\\\\])\\\\[ \\t]*$|^\\\\[ \\t]*$`); the pieces are joined as
  written (no space is added); comment and whitespace-only lines inside are skipped;
- heredocs: only on RUN, COPY, ADD (or an ONBUILD of one), not in JSON form, and only for a
  shell word matching `^(\\d*)<<(-?)\\s*([^<]*)$` whose rest is one word;
- instruction flags (`--from=`, `--mount=`, `--platform=`) split as BuildKit splits them
  (quotes and escapes removed), `--mount` values as CSV, its last `from=` the one used;
- `FROM` arguments split on ASCII whitespace, the image word then expanded with BuildKit's
  shell lexer (quotes and escapes removed; `$V`, `${V}`, `${V:-x}`, `${V-x}`, `${V:+x}`,
  `${V+x}`, `${V:?x}`, `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`, `${V/p/r}`, `${V//p/r}`) over
  the global build arguments: `ARG`s before the first `FROM` (each default expanded with the
  ones before it) and BuildKit's platform arguments (`TARGETARCH`, ...).

Judged as the default build: a build argument declared without a default, and a platform
argument, has no known value (the image is `unresolved` where it matters), while a variable
that is not a build argument at all is empty, as in BuildKit. Images read by other
instructions (`COPY --from=IMAGE`, `RUN --mount=...,from=IMAGE`, and both as ONBUILD triggers)
are collected beside the `FROM`s: they run or ship as much foreign code as a base image.
BuildKit refuses variables in those; tether substitutes them anyway (`substitute`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum

from ..imageref import parse_image
from ..inline import parse_inline
from ..model import Diagnostic, Level, Span
from ..redact import clip
from .text import LineIndex

# Go's unicode.IsSpace (bytes.TrimLeftFunc, strings.TrimSpace, parseWords)
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_GO_SPACE_SET = frozenset(_GO_SPACE)
_WS = re.compile(r"[\t\v\f\r ]+")  # parser.reWhitespace (ASCII only)
_S = r"[\t\n\f\r ]"  # RE2's \s
_DIRECTIVE = re.compile(rf"([a-zA-Z][a-zA-Z0-9]*){_S}*={_S}*(.+?){_S}*\Z")
_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_HEREDOC = re.compile(rf"([0-9]*)<<(-?){_S}*([^<]*)\Z")
_HEREDOC_KEYWORDS = frozenset({"run", "copy", "add"})
_VAR = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+])?(?P<word>[^}]*)\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class Dynamic(Enum):
    """A build argument BuildKit sets whose value tether cannot know (the platform ones)."""

    NONEMPTY = "nonempty"
    MAYBE_EMPTY = "maybe-empty"


# BuildKit's defaultArgs: always set, by the builder (or a --build-arg)
_PLATFORM_ARGS: dict[str, str | None | Dynamic] = {
    "BUILDPLATFORM": Dynamic.NONEMPTY,
    "BUILDOS": Dynamic.NONEMPTY,
    "BUILDOSVERSION": Dynamic.MAYBE_EMPTY,
    "BUILDARCH": Dynamic.NONEMPTY,
    "BUILDVARIANT": Dynamic.MAYBE_EMPTY,
    "TARGETPLATFORM": Dynamic.NONEMPTY,
    "TARGETOS": Dynamic.NONEMPTY,
    "TARGETOSVERSION": Dynamic.MAYBE_EMPTY,
    "TARGETARCH": Dynamic.NONEMPTY,
    "TARGETVARIANT": Dynamic.MAYBE_EMPTY,
    "TARGETSTAGE": Dynamic.NONEMPTY,
}

# A build environment: a value, None (an ARG declared without a default: unset in the
# default build, a --build-arg may set it) or Dynamic (set, value unknown)
Env = Mapping[str, str | None | Dynamic]


@dataclass(frozen=True, slots=True)
class Word:
    """One whitespace-separated word of an instruction's arguments, where it is written."""

    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str  # upper-case
    args: str  # the arguments as BuildKit joins them (continuations joined as written)
    span: Span  # the whole instruction, over continuation lines (and heredoc bodies)
    args_span: Span
    # the arguments' words, located: kept for the instructions whose words facts read (see
    # _WORDS_KEPT); a file of 255k RUN lines held 1M located words (~200 MB) for no one
    words: tuple[Word, ...] = ()


@dataclass(frozen=True, slots=True)
class FromLine:
    image: str  # after quote removal and ARG substitution
    image_raw: str  # as written
    image_span: Span
    span: Span
    platform: str | None
    alias: str | None
    stage_index: int
    unresolved: bool  # a build argument without a known value remains


@dataclass(frozen=True, slots=True)
class ImageUse:
    """An image the build reads other than a stage's base: `COPY --from=IMAGE` (via copy-from),
    `RUN --mount=type=bind|cache,from=IMAGE` (via mount-from), the same as ONBUILD triggers
    (onbuild-copy-from, onbuild-mount-from), or the build frontend (via syntax, stage_index
    -1). Stage names and indexes are not images and are left out."""

    image: str  # after ARG substitution
    image_raw: str  # as written
    image_span: Span
    span: Span  # the instruction (or directive line)
    via: str
    stage_index: int  # the stage the instruction belongs to (-1: the frontend)
    unresolved: bool


@dataclass(slots=True)
class DockerfileDocument:
    path: str
    instructions: list[Instruction]
    froms: list[FromLine]
    diagnostics: list[Diagnostic]
    image_uses: list[ImageUse] = field(default_factory=list)
    syntax: ImageUse | None = None  # the `# syntax=` frontend image


# ---------------------------------------------------------------------------------------------
# Small Go equivalents


def _lstrip(s: str) -> str:
    return s.lstrip(_GO_SPACE)


def _go_lower(s: str) -> str:
    """strings.ToLower: like str.lower, except U+0130 (İ) becomes `i`, as in Go."""
    return s.replace("\u0130", "i").lower()


def _flag_space(ch: str) -> bool:
    """extractBuilderFlags tests unicode.IsSpace on single bytes: ASCII spaces, and any
    character whose UTF-8 form holds byte 0x85 or 0xA0 (NBSP, à, ...)."""
    if ch < "\x80":
        return ch in "\t\n\v\f\r "
    b = ch.encode("utf-8", "surrogatepass")
    return b"\x85" in b or b"\xa0" in b


# ---------------------------------------------------------------------------------------------
# BuildKit's shell lexer (frontend/dockerfile/shell/lex.go), with unknown values


class LexError(ValueError):
    """BuildKit refuses the word (an unterminated quote, a bad substitution)."""


_SET, _UNSET, _DECLARED, _DYN, _DYN_NONEMPTY = range(5)
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_OPS = frozenset("+-?#%")


class _Buf:
    __slots__ = ("s",)

    def __init__(self) -> None:
        self.s = ""


class _Words:
    """lex.go's wordsStruct. Its buffer is shared by every nesting level, as in BuildKit
    (processStopOn resets it): the quirk decides what a heredoc word is."""

    __slots__ = ("buf", "in_word", "words")

    def __init__(self, buf: _Buf) -> None:
        self.buf = buf
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch in _GO_SPACE_SET:
            if self.in_word and self.buf.s:
                self.words.append(self.buf.s)
                self.buf.s = ""
                self.in_word = False
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.buf.s += ch
        self.in_word = True

    def add_string(self, s: str) -> None:
        for ch in s:
            self.add_char(ch)

    def add_raw_string(self, s: str) -> None:
        self.buf.s += s
        self.in_word = True

    def get(self) -> list[str]:
        if self.buf.s:
            self.words.append(self.buf.s)
            self.buf.s = ""
            self.in_word = False
        return self.words


class _Lex:
    """One word through BuildKit's shell lexer. ``undeclared_empty``: a variable missing from
    the environment is unset (BuildKit); else it is unknown, like one declared without a
    default. ``skip_unset`` (SkipUnsetEnv, with an empty environment) keeps references as
    written. Unknown values keep the reference as written and set ``unresolved``."""

    def __init__(
        self,
        src: str,
        escape: str,
        env: Env,
        *,
        undeclared_empty: bool = True,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_unset: bool = False,
    ) -> None:
        self.src = src
        self.pos = 0
        self.escape = escape
        self.env = env
        self.undeclared_empty = undeclared_empty
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset = skip_unset
        self.unresolved = False
        self._buf = _Buf()

    def process(self) -> tuple[str, list[str]]:
        return self._stop_on(None, self.raw_escapes)

    def _peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def _next(self) -> str:
        if self.pos >= len(self.src):
            return ""
        ch = self.src[self.pos]
        self.pos += 1
        return ch

    def _stop_on(self, stop: str | None, raw_escapes: bool) -> tuple[str, list[str]]:
        result: list[str] = []
        self._buf.s = ""
        words = _Words(self._buf)
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            while self.pos < len(self.src):
                ch = self.src[self.pos]
                if stop is not None and ch == stop:
                    self.pos += 1
                    return "".join(result), words.get()
                if ch == "$":
                    tmp = self._dollar()
                    result.append(tmp)
                    words.add_string(tmp)
                elif ch in "<'\"":
                    if ch == "<":
                        tmp = self._possible_heredoc()
                    elif ch == "'":
                        tmp = self._single_quote()
                    else:
                        tmp = self._double_quote()
                    result.append(tmp)
                    words.add_raw_string(tmp)
                else:
                    self.pos += 1
                    if ch == self.escape:
                        if self.raw_escapes:
                            words.add_raw_char(ch)
                            result.append(ch)
                        ch = self._next()
                        if not ch:
                            break
                        words.add_raw_char(ch)
                    else:
                        words.add_char(ch)
                    result.append(ch)
            if stop is not None:
                raise LexError(f"unexpected end of statement while looking for matching {stop}")
            return "".join(result), words.get()
        finally:
            self.raw_escapes = saved

    def _single_quote(self) -> str:
        out: list[str] = []
        ch = self._next()
        if self.raw_quotes:
            out.append(ch)
        while True:
            ch = self._next()
            if not ch:
                raise LexError(
                    "unexpected end of statement while looking for matching single-quote"
                )
            if ch == "'":
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def _double_quote(self) -> str:
        out: list[str] = []
        ch = self._next()
        if self.raw_quotes:
            out.append(ch)
        while True:
            p = self._peek()
            if not p:
                raise LexError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if p == '"':
                ch = self._next()
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if p == "$":
                out.append(self._dollar())
                continue
            ch = self._next()
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                p = self._peek()
                if not p:
                    continue
                if p in ('"', "$", self.escape):
                    ch = self._next()
            out.append(ch)

    def _possible_heredoc(self) -> str:
        self.pos += 1
        if self._peek() != "<":
            return "<"
        self.pos += 1
        start = self.pos
        while self._peek() in ("\t", "\r", " "):
            self.pos += 1
        return "<<" + self.src[start : self.pos]

    def _name(self) -> str:
        start = self.pos
        while self.pos < len(self.src):
            ch = self.src[self.pos]
            if self.pos == start and ch.isdecimal():
                while self.pos < len(self.src) and self.src[self.pos].isdecimal():
                    self.pos += 1
                return self.src[start : self.pos]
            if self.pos == start and ch in _SPECIAL_PARAMS:
                self.pos += 1
                return ch
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            self.pos += 1
        return self.src[start : self.pos]

    def _get(self, name: str) -> tuple[int, str]:
        if name not in self.env:
            return (_UNSET if self.undeclared_empty else _DECLARED), ""
        v = self.env[name]
        if isinstance(v, str):
            return _SET, v
        if v is None:
            return _DECLARED, ""
        return (_DYN_NONEMPTY if v is Dynamic.NONEMPTY else _DYN), ""

    def _raw(self, start: int) -> str:
        self.unresolved = True
        return self.src[start : self.pos]

    def _dollar(self) -> str:
        start = self.pos
        self.pos += 1
        if self._peek() != "{":
            name = self._name()
            if not name:
                return "$"
            kind, value = self._get(name)
            if kind == _SET:
                return value
            if self.skip_unset:
                return "$" + name
            return "" if kind == _UNSET else self._raw(start)
        self.pos += 1
        p = self._peek()
        if not p:
            raise LexError("syntax error: missing '}'")
        if p in ("{", "}", ":"):
            raise LexError("syntax error: bad substitution")
        name = self._name()
        ch = self._next()
        chs = ch
        if ch == "}":
            kind, value = self._get(name)
            if kind == _SET:
                return value
            if self.skip_unset:
                return "${" + name + "}"
            return "" if kind == _UNSET else self._raw(start)
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self._next()
            chs += ch
        if null_is_unset or ch in _OPS:
            return self._modifier(start, name, ch, chs, null_is_unset)
        if ch == "/":
            return self._replace(start, name)
        raise LexError(f"unsupported modifier ({chs}) in substitution")

    def _modifier(self, start: int, name: str, ch: str, chs: str, null_is_unset: bool) -> str:
        raw_escapes = ch in ("#", "%")
        if null_is_unset and raw_escapes:
            raise LexError(f"unsupported modifier ({chs}) in substitution")
        try:
            word, _ = self._stop_on("}", raw_escapes)
        except LexError:
            if not self._peek():
                raise LexError("syntax error: missing '}'") from None
            raise
        kind, value = self._get(name)
        if self.skip_unset and kind != _SET:
            return "${" + name + chs + word + "}"
        empty = null_is_unset and kind == _SET and value == ""
        if ch == "-":
            if kind == _SET:
                return word if empty else value
            if kind in (_UNSET, _DECLARED):
                return word
            return self._raw(start)  # set, to a value tether does not know
        if ch == "+":
            if kind == _SET:
                return "" if empty else word
            if kind in (_UNSET, _DECLARED):
                return ""
            if kind == _DYN_NONEMPTY or not null_is_unset:
                return word
            return self._raw(start)
        if ch == "?":
            if kind == _SET and not empty:
                return value
            if kind in (_SET, _UNSET):
                raise LexError(f"${{{clip(name, 40)}:?}}: is not allowed to be unset or empty")
            return self._raw(start)
        if ch in ("#", "%"):
            if kind not in (_SET, _UNSET):
                return self._raw(start)
            greedy = word[:1] == ch
            if greedy:
                word = word[1:]
            if ch == "%":
                return _trim_suffix(word, value, greedy)
            return _trim_prefix(word, value, greedy)
        raise LexError(f"unsupported modifier ({chs}) in substitution")

    def _replace(self, start: int, name: str) -> str:
        replace_all = self._peek() == "/"
        if replace_all:
            self.pos += 1
        try:
            pattern, _ = self._stop_on("/", True)
        except LexError:
            if not self._peek():
                raise LexError("syntax error: missing '/' in ${}") from None
            raise
        try:
            replacement, _ = self._stop_on("}", True)
        except LexError:
            if not self._peek():
                raise LexError("syntax error: missing '}'") from None
            raise
        kind, value = self._get(name)
        if self.skip_unset and kind != _SET:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        if kind not in (_SET, _UNSET):
            return self._raw(start)
        rx = _shell_pattern(pattern, greedy=True, anchored=False)
        if replace_all:
            return _go_replace_all(rx, value, replacement)
        m = rx.search(value)
        return value if m is None else value[: m.start()] + replacement + value[m.end() :]


def _shell_pattern(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """convertShellPatternToRegex: `*` and `?` wildcards, `\\` escapes them."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i, n = 0, len(pattern)
    while i < n:
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(star)
            continue
        if tok == "?":
            out.append(".")
            continue
        if tok == "\\":
            nxt = pattern[i] if i < n else ""
            if nxt in ("}", "/"):
                continue
            if nxt not in ("*", "?", "\\"):
                raise LexError(f"invalid pattern ({pattern}) in substitution")
            out.append(re.escape(nxt))
            i += 1
            continue
        out.append(re.escape(tok))
    return re.compile("".join(out))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = _shell_pattern(pattern, greedy=greedy, anchored=True).search(value)
    return value if m is None else value[m.end() :]


def _reverse_pattern(pattern: str) -> str:
    out = [""] * len(pattern)
    last = len(pattern) - 1
    i = 0
    while i <= last:
        tok = pattern[i]
        o = last - i
        if tok == "\\" and i != last:
            out[o - 1] = tok
            out[o] = pattern[i + 1]
            i += 2
        else:
            out[o] = tok
            i += 1
    return "".join(out)


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


_GO_TEMPLATE_NAME = re.compile(r"\{(\w+)\}|(\w+)")


def _go_expand(template: str, m: re.Match[str]) -> str:
    """regexp.Expand: `$$`, `$name`, `${name}` (the pattern has no groups but 0)."""
    out: list[str] = []
    i = 0
    while True:
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            return "".join(out)
        out.append(template[i:j])
        i = j + 1
        if template[i : i + 1] == "$":
            out.append("$")
            i += 1
            continue
        nm = _GO_TEMPLATE_NAME.match(template, i)
        if nm is None:
            out.append("$")
            continue
        i = nm.end()
        if (nm.group(1) or nm.group(2)) == "0":
            out.append(m.group(0))


def _go_replace_all(rx: re.Pattern[str], src: str, repl: str) -> str:
    """regexp.ReplaceAllString: an empty match right after a match is not replaced."""
    out: list[str] = []
    last_end = 0
    pos = 0
    while pos <= len(src):
        m = rx.search(src, pos)
        if m is None:
            break
        out.append(src[last_end : m.start()])
        if m.end() > last_end or m.start() == 0:
            out.append(_go_expand(repl, m))
        last_end = m.end()
        width = 1 if pos < len(src) else 0
        if pos + width > m.end():
            pos += width
        elif pos + 1 > m.end():
            pos += 1
        else:
            pos = m.end()
    out.append(src[last_end:])
    return "".join(out)


def expand(word: str, env: Env, escape: str = "\\") -> tuple[str, bool]:
    """A word as BuildKit's ProcessWord makes it (quotes and escapes removed, variables
    expanded); returns (text, unresolved). Raises LexError where BuildKit refuses it."""
    lex = _Lex(word, escape, env)
    text, _ = lex.process()
    return text, lex.unresolved


def substitute(value: str, env: dict[str, str | None]) -> tuple[str, bool]:
    """Substitute ARG values, nothing else (for `--from` values, which BuildKit does not
    expand); returns (text, unresolved) where unresolved is True when a variable had no
    literal value."""
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


# ---------------------------------------------------------------------------------------------
# Directives


@dataclass(frozen=True, slots=True)
class _Syntax:
    ref: str
    row: int
    col: int  # code-point column of the ref


def _detect_syntax(lines: list[str], text: str) -> _Syntax | None:
    """builder/build.go forwards the build to the image DetectSyntax finds: `# syntax=` among
    the directives at the top (after a `#!` line), else `// syntax=`, else a JSON document's
    "syntax" key. The image is the value up to its first space."""
    start = 1 if lines and lines[0].startswith("#!") else 0
    for prefix in ("#", "//"):
        seen: set[str] = set()
        for row in range(start, len(lines)):
            line = lines[row]
            if not line.startswith(prefix):
                break
            body = _lstrip(line[len(prefix) :])
            m = _DIRECTIVE.match(body)
            if m is None:
                break
            key = m.group(1).lower()
            if key not in _DIRECTIVES or key in seen:
                break
            seen.add(key)
            if key == "syntax":
                return _Syntax(m.group(2).split(" ", 1)[0], row, len(line) - len(body) + m.start(2))
    data = text.split("\n", 1)[1] if start and "\n" in text else ("" if start else text)
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("syntax"), str):
        return None
    ref = doc["syntax"]
    m = re.search(r'"syntax"\s*:\s*"', data)
    if m is None:
        return _Syntax(ref, start, 0)
    row = start + data.count("\n", 0, m.end())
    return _Syntax(ref, row, m.end() - (data.rfind("\n", 0, m.end()) + 1))


class _Directives:
    """directives.go's DirectiveParser as Parse drives it: only the escape character matters
    to the parse."""

    def __init__(self, path: str, diags: list[Diagnostic]) -> None:
        self.done = False
        self.seen: set[str] = set()
        self.escape = "\\"
        self.continuation = _continuation("\\")
        self.path = path
        self.diags = diags

    def line(self, token: str, row: int, index: LineIndex) -> None:
        if self.done:
            return
        span = Span(row + 1, 1, row + 1, index.col_from_char(row, len(index.line_text(row))))
        m = _DIRECTIVE.match(_lstrip(token[1:])) if token.startswith("#") else None
        if m is None or m.group(1).lower() not in _DIRECTIVES:
            self.done = True
            return
        key, value = m.group(1).lower(), m.group(2)
        if key in self.seen:
            self._error(span, f"only one {key} parser directive can be used")
            self.done = True
            return
        self.seen.add(key)
        if key == "escape":
            if value in ("\\", "`"):
                self.escape = value
                self.continuation = _continuation(value)
            else:
                self._error(span, f"invalid escape token {value!r} does not match ` or \\")

    def _error(self, span: Span, message: str) -> None:
        self.diags.append(Diagnostic(self.path, span, "parse-error", message, Level.ERROR))


def _continuation(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")


# ---------------------------------------------------------------------------------------------
# Logical lines and commands


class _Logical:
    """One instruction's text as BuildKit joins it, and where each character is written."""

    __slots__ = ("index", "loc", "text")

    def __init__(self, pieces: list[tuple[int, int, str]], index: LineIndex) -> None:
        self.text = "".join(p[2] for p in pieces)
        self.loc: list[tuple[int, int]] = [
            (row, col + k) for row, col, piece in pieces for k in range(len(piece))
        ]
        self.index = index

    def span(self, a: int, b: int) -> Span:
        """The span of characters [a, b) of the text."""
        loc = self.loc
        n = len(loc)
        if not n:
            return Span(1, 1, 1, 1)
        r0, c0 = loc[a if a < n else n - 1]
        col = self.index.col_from_char
        if b <= a:
            c = col(r0, c0)
            return Span(r0 + 1, c, r0 + 1, c)
        r1, c1 = loc[(b if b <= n else n) - 1]
        return Span(r0 + 1, col(r0, c0), r1 + 1, col(r1, c1 + 1))


@dataclass(frozen=True, slots=True)
class _Flag:
    text: str  # quotes and escapes removed
    src: tuple[int, ...]  # offset in the logical text of each character of text


@dataclass(frozen=True, slots=True)
class _Cmd:
    name: str  # as written
    lower: str
    flags: tuple[_Flag, ...]
    args: str  # after the flags, trimmed
    args_off: int
    sub: _Cmd | None  # an ONBUILD's trigger


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a] in _GO_SPACE_SET:
        a += 1
    while b > a and text[b - 1] in _GO_SPACE_SET:
        b -= 1
    return a, b


def _command(text: str, a: int, b: int, escape: str, depth: int = 0) -> _Cmd:
    """splitCommand (and parseSubCommand for ONBUILD) over text[a:b]."""
    a, b = _trim(text, a, b)
    m = _WS.search(text, a, b)
    name = text[a : m.start()] if m else text[a:b]
    rest = m.end() if m else b
    flags, args_start = _builder_flags(text, rest, b, escape)
    s, e = _trim(text, args_start, b)
    lower = _go_lower(name)
    sub = _command(text, s, e, escape, depth + 1) if lower == "onbuild" and depth == 0 else None
    return _Cmd(name, lower, tuple(flags), text[s:e], s, sub)


def _builder_flags(text: str, a: int, b: int, escape: str) -> tuple[list[_Flag], int]:
    """extractBuilderFlags: the leading `--` words of text[a:b] (quotes and escapes removed)
    and where the arguments after them start."""
    out: list[_Flag] = []
    chars: list[str] = []
    src: list[int] = []
    blank_ok = False
    quote = ""
    phase = 0  # 0 spaces, 1 word, 2 quote
    pos = a
    while pos <= b:
        ch = text[pos] if pos < b else ""
        if phase == 0:
            if pos == b:
                break
            if _flag_space(ch):
                pos += 1
                continue
            if ch != "-" or pos + 1 == b or text[pos + 1] != "-":
                return out, pos
            phase = 1
        if pos == b:
            word = "".join(chars)
            if word != "--" and (blank_ok or word):
                out.append(_Flag(word, tuple(src)))
            break
        if phase == 1:
            if _flag_space(ch):
                word = "".join(chars)
                phase = 0
                if word == "--":
                    return out, pos
                if blank_ok or word:
                    out.append(_Flag(word, tuple(src)))
                chars, src, blank_ok = [], [], False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote, blank_ok, phase = ch, True, 2
                pos += 1
                continue
        elif ch == quote:
            phase = 1
            pos += 1
            continue
        if ch == escape:
            if pos + 1 == b:
                phase = 1
                pos += 1
                continue
            pos += 1
            ch = text[pos]
        chars.append(ch)
        src.append(pos)
        pos += 1
    return out, b


def _parse_words(rest: str, escape: str) -> list[str]:
    """line_parsers.go parseWords: words with their quotes kept (ARG's name=value list)."""
    words: list[str] = []
    phase = 0
    quote = ""
    blank_ok = False
    sb: list[str] = []
    pos, n = 0, len(rest)
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if phase == 0:
            if pos == n:
                break
            if ch in _GO_SPACE_SET:
                pos += 1
                continue
            phase = 1
        if pos == n:
            if blank_ok or sb:
                words.append("".join(sb))
            break
        if phase == 1:
            if ch in _GO_SPACE_SET:
                phase = 0
                if blank_ok or sb:
                    words.append("".join(sb))
                sb, blank_ok = [], False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote, blank_ok, phase = ch, True, 2
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                sb.append(ch)
                pos += 1
                ch = rest[pos]
            sb.append(ch)
            pos += 1
            continue
        if ch == quote:
            phase = 1
        if ch == escape and quote != "'":
            if pos + 1 == n:
                phase = 1
                pos += 1
                continue
            pos += 1
            sb.append(ch)
            ch = rest[pos]
        sb.append(ch)
        pos += 1
    return words


def _is_json_array(args: str) -> bool:
    rest = _lstrip(args)
    if not rest.startswith("["):
        return False
    try:
        return isinstance(json.loads(rest), list)
    except ValueError:
        return False


def _heredocs(line: str) -> list[tuple[str, bool]]:
    """heredocsFromLine: (terminator, strip tabs) of each heredoc word of the line."""
    try:
        words = _Lex(line, "\\", {}, raw_quotes=True, raw_escapes=True, skip_unset=True).process()[
            1
        ]
    except LexError:
        return []  # BuildKit ignores the error: no heredocs
    out: list[tuple[str, bool]] = []
    for w in words:
        m = _HEREDOC.match(w)
        if m is None or not m.group(3):
            continue
        try:
            names = _Lex(m.group(3), "\\", {}, skip_unset=True).process()[1]
        except LexError:
            continue  # BuildKit refuses the file
        if len(names) == 1:
            out.append((names[0], m.group(2) == "-"))
    return out


def _may_have_heredocs(cmd: _Cmd) -> bool:
    c = cmd.sub if cmd.lower == "onbuild" and cmd.sub is not None else cmd
    return c.lower in _HEREDOC_KEYWORDS and not _is_json_array(c.args)


@dataclass(slots=True)
class _Parsed:
    ins: Instruction
    line: _Logical
    cmd: _Cmd


def _lines(text: str) -> list[str]:
    """The physical lines, without line endings (and no empty last line after a final
    newline)."""
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    if lines and lines[-1] == "" and text.endswith("\n"):
        lines.pop()
    return lines


def _instructions(
    lines: list[str], index: LineIndex, directives: _Directives
) -> Iterator[_Parsed]:
    """Each instruction in turn (a generator: an instruction's logical line, which maps every
    character to its place, is let go once the caller has read it; 255k instructions held
    at once were ~800 MB). The escape character is final (`directives.escape`) by the first
    one: parser directives come before any instruction."""
    path, diags = directives.path, directives.diags
    n = len(lines)
    i = 0
    while i < n:
        raw = lines[i]
        token = _lstrip(raw)
        lead = len(raw) - len(token)
        directives.line(token, i, index)
        if token.startswith("#"):
            token = ""
        start = i
        i += 1
        body, eol = _trim_continuation(token, directives.continuation)
        if eol and not body:
            continue
        pieces = [(start, lead, body)]
        last_row = start
        while not eol and i < n:
            raw = lines[i]
            i += 1
            stripped = _lstrip(raw)
            if stripped.startswith("#") or not stripped:
                continue
            body, eol = _trim_continuation(raw, directives.continuation)
            pieces.append((i - 1, 0, body))
            last_row = i - 1
        line = _Logical(pieces, index)
        a, b = _trim(line.text, 0, len(line.text))
        if a == b:
            continue  # BuildKit: an unknown (empty) instruction
        cmd = _command(line.text, 0, len(line.text), directives.escape)
        end_row = last_row
        if "<<" in line.text and _may_have_heredocs(cmd):
            for name, strip_tabs in _heredocs(line.text):
                r = i
                while r < n and (lines[r].lstrip("\t") if strip_tabs else lines[r]) != name:
                    r += 1
                if r >= n:
                    diags.append(
                        Diagnostic(
                            path,
                            line.span(a, b),
                            "parse-error",
                            f"unterminated heredoc (<<{clip(name, 40)})",
                            Level.ERROR,
                        )
                    )
                    break
                i = end_row = r
                i += 1
        yield _Parsed(_instruction(line, cmd, a, b, end_row, lines, index), line, cmd)


def _trim_continuation(s: str, rx: re.Pattern[str]) -> tuple[str, bool]:
    m = rx.search(s)
    if m is None:
        return s, True
    return s[: m.start()] + (m.group(1) or ""), False


_WORDS_KEPT = frozenset(("ENV", "ARG", "LABEL"))
_NON_SPACE = re.compile(r"\S+")


def _instruction(
    line: _Logical, cmd: _Cmd, a: int, b: int, end_row: int, lines: list[str], index: LineIndex
) -> Instruction:
    start = line.span(a, a + 1)
    end_col = index.col_from_char(end_row, len(lines[end_row].rstrip()))
    span = Span(start.start_line, start.start_col, end_row + 1, end_col)
    m = _WS.search(line.text, a, b)
    rest = m.end() if m else b
    args_start = line.span(rest, rest + 1) if rest < b else Span(*span[2:], *span[2:])
    args_span = Span(args_start.start_line, args_start.start_col, span.end_line, span.end_col)
    keyword = cmd.lower.upper()
    words = (
        tuple(
            Word(w.group(0), line.span(w.start(), w.end()))
            for w in _NON_SPACE.finditer(line.text, rest, b)
        )
        if keyword in _WORDS_KEPT
        else ()
    )
    return Instruction(keyword, line.text[rest:b].strip(_GO_SPACE), span, args_span, words)


# ---------------------------------------------------------------------------------------------
# The document


def parse(path: str, text: str) -> DockerfileDocument:
    index = LineIndex(text)
    lines = _lines(text)
    diags: list[Diagnostic] = []
    directives = _Directives(path, diags)
    instructions: list[Instruction] = []
    genv: dict[str, str | None | Dynamic] = dict(_PLATFORM_ARGS)
    plain_genv: dict[str, str | None] = {}  # the global arguments, fixed at the first FROM
    stage_args: dict[str, str | None] = {}
    froms: list[FromLine] = []
    uses: list[ImageUse] = []
    seen_from = False
    for p in _instructions(lines, index, directives):
        ins, cmd, escape = p.ins, p.cmd, directives.escape
        instructions.append(ins)
        if ins.keyword == "ARG" and not seen_from:
            _global_args(cmd, genv, escape)
        elif ins.keyword == "ARG":
            # `ARG NAME` in a stage brings the global default in; `ARG NAME=x` sets its own
            for name, default in _arg_defaults(cmd.args).items():
                stage_args[name] = default if default is not None else _plain(genv.get(name))
        elif ins.keyword in ("COPY", "RUN", "ONBUILD") and froms:
            uses.extend(_image_uses(p, {**plain_genv, **stage_args}, len(froms) - 1))
        elif ins.keyword == "FROM":
            if not seen_from:
                plain_genv = {k: _plain(v) for k, v in genv.items()}
            seen_from = True
            stage_args = {}
            from_line = _from(p, genv, escape, len(froms), path, diags)
            if from_line is None:
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
                froms.append(from_line)
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
    syntax = _syntax_use(lines, text, index)
    diags.extend(_mid_line_ignores(path, lines, index))
    # one error per image: an image BuildKit's lexer already refused is not checked again
    refused = {d.span.start_line for d in diags if d.level is Level.ERROR}
    diags.extend(d for d in _invalid_images(path, froms, uses) if d.span.start_line not in refused)
    return DockerfileDocument(path, instructions, froms, diags, uses, syntax)


def _mid_line_ignores(path: str, lines: list[str], index: LineIndex) -> list[Diagnostic]:
    """A `tether:ignore` after an instruction is refused: a Dockerfile comment is a whole line
    starting with `#`, so a mid-line `# tether:ignore ...` is part of the instruction's
    arguments (`FROM x # ...` no longer builds) and would except nothing it means to."""
    out: list[Diagnostic] = []
    for row, line in enumerate(lines):
        if "tether:ignore" not in line or is_own_line_comment(line):
            continue
        ign = parse_inline(line)
        if ign is None:
            continue
        comment = line[ign.col - 1 :].rstrip()
        span = Span(
            row + 1,
            index.col_from_char(row, ign.col - 1),
            row + 1,
            index.col_from_char(row, len(line.rstrip())),
        )
        out.append(
            Diagnostic(
                path,
                span,
                "inline-ignore-refused",
                "a `#` after a Dockerfile instruction is one of its arguments, not a comment: "
                f"this ignore is refused; put it on its own line above the instruction: "
                f"{clip(comment, 200)}",
                Level.ERROR,
            )
        )
    return out


def is_own_line_comment(line: str) -> bool:
    """A Dockerfile comment: a line whose first non-blank character is `#`."""
    return line.lstrip().startswith("#")


def _invalid_images(path: str, froms: list[FromLine], uses: list[ImageUse]) -> list[Diagnostic]:
    """An error at each resolved image BuildKit refuses as a reference (`node:sha256:...`):
    no rule can judge it, and the build fails. A FROM naming an earlier stage, `scratch`
    and images a build argument without a value still holds are not references to check
    (`--from` names of stages are already left out of ``uses``)."""
    stages: set[str] = set()
    items: list[tuple[str, str, bool, Span]] = []
    for f in froms:
        if f.image.lower() not in stages:
            items.append(("FROM", f.image, f.unresolved, f.image_span))
        if f.alias:
            stages.add(f.alias.lower())
    items.extend((_VIA_TEXT.get(u.via, u.via), u.image, u.unresolved, u.image_span) for u in uses)
    out: list[Diagnostic] = []
    for where, image, unresolved, span in items:
        if unresolved or image == "scratch":
            continue
        try:
            parse_image(image)
        except ValueError as e:
            out.append(Diagnostic(path, span, "parse-error", f"{where}: {e}", Level.ERROR))
    return out


_VIA_TEXT = {
    "copy-from": "COPY --from",
    "mount-from": "RUN --mount from=",
    "onbuild-copy-from": "ONBUILD COPY --from",
    "onbuild-mount-from": "ONBUILD RUN --mount from=",
}


def _plain(v: str | None | Dynamic) -> str | None:
    return v if isinstance(v, str) else None


def _syntax_use(lines: list[str], text: str, index: LineIndex) -> ImageUse | None:
    found = _detect_syntax(lines, text)
    if found is None or not found.ref:
        return None
    row, col = found.row, found.col
    span = Span(
        row + 1,
        index.col_from_char(row, col),
        row + 1,
        index.col_from_char(row, col + len(found.ref)),
    )
    line_span = Span(row + 1, 1, row + 1, index.col_from_char(row, len(lines[row].rstrip())))
    return ImageUse(found.ref, found.ref, span, line_span, "syntax", -1, False)


def _global_args(cmd: _Cmd, env: dict[str, str | None | Dynamic], escape: str) -> None:
    """buildMetaArgs: each default expanded with the arguments before it; a name without a
    default keeps the value it has (a platform argument, an earlier default)."""
    for word in _parse_words(cmd.args, escape):
        name, eq, value = word.partition("=")
        if not eq:
            env.setdefault(name, None)
            continue
        if not name:
            continue
        try:
            text, unresolved = expand(value, env, escape)
        except LexError:
            env[name] = Dynamic.MAYBE_EMPTY  # BuildKit refuses the file
            continue
        env[name] = Dynamic.MAYBE_EMPTY if unresolved else text


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


_STAGE_INDEX = re.compile(r"^[+-]?[0-9]+$")


def _image_uses(p: _Parsed, env: dict[str, str | None], stage: int) -> list[ImageUse]:
    """`COPY --from=X` and `RUN --mount=...,from=X` of one instruction, or of its ONBUILD
    trigger (flags lead the arguments, as BuildKit reads them)."""
    cmd, prefix = p.cmd, ""
    if cmd.lower == "onbuild":
        if cmd.sub is None:
            return []
        cmd, prefix = cmd.sub, "onbuild-"
    out: list[ImageUse] = []
    for flag in cmd.flags:
        name, eq, _ = flag.text.partition("=")
        if not eq:
            continue
        off = len(name) + 1
        name = name.lower()
        found: tuple[str, tuple[int, ...]] | None
        if cmd.lower == "copy" and name == "--from":
            via, found = "copy-from", (flag.text[off:], flag.src[off:])
        elif cmd.lower == "run" and name == "--mount":
            via, found = "mount-from", _mount_from(flag.text[off:], flag.src[off:])
        else:
            continue
        if found is None or not found[0]:
            continue
        raw, src = found
        span = p.line.span(src[0], src[-1] + 1)
        image, unresolved = substitute(raw, env)
        out.append(ImageUse(image, raw, span, p.ins.span, prefix + via, stage, unresolved))
    return out


def _mount_from(value: str, src: tuple[int, ...]) -> tuple[str, tuple[int, ...]] | None:
    """The `from=` field of a `--mount` value: CSV fields (go-csvvalue), keys read
    case-insensitively, the last `from=` the one BuildKit uses."""
    fields = _csv_fields(value)
    if fields is None:
        return None
    found: tuple[str, tuple[int, ...]] | None = None
    for text, idx in fields:
        key, eq, v = text.partition("=")
        if eq and key.lower() == "from":
            k = len(key) + 1
            found = (v, tuple(src[j] for j in idx[k:]))
    return found


def _csv_fields(line: str) -> list[tuple[str, list[int]]] | None:
    """csvvalue.Fields (comma-separated, `"` quoting, no lazy quotes): each field with the
    index in ``line`` of each of its characters; None where BuildKit refuses the value."""
    if line.endswith("\n"):
        line = line[:-2] if line.endswith("\r\n") else line[:-1]
    if not line:
        return None
    out: list[tuple[str, list[int]]] = []
    pos, n = 0, len(line)
    while True:
        if pos >= n or line[pos] != '"':
            j = line.find(",", pos)
            end = n if j < 0 else j
            if '"' in line[pos:end]:
                return None
            out.append((line[pos:end], list(range(pos, end))))
            if j < 0:
                return out
            pos = j + 1
            continue
        pos += 1
        chars: list[str] = []
        idx: list[int] = []
        while True:
            j = line.find('"', pos)
            if j < 0:
                return None
            chars.extend(line[pos:j])
            idx.extend(range(pos, j))
            pos = j + 1
            nxt = line[pos] if pos < n else ""
            if nxt == '"':
                chars.append('"')
                idx.append(pos)
                pos += 1
            elif nxt == ",":
                out.append(("".join(chars), idx))
                pos += 1
                break
            elif not nxt:
                out.append(("".join(chars), idx))
                return out
            else:
                return None


def _from(
    p: _Parsed,
    env: Mapping[str, str | None | Dynamic],
    escape: str,
    stage: int,
    path: str,
    diags: list[Diagnostic],
) -> FromLine | None:
    cmd = p.cmd
    platform = None
    for flag in cmd.flags:
        if flag.text.startswith("--platform="):
            platform = flag.text.split("=", 1)[1]
    if not cmd.args:
        return None
    args = [(m.start(), m.end()) for m in re.finditer(r"[^\t\v\f\r ]+", cmd.args)]
    a, b = args[0]
    raw = cmd.args[a:b]
    words = [cmd.args[s:e] for s, e in args]
    alias = words[2] if len(words) >= 3 and words[1].casefold() == "as" else None
    try:
        image, unresolved = expand(raw, env, escape)
    except LexError as e:
        diags.append(Diagnostic(path, p.ins.span, "parse-error", f"FROM: {e}", Level.ERROR))
        image, unresolved = raw, False
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        a, b = a + 1, b - 1  # the span of a quoted image is what is inside the quotes
    off = cmd.args_off
    span = p.line.span(off + a, off + b)
    return FromLine(image, raw, span, p.ins.span, platform, alias, stage, unresolved)
