"""Loading tether's own YAML documents (rules, baselines, config, exceptions, policy) with JSON
Schema checks that point at the offending line.

These files may come from the repository under review, so reading them is guarded like any
scanned file: a file the repository owns is read only if it resolves inside the repository
(no link followed out), only if it is a regular file (a FIFO or device would block) and only
up to the scanner's size limit. Error messages never quote the file: a schema error says what
was expected where, a YAML error says what the parser found, and any key or value they name
is clipped (a linked credentials file must not become a pull-request annotation).
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..parsers.yaml import Node, YamlError, compose_all, duplicate_keys
from ..source import MAX_FILE_BYTES, _size
from .cache import schema_bytes, validated_store

EXCERPT = 40  # the most characters of a document's own text an error message quotes


@cache
def schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_bytes(name).decode("utf-8"))
    return data


@cache
def _validator(name: str) -> Any:
    import jsonschema  # 47 ms of imports: paid only when a document is not known valid

    s = schema(name)
    cls = jsonschema.validators.validator_for(s)
    return cls(s, format_checker=cls.FORMAT_CHECKER)


def clip(value: Any, limit: int = EXCERPT) -> str:
    """A short excerpt of document text for a message: at most `limit` characters, control
    characters escaped."""
    text = str(value)
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in short)


_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def within(path: str, root: str) -> bool:
    """Whether resolved `path` is resolved `root` or under it."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def read_bytes(path: Path, shown: str, *, root: Path | None = None) -> bytes:
    """A document's bytes. With `root` (a file the repository owns) the file must resolve
    inside `root`: a symbolic link out of it, or to nothing, is a ConfigError and the target
    is not opened. Any file must be regular and at most MAX_FILE_BYTES."""
    target = str(path)
    flags = os.O_RDONLY | _O_NONBLOCK | _O_CLOEXEC
    if root is not None:
        real = os.path.realpath(path)
        if not within(real, os.path.realpath(root)):
            raise ConfigError(shown, None, "is a symbolic link out of the repository; not read")
        if os.path.islink(path) and not os.path.exists(real):
            raise ConfigError(shown, None, "is a symbolic link to nothing; not read")
        # the resolved path, opened without following a link swapped in since the check
        target, flags = real, flags | _O_NOFOLLOW
    try:
        st = os.stat(target)
        if not stat.S_ISREG(st.st_mode):  # checked before opening: a device may act on open
            raise ConfigError(shown, None, "is not a regular file; not read")
        fd = os.open(target, flags)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ConfigError(shown, None, "is a symbolic link; not read") from None
        raise ConfigError(shown, None, f"cannot read: {e.strerror}") from None
    try:
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise ConfigError(shown, None, "is not a regular file; not read")
            if st.st_size > MAX_FILE_BYTES:
                raise ConfigError(shown, None, _too_large(st.st_size))
            data = fh.read(MAX_FILE_BYTES + 1)  # the file may grow after fstat
    except OSError as e:
        raise ConfigError(shown, None, f"cannot read: {e.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(shown, None, _too_large(len(data)))
    return data


def _too_large(n: int) -> str:
    return f"file is {_size(n)}, over the {_size(MAX_FILE_BYTES)} limit; not read"


def decode(data: bytes, shown: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            shown, data.count(b"\n", 0, e.start) + 1, "cannot read: not UTF-8 text"
        ) from None


def load_yaml(
    path: Path, display: str | None = None, *, root: Path | None = None
) -> tuple[Any, Node | None]:
    """One YAML document: its plain value and its positioned root node. `root`: the file
    belongs to the repository at `root` and must not lead out of it (see read_bytes)."""
    shown = display or str(path)
    return parse_yaml(decode(read_bytes(path, shown, root=root), shown), shown)


def parse_yaml(text: str, shown: str) -> tuple[Any, Node | None]:
    """Compose one YAML document, refusing several documents and duplicate keys."""
    try:
        docs = compose_all(text)
    except YamlError as e:
        raise ConfigError(shown, e.span.start_line, f"invalid YAML: {yaml_message(e)}") from None
    present = [d for d in docs if d is not None]
    if len(present) > 1:
        raise ConfigError(shown, present[1].line, "expected one YAML document, found several")
    if not present:
        return None, None
    check_duplicate_keys(present[0], shown)
    return present[0].to_python(), present[0]


_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def yaml_message(e: YamlError) -> str:
    """The parser's message with anything it quotes from the file clipped (libyaml's
    messages are fixed phrases; the pure-Python parser's may name an alias or a tag)."""
    text = _QUOTED.sub(lambda m: repr(clip(m.group(1) or m.group(2) or "")), e.message)
    return clip(text, 200)


def check_duplicate_keys(root: Node, shown: str) -> None:
    """A key given twice in one mapping is a ConfigError at the second: YAML keeps only one
    of them, silently, and which one a reader sees is not something a policy should hang on.
    Merge keys (`<<`) are YAML's own way of layering and are not duplicates."""
    dups = duplicate_keys(root)
    if dups:
        again, first = dups[0]
        raise ConfigError(
            shown,
            again.line,
            f"duplicate key {clip(again.raw.value)!r} (first given at line {first.line})",
        )


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


def validate(
    kind: str, data: Any, root: Node | None, shown: str, *, cached: bool = True
) -> None:
    """Raise ConfigError for the first schema violation (the most relevant one). Documents
    already found valid (same content, same schema and tether version) are not checked again
    (see cache.py), unless `cached` is False: documents from the repository under review are
    always checked, so a planted cache entry cannot let a malformed one through."""
    store = validated_store()
    key = store.key(kind, data) if cached else None
    if key is not None and store.known(key):
        return
    errors = sorted(_validator(kind).iter_errors(data), key=lambda e: (len(e.path), str(e.path)))
    if not errors:
        if key is not None:
            store.add(key)
        return
    import jsonschema

    best = jsonschema.exceptions.best_match(errors)
    path, problem = describe_error(best)
    where = "/".join(clip(p) for p in path) or "(top level)"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    raise ConfigError(shown, line_of(root, path), f"{kind} {where}: {problem}{more}")


# What a schema type is called in a message, and what a value's type is called.
_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing (null)",
}


def _found(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a value of another type"  # dates: YAML timestamps as Python dates


def _expected(s: Any) -> str | None:
    """The types a (sub)schema admits, in words, when it says."""
    if not isinstance(s, dict) or "type" not in s:
        return None
    types = s["type"] if isinstance(s["type"], list) else [s["type"]]
    return " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in types)


def _fits_type(value: Any, s: Any) -> bool:
    """Whether a value has one of the types a subschema names (a subschema that names none
    does not say)."""
    return isinstance(s, dict) and "type" in s and _has_type(value, s["type"])


def _has_type(value: Any, type_: Any) -> bool:
    types = type_ if isinstance(type_, list) else [type_]
    return any(
        isinstance(value, _JSON_TYPES.get(str(t), ()))
        and not (isinstance(value, bool) and t in ("integer", "number"))
        for t in types
    )


def _choices(values: Any) -> str:
    return clip(", ".join(str(v) for v in values), 300)


def describe_error(err: Any) -> tuple[list[Any], str]:
    """Where a jsonschema error is (a JSON path, pointing at an offending key itself where
    there is one) and what is wrong, in words built from the validator and the schema alone:
    the instance is named only by its type, or by a key clipped to EXCERPT characters. (A
    jsonschema message starts with repr(instance): a whole linked file, secrets included.)"""
    path = list(err.absolute_path)
    kind = err.validator
    value = err.validator_value
    inst = err.instance
    schema_at = err.schema if isinstance(err.schema, dict) else {}
    if "propertyNames" in list(err.relative_schema_path):
        return path, f"key {clip(inst)!r} is not allowed here"
    if kind == "type":
        return path, f"expected {_expected({'type': value})}, found {_found(inst)}"
    if kind == "enum":
        return path, f"must be one of: {_choices(value)}"
    if kind == "const":
        return path, f"must be {clip(value)}"
    if kind == "required":
        missing = [r for r in value if isinstance(inst, dict) and r not in inst] or list(value)
        return path, f"{clip(missing[0])!r} is required"
    if kind == "additionalProperties" and isinstance(inst, dict):
        known = set(schema_at.get("properties", {}))
        patterns = list(schema_at.get("patternProperties", {}))
        extra = [
            k for k in inst if k not in known and not any(re.search(p, str(k)) for p in patterns)
        ]
        if extra:
            return [*path, extra[0]], f"unexpected key {clip(extra[0])!r}"
        return path, "has an unexpected key"
    if kind == "pattern":
        shape = schema_at.get("description")
        return path, f"is not in the expected form ({clip(shape or value, 120)})"
    if kind == "format":
        return path, f"is not a valid {clip(value)}"
    if kind in ("minLength", "maxLength"):
        bound = "at least" if kind == "minLength" else "at most"
        return path, f"must be {bound} {value} character(s) long"
    if kind in ("minItems", "maxItems"):
        bound = "at least" if kind == "minItems" else "at most"
        return path, f"must have {bound} {value} item(s)"
    if kind in ("minProperties", "maxProperties"):
        bound = "at least" if kind == "minProperties" else "at most"
        return path, f"must have {bound} {value} key(s)"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        word = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "more than",
            "exclusiveMaximum": "less than",
        }[kind]
        return path, f"must be {word} {value}"
    if kind == "uniqueItems":
        return path, "must not repeat an item"
    if kind in ("oneOf", "anyOf"):
        # the branch whose type the value has says more than "none of the forms"
        fits = [
            e
            for e in err.context or ()
            if isinstance(value, list)
            and e.relative_schema_path
            and isinstance(e.relative_schema_path[0], int)
            and e.relative_schema_path[0] < len(value)
            and _fits_type(inst, value[e.relative_schema_path[0]])
        ]
        if fits:
            import jsonschema

            return describe_error(jsonschema.exceptions.best_match(fits))
        forms = [_expected(s) for s in value] if isinstance(value, list) else []
        if forms and all(forms):
            return path, f"expected {' or '.join(f for f in forms if f)}, found {_found(inst)}"
        return path, "is not in any of the allowed forms"
    if kind is None or value is False:
        return path, "is not allowed here"
    return path, f"does not satisfy the schema ({clip(kind)})"


def has_shape(kind: str, data: Any) -> bool:
    """Whether `data` has the structure the `kind` schema gives (types, enums, required and
    unexpected keys, recursively), without its finer checks (patterns, lengths, formats,
    bounds). A cheap guard for documents taken on trust (cache.py): enough that nothing built
    from them can misread a value, e.g. take a misspelt status for "not stable"."""
    s = schema(kind)
    return _shaped(data, s, s)


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _shaped(value: Any, s: Any, top: dict[str, Any]) -> bool:
    if s is True:
        return True
    if not isinstance(s, dict):
        return False
    ref = s.get("$ref")
    if isinstance(ref, str):
        target: Any = top
        for part in ref.lstrip("#/").split("/") if ref.startswith("#/") else ():
            target = target.get(part) if isinstance(target, dict) else None
        if target is None or not _shaped(value, target, top):
            return False
    if "type" in s and not _has_type(value, s["type"]):
        return False
    if "enum" in s and value not in s["enum"]:
        return False
    if "const" in s and value != s["const"]:
        return False
    for key in ("oneOf", "anyOf"):
        if key in s and not any(_shaped(value, sub, top) for sub in s[key]):
            return False
    if isinstance(value, dict):
        props = s.get("properties", {})
        if any(r not in value for r in s.get("required", ())):
            return False
        extra = s.get("additionalProperties", True)
        patterns = s.get("patternProperties", {})
        for k, v in value.items():
            if k in props:
                if not _shaped(v, props[k], top):
                    return False
                continue
            matched = [p for p in patterns if re.search(p, str(k))]
            if matched:
                if not all(_shaped(v, patterns[p], top) for p in matched):
                    return False
            elif extra is False or (extra is not True and not _shaped(v, extra, top)):
                return False
    if isinstance(value, list) and "items" in s:
        return all(_shaped(v, s["items"], top) for v in value)
    return True
