"""Terraform (HCL2 native syntax and JSON syntax) into blocks and attributes with exact spans.

Native syntax is parsed with tree-sitter-hcl: it parses about 20x faster than python-hcl2's
Lark grammar (measured 2.8 MB/s vs 0.12 MB/s on the same 400 KB), gives byte-exact positions
for every node and recovers from errors, so one broken block does not hide the rest of the
file. python-hcl2 remains the reference oracle in the test suite (tests/test_parse_terraform.py).

The document is lazy: attributes are converted to Python values only when a fact extractor
asks for them, because most of a large module is never looked at by any rule.

Memory: tree-sitter holds 80-300 bytes of tree per byte of input, so a file at the size cap
(5 MiB) parsed whole peaked over 1 GiB. A file larger than WHOLE_BYTES is therefore parsed a
chunk of about CHUNK_BYTES at a time, each cut lexically where a top-level block ends
(strings, heredocs and comments respected), and the facts of a chunk are observed before the
next one is parsed (`TerraformDocument.observed`). A block larger than MAX_BLOCK_BYTES is
parsed a few of its items at a time, keeping only what `facts.terraform.READS` says the
extractors read of it. A single construct larger than MAX_BLOCK_BYTES that cannot be cut (a
5 MiB list literal) is not parsed: a `too-large` warning says so where it begins, and the
block holding it is not judged if the extractors read it. Syntax errors are reported as for a
whole file, chunk by chunk, up to MAX_ERRORS; a large file with errors is recovered chunk by
chunk, so the errors after the first may be located a little differently than in a whole-file
parse.
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from functools import cache, partial
from typing import Any, NamedTuple, TypeVar

import tree_sitter
import tree_sitter_hcl

from ..model import Diagnostic, Fact, Level, Span
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


class ItemSpans(dict[str, Span]):
    """An object value's spans: each key's `key = value` span, and in `values_at` each
    value's own (what a remedy replaces)."""

    def __init__(self) -> None:
        super().__init__()
        self.values_at: dict[str, Span] = {}


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

    __slots__ = ("_blocks", "_select", "diagnostics", "observed", "path")

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
        # the facts of a large file, observed chunk by chunk while each syntax tree was
        # alive (see parse_native); None: observe them from the blocks
        self.observed: list[Fact] | None = None

    @property
    def blocks(self) -> list[Block]:
        if self._blocks is None:
            self._blocks = self._select(None) if self._select else []
        return self._blocks

    def release(self) -> None:
        """Drop the syntax tree now (facts never hold on to it)."""
        self._blocks = []
        self._select = None
        self.observed = None

    def blocks_of(self, *types: str) -> list[Block]:
        if self._blocks is None and self._select is not None:
            return self._select(frozenset(types))
        return [b for b in self.blocks if b.type in types]


# ---------------------------------------------------------------- native syntax (tree-sitter)


def _unused() -> Any:
    raise AssertionError("a tree block or attribute works its spans and body out itself")


class _TreeAttribute(Attribute):
    """An attribute of a syntax tree: one object rather than closures and their cells (a
    large file's blocks are made by the hundred thousand, and fewer objects for the cycle
    collector to walk made extraction ~1.5x faster)."""

    __slots__ = ("_conv", "_expr", "_key", "_node")

    def __init__(self, conv: _Native, node: Any, key: Any, expr: Any) -> None:
        super().__init__(conv.text(key), _unused, _unused)
        self._conv, self._node, self._key, self._expr = conv, node, key, expr

    def _span(self, i: int) -> Span:
        if self._spans is None:
            conv = self._conv
            self._spans = (conv.span(self._node), conv.span(self._key), conv.span(self._expr))
        return self._spans[i]

    def _load(self) -> None:
        if self._value is _UNSET:
            self._value, self._item_spans = self._conv.value(self._expr)


class _TreeBlock(Block):
    """A block of a syntax tree, its spans and body worked out on first use."""

    __slots__ = ("_body", "_conv", "_header_end", "_keys", "_node")

    def __init__(
        self,
        conv: _Native,
        node: Any,
        type_: str,
        labels: tuple[str, ...],
        header_end: Any,
        body: Any,
    ) -> None:
        super().__init__(type_, labels, _unused, _unused, node.has_error)
        self._conv, self._node, self._header_end, self._body = conv, node, header_end, body
        self._keys: dict[bytes, Any] | None = None

    def _span(self, i: int) -> Span:
        if self._spans is None:
            node, index = self._node, self._conv.index
            self._spans = (
                index.span_from_bytes(node.start_point, node.end_point),
                index.span_from_bytes(node.start_point, self._header_end),
            )
        return self._spans[i]

    def _load(self) -> tuple[dict[str, Attribute], list[Block]]:
        if self._attrs is None or self._blocks is None:
            self._attrs, self._blocks = self._conv.body(self._body)
        return self._attrs, self._blocks

    def attr(self, name: str) -> Attribute | None:
        if self._attrs is not None:
            return self._attrs.get(name)
        if name not in self._found:
            self._found[name] = self._find(name)
        return self._found[name]

    def _find(self, name: str) -> Attribute | None:
        """The last attribute called `name` (as a body would map it): the body's keys are
        compared as bytes, once for all the names asked, and nothing else converted."""
        body = self._body
        if body is None:
            return None
        if self._keys is None:
            data = self._conv.data
            self._keys = keys = {}
            for child in body.children:
                if child.type == "attribute" and (key := child.child(0)) is not None:
                    keys[data[key.start_byte : key.end_byte]] = child
        found = self._keys.get(name.encode())
        return None if found is None else self._conv.attribute(found)


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
        self._heredocs: list[tuple[int, int]] | None = None

    def headers(self, lo: int, hi: int) -> list[int]:
        """Where the lines of data[lo:hi] that look like a top-level block header begin,
        outside heredoc bodies: where the recovery of a broken stretch cuts it."""
        if self._heredocs is None:
            self._heredocs = _heredoc_bodies(self.data)
        heredocs = self._heredocs
        starts = [h[0] for h in heredocs]

        def in_heredoc(offset: int) -> bool:
            i = bisect.bisect_right(starts, offset) - 1
            return i >= 0 and heredocs[i][0] < offset < heredocs[i][1]

        return [m.start() for m in _HEADER.finditer(self.data, lo, hi) if not in_heredoc(m.start())]

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
        return _TreeBlock(self, node, type_, tuple(labels), header_end, body)

    def items_of(self, root: Any) -> Iterator[Any]:
        """The top-level attributes and blocks of a tree (a piece of a block's body)."""
        for top in root.children:
            yield from top.children if top.type == "body" else (top,)

    def items(self, roots: list[Any]) -> tuple[dict[str, Attribute], list[Block]]:
        """A body parsed in pieces, as `body` makes one."""
        attrs: dict[str, Attribute] = {}
        blocks: list[Block] = []
        for root in roots:
            self._gather(self.items_of(root), attrs, blocks)
        return attrs, blocks

    def find_in(self, roots: list[Any], name: str) -> Attribute | None:
        """`find_attribute` over a body parsed in pieces."""
        found = None
        for root in roots:
            for body in root.children:
                if body.type == "body":
                    found = self.find_attribute(body, name) or found
        return found

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
        if body is not None:
            self._gather(body.children, attrs, blocks)
        return attrs, blocks

    def _gather(
        self, children: Iterable[Any], attrs: dict[str, Attribute], blocks: list[Block]
    ) -> None:
        """A body's attributes (by name, the last one of a name) and blocks, in order."""
        for child in children:
            if child.type == "attribute":
                a = self.attribute(child)
                if a is not None:
                    attrs[a.name] = a
            elif child.type == "block":
                blocks.append(self.block(child))

    def attribute(self, node: Any) -> Attribute | None:
        children = node.children
        if len(children) < 3 or children[0].type != "identifier":
            return None
        return _TreeAttribute(self, node, children[0], children[-1])

    def _string_lit(self, node: Any) -> str:
        start, end = node.start_byte, node.end_byte
        inner = self.data[start + 1 : end - 1]
        if (
            node.child_count == 3  # `"`, the text, `"` (a label, mostly)
            and b"{" not in inner  # neither an interpolation nor a directive
            and b"\n" not in inner  # tree-sitter-hcl leaves some newlines out of the text
            and not node.has_error
        ):
            return _unescape(inner.decode("utf-8", "replace"))
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
            spans = ItemSpans()
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
                spans.values_at[k] = self.span(v_node)
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


class _Points:
    """tree-sitter points (row, byte column) of byte offsets, counting newlines from the last
    offset asked: a file's chunks and pieces are asked for in order, so each newline is
    counted about once (a table of line starts would cost ~40 bytes a line)."""

    __slots__ = ("_data", "_offset", "_row")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0
        self._row = 0

    def __call__(self, offset: int) -> Any:
        data = self._data
        if offset >= self._offset:
            self._row += data.count(b"\n", self._offset, offset)
        else:
            self._row -= data.count(b"\n", offset, self._offset)
        self._offset = offset
        return tree_sitter.Point(self._row, offset - (data.rfind(b"\n", 0, offset) + 1))


class _Ranges:
    """Parses ranges of one file's bytes, each alone, with the positions it has in the file."""

    __slots__ = ("_data", "_parser", "points")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._parser: Any = None
        self.points = _Points(data)

    def parse(self, *bounds: int) -> Any:
        """The tree of data[lo:hi] (of data[a:b] + data[c:d], ...: bounds in pairs)."""
        if self._parser is None:
            self._parser = tree_sitter.Parser(_language())
        points = self.points
        self._parser.included_ranges = [
            tree_sitter.Range(points(lo), points(hi), lo, hi)
            for lo, hi in zip(bounds[::2], bounds[1::2], strict=True)
        ]
        return self._parser.parse(self._data).root_node


def _recover(
    conv: _Native, root: Any, lo: int, hi: int, ranges: _Ranges
) -> tuple[list[Any], list[Any]]:
    """Top-level blocks of a broken file (or chunk: data[lo:hi]), and the trees of its
    re-parsed pieces.

    tree-sitter's recovery can let one broken block swallow the rest of the file (an
    unterminated string, or `x = = 1` read as a heredoc start). The blocks that parsed
    cleanly are kept; the text between them is split at top-level block headers and each
    piece parsed on its own, so the damage stays in the block that has it. Header-like
    lines inside heredoc bodies are not split at."""

    data = conv.data
    good = [b for b in _top_blocks(root) if not b.has_error]
    gaps: list[tuple[int, int]] = []
    pos = lo
    for b in good:
        gaps.append((pos, b.start_byte))
        pos = b.end_byte
    gaps.append((pos, hi))
    trees = []
    for gs, ge in gaps:
        if not data[gs:ge].strip():
            continue
        bounds = sorted({gs, *conv.headers(gs, ge), ge})
        for s, e in zip(bounds, bounds[1:], strict=False):
            trees.append(ranges.parse(s, e))
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


def _unit(
    conv: _Native,
    root: Any,
    lo: int,
    hi: int,
    ranges: _Ranges,
    limit: int,
) -> tuple[list[Any], list[Diagnostic], list[Diagnostic]]:
    """The top-level block nodes of a parsed file or chunk (data[lo:hi]), its syntax errors
    (at most `limit`) and its block headers split over lines. Past the first errors of a
    file (`limit` 0) a broken chunk is not recovered piece by piece: it keeps the blocks
    tree-sitter made of it, clean or not."""
    if not root.has_error or limit <= 0:
        kept, split = _split_headers(conv, list(_top_blocks(root)))
        return kept, [], split
    nodes, pieces = _recover(conv, root, lo, hi, ranges)
    diags: list[Diagnostic] = []
    for r in pieces:
        if r.has_error and len(diags) < limit:
            diags.extend(_errors(conv, r, limit - len(diags)))
    if not diags:  # the pieces parse where the whole did not
        diags = _errors(conv, root, limit)
    kept, split = _split_headers(conv, list(nodes))
    return kept, diags, split


# Parsing a large file in bounded memory (see the module's docstring). At 64 KiB a chunk's
# tree and nodes take 5-20 MB; 512 KiB of the densest text tree-sitter is given (brackets
# nested) takes ~150 MB. Real modules stay far below: their largest block is ~50 KiB.
WHOLE_BYTES = 256 * 1024  # files up to this size are parsed whole
CHUNK_BYTES = 64 * 1024
MAX_BLOCK_BYTES = 512 * 1024  # larger blocks are parsed in pieces; other constructs not at all
MAX_ERRORS = 5  # syntax errors reported per file: the first few are what a reader fixes first


class _Lexer:
    """Compiled once, on first use: patterns that cut Terraform text into runs of top-level
    items without parsing it."""

    def __init__(self) -> None:
        # the body of a quoted template up to its end, an interpolation or a newline
        quoted = rb'(?:[^"\\$%\n]++|\\[^\n]|\$\$\{|%%\{|[$%](?!\{))*+'
        # a quoted template whose interpolations hold no braces, quotes or newlines
        simple = rb'"(?:[^"\\$%\n]++|\\[^\n]|\$\$\{|%%\{|[$%]\{[^{}"\n]*+\}|[$%](?!\{))*+"'
        atom = (
            rb'[^"{}\[\]()#/<]++|' + simple + rb"|#[^\n]*+|//[^\n]*+"
            rb"|/\*(?:[^*]++|\*(?!/))*+\*/|/(?![/*])|<(?!<)"
        )
        group = rb"[{\[(](?:" + atom + rb")*+[}\])]"
        for _ in range(5):  # brackets nested six deep
            group = rb"[{\[(](?:" + atom + rb"|" + group + rb")*+[}\])]"
        # what may follow an item's end on its line: blanks, `/* */` comments (which may run
        # over lines), then a `#` or `//` comment
        eol = rb"[ \t\r]*+(?:/\*(?:[^*]|\*(?!/))*+\*/[ \t\r]*+)*+(?:(?:#|//)[^\n]*+)?"
        # whole top-level items, each ending with the line of its last closing bracket:
        # most files are matched in a few calls, by the regular expression engine alone
        self.items = re.compile(rb"(?:(?:" + atom + rb")*+" + group + eol + rb"\n)*+")
        # token by token, for what that cannot match (heredocs, templates with nested
        # quotes or braces, deeper nesting, broken text)
        self.run = re.compile(rb'(?:[^"{}\[\]()#/<]++|"' + quoted + rb'"|/(?![/*])|<(?!<))*+')
        self.line = re.compile(rb'(?:[^"{}\[\]()#/<\n]++|"' + quoted + rb'"|/(?![/*])|<(?!<))*+')
        self.quoted = re.compile(quoted)
        # blanks and comments, then the first token and the name it starts with, if any
        self.lead = re.compile(
            rb"(?:\s++|#[^\n]*+|//[^\n]*+|/\*(?:[^*]++|\*(?!/))*+\*/)*+(([A-Za-z_][A-Za-z0-9_-]*)?)"
        )
        self.eol = re.compile(eol + rb"(?:\n|\Z)")
        self.heredoc = re.compile(rb"<<-?([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\r?\n")
        self.openers = re.compile(rb"[{\[(]*+")
        self.closers = re.compile(rb"[}\])]*+")


@cache
def _lexer() -> _Lexer:
    return _Lexer()


def _item(lex: _Lexer, data: bytes, pos: int, hi: int) -> tuple[int, bool]:
    """The end of the top-level item at pos, token by token, and whether it looked well
    formed."""
    ok = True
    frames: list[int] = []  # the depth outside each open `${` or `%{`, innermost last
    depth = 0  # open brackets in the innermost code
    in_string = False
    while pos < hi:
        if in_string:
            pos = lex.quoted.match(data, pos, hi).end()  # type: ignore[union-attr]
            if pos >= hi:
                break
            c = data[pos]
            if c == 0x22:  # "
                pos += 1
            elif c in b"$%":  # `${` or `%{` (the pattern stops at no other `$` or `%`)
                frames.append(depth)
                depth = 0
                pos += 2
            else:  # a newline (or a backslash before one) inside a quoted string
                ok = False
            in_string = False
            continue
        pos = lex.run.match(data, pos, hi).end()  # type: ignore[union-attr]
        if pos >= hi:
            break
        c = data[pos]
        pos += 1
        if c == 0x22:
            in_string = True
        elif c in b"{[(":
            end = lex.openers.match(data, pos, hi).end()  # type: ignore[union-attr]
            depth += 1 + end - pos
            pos = end
        elif c in b"}])":
            end = lex.closers.match(data, pos, hi).end()  # type: ignore[union-attr]
            if depth > 1 + end - pos and not frames:  # `]]]]`: none of them closes an item
                depth -= 1 + end - pos
                pos = end
            elif depth:
                depth -= 1
                if not depth and not frames and (m := lex.eol.match(data, pos, hi)) is not None:
                    return m.end(), ok
            elif frames and c == 0x7D:  # the end of an interpolation
                depth = frames.pop()
                in_string = True
            else:
                ok = False
        elif c == 0x23 or (c == 0x2F and data[pos] == 0x2F):  # `#` or `//` to the line's end
            nl = data.find(b"\n", pos, hi)
            pos = hi if nl < 0 else nl
        elif c == 0x2F:  # `/* */` (the run stops at no other `/`)
            end = data.find(b"*/", pos + 1, hi)
            ok = ok and end >= 0
            pos = hi if end < 0 else end + 2
        elif (m := lex.heredoc.match(data, pos - 1, hi)) is not None:
            close = re.compile(rb"^[ \t]*" + re.escape(m.group(1)) + rb"[ \t]*\r?$", re.MULTILINE)
            end_m = close.search(data, m.end(), hi)
            ok = ok and end_m is not None
            pos = hi if end_m is None else end_m.end()
        else:  # `<<` that starts no heredoc
            pos += 1
    return hi, ok and not depth and not frames and not in_string


class _Part(NamedTuple):
    """A stretch of a large file and how it is parsed: `body` None, as a whole; empty, not
    at all (too large); otherwise it is one block whose body is parsed a piece at a time,
    and `body` holds the pieces' bounds (just after its `{` ... at its closing `}`)."""

    lo: int
    hi: int
    body: tuple[int, ...] | None = None


def _plan(conv: _Native) -> list[_Part]:
    """The chunks of a large file, in order. Each is cut lexically where a top-level item
    ends (the line of a block's closing `}`): strings, heredocs and comments respected,
    tree-sitter has the last word on what the text is."""
    data, n = conv.data, len(conv.data)
    lex = _lexer()
    plan: list[_Part] = []
    lo = pos = 0  # the chunk so far: data[lo:pos]
    while pos < n:
        end = lex.items.match(data, pos, min(n, lo + CHUNK_BYTES)).end()  # type: ignore[union-attr]
        if end > pos:
            pos = end
            continue
        # an item that does not fit, or that only the token by token lexer reads
        end, ok = _item(lex, data, pos, n)
        if end - pos > MAX_BLOCK_BYTES and not ok:
            # unbalanced, often from a broken block to the end of the file: cut where the
            # recovery of a broken file would, at block headers
            bounds = sorted({pos, *conv.headers(pos, end), end})
            pieces: Iterable[tuple[int, int]] = zip(bounds, bounds[1:], strict=False)
        else:
            pieces = ((pos, end),)
        for ps, pe, body in _split_unless_one_block(conv, lex, pieces):
            if pe - ps > MAX_BLOCK_BYTES:
                if ps > lo:
                    plan.append(_Part(lo, ps))
                plan.append(_Part(ps, pe, body or ()))
                lo = pe
            elif pe - lo > CHUNK_BYTES and ps > lo:
                plan.append(_Part(lo, ps))
                lo = ps
        pos = end
    if n > lo:
        plan.append(_Part(lo, n))
    return plan


def _split_unless_one_block(
    conv: _Native, lex: _Lexer, pieces: Iterable[tuple[int, int]]
) -> Iterator[tuple[int, int, tuple[int, ...] | None]]:
    """The pieces, each too large one that is not one well-formed block (several blocks the
    lexer could not part, such as a closing `}` followed by something it does not expect)
    cut again at block headers, so that no block is lost inside a too-large stretch; each
    with its body's cuts (see _body) when it is too large, worked out once."""
    for ps, pe in pieces:
        if pe - ps <= MAX_BLOCK_BYTES:
            yield ps, pe, None
            continue
        body = _body(lex, conv.data, ps, pe, CHUNK_BYTES)
        if body is not None:
            yield ps, pe, body
            continue
        bounds = sorted({ps, *conv.headers(ps + 1, pe), pe})
        for a, b in zip(bounds, bounds[1:], strict=False):
            yield (
                a,
                b,
                _body(lex, conv.data, a, b, CHUNK_BYTES) if b - a > MAX_BLOCK_BYTES else None,
            )


def _body(lex: _Lexer, data: bytes, lo: int, hi: int, size: int) -> tuple[int, ...] | None:
    """Where to cut the body of the block data[lo:hi] (which may follow comments): just
    after its `{`, at line ends between its items at least `size` bytes apart, and at its
    closing `}`. None when data[lo:hi] does not look like one well-formed block."""
    bounds: list[int] = []
    item = lo  # where the body's last item ended
    frames: list[int] = []
    depth = 0
    in_string = False
    pos = lo
    while pos < hi:
        if in_string:
            pos = lex.quoted.match(data, pos, hi).end()  # type: ignore[union-attr]
            if pos >= hi or data[pos] not in b'"$%':
                return None
            if data[pos] == 0x22:
                pos += 1
            else:
                frames.append(depth)
                depth = 0
                pos += 2
            in_string = False
            continue
        pos = lex.line.match(data, pos, hi).end()  # type: ignore[union-attr]
        if pos >= hi:
            return None
        c = data[pos]
        pos += 1
        if c == 0x0A:
            if depth == 1 and not frames:  # the end of an item, or a blank or comment line
                if pos - item > size and item > bounds[-1]:
                    bounds.append(item)  # a large item is a piece of its own
                if pos - bounds[-1] >= size:
                    bounds.append(pos)
                item = pos
        elif c == 0x22:
            in_string = True
        elif c in b"{[(":
            if not depth and not frames:
                if c != 0x7B or bounds:
                    return None  # not a block
                bounds.append(pos)
                item = pos
                depth = 1
            else:
                end = lex.openers.match(data, pos, hi).end()  # type: ignore[union-attr]
                depth += 1 + end - pos
                pos = end
        elif c in b"}])":
            end = lex.closers.match(data, pos, hi).end()  # type: ignore[union-attr]
            if depth > 1 + end - pos:  # `]]]]` that close neither the block nor a `${`
                depth -= 1 + end - pos
                pos = end
            elif depth:
                depth -= 1
                if not depth and not frames:
                    m = lex.eol.match(data, pos, hi)
                    if m is None or m.end() != hi:
                        return None
                    if pos - 1 - item > size and item > bounds[-1]:
                        bounds.append(item)
                    return (*bounds, pos - 1)
            elif frames and c == 0x7D:
                depth = frames.pop()
                in_string = True
            else:
                return None
        elif c == 0x23 or (c == 0x2F and data[pos] == 0x2F):
            nl = data.find(b"\n", pos, hi)
            pos = hi if nl < 0 else nl
        elif c == 0x2F:
            end = data.find(b"*/", pos + 1, hi)
            if end < 0:
                return None
            pos = end + 2
        elif (m := lex.heredoc.match(data, pos - 1, hi)) is not None:
            close = re.compile(rb"^[ \t]*" + re.escape(m.group(1)) + rb"[ \t]*\r?$", re.MULTILINE)
            end_m = close.search(data, m.end(), hi)
            if end_m is None:
                return None
            pos = end_m.end()
        else:
            pos += 1
    return None


def _too_large(
    conv: _Native, points: _Points, lo: int, hi: int, block: str | None = None
) -> Diagnostic:
    """A construct too large to parse, located on its first line (comments skipped)."""
    data = conv.data
    start = _lexer().lead.match(data, lo, hi).start(1)  # type: ignore[union-attr]
    line_end = data.find(b"\n", start, hi)
    first = data[start : hi if line_end < 0 else line_end].rstrip(b"\r")
    span = conv.index.span_from_bytes(points(start), points(start + len(first)))
    snippet = first.decode("utf-8", "replace").strip()[:40]
    then = f"; the block {block!r} is not judged either" if block else ""
    return Diagnostic(
        conv.path,
        span,
        "too-large",
        f"not scanned: {snippet!r} is {_size(hi - lo)}, over the {_size(MAX_BLOCK_BYTES)} "
        f"limit for one Terraform block or expression (its syntax is not checked either){then}",
        Level.WARNING,
    )


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KiB"


class _Chunk(NamedTuple):
    nodes: list[Any]  # top-level block nodes of the chunk's tree
    blocks: list[Block]  # or the one block parsed in pieces
    errors: list[Diagnostic]  # syntax errors
    split: list[Diagnostic]  # block headers split over lines
    large: list[Diagnostic]  # constructs too large to parse


def _chunks(conv: _Native, plan: list[_Part], keep: bool = False) -> Iterator[_Chunk]:
    """The chunks of a large file, parsed one at a time: a chunk's tree is freed once the
    caller lets go of its nodes. Blocks parsed in pieces keep, of their body, only what
    `extract` reads (all of it with `keep`, and every piece's tree with it)."""
    ranges = _Ranges(conv.data)
    errors = 0
    for part in plan:
        if part.body is None:
            root = ranges.parse(part.lo, part.hi)
            kept, errs, split = _unit(conv, root, part.lo, part.hi, ranges, MAX_ERRORS - errors)
            del root
            errors += len(errs)
            yield _Chunk(kept, [], errs, split, [])
            del kept
        elif not part.body:
            yield _Chunk([], [], [], [], [_too_large(conv, ranges.points, part.lo, part.hi)])
        else:
            chunk = _pieces(conv, ranges, part, keep, MAX_ERRORS - errors)
            errors += len(chunk.errors)
            yield chunk
            del chunk


def _pieces(conv: _Native, ranges: _Ranges, part: _Part, keep: bool, limit: int) -> _Chunk:
    """A block too large to parse at once: its header and closing brace are parsed
    together, its body a piece (several whole items) at a time. A syntax error makes it a
    broken block, reported once, as a block parsed whole is."""
    from ..facts.terraform import READS

    data, body = conv.data, part.body
    assert body
    head = ranges.parse(part.lo, body[0], body[-1], part.hi)
    node = next(reversed(list(_top_blocks(head))), None)  # comments may come first
    opener = next((c for c in node.children if c.type == "block_start"), None) if node else None
    if node is None or opener is None or opener.end_byte != body[0]:
        return _Chunk([], [], [], [], [_too_large(conv, ranges.points, part.lo, part.hi)])
    errs = _errors(conv, head, limit) if head.has_error and limit > 0 else []
    kept, split = _split_headers(conv, [node])
    if not kept:
        return _Chunk([], [], errs, split, [])
    block = conv.block(node)
    attr_reads, block_reads = READS.get(block.type, (frozenset(), frozenset()))
    wanted = {n.encode() for n in attr_reads | block_reads}
    broken = bool(node.has_error)
    large: list[Diagnostic] = []
    roots: list[Any] = []
    attrs: dict[str, Attribute] = {}
    nested: list[Block] = []
    for lo, hi in itertools.pairwise(body):
        if hi - lo > MAX_BLOCK_BYTES:
            name = _lexer().lead.match(data, lo, hi).group(2)  # type: ignore[union-attr]
            read = block.type in READS and (name is None or name in wanted)
            header = data[node.start_byte : body[0]].decode("utf-8", "replace")
            large.append(_too_large(conv, ranges.points, lo, hi, header if read else None))
            broken = broken or read
            continue
        root = ranges.parse(lo, hi)
        if root.has_error and not broken and len(errs) < limit:
            errs.extend(_errors(conv, root, 1))
        broken = broken or root.has_error
        if keep:
            roots.append(root)
            continue
        for item in conv.items_of(root) if wanted else ():
            if item.type not in ("attribute", "block") or not item.child_count:
                continue
            key = item.child(0)
            if data[key.start_byte : key.end_byte] not in wanted:
                continue
            if item.type == "attribute" and (a := conv.attribute(item)) is not None:
                attrs[a.name] = _detached(a)
            elif item.type == "block":
                nested.append(_detached_block(conv.block(item)))
    if keep:
        whole = Block(
            block.type,
            block.labels,
            partial(tuple, (block.span, block.header_span)),
            partial(conv.items, roots),
            broken,
            partial(conv.find_in, roots),
        )
    else:
        whole = Block(
            block.type,
            block.labels,
            partial(tuple, (block.span, block.header_span)),
            partial(_const, (attrs, nested)),
            broken,
        )
    return _Chunk([], [whole], errs, split, large)


_T = TypeVar("_T")


def _const(value: _T) -> _T:
    return value


def _detached(a: Attribute) -> Attribute:
    """An attribute with its value and spans worked out, holding no syntax tree."""
    return Attribute(
        a.name,
        partial(tuple, (a.span, a.key_span, a.value_span)),
        partial(_const, (a.value, a.item_spans)),
    )


def _detached_block(b: Block, depth: int = 0) -> Block:
    """A block with its body worked out, holding no syntax tree."""
    attrs = {name: _detached(a) for name, a in b.attributes.items()}
    blocks = [_detached_block(c, depth + 1) for c in b.blocks] if depth < MAX_VALUE_DEPTH else []
    return Block(
        b.type,
        b.labels,
        partial(tuple, (b.span, b.header_span)),
        partial(_const, (attrs, blocks)),
        b.has_error,
    )


def parse_native(path: str, text: str) -> TerraformDocument:
    data = text.encode("utf-8")
    conv = _Native(path, data, LineIndex(text))
    if len(data) > WHOLE_BYTES:
        return _parse_chunked(conv)
    root = _parser().parse(data).root_node
    kept, errs, split = _unit(conv, root, 0, len(data), _Ranges(data), MAX_ERRORS)
    return TerraformDocument(path, None, [*errs, *split][:MAX_ERRORS], _selector(conv, kept))


def _parse_chunked(conv: _Native) -> TerraformDocument:
    """A large file, a chunk at a time: the facts of each chunk are observed while its tree
    is alive (`TerraformDocument.observed`), then the tree is freed. Blocks asked for
    afterwards (not by the scan) come from parsing the file again, all of it."""
    from ..facts.terraform import extract  # facts of a chunk, observed as it is parsed

    plan = _plan(conv)
    errs: list[Diagnostic] = []
    split: list[Diagnostic] = []
    large: list[Diagnostic] = []
    facts: list[Fact] = []
    for chunk in _chunks(conv, plan):
        errs.extend(chunk.errors)
        split.extend(chunk.split)
        large.extend(chunk.large)
        if chunk.nodes or chunk.blocks:
            select = _selector(conv, chunk.nodes, chunk.blocks)
            facts.extend(extract(TerraformDocument(conv.path, None, [], select)))
        del chunk
    diags = [*large, *[*errs, *split][:MAX_ERRORS]]
    blocks: list[Block] | None = None

    def select_all(types: frozenset[str] | None) -> list[Block]:
        nonlocal blocks
        if blocks is None:
            blocks = [
                b
                for chunk in _chunks(conv, plan, keep=True)
                for b in (*(conv.block(n) for n in chunk.nodes), *chunk.blocks)
            ]
        return [b for b in blocks if types is None or b.type in types]

    doc = TerraformDocument(conv.path, None, diags, select_all)
    doc.observed = facts
    return doc


def _selector(
    conv: _Native, nodes: list[Any], built: list[Block] | None = None
) -> Callable[[frozenset[str] | None], list[Block]]:
    data = conv.data

    def select(types: frozenset[str] | None) -> list[Block]:
        made = [b for b in built or () if types is None or b.type in types]
        if types is None:
            return [*made, *(conv.block(n) for n in nodes)]
        wanted = {t.encode() for t in types}
        out = made
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
    item_spans = ItemSpans()
    if v.is_map and isinstance(value, dict):
        for ik, iv in v.items():
            s = ik.span
            key = _template_static(str(ik.value))
            if key is not None:
                item_spans[key] = Span(s.start_line, s.start_col, iv.span.end_line, iv.span.end_col)
                item_spans.values_at[key] = iv.span
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
