"""Rule cases as data: tests/rule_cases/<ID>.yml holds passing and failing cases (inline files
and the expected findings with line and column), turned into pytest cases here, so
`pytest -k TF001` runs one rule."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from scanner import ScanOptions, scan
from scanner.config import discover
from scanner.policy.operator import Policy
from scanner.policy.operator import load as load_policy
from scanner.pr import scan_pr

from .conftest import write_tree

CASES_DIR = Path(__file__).parent / "rule_cases"


def _load_cases() -> list[Any]:
    params = []
    for f in sorted(CASES_DIR.glob("*.yml")):
        data = YAML(typ="safe").load(f.read_text())
        for case in data["cases"]:
            params.append(pytest.param(data["rule"], case, id=f"{data['rule']}-{case['name']}"))
    return params


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.mark.parametrize(("rule_id", "case"), _load_cases())
def test_rule_case(rule_id: str, case: dict[str, Any], tmp_path: Path) -> None:
    """A case may give a `baseline` layer, an operator `policy` (written outside the
    repository), and `base_files`: then the case runs in PR mode on a git repository whose
    merge base holds `base_files` and whose head holds `files`."""
    root = tmp_path / "repo"
    files = dict(case["files"])
    baselines: list[str] = []
    if "baseline" in case:
        (tmp_path / "_baseline.yml").write_text(case["baseline"])
        baselines = ["default", str(tmp_path / "_baseline.yml")]
    policy = Policy()
    if "policy" in case:
        (tmp_path / "_policy.yml").write_text(case["policy"])
        policy = load_policy(tmp_path / "_policy.yml")
    options = ScanOptions(
        baselines=baselines, today=dt.date(2026, 11, 25), preview=True, policy=policy
    )
    if "base_files" in case:
        root.mkdir()
        _git(root, "init", "-q", "-b", "main")
        _git(root, "config", "user.email", "t@example.com")
        _git(root, "config", "user.name", "t")
        write_tree(root, case["base_files"])
        _git(root, "add", "-A")
        _git(root, "commit", "-qm", "base", "--allow-empty")
        _git(root, "checkout", "-qb", "feature")
        for rel in case.get("delete", []):
            (root / rel).unlink()
        write_tree(root, files)
        _git(root, "add", "-A")
        _git(root, "commit", "-qm", "head", "--allow-empty")
        report = scan_pr(root, "main", options)
    else:
        write_tree(root, files)
        report = scan(root, options, config=discover(root))
    assert not [d for d in report.diagnostics if d.code in ("rule-error", "internal-error")]
    got = [
        {"path": f.path, "line": f.span.start_line, "col": f.span.start_col}
        for f in report.findings
        if f.rule_id == rule_id
    ]
    expected = [
        {"path": e.get("path", next(iter(case["files"]))), "line": e["line"], "col": e["col"]}
        for e in case.get("expect", [])
    ]
    assert got == expected
    for f, e in zip(
        [f for f in report.findings if f.rule_id == rule_id], case.get("expect", []), strict=True
    ):
        if "message" in e:
            assert e["message"] in f.message
