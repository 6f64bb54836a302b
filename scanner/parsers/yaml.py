"""YAML (and JSON) into position-carrying nodes.

Scanning uses ruamel.yaml's safe composer, backed by the C parser of ruamel.yaml.clib when it
is installed: about 10x the round-trip loader, and its nodes still carry start and end marks.
Nothing is constructed from tags, so `!Ref`-style application tags are inert and no YAML
content can make Python run code. The round-trip loader is kept for edits (autofix).
"""

from __future__ import annotations

import collections
import io
import json
import re
import threading
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
_MERGE = "tag:yaml.org,2002:merge"


class YamlError(Exception):
    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.message = message
        self.span = span


@cache
def _yaml(pure: bool = False) -> Any:
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

    y = YAML(typ="safe", pure=pure)
    y.Resolver = Resolver
    # ruamel keeps a record of every stream an instance composed (`doc_infos`, appended to by
    # each compose_all, read back only as the last one by the pure-Python parser): for this
    # one instance, shared by every file of every scan, that grew without end (an org scan of
    # a million files: a million records). The last few are enough.
    y.doc_infos = collections.deque(maxlen=16)  # type: ignore[assignment]
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
            # line: end it instead just after its last character (by row and column: a
            # document composed apart from its file keeps those, not offsets)
            end = self._index.back_over_space(e.line, e.column, (s.line, s.column))
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

    @property
    def is_template(self) -> bool:
        """A Go/Helm template action where a value should be: a scalar holding `{{ ... }}`
        (not a literal or folded block, which is data for another tool), or a flow mapping
        written `{{ ... }}` (an unquoted action, which YAML reads as nested flow mappings).
        Its value is not statically known."""
        raw = self.raw
        if raw.id == "scalar":
            return (
                raw.style not in ("|", ">")
                and "{{" in raw.value
                and _GO_TEMPLATE.search(raw.value) is not None
            )
        if raw.id == "mapping":
            m = raw.start_mark
            return self._index.line_text(m.line).startswith("{{", m.column)
        return False

    def items(self) -> Iterator[Any]:
        """For a map: (key Node, value Node) pairs as kubectl decodes them (go-yaml v2, under
        sigs.k8s.io/yaml): pairs apply in document order, each over what came before, so a
        key written twice counts once with its last value (`duplicate_keys` reports it), and
        a merge key (`<<`) applies its mapping's pairs where it stands: over the keys written
        before it, under those written after; of a sequence of mappings, the earlier ones win.
        (YAML's merge specification and go-yaml v3, as kustomize reads, let every key of the
        map itself win: `ambiguous_merges` reports where that reading differs.) For a
        sequence: item Nodes."""
        if self.is_map:
            for k, v in _resolved(self.raw):
                yield Node(k, self._index), Node(v, self._index)
        elif self.is_seq:
            for v in self.raw.value:
                yield Node(v, self._index)

    def get(self, key: str) -> Node | None:
        pair = self.get_pair(key)
        return pair[1] if pair else None

    def get_pair(self, key: str) -> tuple[Node, Node] | None:
        """The key's pair as kubectl reads it (see `items`): its last occurrence, or what a
        merge key written after it puts in its place."""
        raw = self.raw
        if raw.id != "mapping":
            return None
        # a mapping is looked up again and again (every field an extractor reads): its keys
        # are tabled on the first lookup, the pairs as kubectl reads them (last occurrence),
        # unless a merge key makes the reading positional
        maps = self._index.maps
        table = maps.get(id(raw))
        if table is None or table[0] is not raw:
            pairs = raw.value
            if any(_is_merge(k) for k, _ in pairs):
                lookup = None
            else:
                lookup = {k.value: (k, v) for k, v in pairs if k.id == "scalar"}
            table = maps[id(raw)] = (raw, lookup)
        lookup = table[1]
        found = None
        if lookup is not None:
            found = lookup.get(key)
        else:
            for k, v in _resolved(raw):
                if k.id == "scalar" and k.value == key and not _is_merge(k):
                    found = (k, v)
        if found is not None:
            return Node(found[0], self._index), Node(found[1], self._index)
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

    def source(self) -> str:
        """The node as written in the file."""
        s, e = self.raw.start_mark, self.raw.end_mark
        line = self._index.line_text
        if s.line == e.line:
            return line(s.line)[s.column : e.column]
        rows = [line(s.line)[s.column :], *(line(r) for r in range(s.line + 1, e.line))]
        return "\n".join([*rows, line(e.line)[: e.column]])

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
    for k, v in _resolved(raw):  # as kubectl decodes it: see Node.items
        key = k.value if k.id == "scalar" else str(_to_python(k))
        out[str(key)] = _to_python(v)
    return out


def _merge_sources(value: Any) -> list[Any]:
    """The mappings a merge key's value applies, in the order go-yaml v2 applies them (a
    sequence from its last item to its first, so that the earlier ones win). Anything else
    makes go-yaml refuse the document (kubectl applies nothing of it): none."""
    if value.id == "mapping":
        return [value]
    if value.id == "sequence":
        return [t for t in reversed(value.value) if t.id == "mapping"]
    return []


def _resolved(raw: Any, depth: int = 0) -> list[tuple[Any, Any]]:
    """A mapping's (key, value) raw pairs as go-yaml v2 decodes it: in document order, each
    over what came before (a merge key's pairs where the merge key stands), each scalar key
    once at the place it first took. Keys that are not scalars are kept as written."""
    out: dict[Any, tuple[Any, Any]] = {}
    for k, v in raw.value:
        if _is_merge(k):
            if depth < MAX_DEPTH:  # alias cycles are refused when composing
                for t in _merge_sources(v):
                    for mk, mv in _resolved(t, depth + 1):
                        out[mk.value if mk.id == "scalar" else id(mk)] = (mk, mv)
            continue
        out[k.value if k.id == "scalar" else id(k)] = (k, v)
    return list(out.values())


def ambiguous_merges(root: Node) -> list[Node]:
    """Merge keys that readers apply differently: one that puts a value over a key the map
    writes before it (kubectl's go-yaml v2 takes the merged value; YAML's merge specification,
    go-yaml v3 and so kustomize keep the map's own), and every merge key of a map that has
    more than one (go-yaml v3 applies only the last; for YAML it is a duplicate key). Each
    once, in document order (a mapping reached again through an alias is not walked again)."""
    out: list[Node] = []
    index = root._index
    for node in _mappings(root.raw):
        merges = [k for k, _ in node.value if _is_merge(k)]
        own: set[Any] = set()
        for k, v in node.value:
            if _is_merge(k):
                keys = {
                    mk.value
                    for t in _merge_sources(v)
                    for mk, _ in _resolved(t)
                    if mk.id == "scalar"
                }
                if len(merges) > 1 or keys & own:
                    out.append(Node(k, index))
            elif k.id == "scalar":
                own.add(k.value)
    out.sort(key=lambda n: (n.raw.start_mark.line, n.raw.start_mark.column))
    return out


def _mappings(raw: Any) -> Iterator[Any]:
    """Every mapping node under `raw`, each once (a node reached again through an alias is
    not walked again), keys and values included."""
    seen: set[int] = set()
    stack = [raw]
    while stack:
        node = stack.pop()
        if id(node) in seen or node.id == "scalar":
            continue
        seen.add(id(node))
        if node.id == "mapping":
            yield node
            for k, v in node.value:
                stack.append(k)
                stack.append(v)
        elif node.id == "sequence":
            stack.extend(node.value)


def _is_merge(key: Any) -> bool:
    """A merge key as go-yaml reads one: the scalar `<<`, plain (resolved to the merge tag)
    or tagged `!!merge`. A quoted `"<<"` is an ordinary key."""
    return bool(key.id == "scalar" and key.value == "<<" and key.tag == _MERGE)


def duplicate_keys(root: Node) -> list[tuple[Node, Node]]:
    """Keys written more than once in the same mapping, each as (repeated key, first key),
    every repetition once (a mapping reached again through an alias is not walked again).
    Merge keys (`<<`) may repeat."""
    out: list[tuple[Node, Node]] = []
    index = root._index
    for node in _mappings(root.raw):
        first: dict[Any, Any] = {}
        for k, _v in node.value:
            if k.id == "scalar" and not _is_merge(k):
                prev = first.setdefault(k.value, k)
                if prev is not k:
                    out.append((Node(k, index), Node(prev, index)))
    out.sort(key=lambda p: (p[0].raw.start_mark.line, p[0].raw.start_mark.column))
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
        last = text.count("\n")
        line, col = index.back_over_space(last, len(index.line_text(last)), (0, 0))
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

# A line that kubectl's YAMLReader (k8s.io/apimachinery/pkg/util/yaml) takes for a document
# separator and YAML does not: `---` at the start of a line, the rest of which, trimmed of
# (Go's) white space, is empty or a comment, with no space or tab right after the dashes
# (`---#`, `---\f`).
_GO_SPACE = (
    " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
_KUBECTL_ONLY_SEP = re.compile(r"^---(?![ \t\r\n]|$)([^\n]*)", re.MULTILINE)


def kubectl_documents(text: str) -> str:
    """The text with every line that kubectl splits documents at and YAML does not (see
    _KUBECTL_ONLY_SEP) made a plain separator of the same length (`---` and spaces), so that
    the documents composed are kubectl's and no other line moves."""
    if "---" not in text:
        return text

    def sep(m: re.Match[str]) -> str:
        rest = m.group(1).strip(_GO_SPACE)
        if rest and not rest.startswith("#"):
            return m.group(0)
        return "---" + " " * len(m.group(1))

    return _KUBECTL_ONLY_SEP.sub(sep, text)


def compose_each(
    text: str, whole: YamlError | None = None
) -> tuple[list[Node | None], list[YamlError]]:
    """Like compose_all, but one broken document of a multi-document stream costs only that
    document: on error the stream is split at `---` lines and each part composed on its own
    (padded with blank lines so positions stay those of the whole file). `whole`: the error
    compose_all gives for `text`, when known already (see StreamError): it is not composed
    whole again."""
    if whole is None:
        try:
            return compose_all(text), []
        except YamlError as e:
            whole = e
    starts = [m.start() for m in _DOC_START.finditer(text)]
    if not starts:
        raise whole
    bounds = ([0] if starts[0] != 0 else []) + starts + [len(text)]
    docs: list[Node | None] = []
    errors: list[YamlError] = []
    index = LineIndex(text)
    line, at = 0, 0  # lines before `at` (counted as the parts go: linear in the text)
    for a, b in zip(bounds, bounds[1:], strict=False):
        line += text.count("\n", at, a)
        at = a
        chunk = text[a:b]
        if not chunk.strip() or not chunk.strip().strip("-").strip():
            continue
        # each part on its own, its positions moved after (as compose_json_values does:
        # padding it with the lines before it made a file of many documents quadratic,
        # 3,000 documents with one broken: 105 s)
        try:
            raws = _compose_raw(chunk)
        except YamlError as e:
            sp = e.span
            moved = Span(sp.start_line + line, sp.start_col, sp.end_line + line, sp.end_col)
            errors.append(YamlError(e.message, moved))
            continue
        for r in raws:
            if r is not None:
                _move_marks(r, line, 0)
            docs.append(Node(r, index) if r is not None else None)
    if not errors:  # the split parts compose; the whole failed for another reason
        errors.append(whole)
    return docs, errors


class StreamError(YamlError):
    """compose_stream's error where composing a document failed. It is the error compose_all
    gives for the same text (the documents before composed and passed the checks), unless
    `may_compose`: the C scanner's error for a `:` in a flow collection, after which
    compose_all tries ruamel's pure-Python parser, which may accept the text."""

    def __init__(self, message: str, span: Span, may_compose: bool) -> None:
        super().__init__(message, span)
        self.may_compose = may_compose


def compose_stream(text: str) -> Iterator[Node | None]:
    """The documents of a YAML stream one at a time, each composed when asked for, so that a
    file of many documents never holds more than one document's nodes (46,000 documents at
    the size cap: ~370 MB composed at once). The same checks as compose_all (nesting, alias
    expansion) apply to each document. Raises YamlError at the first problem, perhaps after
    yielding documents: a caller that wants compose_each's recovery (each `---` part on its
    own) starts over with it (passing a StreamError on, unless it `may_compose`, spares
    composing the whole text again)."""
    bound = _depth_bound(text)
    after = MAX_DEPTH <= bound < _COMPOSE_FIRST_BELOW and _stack_is_deep()
    if bound >= MAX_DEPTH and not after:
        _check_depth(text)
    anchors = _has_anchor(text)
    index = LineIndex(text)
    raws = _yaml().compose_all(io.StringIO(text))
    while True:
        try:
            raw = next(raws)
        except StopIteration:
            return
        except Exception as e:  # ruamel raises many error types; all are input errors here
            if after:  # too deep before it is broken: the error compose_all gives first
                _check_depth(text)
            raise StreamError(
                _error_message(e), _error_span(e, text), "found unexpected ':'" in str(e)
            ) from None
        # the mapping tables of lookups in the documents before (Node.get_pair) would keep
        # their nodes alive: each document's are dropped when the next one is composed
        index.maps.clear()
        if raw is None:
            yield None
            continue
        if after:
            _check_tree_depth(raw, text)
        if anchors:
            _check_aliases(raw, text)
        yield Node(raw, index)


@lru_cache(maxsize=2)
def _compose_cached(text: str) -> tuple[Any, ...]:
    # a text composed twice in a row (an inline kustomize patch, read by extraction and again
    # by the builds): the last two kept
    return _compose_raw(text)


def _compose_raw(text: str) -> tuple[Any, ...]:
    bound = _depth_bound(text)
    after = MAX_DEPTH <= bound < _COMPOSE_FIRST_BELOW and _stack_is_deep()
    if bound >= MAX_DEPTH and not after:
        _check_depth(text)
    try:
        raws = tuple(_yaml().compose_all(io.StringIO(text)))
    except Exception as e:  # ruamel raises many error types; all are input errors here
        if after:  # too deep before it is broken: the same error the check first gives
            _check_depth(text)
        if "found unexpected ':'" not in str(e):
            raise YamlError(_error_message(e), _error_span(e, text)) from None
        # the C scanner keeps YAML 1.1's rule against `:` inside a plain scalar in a flow
        # collection (`{image: nginx:1.25}`, `[https://x/y.yaml]`), which YAML 1.2 and
        # go-yaml (kubectl, kustomize) accept; ruamel's Python scanner reads it as they do
        try:
            raws = tuple(_yaml(pure=True).compose_all(io.StringIO(text)))
        except Exception as e2:
            raise YamlError(_error_message(e2), _error_span(e2, text)) from None
        # the event check above gave up at the C scanner's error: measure what was composed
        after = after or bound >= MAX_DEPTH
    if after:
        for r in raws:
            if r is not None:
                _check_tree_depth(r, text)
    if _has_anchor(text):
        for r in raws:
            if r is not None:
                _check_aliases(r, text)
    return raws


# Below this bound on nesting, libyaml's C composer is safe (it recurses in C per level and
# overflows an 8 MB stack only near 50 000; a thread's may be smaller), so a text whose cheap
# bound is not enough is composed first and its exact depth read off the nodes, a tenth of the
# cost of parsing it again for its events (26 CRD files of kubeflow/manifests: 1.4 s). Nothing
# recursive in Python runs before that check; a text that fails to compose gets the event
# check first (so the pure-Python composer, which recurses in Python, never sees one too deep).
_COMPOSE_FIRST_BELOW = 5_000


def _stack_is_deep() -> bool:
    """Whether composing a text up to _COMPOSE_FIRST_BELOW levels deep is safe here: on the
    main thread with a stack of at least 8 MiB (a thread's stack may be 128 KiB to 1 MiB, and
    the C composer takes ~350 bytes a level: an org scan's worker threads check first)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_STACK)
    except (ImportError, OSError, ValueError):
        return False
    return bool(soft == resource.RLIM_INFINITY or soft >= 8 << 20)


def _depth_bound(text: str) -> int:
    """A cheap upper bound on nesting: every bracket may open a flow level; block levels are
    bounded by the indentation structure."""
    flow = text.count("[") + text.count("{")
    if flow >= MAX_DEPTH and "---" in text:
        # a flow collection ends within its document (a document marker inside one is a
        # syntax error where it stands), so the most brackets of any one document bound it:
        # 46,000 documents of a few brackets each are not one text 139,000 brackets deep
        flow = max(part.count("[") + part.count("{") for part in _DOC_START.split(text))
    if flow >= _COMPOSE_FIRST_BELOW:
        return flow
    widest = max(map(len, _LEADING.findall(text)), default=0)
    bound = 2 * (widest + 1) + flow
    if bound < MAX_DEPTH:
        return bound
    return min(bound, 2 * _block_levels(text) + flow)


def _too_deep(text: str, mark: Any) -> YamlError:
    c = LineIndex(text).col_from_char(mark.line, mark.column)
    return YamlError(
        f"nesting deeper than {MAX_DEPTH} levels; not scanned",
        Span(mark.line + 1, c, mark.line + 1, c + 1),
    )


def _check_tree_depth(root: Any, text: str) -> None:
    """The exact nesting of a composed document, as the parser's events count it (each
    collection written inside another; an alias is not a level), in document order, so the
    first collection too deep is the one _check_depth names."""
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        value = node.value
        if not isinstance(value, list) or id(node) in seen:
            continue
        seen.add(id(node))
        if depth > MAX_DEPTH:
            raise _too_deep(text, node.start_mark)
        items = (
            [x for pair in value for x in pair] if value and isinstance(value[0], tuple) else value
        )
        stack.extend((child, depth + 1) for child in reversed(items))


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH: the cheap bound first, the exact depth from the
    parser's events when the bound is not enough."""
    if _depth_bound(text) < MAX_DEPTH:
        return
    depth = 0
    try:
        for ev in _yaml().parse(io.StringIO(text)):
            name = type(ev).__name__
            if name in ("MappingStartEvent", "SequenceStartEvent"):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(text, ev.start_mark)
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
    node once (memoised on identity), and documents that aliases make deeper than MAX_DEPTH
    (chained anchors each under the limit as written: what reads the values, recursively,
    must not meet one hundreds of levels deep)."""
    sizes: dict[int, int] = {}
    heights: dict[int, int] = {}  # collection levels from the node down, aliases followed
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
            heights[key] = (node.id != "scalar") + max((heights[id(k)] for k in kids), default=0)
            if heights[key] > MAX_DEPTH:
                raise YamlError(
                    f"nesting deeper than {MAX_DEPTH} levels through aliases; not scanned",
                    _mark_span(node, text),
                )
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
    """A JSON document through the YAML composer, for positions (see `_json_as_yaml`)."""
    _ = path
    docs = compose_all(_json_as_yaml(text))
    return docs[0] if docs else None


# `\uD83D`: half of a UTF-16 surrogate pair, escaped (not preceded by an escaping backslash)
_SURROGATE_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _json_as_yaml(text: str) -> str:
    r"""Valid JSON as text the YAML composer reads, every row and column kept. JSON allows
    tabs as whitespace where YAML does not; in valid JSON they occur only outside strings,
    so each becomes a space. JSON writes characters beyond the BMP as escaped surrogate
    pairs (`\uD83D\uDE00`), which YAML refuses: each half becomes `\uFFFD`, of the same
    length (the character is lost from that string, never a position)."""
    text = text.replace("\t", " ")
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        text = _SURROGATE_ESCAPE.sub(lambda m: m.group(1) + "\\uFFFD", text)
    return text


def json_values(text: str) -> list[tuple[int, Any]]:
    """The values of a JSON text, or of a stream of them one after another (as kubectl
    reads a .json file), each with the offset where it starts. Raises YamlError located
    where the JSON breaks."""
    decoder = json.JSONDecoder()
    out: list[tuple[int, Any]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as e:
            line, col = e.lineno - 1, e.colno - 1
            c = LineIndex(text).col_from_char(line, col)
            raise YamlError(f"invalid JSON: {e.msg}", Span(line + 1, c, line + 1, c + 1)) from None
        except RecursionError:
            raise YamlError("JSON nested too deep to read; not scanned", Span(1, 1, 1, 2)) from None
        out.append((i, value))
        i = end
    return out


def compose_json_values(text: str, starts: list[int]) -> list[Node | None]:
    """Compose JSON values (from `json_values`) for positions. One value is the whole
    text. Each value of a stream is composed apart and its positions moved to where it
    stands in the file (padding each one instead would cost time quadratic in the number
    of values). Raises YamlError for what JSON allows and the YAML composer does not (a key
    over 1024 characters)."""
    yaml_text = _json_as_yaml(text)
    if len(starts) <= 1:
        return compose_all(yaml_text)
    index = LineIndex(text)
    docs: list[Node | None] = []
    row, pos = 0, 0
    for a, b in zip(starts, [*starts[1:], len(text)], strict=True):
        row += text.count("\n", pos, a)
        pos = a
        col = a - (text.rfind("\n", 0, a) + 1)
        try:
            raws = _compose_raw(yaml_text[a:b])
        except YamlError as e:
            sp = e.span
            dc = col if sp.start_line == 1 else 0
            moved = Span(sp.start_line + row, sp.start_col + dc, sp.end_line + row, sp.end_col + dc)
            raise YamlError(e.message, moved) from None
        for r in raws:
            if r is not None:
                _move_marks(r, row, col)
            docs.append(Node(r, index) if r is not None else None)
    return docs


class _Mark:
    """A position moved from where a part was composed to where it stands in its file."""

    __slots__ = ("column", "index", "line")

    def __init__(self, line: int, column: int, index: int) -> None:
        self.line, self.column, self.index = line, column, index


def _move_marks(root: Any, rows: int, cols: int) -> None:
    """Move every mark of a composed part down `rows` rows, and those on its first row right
    `cols` columns (the part started that far into its line)."""
    moved: dict[int, _Mark] = {}

    def move(m: Any) -> _Mark:
        got = moved.get(id(m))
        if got is None:
            shift = cols if m.line == 0 else 0
            got = moved[id(m)] = _Mark(m.line + rows, m.column + shift, m.index)
        return got

    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        node.start_mark, node.end_mark = move(node.start_mark), move(node.end_mark)
        stack.extend(_children(node))


_GO_TEMPLATE = re.compile(r"(?<![$])\{\{-?\s*[\w.$\"(/-]")


def template_syntax(text: str) -> bool:
    """Go/Helm template actions (`{{ .Values.x }}`, `{{- include ... }}`) in a text.
    GitHub's `${{ }}` expressions do not count."""
    return "{{" in text and _GO_TEMPLATE.search(text) is not None


def looks_like_go_template(text: str) -> bool:
    """Whether a YAML file is a Go/Helm template to be rendered before it means anything:
    template syntax, and not YAML as written. A file that parses is read as it stands (as
    kubectl would apply it), its template actions being values that are not statically
    known (`Node.is_template`): a `{{ }}` string must not hide a plain manifest, nor must
    `{{ }}` inside strings that are data for another tool (ArgoCD ApplicationSet
    parameters, Prometheus and Alertmanager templates, config files in ConfigMaps)."""
    if not template_syntax(text):
        return False
    try:
        _compose_cached(text)
    except YamlError:
        return True  # template syntax, and not YAML as written
    return False
