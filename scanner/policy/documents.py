"""Loading tether's own YAML documents (rules, baselines, config) with JSON Schema checks
that point at the offending line."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..parsers.yaml import Node, YamlError, compose_all
from .cache import validated_store


@cache
def schema(name: str) -> dict[str, Any]:
    text = resources.files("scanner.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _validator(name: str) -> Any:
    import jsonschema  # 47 ms of imports: paid only when a document is not known valid

    s = schema(name)
    cls = jsonschema.validators.validator_for(s)
    return cls(s, format_checker=cls.FORMAT_CHECKER)


def load_yaml(path: Path, display: str | None = None) -> tuple[Any, Node | None]:
    """One YAML document: its plain value and its positioned root node."""
    shown = display or str(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(shown, None, f"cannot read: {e}") from None
    try:
        docs = compose_all(text)
    except YamlError as e:
        raise ConfigError(shown, e.span.start_line, f"invalid YAML: {e.message}") from None
    present = [d for d in docs if d is not None]
    if len(present) > 1:
        raise ConfigError(shown, present[1].line, "expected one YAML document, found several")
    if not present:
        return None, None
    return present[0].to_python(), present[0]


def line_of(root: Node | None, path: list[Any] | tuple[Any, ...]) -> int | None:
    """The line of the deepest node along a JSON path (keys and indexes)."""
    if root is None:
        return None
    node = root
    line = root.line
    for step in path:
        nxt: Node | None = None
        if node.is_map:
            pair = node.get_pair(str(step))
            if pair is not None:
                line = pair[0].line
                nxt = pair[1]
        elif node.is_seq and isinstance(step, int):
            items = list(node.items())
            if 0 <= step < len(items):
                nxt = items[step]
                line = nxt.line
        if nxt is None:
            break
        node = nxt
    return line


def validate(kind: str, data: Any, root: Node | None, shown: str) -> None:
    """Raise ConfigError for the first schema violation (the most relevant one). Documents
    already found valid (same content, same schema and tether version) are not checked again
    (see cache.py)."""
    store = validated_store()
    key = store.key(kind, data)
    if key is not None and store.known(key):
        return
    errors = sorted(_validator(kind).iter_errors(data), key=lambda e: (len(e.path), str(e.path)))
    if not errors:
        if key is not None:
            store.add(key)
        return
    import jsonschema

    best = jsonschema.exceptions.best_match(errors)
    path = list(best.absolute_path)
    where = "/".join(str(p) for p in path) or "(top level)"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    if best.validator == "additionalProperties" and isinstance(best.instance, dict):
        # point at the unexpected key itself, not at the mapping that holds it
        known = set(best.schema.get("properties", {}))
        extra = [k for k in best.instance if k not in known]
        if extra:
            path = [*path, extra[0]]
    raise ConfigError(shown, line_of(root, path), f"{kind} {where}: {best.message}{more}")
