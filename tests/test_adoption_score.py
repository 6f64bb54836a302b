"""Adoption arithmetic on small cases computed by hand (scanner/adoption/score.py,
docs/adoption.md)."""

from __future__ import annotations

import pytest

from scanner.adoption.score import LevelDef, RepoRecord, RuleInfo, delta, snapshot
from scanner.org.state import RuleOutcome

RULES = {
    "REPO001": RuleInfo("Ownership declared", "ownership", "repository"),
    "GHA006": RuleInfo("Permissions declared", "compliance", "github-actions"),
    "GHA003": RuleInfo("Action not behind", "drift", "github-actions"),
    "TF001": RuleInfo("Provider approved", "bounded-autonomy", "terraform"),
    "TF006": RuleInfo("Module not behind", "drift", "terraform"),
    "K8S010": RuleInfo("Later", "compliance", "kubernetes"),
}
LEVELS = [
    LevelDef("bronze", ("REPO001",)),
    LevelDef("silver", ("github-actions",)),  # a pack: GHA006 and GHA003
    LevelDef("gold", ("terraform",)),
]


def rec(repo: str, team: str, **outcomes: str | RuleOutcome) -> RepoRecord:
    rules = {
        rule: v if isinstance(v, RuleOutcome) else RuleOutcome(v, RULES[rule].category)  # type: ignore[arg-type]
        for rule, v in outcomes.items()
    }
    return RepoRecord(repo, team, "custom property team", rules, {"drift": 1})


def test_repository_adoption_leaves_out_not_applicable_and_excepted_rules() -> None:
    # pass 2, fail 1, excepted 1, not applicable 1, one rule not counted (enable_later)
    snap = snapshot(
        [
            rec(
                "acme/api",
                "payments",
                REPO001="pass",
                GHA006="pass",
                GHA003=RuleOutcome(
                    "fail", "drift", versions_behind=2, behind_level="major", days_behind=40
                ),
                TF001="excepted",
                TF006="not_applicable",
                K8S010=RuleOutcome("fail", "compliance", counted=False),
            )
        ],
        LEVELS,
        RULES,
    )
    api = snap.repos["acme/api"]
    assert (api.counts.passed, api.counts.failed, api.counts.excepted) == (2, 1, 1)
    assert api.counts.not_applicable == 1
    assert api.counts.adoption == pytest.approx(2 / 3)
    assert api.failing == ["GHA003"]  # K8S010 fails but is not counted
    assert (api.behind, api.days_behind) == ({"major": 2, "minor": 0, "patch": 0}, 40)
    # bronze met; silver needs GHA003 too
    assert api.level == "bronze"
    assert (api.next_level, api.blocking) == ("silver", ["GHA003"])
    # the uncounted rule is shown with its outcome, flagged
    assert snap.rules["K8S010"].counted is False and snap.rules["K8S010"].failing == ["acme/api"]
    assert snap.org.adoption == pytest.approx(2 / 3)


def test_no_applicable_rule_gives_no_figure_not_full_marks() -> None:
    snap = snapshot([rec("acme/docs", "docs", TF001="not_applicable")], LEVELS, RULES)
    assert snap.repos["acme/docs"].counts.adoption is None
    assert snap.teams["docs"].counts.adoption is None
    # nothing fails: every level is reached (an unjudged rule does not block a level)
    assert snap.repos["acme/docs"].level == "gold"


def test_levels_are_cumulative_and_a_team_holds_its_lowest() -> None:
    snap = snapshot(
        [
            # gold's rules all pass but bronze fails: no level at all
            rec("acme/a", "payments", REPO001="fail", GHA006="pass", GHA003="pass", TF001="pass"),
            # silver: bronze and silver met, gold (terraform pack) fails
            rec(
                "acme/b", "payments", REPO001="pass", GHA006="excepted", GHA003="pass", TF006="fail"
            ),
            rec("acme/c", "search", REPO001="pass", GHA006="pass", GHA003="pass", TF001="pass"),
        ],
        LEVELS,
        RULES,
    )
    assert [snap.repos[r].level for r in ("acme/a", "acme/b", "acme/c")] == [None, "silver", "gold"]
    assert snap.teams["payments"].level is None
    assert snap.teams["payments"].levels == {"bronze": 0, "silver": 1, "gold": 0, "none": 1}
    assert snap.teams["search"].level == "gold"


def test_teams_rules_and_the_org_pool_repository_rule_pairs() -> None:
    snap = snapshot(
        [
            # payments: a: 3 pass 1 fail; b: 0 pass 1 fail -> 3/5
            rec("acme/a", "payments", REPO001="pass", GHA006="pass", GHA003="pass", TF001="fail"),
            rec("acme/b", "payments", REPO001="fail"),
            # search: 1 pass, 1 excepted -> 1/1
            rec("acme/c", "search", REPO001="pass", TF001="excepted"),
        ],
        LEVELS,
        RULES,
    )
    assert snap.teams["payments"].counts.adoption == pytest.approx(3 / 5)
    assert snap.teams["payments"].repos == ["acme/a", "acme/b"]
    assert snap.teams["search"].counts.adoption == 1.0
    assert snap.teams["search"].counts.excepted == 1
    # REPO001: pass in a and c, fail in b -> 2/3; TF001: fail in a, excepted in c -> 0/1
    assert snap.rules["REPO001"].counts.adoption == pytest.approx(2 / 3)
    assert snap.rules["REPO001"].failing == ["acme/b"]
    assert snap.rules["TF001"].counts.adoption == 0.0
    assert snap.rules["TF001"].counts.excepted == 1
    # org: 4 pass, 2 fail -> 4/6 (not 0.8, the mean of the teams' 3/5 and 1/1)
    assert snap.org.adoption == pytest.approx(4 / 6)
    assert snap.by_category["drift"] == 3  # one standing drift finding per repository


def test_delta_new_fixed_adoption_and_level_moves() -> None:
    week1 = snapshot(
        [
            rec("acme/a", "payments", REPO001="fail", GHA006="pass", GHA003="fail"),
            rec("acme/b", "search", REPO001="pass", GHA006="pass", GHA003="pass"),
            rec("acme/gone", "search", REPO001="fail"),
        ],
        LEVELS,
        RULES,
    )
    week2 = snapshot(
        [
            rec("acme/a", "payments", REPO001="pass", GHA006="pass", GHA003="fail"),
            rec("acme/b", "search", REPO001="pass", GHA006="fail", GHA003="pass"),
            rec("acme/new", "search", REPO001="fail"),
        ],
        LEVELS,
        RULES,
    )
    d = delta(week1, week2)
    assert d.new == [("acme/b", "GHA006"), ("acme/new", "REPO001")]
    # acme/gone was not judged in week 2: its failure is not "fixed"
    assert d.fixed == [("acme/a", "REPO001")]
    assert d.teams["payments"] == (pytest.approx(1 / 3), pytest.approx(2 / 3))
    # search: week 1: 3 pass of 4; week 2: 2 pass of 4
    assert d.teams["search"] == (pytest.approx(3 / 4), pytest.approx(2 / 4))
    assert d.rules["REPO001"] == (pytest.approx(1 / 3), pytest.approx(2 / 3))
    # payments: none -> bronze; search: gold (a repository failing bronze: none) -> none
    assert ("payments", None, "bronze") in d.levels
    assert ("search", None, None) not in d.levels
    assert d.org == (pytest.approx(4 / 7), pytest.approx(4 / 7))
