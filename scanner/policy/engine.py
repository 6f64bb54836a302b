"""Judging facts: each rule that applies to a fact's kind is evaluated to pass, fail or not
applicable; failures become findings with the baseline layer that set the judged value."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import ConfigError
from ..facts.subjects import subject as subject_of
from ..model import (
    BaselineRef,
    Diagnostic,
    Distance,
    Fact,
    Finding,
    FixEdit,
    Level,
    RuleTally,
    count,
)
from ..spool import Spool
from . import celrt as cel
from .baseline import Baseline
from .functions import FUNCTIONS, versions_behind
from .rules import _HAS_BASELINE, Rule, freeze, keep_bounded


@dataclass(frozen=True)
class Staging:
    """How a baseline stages a rule: its level today, and whether it can fail a build."""

    enabled: bool
    level: Level
    enforced: bool
    note: str
    counted: bool = True  # part of adoption figures


def staging(rule: Rule, baseline: Baseline, today: dt.date, preview: bool = False) -> Staging:
    """A rule's effective state. Lifecycle first (stable rules run; preview rules run with
    --preview or when a baseline enables them; deprecated rules only when enabled), then the
    baseline's settings: severity, enforce_from (a warning until the date), enable_later (a
    note that never fails a build and is not counted in adoption figures)."""
    s = baseline.rule_settings(rule.id)
    default_on = rule.status == "stable" or (rule.status == "preview" and preview)
    enabled = bool(s.get("enabled", default_on))
    level = Level(s.get("severity", rule.severity.value))
    if s.get("enable_later"):
        return Staging(
            enabled, Level.NOTE, False, "enable_later: reported, never failing", counted=False
        )
    enforce_from = s.get("enforce_from")
    if enforce_from:
        when = dt.date.fromisoformat(str(enforce_from))
        if today < when:
            lvl = Level.WARNING if level is Level.ERROR else level
            return Staging(enabled, lvl, True, f"becomes {level.value} on {when.isoformat()}")
    return Staging(enabled, level, True, "")


def project(
    data: Mapping[str, Any],
    paths: Iterable[tuple[str, ...]],
    presence: Iterable[tuple[str, ...]] = (),
) -> dict[str, Any]:
    """The part of the baseline the given key paths reach: each path's value whole, and the
    maps on the way holding only what the paths need. A missing key stays missing, so CEL's
    has() answers as it would on the whole baseline. A path only ever tested with has() gets
    an empty map (when its value is a map) instead of a copy of everything under it."""
    out: dict[str, Any] = {}
    only_tested = set(presence)
    for path in sorted(only_tested, key=len):
        node: Any = data
        into = out
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                break
            node = node[key]
            if not isinstance(node, Mapping):
                into[key] = node
                break
            into = into.setdefault(key, {})
    for path in sorted(set(paths) - only_tested, key=len):
        src: Any = data
        dst = out
        for i, key in enumerate(path):
            if not isinstance(src, Mapping) or key not in src:
                break
            src = src[key]
            last = i == len(path) - 1
            if last or not isinstance(src, Mapping):
                dst[key] = src  # the value this path reads, whole
                break
            existing = dst.get(key)
            if existing is not None and not isinstance(existing, dict):
                break
            if existing is None:
                existing = dst[key] = {}
            if existing is src:  # a shorter path already copied this map whole
                break
            dst = existing
    return out


def fingerprint(rule_id: str, path: str, target: str, occurrence: int) -> str:
    """A logical fingerprint: survives line moves and edits elsewhere in the file."""
    h = hashlib.sha256(f"{rule_id}\0{path}\0{target}\0{occurrence}".encode()).hexdigest()
    return h[:32]


# verdicts (and failure texts) a judge keeps by the values of the fields its rule reads, at
# most (see rules.keep_bounded). A judge whose values seldom repeat (under one hit in four
# misses after VERDICT_TRIAL misses: a rule reading a container's whole spec) keeps none: on
# the 64x Kubernetes corpus two rules had 2 hits in 3,072 lookups, at ~1 KB an entry
VERDICT_ENTRIES = 4096
VERDICT_TRIAL = 512


@dataclass(frozen=True)
class _Verdict:
    """A rule's verdict for one combination of the fact fields its when/assert read."""

    applicable: bool
    passed: bool
    error: str = ""


class Memo(Protocol):
    """Verdicts and failure texts kept between scans (resultcache.VerdictMemo): values by
    keys that hash everything they are a function of (see _Judge)."""

    def ident(self, rule: Rule, base: Any, params: Mapping[str, Any]) -> bytes | None:
        """What one rule's judgements are keyed by besides the fact values: the rule, the
        baseline values and parameters its CEL context holds, the code that judges (None:
        no canonical form)."""
        ...

    def get(self, key: str) -> Any: ...

    def add(self, key: str, value: Any) -> None: ...


_UNSET: Any = object()


def _frozen(
    data: Mapping[str, Any], fields: tuple[str, ...], frozen: dict[str, Any] | None
) -> tuple[Any, ...]:
    """The frozen values of `fields` (rules.freeze), each taken from `frozen` or frozen and
    kept there."""
    if frozen is None:
        return tuple(freeze(data.get(f)) for f in fields)
    out = []
    for f in fields:
        v = frozen.get(f, _UNSET)
        if v is _UNSET:
            v = frozen[f] = freeze(data.get(f))
        out.append(v)
    return tuple(out)


def _stored_verdict(got: Any) -> _Verdict | None:
    """A kept verdict, if it has the shape written (anything else is a miss)."""
    if (
        isinstance(got, list)
        and len(got) == 3
        and type(got[0]) is bool
        and type(got[1]) is bool
        and type(got[2]) is str
    ):
        return _Verdict(got[0], got[1], got[2])
    return None


_FLOATING = re.compile(r"(?:\.[xX*])+$")


def drift_distance(current: str, golden: str, release_dates: Any, subject: str) -> Distance | None:
    """`current` against `golden` as a Distance (None when either is not a version or it
    is not behind); days from the baseline's `release_dates[subject]` when both are there."""
    current, golden = current.strip(), golden.strip()
    if not current or not golden:
        return None
    try:
        # a constraint's highest admitted version may float below a level ("4.x", "1.3.x"):
        # only the first level that differs counts, so its floor measures the same distance
        behind = versions_behind(_FLOATING.sub("", current), _FLOATING.sub("", golden))
    except (ValueError, TypeError):
        return None
    level = next((k for k, n in behind.items() if n), None)
    if level is None:
        return None
    days = None
    dates = release_dates.get(subject) if isinstance(release_dates, Mapping) else None
    if isinstance(dates, Mapping):
        mine, theirs = _release(dates, current), _release(dates, golden)
        if mine is not None and theirs is not None and theirs > mine:
            days = (theirs - mine).days
    return Distance(current, golden, level, behind[level], days)


def _release(dates: Mapping[str, Any], version: str) -> dt.date | None:
    """A version's release date, written with or without a leading v."""
    bare = version[1:] if version[:1] in ("v", "V") else version
    for key in (version, bare, f"v{bare}"):
        value = dates.get(key)
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                return None
    return None


def _stored_texts(got: Any, keys: int) -> tuple[str, list[str]] | None:
    """Kept failure texts (the message, each baseline key rendered), if shaped as written."""
    if (
        isinstance(got, list)
        and len(got) == 2
        and type(got[0]) is str
        and isinstance(got[1], list)
        and len(got[1]) == keys
        and all(type(k) is str for k in got[1])
    ):
        return got[0], got[1]
    return None


def _entries(value: Any) -> str | None:
    """An add remedy's entries as JSON: a non-empty map of string keys to strings, or to
    maps and lists of them; None for anything else (null or an empty map: no remedy)."""

    def plain(v: Any, depth: int) -> Any:
        if depth > 8:
            raise ValueError("too deep")
        if isinstance(v, str):
            return str(v)
        if isinstance(v, Mapping):
            return {str(k): plain(x, depth + 1) for k, x in v.items() if isinstance(k, str)}
        if isinstance(v, list | tuple):
            return [plain(x, depth + 1) for x in v]
        raise ValueError("not a string, map or list")

    if not isinstance(value, Mapping) or not value:
        return None
    try:
        # keys sorted: the order a CEL map gives is not stable, an edit must be
        return json.dumps(plain(value, 0), sort_keys=True)
    except ValueError:
        return None


_UNMADE: Any = object()  # (a remedy not made yet in this scan)


class _Judge:
    """Evaluates one rule, once per distinct combination of the fact fields it judges by.

    Large repositories repeat themselves (the same module source, provider, action or base
    image over and over), and building a CEL context is the expensive step, so verdicts are
    memoised by the projection of the fact onto the rule's verdict fields; messages are
    rendered only for failures. One CEL context per rule holds the baseline (only the keys the
    rule reads) and the functions, converted once; the fact is handed to CEL through a
    variable resolver, so each evaluation converts only the fact's few fields."""

    def __init__(
        self,
        rule: Rule,
        st: Staging,
        baseline: Baseline,
        params: Mapping[str, Any],
        memo: Memo | None = None,
    ) -> None:
        self.rule = rule
        self.staging = st
        self.baseline = baseline
        self.fields = rule.verdict_fields
        self.all_fields = rule.fact_fields
        self.cache: dict[tuple[Any, ...], _Verdict] = {}
        # remedies made in this scan, by the fact fields their templates read (see remedy)
        self._remedies: dict[tuple[Any, ...], Any] = {}
        self._hits = self._misses = 0  # of `cache` (see VERDICT_ENTRIES)
        self._caching = True
        # message and baseline-key texts, by expression and the values of the fields it reads
        # (the baseline keys' templates, then the distance's: the texts of a failure)
        self._templates = (*rule.baseline_keys, *rule.distance)
        self._memos: list[dict[Any, str]] = [{} for _ in range(1 + len(self._templates))]
        # with a memo of earlier scans: failure texts by the fact fields they read, so that
        # each distinct failure is looked up there once
        self._texts: dict[tuple[Any, ...], tuple[str, list[str]]] = {}
        # the fact under evaluation, in a cell the resolver closes over: the CEL context (a
        # native object the garbage collector cannot see into) must not hold this judge, or
        # the judge, its rule, baseline and verdict cache would live as long as the process
        # (measured: ~1 MB per repository of an org scan)
        view: list[dict[str, Any]] = [{}]
        self._view = view
        base = project(baseline.data, rule.baseline_paths, rule.presence_paths)
        self._ctx = cel.Context(
            variables={"baseline": base, "params": dict(params)}, functions=dict(FUNCTIONS)
        )
        self._ctx.set_variable_resolver(lambda name: view[0] if name == "fact" else None)
        # kept between scans: a verdict is a function of the rule, the CEL context's data (the
        # baseline's part the rule reads, its parameters), the functions and runtime, and the
        # fact fields it reads; a failure's texts, of the fields its templates read. The memo
        # names the rest (Memo.ident); None: no canonical form, judged afresh each time
        self._ident = memo.ident(rule, base, params) if memo is not None else None
        self._memo = memo if self._ident is not None else None

    def _stored_key(self, tag: str, key: tuple[Any, ...] | None) -> str | None:
        """The memo's key for a verdict or texts key; None when there is none (no key, or a
        value too deep to spell: judged afresh)."""
        if key is None:
            return None
        # `key` holds frozen JSON values (rules.freeze): its repr is canonical
        try:
            spelled = f"\0{tag}\0{key!r}"
        except RecursionError:
            return None
        h = hashlib.sha256(self._ident or b"")
        h.update(spelled.encode())
        return h.hexdigest()

    def _context(self, data: Mapping[str, Any], fields: tuple[str, ...]) -> Any:
        self._view[0] = {f: data.get(f) for f in fields}
        return self._ctx

    def verdict(self, fact: Fact, frozen: dict[str, Any] | None = None) -> _Verdict:
        """`frozen`: the fact's fields frozen so far (rules.freeze), shared by the judges of
        one fact: the rules of a kind read many of the same fields."""
        data = fact.data
        try:
            key: tuple[Any, ...] | None = _frozen(data, self.fields, frozen)
            hit = self.cache.get(key)  # type: ignore[arg-type]
        except (TypeError, RecursionError):  # an unhashable oddity: judge without the memo
            key, hit = None, None
        if hit is not None:
            self._hits += 1
            return hit
        self._misses += 1
        if self._misses == VERDICT_TRIAL and self._hits * 4 < self._misses:
            self._caching = False  # values that seldom repeat (see VERDICT_ENTRIES)
            self.cache.clear()
        stored = self._stored_key("verdict", key) if self._memo is not None else None
        if stored is not None and self._memo is not None:
            out = _stored_verdict(self._memo.get(stored))
            if out is not None:
                if self._caching:
                    keep_bounded(self.cache, key, out, VERDICT_ENTRIES)
                return out
        out = self._evaluate(self._context(data, self.fields))
        if key is not None and self._caching:
            keep_bounded(self.cache, key, out, VERDICT_ENTRIES)
        if stored is not None and self._memo is not None:
            self._memo.add(stored, [out.applicable, out.passed, out.error])
        return out

    def _evaluate(self, ctx: Any) -> _Verdict:
        rule = self.rule
        try:
            if rule.when is not None and not _truthy(rule.when.execute(ctx)):
                return _Verdict(False, False)
            return _Verdict(True, _truthy(rule.assertion.execute(ctx)))
        except Exception as e:  # CEL runtime errors: reported per fact, the scan goes on
            return _Verdict(False, False, error=f"{type(e).__name__}: {e}")

    def explain(
        self, fact: Fact, frozen: dict[str, Any] | None = None
    ) -> tuple[str, tuple[BaselineRef, ...], tuple[str, ...]]:
        """Message, baseline provenance and distance texts (current, golden; empty for a rule
        without `distance:`) of a failure (`frozen`: see verdict)."""
        stored = None
        texts = None
        key = None
        if self._memo is not None:
            try:
                key = _frozen(fact.data, self.all_fields, frozen)
                texts = self._texts.get(key)  # (a failure seen before in this scan)
            except (TypeError, RecursionError):
                key = None
            if texts is None:
                stored = self._stored_key("texts", key)
            if stored is not None:
                texts = _stored_texts(self._memo.get(stored), len(self._templates))
                if texts is not None and key is not None:
                    keep_bounded(self._texts, key, texts, VERDICT_ENTRIES)
        if texts is None:
            ctx = self._context(fact.data, self.all_fields)
            texts = (
                self.rule.message.render(ctx, self._view[0], self._memos[0]),
                [
                    k.render(ctx, self._view[0], memo)
                    for k, memo in zip(self._templates, self._memos[1:], strict=True)
                ],
            )
            if stored is not None and self._memo is not None and key is not None:
                self._memo.add(stored, [texts[0], texts[1]])
                keep_bounded(self._texts, key, texts, VERDICT_ENTRIES)
        message, rendered = texts
        n = len(self.rule.baseline_keys)
        if self.staging.note:
            message = f"{message} [staged: {self.staging.note}]"
        refs = tuple(r for r in (self.baseline.ref(k) for k in rendered[:n]) if r is not None)
        return message, refs, tuple(rendered[n:])

    def remedy(self, fact: Fact, frozen: dict[str, Any] | None = None) -> FixEdit | None:
        """The failure's remedy (the rule's `fix:`, see Remedy and FixEdit). None when the
        rule has none, the field has no position of its own (never the whole fact), or a
        template fails or renders empty (a remedy is never a guess). What the templates give
        depends only on the fields they read: kept by those for the rest of the scan
        (`frozen`: see verdict)."""
        fix = self.rule.fix
        if fix is None:
            return None
        name = fix.field or self.rule.location
        if name is None or name not in fact.spans:
            return None
        try:
            key: tuple[Any, ...] | None = _frozen(fact.data, self.all_fields, frozen)
            made = self._remedies.get(key, _UNMADE)  # type: ignore[arg-type]
        except (TypeError, RecursionError):
            key, made = None, _UNMADE
        if made is _UNMADE:
            made = self._remedy(fix, self._context(fact.data, self.all_fields))
            if key is not None:
                keep_bounded(self._remedies, key, made, VERDICT_ENTRIES)
        if made is None:
            return None
        text, comment, entries, safe = made
        return FixEdit(fact.spans[name], text, comment, entries, safe)

    def _remedy(self, fix: Any, ctx: Any) -> tuple[str, str | None, str | None, bool] | None:
        """(text, comment, entries, safe) of a remedy in the CEL context ``ctx``."""
        view = self._view[0]

        def one_line(t: Any) -> str:
            text = str(t.render_strict(ctx, view))
            if not text.strip() or "\n" in text or "\r" in text:
                raise ValueError("empty, or more than one line")
            return text

        try:
            # a remedy whose safety cannot be told is unsafe
            safe = fix.unsafe is None or fix.unsafe.render_strict(ctx, view) == "false"
        except ValueError:
            safe = False
        try:
            if fix.entries is not None:
                entries = _entries(fix.entries.value_strict(ctx, view))
                return None if entries is None else ("", None, entries, safe)
            text = one_line(fix.text)
            # a comment template may render empty: the line's comment is then left alone
            comment = None if fix.comment is None else str(fix.comment.render_strict(ctx, view))
            if comment is not None and not comment.strip():
                comment = None
            elif comment is not None and ("\n" in comment or "\r" in comment):
                return None
        except ValueError:
            return None
        return text, comment, None, safe

    def distance(self, texts: tuple[str, ...], subject: str) -> Distance | None:
        """How far behind a failure is, from its distance texts (see explain)."""
        if len(texts) != 2:
            return None
        return drift_distance(texts[0], texts[1], self.baseline.data.get("release_dates"), subject)


@dataclass(frozen=True)
class Prepared:
    """What the policy check found before any fact is judged."""

    params: dict[str, dict[str, Any]]  # rule id -> its parameters (defaults applied)
    inapplicable: dict[str, str]  # rule id -> why it does not apply (a `requires:` key unset)


def _present(data: Any, path: Sequence[str]) -> bool:
    node = data
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True


def _guarded(rule: Rule) -> set[tuple[str, ...]]:
    """Baseline paths the rule tests with has() before reading under them."""
    return {tuple(m.split(".")[1:]) for m in _HAS_BASELINE.findall(" ".join(rule.sources))}


def _where(baseline: Baseline, dotted: str) -> tuple[str, int | None]:
    """The file and line that set `dotted`, or its nearest ancestor that has one (a list
    item is located at its list)."""
    ref = baseline.ref(dotted)
    if ref is not None:
        return ref.file, ref.line
    return (baseline.files[-1] if baseline.files else "baseline"), None


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    import difflib  # (only on this error path)

    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def prepare(
    rules: Mapping[str, Rule], baseline: Baseline, today: dt.date, preview: bool = False
) -> Prepared:
    """Check the policy as a whole before judging anything; a problem is a ConfigError
    (exit 2) naming the rule, the key and the baseline layers, never a per-fact runtime
    error or a silently dead rule:

    * every rule id under `rules:` and every pack under `packs:` exists;
    * every baseline key a running rule reads is set, unless the rule tests it with has()
      first, or declares it under `requires:` (then the rule does not apply, and says so);
    * every rule's parameters (`packs.<pack>.params`, then `rules.<ID>.params`, over the
      `default`s of the rule's `params:` schema) are valid against that schema."""
    layers = ", ".join(baseline.files) or "(no baseline)"
    settings = baseline.data.get("rules") or {}
    for rid in settings:
        if rid not in rules:
            where, line = _where(baseline, f"rules.{rid}")
            raise ConfigError(where, line, f"rules: no rule {rid}{_did_you_mean(rid, rules)}")
    packs_cfg = baseline.data.get("packs") or {}
    known_packs = {r.pack for r in rules.values()}
    for name in packs_cfg:
        if name not in known_packs:
            where, line = _where(baseline, f"packs.{name}")
            raise ConfigError(
                where, line, f"packs: no pack {name}{_did_you_mean(name, known_packs)}"
            )
    params: dict[str, dict[str, Any]] = {}
    inapplicable: dict[str, str] = {}
    unset: list[tuple[str, str]] = []  # (rule id, baseline key) a running rule reads
    for name, cfg in packs_cfg.items():
        given = set((cfg or {}).get("params") or {})
        declared = {
            p
            for r in rules.values()
            if r.pack == name
            for p in ((r.params_schema or {}).get("properties") or {})
        }
        for extra in sorted(given - declared):
            where, line = _where(baseline, f"packs.{name}.params.{extra}")
            raise ConfigError(
                where,
                line,
                f"packs.{name}.params.{extra}: no rule of pack {name} declares this parameter"
                + (f" ({', '.join(sorted(declared))})" if declared else "")
                + _did_you_mean(extra, declared),
            )
    for rule in rules.values():
        if not staging(rule, baseline, today, preview).enabled:
            continue
        lacking = [k for k in rule.requires if not _present(baseline.data, k.split("."))]
        if lacking:
            inapplicable[rule.id] = f"needs baseline key {', '.join(lacking)} (requires:)"
            continue
        guarded = _guarded(rule)
        for path in rule.baseline_paths:
            # has(baseline.a.b) answers for b, but a itself must exist (CEL raises otherwise)
            tested = next((i for i in range(1, len(path) + 1) if path[:i] in guarded), None)
            needed = path if tested is None else path[: tested - 1]
            if needed and not _present(baseline.data, needed):
                key = ".".join(
                    next(
                        needed[:i]
                        for i in range(1, len(needed) + 1)
                        if not _present(baseline.data, needed[:i])
                    )
                )
                unset.append((rule.id, key))
                break
        params[rule.id] = _params(rule, baseline, packs_cfg)
    if unset:
        keys = sorted({k for _, k in unset})
        listed = ", ".join(f"{rid} ({key})" for rid, key in unset[:8])
        more = f" and {len(unset) - 8} more" if len(unset) > 8 else ""
        raise ConfigError(
            baseline.files[-1] if baseline.files else "baseline",
            None,
            f"{len(unset)} running rule{'s' if len(unset) > 1 else ''} read"
            f"{'' if len(unset) > 1 else 's'} baseline keys no layer sets ({', '.join(keys)}): "
            "extend the embedded default (extends: [default]) or set them; or disable each "
            f"rule (rules: {{ID: {{enabled: false}}}}): {listed}{more}. Layers: {layers}",
        )
    return Prepared(params, inapplicable)


def _params(rule: Rule, baseline: Baseline, packs_cfg: Mapping[str, Any]) -> dict[str, Any]:
    pack_values = dict((packs_cfg.get(rule.pack) or {}).get("params") or {})
    rule_values = dict(baseline.rule_settings(rule.id).get("params") or {})
    schema = rule.params_schema
    if schema is None:
        if rule_values:
            where, line = _where(baseline, f"rules.{rule.id}.params")
            raise ConfigError(
                where, line, f"{rule.id} takes no parameters (no params: in {rule.file})"
            )
        return {}
    declared = schema.get("properties") or {}
    # a pack's params reach the rules that declare them
    merged = {k: v for k, v in pack_values.items() if k in declared}
    merged.update(rule_values)
    for name, sub in declared.items():
        if name not in merged and isinstance(sub, Mapping) and "default" in sub:
            merged[name] = sub["default"]
    import jsonschema

    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(merged)
    )
    if error is not None:
        path = ".".join(str(p) for p in error.absolute_path)
        dotted = f"rules.{rule.id}.params" + (f".{path}" if path else "")
        if path and path.split(".")[0] not in rule_values:
            dotted = f"packs.{rule.pack}.params.{path}"
        where, line = _where(baseline, dotted)
        raise ConfigError(
            where, line, f"{rule.id} params{'.' + path if path else ''}: {error.message}"
        )
    return merged


def evaluate(
    facts: Iterable[Fact],
    rules: Mapping[str, Rule],
    baseline: Baseline,
    today: dt.date,
    preview: bool = False,
    ready: Prepared | None = None,
    max_findings: int | None = None,
    memo: Memo | None = None,
) -> tuple[list[Finding], list[Diagnostic], dict[str, RuleTally]]:
    """Judge `facts`. `ready`: the policy check already made for these rules (a scan makes it
    once, before parsing anything); made here when not given. `max_findings`: stop judging
    once that many findings are made, with an error-level `scan-limit` diagnostic where it
    stopped (a repository, or a change, must not make a scan hold millions of findings).
    `memo`: verdicts and failure texts of earlier scans (the same judgements, by content)."""
    judging = Evaluation(rules, baseline, today, preview, ready, max_findings, memo)
    judging.feed(facts)
    return judging.result()


class Evaluation:
    """Judging fed a batch of facts at a time (`evaluate` in one go): a scan judges each
    file's facts as they are made and lets them go, so what it holds is its findings, not
    every fact of the repository. Batches are judged in the order fed; the result is what
    `evaluate` gives for their concatenation."""

    def __init__(
        self,
        rules: Mapping[str, Rule],
        baseline: Baseline,
        today: dt.date,
        preview: bool = False,
        ready: Prepared | None = None,
        max_findings: int | None = None,
        memo: Memo | None = None,
        spill: int | None = None,
    ) -> None:
        """`spill`: findings go to an unnamed temporary file a batch of that many at a time
        (between facts), and are read back by `result`: a scan of many findings does not
        keep them scattered over its heap while it parses (see `Spool`)."""
        if ready is None:
            ready = prepare(rules, baseline, today, preview)
        self._ready, self._baseline, self._memo = ready, baseline, memo
        self._max = max_findings
        # judges are built on the first fact of their kind: a rule with nothing to judge costs
        # no CEL context
        self._pending: dict[str, list[tuple[Rule, Staging]]] = defaultdict(list)
        self._by_kind: dict[str, list[_Judge]] = {}
        self.tallies: dict[str, RuleTally] = {}
        for rule in rules.values():
            st = staging(rule, baseline, today, preview)
            if not st.enabled or rule.id in ready.inapplicable:
                continue
            self._pending[rule.applies_to].append((rule, st))
            self.tallies[rule.id] = RuleTally(counted=st.counted)
        self.findings: list[Finding] = []  # those not spilled yet
        self._spill = spill
        self._spool: Spool[Finding] | None = None
        self._spilled = 0  # findings in the spool
        self.diagnostics: list[Diagnostic] = []
        self._occurrences: dict[tuple[str, str, str], int] = defaultdict(int)
        self.stopped = False  # the findings limit was reached: nothing more is judged
        # what the limit's diagnostic says was left, given how many facts of the batch were
        # (by default that count, when the batch's length is known)
        self.left: Callable[[int | None], str] = lambda n: (
            "" if n is None else f" ({count(n, 'fact')})"
        )

    def feed(self, facts: Iterable[Fact], total: int | None = None) -> bool:
        """Judge `facts` (`total`: how many, when known, for the limit's message); False once
        the findings limit stopped judging."""
        if self.stopped:
            return False
        if total is None and isinstance(facts, Sequence):
            total = len(facts)
        findings, tallies, occurrences = self.findings, self.tallies, self._occurrences
        # the limit, less what was spilled: `findings` holds the rest
        max_findings = self._max if self._max is None else self._max - self._spilled
        for n, fact in enumerate(facts):
            if max_findings is not None and len(findings) >= max_findings:
                self._stop(fact, total - n if total is not None else None)
                return False
            if self._spill is not None and len(findings) >= self._spill:
                # (between facts: a fact's findings are all at hand if the limit drops some)
                if self._spool is None:
                    self._spool = Spool[Finding]()
                self._spool.write(findings)
                self._spilled += len(findings)
                if max_findings is not None:
                    max_findings -= len(findings)
                findings = self.findings = []
            judges = self._by_kind.get(fact.kind)
            if judges is None:
                judges = self._by_kind[fact.kind] = [
                    _Judge(
                        rule, st, self._baseline, self._ready.params.get(rule.id, {}), self._memo
                    )
                    for rule, st in self._pending.get(fact.kind, ())
                ]
            frozen: dict[str, Any] = {}  # this fact's fields, frozen once for all its judges
            for judge in judges:
                rule = judge.rule
                tally = tallies[rule.id]
                out = judge.verdict(fact, frozen)
                if out.error:
                    self.diagnostics.append(
                        Diagnostic(
                            fact.path,
                            fact.span,
                            "rule-error",
                            f"{rule.id} could not be evaluated here ({out.error}); "
                            f"rule file {rule.file}",
                            Level.ERROR,
                        )
                    )
                elif not out.applicable:
                    tally.not_applicable += 1
                elif out.passed:
                    tally.passed += 1
                else:
                    tally.failed += 1
                    message, refs, distance = judge.explain(fact, frozen)
                    key = (rule.id, fact.path, fact.target)
                    occurrences[key] += 1
                    subject = subject_of(fact.kind, fact.data, judge.fields)
                    findings.append(
                        Finding(
                            rule_id=rule.id,
                            category=rule.category,
                            level=judge.staging.level,
                            path=fact.path,
                            span=fact.span_of(rule.location),
                            message=message,
                            target=fact.target,
                            fingerprint=fingerprint(
                                rule.id, fact.path, fact.target, occurrences[key]
                            ),
                            fact_kind=fact.kind,
                            baseline_refs=refs,
                            enforced=judge.staging.enforced,
                            subject=subject,
                            distance=judge.distance(distance, subject) if distance else None,
                            fix=judge.remedy(fact, frozen),
                        )
                    )
            if max_findings is not None and len(findings) > max_findings:
                # the rules of this fact went past the limit: no more findings than it says
                for dropped in findings[max_findings:]:
                    tallies[dropped.rule_id].failed -= 1
                del findings[max_findings:]
                self._stop(fact, total - n if total is not None else None)
                return False
        return True

    def _stop(self, fact: Fact, left: int | None) -> None:
        """Judging ends at `fact` (`left`: facts of the batch not judged, it included)."""
        limit = self._max or 0
        self.diagnostics.append(
            Diagnostic(
                fact.path,
                fact.span,
                "scan-limit",
                f"the scan reached its limit of {count(limit, 'finding')} (--max-findings) "
                f"while judging this file: what is observed from here in it and in the files "
                f"judged after it{self.left(left)} was not judged; fix or except the findings "
                "so far, scan directories on their own, or raise the limit",
                Level.ERROR,
            )
        )
        self.stopped = True

    def result(self) -> tuple[list[Finding], list[Diagnostic], dict[str, RuleTally]]:
        """The findings (sorted by place), diagnostics and tallies of everything fed."""
        if self._spool is not None:
            kept, self.findings = self.findings, []
            for batch in self._spool.replay():
                self.findings += batch
            self.findings += kept
            self._spool.close()
            self._spool, self._spilled = None, 0
        self.findings.sort(key=lambda f: (f.path, f.span.start_line, f.span.start_col, f.rule_id))
        return self.findings, self.diagnostics, self.tallies


def _truthy(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    raise TypeError(f"expected a bool, got {type(v).__name__} {v!r}")
