"""Per-scan bounds (issue 11): a repository, or a change, that would make one scan hold
millions of facts or findings stops at the limit with an error-level `scan-limit` diagnostic
saying where and what was not judged; the gate fails on it, in PR mode too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner import ScanOptions, scan
from scanner.cli import main

from .test_pr_mode import git

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web{i}, labels: {{team: a}}}}
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx:latest
"""


def _files(root: Path, names: list[str], per_file: int = 3) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for n in names:
        (root / n).write_text("---\n".join(DEPLOY.format(i=f"{n}-{i}") for i in range(per_file)))


def test_the_fact_limit_stops_reading_and_says_what_was_not_judged(tmp_path: Path) -> None:
    _files(tmp_path, ["a.yaml", "b.yaml", "c.yaml", "d.yaml"])
    full = scan(tmp_path, ScanOptions(jobs=1))
    per_file = full.facts_count // 4
    rep = scan(tmp_path, ScanOptions(jobs=1, max_facts=per_file + 1))
    limit = [d for d in rep.diagnostics if d.code == "scan-limit"]
    assert len(limit) == 1 and limit[0].level.value == "error"
    assert limit[0].path == "b.yaml"  # the file that reached the limit, kept whole
    assert "2 other files not judged; the first is c.yaml" in limit[0].message
    assert {f.path for f in rep.findings} <= {"a.yaml", "b.yaml"}
    assert {f.path for f in rep.findings} == {"a.yaml", "b.yaml"}


def test_a_limit_reached_exactly_at_a_file_boundary_still_says_so(tmp_path: Path) -> None:
    _files(tmp_path, ["a.yaml", "b.yaml", "c.yaml"])
    per_file = scan(tmp_path, ScanOptions(jobs=1, max_facts=10**6)).facts_count // 3
    rep = scan(tmp_path, ScanOptions(jobs=1, max_facts=per_file - 1))
    (limit,) = [d for d in rep.diagnostics if d.code == "scan-limit"]
    assert "2 other files not judged; the first is b.yaml" in limit.message


def test_the_finding_limit_stops_judging(tmp_path: Path) -> None:
    _files(tmp_path, ["a.yaml", "b.yaml", "c.yaml"], per_file=10)
    rep = scan(tmp_path, ScanOptions(jobs=1, max_findings=5))
    assert len(rep.findings) == 5
    (limit,) = [d for d in rep.diagnostics if d.code == "scan-limit"]
    assert limit.path == "a.yaml" and "limit of 5 findings" in limit.message
    # what was left unjudged is counted
    assert re.search(r"\(\d+ facts and 2 more files\) was not judged", limit.message)
    from scanner.report import sarif

    doc = sarif.build(rep, category="t", levels=rep.levels)
    assert doc["runs"][0]["invocations"][0]["executionSuccessful"] is False
    full = scan(tmp_path, ScanOptions(jobs=1))
    doc = sarif.build(full, category="t", levels=full.levels)
    assert doc["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_the_limits_fail_the_run_from_the_command_line(tmp_path: Path) -> None:
    _files(tmp_path, ["a.yaml", "b.yaml"])
    r = CliRunner().invoke(
        main, ["scan", "--root", str(tmp_path), "--max-findings", "1", "--fail-on", "never"]
    )
    assert r.exit_code == 1, r.output
    assert "scan-limit" in r.output and "FAIL" in r.output


def test_a_change_cannot_hide_behind_the_limit(tmp_path: Path) -> None:
    """The base already reached the limit at the same place: a PR adding a violation after it
    still fails, on the limit itself."""
    repo = tmp_path / "repo"
    _files(repo, ["a.yaml", "b.yaml"])
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    _files(repo, ["z.yaml"])
    git(repo, "add", ".")
    full = scan(repo, ScanOptions(jobs=1))
    r = CliRunner().invoke(
        main,
        [
            "scan",
            str(repo),
            "--diff-base",
            "main",
            "--max-facts",
            str(full.facts_count // 3),
            "--fail-on",
            "never",
        ],
    )
    assert r.exit_code == 1, r.output
    assert "scan-limit" in r.output


def test_past_the_finding_limit_later_files_are_still_read_and_their_errors_said(
    tmp_path: Path,
) -> None:
    """The limit stops judging, not reading: a broken file after it is still reported, with
    or without parse workers."""
    from scanner import parallel

    _files(tmp_path, ["a.yaml", "b.yaml"], per_file=10)
    (tmp_path / "z.yaml").write_bytes(b"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n\x80\n")
    serial = scan(tmp_path, ScanOptions(jobs=1, max_findings=3, fact_cache=False))
    assert serial.timings.files == 3
    assert [d.code for d in serial.diagnostics if d.path == "z.yaml"] == ["unreadable"]
    mp = pytest.MonkeyPatch()
    mp.setattr(parallel, "MIN_BYTES_PER_JOB", 1)
    try:
        workers = scan(tmp_path, ScanOptions(jobs=2, max_findings=3, fact_cache=False))
    finally:
        mp.undo()
    assert workers.timings.workers == 2
    assert workers.findings == serial.findings
    assert workers.diagnostics == serial.diagnostics


def test_the_finding_limit_is_never_exceeded(tmp_path: Path) -> None:
    """One fact failing several rules at once, or the repository's own checks judged last,
    does not carry the report past the limit: it holds exactly that many findings, and
    says the rest was not judged."""
    _files(tmp_path, ["a.yaml"], per_file=1)
    full = scan(tmp_path, ScanOptions(jobs=1, fact_cache=False))
    assert len(full.findings) >= 4
    for limit in range(1, len(full.findings)):
        rep = scan(tmp_path, ScanOptions(jobs=1, max_findings=limit, fact_cache=False))
        assert len(rep.findings) == limit, limit
        (said,) = [d for d in rep.diagnostics if d.code == "scan-limit"]
        noun = "finding" if limit == 1 else "findings"
        assert f"limit of {limit} {noun} (--max-findings)" in said.message
        # a finding dropped at the limit is not counted as a failure either
        assert sum(t.failed for t in rep.tallies.values()) == limit
    at_limit = scan(
        tmp_path, ScanOptions(jobs=1, max_findings=len(full.findings), fact_cache=False)
    )
    assert at_limit.findings == full.findings
    assert not [d for d in at_limit.diagnostics if d.code == "scan-limit"]


TF_UNTAGGED = 'resource "aws_instance" "{n}" {{\n  ami  = "ami-1"\n  tags = {{}}\n}}\n'


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_findings_limit_among_terraform_resources_counts_every_resource_left(
    tmp_path: Path, jobs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Terraform resources are judged after every file (their providers' default tags may be
    anywhere), a file's at a time: a limit reached among them names every resource left, in
    whichever file it lies, and so does a limit reached before them."""
    from scanner import parallel

    monkeypatch.setattr(parallel, "MIN_BYTES_PER_JOB", 64)
    (tmp_path / "providers.tf").write_text('provider "aws" {\n  region = "eu-west-1"\n}\n')
    for i in range(4):
        (tmp_path / f"f{i}.tf").write_text(
            "".join(TF_UNTAGGED.format(n=f"r{i}_{k}") for k in range(2)) + "#" * 200
        )
    full = scan(tmp_path, ScanOptions(jobs=jobs, fact_cache=False))
    assert sum(f.rule_id == "TF008" for f in full.findings) == 8
    rep = scan(tmp_path, ScanOptions(jobs=jobs, fact_cache=False, max_findings=3))
    assert len(rep.findings) == 3
    # every fact is counted as taken, judged or not (the report's "facts")
    assert rep.facts_count == full.facts_count
    (cut,) = [d for d in rep.diagnostics if d.code == "scan-limit"]
    assert cut.path == "f1.tf"  # the fourth resource's
    assert "(5 facts and 0 more files)" in cut.message
    # a limit reached in a manifest read after the Terraform files, before their resources
    # were judged
    (tmp_path / "z.yaml").write_text(DEPLOY.format(i=0) + "---\n" + DEPLOY.format(i=1))
    rep = scan(tmp_path, ScanOptions(jobs=jobs, fact_cache=False, max_findings=1))
    assert rep.facts_count == scan(tmp_path, ScanOptions(jobs=jobs, fact_cache=False)).facts_count
    (cut,) = [d for d in rep.diagnostics if d.code == "scan-limit"]
    assert cut.path == "z.yaml"
    assert ", 8 Terraform resources and " in cut.message, cut.message
