"""The adoption history an org state holds: one snapshot per org scan, and the scans a report
compares with (the previous one, the one N weeks before, one per week for the trend).

A scan counts when it recorded rule outcomes (schema 3 and later) for at least one
repository; a run still in progress does not. Its records are the repositories it judged
(scanned, or unchanged and carried over with their outcomes); skipped and failed ones are
listed apart, by name, so a report can say what it could not count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..org.state import Run, StateStore
from .score import LevelDef, RepoRecord, RuleInfo, Snapshot, snapshot

WEEK = dt.timedelta(days=7)
# a weekly cron does not start to the second: "N weeks ago" takes a scan up to a day late
SLACK = dt.timedelta(days=1)


@dataclass
class Scan:
    """One org scan as the report reads it."""

    run: Run
    started: dt.datetime
    records: list[RepoRecord]
    not_judged: dict[str, str]  # repository -> status and reason (skipped, failed)
    levels: list[LevelDef]
    rules: dict[str, RuleInfo]
    _snapshot: Snapshot | None = field(default=None, repr=False)

    @property
    def week(self) -> str:
        year, week, _ = self.started.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            self._snapshot = snapshot(self.records, self.levels, self.rules)
        return self._snapshot


def parse_time(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def orgs(state: StateStore) -> list[str]:
    """The orgs with at least one scan, most recently scanned last."""
    seen: dict[str, int] = {}
    for run in state.runs():
        if run.org is not None:
            seen[run.org] = run.id
    return sorted(seen, key=seen.__getitem__)


def scans(state: StateStore, org: str, since: dt.date | None = None) -> list[Scan]:
    """Every finished-or-failed scan of ``org`` with outcomes, oldest first (from ``since``)."""
    out = []
    for run in state.runs(org):
        if run.status == "running":
            continue
        started = parse_time(run.started_at)
        if since is not None and started.date() < since:
            continue
        outcomes = state.rule_outcomes(run.id)
        if not outcomes:
            continue
        records = []
        not_judged = {}
        for repo, result in sorted(state.results(run.id).items()):
            rules = outcomes.get(repo)
            if result.status in ("scanned", "unchanged") and rules is not None:
                records.append(
                    RepoRecord(
                        repo=repo,
                        team=result.team or "unowned",
                        team_source=result.team_source or "",
                        rules=rules,
                        by_category=result.counts_by_category,
                        delivery=_delivery(result.extra.get("delivery")),
                    )
                )
            else:
                not_judged[repo] = (
                    f"{result.status}: {result.reason}" if result.reason else result.status
                )
        info = run.info
        out.append(
            Scan(
                run=run,
                started=started,
                records=records,
                not_judged=not_judged,
                levels=[
                    LevelDef(str(lv.get("name")), tuple(str(r) for r in lv.get("rules") or ()))
                    for lv in info.get("levels") or ()
                    if isinstance(lv, dict)
                ],
                rules={
                    str(rid): RuleInfo(
                        str(r.get("title", "")), str(r.get("category", "")), str(r.get("pack", ""))
                    )
                    for rid, r in (info.get("rules") or {}).items()
                    if isinstance(r, dict)
                },
            )
        )
    return out


def merge_shards(per_state: Sequence[Sequence[Scan]]) -> list[Scan]:
    """One history from the states of an org scanned in shards (`tether org --shard K/N`,
    each shard with a state of its own): the scans of one ISO week are one scan, holding every
    shard's repositories (a repository in two shards counts once, from the later scan), dated
    and described (levels, rules, run id) by the week's latest shard scan. One state's
    history is returned as it is."""
    if len(per_state) == 1:
        return list(per_state[0])
    by_week: dict[str, list[Scan]] = {}
    for history in per_state:
        for scan in history:
            by_week.setdefault(scan.week, []).append(scan)
    out = []
    for week in sorted(by_week):
        group = sorted(by_week[week], key=lambda s: s.started)
        latest = group[-1]
        records: dict[str, RepoRecord] = {}
        not_judged: dict[str, str] = {}
        for scan in group:
            for record in scan.records:
                records[record.repo] = record
                not_judged.pop(record.repo, None)
            for repo, why in scan.not_judged.items():
                if repo not in records:
                    not_judged[repo] = why
        out.append(
            Scan(
                run=latest.run,
                started=latest.started,
                records=sorted(records.values(), key=lambda r: r.repo),
                not_judged=not_judged,
                levels=latest.levels,
                rules=latest.rules,
            )
        )
    return out


def _delivery(data: Any) -> dict[str, Any] | None:
    from ..org.delivery import Delivery

    d = Delivery.from_json(data)
    return None if d is None else d.to_json()


def previous(history: Sequence[Scan]) -> Scan | None:
    return history[-2] if len(history) >= 2 else None


def weeks_before(history: Sequence[Scan], weeks: int) -> Scan | None:
    """The latest scan at least ``weeks`` weeks (less a day's slack) before the newest."""
    if not history or weeks <= 0:
        return None
    cutoff = history[-1].started - weeks * WEEK + SLACK
    earlier = [s for s in history[:-1] if s.started <= cutoff]
    return earlier[-1] if earlier else None


def weekly(history: Sequence[Scan]) -> list[Scan]:
    """The last scan of each ISO week, oldest first: the trend's points."""
    by_week: dict[str, Scan] = {}
    for scan in history:
        by_week[scan.week] = scan
    return list(by_week.values())
