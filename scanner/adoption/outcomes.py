"""What the adoption report keeps of one repository's scan: each rule's outcome.

A rule *fails* a repository when a finding of it stands (not covered by an exception, or
beyond what the report lists: its tally counts more failures than were excepted); it is
*excepted* when every failure is covered by a recorded exception; it *passes* when it applied
to something and found nothing; otherwise it is *not applicable* (nothing it judges exists,
or a baseline key it needs is unset). A rule that is disabled is not in the report at all.
"""

from __future__ import annotations

from collections import Counter
from typing import cast

from ..model import Distance, Report
from ..org.state import LEVELS, Outcome, RuleOutcome


def outcomes_of(report: Report) -> dict[str, RuleOutcome]:
    """rule id -> outcome, for every rule the scan judged (see the module doc)."""
    standing = Counter(f.rule_id for f in report.findings)
    worst: dict[str, Distance] = {}  # the furthest behind of each rule's findings
    days: dict[str, int] = {}  # and the most days behind (maybe another finding's)
    for f in report.findings:
        d = f.distance
        if d is None:
            continue
        w = worst.get(f.rule_id)
        if w is None or _rank(d) > _rank(w):
            worst[f.rule_id] = d
        if d.days is not None:
            days[f.rule_id] = max(days.get(f.rule_id, 0), d.days)
    excepted = Counter(e.finding.rule_id for e in report.excepted)
    out: dict[str, RuleOutcome] = {}
    for rule_id, tally in sorted(report.tallies.items()):
        rule = report.rules.get(rule_id)
        if rule is None:
            continue
        n_exc = excepted[rule_id]
        outcome: str
        if standing[rule_id] or tally.failed > n_exc:
            outcome = "fail"
        elif n_exc:
            outcome = "excepted"
        elif tally.passed or tally.failed:
            outcome = "pass"
        else:
            outcome = "not_applicable"
        out[rule_id] = RuleOutcome(
            outcome=cast(Outcome, outcome),
            category=rule.category.value,
            counted=tally.counted,
            passed=tally.passed,
            failed=tally.failed,
            excepted=n_exc,
            not_applicable=tally.not_applicable,
            versions_behind=worst[rule_id].versions if rule_id in worst else None,
            behind_level=worst[rule_id].level if rule_id in worst else None,
            days_behind=days.get(rule_id),
        )
    return out


def _rank(d: Distance) -> tuple[int, int]:
    """Larger is further behind: a major version before any number of minor ones."""
    return (-LEVELS.index(d.level) if d.level in LEVELS else -9, d.versions)
