"""PR mode on real git repositories: findings the change introduces are new, the ones it
removes are fixed, and debt it merely moves (lines, renamed files) is unchanged."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.config import RepoConfig
from scanner.pr import scan_pr
from scanner.scanning import ScanOptions

from .conftest import validate_sarif, write_tree

BAD_PROVIDER = 'terraform {\n  required_providers {\n    x = { source = "someone/x" }\n  }\n}\n'
QUAY_POD = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {team: t, "
    "app.kubernetes.io/name: p}\nspec:\n  containers:\n    - name: c\n"
    "      image: {image}\n"
)
WORKFLOW = (
    "on: push\npermissions: {}\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n"
    "      - uses: stranger/thing@8f4b7f84864484a7bf31766abe9204da3cbe65b3\n"
)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.email", "t@example.com")
    git(r, "config", "user.name", "t")
    write_tree(
        r,
        {
            "infra/main.tf": BAD_PROVIDER,
            "k8s/pod.yaml": QUAY_POD.replace("{image}", "quay.io/x/y:1"),
            ".github/workflows/ci.yml": WORKFLOW,
        },
    )
    git(r, "add", "-A")
    git(r, "commit", "-qm", "base")
    git(r, "checkout", "-qb", "feature")
    # the change: moves the Terraform debt down, fixes the pod, renames the workflow,
    # introduces a new Dockerfile violation
    write_tree(
        r,
        {
            "infra/main.tf": "# moved down by a comment\n\n\n" + BAD_PROVIDER,
            "k8s/pod.yaml": QUAY_POD.replace("{image}", "ghcr.io/x/y:1"),
            "Dockerfile": "FROM someuser/base:1\n",
        },
    )
    git(r, "mv", ".github/workflows/ci.yml", ".github/workflows/build.yml")
    git(r, "add", "-A")
    git(r, "commit", "-qm", "change")
    return r


WATCHED = {"TF001", "K8S001", "GHA001", "DOCKER001"}  # the violations the change moves around


def _ids(findings: Any) -> set[tuple[str, str]]:
    return {(f.rule_id, f.path) for f in findings if f.rule_id in WATCHED}


def test_new_fixed_and_unchanged(repo: Path) -> None:
    report = scan_pr(repo, "main", ScanOptions(), RepoConfig())
    diff = report.diff
    assert _ids(diff.new) == {("DOCKER001", "Dockerfile")}
    assert _ids(diff.fixed) == {("K8S001", "k8s/pod.yaml")}
    assert _ids(diff.unchanged) == {
        ("TF001", "infra/main.tf"),  # moved three lines down
        ("GHA001", ".github/workflows/build.yml"),  # renamed from ci.yml
    }
    moved = next(f for f in diff.unchanged if f.rule_id == "TF001")
    assert moved.span.start_line == 6
    assert diff.base_commit == git(repo, "rev-parse", "main").strip()


def test_uncommitted_changes_count_as_head_and_the_tree_is_untouched(repo: Path) -> None:
    (repo / "extra.tf").write_text(BAD_PROVIDER.replace("someone/x", "other/y"))
    before = git(repo, "status", "--porcelain")
    report = scan_pr(repo, "main", ScanOptions(), RepoConfig())
    assert ("TF001", "extra.tf") in _ids(report.diff.new)
    assert git(repo, "status", "--porcelain") == before
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "feature"


def test_cli_fails_only_on_new_findings_and_writes_valid_sarif(repo: Path, tmp_path: Path) -> None:
    out, md, js = tmp_path / "pr.sarif", tmp_path / "summary.md", tmp_path / "r.json"
    args = ["scan", str(repo), "--diff-base", "main", "--sarif", str(out), "--markdown", str(md)]
    r = CliRunner().invoke(main, [*args, "--json", str(js)])
    assert r.exit_code == 1  # the new DOCKER001 error
    # the verdict counts what the gate counts: the one new error, not the existing debt
    assert r.stdout.rstrip().splitlines()[-1] == (
        "FAIL: 1 new finding at error level (fail level: error)"
    )
    summary = md.read_text()
    assert summary.index("New in this change") < summary.index("Fixed by this change")
    assert "<details>" in summary and "Existing debt" in summary
    data = json.loads(js.read_text())
    by_fp = {f["fingerprint"]: f["rule_id"] for f in data["findings"]}
    assert [by_fp[fp] for fp in data["diff"]["new"]] == ["DOCKER001"]
    assert "K8S001" in summary.split("Fixed by this change")[1]
    validate_sarif(out)
    # fix the new violation: the existing debt alone no longer fails the gate
    (repo / "Dockerfile").write_text("FROM python:3.12-slim\n")
    r2 = CliRunner().invoke(main, ["scan", str(repo), "--diff-base", "main"])
    assert r2.exit_code == 0, r2.output
    last = r2.stdout.rstrip().splitlines()[-1]
    assert last.startswith("PASS: no new findings at error level or above"), last
    assert "TF001" in r2.stdout  # the existing error is still reported, and does not count


def test_diff_base_errors_are_configuration_errors(repo: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["scan", str(repo), "--diff-base", "no-such-branch"])
    assert r.exit_code == 2 and "configuration error" in r.output
    plain = tmp_path / "plain"
    plain.mkdir()
    r = CliRunner().invoke(main, ["scan", str(plain), "--diff-base", "main"])
    assert r.exit_code == 2
    r = CliRunner().invoke(main, ["scan", str(repo), "--diff-base", "--upload-pack=x"])
    assert r.exit_code == 2


def test_scanning_a_subdirectory_compares_the_same_subdirectory(repo: Path) -> None:
    report = scan_pr(repo / "infra", "main", ScanOptions(), RepoConfig())
    assert report.diff.new == []
    # paths stay relative to the repository root (issue 9): infra/main.tf, not main.tf
    assert _ids(report.diff.unchanged) == {("TF001", "infra/main.tf")}


def test_json_diff_fixed_carries_the_fixed_findings_themselves(repo: Path) -> None:
    """Issue 10: diff.fixed held bare fingerprints of findings that exist at the base only,
    so nothing in the report said what was fixed."""
    import json

    from click.testing import CliRunner

    from scanner.cli import main

    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-qb", "fix")
    (repo / "infra" / "main.tf").write_text("# fixed\n")
    git(repo, "commit", "-qam", "fix")
    res = CliRunner().invoke(
        main, ["scan", str(repo), "--diff-base", "main", "--format", "json", "--fail-on", "never"]
    )
    assert res.exit_code == 0, res.output
    fixed = json.loads(res.stdout)["diff"]["fixed"]
    assert fixed and fixed[0]["rule_id"] and fixed[0]["path"] == "infra/main.tf"
    assert "message" in fixed[0] and "region" in fixed[0]
