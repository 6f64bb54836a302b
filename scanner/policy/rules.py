"""Rules as data: `rules/<pack>/<ID>.yml`, JSON-Schema validated, assertions compiled to CEL."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..facts.kinds import KINDS
from ..model import Category, Level
from . import celrt as cel
from .cache import RuleCache
from .documents import (
    clip,
    decode,
    has_shape,
    line_of,
    parse_yaml,
    read_bytes,
    validate,
    within,
)
from .functions import FUNCTIONS

_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_COMPREHENSION_VAR = re.compile(r"\.(?:all|exists|exists_one|map|filter)\(\s*([A-Za-z_]\w*)\s*,")
VARIABLES = frozenset({"fact", "baseline", "params"})
# CEL's standard functions (macros such as has/all/exists never appear as references)
CEL_BUILTINS = frozenset(
    {
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "bool",
        "type",
        "dyn",
        "timestamp",
        "duration",
        "getFullYear",
        "getMonth",
        "getDate",
        "getDayOfMonth",
        "getDayOfWeek",
        "getDayOfYear",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
    }
)


_INT64 = range(-(2**63), 2**63)


class FactField:
    """A `{{ fact.field }}` message part (two in three are): the field's value is read
    straight from the fact rather than through a CEL call, for the values whose CEL result is
    that same value (strings, booleans, null, 64-bit integers, doubles); any other value goes
    through CEL as before, so the text is the same either way."""

    __slots__ = ("name", "program")

    def __init__(self, name: str, program: Any) -> None:
        self.name = name
        self.program = program

    def execute(self, ctx: Any, fact: Mapping[str, Any] | None = None) -> Any:
        if fact is not None:
            v = fact.get(self.name)
            if v is None or type(v) in (str, bool, float) or (type(v) is int and v in _INT64):
                return v
        return self.program.execute(ctx)


class Expr:
    """Any other `{{ expression }}` part, with the fact fields it reads (None when it uses
    `fact` other than as `fact.field`): its text is a function of those fields alone (the
    baseline, parameters and functions are fixed for a scan), so a memo keyed by their values
    renders each distinct combination once."""

    __slots__ = ("fields", "program")

    def __init__(self, program: Any, src: str) -> None:
        self.program = program
        self.fields = (
            None if _BARE_FACT.search(src) else tuple(sorted(set(_FACT_FIELD.findall(src))))
        )


def freeze(v: Any) -> Any:
    """A hashable stand-in for a JSON value, equal only for equal values of the same types
    (True, 1 and 1.0 are equal in Python, not in CEL; nor are a map and a list of pairs)."""
    t = type(v)
    if t is str or v is None:
        return v
    if t is dict:
        return ("{", tuple(sorted((k, freeze(x)) for k, x in v.items())))
    if t is list or t is tuple:
        return ("[", tuple(freeze(x) for x in v))
    return (t.__name__, v)


@dataclass(frozen=True)
class MessageTemplate:
    """`text {{ cel expression }} text`: each expression compiled once."""

    parts: tuple[str | FactField | Expr, ...]

    def render_strict(self, ctx: Any, fact: Mapping[str, Any] | None = None) -> str:
        """The text, or ValueError when an expression fails or gives no value: a remedy is
        written into files, so it is never a guess ("?" or "(none)")."""
        out: list[str] = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
                continue
            try:
                v = p.execute(ctx, fact) if isinstance(p, FactField) else p.program.execute(ctx)
            except Exception as e:
                raise ValueError(f"{type(e).__name__}: {e}") from None
            if v is None or isinstance(v, list | dict):
                raise ValueError("an expression gave no single value")
            out.append(_text(v))
        return "".join(out)

    def value_strict(self, ctx: Any, fact: Mapping[str, Any] | None = None) -> Any:
        """The value of the template's one expression (see `_remedy`'s entries); ValueError
        when it fails."""
        for p in self.parts:
            if isinstance(p, str):
                continue
            try:
                return p.execute(ctx, fact) if isinstance(p, FactField) else p.program.execute(ctx)
            except Exception as e:
                raise ValueError(f"{type(e).__name__}: {e}") from None
        raise ValueError("no expression")

    def render(
        self,
        ctx: Any,
        fact: Mapping[str, Any] | None = None,
        memo: dict[Any, str] | None = None,
    ) -> str:
        """The text for the CEL context `ctx`; `fact`, when given, is the data `ctx` binds
        to `fact` (read directly by FactField parts), and `memo` keeps each expression's text
        by the values of the fields it reads (one memo per template and context)."""
        out: list[str] = []
        for i, p in enumerate(self.parts):
            if isinstance(p, str):
                out.append(p)
                continue
            key: Any = None
            if (
                isinstance(p, Expr)
                and memo is not None
                and fact is not None
                and p.fields is not None
            ):
                try:
                    key = (i, tuple(freeze(fact.get(f)) for f in p.fields))
                    hit = memo.get(key)
                except TypeError:  # an unhashable oddity: rendered without the memo
                    key, hit = None, None
                if hit is not None:
                    out.append(hit)
                    continue
            try:
                v = p.execute(ctx, fact) if isinstance(p, FactField) else p.program.execute(ctx)
            except Exception:  # a message must never lose a finding
                v = "?"
            text = _text(v)
            if key is not None:
                keep_bounded(memo, key, text, MEMO_ENTRIES)  # type: ignore[arg-type]
            out.append(text)
        return "".join(out)


# texts a template's memo holds at most (see `keep_bounded`)
MEMO_ENTRIES = 2048


def keep_bounded(memo: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """`memo[key] = value` in a memo of at most `limit` entries, which starts again when
    full: the values a scan repeats (an image, an action used in every file) are back in it
    at once, and a scan of many distinct values (names, paths) does not keep one for each
    of them to its end (issue 11: memory)."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value


def _text(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ", ".join(_text(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={_text(x)}" for k, x in v.items())
    return str(v)


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    title: str
    pack: str
    category: Category
    severity: Level
    status: str
    applies_to: str
    when_src: str | None
    assert_src: str
    when: Any  # cel.Program | None
    assertion: Any  # cel.Program
    message: MessageTemplate
    message_src: str
    location: str | None
    baseline_keys: tuple[MessageTemplate, ...]  # dotted keys, may hold {{ cel }} parts
    docs: dict[str, str]
    precision: str
    security_severity: float | None
    tags: tuple[str, ...]
    file: str
    extra: dict[str, Any] = field(default_factory=dict)
    requires: tuple[str, ...] = ()  # baseline keys without which the rule does not apply
    params_schema: dict[str, Any] | None = None  # JSON Schema of params.*
    help_uri: str | None = None
    # `distance:` (current, golden) version templates of a drift rule; empty: none
    distance: tuple[MessageTemplate, ...] = ()
    # `fix:` the rule's mechanical remedy, if it declares one
    fix: Remedy | None = None

    @property
    def sources(self) -> list[str]:
        """Every expression source the rule evaluates against a fact: what it reads."""
        return [
            self.when_src or "",
            self.assert_src,
            self.message_src,
            *self.extra.get("keys_src", []),
            *self.extra.get("distance_src", []),
            *self.extra.get("fix_src", []),
        ]

    @cached_property
    def fact_fields(self) -> tuple[str, ...]:
        """All fact fields this rule reads (when, assert, message, baseline keys)."""
        return _refs(_FACT_FIELD, self)

    @cached_property
    def verdict_fields(self) -> tuple[str, ...]:
        """The fact fields `when` and `assert` read: the verdict is a function of these
        alone, which lets the engine judge each distinct combination once."""
        text = f"{self.when_src or ''} {self.assert_src}"
        return tuple(sorted(set(_FACT_FIELD.findall(text))))

    @cached_property
    def baseline_sections(self) -> tuple[str, ...]:
        return _refs(_BASELINE_SECTION, self)

    @cached_property
    def presence_paths(self) -> tuple[tuple[str, ...], ...]:
        """Baseline paths the rule only ever tests with has(), never reads."""
        text = " ".join(self.sources)
        tested = [tuple(m.split(".")[1:]) for m in _HAS_BASELINE.findall(text)]
        reads = [tuple(m.split(".")[1:]) for m in _BASELINE_PATH.findall(text)]
        # a path is only tested when every mention of exactly that path sits inside has()
        return tuple(sorted(p for p in set(tested) if reads.count(p) == tested.count(p)))

    @cached_property
    def baseline_paths(self) -> tuple[tuple[str, ...], ...]:
        """The baseline key paths this rule reads (`baseline.terraform.providers[...]` reads
        terraform.providers): a CEL context then carries only those values, not whole
        sections, because converting the context's data is most of an evaluation's cost."""
        text = " ".join(self.sources)
        paths = set()
        for m in _BASELINE_PATH.finditer(text):
            segs = m.group(1).split(".")[1:]
            # a trailing `.name(` is a method call (filter, exists, size...), not a key
            if text[m.end() :].lstrip().startswith("(") and len(segs) > 1:
                segs = segs[:-1]
            paths.add(tuple(segs))
        return tuple(sorted(paths))

    @property
    def help_anchor(self) -> str:
        return f"{self.id.lower()}-{self.name}"


_FACT_FIELD = re.compile(r"\bfact\.([A-Za-z_]\w*)")
_BARE_FACT = re.compile(r"\bfact\b(?!\.[A-Za-z_])")  # `fact` not as `fact.field`
_PLAIN_FIELD = re.compile(r"fact\.([A-Za-z_]\w*)")  # a whole expression that is one field
_PARAM = re.compile(r"\bparams\.([A-Za-z_]\w*)")
_BASELINE_SECTION = re.compile(r"\bbaseline\.([A-Za-z_]\w*)")
_BASELINE_PATH = re.compile(r"\bbaseline((?:\.[A-Za-z_]\w*)+)")
_HAS_BASELINE = re.compile(r"\bhas\(\s*baseline((?:\.[A-Za-z_]\w*)+)\s*\)")


def _refs(pattern: re.Pattern[str], rule: Rule) -> tuple[str, ...]:
    return tuple(sorted(set(pattern.findall(" ".join(rule.sources)))))


class LazyProgram:
    """CEL compiled on first use: for rule files the cache knows to be valid."""

    __slots__ = ("_program", "src")

    def __init__(self, src: str) -> None:
        self.src = src
        self._program: Any = None

    def execute(self, ctx: Any) -> Any:
        if self._program is None:
            self._program = cel.compile(self.src)
        return self._program.execute(ctx)


def _compile(src: str, shown: str, line: int | None, what: str, checked: bool = False) -> Any:
    if checked:
        return LazyProgram(src)
    try:
        program = cel.compile(src)
    except Exception as e:  # cel raises ValueError with a caret diagram; keep its first lines
        first = " ".join(str(e).split("\n")[:2])
        raise ConfigError(shown, line, f"{what} is not valid CEL: {first}") from None
    # catch typos at load time instead of as a runtime error on every fact
    refs = program.references()
    bound = VARIABLES | set(_COMPREHENSION_VAR.findall(src))
    unknown_vars = sorted(set(refs["variables"]) - bound)
    if unknown_vars:
        raise ConfigError(
            shown,
            line,
            f"{what} uses unknown variable(s) {', '.join(unknown_vars)} "
            f"(rules see: {', '.join(sorted(VARIABLES))})",
        )
    unknown_fns = sorted(
        f
        for f in refs["functions"]
        if f[0] not in "_@!" and f not in CEL_BUILTINS and f not in FUNCTIONS
    )
    if unknown_fns:
        raise ConfigError(
            shown,
            line,
            f"{what} calls unknown function(s) {', '.join(unknown_fns)} "
            f"(tether provides: {', '.join(sorted(FUNCTIONS))})",
        )
    return program


@dataclass(frozen=True)
class Remedy:
    """A rule's `fix:` (see FixEdit). Replace: the text of fact field `field` (None: the
    rule's location) becomes `text`, with a trailing `comment` when given. Add: the
    `entries` (a template whose one expression gives a map) go into the mapping holding
    the key at `field` (`insert_before`)."""

    field: str | None
    text: MessageTemplate | None = None
    comment: MessageTemplate | None = None
    entries: MessageTemplate | None = None
    unsafe: MessageTemplate | None = None  # renders "true" where the remedy is unsafe


def _fix_sources(fix: dict[str, Any] | None) -> list[str]:
    """Every template text of a `fix:` section."""
    if not fix:
        return []
    keys = ("with", "comment", "entries", "unsafe")
    return [t for t in (fix.get(k) for k in keys) if t]


def _remedy(fix: dict[str, Any], shown: str, root: Any, checked: bool) -> Remedy:
    def compiled(key: str) -> MessageTemplate:
        src = " ".join(str(fix[key]).split())
        return _template(src, shown, line_of(root, ["fix", key]), checked)

    unsafe = compiled("unsafe") if fix.get("unsafe") else None
    if "insert_before" in fix:
        entries = compiled("entries")
        if sum(1 for p in entries.parts if not isinstance(p, str)) != 1 or any(
            isinstance(p, str) and p.strip() for p in entries.parts
        ):
            raise ConfigError(
                shown,
                line_of(root, ["fix", "entries"]),
                "fix: entries must be one {{ expression }} giving a map of the entries to add",
            )
        return Remedy(fix["insert_before"], entries=entries, unsafe=unsafe)
    return Remedy(
        fix.get("replace"),
        compiled("with"),
        compiled("comment") if fix.get("comment") else None,
        unsafe=unsafe,
    )


def _template(src: str, shown: str, line: int | None, checked: bool = False) -> MessageTemplate:
    parts: list[str | FactField | Expr] = []
    pos = 0
    for m in _TEMPLATE.finditer(src):
        if "{{" in src[pos : m.start()]:
            break  # `{{ a {{ b }}`: reported below
        if m.start() > pos:
            parts.append(src[pos : m.start()])
        expr = m.group(1).strip()
        if not expr:
            raise ConfigError(shown, line, "message has an empty {{ }} expression")
        program = _compile(expr, shown, line, f"message expression {m.group(0)!r}", checked)
        plain = _PLAIN_FIELD.fullmatch(expr)
        parts.append(FactField(plain.group(1), program) if plain else Expr(program, expr))
        pos = m.end()
    rest = src[pos:]
    if "{{" in rest or "}}" in rest:
        broken = rest[rest.find("{{") if "{{" in rest else rest.find("}}") :]
        raise ConfigError(
            shown,
            line,
            f"message has an unclosed or unopened template near {clip(broken)!r}: write "
            "{{ expression }}",
        )
    if rest:
        parts.append(rest)
    return MessageTemplate(tuple(parts))


def load_rule(
    path: Path, shown: str, cache: RuleCache | None = None, *, root: Path | None = None
) -> Rule:
    """One rule file, always built from its own bytes. A file whose hash the cache holds
    skips the schema and CEL checks (its CEL compiles on first use); should it not build after
    all (a forged or stale entry), it is checked in full, so the error is the one any invalid
    file gets. `root`: the file belongs to the repository at `root` (see documents.read_bytes).
    """
    content = read_bytes(path, shown, root=root)
    if cache is None:
        return _load(content, path, shown, trusted=False)
    key = cache.key(content)
    # the same bytes at the same place build the same (immutable) rule: a process that scans
    # many repositories (the org scan, inside reuse_built_rules) builds each rule, and
    # compiles its CEL, once
    built = _BUILT.get((key, str(path), shown)) if _REUSE else None
    if built is not None:
        cache.known(key)
        return built
    if cache.known(key):
        try:
            rule = _load(content, path, shown, trusted=True)
        except Exception:  # not valid after all: the full check below says why
            pass
        else:
            _remember((key, str(path), shown), rule)
            return rule
    rule = _load(content, path, shown, trusted=False)
    cache.add(key)
    _remember((key, str(path), shown), rule)
    return rule


_BUILT: dict[tuple[str, str, str], Rule] = {}
_BUILT_MAX = 2048
_REUSE = 0  # how many reuse_built_rules() blocks are open


def _remember(key: tuple[str, str, str], rule: Rule) -> None:
    if not _REUSE:
        return
    if len(_BUILT) >= _BUILT_MAX:
        _BUILT.clear()
    _BUILT[key] = rule


@contextmanager
def reuse_built_rules() -> Iterator[None]:
    """Within this block, a rule file whose bytes and place were loaded before is not built
    again (the org scan loads the same rules for every repository: ~75% of a small scan).
    Outside it, every load builds from the file and the on-disk cache of checked files."""
    global _REUSE
    _REUSE += 1
    try:
        yield
    finally:
        _REUSE -= 1
        if not _REUSE:
            _BUILT.clear()


class _NotAsCached(Exception):
    """A rule file the cache called valid that does not have a valid rule's shape."""


def _load(content: bytes, path: Path, shown: str, trusted: bool) -> Rule:
    data, node = parse_yaml(decode(content, shown), shown)
    if not isinstance(data, dict):
        raise ConfigError(shown, 1, "a rule file must be a YAML mapping")
    if trusted:
        if not has_shape("rule", data):
            raise _NotAsCached(shown)
        node = None  # lines are only for errors, and an error means the full check runs
    else:
        validate("rule", data, node, shown)
    if path.stem != data["id"]:
        raise ConfigError(
            shown, line_of(node, ["id"]), f"rule id {clip(data['id'])} must match the file name"
        )
    kind = data["applies_to"]
    if kind not in KINDS:
        raise ConfigError(
            shown,
            line_of(node, ["applies_to"]),
            f"unknown fact kind {clip(kind)!r}; known kinds: {', '.join(sorted(KINDS))}",
        )
    rule = _build(data, shown, node, checked=trusted)
    known = set(KINDS[kind])
    # each unknown field is reported where it is written
    for key, text in (
        ("when", data.get("when") or ""),
        ("assert", data["assert"]),
        ("message", data["message"]),
        ("baseline_keys", " ".join(data.get("baseline_keys") or ())),
        ("distance", " ".join((data.get("distance") or {}).values())),
        ("fix", " ".join(_fix_sources(data.get("fix")))),
    ):
        unknown = sorted(set(_FACT_FIELD.findall(text)) - known)
        if unknown:
            raise ConfigError(
                shown,
                line_of(node, [key]),
                f"{key}: {kind} facts have no field(s) {', '.join(clip(u) for u in unknown)}; "
                f"fields: {', '.join(sorted(known))}",
            )
        if key != "fix" and _KNOWN.search(text):
            # the repository's own CODEOWNERS or catalog decides them: never a verdict
            raise ConfigError(
                shown,
                line_of(node, [key]),
                f"{key}: baseline.known (the values remedies may write) is for fix: only",
            )
    _check_params(rule, data, shown, node)
    return rule


_KNOWN = re.compile(r"\bbaseline\s*\.\s*known\b|\bbaseline\s*\[\s*[\"']known[\"']")

_UNSAFE_KEYWORDS = frozenset(
    {
        "$ref",
        "$dynamicRef",
        "$recursiveRef",
        "$id",
        "$schema",
        "$anchor",
        "$dynamicAnchor",
        "pattern",
        "patternProperties",
        "$vocabulary",
    }
)


def _unsafe_schema_keyword(node: Any, depth: int = 0) -> str | None:
    """The first keyword a parameter schema may not use (see _check_params), anywhere in it;
    a schema nested deeper than 32 levels is refused too."""
    if depth > 32:
        return "nesting deeper than 32 levels"
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("properties", "$defs", "definitions", "dependentSchemas") and isinstance(
                value, dict
            ):
                # names of parameters (or definitions), not keywords: only their schemas count
                found = _unsafe_schema_keyword(list(value.values()), depth + 1)
                if found is not None:
                    return found
                continue
            if key in _UNSAFE_KEYWORDS:
                return str(key)
            if key == "format" and value == "regex":
                return "format: regex"
            found = _unsafe_schema_keyword(value, depth + 1)
            if found is not None:
                return found
    elif isinstance(node, list):
        for item in node:
            found = _unsafe_schema_keyword(item, depth + 1)
            if found is not None:
                return found
    return None


def _check_params(rule: Rule, data: dict[str, Any], shown: str, node: Any) -> None:
    """`params:` must be a usable JSON Schema, and every params.NAME the rule reads must be
    declared in it."""
    text = " ".join(
        [rule.when_src or "", rule.assert_src, rule.message_src, *rule.extra["keys_src"]]
    )
    read = sorted(set(_PARAM.findall(text)))
    schema = rule.params_schema
    if schema is not None:
        import jsonschema

        where = line_of(node, ["params"])
        refused = _unsafe_schema_keyword(schema)
        if refused is not None:
            # a reference would fetch a URL or read a file; a regular expression could take
            # exponential time (Python's re backtracks): a rule may come from a repository
            raise ConfigError(
                shown,
                where,
                f"params may not use {refused} (references and regular expressions are not "
                "allowed in a parameter schema: use enum, or check the value in CEL with "
                "glob_match/matches_any)",
            )
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            raise ConfigError(
                shown, where, f"params is not a valid JSON Schema: {e.message}"
            ) from None
        for name, sub in (schema.get("properties") or {}).items():
            if isinstance(sub, dict) and "default" in sub:
                error = jsonschema.exceptions.best_match(
                    jsonschema.Draft202012Validator(sub).iter_errors(sub["default"])
                )
                if error is not None:
                    raise ConfigError(
                        shown, where, f"params.{name}: its default is invalid: {error.message}"
                    )
    declared = set((schema or {}).get("properties") or {})
    undeclared = [p for p in read if p not in declared]
    if undeclared:
        raise ConfigError(
            shown,
            line_of(node, ["params"]) or line_of(node, ["assert"]),
            f"reads params.{', params.'.join(undeclared)} but declares "
            + (f"only {', '.join(sorted(declared))}" if declared else "no params:")
            + " (params: {type: object, properties: {NAME: {type: ..., default: ...}}})",
        )


def _build(data: dict[str, Any], shown: str, root: Any, checked: bool = False) -> Rule:
    """A Rule from schema-valid data; `checked` data (a file the cache knows) compiles
    lazily."""
    when_src = data.get("when")
    distance = data.get("distance")
    fix = data.get("fix")
    return Rule(
        id=data["id"],
        name=data["name"],
        title=data.get("title") or data["docs"]["what"].split(".")[0],
        pack=data["pack"],
        category=Category(data["category"]),
        severity=Level(data["severity"]),
        status=data["status"],
        applies_to=data["applies_to"],
        when_src=when_src,
        assert_src=data["assert"],
        when=_compile(when_src, shown, line_of(root, ["when"]), "when", checked)
        if when_src
        else None,
        assertion=_compile(data["assert"], shown, line_of(root, ["assert"]), "assert", checked),
        message=_template(
            " ".join(data["message"].split()), shown, line_of(root, ["message"]), checked
        ),
        message_src=data["message"],
        location=data.get("location"),
        baseline_keys=tuple(
            _template(k, shown, line_of(root, ["baseline_keys"]), checked)
            for k in data.get("baseline_keys", ())
        ),
        docs={k: str(v).strip() for k, v in data["docs"].items()},
        precision=data.get("precision", "high"),
        security_severity=data.get("security_severity"),
        tags=tuple(data.get("tags", ())),
        file=shown,
        extra={
            "keys_src": list(data.get("baseline_keys", ())),
            "distance_src": [distance[k] for k in ("current", "golden")] if distance else [],
            "fix_src": _fix_sources(fix),
            "exceptions": data.get("exceptions") or {},
        },
        requires=tuple(data.get("requires") or ()),
        params_schema=data.get("params"),
        help_uri=data.get("help_uri"),
        distance=tuple(
            _template(" ".join(distance[k].split()), shown, line_of(root, ["distance", k]), checked)
            for k in ("current", "golden")
        )
        if distance
        else (),
        fix=_remedy(fix, shown, root, checked) if fix else None,
    )


def load_rules(
    dirs: Iterable[Path], *, repo_dirs: Iterable[Path] = (), root: Path | None = None
) -> dict[str, Rule]:
    """All rules under the given directories (recursively), by id. A later directory may not
    silently redefine an id: that is a configuration error. `repo_dirs` are rule directories
    a repository names (loaded after `dirs`): they, and every rule file in them, must resolve
    inside the repository at `root`."""
    repo = list(repo_dirs)
    if repo and root is None:
        raise ValueError("repository rule directories need the repository root")
    rules: dict[str, Rule] = {}
    cache = RuleCache()
    cwd = Path.cwd()
    for d, confine in [*((d, None) for d in dirs), *((d, root) for d in repo)]:
        if confine is not None and not within(os.path.realpath(d), os.path.realpath(confine)):
            raise ConfigError(str(d), None, "rules directory is outside the repository; not read")
        if not d.is_dir():
            raise ConfigError(str(d), None, "rules directory does not exist")
        real = d.resolve()  # once per directory: resolving each file was a tenth of a load
        for p in sorted(d.rglob("*.y*ml")):
            if p.suffix not in (".yml", ".yaml"):
                continue
            shown = _display(real / p.relative_to(d), cwd, p)
            rule = load_rule(p, shown, cache, root=confine)
            if rule.id in rules:
                raise ConfigError(
                    shown, 1, f"rule {rule.id} is already defined in {rules[rule.id].file}"
                )
            rules[rule.id] = rule
    cache.save()
    return rules


def _display(real: Path, cwd: Path, p: Path) -> str:
    try:
        return str(real.relative_to(cwd))
    except ValueError:
        return str(p)
