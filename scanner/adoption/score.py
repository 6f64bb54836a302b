"""Adoption scores: per repository, per team, per rule and for the org, with maturity levels
and the differences between two scans. Pure arithmetic over recorded rule outcomes
(docs/adoption.md states it, tests/test_adoption_score.py checks it on hand-computed cases).

* Only *counted* rules enter a score: a rule a baseline stages with ``enable_later`` is shown
  with its outcome but counted nowhere.
* **Adoption** of a repository: rules passing / (rules passing + rules failing). Rules that do
  not apply are left out; excepted rules are left out too and shown apart (an approved
  exception is neither adoption nor drift). No applicable rule: no figure (``None``), never
  100%.
* A **team**, a **rule** and the **org** pool their (repository, rule) pairs the same way: a
  team of one large and one small repository weighs each rule of each repository once.
* A repository reaches a **maturity level** when every counted rule of that level and of every
  level below it passes, is excepted or does not apply. A team's level is the lowest its
  repositories reached (the level every one of them holds).
* **Delivery** (when the org scan measured it): deployments per week of a team's or the
  org's repositories, as a repository's mean over the measured ones; the failed share, of all
  their deployments together.
* **Drift distance**: for each failing rule that measures it (a rule's `distance:`), its
  furthest finding's versions behind at the first level that differs (1.5.0 against 3.1.0
  is 2 major), summed per level (major, minor, patch) over a repository's rules and a team's
  repositories; days behind (where the baseline records release dates), the largest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..model import Category
from ..org.state import LEVELS, RuleOutcome

CATEGORIES = tuple(c.value for c in Category)
DRIFT_LEVELS = LEVELS  # of a drift distance, largest first
MET = frozenset({"pass", "excepted", "not_applicable"})


@dataclass(frozen=True)
class RuleInfo:
    """What a report shows of a rule (recorded with each run)."""

    title: str = ""
    category: str = ""
    pack: str = ""


@dataclass(frozen=True)
class LevelDef:
    name: str
    rules: tuple[str, ...]  # rule ids or packs, as the policy names them


@dataclass(frozen=True)
class RepoRecord:
    """One repository's recorded scan: the input of every score."""

    repo: str
    team: str
    team_source: str
    rules: Mapping[str, RuleOutcome]
    by_category: Mapping[str, int] = field(default_factory=dict)  # standing findings
    # org/delivery.Delivery.to_json() when the scan measured it (--delivery)
    delivery: Mapping[str, Any] | None = None


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    excepted: int = 0
    not_applicable: int = 0

    def add(self, outcome: str, n: int = 1) -> None:
        if outcome == "pass":
            self.passed += n
        elif outcome == "fail":
            self.failed += n
        elif outcome == "excepted":
            self.excepted += n
        else:
            self.not_applicable += n

    def merge(self, other: Counts) -> None:
        self.passed += other.passed
        self.failed += other.failed
        self.excepted += other.excepted
        self.not_applicable += other.not_applicable

    @property
    def applicable(self) -> int:
        return self.passed + self.failed

    @property
    def adoption(self) -> float | None:
        """Passing share of the applicable (passing or failing) pairs; None when none."""
        return self.passed / self.applicable if self.applicable else None


@dataclass
class RepoScore:
    repo: str
    team: str
    team_source: str
    counts: Counts
    level: str | None  # the highest level reached, None: not even the first
    failing: list[str]  # counted rules that fail, by id
    by_category: dict[str, int]
    behind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DRIFT_LEVELS, 0))
    days_behind: int | None = None
    delivery: Mapping[str, Any] | None = None
    next_level: str | None = None  # the level above `level` (None: the top, or no levels)
    blocking: list[str] = field(default_factory=list)  # its counted rules that fail


@dataclass
class TeamScore:
    team: str
    repos: list[str]
    counts: Counts
    level: str | None  # the lowest level of its repositories
    levels: dict[str, int]  # level name (or "none") -> repositories at it
    by_category: dict[str, int]
    behind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DRIFT_LEVELS, 0))
    days_behind: int | None = None
    delivery: Delivery | None = None


@dataclass
class Delivery:
    """Deployments over a window, pooled over repositories: per week, a repository's mean;
    the failed share, of all of them."""

    repositories: int = 0
    deployments: int = 0
    failed: int = 0
    window_days: int = 28

    def add(self, data: Mapping[str, Any]) -> None:
        self.repositories += 1
        self.deployments += int(data.get("deployments", 0))
        self.failed += int(data.get("failed", 0))
        self.window_days = int(data.get("window_days", self.window_days))

    @property
    def per_week(self) -> float | None:
        if not self.repositories:
            return None
        return round(self.deployments * 7 / self.window_days / self.repositories, 2)

    @property
    def failed_share(self) -> float | None:
        return round(100.0 * self.failed / self.deployments, 1) if self.deployments else None


@dataclass
class RuleScore:
    rule: str
    info: RuleInfo
    counted: bool
    counts: Counts  # over repositories
    failing: list[str]  # repositories


@dataclass
class Snapshot:
    """Every score of one scan."""

    repos: dict[str, RepoScore]
    teams: dict[str, TeamScore]
    rules: dict[str, RuleScore]
    org: Counts
    levels: list[str]  # level names, lowest first
    by_category: dict[str, int]
    delivery: Delivery | None = None  # the org's, when any repository was measured
    level_rules: dict[str, list[str]] = field(default_factory=dict)  # level -> its rule ids
    # (team, rule) -> counts over the team's repositories: the report's heatmap
    team_rules: dict[tuple[str, str], Counts] = field(default_factory=dict)


def expand_levels(
    levels: Sequence[LevelDef], rules: Mapping[str, RuleInfo]
) -> list[tuple[str, frozenset[str]]]:
    """Each level's rule ids, a pack standing for every rule of that pack."""
    out = []
    for level in levels:
        ids = set()
        for name in level.rules:
            if name in rules:
                ids.add(name)
            ids.update(r for r, info in rules.items() if info.pack and info.pack == name)
        out.append((level.name, frozenset(ids)))
    return out


def repo_level(
    outcomes: Mapping[str, RuleOutcome], levels: Sequence[tuple[str, frozenset[str]]]
) -> str | None:
    return next_level(outcomes, levels)[0]


def next_level(
    outcomes: Mapping[str, RuleOutcome], levels: Sequence[tuple[str, frozenset[str]]]
) -> tuple[str | None, str | None, list[str]]:
    """The highest level reached, the next one (None: the top is reached), and the counted
    rules that fail it (what stands between the repository and the next level)."""
    reached = None
    for name, ids in levels:
        blocking = sorted(
            rule
            for rule in ids
            if (o := outcomes.get(rule)) is not None and o.counted and o.outcome not in MET
        )
        if blocking:
            return reached, name, blocking
        reached = name
    return reached, None, []


def score_repo(record: RepoRecord, levels: Sequence[tuple[str, frozenset[str]]]) -> RepoScore:
    counts = Counts()
    failing = []
    behind = dict.fromkeys(DRIFT_LEVELS, 0)
    days: int | None = None
    for outcome, n in Counter(o.outcome for o in record.rules.values() if o.counted).items():
        counts.add(outcome, n)
    for rule, o in sorted(record.rules.items()):
        if o.counted and o.outcome == "fail":
            failing.append(rule)
            if o.behind_level in behind and o.versions_behind:
                behind[o.behind_level] += o.versions_behind
            if o.days_behind is not None:
                days = max(days or 0, o.days_behind)
    return RepoScore(
        repo=record.repo,
        team=record.team,
        team_source=record.team_source,
        counts=counts,
        level=(progress := next_level(record.rules, levels))[0],
        next_level=progress[1],
        blocking=progress[2],
        failing=failing,
        by_category={c: int(record.by_category.get(c, 0)) for c in CATEGORIES},
        behind=behind,
        days_behind=days,
        delivery=record.delivery,
    )


def _lowest(levels: Sequence[str], reached: Iterable[str | None]) -> str | None:
    rank = {name: i for i, name in enumerate(levels)}
    worst: int | None = None
    for name in reached:
        if name is None:
            return None
        worst = rank[name] if worst is None else min(worst, rank[name])
    return None if worst is None else levels[worst]


def snapshot(
    records: Iterable[RepoRecord],
    levels: Sequence[LevelDef],
    rules: Mapping[str, RuleInfo],
) -> Snapshot:
    """Every score of one scan from its repositories' records."""
    expanded = expand_levels(levels, rules)
    names = [name for name, _ in expanded]
    repos: dict[str, RepoScore] = {}
    records_by_repo = {r.repo: r for r in sorted(records, key=lambda r: r.repo)}
    # counted in C (Counter over generators): a report scores ~500k outcomes per scan. An
    # outcome a repository's baseline stages (enable_later) is kept apart: a rule counts in
    # a repository where it is counted, and is "not counted" only where it is nowhere
    by_rule: Counter[tuple[str, bool, str]] = Counter()
    by_team_rule: Counter[tuple[str, str, str]] = Counter()
    failing: dict[tuple[str, bool], list[str]] = {}
    categories: dict[str, str] = {}
    for record in records_by_repo.values():
        repos[record.repo] = score_repo(record, expanded)
        items = record.rules.items()
        by_rule.update((rule, o.counted, o.outcome) for rule, o in items)
        owner = record.team
        by_team_rule.update((owner, rule, o.outcome) for rule, o in items if o.counted)
        for rule, o in items:
            if o.outcome == "fail":
                failing.setdefault((rule, o.counted), []).append(record.repo)
            if rule not in categories:
                categories[rule] = o.category
    counted_somewhere = {rule for rule, counted, _ in by_rule if counted}
    rule_scores: dict[str, RuleScore] = {}
    for (rule, counted, outcome), n in by_rule.items():
        if counted != (rule in counted_somewhere):
            continue  # a staged repository's outcome, where other repositories count it
        rs = rule_scores.get(rule)
        if rs is None:
            rs = rule_scores[rule] = RuleScore(
                rule,
                rules.get(rule, RuleInfo(category=categories[rule])),
                counted,
                Counts(),
                failing.get((rule, counted), []),
            )
        rs.counts.add(outcome, n)
    team_rules: dict[tuple[str, str], Counts] = {}
    for (owner, rule, outcome), n in by_team_rule.items():
        team_rules.setdefault((owner, rule), Counts()).add(outcome, n)
    teams: dict[str, TeamScore] = {}
    for score in repos.values():
        team = teams.get(score.team)
        if team is None:
            team = teams[score.team] = TeamScore(
                score.team,
                [],
                Counts(),
                None,
                {n: 0 for n in [*names, "none"]},
                dict.fromkeys(CATEGORIES, 0),
            )
        team.repos.append(score.repo)
        team.counts.merge(score.counts)
        team.levels[score.level or "none"] += 1
        for c, n in score.by_category.items():
            team.by_category[c] += n
        for level, n in score.behind.items():
            team.behind[level] += n
        if score.days_behind is not None:
            team.days_behind = max(team.days_behind or 0, score.days_behind)
        if score.delivery is not None:
            if team.delivery is None:
                team.delivery = Delivery()
            team.delivery.add(score.delivery)
    for team in teams.values():
        team.level = _lowest(names, (repos[r].level for r in team.repos))
    org = Counts()
    by_category = dict.fromkeys(CATEGORIES, 0)
    delivery: Delivery | None = None
    for score in repos.values():
        org.merge(score.counts)
        if score.delivery is not None:
            delivery = delivery or Delivery()
            delivery.add(score.delivery)
        for c, n in score.by_category.items():
            by_category[c] += n
    return Snapshot(
        repos=repos,
        teams=dict(sorted(teams.items())),
        rules=dict(sorted(rule_scores.items())),
        org=org,
        levels=names,
        by_category=by_category,
        team_rules=dict(sorted(team_rules.items())),
        delivery=delivery,
        level_rules={name: sorted(ids) for name, ids in expanded},
    )


@dataclass
class Delta:
    """What changed from an earlier snapshot to a later one."""

    new: list[tuple[str, str]]  # (repository, rule) failing now, not before
    fixed: list[tuple[str, str]]  # failing before, judged now and not failing
    teams: dict[str, tuple[float | None, float | None]]  # adoption before, after
    rules: dict[str, tuple[float | None, float | None]]
    levels: list[tuple[str, str | None, str | None]]  # (team, before, after) where it moved
    org: tuple[float | None, float | None]


def _failing(snap: Snapshot) -> set[tuple[str, str]]:
    return {(repo, rule) for repo, score in snap.repos.items() for rule in score.failing}


def delta(before: Snapshot, after: Snapshot, known: frozenset[str] | None = None) -> Delta:
    """``after`` against ``before``. A repository judged in both counts its changes; one
    new to the org (not in ``known``, the repositories earlier scans named, judged or not)
    brings its failures as new; one that was known but not judged in ``before`` (it failed,
    or its shard was missing) brings nothing new, and one not judged in ``after`` fixes
    nothing."""
    was, now = _failing(before), _failing(after)
    known = known or frozenset()
    fixed = sorted(p for p in was - now if p[0] in after.repos)
    new = sorted(p for p in now - was if p[0] in before.repos or p[0] not in known)
    moves = []
    for team in sorted(set(before.teams) | set(after.teams)):
        a = before.teams.get(team)
        b = after.teams.get(team)
        if a is not None and b is not None and a.level != b.level:
            moves.append((team, a.level, b.level))
    return Delta(
        new=new,
        fixed=fixed,
        teams={
            t: (
                before.teams[t].counts.adoption if t in before.teams else None,
                after.teams[t].counts.adoption if t in after.teams else None,
            )
            for t in sorted(set(before.teams) | set(after.teams))
        },
        rules={
            r: (
                before.rules[r].counts.adoption if r in before.rules else None,
                after.rules[r].counts.adoption if r in after.rules else None,
            )
            for r in sorted(set(before.rules) | set(after.rules))
        },
        levels=moves,
        org=(before.org.adoption, after.org.adoption),
    )


def level_rank(levels: Sequence[str], name: str | None) -> int:
    """0 for no level, 1 for the first, ...: for "moved up" or "down"."""
    return 0 if name is None else levels.index(name) + 1 if name in levels else 0
