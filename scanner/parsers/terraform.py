"""Terraform (HCL2 native syntax and JSON syntax) into blocks and attributes with exact spans.

Native syntax is parsed with tree-sitter-hcl: it parses about 20x faster than python-hcl2's
Lark grammar (measured 2.8 MB/s vs 0.12 MB/s on the same 400 KB), gives byte-exact positions
for every node and recovers from errors, so one broken block does not hide the rest of the
file. python-hcl2 remains the reference oracle in the test suite (tests/test_parse_terraform.py).

The document is lazy: attributes are converted to Python values only when a fact extractor
asks for them, because most of a large module is never looked at by any rule.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Iterator
from functools import cache, partial
from typing import Any

import tree_sitter
import tree_sitter_hcl

from ..model import Diagnostic, Level, Span
from .text import LineIndex
from .yaml import YamlError, compose_json


class Unknown:
    """An expression whose value is not known statically (a reference, call, template...)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Unknown({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unknown) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


class Call(Unknown):
    """A function call: not statically known either, but its name and argument values are
    kept, so that a fact can read what is known of it (the literal objects of a `merge()`).
    ``expanded`` is true when the last argument is expanded with `...`."""

    __slots__ = ("args", "expanded", "name")

    def __init__(self, text: str, name: str, args: tuple[Any, ...], expanded: bool) -> None:
        super().__init__(text)
        self.name = name
        self.args = args
        self.expanded = expanded

    def __repr__(self) -> str:
        return f"Call({self.name!r}, {self.args!r})"


SpanSource = Callable[[], tuple[Span, ...]]


class _LazySpans:
    """Spans computed on first access (most attributes and blocks are never located)."""

    __slots__ = ("_spanner", "_spans")

    def __init__(self, spanner: SpanSource) -> None:
        self._spanner = spanner
        self._spans: tuple[Span, ...] | None = None

    def _span(self, i: int) -> Span:
        if self._spans is None:
            self._spans = self._spanner()
        return self._spans[i]

    @property
    def span(self) -> Span:
        """The whole construct (`name = value`, or the block)."""
        return self._span(0)


class Attribute(_LazySpans):
    """`name = value`. Value and spans are computed on first access: most attributes of a
    large module are never read by any rule."""

    __slots__ = ("_item_spans", "_value", "_valuer", "name")

    def __init__(
        self,
        name: str,
        spanner: SpanSource,  # -> (whole `name = value`, key, value)
        valuer: Callable[[], tuple[Any, dict[str, Span]]],
    ) -> None:
        super().__init__(spanner)
        self.name = name
        self._valuer = valuer
        self._value: Any = _UNSET
        self._item_spans: dict[str, Span] = {}

    @property
    def key_span(self) -> Span:
        return self._span(1)

    @property
    def value_span(self) -> Span:
        return self._span(2)

    def _load(self) -> None:
        if self._value is _UNSET:
            self._value, self._item_spans = self._valuer()

    @property
    def value(self) -> Any:
        """str | int | float | bool | None | list | dict | Unknown"""
        self._load()
        return self._value

    @property
    def item_spans(self) -> dict[str, Span]:
        """For an object value: each key's `key = value` span."""
        self._load()
        return self._item_spans


_UNSET = object()


class Block(_LazySpans):
    """`type "label" ... { body }`, its body loaded on first use."""

    __slots__ = (
        "_attrs",
        "_blocks",
        "_finder",
        "_found",
        "_loader",
        "has_error",
        "labels",
        "type",
    )

    def __init__(
        self,
        type_: str,
        labels: tuple[str, ...],
        spanner: SpanSource,  # -> (whole block, header `type "label" "label"`)
        loader: Callable[[], tuple[dict[str, Attribute], list[Block]]],
        has_error: bool = False,
        finder: Callable[[str], Attribute | None] | None = None,
    ) -> None:
        super().__init__(spanner)
        self.type = type_
        self.labels = labels
        self.has_error = has_error
        self._loader = loader
        self._attrs: dict[str, Attribute] | None = None
        self._blocks: list[Block] | None = None
        self._finder = finder  # one attribute without loading the whole body
        self._found: dict[str, Attribute | None] = {}

    @property
    def header_span(self) -> Span:
        """`type "label" "label"`: where findings about the block point."""
        return self._span(1)

    def _load(self) -> tuple[dict[str, Attribute], list[Block]]:
        if self._attrs is None or self._blocks is None:
            self._attrs, self._blocks = self._loader()
        return self._attrs, self._blocks

    @property
    def attributes(self) -> dict[str, Attribute]:
        return self._load()[0]

    def attr(self, name: str) -> Attribute | None:
        if self._attrs is not None or self._finder is None:
            return self._load()[0].get(name)
        if name not in self._found:
            self._found[name] = self._finder(name)
        return self._found[name]

    @property
    def blocks(self) -> list[Block]:
        return self._load()[1]

    def blocks_of(self, type_: str) -> Iterator[Block]:
        return (b for b in self._load()[1] if b.type == type_)


class TerraformDocument:
    """A file's top-level blocks. Native-syntax documents build Block objects on demand:
    `blocks_of("resource", "module")` never touches the hundreds of variables and outputs
    of a large module."""

    __slots__ = ("_blocks", "_select", "diagnostics", "path")

    def __init__(
        self,
        path: str,
        blocks: list[Block] | None,
        diagnostics: list[Diagnostic],
        select: Callable[[frozenset[str] | None], list[Block]] | None = None,
    ) -> None:
        self.path = path
        self.diagnostics = diagnostics
        self._blocks = blocks
        self._select = select

    @property
    def blocks(self) -> list[Block]:
        if self._blocks is None:
            self._blocks = self._select(None) if self._select else []
        return self._blocks

    def release(self) -> None:
        """Drop the syntax tree now (facts never hold on to it)."""
        self._blocks = []
        self._select = None

    def blocks_of(self, *types: str) -> list[Block]:
        if self._blocks is None and self._select is not None:
            return self._select(frozenset(types))
        return [b for b in self.blocks if b.type in types]


# ---------------------------------------------------------------- native syntax (tree-sitter)


@cache
def _language() -> Any:
    return tree_sitter.Language(tree_sitter_hcl.language())


@cache
def _parser() -> Any:
    return tree_sitter.Parser(_language())


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_HEX_WIDTH = {"u": 4, "U": 8}
# Deeper values than this are reported as Unknown: no real configuration nests this far, and
# converting is recursive.
MAX_VALUE_DEPTH = 64


def _unescape(s: str, backslash: bool = True) -> str:
    """The value of a template literal: HCL's backslash escapes (quoted strings only, not
    heredocs) and the template escapes `$${` and `%%{`, in one left-to-right pass."""
    if "\\" not in s and "$${" not in s and "%%{" not in s:
        return s
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\" and backslash and i + 1 < n:
            nxt = s[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            width = _HEX_WIDTH.get(nxt)
            if width is not None:
                digits = s[i + 2 : i + 2 + width]
                if len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits):
                    cp = int(digits, 16)
                    # a lone surrogate or an out-of-range code point could not be encoded
                    # again (JSON, SARIF); keep such an escape as written
                    if cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF:
                        out.append(chr(cp))
                        i += 2 + width
                        continue
        elif c in "$%" and s.startswith(c + c + "{", i):
            out.append(c + "{")
            i += 3
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _dedent_flush(content: str) -> str:
    """`<<-` heredocs: remove the least indentation of the non-blank lines from every line
    (spaces and tabs count one each, as in HCL)."""
    lines = content.split("\n")
    indents = [len(ln) - len(ln.lstrip(" \t")) for ln in lines if ln.strip(" \t\r")]
    cut = min(indents, default=0)
    return "\n".join(ln[min(cut, len(ln) - len(ln.lstrip(" \t"))) :] for ln in lines)


class _Native:
    """Converts tree-sitter nodes of one file; holds the file's bytes and line index."""

    def __init__(self, path: str, data: bytes, index: LineIndex) -> None:
        self.path = path
        self.data = data
        self.index = index

    def span(self, node: Any) -> Span:
        return self.index.span_from_bytes(node.start_point, node.end_point)

    def text(self, node: Any) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def block(self, node: Any) -> Block:
        type_ = ""
        labels: list[str] = []
        header_end = node.start_point
        body = None
        for child in node.children:
            t = child.type
            if t == "identifier" and not type_:
                type_ = self.text(child)
                header_end = child.end_point
            elif t == "string_lit":
                labels.append(self._string_lit(child))
                header_end = child.end_point
            elif t == "identifier":
                labels.append(self.text(child))
                header_end = child.end_point
            elif t == "body":
                body = child
        index = self.index

        def spans() -> tuple[Span, ...]:
            return (
                index.span_from_bytes(node.start_point, node.end_point),
                index.span_from_bytes(node.start_point, header_end),
            )

        def load() -> tuple[dict[str, Attribute], list[Block]]:
            return self.body(body)

        def find(name: str) -> Attribute | None:
            return self.find_attribute(body, name)

        return Block(type_, tuple(labels), spans, load, node.has_error, find)

    def find_attribute(self, body: Any, name: str) -> Attribute | None:
        """The last attribute called `name` (as a body would map it), comparing key bytes
        without converting anything else."""
        if body is None:
            return None
        want = name.encode()
        data = self.data
        found = None
        for child in body.children:
            if child.type == "attribute":
                key = child.child(0)
                if key is not None and data[key.start_byte : key.end_byte] == want:
                    found = child
        return self.attribute(found) if found is not None else None

    def body(self, body: Any) -> tuple[dict[str, Attribute], list[Block]]:
        attrs: dict[str, Attribute] = {}
        blocks: list[Block] = []
        if body is None:
            return attrs, blocks
        for child in body.children:
            if child.type == "attribute":
                a = self.attribute(child)
                if a is not None:
                    attrs[a.name] = a
            elif child.type == "block":
                blocks.append(self.block(child))
        return attrs, blocks

    def attribute(self, node: Any) -> Attribute | None:
        children = node.children
        if len(children) < 3 or children[0].type != "identifier":
            return None
        key, expr = children[0], children[-1]
        return Attribute(
            self.text(key),
            lambda: (self.span(node), self.span(key), self.span(expr)),
            lambda: self.value(expr),
        )

    def _string_lit(self, node: Any) -> str:
        return _unescape(
            "".join(self.text(c) for c in node.children if c.type == "template_literal")
        )

    def value(self, expr: Any, depth: int = 0) -> tuple[Any, dict[str, Span]]:
        """Static value of an expression node (Unknown when not static) and, for objects,
        the spans of its keys."""
        if depth > MAX_VALUE_DEPTH:
            return Unknown(self.text(expr)), {}
        node = expr
        while node.type in ("expression", "literal_value", "collection_value", "template_expr"):
            if node.child_count != 1:
                break
            node = node.children[0]
        if (
            node.type == "expression"
            and node.child_count == 3
            and node.children[0].type == "("
            and node.children[2].type == ")"
        ):
            return self.value(node.children[1], depth + 1)[0], {}
        t = node.type
        if t == "string_lit" or t == "quoted_template":
            if all(
                c.type in ("quoted_template_start", "quoted_template_end", "template_literal")
                for c in node.children
            ):
                return self._string_lit(node), {}
            return Unknown(self.text(expr)), {}
        if t == "numeric_lit":
            return _number(self.text(node)), {}
        if t == "operation" and node.child_count == 1:
            # `-1`: a negative number is a unary operation on a literal in HCL's grammar
            un = node.children[0]
            if un.type == "unary_operation" and un.child_count == 2 and un.children[0].type == "-":
                v, _ = self.value(un.children[1], depth + 1)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    return -v, {}
            return Unknown(self.text(expr)), {}
        if t == "bool_lit":
            return self.text(node) == "true", {}
        if t == "null_lit":
            return None, {}
        if t == "tuple":
            items = [self.value(c, depth + 1)[0] for c in node.children if c.type == "expression"]
            return items, {}
        if t == "object":
            obj: dict[str, Any] = {}
            spans: dict[str, Span] = {}
            for elem in node.children:
                if elem.type != "object_elem" or elem.child_count < 3:
                    continue
                k_node, v_node = elem.children[0], elem.children[-1]
                k, _ = self.value(k_node, depth + 1)
                if not isinstance(k, str):
                    # a bare identifier key (`Team = ...`) is a variable_expr: its name is the key
                    inner = k_node.children[0] if k_node.child_count == 1 else None
                    if inner is not None and inner.type == "variable_expr":
                        k = self.text(inner)
                    else:
                        return Unknown(self.text(expr)), {}
                obj[k] = self.value(v_node, depth + 1)[0]
                spans[k] = self.span(elem)
            return obj, spans
        if t == "heredoc_template":
            return self._heredoc(node, expr), {}
        if t == "function_call":
            return self._call(node, expr, depth), {}
        return Unknown(self.text(expr)), {}

    def _call(self, node: Any, expr: Any, depth: int) -> Call:
        name = ""
        args: list[Any] = []
        expanded = False
        for c in node.children:
            if c.type == "identifier":
                name = self.text(c)
            elif c.type == "function_arguments":
                for a in c.children:
                    if a.type == "expression":
                        args.append(self.value(a, depth + 1)[0])
                    elif a.type == "ellipsis":
                        expanded = True
        return Call(self.text(expr), name, tuple(args), expanded)

    def _heredoc(self, node: Any, expr: Any) -> Any:
        """A heredoc's value is every line between the opener and the closing marker's line,
        each with its newline; `<<-` also strips the common indentation."""
        kids = node.children
        markers = [c for c in kids if c.type == "heredoc_identifier"]
        if len(markers) < 2 or any(
            c.type not in ("heredoc_start", "heredoc_identifier", "template_literal") for c in kids
        ):
            return Unknown(self.text(expr))
        begin = self.data.find(b"\n", markers[0].end_byte) + 1
        end = self.data.rfind(b"\n", 0, markers[-1].start_byte) + 1
        content = self.data[begin:end].decode("utf-8", "replace") if 0 < begin <= end else ""
        if self.text(kids[0]).startswith("<<-"):
            content = _dedent_flush(content)
        return _unescape(content, backslash=False)


def _number(s: str) -> int | float | Unknown:
    try:
        return float(s) if any(c in s for c in ".eE") else int(s)
    except ValueError:
        return Unknown(s)


def _errors(conv: _Native, root: Any, limit: int = 5) -> list[Diagnostic]:
    """One located diagnostic for each of the first few top-level elements with a syntax
    error: a second error in the same block is usually a consequence of the first."""
    out: list[Diagnostic] = []
    if root.is_error:
        # nothing parsed at all (an unclosed first block, say): one error for the file, at the
        # line where the construct tree-sitter could not finish begins
        first = root.children[0] if root.child_count else root
        snippet = conv.text(first if first is not root else root).split("\n", 1)[0]
        if first is not root:
            snippet = conv.data[first.start_byte :].split(b"\n", 1)[0].decode("utf-8", "replace")
        snippet = snippet.strip()[:60]
        start = conv.span(first)
        return [
            Diagnostic(
                conv.path,
                Span(start.start_line, start.start_col, start.start_line, start.start_col + 1),
                "parse-error",
                f"Terraform syntax error: cannot parse the construct starting {snippet!r} "
                "(unclosed block or invalid syntax); not scanned",
                Level.ERROR,
            )
        ]
    tops = [c for top in root.children for c in (top.children if top.type == "body" else (top,))]
    after_error = False
    for top in tops:
        if len(out) >= limit:
            break
        if not (top.has_error or top.is_error or top.is_missing):
            after_error = after_error and top.type == "comment"
            continue
        # a run of stray tokens outside any block is one error, not one per token
        if after_error and top.type != "block":
            continue
        after_error = top.type != "block"
        node = _first_error(top)
        if node is None:
            continue
        if node.is_missing:
            what, span = _MISSING.get(node.type, "invalid expression"), _missing_span(conv, node)
        else:
            # the first line of what could not be parsed, located on that line
            first_line = conv.text(node).split("\n", 1)[0].strip()
            what = f"unexpected {first_line[:40]!r}"
            start = conv.span(node)
            end_col = start.end_col if start.end_line == start.start_line else None
            span = Span(
                start.start_line,
                start.start_col,
                start.start_line,
                end_col or start.start_col + max(1, len(first_line)),
            )
        out.append(
            Diagnostic(
                conv.path,
                span,
                "parse-error",
                f"Terraform syntax error: {what}; blocks with errors are not scanned",
                Level.ERROR,
            )
        )
    return out


# What a missing token means to someone editing the file (tree-sitter names grammar nodes).
_MISSING = {
    "quoted_template_end": "missing closing '\"'",
    "heredoc_identifier": "missing the heredoc's closing marker",
    "}": "missing '}'",
    "block_end": "missing '}'",
    "object_end": "missing '}'",
    "]": "missing ']'",
    "tuple_end": "missing ']'",
    ")": "missing ')'",
    "template_interpolation_end": "missing '}' of '${'",
    "template_directive_end": "missing '}' of '%{'",
}


def _first_error(node: Any) -> Any:
    """The first error in document order, as deep as it goes: tree-sitter often wraps a whole
    block in an ERROR node whose first nested ERROR is where the text actually went wrong."""
    stack = [node]
    while stack:
        n = stack.pop()
        if n.is_missing:
            return n
        if n.is_error:
            inner = _first_error_below(n)
            if inner is not None:
                return inner
            if n.start_point[0] != n.end_point[0]:
                # a multi-line ERROR of well-formed pieces: the parser gave up at its end
                last = _last_leaf(n)
                if last is not None:
                    return last
            return n
        if n.has_error:
            stack.extend(reversed(n.children))
    return None


def _last_leaf(node: Any) -> Any:
    """The last token with width inside node (where a parser that gave up stopped)."""
    leaves = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.child_count == 0:
            if n.end_byte > n.start_byte:
                leaves.append(n)
            continue
        stack.extend(n.children)
    return max(leaves, key=lambda n: n.start_byte) if leaves else None


def _first_error_below(node: Any) -> Any:
    for child in node.children:
        if child.is_error or child.is_missing or child.has_error:
            found = _first_error(child)
            if found is not None:
                return found
    return None


def _missing_span(conv: _Native, node: Any) -> Span:
    """A missing token has no width and sits where the parser gave up, often at the next
    block: point instead at the start of the construct it would have closed, to the end
    of that line (`x = "unterminated`, or the header of a block missing its `}`)."""
    owner = node.parent
    while owner is not None and owner.start_byte == owner.end_byte:
        owner = owner.parent
    if owner is None:
        return conv.span(node)
    row, _ = owner.start_point
    line_end = conv.data.find(b"\n", owner.start_byte)
    if line_end < 0:
        line_end = len(conv.data)
    end_col = len(conv.data[owner.start_byte - owner.start_point[1] : line_end].rstrip(b"\r"))
    end = owner.end_point if owner.end_point[0] == row else (row, end_col)
    return conv.index.span_from_bytes(owner.start_point, end)


def _top_blocks(root: Any) -> Iterator[Any]:
    # comments before the first block are siblings of the body, not its children
    for top in root.children:
        yield from (
            (c for c in top.children if c.type == "block")
            if top.type == "body"
            else ((top,) if top.type == "block" else ())
        )


# A top-level block header at the start of a line: `type "label" label {`.
_HEADER = re.compile(
    rb'^[A-Za-z_][A-Za-z0-9_-]*(?:[ \t]+(?:"(?:[^"\\\n]|\\.)*"|[A-Za-z_][A-Za-z0-9_-]*))*[ \t]*\{',
    re.MULTILINE,
)


_HEREDOC_OPEN = re.compile(rb"<<-?([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\r?$", re.MULTILINE)


def _heredoc_bodies(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of heredoc bodies, found textually: a broken block can keep tree-sitter
    from seeing a later heredoc, whose body may hold lines that look like block headers."""
    out: list[tuple[int, int]] = []
    pos = 0
    while (m := _HEREDOC_OPEN.search(data, pos)) is not None:
        close = re.compile(rb"^[ \t]*" + re.escape(m.group(1)) + rb"[ \t]*\r?$", re.MULTILINE)
        end = close.search(data, m.end() + 1)
        if end is None:
            break
        out.append((m.end(), end.start()))
        pos = end.end()
    return out


def _recover(data: bytes, root: Any) -> tuple[list[Any], list[Any]]:
    """Top-level blocks of a broken file, and the trees of its re-parsed pieces.

    tree-sitter's recovery can let one broken block swallow the rest of the file (an
    unterminated string, or `x = = 1` read as a heredoc start). The blocks that parsed
    cleanly are kept; the text between them is split at top-level block headers and each
    piece parsed on its own, so the damage stays in the block that has it. Header-like
    lines inside heredoc bodies are not split at."""

    good = [b for b in _top_blocks(root) if not b.has_error]
    heredocs = _heredoc_bodies(data)
    heredoc_starts = [h[0] for h in heredocs]
    line_starts = [0] + [m.end() for m in re.finditer(rb"\n", data)]

    def point(offset: int) -> Any:
        row = bisect.bisect_right(line_starts, offset) - 1
        return tree_sitter.Point(row, offset - line_starts[row])

    def in_heredoc(offset: int) -> bool:
        i = bisect.bisect_right(heredoc_starts, offset) - 1
        return i >= 0 and heredocs[i][0] < offset < heredocs[i][1]

    gaps: list[tuple[int, int]] = []
    pos = 0
    for b in good:
        gaps.append((pos, b.start_byte))
        pos = b.end_byte
    gaps.append((pos, len(data)))
    parser = tree_sitter.Parser(_language())
    trees = []
    for gs, ge in gaps:
        if not data[gs:ge].strip():
            continue
        cuts = [m.start() for m in _HEADER.finditer(data, gs, ge) if not in_heredoc(m.start())]
        bounds = sorted({gs, *cuts, ge})
        for s, e in zip(bounds, bounds[1:], strict=False):
            parser.included_ranges = [tree_sitter.Range(point(s), point(e), s, e)]
            trees.append(parser.parse(data).root_node)
    blocks = sorted(
        [*good, *(b for t in trees for b in _top_blocks(t))], key=lambda b: b.start_byte
    )
    return blocks, trees


def _split_headers(conv: _Native, blocks: list[Any]) -> tuple[list[Any], list[Diagnostic]]:
    """HCL wants a block's type, labels and `{` on one line; tree-sitter-hcl reads newlines
    there as spaces, so a stray word before a block (`x` then `resource "a" "b" {`) made the
    resource a block of type `x`, judged by no rule and reported by nothing. Terraform
    refuses such a file: so does the scan, for that block, with a located error."""
    kept: list[Any] = []
    diags: list[Diagnostic] = []
    for b in blocks:
        opener = next((c for c in b.children if c.type == "block_start"), None)
        if opener is None or opener.start_point[0] == b.start_point[0]:
            kept.append(b)
            continue
        start = conv.span(b)
        word = conv.data[b.start_byte :].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        diags.append(
            Diagnostic(
                conv.path,
                Span(start.start_line, start.start_col, start.start_line, start.start_col + 1),
                "parse-error",
                f"Terraform syntax error: unexpected {word[:60]!r}: a block's type, labels and "
                "`{` must be on one line; this block is not scanned",
                Level.ERROR,
            )
        )
    return kept, diags


def parse_native(path: str, text: str) -> TerraformDocument:
    data = text.encode("utf-8")
    root = _parser().parse(data).root_node
    conv = _Native(path, data, LineIndex(text))
    if not root.has_error:
        kept, split = _split_headers(conv, list(_top_blocks(root)))
        return TerraformDocument(path, None, split, _selector(conv, kept))
    nodes, pieces = _recover(data, root)
    diags: list[Diagnostic] = []
    for r in pieces:
        if r.has_error and len(diags) < 5:
            diags.extend(_errors(conv, r, 5 - len(diags)))
    if not diags:  # the pieces parse where the whole did not
        diags = _errors(conv, root)
    kept, split = _split_headers(conv, list(nodes))
    return TerraformDocument(path, None, [*diags, *split][:5], _selector(conv, kept))


def _selector(conv: _Native, nodes: list[Any]) -> Callable[[frozenset[str] | None], list[Block]]:
    data = conv.data

    def select(types: frozenset[str] | None) -> list[Block]:
        if types is None:
            return [conv.block(n) for n in nodes]
        wanted = {t.encode() for t in types}
        out = []
        for n in nodes:
            head = n.child(0)
            if head is not None and data[head.start_byte : head.end_byte] in wanted:
                out.append(conv.block(n))
        return out

    return select


# ---------------------------------------------------------------- JSON syntax

# Block types whose JSON form nests labels as object keys, and how many labels they take.
_JSON_LABELS = {
    "resource": 2,
    "data": 2,
    "module": 1,
    "provider": 1,
    "variable": 1,
    "output": 1,
    "terraform": 0,
    "locals": 0,
}
# Nested blocks (by parent type) that tether reads; in JSON they are objects like attributes.
_JSON_NESTED = {
    "terraform": {"required_providers": 0, "backend": 1, "cloud": 0},
    "provider": {"default_tags": 0},
}


def parse_json(path: str, text: str) -> TerraformDocument:
    # The YAML composer gives positions but accepts more than JSON (trailing commas, comments,
    # unquoted keys) that Terraform rejects; the json module decides validity, fast.
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        col = LineIndex(text).col_from_char(e.lineno - 1, e.colno - 1)
        span = Span(e.lineno, col, e.lineno, col + 1)
        diag = Diagnostic(path, span, "parse-error", f"Terraform JSON: {e.msg}", Level.ERROR)
        return TerraformDocument(path, [], [diag])
    except RecursionError:
        return TerraformDocument(
            path,
            [],
            [
                Diagnostic(
                    path,
                    Span(1, 1, 1, 2),
                    "parse-error",
                    "Terraform JSON: nested too deeply; not scanned",
                    Level.ERROR,
                )
            ],
        )
    try:
        root = compose_json(path, text)
    except YamlError as e:
        return TerraformDocument(
            path,
            [],
            [Diagnostic(path, e.span, "parse-error", f"Terraform JSON: {e.message}", Level.ERROR)],
        )
    blocks: list[Block] = []
    if root is None or not root.is_map:
        return TerraformDocument(path, [], [])
    for type_key, type_val in root.items():
        kind = type_key.value
        n_labels = _JSON_LABELS.get(kind)
        if n_labels is None:
            continue
        for labels, obj, key_span in _json_label_walk(type_val, n_labels):
            blocks.append(_json_block(kind, tuple(labels), obj, key_span or type_key.span))
    return TerraformDocument(path, blocks, [])


def _json_label_walk(node: Any, depth: int) -> Iterator[tuple[list[str], Any, Span | None]]:
    if node.is_seq:
        for item in node.items():
            yield from _json_label_walk(item, depth)
        return
    if depth == 0:
        if node.is_map:
            yield [], node, None
        return
    if not node.is_map:
        return
    for k, v in node.items():
        for labels, obj, span in _json_label_walk(v, depth - 1):
            yield [k.value, *labels], obj, span or k.span


def _json_block(kind: str, labels: tuple[str, ...], obj: Any, header: Span) -> Block:
    nested = _JSON_NESTED.get(kind, {})

    def load() -> tuple[dict[str, Attribute], list[Block]]:
        attrs: dict[str, Attribute] = {}
        blocks: list[Block] = []
        for k, v in obj.items():
            name = k.value
            if name in nested:
                for sub_labels, sub_obj, span in _json_label_walk(v, nested[name]):
                    blocks.append(_json_block(name, tuple(sub_labels), sub_obj, span or k.span))
                continue
            ks, vs = k.span, v.span
            span = Span(ks.start_line, ks.start_col, vs.end_line, vs.end_col)
            attrs[name] = Attribute(name, partial(tuple, (span, ks, vs)), partial(_json_value, v))
        return attrs, blocks

    return Block(kind, labels, partial(tuple, (obj.span, header)), load)


def _json_value(v: Any) -> tuple[Any, dict[str, Span]]:
    value = _json_static(v.to_python())
    item_spans = {}
    if v.is_map and isinstance(value, dict):
        for ik, iv in v.items():
            s = ik.span
            key = _template_static(str(ik.value))
            if key is not None:
                item_spans[key] = Span(s.start_line, s.start_col, iv.span.end_line, iv.span.end_col)
    return value, item_spans


def _template_static(s: str) -> str | None:
    """A JSON-syntax string is a template: its literal value, or None when it interpolates
    (`${...}`) or has a directive (`%{...}`); `$${` and `%%{` are escapes for literal text."""
    if "{" not in s:
        return s
    i = 0
    while True:
        i = s.find("{", i) + 1
        if i == 0:
            break
        if i >= 2 and s[i - 2] in "$%" and not (i >= 3 and s[i - 3] == s[i - 2]):
            return None
    return _unescape(s, backslash=False)


def _json_expression(s: str) -> Unknown:
    """A JSON-syntax string that is one whole `${ expr }` interpolation evaluates to the
    expression itself. A function call there is kept as a :class:`Call`, like in native
    syntax (`"${merge(local.tags, {team = \"x\"})}"`); anything else stays Unknown."""
    if "(" not in s or not s.startswith("${") or not s.endswith("}"):
        return Unknown(s)
    src = f"x = {s[2:-1]}\n"
    data = src.encode("utf-8")
    root = _parser().parse(data).root_node
    body = root.children[0] if root.child_count == 1 else None
    if root.has_error or body is None or body.type != "body" or body.child_count != 1:
        return Unknown(s)
    attr = body.children[0]
    if attr.type != "attribute":
        return Unknown(s)
    value, _ = _Native("", data, LineIndex(src)).value(attr.children[-1])
    if isinstance(value, Call):
        value.text = s
        return value
    return Unknown(s)


def _json_static(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        st = _template_static(value)
        return _json_expression(value) if st is None else st
    if depth > MAX_VALUE_DEPTH:
        return Unknown("...")
    if isinstance(value, list):
        return [_json_static(x, depth + 1) for x in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, x in value.items():
            key = _template_static(k)
            if key is None:  # an interpolated key: the object's keys are not known
                return Unknown(str(value))
            out[key] = _json_static(x, depth + 1)
        return out
    return value


def parse(path: str, text: str) -> TerraformDocument:
    if path.endswith(".json"):
        return parse_json(path, text)
    return parse_native(path, text)


def to_json_value(value: Any) -> Any:
    """Fact-friendly form: Unknown becomes None (rules see "not statically known")."""
    if isinstance(value, Unknown):
        return None
    if isinstance(value, list):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json_value(v) for k, v in value.items()}
    return value


__all__ = [
    "Attribute",
    "Block",
    "Call",
    "TerraformDocument",
    "Unknown",
    "parse",
    "parse_json",
    "parse_native",
    "to_json_value",
]
