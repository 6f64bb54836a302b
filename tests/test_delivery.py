"""Delivery signals beside adoption (issue 12, `tether org --delivery`): deployments per week
and the failed share over 28 days, from the Deployments API or the golden deploy workflow's
runs, through the real client against tests/github_fake.py, into `tether report`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from scanner.cli import main
from scanner.org.delivery import Delivery, measure
from scanner.org.run import OrgOptions, run_org
from scanner.policy.operator import load as load_policy
from tests.github_fake import FakeGitHub
from tests.org_world import World
from tests.test_adoption_report import _validate
from tests.test_org_scan import factory

NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
GOLDEN = "acme/platform/.github/workflows/deploy.yml"


def _at(days_ago: float) -> str:
    return (NOW - dt.timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _deployments(fake: FakeGitHub, repo: str, states: list[tuple[float, str | None]]) -> None:
    """Deployments to production `days_ago`, each with its latest status (None: none)."""
    items = []
    for i, (days_ago, state) in enumerate(sorted(states)):  # newest first
        ident = hash((repo, i)) % 10**9
        items.append({"id": ident, "environment": "production", "created_at": _at(days_ago)})
        fake.deployment_statuses[ident] = [{"state": state}] if state else []
    fake.deployments[repo] = items


def test_deployments_api_counts_finished_deployments_in_the_window(tmp_path: Path) -> None:
    with FakeGitHub() as fake:
        World(fake, tmp_path).publish("api", {"README.md": "x\n"})
        _deployments(
            fake,
            "acme/api",
            [(1, "success"), (3, "failure"), (5, "inactive"), (8, "error"), (9, "in_progress")]
            + [(10, None), (40, "success")],  # no status yet; outside the 28 days
        )
        fake.deployments["acme/api"].append(
            {"id": 1, "environment": "staging", "created_at": _at(2)}
        )
        client = factory(fake)()
        got = measure(client, "acme/api", NOW)
        assert got == Delivery("deployments", 4, 2)
        assert (got.per_week, got.failed_share) == (1.0, 50.0)
        # any environment: the staging one has no status, so it does not count either
        assert measure(client, "acme/api", NOW, environment=None).deployments == 4
        client.close()


def test_golden_workflow_runs_when_there_are_no_deployments(tmp_path: Path) -> None:
    with FakeGitHub() as fake:
        World(fake, tmp_path).publish("web", {"README.md": "x\n"})

        def run(days_ago: float, conclusion: str, path: str = GOLDEN) -> dict[str, Any]:
            return {
                "created_at": _at(days_ago),
                "status": "completed",
                "conclusion": conclusion,
                "referenced_workflows": [{"path": f"{path}@refs/heads/main", "sha": "0" * 40}],
            }

        fake.runs["acme/web"] = [
            run(1, "success"),
            run(2, "failure"),
            run(3, "cancelled"),  # not a deployment
            run(4, "success", "acme/other/.github/workflows/lint.yml"),
            run(30, "success"),  # outside the window
        ]
        client = factory(fake)()
        assert measure(client, "acme/web", NOW, workflow=GOLDEN.upper()) == Delivery(
            "workflow", 2, 1
        )
        assert measure(client, "acme/web", NOW) == Delivery("none", 0, 0)
        client.close()


def test_the_report_shows_delivery_beside_adoption(tmp_path: Path) -> None:
    (tmp_path / "tether-policy.yml").write_text(
        "baseline: [default]\nownership: {sources: [property:team]}\n"
    )
    with FakeGitHub() as fake:
        w = World(fake, tmp_path / "git")
        for name, team in (("api", "payments"), ("web", "payments"), ("docs", "docs")):
            w.publish(name, {"README.md": f"# {name}\n"})
            w.set_properties(name, team=team)
        _deployments(fake, "acme/api", [(1, "success"), (2, "success"), (3, "failure")])
        _deployments(fake, "acme/web", [(1, "success")])
        options = OrgOptions(
            org="acme",
            out=tmp_path / "out",
            state_dir=tmp_path / "state",
            policy=load_policy(tmp_path / "tether-policy.yml"),
            upload_wait=0.0,
            jobs=1,
            delivery=True,
            today=NOW.date(),
        )
        run_org(options, factory(fake))
        calls = [r.path for r in fake.requests if "/deployments" in r.path]
        assert any("/statuses" in c for c in calls)
    out = CliRunner().invoke(
        main, ["report", "--state", str(tmp_path / "state"), "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    _validate(doc)
    teams = {t["team"]: t["delivery"] for t in doc["teams"]}
    # payments: api 3 deployments (1 failed), web 1, over 28 days -> 4 / 4 weeks / 2 repos
    assert teams["payments"] == {
        "repositories": 2,
        "deployments": 4,
        "failed": 1,
        "deployments_per_week": 0.5,
        "failed_share": 25.0,
    }
    assert teams["docs"]["deployments"] == 0 and teams["docs"]["failed_share"] is None
    assert doc["delivery"]["repositories"] == 3
    repos = {r["repository"]: r["delivery"] for r in doc["repositories"]}
    assert repos["acme/docs"] == {
        "source": "none",
        "deployments": 0,
        "failed": 0,
        "window_days": 28,
    }
    html = CliRunner().invoke(
        main, ["report", "--state", str(tmp_path / "state"), "--format", "html"]
    )
    assert 'id="chart-delivery"' in html.stdout and "deploys / week" in html.stdout
    md = CliRunner().invoke(main, ["report", "--state", str(tmp_path / "state")])
    assert "deploys / week" in md.stdout and "Delivery over the last 28 days" in md.stdout
