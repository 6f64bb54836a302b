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
        # (most remedies here cross a major version: the edits, not the safety, are tested)
        [
            "fix",
            str(tmp_path / "repo"),
            "--baseline",
            str(tmp_path / "golden.yml"),
            "--unsafe-fixes",
            *args,
        ],
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
    assert again.exit_code == 0 and "0 of 2 findings fixed in 0 files" in again.output  # type: ignore[attr-defined]
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


# ----------------------------------------------------------- from the hostile review


def _one_workflow(tmp_path: Path, text: str | bytes) -> Path:
    repo = _repo(tmp_path)
    (repo / "main.tf").unlink()
    wf = repo / ".github" / "workflows" / "ci.yml"
    wf.write_bytes(text.encode() if isinstance(text, str) else text)
    return wf


STEPS = "name: ci\non: push\npermissions: {}\njobs:\n  b:\n    runs-on: x\n    steps:\n"


@pytest.mark.parametrize(
    "text",
    [
        # an anchored value another node aliases
        STEPS + "      - uses: &a actions/checkout@v3\n    env: {X: *a}\n",
        # a tagged value
        STEPS + "      - uses: !!str actions/checkout@v3\n",
        # escapes in a double-quoted original
        STEPS + '      - uses: "actions/checkout\\x41@v3"\n',
        # a line break YAML counts and tether's lines would not
        "# a\u2028# b\n" + STEPS + "      - uses: actions/checkout@v3\n",
    ],
)
def test_values_that_cannot_be_rewritten_safely_are_left_alone(tmp_path: Path, text: str) -> None:
    wf = _one_workflow(tmp_path, text)
    res = _fix(tmp_path, "--rule", "GHA003")
    assert wf.read_bytes() == text.encode()
    assert res.exit_code in (0, 1), res.output  # type: ignore[attr-defined]


def test_a_bom_does_not_shift_the_edit(tmp_path: Path) -> None:
    text = (
        "\ufeff"
        + STEPS.replace("name: ci\n", "name: ci\n", 1)
        + "      - uses: actions/checkout@v3\n"
    )
    flow = "\ufeff{on: push, jobs: {b: {runs-on: x, steps: [{uses: actions/checkout@v3}]}}}\n"
    for content in (text, flow):
        wf = _one_workflow(tmp_path / str(len(content)), content)
        res = _fix(tmp_path / str(len(content)), "--rule", "GHA003")
        assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
        assert wf.read_bytes() == content.replace("@v3", "@v4.2.0").encode()


def test_hcl_values_other_than_quoted_strings_are_left_alone(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    heredoc = MAIN_TF.replace('version = "3.14.0" # pinned', "version = <<-EOT\n  3.14.0\n  EOT")
    (repo / "main.tf").write_text(heredoc)
    _fix(tmp_path, "--rule", "TF006")
    assert (repo / "main.tf").read_text() == heredoc


def test_requote_refuses_what_would_change_meaning() -> None:
    assert fix_mod.requote('"a"', "b\x01c") is None  # a control character
    assert fix_mod.requote('"3.0"', "${var.x}", hcl=True) is None  # an HCL template
    assert fix_mod.requote("<<EOT", "1.0", hcl=True) is None  # not a quoted string
    assert fix_mod.requote('"3.0"', 'a"\\b', hcl=True) == '"a\\"\\\\b"'


def test_an_edit_that_breaks_the_file_is_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the findings say, an edited file that no longer reads cleanly (a new
    diagnostic on the rescan) is put back: here the quoting step is made to write YAML that
    does not parse."""
    repo = _repo(tmp_path)
    monkeypatch.setattr(fix_mod, "requote", lambda original, value, hcl=False: "[unclosed")
    before = (repo / ".github" / "workflows" / "ci.yml").read_bytes()
    res = _fix(tmp_path, "--rule", "GHA003")
    assert res.exit_code == 1, res.output  # type: ignore[attr-defined]
    assert "no longer reads cleanly" in res.output  # type: ignore[attr-defined]
    assert (repo / ".github" / "workflows" / "ci.yml").read_bytes() == before


def test_owner_and_mode_are_kept_and_hard_links_left_alone(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    tf = repo / "main.tf"
    os.chmod(tf, 0o640)
    if os.geteuid() == 0:
        os.chown(tf, 65534, 65534)
    _fix(tmp_path, "--rule", "TF006")
    st = tf.stat()
    assert oct(st.st_mode & 0o777) == oct(0o640) and '"5.0.0"' in tf.read_text()
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (65534, 65534)
    wf = repo / ".github" / "workflows" / "ci.yml"
    os.link(wf, tmp_path / "elsewhere.yml")
    res = _fix(tmp_path, "--rule", "GHA003")
    assert res.exit_code == 1 and "hard-linked" in res.output  # type: ignore[attr-defined]
    assert (tmp_path / "elsewhere.yml").read_bytes() == WORKFLOW.encode()


def test_a_dry_run_with_only_refusals_exits_1(tmp_path: Path) -> None:
    _one_workflow(tmp_path, STEPS + "      - uses: &a actions/checkout@v3\n")
    res = _fix(tmp_path, "--rule", "GHA003", "--dry-run")
    assert res.exit_code == 1 and "not applied" in res.output  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("image", "tag", "expected"),
    [
        ("python:3.9-slim", "3.12-slim", "python:3.12-slim"),
        ("python", "3.12", "python:3.12"),
        ("registry:5000/team/app:1.0", "1.4", "registry:5000/team/app:1.4"),
        ("registry:5000/team/app", "1.4", "registry:5000/team/app:1.4"),
        ("nginx@sha256:0a1b", "1.27", None),  # pinned by digest
        ("python:3.9", "bad tag", None),
        ("", "1", None),
    ],
)
def test_with_tag(image: str, tag: str, expected: str | None) -> None:
    from scanner.policy.functions import with_tag

    assert with_tag(image, tag) == expected


def test_base_images_move_to_the_golden_tag_keeping_their_variant(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    dockerfile = (
        "# syntax=docker/dockerfile:1\n"
        "FROM python:3.9-slim AS build   # the builder\n"
        "FROM python@sha256:" + "0" * 64 + "\n"
        "RUN echo done\n"
    )
    (repo / "Dockerfile").write_text(dockerfile)
    res = _fix(tmp_path, "--rule", "DOCKER002")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert (repo / "Dockerfile").read_text() == dockerfile.replace(
        "python:3.9-slim", "python:3.12-slim"
    )


# ------------------------------------------------ remedies: Terraform constraints, adds


def test_provider_and_terraform_constraints_are_widened(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    tf = (
        "terraform {\r\n"
        '  required_version = "~> 1.3.0" # by hand\r\n'
        "  required_providers {\r\n"
        '    aws = { source = "hashicorp/aws", version = "~> 4.0" }\r\n'
        '    google = "~> 3.0"\r\n'
        "  }\r\n"
        "}\r\n"
    )
    (repo / "main.tf").write_bytes(tf.encode())
    (repo / "other.tf.json").write_text(
        '{"terraform": {"required_version": ">= 1.9.0", "required_providers": '
        '{"aws": {"source": "hashicorp/aws", "version": "< 5.0"}}}}'
    )
    res = CliRunner().invoke(main, ["fix", str(repo), "--unsafe-fixes"])
    assert res.exit_code == 0, res.output
    assert (repo / "main.tf").read_bytes() == (
        tf.replace('"~> 1.3.0"', '">= 1.5.0"')
        .replace('"~> 4.0"', '"~> 5.40"')
        .replace('"~> 3.0"', '"~> 5.20"')
        .encode()
    )
    # a floor above the golden Terraform needs judgement: only the provider is widened
    assert (repo / "other.tf.json").read_text() == (
        '{"terraform": {"required_version": ">= 1.9.0", "required_providers": '
        '{"aws": {"source": "hashicorp/aws", "version": "~> 5.40"}}}}'
    )


GHA006_CASES = [
    # CRLF, four-space indentation, the comment above jobs stays with jobs
    (
        "name: ci\r\non: push\r\n\r\n# the jobs\r\n# (two lines)\r\njobs:\r\n"
        "    build:\r\n        runs-on: ubuntu-latest\r\n        steps: [{run: echo}]\r\n",
        "name: ci\r\non: push\r\n\r\npermissions:\r\n    contents: read\r\n# the jobs\r\n"
        "# (two lines)\r\njobs:\r\n"
        "    build:\r\n        runs-on: ubuntu-latest\r\n        steps: [{run: echo}]\r\n",
    ),
    # a flow-style value under a block top level: two spaces by default
    (
        "on: {push: {}}\njobs: {a: {runs-on: ubuntu-latest, steps: [{run: echo}]}}",
        "on: {push: {}}\npermissions:\n  contents: read\n"
        "jobs: {a: {runs-on: ubuntu-latest, steps: [{run: echo}]}}",
    ),
]


@pytest.mark.parametrize(("before", "after"), GHA006_CASES)
def test_missing_top_level_permissions_are_added(tmp_path: Path, before: str, after: str) -> None:
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    wf = repo / ".github" / "workflows" / "ci.yml"
    wf.write_bytes(before.encode())
    res = CliRunner().invoke(main, ["fix", str(repo), "--rule", "GHA006", "--unsafe-fixes"])
    assert res.exit_code == 0, res.output
    assert wf.read_bytes() == after.encode()
    again = CliRunner().invoke(
        main, ["fix", str(repo), "--rule", "GHA006", "--dry-run", "--unsafe-fixes"]
    )
    assert again.exit_code == 0 and "0 files" in again.output


def test_an_entry_is_not_added_to_a_flow_mapping_or_a_job_level_write_all(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    flow = "{on: push, jobs: {a: {runs-on: x, steps: [{run: echo}]}}}\n"
    (repo / ".github" / "workflows" / "flow.yml").write_text(flow)
    write_all = (
        "on: push\npermissions: read-all\njobs:\n  a:\n    runs-on: x\n"
        "    permissions: write-all\n    steps: [{run: echo}]\n"
    )
    (repo / ".github" / "workflows" / "all.yml").write_text(write_all)
    res = CliRunner().invoke(main, ["fix", str(repo), "--rule", "GHA006", "--unsafe-fixes"])
    assert res.exit_code == 1
    assert "flow.yml:1 GHA006: the mapping it goes into is not in block style" in res.output
    assert (repo / ".github" / "workflows" / "flow.yml").read_text() == flow
    assert (repo / ".github" / "workflows" / "all.yml").read_text() == write_all


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("read", "read"),
        ("platform-team", "platform-team"),
        ("on", '"on"'),
        ("No", '"No"'),
        ("1.10", '"1.10"'),
        ("0x1F", '"0x1F"'),
        ("12:30", '"12:30"'),
        ("a: b", '"a: b"'),
        ("#x", '"#x"'),
        ("café", '"caf\\u00e9"'),
        ("", '""'),
    ],
)
def test_added_values_read_back_as_the_same_string(value: str, written: str) -> None:
    from ruamel.yaml import YAML

    assert fix_mod.yaml_scalar(value) == written
    assert YAML(typ="safe").load(f"k: {written}\n") == {"k": value}


def test_sarif_fixes_insert_an_added_entry_at_an_empty_region(tmp_path: Path) -> None:
    import json

    from tests.conftest import validate_sarif

    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ci.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{run: echo}]\n"
    )
    out = tmp_path / "r.sarif"
    CliRunner().invoke(main, ["scan", str(repo), "--sarif", str(out), "-q"])
    (r,) = [r for r in json.loads(out.read_text())["runs"][0]["results"] if "fixes" in r]
    (rep,) = r["fixes"][0]["artifactChanges"][0]["replacements"]
    assert rep == {
        "deletedRegion": {"startLine": 2, "startColumn": 1, "endLine": 2, "endColumn": 1},
        "insertedContent": {"text": "permissions:\n  contents: read\n"},
    }
    validate_sarif(out)


def test_the_json_report_carries_the_exact_edit(tmp_path: Path) -> None:
    import json

    repo = _repo(tmp_path)
    out = tmp_path / "r.json"
    CliRunner().invoke(
        main,
        ["scan", str(repo), "--baseline", str(tmp_path / "golden.yml"), "--json", str(out), "-q"],
    )
    fixes = {
        f"{f['rule_id']}:{f['region']['start_line']}": f["fix"]
        for f in json.loads(out.read_text())["findings"]
        if "fix" in f
    }
    assert fixes["GHA003:11"] == {
        "kind": "replace",
        "safe": False,  # v2 -> v4.2.0: a new major
        "value": "actions/checkout@v4.2.0",
        "region": {"start_line": 11, "start_column": 15, "end_line": 11, "end_column": 36},
        "text": '"actions/checkout@v4.2.0"',
    }


def test_sha_pins_move_to_the_recorded_commit_with_the_release_in_a_comment(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    wf = repo / ".github" / "workflows" / "ci.yml"
    before = (
        "on: push\n"
        "permissions: {}\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@f43a0e5ff2bd294095638e18286ca9a3d1956744 # v3.6.0\n"
        "      - uses: docker/login-action@v2\n"
        '      - uses: "hashicorp/setup-terraform@v3.0.0"  # tag=v3.0.0\n'
        "      - uses: docker/setup-buildx-action@main\n"
        "      - uses: aws-actions/configure-aws-credentials@v4.1.0\n"
        "      - uses: docker/build-push-action@v6   # the image\n"
    )
    wf.write_text(before)
    res = CliRunner().invoke(main, ["fix", str(repo), "--unsafe-fixes"])
    assert res.exit_code == 1, res.output  # the commented line is reported, not rewritten
    assert wf.read_text() == (
        before.replace(
            "actions/checkout@f43a0e5ff2bd294095638e18286ca9a3d1956744 # v3.6.0",
            "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2",
        )
        .replace(
            "docker/login-action@v2\n",
            "docker/login-action@74a5d142397b4f367a81961eba4e8cd7edddf772 # v3.4.0\n",
        )
        .replace(
            '"hashicorp/setup-terraform@v3.0.0"  # tag=v3.0.0',
            '"hashicorp/setup-terraform@b9cd54a3c349d3f38e8881555d616ced269862dd"  # v3.1.2',
        )
    )
    # a branch is not moved to a release, a pin is never moved down (v4.1.0 > the recorded
    # v4.0.2), and a comment other than a version is never dropped
    assert "ci.yml:12 GHA002: its line has a comment that is not a version" in res.output


def test_remedies_that_may_change_behaviour_are_written_only_when_asked(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    wf = repo / ".github" / "workflows" / "ci.yml"
    before = (
        "on: push\n"
        "jobs:\n"
        "  a:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v3\n"  # a new major: unsafe
        '      - uses: "hashicorp/setup-terraform@v3.0.0"\n'  # same major: safe
    )
    wf.write_text(before)
    res = CliRunner().invoke(main, ["fix", str(repo)])
    assert res.exit_code == 0, res.output
    safe = before.replace(
        '"hashicorp/setup-terraform@v3.0.0"',
        '"hashicorp/setup-terraform@b9cd54a3c349d3f38e8881555d616ced269862dd" # v3.1.2',
    )
    assert wf.read_text() == safe
    # the top-level permissions would narrow job a's token: unsafe too
    assert "1 of 5 findings fixed in 1 files; 2 more with --unsafe-fixes" in res.output
    res = CliRunner().invoke(main, ["fix", str(repo), "--unsafe-fixes"])
    assert res.exit_code == 0, res.output
    assert wf.read_text() == safe.replace(
        "on: push\njobs:", "on: push\npermissions:\n  contents: read\njobs:"
    ).replace("actions/checkout@v3", "actions/checkout@v4")
    assert "GHA003: actions/checkout@v3 -> actions/checkout@v4" in res.output
    assert "GHA006: added permissions:; contents: read" in res.output


def test_top_level_permissions_are_a_safe_remedy_when_every_job_declares_its_own(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    wf = repo / ".github" / "workflows" / "ci.yml"
    wf.write_text(
        "on: push\njobs:\n  a:\n    runs-on: x\n    permissions: {contents: write}\n"
        "    steps: [{run: echo}]\n"
    )
    res = CliRunner().invoke(main, ["fix", str(repo), "--rule", "GHA006"])
    assert res.exit_code == 0, res.output
    assert wf.read_text().startswith("on: push\npermissions:\n  contents: read\njobs:\n")


def test_values_that_aliases_share_are_not_edited(tmp_path: Path) -> None:
    # labels anchored and used again by the selector: adding one would change an immutable
    # selector too (hostile review); a merge key shares a mapping the same way
    repo = tmp_path / "repo"
    (repo / "k8s").mkdir(parents=True)
    (repo / ".github" / "workflows").mkdir(parents=True)
    deploy = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
        "  labels: &labels\n    app: web\nspec:\n  selector:\n    matchLabels: *labels\n"
        "  template:\n    metadata:\n      labels: *labels\n"
        "    spec:\n      containers: [{name: a, image: ghcr.io/acme/a:1.0.0}]\n"
    )
    (repo / "k8s" / "deploy.yaml").write_text(deploy)
    workflow = (
        "on: push\npermissions: {}\nx: &steps\n  uses: actions/checkout@v3\n"
        "jobs:\n  a:\n    runs-on: x\n    steps:\n      - <<: *steps\n"
        "      - uses: actions/checkout@v3\n"
    )
    (repo / ".github" / "workflows" / "ci.yml").write_text(workflow)
    (repo / "CODEOWNERS").write_text("* @acme/payments\n")
    policy = tmp_path / "policy.yml"
    policy.write_text("ownership:\n  labels: {team: $team, app.kubernetes.io/name: web}\n")
    res = CliRunner().invoke(main, ["fix", str(repo), "--policy", str(policy), "--unsafe-fixes"])
    assert res.exit_code == 1, res.output
    assert (repo / "k8s" / "deploy.yaml").read_text() == deploy
    assert "deploy.yaml:5 K8S002: it is inside an anchored node" in res.output
    # the step of its own is fixed; the anchored one (under x) is left alone
    assert (repo / ".github" / "workflows" / "ci.yml").read_text() == workflow.replace(
        "      - uses: actions/checkout@v3\n", "      - uses: actions/checkout@v4\n"
    )


def test_a_lone_carriage_return_leaves_the_file_alone(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    text = (
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: x\n    steps:\n"
        "      # a\r      # b\n      - uses: actions/checkout@v3\n      - run: echo abcdefghijk\n"
    )
    wf = repo / ".github" / "workflows" / "ci.yml"
    wf.write_bytes(text.encode())
    res = CliRunner().invoke(main, ["fix", str(repo), "--unsafe-fixes"])
    assert res.exit_code == 1 and "a lone \\r" in res.output, res.output
    assert wf.read_bytes() == text.encode()


def test_a_file_of_the_temporary_name_is_never_removed(tmp_path: Path, monkeypatch) -> None:
    import secrets

    repo = _repo(tmp_path)
    monkeypatch.setattr(secrets, "token_hex", lambda n: "abcd")
    planted = repo / f".main.tf.{os.getpid()}.abcd.tether"
    planted.write_text("someone's\n")
    res = _fix(tmp_path, "--rule", "TF006")
    assert res.exit_code == 1 and "cannot write it" in res.output  # type: ignore[attr-defined]
    assert planted.read_text() == "someone's\n"


def test_a_tag_bump_never_leaves_a_version_comment_that_contradicts_it(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    wf = repo / ".github" / "workflows" / "ci.yml"
    text = (
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: x\n    steps:\n"
        '      - uses: "actions/setup-go@v3"   # v3\n'
    )
    wf.write_text(text)
    res = CliRunner().invoke(main, ["fix", str(repo), "--unsafe-fixes"])
    assert res.exit_code == 1, res.output
    assert "a version comment follows it" in res.output
    assert wf.read_text() == text


def test_an_image_two_rules_fail_gets_one_edit_that_fixes_both(tmp_path: Path) -> None:
    # off the approved registries and behind the golden tag: one edit, mirror and tag
    repo = tmp_path / "repo"
    (repo / "k8s").mkdir(parents=True)
    (repo / "Dockerfile").write_text("FROM python:3.9-slim AS build\nFROM python:latest\n")
    (repo / "k8s" / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {team: a, "
        "app.kubernetes.io/name: p}\nspec:\n  containers:\n    - name: c\n      image: nginx\n"
    )
    golden = tmp_path / "golden.yml"
    golden.write_text(
        "extends: [default]\n"
        "docker:\n  base_images: [registry.acme.dev/**]\n"
        "  mirrors: {docker.io/library/: registry.acme.dev/mirror/}\n"
        "  minimum_tags: {docker.io/library/nginx: '1.27'}\n"
        "kubernetes:\n  registries: [registry.acme.dev/**]\n"
        "  mirrors: {docker.io/library/: registry.acme.dev/mirror/}\n"
    )
    res = CliRunner().invoke(main, ["fix", str(repo), "--baseline", str(golden)])
    assert res.exit_code == 0, res.output
    assert (repo / "Dockerfile").read_text() == (
        "FROM registry.acme.dev/mirror/python:3.12-slim AS build\nFROM python:latest\n"
    )
    assert "DOCKER001: python:3.9-slim -> registry.acme.dev/mirror/python:3.12-slim" in res.output
    assert "DOCKER002: python:3.9-slim -> registry.acme.dev/mirror/python:3.12-slim" in res.output
    # latest and a missing tag may move down: those edits wait for --unsafe-fixes
    assert "4 more with --unsafe-fixes" in res.output  # (two rules, two images)
    res = CliRunner().invoke(main, ["fix", str(repo), "--baseline", str(golden), "--unsafe-fixes"])
    assert res.exit_code == 0, res.output
    assert (repo / "Dockerfile").read_text().endswith("FROM registry.acme.dev/mirror/python:3.12\n")
    assert "image: registry.acme.dev/mirror/nginx:1.27\n" in (repo / "k8s" / "pod.yaml").read_text()


def test_tags_added_in_hcl_are_aligned_as_terraform_fmt_aligns_them(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "CODEOWNERS").write_text("* @acme/payments\n")
    tf = (
        'provider "aws" {}\n\nresource "aws_s3_bucket" "b" {\n  bucket = "b"\n'
        '  tags = {\n    Name = "b"\n    Env  = "prod"\n  }\n}\n'
    )
    (repo / "main.tf").write_text(tf)
    policy = tmp_path / "policy.yml"
    policy.write_text("ownership:\n  labels: {team: $team, cost-center: {payments: cc-1}}\n")
    res = CliRunner().invoke(main, ["fix", str(repo), "--policy", str(policy)])
    assert res.exit_code == 0, res.output
    # a run of its own (terraform fmt aligns the = of consecutive one-line attributes)
    assert (repo / "main.tf").read_text() == tf.replace(
        '  tags = {\n    Name = "b"',
        '  tags = {\n    cost-center = "cc-1"\n    team        = "payments"\n\n    Name = "b"',
    )


def test_the_json_report_says_why_a_remedy_cannot_be_written(tmp_path: Path) -> None:
    import json

    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ci.yml").write_text(
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: x\n    steps:\n"
        "      - uses: &u actions/checkout@v3\n"
    )
    out = tmp_path / "r.json"
    CliRunner().invoke(main, ["scan", str(repo), "--json", str(out), "-q"])
    (f,) = [f for f in json.loads(out.read_text())["findings"] if f["rule_id"] == "GHA003"]
    assert "text" not in f["fix"]
    assert f["fix"]["refused"].startswith("its value cannot be rewritten safely there")


def test_sarif_and_json_refuse_what_tether_fix_refuses_in_anchored_nodes(tmp_path: Path) -> None:
    import json

    repo = tmp_path / "repo"
    (repo / "k8s").mkdir(parents=True)
    (repo / "CODEOWNERS").write_text("* @acme/payments\n")
    (repo / "k8s" / "d.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: &m\n  name: web\n"
        "spec:\n  template:\n    metadata: *m\n"
        "    spec:\n      containers: [{name: a, image: ghcr.io/acme/a:1.0.0}]\n"
    )
    policy = tmp_path / "policy.yml"
    policy.write_text("ownership:\n  labels: {team: $team, app.kubernetes.io/name: web}\n")
    out, sarif = tmp_path / "r.json", tmp_path / "r.sarif"
    CliRunner().invoke(
        main,
        ["scan", str(repo), "--policy", str(policy), "--json", str(out), "--sarif", str(sarif)],
    )
    (f,) = [f for f in json.loads(out.read_text())["findings"] if f["rule_id"] == "K8S002"]
    assert f["fix"]["refused"].startswith("it is inside an anchored node"), f["fix"]
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert not [r for r in results if r["ruleId"] == "K8S002" and "fixes" in r]


def test_an_add_into_a_flow_mapping_over_several_lines_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "k8s").mkdir(parents=True)
    (repo / "CODEOWNERS").write_text("* @acme/payments\n")
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: {\n"
        "    app.kubernetes.io/name: web\n  }\nspec:\n  template:\n    spec:\n"
        "      containers: [{name: a, image: ghcr.io/acme/a:1.0.0}]\n"
    )
    (repo / "k8s" / "d.yaml").write_text(text)
    policy = tmp_path / "policy.yml"
    policy.write_text("ownership:\n  labels: {team: $team}\n")
    res = CliRunner().invoke(main, ["fix", str(repo), "--policy", str(policy)])
    assert res.exit_code == 1 and "not in block style" in res.output, res.output
    assert (repo / "k8s" / "d.yaml").read_text() == text


def test_a_path_that_leads_out_of_its_repository_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "Dockerfile").write_text("FROM python:3.9-slim\n")
    (repo / "sub").symlink_to(outside)
    res = CliRunner().invoke(main, ["fix", str(repo / "sub")])
    assert res.exit_code == 2 and "leads out of the repository" in res.output, res.output
    assert (outside / "Dockerfile").read_text() == "FROM python:3.9-slim\n"


def test_terraform_within_its_major_is_safe_a_new_provider_major_is_not(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    tf = (
        'terraform {\n  required_version = "~> 1.3.0"\n  required_providers {\n'
        '    aws    = { source = "hashicorp/aws", version = "~> 4.67" }\n'
        '    google = { source = "hashicorp/google", version = "~> 5.2.0" }\n  }\n}\n'
    )
    (repo / "main.tf").write_text(tf)
    res = CliRunner().invoke(main, ["fix", str(repo)])
    assert res.exit_code == 0, res.output
    assert (repo / "main.tf").read_text() == tf.replace('"~> 1.3.0"', '">= 1.5.0"').replace(
        '"~> 5.2.0"', '"~> 5.20"'
    )
    assert "1 more with --unsafe-fixes" in res.output  # aws 4.x -> 5.x


def test_an_add_never_climbs_into_a_quoted_string_or_a_block_comment(tmp_path: Path) -> None:
    # lines that start with # inside a quoted YAML string, or inside an HCL /* */ comment,
    # are not comments to move above (second hostile review)
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    wf = repo / ".github" / "workflows" / "ci.yml"
    wf.write_text(
        'on: push\nname: "ci\n# not a comment"\njobs:\n  a:\n    runs-on: x\n'
        "    permissions: {contents: read}\n    steps: [{run: echo}]\n"
    )
    (repo / "CODEOWNERS").write_text("* @acme/payments\n")
    tf = (
        'provider "aws" {}\n\nresource "aws_sqs_queue" "q" {\n  /* start\n  # x */\n'
        '  name = "q"\n}\n'
    )
    (repo / "main.tf").write_text(tf)
    policy = tmp_path / "policy.yml"
    policy.write_text("ownership:\n  labels: {team: $team, cost-center: {payments: cc-1}}\n")
    res = CliRunner().invoke(main, ["fix", str(repo), "--policy", str(policy)])
    assert res.exit_code == 0, res.output
    assert wf.read_text().startswith(
        'on: push\nname: "ci\n# not a comment"\npermissions:\n  contents: read\njobs:\n'
    )
    assert (repo / "main.tf").read_text() == tf.replace(
        '  name = "q"',
        '  tags = {\n    cost-center = "cc-1"\n    team        = "payments"\n  }\n  name = "q"',
    )


def test_format_json_says_what_was_written_refused_and_held(tmp_path: Path) -> None:
    import json

    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    wf = repo / ".github" / "workflows" / "ci.yml"
    wf.write_text(
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: x\n    steps:\n"
        "      - uses: actions/checkout@v3\n"  # unsafe: held
        '      - uses: "hashicorp/setup-terraform@v3.0.0"\n'  # safe
        "      - uses: &u hashicorp/setup-terraform@v3.0.0\n"  # refused
    )
    for dry in (True, False):
        res = CliRunner().invoke(
            main, ["fix", str(repo), "--format", "json", *(["--dry-run"] if dry else [])]
        )
        assert res.exit_code == 1, res.output
        doc = json.loads(res.stdout)
        assert doc["dry_run"] is dry
        assert doc["fixed"] == [
            {
                "path": ".github/workflows/ci.yml",
                "line": 8,
                "rule_id": "GHA002",
                "old": '"hashicorp/setup-terraform@v3.0.0"',
                "new": '"hashicorp/setup-terraform@b9cd54a3c349d3f38e8881555d616ced269862dd"'
                " # v3.1.2",
                "safe": True,
            }
        ]
        assert [(r["line"], r["rule_id"]) for r in doc["refused"]] == [(9, "GHA002")]
        assert doc["held_as_unsafe"] == [
            {"path": ".github/workflows/ci.yml", "line": 7, "rule_id": "GHA003"}
        ]
        assert doc["put_back"] == []
