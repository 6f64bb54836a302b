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
from functools import cache
from typing import Any

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
    from ruamel.yaml import YAML

    y = YAML(typ="safe", pure=False)
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
        return self._index.span_from_chars((s.line, s.column), (e.line, e.column))

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
        """For a map: (key Node, value Node) pairs, merge keys (`<<`) expanded.
        For a sequence: item Nodes."""
        if self.is_map:
            for k, v in self.raw.value:
                if k.tag == "tag:yaml.org,2002:merge" or (k.id == "scalar" and k.value == "<<"):
                    targets = v.value if v.id == "sequence" else [v]
                    for t in targets:
                        if t.id == "mapping":
                            yield from Node(t, self._index).items()
                    continue
                yield Node(k, self._index), Node(v, self._index)
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


def _error_span(exc: Any, index: LineIndex) -> Span:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is None:
        return Span(1, 1, 1, 1)
    line, col = int(mark.line), int(mark.column)
    c = index.col_from_char(line, col)
    return Span(line + 1, c, line + 1, c + 1)


def _error_message(exc: Any) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    parts = [p for p in (context, problem) if p]
    return "; ".join(parts) if parts else str(exc).splitlines()[0]


def compose_all(text: str) -> list[Node | None]:
    """All documents of a YAML stream, composed. Raises YamlError with a located message."""
    index = LineIndex(text)
    try:
        raws = list(_yaml().compose_all(io.StringIO(text)))
    except Exception as e:  # ruamel raises many error types; all are input errors here
        raise YamlError(_error_message(e), _error_span(e, index)) from None
    return [Node(r, index) if r is not None else None for r in raws]


def compose_json(path: str, text: str) -> Node | None:
    """A JSON document through the YAML composer, for positions. JSON allows tabs as
    whitespace where YAML does not; tabs in valid JSON occur only outside strings, so
    replacing each with a space keeps every column."""
    _ = path
    docs = compose_all(text.replace("\t", " "))
    return docs[0] if docs else None


_GO_TEMPLATE = re.compile(r"(?<![$])\{\{-?\s*[\w.$\"(/-]")


def looks_like_go_template(text: str) -> bool:
    """Helm/Go templates (`{{ .Values.x }}`, `{{- include ... }}`); GitHub's `${{ }}`
    expressions do not count."""
    return _GO_TEMPLATE.search(text) is not None
