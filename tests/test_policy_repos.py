"""The policy's `repos:` section: baseline layers per repository, first match wins, by name
glob, topic or custom property, recorded in the report (issue 8's internal marketplace; the
org scan reads topics and properties through the API)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.config import discover
from scanner.errors import ConfigError
from scanner.policy.operator import RepoFacts
from scanner.policy.operator import load as load_policy
from scanner.scanning import ScanOptions, scan

from .conftest import write_tree

POLICY = """\
baseline: [default]
repos:
  - match: {property: {team: payments}}
    baseline: [payments.yml]
  - match: {topic: legacy}
    baseline: legacy.yml
  - match: {name: "acme/*-sandbox"}
    baseline: [sandbox.yml]
"""
QUAY = "kubernetes:\n  registries: ['quay.io/**']\n"
POD = (
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
    "    - name: c\n      image: quay.io/vendor/agent:1\n"
)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    write_tree(
        tmp_path / "platform",
        {
            "tether-policy.yml": POLICY,
            "payments.yml": QUAY,
            "legacy.yml": QUAY,
            "sandbox.yml": QUAY,
        },
    )
    return tmp_path / "platform" / "tether-policy.yml"


def test_first_match_wins_and_says_why(policy_file: Path) -> None:
    policy = load_policy(policy_file)
    layers, why = policy.layers_for(
        RepoFacts("acme/pay-sandbox", ("legacy",), {"team": ["payments", "risk"]})
    )
    assert [Path(p).name for p in layers] == ["payments.yml"]
    assert why == "repos[0]: property team=payments"
    layers, why = policy.layers_for(RepoFacts("acme/x-sandbox", ("legacy",), {}))
    assert why == "repos[1]: topic legacy"
    assert policy.layers_for(RepoFacts("ACME/X-Sandbox"))[1] == "repos[2]: name acme/*-sandbox"
    assert policy.layers_for(RepoFacts("acme/other")) == ((), None)
    assert policy.layers_for(RepoFacts(None)) == ((), None)


def test_the_layer_judges_the_repository_and_the_report_records_it(
    policy_file: Path, tmp_path: Path
) -> None:
    root = write_tree(tmp_path / "repo", {"k8s/pod.yaml": POD})
    policy = load_policy(policy_file)
    plain = scan(root, ScanOptions(policy=policy, repo_name="acme/api"))
    assert "K8S001" in [f.rule_id for f in plain.findings]
    assert plain.layers_matched is None
    chosen = scan(
        root,
        ScanOptions(policy=policy, repo_name="acme/api", repo_properties={"team": "payments"}),
    )
    assert "K8S001" not in [f.rule_id for f in chosen.findings]
    assert chosen.layers_matched == "repos[0]: property team=payments"
    assert any(b.endswith("payments.yml") for b in chosen.baseline_files)


def test_cli_repo_name_selects_layers_and_json_records_them(
    policy_file: Path, tmp_path: Path
) -> None:
    root = write_tree(tmp_path / "repo", {"k8s/pod.yaml": POD})
    out = tmp_path / "out.json"
    CliRunner().invoke(
        main,
        [
            "scan",
            str(root),
            "--policy",
            str(policy_file),
            "--repo",
            "acme/web-sandbox",
            "--json",
            str(out),
        ],
    )
    data = json.loads(out.read_text())
    assert data["policy"]["repos_entry"] == "repos[2]: name acme/*-sandbox"
    assert "K8S001" not in [f["rule_id"] for f in data["findings"]]


def test_a_repos_entry_must_match_on_something(tmp_path: Path) -> None:
    p = write_tree(tmp_path, {"p.yml": "repos:\n  - match: {}\n    baseline: [x.yml]\n"})
    with pytest.raises(ConfigError) as e:
        load_policy(p / "p.yml")
    assert "p.yml" in str(e.value)


def test_a_policy_that_allows_fail_on_lets_a_repository_loosen_it(tmp_path: Path) -> None:
    """`repository.allow: [fail_on]` is honoured both ways (it was accepted, then ignored)."""
    p = write_tree(tmp_path / "platform", {"p.yml": "repository: {allow: [exclude, fail_on]}\n"})
    root = write_tree(tmp_path / "repo", {".tether.yaml": "fail_on: never\n", "README.md": "x\n"})
    report = scan(root, ScanOptions(policy=load_policy(p / "p.yml")), config=discover(root))
    assert report.fail_on == "never"
    assert "CFG001" not in [f.rule_id for f in report.findings]
    strict = scan(root, ScanOptions(), config=discover(root))
    assert strict.fail_on == "error" and "CFG001" in [f.rule_id for f in strict.findings]
