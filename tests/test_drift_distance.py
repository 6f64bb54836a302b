"""Drift distance (issue 12): a drift rule's `distance:` gives each finding how far it trails
the golden version (versions behind at the first level that differs; days where the baseline
records release dates), in the JSON report, through the result cache, and into the adoption
outcomes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.adoption.outcomes import outcomes_of
from scanner.cli import main
from scanner.model import Distance
from scanner.policy.engine import drift_distance

WORKFLOW = """\
name: ci
on: push
permissions: {contents: read}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v2
      - uses: actions/checkout@v4.1.0
      - uses: actions/setup-node@v3.1.0
"""
MAIN_TF = """\
terraform {
  required_version = "~> 1.3.0"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 4.0" }
  }
}
module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "3.14.0"
}
"""
BASELINE = """\
extends: [default]
actions:
  minimum: {actions/checkout: v4.2.0, actions/setup-node: v4}
release_dates:
  actions/checkout: {v2: 2019-12-17, v4.1.0: 2023-10-02, "4.2.0": 2024-10-07}
  terraform-aws-modules/vpc/aws: {3.14.0: "2022-04-01"}
"""


@pytest.mark.parametrize(
    ("current", "golden", "expected"),
    [
        ("v2", "v4.2.0", ("major", 2)),
        ("1.5.0", "3.1.0", ("major", 2)),  # not 4: minors across majors do not count
        ("3.9", "3.12", ("minor", 3)),
        ("1.3.x", "1.5.0", ("minor", 2)),  # a constraint's highest admitted version
        ("4.x", "5.40.0", ("major", 1)),
        ("5.1.2", "5.1.7", ("patch", 5)),
        ("v4.2.0", "v4.2.0", None),  # not behind
        ("5.0.0", "4.0.0", None),
        ("main", "v4", None),  # not a version
        ("", "v4", None),
    ],
)
def test_distance_at_the_first_level_that_differs(
    current: str, golden: str, expected: tuple[str, int] | None
) -> None:
    got = drift_distance(current, golden, None, "x")
    assert (None if got is None else (got.level, got.versions)) == expected


def test_days_need_both_release_dates_written_either_way() -> None:
    dates: dict[str, Any] = {"a": {"v1.0.0": "2024-01-01", "2.0.0": dt.date(2024, 3, 1)}}
    got = drift_distance("1.0.0", "v2.0.0", dates, "a")
    assert got == Distance("1.0.0", "v2.0.0", "major", 1, 60)
    assert drift_distance("1.0.0", "v3.0.0", dates, "a").days is None  # type: ignore[union-attr]
    assert drift_distance("1.0.0", "v2.0.0", dates, "b").days is None  # type: ignore[union-attr]
    assert drift_distance("1.0.0", "v2.0.0", {"a": "junk"}, "a").days is None  # type: ignore[union-attr]


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True, exist_ok=True)
    (repo / ".github" / "workflows" / "ci.yml").write_text(WORKFLOW)
    (repo / "main.tf").write_text(MAIN_TF)
    (repo / "Dockerfile").write_text("FROM python:3.9-slim\n")
    (tmp_path / "golden.yml").write_text(BASELINE)
    return repo


def _scan(tmp_path: Path, *extra: str) -> dict[str, Any]:
    repo = _repo(tmp_path)
    result = CliRunner().invoke(
        main,
        [
            "scan",
            str(repo),
            "--baseline",
            str(tmp_path / "golden.yml"),
            "--format",
            "json",
            "--cache-dir",
            str(tmp_path / "cache"),
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output  # drift findings are warnings
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _distances(doc: dict[str, Any]) -> dict[tuple[str, int], Any]:
    return {(f["rule_id"], f["region"]["start_line"]): f.get("distance") for f in doc["findings"]}


def test_findings_carry_their_distance_in_the_json_report(tmp_path: Path) -> None:
    got = _distances(_scan(tmp_path))
    assert got[("GHA003", 8)] == {
        "current": "v2",
        "golden": "v4.2.0",
        "level": "major",
        "versions": 2,
        "days": (dt.date(2024, 10, 7) - dt.date(2019, 12, 17)).days,
    }
    assert got[("GHA003", 9)] == {
        "current": "v4.1.0",
        "golden": "v4.2.0",
        "level": "minor",
        "versions": 1,
        "days": (dt.date(2024, 10, 7) - dt.date(2023, 10, 2)).days,
    }
    # the golden v4 of setup-node: a major tag; no release dates recorded
    assert got[("GHA003", 10)]["level"] == "major" and got[("GHA003", 10)]["days"] is None
    assert got[("TF006", 9)]["versions"] == 2 and got[("TF006", 9)]["days"] is None
    assert got[("TF002", 4)]["current"] == "4.x" and got[("TF002", 4)]["level"] == "major"
    assert got[("TF004", 2)]["level"] == "minor"
    assert got[("DOCKER002", 1)]["level"] == "minor"
    # rules without `distance:` carry none
    assert all(v is None for (rule, _), v in got.items() if rule.startswith("REPO00"))


def test_the_result_cache_keeps_distances(tmp_path: Path) -> None:
    first = _scan(tmp_path)
    second = _scan(tmp_path)
    assert second["timings"]["reused"] is True  # answered by the result cache
    first.pop("timings", None)
    second.pop("timings", None)
    assert _distances(first) == _distances(second)
    assert second == first


def test_outcomes_keep_the_worst_distance_and_the_most_days(tmp_path: Path) -> None:
    from scanner.pr import scan_repository
    from scanner.scanning import ScanOptions

    repo = _repo(tmp_path)
    report = scan_repository(
        repo, ScanOptions(baselines=[str(tmp_path / "golden.yml")], fact_cache=False)
    )
    gha003 = outcomes_of(report)["GHA003"]
    assert gha003.outcome == "fail"
    days = (dt.date(2024, 10, 7) - dt.date(2019, 12, 17)).days
    assert (gha003.behind_level, gha003.versions_behind, gha003.days_behind) == ("major", 2, days)
    assert outcomes_of(report)["REPO001"].versions_behind is None
