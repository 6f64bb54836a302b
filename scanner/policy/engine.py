"""Judging facts: each rule that applies to a fact's kind is evaluated to pass, fail or not
applicable; failures become findings with the baseline layer that set the judged value."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import cel

from ..model import Diagnostic, Fact, Finding, Level, RuleTally
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


def staging(rule: Rule, baseline: Baseline, today: dt.date) -> Staging:
    s = baseline.rule_settings(rule.id)
    enabled = s.get("enabled", rule.status != "deprecated")
    level = Level(s.get("severity", rule.severity.value))
    if s.get("enable_later"):
        return Staging(enabled, Level.NOTE, False, "enable_later: reported, never failing")
    enforce_from = s.get("enforce_from")
    if enforce_from:
        when = dt.date.fromisoformat(str(enforce_from))
        if today < when:
            lvl = Level.WARNING if level is Level.ERROR else level
            return Staging(enabled, lvl, True, f"becomes {level.value} on {when.isoformat()}")
    return Staging(enabled, level, True, "")


def fingerprint(rule_id: str, path: str, target: str, occurrence: int) -> str:
    """A logical fingerprint: survives line moves and edits elsewhere in the file."""
    h = hashlib.sha256(f"{rule_id}\0{path}\0{target}\0{occurrence}".encode()).hexdigest()
    return h[:32]


def evaluate(
    facts: Iterable[Fact],
    rules: Mapping[str, Rule],
    baseline: Baseline,
    today: dt.date,
) -> tuple[list[Finding], list[Diagnostic], dict[str, RuleTally]]:
    by_kind: dict[str, list[tuple[Rule, Staging]]] = defaultdict(list)
    tallies: dict[str, RuleTally] = {}
    for rule in rules.values():
        st = staging(rule, baseline, today)
        if not st.enabled:
            continue
        by_kind[rule.applies_to].append((rule, st))
        tallies[rule.id] = RuleTally()
    findings: list[Finding] = []
    diagnostics: list[Diagnostic] = []
    occurrences: dict[tuple[str, str, str], int] = defaultdict(int)
    functions = dict(FUNCTIONS)
    base = baseline.data
    for fact in facts:
        applicable = by_kind.get(fact.kind)
        if not applicable:
            continue
        ctx = cel.Context(
            variables={"fact": dict(fact.data), "baseline": base}, functions=functions
        )
        for rule, st in applicable:
            tally = tallies[rule.id]
            try:
                if rule.when is not None and not _truthy(rule.when.execute(ctx)):
                    tally.not_applicable += 1
                    continue
                ok = _truthy(rule.assertion.execute(ctx))
            except Exception as e:  # CEL runtime errors: report, keep scanning
                diagnostics.append(
                    Diagnostic(
                        fact.path,
                        fact.span,
                        "rule-error",
                        f"{rule.id} could not be evaluated here ({type(e).__name__}: {e}); "
                        f"rule file {rule.file}",
                        Level.ERROR,
                    )
                )
                continue
            if ok:
                tally.passed += 1
                continue
            tally.failed += 1
            message = rule.message.render(ctx)
            if st.note:
                message = f"{message} [staged: {st.note}]"
            key = (rule.id, fact.path, fact.target)
            occurrences[key] += 1
            refs = tuple(
                r
                for r in (baseline.ref(k.render(ctx)) for k in rule.baseline_keys)
                if r is not None
            )
            findings.append(
                Finding(
                    rule_id=rule.id,
                    category=rule.category,
                    level=st.level,
                    path=fact.path,
                    span=fact.span_of(rule.location),
                    message=message,
                    target=fact.target,
                    fingerprint=fingerprint(rule.id, fact.path, fact.target, occurrences[key]),
                    fact_kind=fact.kind,
                    baseline_refs=refs,
                    enforced=st.enforced,
                )
            )
    findings.sort(key=lambda f: (f.path, f.span.start_line, f.span.start_col, f.rule_id))
    return findings, diagnostics, tallies


def _truthy(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    raise TypeError(f"expected a bool, got {type(v).__name__} {v!r}")
