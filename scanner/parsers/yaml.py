"""YAML (and JSON) into position-carrying nodes.

Scanning uses ruamel.yaml's safe composer, backed by the C parser of ruamel.yaml.clib when it
is installed: about 10x the round-trip loader, and its nodes still carry start and end marks.
Nothing is constructed from tags, so `!Ref`-style application tags are inert and no YAML
content can make Python run code. The round-trip loader is kept for edits (autofix).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from functools import cache, lru_cache
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from ..model import Span
from .text import LineIndex

_BOOL = {"true": True, "false": False, "True": True, "False": False, "TRUE": True, "FALSE": False}
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


class YamlError(Exception):
    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.message = message
        self.span = span


@cache
def _yaml() -> Any:
    class Resolver(VersionedResolver):
        """Tag resolution as ruamel's, faster. ruamel looks up the YAML version twice for
        every plain scalar, each time through two caught AttributeErrors on the C parser
        path: a third of all composing time. On that path (no Python scanner to carry a
        `%YAML` directive) the answer cannot change within a stream: it is looked up once."""

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is ScalarNode and implicit[0]:
                table = self.__dict__.get("_tether_table")
                if table is None:
                    table = self.versioned_resolver
                    if not hasattr(self.loadumper, "_scanner"):
                        self.__dict__["_tether_table"] = table
                for tag, regexp in table.get(value[:1], []) + table.get(None, []):
                    if regexp.match(value):
                        return Tag(suffix=tag)
            # not an implicitly typed scalar: ruamel's path and default tags
            return super().resolve(kind, value, (False, False))

    y = YAML(typ="safe", pure=False)
    y.Resolver = Resolver
    return y


class Node:
    """A composed YAML node with its span. Maps and sequences expose positioned children."""

    __slots__ = ("_index", "raw")

    def __init__(self, raw: Any, index: LineIndex) -> None:
        self.raw = raw
        self._index = index

    @property
    def span(self) -> Span:
        s, e = self.raw.start_mark, self.raw.end_mark
        end = (e.line, e.column)
        if e.column == 0 and e.line > s.line:
            # a block collection ends where the next token starts, at the start of a later
            # line: end it instead just after its last character
            end = self._index.back_over_space(e.line, e.index, s.index)
        return self._index.span_from_chars((s.line, s.column), end)

    @property
    def line(self) -> int:
        return int(self.raw.start_mark.line) + 1

    @property
    def is_map(self) -> bool:
        return bool(self.raw.id == "mapping")

    @property
    def is_seq(self) -> bool:
        return bool(self.raw.id == "sequence")

    @property
    def is_scalar(self) -> bool:
        return bool(self.raw.id == "scalar")

    @property
    def value(self) -> Any:
        """Scalar value (typed for the core schema), else the plain Python value."""
        return self.to_python()

    def items(self) -> Iterator[Any]:
        """For a map: (key Node, value Node) pairs, merge keys (`<<`) expanded as YAML says:
        the map's own keys win over merged ones, and earlier merge sources over later ones.
        For a sequence: item Nodes."""
        if self.is_map:
            own: list[tuple[Node, Node]] = []
            merged: list[tuple[Node, Node]] = []
            for k, v in self.raw.value:
                if k.tag == "tag:yaml.org,2002:merge" or (k.id == "scalar" and k.value == "<<"):
                    targets = v.value if v.id == "sequence" else [v]
                    for t in targets:
                        if t.id == "mapping":
                            merged.extend(Node(t, self._index).items())
                    continue
                own.append((Node(k, self._index), Node(v, self._index)))
            seen = {k.raw.value for k, _ in own if k.is_scalar}
            yield from own
            for k, v in merged:
                key = k.raw.value if k.is_scalar else None
                if key is None or key not in seen:
                    if key is not None:
                        seen.add(key)
                    yield k, v
        elif self.is_seq:
            for v in self.raw.value:
                yield Node(v, self._index)

    def get(self, key: str) -> Node | None:
        pair = self.get_pair(key)
        return pair[1] if pair else None

    def get_pair(self, key: str) -> tuple[Node, Node] | None:
        if not self.is_map:
            return None
        for k, v in self.items():
            if k.is_scalar and k.raw.value == key:
                return k, v
        return None

    def path(self, *keys: str) -> Node | None:
        node: Node | None = self
        for key in keys:
            if node is None:
                return None
            node = node.get(key)
        return node

    def to_python(self) -> Any:
        return _to_python(self.raw)

    def str_value(self) -> str | None:
        """A scalar's text (whatever its resolved type), None for maps and sequences."""
        if self.is_scalar:
            return str(self.raw.value)
        return None


def _to_python(raw: Any) -> Any:
    if raw.id == "scalar":
        tag, v = raw.tag, raw.value
        if raw.style in ("'", '"', "|", ">"):
            return v
        if tag.endswith(":int"):
            try:
                return int(v.replace("_", ""), 0) if v[:2] in ("0x", "0o") else int(v)
            except ValueError:
                return v
        if tag.endswith(":float"):
            try:
                return float(v)
            except ValueError:
                return v
        if tag.endswith(":bool"):
            return _BOOL.get(v, v)
        if tag.endswith(":null"):
            return None
        return v
    if raw.id == "sequence":
        return [_to_python(v) for v in raw.value]
    out: dict[str, Any] = {}
    for k, v in raw.value:
        if k.id == "scalar" and k.value == "<<":
            for t in v.value if v.id == "sequence" else [v]:
                if t.id == "mapping":
                    for mk, mv in _to_python(t).items():
                        out.setdefault(mk, mv)
            continue
        key = k.value if k.id == "scalar" else str(_to_python(k))
        out[str(key)] = _to_python(v)
    return out


def _error_span(exc: Any, text: str) -> Span:
    index = LineIndex(text)
    problem = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    mark = problem or context
    if mark is None:
        return Span(1, 1, 1, 2)
    if context is not None and problem is not None and problem.index >= len(text.rstrip()):
        # "unexpected end of stream": where the unclosed construct opened says more than the
        # end of the file does
        mark = context
    line, col = int(mark.line), int(mark.column)
    if mark.index >= len(text.rstrip()):  # past the last character: point at it
        line, col = index.back_over_space(text.count("\n"), len(text), 0)
        col = max(col - 1, 0)
    c = index.col_from_char(line, col)
    return Span(line + 1, c, line + 1, c + 1)


def _error_message(exc: Any) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    parts = [p for p in (context, problem) if p]
    return "; ".join(parts) if parts else str(exc).splitlines()[0]


# Limits that keep hostile YAML from exhausting the scanner: nesting deeper than this is
# refused before composing (libyaml's composer recurses in C and overflows the stack near
# 50 000 levels; converting to Python recurses too), and aliases may add at most this many
# nodes by expansion (a "billion laughs" document expands exponentially).
MAX_DEPTH = 200
MAX_ALIAS_EXPANSION = 100_000


def compose_all(text: str) -> list[Node | None]:
    """All documents of a YAML stream, composed. Raises YamlError with a located message."""
    raws = _compose_cached(text)
    index = LineIndex(text)
    return [Node(r, index) if r is not None else None for r in raws]


_DOC_START = re.compile(r"^---(?=[ \t]|$)", re.MULTILINE)


def compose_each(text: str) -> tuple[list[Node | None], list[YamlError]]:
    """Like compose_all, but one broken document of a multi-document stream costs only that
    document: on error the stream is split at `---` lines and each part composed on its own
    (padded with blank lines so positions stay those of the whole file)."""
    try:
        return compose_all(text), []
    except YamlError as e:
        whole = e
        starts = [m.start() for m in _DOC_START.finditer(text)]
        if not starts:
            raise
    bounds = ([0] if starts[0] != 0 else []) + starts + [len(text)]
    docs: list[Node | None] = []
    errors: list[YamlError] = []
    index = LineIndex(text)
    for a, b in zip(bounds, bounds[1:], strict=False):
        chunk = text[a:b]
        if not chunk.strip() or not chunk.strip().strip("-").strip():
            continue
        padded = "\n" * text.count("\n", 0, a) + chunk
        try:
            raws = _compose_cached(padded)
        except YamlError as e:
            errors.append(e)
            continue
        docs.extend(Node(r, index) if r is not None else None for r in raws)
    if not errors:  # the split parts compose; the whole failed for another reason
        errors.append(whole)
    return docs, errors


@lru_cache(maxsize=2)
def _compose_cached(text: str) -> tuple[Any, ...]:
    # the template check composes a file that the scan then composes again: keep the last few
    _check_depth(text)
    try:
        raws = tuple(_yaml().compose_all(io.StringIO(text)))
    except Exception as e:  # ruamel raises many error types; all are input errors here
        raise YamlError(_error_message(e), _error_span(e, text)) from None
    if _has_anchor(text):
        for r in raws:
            if r is not None:
                _check_aliases(r, text)
    return raws


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH. A cheap upper bound first (every bracket may
    open a flow level; block levels are bounded by the indentation structure), the exact
    depth from the parser's events only when the bound is not enough."""
    flow = text.count("[") + text.count("{")
    if flow < MAX_DEPTH:
        widest = max(map(len, _LEADING.findall(text)), default=0)
        if 2 * (widest + 1) + flow < MAX_DEPTH or 2 * _block_levels(text) + flow < MAX_DEPTH:
            return
    depth = 0
    try:
        for ev in _yaml().parse(io.StringIO(text)):
            name = type(ev).__name__
            if name in ("MappingStartEvent", "SequenceStartEvent"):
                depth += 1
                if depth > MAX_DEPTH:
                    m = ev.start_mark
                    c = LineIndex(text).col_from_char(m.line, m.column)
                    raise YamlError(
                        f"nesting deeper than {MAX_DEPTH} levels; not scanned",
                        Span(m.line + 1, c, m.line + 1, c + 1),
                    )
            elif name in ("MappingEndEvent", "SequenceEndEvent"):
                depth -= 1
    except YamlError:
        raise
    except Exception:
        return  # a syntax error: composing reports it, located


# A line's indentation and its leading indicators (`- - key:`, `? `): where block collections
# can start on that line.
_BLOCK_PREFIX = re.compile(r"^([ \t]*)((?:[-?][ \t]+)*)(.?)", re.MULTILINE)
_INDICATOR = re.compile(r"[-?][ \t]+")
_LEADING = re.compile(r"^[ \t]*(?:[-?][ \t]+)*", re.MULTILINE)


def _block_levels(text: str) -> int:
    """An upper bound on block nesting, halved: each block level starts at a column of its
    own on a line's leading run (a key, or a `- ` / `? ` indicator), strictly right of the
    levels it is inside, except a sequence under a mapping key at the key's column (hence
    the caller doubles this). Lines inside scalars only make the bound larger."""
    stack: list[int] = []
    best = 0
    for m in _BLOCK_PREFIX.finditer(text):
        indent, indicators, nxt = m.group(1), m.group(2), m.group(3)
        if not indicators and nxt in ("", "\n", "\r", "#"):
            continue  # blank or comment line: opens nothing
        col = len(indent)
        cols = [col]
        for ind in _INDICATOR.finditer(indicators):
            cols.append(col + ind.end())
        while stack and stack[-1] >= col:
            stack.pop()
        stack.extend(cols)
        if len(stack) > best:
            best = len(stack)
    return best


def _has_anchor(text: str) -> bool:
    """Whether the text may define an anchor (`&name` after a space, bracket or comma, or at
    a line start): without one there is no alias to check. `&&` in shell commands is not."""
    i = text.find("&")
    while i >= 0:
        nxt = text[i + 1 : i + 2]
        if nxt and nxt not in " \t\r\n[]{},&" and (i == 0 or text[i - 1] in " \t\r\n[{,"):
            return True
        i = text.find("&", i + 1)
    return False


def _check_aliases(root: Any, text: str) -> None:
    """Refuse alias cycles (`&a [*a]`) and alias bombs, by counting the expanded size of each
    node once (memoised on identity)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    distinct = 0
    # iterative post-order walk: documents may be deep and aliases make them DAGs
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            kids = _children(node)
            sizes[key] = 1 + sum(sizes[id(k)] for k in kids)
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise YamlError(
                "recursive alias (a node contains itself); not scanned", _mark_span(node, text)
            )
        on_path.add(key)
        distinct += 1
        stack.append((node, True))
        for k in _children(node):
            if id(k) in on_path:
                raise YamlError(
                    "recursive alias (a node contains itself); not scanned", _mark_span(k, text)
                )
            if id(k) not in sizes:
                stack.append((k, False))
    if sizes[id(root)] - distinct > MAX_ALIAS_EXPANSION:
        raise YamlError(
            f"aliases expand to more than {MAX_ALIAS_EXPANSION} extra nodes; not scanned",
            _mark_span(root, text),
        )


def _children(node: Any) -> list[Any]:
    if node.id == "mapping":
        return [x for pair in node.value for x in pair]
    if node.id == "sequence":
        return list(node.value)
    return []


def _mark_span(node: Any, text: str) -> Span:
    m = node.start_mark
    c = LineIndex(text).col_from_char(m.line, m.column)
    return Span(m.line + 1, c, m.line + 1, c + 1)


def compose_json(path: str, text: str) -> Node | None:
    """A JSON document through the YAML composer, for positions. JSON allows tabs as
    whitespace where YAML does not; tabs in valid JSON occur only outside strings, so
    replacing each with a space keeps every column."""
    _ = path
    docs = compose_all(text.replace("\t", " "))
    return docs[0] if docs else None


_GO_TEMPLATE = re.compile(r"(?<![$])\{\{-?\s*[\w.$\"(/-]")
# Helm's built-in objects and template functions: a file using them is a chart template even
# where every action sits inside a quoted string.
_HELM = re.compile(
    r"(?<![$])\{\{-?\s*(?:[^}]*?\.(?:Values|Release|Chart|Capabilities|Files|Template)\b"
    r"|(?:include|tpl)\s)"
)


def looks_like_go_template(text: str) -> bool:
    """Whether a YAML file is a Go/Helm template to be rendered before it means anything
    (`{{ .Values.x }}`, `{{- include ... }}`). GitHub's `${{ }}` expressions do not count,
    nor do `{{ }}` inside strings of an otherwise valid YAML document that are data for
    another tool: ArgoCD ApplicationSet parameters, Prometheus and Alertmanager templates,
    config files embedded in ConfigMaps."""
    if "{{" not in text or _GO_TEMPLATE.search(text) is None:
        return False
    try:
        raws = _compose_cached(text)
    except YamlError:
        return True  # template syntax, and not YAML as written
    return any(_template_node(r, text) for r in raws if r is not None)


def _template_node(root: Any, text: str) -> bool:
    """Template actions that shape the YAML: `{{ ... }}` read as a flow mapping (a value or
    key written `{{ x }}` unquoted), or Helm built-ins in a plain or quoted scalar."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.id == "scalar":
            if node.style not in ("|", ">") and "{{" in node.value and _HELM.search(node.value):
                return True
            continue
        if node.id == "mapping" and text.startswith("{{", node.start_mark.index):
            return True
        stack.extend(_children(node))
    return False
