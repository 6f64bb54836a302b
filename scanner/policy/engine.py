"""Judging facts: each rule that applies to a fact's kind is evaluated to pass, fail or not
applicable; failures become findings with the baseline layer that set the judged value."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..facts.subjects import subject as subject_of
from ..model import BaselineRef, Diagnostic, Fact, Finding, Level, RuleTally
from . import celrt as cel
from .baseline import Baseline
from .functions import FUNCTIONS
from .rules import Rule


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


def _frozen(v: Any) -> Any:
    if isinstance(v, dict):
        return tuple(sorted((k, _frozen(x)) for k, x in v.items()))
    if isinstance(v, list):
        return tuple(_frozen(x) for x in v)
    return v


@dataclass(frozen=True)
class _Verdict:
    """A rule's verdict for one combination of the fact fields its when/assert read."""

    applicable: bool
    passed: bool
    error: str = ""


class _Judge:
    """Evaluates one rule, once per distinct combination of the fact fields it judges by.

    Large repositories repeat themselves (the same module source, provider, action or base
    image over and over), and building a CEL context is the expensive step, so verdicts are
    memoised by the projection of the fact onto the rule's verdict fields; messages are
    rendered only for failures. One CEL context per rule holds the baseline (only the keys the
    rule reads) and the functions, converted once; the fact is handed to CEL through a
    variable resolver, so each evaluation converts only the fact's few fields."""

    def __init__(self, rule: Rule, st: Staging, baseline: Baseline) -> None:
        self.rule = rule
        self.staging = st
        self.baseline = baseline
        self.fields = rule.verdict_fields
        self.all_fields = rule.fact_fields
        self.cache: dict[tuple[Any, ...], _Verdict] = {}
        # the fact under evaluation, in a cell the resolver closes over: the CEL context (a
        # native object the garbage collector cannot see into) must not hold this judge, or
        # the judge, its rule, baseline and verdict cache would live as long as the process
        # (measured: ~1 MB per repository of an org scan)
        view: list[dict[str, Any]] = [{}]
        self._view = view
        base = project(baseline.data, rule.baseline_paths, rule.presence_paths)
        self._ctx = cel.Context(variables={"baseline": base}, functions=dict(FUNCTIONS))
        self._ctx.set_variable_resolver(lambda name: view[0] if name == "fact" else None)

    def _context(self, data: Mapping[str, Any], fields: tuple[str, ...]) -> Any:
        self._view[0] = {f: data.get(f) for f in fields}
        return self._ctx

    def verdict(self, fact: Fact) -> _Verdict:
        data = fact.data
        try:
            key: tuple[Any, ...] | None = tuple(_frozen(data.get(f)) for f in self.fields)
            hit = self.cache.get(key)  # type: ignore[arg-type]
        except TypeError:  # an unhashable oddity: judge without the memo
            key, hit = None, None
        if hit is not None:
            return hit
        out = self._evaluate(self._context(data, self.fields))
        if key is not None:
            self.cache[key] = out
        return out

    def _evaluate(self, ctx: Any) -> _Verdict:
        rule = self.rule
        try:
            if rule.when is not None and not _truthy(rule.when.execute(ctx)):
                return _Verdict(False, False)
            return _Verdict(True, _truthy(rule.assertion.execute(ctx)))
        except Exception as e:  # CEL runtime errors: reported per fact, the scan goes on
            return _Verdict(False, False, error=f"{type(e).__name__}: {e}")

    def explain(self, fact: Fact) -> tuple[str, tuple[BaselineRef, ...]]:
        """Message and baseline provenance of a failure."""
        ctx = self._context(fact.data, self.all_fields)
        message = self.rule.message.render(ctx)
        if self.staging.note:
            message = f"{message} [staged: {self.staging.note}]"
        refs = tuple(
            r
            for r in (self.baseline.ref(k.render(ctx)) for k in self.rule.baseline_keys)
            if r is not None
        )
        return message, refs


def evaluate(
    facts: Iterable[Fact],
    rules: Mapping[str, Rule],
    baseline: Baseline,
    today: dt.date,
    preview: bool = False,
) -> tuple[list[Finding], list[Diagnostic], dict[str, RuleTally]]:
    # judges are built on the first fact of their kind: a rule with nothing to judge costs
    # no CEL context
    pending: dict[str, list[tuple[Rule, Staging]]] = defaultdict(list)
    by_kind: dict[str, list[_Judge]] = {}
    tallies: dict[str, RuleTally] = {}
    for rule in rules.values():
        st = staging(rule, baseline, today, preview)
        if not st.enabled:
            continue
        pending[rule.applies_to].append((rule, st))
        tallies[rule.id] = RuleTally(counted=st.counted)
    findings: list[Finding] = []
    diagnostics: list[Diagnostic] = []
    occurrences: dict[tuple[str, str, str], int] = defaultdict(int)
    for fact in facts:
        judges = by_kind.get(fact.kind)
        if judges is None:
            judges = by_kind[fact.kind] = [
                _Judge(rule, st, baseline) for rule, st in pending.get(fact.kind, ())
            ]
        for judge in judges:
            rule = judge.rule
            tally = tallies[rule.id]
            out = judge.verdict(fact)
            if out.error:
                diagnostics.append(
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
                message, refs = judge.explain(fact)
                key = (rule.id, fact.path, fact.target)
                occurrences[key] += 1
                findings.append(
                    Finding(
                        rule_id=rule.id,
                        category=rule.category,
                        level=judge.staging.level,
                        path=fact.path,
                        span=fact.span_of(rule.location),
                        message=message,
                        target=fact.target,
                        fingerprint=fingerprint(rule.id, fact.path, fact.target, occurrences[key]),
                        fact_kind=fact.kind,
                        baseline_refs=refs,
                        enforced=judge.staging.enforced,
                        subject=subject_of(fact.kind, fact.data, judge.fields),
                    )
                )
    findings.sort(key=lambda f: (f.path, f.span.start_line, f.span.start_col, f.rule_id))
    return findings, diagnostics, tallies


def _truthy(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    raise TypeError(f"expected a bool, got {type(v).__name__} {v!r}")
