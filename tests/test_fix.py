"""`tether fix` (issue 13, first part): remedies written as minimal edits that keep every
other byte, idempotent, checked by a rescan, refused where they would overlap or the file
changed (scanner/fix.py, scanner/fix_cli.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner import fix as fix_mod
from scanner.cli import main
from scanner.model import Category, Finding, FixEdit, Level, Span

WORKFLOW = (
    "# CI, owned by the web team\r\n"
    "name: ci\r\n"
    "on: {push: {branches: [main]}}   # flow style\r\n"
    "permissions: {contents: read}\r\n"
    "x-defaults: &defaults\r\n"
    "  runs-on: ubuntu-latest\r\n"
    "jobs:\r\n"
    "  build:\r\n"
    "    <<: *defaults\r\n"
    "    steps:\r\n"
    '      - uses: "actions/checkout@v2"     # quoted, with a comment\r\n'
    "      - uses: 'actions/setup-node@v3.1.0'\r\n"
    "      - uses: actions/cache@v3\r\n"
    "      - run: echo ünïcödé 🚀 && true"
)  # no newline at the end, CRLF throughout
MAIN_TF = """\
# the network
module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "3.14.0" # pinned

  tags = {
    Note = <<-EOT
      version = "3.14.0" stays: a heredoc is not the attribute
    EOT
  }
}
"""
BASELINE = """\
extends: [default]
actions:
  minimum: {actions/checkout: v4.2.0, actions/setup-node: v4, actions/cache: v4}
"""


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ci.yml").write_bytes(WORKFLOW.encode())
    (repo / "main.tf").write_text(MAIN_TF)
    (tmp_path / "golden.yml").write_text(BASELINE)
    return repo


def _fix(tmp_path: Path, *args: str) -> object:
    return CliRunner().invoke(
        main,
        ["fix", str(tmp_path / "repo"), "--baseline", str(tmp_path / "golden.yml"), *args],
    )


def test_edits_touch_only_the_changed_tokens(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    res = _fix(tmp_path)
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    after = (repo / ".github" / "workflows" / "ci.yml").read_bytes().decode()
    assert after == (
        WORKFLOW.replace('"actions/checkout@v2"', '"actions/checkout@v4.2.0"')
        .replace("'actions/setup-node@v3.1.0'", "'actions/setup-node@v4'")
        .replace("actions/cache@v3", "actions/cache@v4")
    )
    assert (repo / "main.tf").read_text() == MAIN_TF.replace(
        'version = "3.14.0" # pinned', 'version = "5.0.0" # pinned'
    )
    # applying twice changes nothing
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    again = _fix(tmp_path)
    assert again.exit_code == 0 and "0 findings fixed" in again.output  # type: ignore[attr-defined]
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()} == before


def test_dry_run_prints_a_diff_and_writes_nothing(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    res = _fix(tmp_path, "--dry-run", "--rule", "TF006")
    assert res.exit_code == 1  # type: ignore[attr-defined]
    out = res.stdout  # type: ignore[attr-defined]
    assert '-  version = "3.14.0" # pinned' in out and '+  version = "5.0.0" # pinned' in out
    assert "checkout" not in out  # --rule TF006 only
    assert (repo / "main.tf").read_text() == MAIN_TF


def test_a_remedy_that_brings_a_new_finding_is_put_back(tmp_path: Path) -> None:
    """A policy rule whose remedy moves steps to an owner GHA001 does not approve: the
    rescan sees a new finding, and the file is restored."""
    repo = _repo(tmp_path)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ORG001.yml").write_text(
        """\
id: ORG001
name: checkout-from-mirror
title: Checkout comes from the mirror
pack: org
category: bounded-autonomy
severity: warning
status: stable
applies_to: gha.step_uses
when: fact.kind == "action" && fact.action == "actions/checkout"
assert: "false"
location: uses
fix:
  replace: uses
  with: "{{'unapproved-mirror/checkout@v9'}}"
message: "Use the mirror for {{fact.action}}."
docs:
  what: Checks that checkout comes from the mirror.
  why: Because the mirror is audited.
  example: "- uses: actions/checkout@v4"
  use_instead: "- uses: mirror/checkout@v4"
"""
    )
    before = (repo / ".github" / "workflows" / "ci.yml").read_bytes()
    res = _fix(tmp_path, "--rules", str(rules), "--rule", "ORG001")
    assert res.exit_code == 1, res.output  # type: ignore[attr-defined]
    assert "put back: the edit brings new findings (GHA001" in res.output  # type: ignore[attr-defined]
    assert (repo / ".github" / "workflows" / "ci.yml").read_bytes() == before


def test_links_are_never_written_through(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    real = repo / ".github" / "workflows" / "ci.yml"
    os.rename(real, repo / "real-ci.yml")
    os.symlink("../../real-ci.yml", real)
    res = _fix(tmp_path, "--rule", "GHA003")
    assert (repo / "real-ci.yml").read_bytes() == WORKFLOW.encode()
    assert os.path.islink(real)
    assert res.exit_code in (0, 1)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- the planner itself


def finding(line: int, start: int, end: int, text: str, rule: str = "GHA003") -> Finding:
    return Finding(
        rule,
        Category.DRIFT,
        Level.WARNING,
        "f.yml",
        Span(line, start, line, end),
        "m",
        f"t{line}{start}",
        "0" * 32,
        "gha.step_uses",
        fix=FixEdit(Span(line, start, line, end), text),
    )


def _plan(text: str, *found: Finding) -> fix_mod.Plan:
    return fix_mod.plan(Path("/"), found, lambda _p: text.encode())


def test_columns_are_utf16_units() -> None:
    # "🚀" is two UTF-16 units: the value after it is at column 7 (character 6)
    text = "x: 🚀 a@v1\n"
    p = _plan(text, finding(1, 7, 11, "a@v2"))
    assert p.files[0].after == "x: 🚀 a@v2\n"


def test_overlapping_edits_are_refused_both() -> None:
    text = "uses: a@v1\n"
    p = _plan(text, finding(1, 7, 11, "a@v2"), finding(1, 9, 11, "v3", rule="ORG001"))
    assert p.files == [] and sorted(r.finding.rule_id for r in p.refused) == ["GHA003", "ORG001"]


@pytest.mark.parametrize(
    ("original", "value", "written"),
    [
        ('"a@v1"', 'b"c', '"b\\"c"'),
        ("'a@v1'", "it's", "'it''s'"),
        ("a@v1", "b@v2", "b@v2"),
        ("a@v1", "b: c", '"b: c"'),
        ("a@v1", "*alias", '"*alias"'),
    ],
)
def test_quoting_is_kept_and_plain_values_stay_valid(
    original: str, value: str, written: str
) -> None:
    assert fix_mod.requote(original, value) == written


def test_a_file_changed_since_it_was_read_is_not_written(tmp_path: Path) -> None:
    (tmp_path / "f.yml").write_text("uses: a@v1\n")
    p = fix_mod.plan(tmp_path, [finding(1, 7, 11, "a@v2")], lambda q: q.read_bytes())
    (tmp_path / "f.yml").write_text("uses: a@v1  # edited meanwhile\n")
    assert fix_mod.write(tmp_path, p.files[0]) == "it changed since it was read"
    assert (tmp_path / "f.yml").read_text() == "uses: a@v1  # edited meanwhile\n"


def test_a_span_off_the_file_is_refused() -> None:
    p = _plan("uses: a@v1\n", finding(3, 1, 5, "x"))
    assert p.files == [] and p.refused[0].why == "its place is not in the file as it is now"


def test_sarif_carries_the_fixes_it_would_write(tmp_path: Path) -> None:
    import json

    from tests.conftest import validate_sarif

    _repo(tmp_path)
    out = tmp_path / "r.sarif"
    res = CliRunner().invoke(
        main,
        [
            "scan",
            str(tmp_path / "repo"),
            "--baseline",
            str(tmp_path / "golden.yml"),
            "--sarif",
            str(out),
            "-q",
        ],
    )
    assert res.exit_code in (0, 1), res.output
    results = json.loads(out.read_text())["runs"][0]["results"]
    fixes = {
        r["ruleId"] + ":" + str(r["locations"][0]["physicalLocation"]["region"]["startLine"]): (
            r["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"]
        )
        for r in results
        if "fixes" in r
    }
    # the same text `tether fix` writes, quotes and all
    assert fixes == {
        "GHA003:11": '"actions/checkout@v4.2.0"',
        "GHA003:12": "'actions/setup-node@v4'",
        "GHA003:13": "actions/cache@v4",
        "TF006:4": '"5.0.0"',
    }
    validate_sarif(out)
