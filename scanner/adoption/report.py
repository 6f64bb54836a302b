"""The adoption report's one document (schema: scanner/schemas/adoption-report.schema.json),
built from the org state's history. JSON is this document; Markdown and HTML render it and
compute nothing of their own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..org.teams import UNOWNED
from .history import Scan, previous, weekly, weeks_before
from .score import CATEGORIES, Counts, Delta, Snapshot, delta, level_rank

SCHEMA = "https://tether.dev/schemas/adoption-report.schema.json"
STALE_DAYS = 14  # a weekly scan older than this is said to be stale


@dataclass(frozen=True)
class Options:
    weeks: int = 4  # compare with the scan this many weeks before the newest
    now: dt.datetime | None = None  # the report's own time (tests pin it)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 1)


def _counts(c: Counts) -> dict[str, Any]:
    return {
        "adoption": _pct(c.adoption),
        "passed": c.passed,
        "failed": c.failed,
        "excepted": c.excepted,
        "not_applicable": c.not_applicable,
    }


def _points(before: float | None, after: float | None) -> float | None:
    """Percentage points from ``before`` to ``after`` (None when either has no figure)."""
    if before is None or after is None:
        return None
    return round(100.0 * (after - before), 1)


def _scan_ref(scan: Scan) -> dict[str, Any]:
    return {"run": scan.run.id, "started_at": scan.run.started_at, "week": scan.week}


def _changes(earlier: Scan, latest: Scan, d: Delta) -> dict[str, Any]:
    levels = latest.snapshot.levels
    return {
        "scan": _scan_ref(earlier),
        "new": {
            "count": len(d.new),
            "items": [{"repository": r, "rule": k} for r, k in d.new],
        },
        "fixed": {
            "count": len(d.fixed),
            "items": [{"repository": r, "rule": k} for r, k in d.fixed],
        },
        "org_adoption": {
            "before": _pct(d.org[0]),
            "after": _pct(d.org[1]),
            "points": _points(*d.org),
        },
        "teams": [
            {"team": t, "before": _pct(b), "after": _pct(a), "points": _points(b, a)}
            for t, (b, a) in d.teams.items()
        ],
        "rules": [
            {"rule": r, "before": _pct(b), "after": _pct(a), "points": _points(b, a)}
            for r, (b, a) in d.rules.items()
        ],
        "levels": [
            {
                "team": t,
                "before": b,
                "after": a,
                "moved": "up" if level_rank(levels, a) > level_rank(levels, b) else "down",
            }
            for t, b, a in d.levels
        ],
    }


def build(
    org: str,
    history: Sequence[Scan],
    options: Options = Options(),
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """The report over ``history`` (oldest first; the newest is the one reported).
    ``warnings``: what the report cannot count (history.merge_shards says), shown with it."""
    now = options.now or dt.datetime.now(dt.UTC)
    doc: dict[str, Any] = {
        "$schema": SCHEMA,
        "tool": {"name": "tether", "version": __version__},
        "org": org,
        "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "delivery": None,
        "compare_weeks": options.weeks,
        "warnings": list(warnings),
        "notes": [],
    }
    if not history:
        doc.update(
            team_rules=[],
            scan=None,
            notes=[],
            levels=[],
            level_rules={},
            totals=None,
            teams=[],
            repositories=[],
            rules=[],
            changes={},
            trend=[],
            not_judged=[],
        )
        return doc
    latest = history[-1]
    snap = latest.snapshot
    doc["scan"] = _scan_ref(latest)
    doc["levels"] = snap.levels
    doc["level_rules"] = snap.level_rules
    doc["totals"] = {
        "repositories": len(snap.repos),
        "teams": len([t for t in snap.teams if t != UNOWNED]),
        "unowned": len(snap.teams[UNOWNED].repos) if UNOWNED in snap.teams else 0,
        **_counts(snap.org),
        "by_category": snap.by_category,
        "levels": _level_counts(snap),
    }
    compared = {
        key: earlier
        for key, earlier in (
            ("previous", previous(history)),
            ("weeks", weeks_before(history, options.weeks)),
        )
        if earlier is not None
    }
    team_deltas = {}
    for key, earlier in compared.items():
        # every repository a scan up to the earlier one named: not new to the org
        known = frozenset().union(
            *(s.seen for s in history[: history.index(earlier) + 1] if s is not latest)
        )
        team_deltas[key] = delta(earlier.snapshot, snap, known)
    if snap.delivery is not None:
        doc["delivery"] = {
            "window_days": snap.delivery.window_days,
            "repositories": snap.delivery.repositories,
            **_delivery(snap.delivery),
        }
    doc["teams"] = [
        {
            "team": t.team,
            "repositories": len(t.repos),
            **_counts(t.counts),
            "level": t.level,
            "levels": t.levels,
            "by_category": t.by_category,
            "behind": t.behind,
            "days_behind": t.days_behind,
            "change": {
                key: _points(*d.teams.get(t.team, (None, None))) for key, d in team_deltas.items()
            },
            **(
                {"delivery": {"repositories": t.delivery.repositories, **_delivery(t.delivery)}}
                if t.delivery is not None
                else {}
            ),
        }
        # worst first, as every format shows them; no figure last
        for t in sorted(
            snap.teams.values(),
            key=lambda t: (t.counts.adoption is None, t.counts.adoption or 0.0, t.team),
        )
    ]
    doc["repositories"] = [
        {
            "repository": r.repo,
            "team": r.team,
            "team_source": r.team_source,
            **_counts(r.counts),
            "level": r.level,
            "next_level": (
                {"level": r.next_level, "blocking": r.blocking} if r.next_level else None
            ),
            "failing": r.failing,
            "by_category": r.by_category,
            "behind": r.behind,
            "days_behind": r.days_behind,
            **({"delivery": dict(r.delivery)} if r.delivery is not None else {}),
        }
        for r in snap.repos.values()
    ]
    doc["rules"] = [
        {
            "rule": r.rule,
            "title": r.info.title,
            "category": r.info.category,
            "pack": r.info.pack,
            "counted": r.counted,
            **_counts(r.counts),
            "failing_repositories": r.failing,
        }
        for r in sorted(snap.rules.values(), key=_drifting_first)
    ]
    doc["team_rules"] = [
        {"team": team, "rule": rule, **_counts(c)} for (team, rule), c in snap.team_rules.items()
    ]
    doc["changes"] = {
        key: _changes(earlier, latest, team_deltas[key]) for key, earlier in compared.items()
    }
    if "weeks" in doc["changes"]:
        doc["changes"]["weeks"]["weeks"] = options.weeks
    else:
        doc["notes"].append(
            f"No scan {options.weeks} week{'s' if options.weeks != 1 else ''} before the "
            f"newest to compare with: the oldest counted is from {history[0].run.started_at}."
        )
    if "previous" not in compared:
        doc["notes"].append("The newest scan is the only one counted: nothing to compare with.")
    age = (now - latest.started).days
    if age > STALE_DAYS:
        doc["notes"].append(
            f"The newest scan is {age} days old: the org scan has not recorded a newer one."
        )
    keep = {id(latest), *(id(s) for s in compared.values())}
    doc["trend"] = []
    for s in weekly(history):
        doc["trend"].append(
            {
                **_scan_ref(s),
                "adoption": _pct(s.snapshot.org.adoption),
                "teams": {t: _pct(ts.counts.adoption) for t, ts in s.snapshot.teams.items()},
            }
        )
        if id(s) not in keep:
            s.release()  # a point of the trend is all it needs to give
    not_judged = dict(latest.not_judged)
    before = compared.get("previous")
    if before is not None:
        for repo in sorted(before.seen - latest.seen):
            not_judged[repo] = "not in this scan (archived, gone, or its shard did not run)"
    doc["not_judged"] = [{"repository": r, "why": why} for r, why in sorted(not_judged.items())]
    return doc


def _delivery(d: Any) -> dict[str, Any]:
    return {
        "deployments": d.deployments,
        "failed": d.failed,
        "deployments_per_week": d.per_week,
        "failed_share": d.failed_share,
    }


def _level_counts(snap: Snapshot) -> dict[str, int]:
    out = {name: 0 for name in [*snap.levels, "none"]}
    for r in snap.repos.values():
        out[r.level or "none"] += 1
    return out


def _drifting_first(r: Any) -> tuple[int, int, str]:
    """Counted rules first, the most failing repositories first, then by id."""
    return (0 if r.counted else 1, -r.counts.failed, r.rule)


__all__ = ["CATEGORIES", "Options", "build"]
