"""The adoption history an org state holds: one snapshot per org scan, and the scans a report
compares with (the previous one, the one N weeks before, one per week for the trend).

A scan counts when it recorded rule outcomes (schema 3 and later) for at least one
repository; a run still in progress does not. Its records are the repositories it judged
(scanned, or unchanged and carried over with their outcomes); skipped and failed ones are
listed apart, by name, so a report can say what it could not count.

A scan's records are read when first needed and can be let go (`release`): a report over
a year of weekly scans of a large org holds a few scans at a time, not all of them.

Everything read here was written by `tether org`, but a state may have been restored from a
cache or edited: a value of the wrong shape raises :class:`BadState`, which the command
reports, never a traceback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..org.state import Run, StateStore
from ..org.teams import UNOWNED
from .score import LevelDef, RepoRecord, RuleInfo, Snapshot, snapshot

WEEK = dt.timedelta(days=7)
# a weekly cron does not start to the second: "N weeks ago" takes a scan up to a day late
SLACK = dt.timedelta(days=1)

Loaded = tuple[list[RepoRecord], dict[str, str]]


class BadState(ValueError):
    """A value in the state that tether did not write (see the module doc)."""


@dataclass
class Scan:
    """One org scan as the report reads it."""

    run: Run
    started: dt.datetime
    levels: list[LevelDef]
    rules: dict[str, RuleInfo]
    _load: Callable[[], Loaded] = field(repr=False)
    _names: Callable[[], frozenset[str]] = field(repr=False)
    _loaded: Loaded | None = field(default=None, repr=False)
    _seen: frozenset[str] | None = field(default=None, repr=False)
    _snapshot: Snapshot | None = field(default=None, repr=False)

    def _data(self) -> Loaded:
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    @property
    def records(self) -> list[RepoRecord]:
        return self._data()[0]

    @property
    def not_judged(self) -> dict[str, str]:
        """repository -> why it is not counted (skipped, failed, not in this scan)."""
        return self._data()[1]

    @property
    def seen(self) -> frozenset[str]:
        """Every repository the scan named, judged or not (names only: nothing else is
        read for it)."""
        if self._seen is None:
            self._seen = self._names()
        return self._seen

    @property
    def week(self) -> str:
        year, week, _ = self.started.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            self._snapshot = snapshot(self.records, self.levels, self.rules)
        return self._snapshot

    def release(self) -> None:
        """Let the records and scores go (they are read again when asked for)."""
        self._loaded = None
        self._snapshot = None


def parse_time(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise BadState(f"a run started at {str(text)[:40]!r}, not a time") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def orgs(state: StateStore) -> list[str]:
    """The orgs with at least one scan, most recently scanned last."""
    seen: dict[str, int] = {}
    for run in state.runs():
        if run.org is not None:
            seen[run.org] = run.id
    return sorted(seen, key=seen.__getitem__)


def _levels(info: dict[str, Any]) -> list[LevelDef]:
    levels = info.get("levels") or []
    if not isinstance(levels, list):
        raise BadState("the run's levels are not a list")
    out = []
    for lv in levels:
        rules = lv.get("rules") if isinstance(lv, dict) else None
        if not isinstance(rules, list):
            raise BadState("a level without a list of rules")
        out.append(LevelDef(str(lv.get("name")), tuple(str(r) for r in rules)))
    return out


def _rules(info: dict[str, Any]) -> dict[str, RuleInfo]:
    rules = info.get("rules") or {}
    if not isinstance(rules, dict):
        raise BadState("the run's rules are not a mapping")
    return {
        str(rid): RuleInfo(
            str(r.get("title", "")), str(r.get("category", "")), str(r.get("pack", ""))
        )
        for rid, r in rules.items()
        if isinstance(r, dict)
    }


def _counts(value: Any) -> dict[str, int]:
    out = {}
    for k, v in (value or {}).items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise BadState(f"a count of {str(k)[:40]} that is not a count")
        out[str(k)] = v
    return out


def _delivery(data: Any) -> dict[str, Any] | None:
    from ..org.delivery import Delivery

    try:
        d = Delivery.from_json(data)
    except ValueError as e:
        raise BadState(str(e)) from None
    return None if d is None else d.to_json()


def _loader(state: StateStore, run_id: int) -> Callable[[], Loaded]:
    def load() -> Loaded:
        try:
            outcomes = state.rule_outcomes(run_id)
            results = state.results(run_id)
        except (ValueError, TypeError, OverflowError) as e:
            raise BadState(f"run {run_id}: {e}") from None
        records = []
        not_judged = {}
        for repo, result in sorted(results.items()):
            rules = outcomes.get(repo)
            if result.status in ("scanned", "unchanged") and rules is not None:
                records.append(
                    RepoRecord(
                        repo=repo,
                        team=str(result.team or UNOWNED),
                        team_source=str(result.team_source or ""),
                        rules=rules,
                        by_category=_counts(result.counts_by_category),
                        delivery=_delivery(result.extra.get("delivery")),
                    )
                )
            else:
                not_judged[repo] = (
                    f"{result.status}: {result.reason}" if result.reason else result.status
                )
        return records, not_judged

    return load


def scans(state: StateStore, org: str, since: dt.date | None = None) -> list[Scan]:
    """Every finished-or-failed scan of ``org`` with outcomes, oldest first (from ``since``);
    records are read when first needed."""
    with_outcomes = state.runs_with_outcomes()
    out = []
    for run in state.runs(org):
        if run.status == "running" or run.id not in with_outcomes:
            continue
        started = parse_time(run.started_at)
        if since is not None and started.date() < since:
            continue
        out.append(
            Scan(
                run=run,
                started=started,
                levels=_levels(run.info),
                rules=_rules(run.info),
                _load=_loader(state, run.id),
                _names=lambda run_id=run.id: state.repos(run_id),  # type: ignore[misc]
            )
        )
    return out


def merge_shards(per_state: Sequence[Sequence[Scan]]) -> tuple[list[Scan], list[str]]:
    """One history from the states of an org scanned in shards (`tether org --shard K/N`,
    each shard with a state of its own): the scans of one ISO week are one scan, holding every
    shard's repositories (a repository in two shards counts once, from the later scan), dated
    and described (levels, rules, run id) by the week's latest shard scan. Also says which
    weeks lack a shard's scan. One state's history is returned as it is."""
    if len(per_state) == 1:
        return list(per_state[0]), []
    by_week: dict[str, list[Scan]] = {}
    states_by_week: dict[str, set[int]] = {}
    for i, history in enumerate(per_state):
        for scan in history:
            by_week.setdefault(scan.week, []).append(scan)
            states_by_week.setdefault(scan.week, set()).add(i)
    out = []
    warnings = []
    for week in sorted(by_week):
        group = sorted(by_week[week], key=lambda s: s.started)
        present = len(states_by_week[week])  # a shard that ran twice that week counts once
        if present < len(per_state):
            warnings.append(
                f"{week}: {present} of the {len(per_state)} states have a scan; the others' "
                "repositories are not counted that week"
            )
        latest = group[-1]
        out.append(
            Scan(
                run=latest.run,
                started=latest.started,
                levels=latest.levels,
                rules=latest.rules,
                _load=_merged(group),
                _names=lambda group=group: frozenset().union(*(s.seen for s in group)),  # type: ignore[misc]
            )
        )
    return out, warnings


def _merged(group: Sequence[Scan]) -> Callable[[], Loaded]:
    def load() -> Loaded:
        records: dict[str, RepoRecord] = {}
        not_judged: dict[str, str] = {}
        for scan in group:
            for record in scan.records:
                records[record.repo] = record
                not_judged.pop(record.repo, None)
            for repo, why in scan.not_judged.items():
                if repo not in records:
                    not_judged[repo] = why
            scan.release()
        return sorted(records.values(), key=lambda r: r.repo), not_judged

    return load


def uncounted_newer(state: StateStore, org: str, counted: Sequence[Scan]) -> list[str]:
    """What to say of finished runs newer than the newest counted scan that recorded no rule
    outcome (every repository failed or was skipped): the report would otherwise show an
    older week as the latest without a word."""
    newest = max((s.run.id for s in counted), default=0)
    out = []
    for run in state.runs(org):
        if run.status == "running" or run.id <= newest:
            continue
        statuses: dict[str, int] = {}
        for result in state.results(run.id).values():
            statuses[result.status] = statuses.get(result.status, 0) + 1
        what = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())) or "nothing"
        out.append(
            f"the org scan started {run.started_at} judged no repository ({what}): this "
            "report shows the newest scan that did"
        )
    return out


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
