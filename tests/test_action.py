"""The GitHub Action's script under a simulated GITHUB_* environment: PR mode on pull
requests, SARIF, job summary, at most 10 annotations for new findings, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner import action
from scanner.model import Category, Finding, Level, Span
from scanner.scanning import ScanOptions, scan

from .conftest import ROOT, validate_sarif, write_tree
from .test_pr_mode import BAD_PROVIDER, git, repo  # noqa: F401 - the fixture

__all__ = ["repo"]


def _env(workspace: Path, tmp: Path, **extra: str) -> dict[str, str]:
    summary, output = tmp / "summary.md", tmp / "output.txt"
    summary.write_text("")
    output.write_text("")
    return {
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_EVENT_NAME": "push",
        "TETHER_SARIF_FILE": str(tmp / "out" / "tether.sarif"),
        **extra,
    }


def _outputs(env: dict[str, str]) -> dict[str, str]:
    lines = Path(env["GITHUB_OUTPUT"]).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_pull_request_gates_only_new_findings(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "update-ref", "refs/remotes/origin/main", "main")
    env = _env(repo, tmp_path, GITHUB_EVENT_NAME="pull_request", GITHUB_BASE_REF="main")
    code = action.run(env)
    out = capsys.readouterr().out
    lines = out.splitlines()
    annotations = [line for line in lines if line.startswith(("::error", "::warning", "::notice"))]
    # the quoted report is printed with workflow commands stopped, then resumed
    token = lines[0].removeprefix("::stop-commands::")
    assert lines[0].startswith("::stop-commands::") and f"::{token}::" in lines
    assert code == 1
    # the log says why, from the same decision as the exit status: the one new finding
    assert "FAIL: 1 new finding at error level (fail level: error)" in lines
    assert annotations == [
        next(a for a in annotations if a.startswith("::error file=Dockerfile,line=1,"))
    ]
    assert "title=DOCKER001 (bounded-autonomy)::" in annotations[0]
    outputs = _outputs(env)
    assert outputs["new-findings"] == "1"
    assert int(outputs["findings"]) > 1
    sarif_file = Path(outputs["sarif-file"])
    assert json.loads(sarif_file.read_text())["runs"][0]["results"]
    validate_sarif(sarif_file)
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "**1 new**" in summary and "Fixed by this change" in summary
    assert len(summary.encode()) < 1024 * 1024


def test_push_scans_everything_and_caps_annotations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = write_tree(
        tmp_path / "ws",
        {f"m{i}/main.tf": BAD_PROVIDER.replace("someone/x", f"someone/x{i}") for i in range(14)},
    )
    env = _env(ws, tmp_path, TETHER_FAIL_ON="never")
    assert action.run(env) == 0  # fail-on never
    out = capsys.readouterr().out
    errors = [line for line in out.splitlines() if line.startswith("::error ")]
    assert len(errors) == action.MAX_ANNOTATIONS
    assert "::notice title=tether::" in out
    outputs = _outputs(env)
    assert outputs["new-findings"] == outputs["findings"]
    assert int(outputs["findings"]) >= 14


def test_configuration_error_is_exit_two_with_an_error_annotation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = write_tree(tmp_path / "ws", {".tether.yaml": "fail_on: sometimes\n"})
    assert action.run(_env(ws, tmp_path)) == 2
    assert capsys.readouterr().out.startswith("::error title=tether configuration error::")


def test_annotation_escapes_workflow_command_syntax() -> None:
    f = Finding(
        rule_id="X001",
        category=Category.DRIFT,
        level=Level.WARNING,
        path="a,b:c.tf",
        span=Span(3, 5, 3, 9),
        message="50% done\nnext: line",
        target="t",
        fingerprint="f",
        fact_kind="tf.resource",
    )
    line = action.annotation(f, "sub/")
    assert line == (
        "::warning file=sub/a%2Cb%3Ac.tf,line=3,endLine=3,col=5,endColumn=9,"
        "title=X001 (drift)::50%25 done%0Anext: line"
    )


def test_inputs_come_from_env_not_expressions() -> None:
    text = (Path(__file__).resolve().parent.parent / "action.yml").read_text()
    runs = [line for line in text.splitlines() if line.strip().startswith("run:")]
    assert runs and all("${{" not in line for line in runs)
    assert text.count("shell: bash") == len(runs)


def _example_workflows(tmp: Path) -> Path:
    """A repository using docs/workflows/ as they are meant to be copied."""
    return write_tree(
        tmp / "repo",
        {
            f".github/workflows/{p.name}": p.read_text()
            for p in sorted((ROOT / "docs" / "workflows").glob("*.yml"))
        },
    )


@pytest.mark.parametrize("baseline", ["default", "examples/acme/org"])
def test_example_workflows_pass_the_shipped_baselines(tmp_path: Path, baseline: str) -> None:
    """tether's own action is judged like any other (GHA001, the pin policy): the default
    baseline approves it, and the ACME example, whose actions.allowed replaces the default's
    list, lists it again (README, GitHub Action)."""
    report = scan(_example_workflows(tmp_path), ScanOptions(baselines=[baseline]))
    assert not [(f.rule_id, f.message) for f in report.findings if f.rule_id.startswith("GHA")]


def test_a_baseline_replacing_allowed_actions_must_approve_tether_again(tmp_path: Path) -> None:
    own = write_tree(
        tmp_path / "policy",
        {"org.yml": "name: org\nextends: [default]\nactions:\n  allowed: [actions/*, github/*]\n"},
    )
    report = scan(_example_workflows(tmp_path), ScanOptions(baselines=[str(own / "org.yml")]))
    flagged = {f.path for f in report.findings if f.rule_id == "GHA001"}
    assert flagged == {
        ".github/workflows/tether-code-scanning.yml",
        ".github/workflows/tether-pr-gate.yml",
    }
    assert all(
        "tether-scanner/tether is not an approved action" in f.message
        for f in report.findings
        if f.rule_id == "GHA001"
    )
