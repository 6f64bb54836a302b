"""`tether init repo` and `tether init policy`: commented starting files with a schema line for
editors, never overwriting (without --force) nor writing through a link; the scaffolded policy
repository passes `tether verify` as written, and its CI workflow passes the Actions linters."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from scanner.config import discover
from scanner.exceptions import load_file
from scanner.policy import baseline as baseline_mod
from scanner.policy.documents import load_yaml, validate
from scanner.policy.operator import load as load_policy
from scanner.policy_cli import register, schema_names
from scanner.scaffold import schema_url
from scanner.scanning import ScanOptions, scan

from .conftest import ROOT, write_tree

LINT_ACTIONS = ROOT.parent / "shared" / "tools" / "lint-actions"
SCHEMA_LINE = re.compile(r"# yaml-language-server: \$schema=(\S+)\n")


def tether(*args: str) -> Result:
    group = click.Group("tether")
    register(group)
    return CliRunner().invoke(group, list(args))


def _schema_of(path: Path) -> str:
    m = SCHEMA_LINE.match(path.read_text("utf-8"))
    assert m is not None, f"{path}: no schema line first"
    name = m.group(1).rsplit("/", 1)[1].removesuffix(".schema.json")
    assert m.group(1) == schema_url(name)
    assert name in schema_names()
    return name


# --- init repo -----------------------------------------------------------------------------


def test_init_repo_writes_commented_valid_files(tmp_path: Path) -> None:
    result = tether("init", "repo", str(tmp_path))
    assert result.exit_code == 0, result.output
    config, exceptions = tmp_path / ".tether.yaml", tmp_path / ".tether" / "exceptions.yaml"
    assert result.output.splitlines() == [f"wrote {config}", f"wrote {exceptions}"]
    assert _schema_of(config) == "config"
    assert _schema_of(exceptions) == "exceptions"
    assert discover(tmp_path).data == {"exclude": []}
    assert load_file(exceptions, ".tether/exceptions.yaml", "repo") == []
    # a repository with them scans clean of configuration findings
    report = scan(tmp_path, ScanOptions(), config=discover(tmp_path))
    assert not [f for f in report.findings if f.rule_id.startswith(("CFG", "EXC"))]
    assert not report.diagnostics


def _commented_record(text: str) -> str:
    """The example exception record a file holds in comments, uncommented."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# - rule:"))
    out = []
    for line in lines[start:]:
        if not line.startswith("# "):
            break
        out.append(line[2:])
    return "\n".join(out) + "\n"


def test_commented_examples_are_valid_when_uncommented(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    assert tether("init", "repo", str(tmp_path / "repo")).exit_code == 0
    tether("init", "policy", str(tmp_path / "policy"))
    for path in (tmp_path / "repo/.tether/exceptions.yaml", tmp_path / "policy/exceptions.yml"):
        example = tmp_path / "example.yml"
        example.write_text(_commented_record(path.read_text()))
        (record,) = load_file(example, "example.yml", "central")
        assert record.rule == "K8S001"
        assert record.justification.startswith("Vendor image")


def test_init_repo_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / ".tether.yaml").write_text("exclude: [vendor/**]\n")
    result = tether("init", "repo", str(tmp_path))
    assert result.exit_code == 2
    assert "would overwrite .tether.yaml" in result.output
    assert "--force" in result.output
    assert (tmp_path / ".tether.yaml").read_text() == "exclude: [vendor/**]\n"
    assert not (tmp_path / ".tether").exists()  # all or nothing
    result = tether("init", "repo", str(tmp_path), "--force")
    assert result.exit_code == 0, result.output
    assert "exclude: []" in (tmp_path / ".tether.yaml").read_text()


def test_init_repo_warns_about_a_shadowed_config(tmp_path: Path) -> None:
    (tmp_path / ".tether.yml").write_text("exclude: [vendor/**]\n")
    result = tether("init", "repo", str(tmp_path))
    assert result.exit_code == 0
    assert ".tether.yml is now ignored" in result.output


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_init_never_writes_through_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".tether").symlink_to(outside)
    result = tether("init", "repo", str(repo), "--force")
    assert result.exit_code == 2
    assert "not writing through symbolic links" in result.output
    assert not list(outside.iterdir())
    assert not (repo / ".tether.yaml").exists()
    (repo / ".tether").unlink()
    (repo / ".tether.yaml").symlink_to(outside / "config")
    assert tether("init", "repo", str(repo), "--force").exit_code == 2
    assert not (outside / "config").exists()


# --- init policy ---------------------------------------------------------------------------


@pytest.fixture
def policy_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "platform-policy"
    result = tether("init", "policy", str(root))
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(root)
    return root


def test_init_policy_files(policy_repo: Path) -> None:
    files = sorted(p.relative_to(policy_repo).as_posix() for p in policy_repo.rglob("*"))
    assert [f for f in files if (policy_repo / f).is_file()] == [
        ".github/workflows/verify.yml",
        "README.md",
        "baselines/org.yml",
        "exceptions.yml",
        "rules/org/ORG001.yml",
        "tests/rule_cases/ORG001.yml",
        "tether-policy.yml",
    ]
    schemas = {
        "tether-policy.yml": "policy",
        "baselines/org.yml": "baseline",
        "exceptions.yml": "exceptions",
        "rules/org/ORG001.yml": "rule",
        "tests/rule_cases/ORG001.yml": "rule-cases",
    }
    for rel, name in schemas.items():
        assert _schema_of(policy_repo / rel) == name, rel
        data, node = load_yaml(policy_repo / rel, rel)
        validate(name, data if data is not None else [], node, rel, cached=False)
    policy = load_policy(policy_repo / "tether-policy.yml")
    assert policy.rule_dirs == (policy_repo / "rules",)
    layered = baseline_mod.load(list(policy.baselines))
    assert layered.files == ("<embedded>/default.yml", "baselines/org.yml")
    assert "@" not in re.sub(
        r"@[0-9a-f]{40}|@acme|@org", "", (policy_repo / "README.md").read_text()
    )


def test_init_policy_passes_verify_as_created(policy_repo: Path) -> None:
    result = tether("verify")
    assert result.exit_code == 0, result.output
    assert "5 case(s): 5 passed, 0 failed; 1 rule(s) under test, 0 rule check(s) failed" in (
        result.output
    )


def test_scans_under_the_scaffolded_policy_run_its_rule(policy_repo: Path, tmp_path: Path) -> None:
    service = write_tree(
        tmp_path / "service",
        {
            "k8s/web.yaml": (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n"
                "  template:\n    spec:\n      containers:\n        - name: web\n"
                "          image: ghcr.io/acme/web:1.0.0\n"
            )
        },
    )
    report = scan(service, ScanOptions(policy=load_policy(policy_repo / "tether-policy.yml")))
    (finding,) = [f for f in report.findings if f.rule_id == "ORG001"]
    assert (finding.path, finding.span.start_line) == ("k8s/web.yaml", 4)
    assert finding.message.startswith("Deployment/web names no namespace")


def test_init_policy_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "p"
    assert tether("init", "policy", str(root), "--prefix", "ACME").exit_code == 0
    assert (root / "rules/acme/ACME001.yml").is_file()
    assert "ACME001: {severity: error}" in (root / "baselines/org.yml").read_text()
    monkeypatch.chdir(root)
    result = tether("verify")
    assert result.exit_code == 0, result.output
    for bad in ("TF", "acme", "1X", "TOOLONGPREFIX1"):
        result = tether("init", "policy", str(tmp_path / bad), "--prefix", bad)
        assert result.exit_code == 2, bad
        assert "--prefix" in result.output
        assert not (tmp_path / bad).exists()


def test_init_policy_refuses_to_overwrite(policy_repo: Path) -> None:
    readme = policy_repo / "README.md"
    readme.write_text("ours\n")
    (policy_repo / "tether-policy.yml").unlink()
    result = tether("init", "policy", str(policy_repo))
    assert result.exit_code == 2
    assert "would overwrite README.md, baselines/org.yml" in result.output
    assert readme.read_text() == "ours\n"
    assert not (policy_repo / "tether-policy.yml").exists()
    assert tether("init", "policy", str(policy_repo), "--force").exit_code == 0
    assert readme.read_text() != "ours\n"


def test_scaffolded_workflow_is_pinned_and_read_only(policy_repo: Path) -> None:
    path = policy_repo / ".github/workflows/verify.yml"
    workflow = YAML(typ="safe").load(path.read_text())
    assert workflow["permissions"] == {"contents": "read"}
    uses = [s["uses"] for job in workflow["jobs"].values() for s in job["steps"] if "uses" in s]
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses
    runs = [s["run"] for job in workflow["jobs"].values() for s in job["steps"] if "run" in s]
    assert "tether verify ." in runs
    # tether too is pinned by commit (a placeholder to replace), and installed as the Action
    # installs it: hash-locked, isolated from the working directory (scripts/action-install.sh)
    assert re.fullmatch(r"[0-9a-f]{40}", workflow["env"]["TETHER_REF"])
    assert re.search(r'TETHER_REF: "[0-9a-f]{40}" # v\d', path.read_text())
    assert any("bash .tether-src/scripts/action-install.sh python " in r for r in runs), runs
    assert not any("pip install" in r for r in runs), runs
    for step in workflow["jobs"]["verify"]["steps"]:
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_scaffolded_workflow_passes_lint_actions(policy_repo: Path) -> None:
    """../shared/tools/lint-actions: actionlint and zizmor, no finding. Skipped where the
    shared tools are absent, unless TETHER_REQUIRE_LINT_ACTIONS is set."""
    if not LINT_ACTIONS.exists() or shutil.which("npm") is None:
        if os.environ.get("TETHER_REQUIRE_LINT_ACTIONS"):
            pytest.fail(f"lint-actions not available at {LINT_ACTIONS}")
        pytest.skip("../shared/tools/lint-actions not available")
    proc = subprocess.run(
        [str(LINT_ACTIONS), ".github/workflows/verify.yml"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode == 2 and not os.environ.get("TETHER_REQUIRE_LINT_ACTIONS"):
        pytest.skip(f"lint-actions could not install its linters: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stdout + proc.stderr


# a plain YAML value cut short: ` #` starts a comment, so `owned by #platform-team` reads as
# `owned by` (a comment written as such has a space after its `#`)
_CUT_SHORT = re.compile(r"^\s*(?:- )?[\w.@-]+:[ \t]+[^\s\"'#|>&*!{\[][^#\n]*[ \t]#\S")


@pytest.mark.parametrize(
    "path",
    sorted(
        p
        for d in ("scanner/templates", "baselines")
        for p in (ROOT / d).rglob("*")
        if p.suffix in (".yml", ".yaml")
    ),
    ids=lambda p: p.relative_to(ROOT).as_posix(),
)
def test_templates_and_baselines_have_no_value_cut_short_by_a_comment(path: Path) -> None:
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        assert not _CUT_SHORT.match(line), f"{path.name}:{n}: quote the value: {line.strip()}"
