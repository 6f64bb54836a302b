"""A synthetic org history for the adoption report (issue 12): REPOS repositories of TEAMS
teams, WEEKS weekly `tether org` runs recorded in an org state, through the state's own API
(`StateStore.record`), with tether's embedded rules (titles, categories, packs).

Each repository has a kind (which packs apply to it: Terraform, Kubernetes, workflows,
Dockerfiles; repository rules always), each team a maturity that moves it towards the golden
path week by week, a few rules are excepted, a few repositories unowned, skipped or failed.
Deterministic for the same arguments.

    python bench/gen_history.py STATE_DIR [--repos 1000] [--weeks 12] [--teams 40] [--seed 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scanner.org.state import Result, RuleOutcome, StateStore  # noqa: E402

KINDS = {
    "service": ("repository", "github-actions", "dockerfile", "kubernetes"),
    "infrastructure": ("repository", "github-actions", "terraform"),
    "library": ("repository", "github-actions"),
    "platform": ("repository", "github-actions", "kubernetes", "terraform", "dockerfile"),
    "ml": ("repository", "github-actions", "dockerfile", "kubernetes", "ai-gateway"),
}
LEVELS = [
    {"name": "bronze", "rules": ["REPO001", "GHA006"]},
    {"name": "silver", "rules": ["GHA001", "GHA002", "K8S001", "DOCKER001", "TF001"]},
    {"name": "gold", "rules": ["GHA003", "TF006", "K8S003", "DOCKER002", "REPO002"]},
]
START = dt.datetime(2026, 9, 7, 6, 0, tzinfo=dt.UTC)  # a Monday
TEAM_WORDS = [
    *("payments", "search", "checkout", "identity", "ledger", "catalog", "growth", "mobile"),
    *("web", "data", "platform", "security", "billing", "fraud", "ads", "maps", "media"),
    *("notify", "risk", "support"),
]


def _rules() -> dict[str, dict[str, str]]:
    from scanner.policy.rules import load_rules
    from scanner.scanning import embedded_rules_dir

    return {
        rid: {"title": r.title, "category": r.category.value, "pack": r.pack}
        for rid, r in sorted(load_rules([embedded_rules_dir()]).items())
        if r.status != "deprecated"
    }


def generate(
    state_dir: Path, repos: int = 1000, weeks: int = 12, teams: int = 40, seed: int = 1
) -> None:
    rng = random.Random(seed)
    rules = _rules()
    team_names = [
        f"{TEAM_WORDS[i % len(TEAM_WORDS)]}"
        + (f"-{i // len(TEAM_WORDS) + 1}" if i >= len(TEAM_WORDS) else "")
        for i in range(teams)
    ]
    maturity = {t: rng.uniform(0.35, 0.9) for t in team_names}
    pace = {t: rng.uniform(-0.005, 0.025) for t in team_names}  # per week
    plan = []
    for i in range(repos):
        kind = rng.choice(list(KINDS))
        team = rng.choice(team_names) if rng.random() > 0.05 else None
        source = rng.choice(
            [
                "custom property team",
                "catalog-info.yaml spec.owner",
                ".github/CODEOWNERS (owner of /)",
            ]
        )
        plan.append((f"acme/{kind}-{i:04d}", kind, team, source))
    # a rule's own difficulty: some are hard for everyone
    difficulty = {rid: rng.uniform(-0.25, 0.1) for rid in rules}
    # each repository's standing on each rule, and whether it has what the rule judges: the
    # same from week to week, so that weeks differ by the teams' pace and a little noise
    standing = {(repo, rid): rng.random() for repo, *_ in plan for rid in rules}
    absent = {(repo, rid) for repo, *_ in plan for rid in rules if rng.random() < 0.15}
    info = {"levels": LEVELS, "rules": rules}
    for week in range(weeks):
        when = (START + dt.timedelta(weeks=week, minutes=rng.randint(0, 30))).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        with StateStore(state_dir, clock=lambda when=when: when) as state:  # type: ignore[misc]
            run = state.resume_or_start(f"sha256:{seed}", "bench", org="acme", info=info)
            for repo, kind, team, source in plan:
                if rng.random() < 0.01:
                    state.record(run, Result(repo, "failed", "p", "bench", reason="GitHub: 502"))
                    continue
                packs = KINDS[kind]
                score = (maturity[team] if team else 0.3) + pace.get(team or "", 0.0) * week
                outcomes = {}
                by_category: dict[str, int] = {}
                for rid, meta in rules.items():
                    if meta["pack"] not in packs or (repo, rid) in absent:
                        outcomes[rid] = RuleOutcome(
                            "not_applicable", meta["category"], not_applicable=1
                        )
                        continue
                    roll = standing[(repo, rid)] + rng.uniform(-0.03, 0.03)
                    if roll < score + difficulty[rid]:
                        outcome = "pass"
                    elif roll > 0.97:
                        outcome = "excepted"
                    else:
                        outcome = "fail"
                        by_category[meta["category"]] = by_category.get(meta["category"], 0) + 1
                    behind = (
                        rng.randint(1, 4)
                        if outcome == "fail" and meta["category"] == "drift"
                        else None
                    )
                    outcomes[rid] = RuleOutcome(
                        outcome,  # type: ignore[arg-type]
                        meta["category"],
                        counted=rid != "K8S010",
                        passed=int(outcome == "pass"),
                        failed=int(outcome != "pass"),
                        excepted=int(outcome == "excepted"),
                        versions_behind=behind,
                        behind_level=rng.choice(("major", "minor", "patch")) if behind else None,
                        days_behind=behind * 45 if behind else None,
                    )
                state.record(
                    run,
                    Result(
                        repo,
                        "scanned",
                        f"sha256:{seed}",
                        "bench",
                        commit="0" * 40,
                        team=team or "unowned",
                        team_source=source if team else "no ownership source named an owner",
                        counts_by_category=by_category,
                        rules=outcomes,
                        # golden-path teams ship more often, and fail less (a made-up trend)
                        extra={
                            "delivery": {
                                "source": "deployments",
                                "deployments": (n := max(0, int(rng.gauss(score * 12, 3)))),
                                "failed": sum(rng.random() > score for _ in range(n)) // 2,
                                "window_days": 28,
                            }
                        },
                    ),
                )
            state.finish(run, "complete")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("state", type=Path)
    ap.add_argument("--repos", type=int, default=1000)
    ap.add_argument("--weeks", type=int, default=12)
    ap.add_argument("--teams", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    generate(args.state, args.repos, args.weeks, args.teams, args.seed)


if __name__ == "__main__":
    main()
