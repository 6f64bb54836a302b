"""`tether verify`: a policy repository's rule cases, per case pass/fail with location and
expected vs actual findings; every rule needs a passing and a failing case and filled-in docs;
malformed input is a configuration error (exit 2). Also `tether schema` and `tether baselines`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from scanner.policy_cli import register, schema_names

from .conftest import ROOT, write_tree

RULE = """\
id: ACME001
name: no-latest-base
title: Base image is not latest
pack: dockerfile
category: drift
severity: warning
status: stable
applies_to: docker.from
when: fact.via == "from" && fact.image_valid
assert: fact.tag != "latest"
location: image
message: "{{fact.image}} floats; pin a version tag."
docs:
  what: Checks that no FROM uses the latest tag.
  why: A latest tag changes under the build without review.
  example: FROM python:latest
  use_instead: FROM python:3.12
"""
CASES = """\
rule: ACME001
cases:
  - name: a version tag passes
    files:
      Dockerfile: "FROM python:3.12\\n"
    expect: []
  - name: latest fails
    files:
      Dockerfile: "FROM python:latest\\n"
    expect:
      - {line: 1, col: 6, message: "floats"}
"""


def tether(*args: str) -> Result:
    group = click.Group("tether")
    register(group)
    return CliRunner().invoke(group, list(args))


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = write_tree(
        tmp_path / "policy",
        {
            "tether-policy.yml": "baseline: [org.yml]\nrules: [rules]\n",
            "org.yml": "extends: [default]\n",
            "rules/acme/ACME001.yml": RULE,
            "tests/rule_cases/ACME001.yml": CASES,
        },
    )
    monkeypatch.chdir(root)
    return root


def test_passing_repository(repo: Path) -> None:
    result = tether("verify")
    assert result.exit_code == 0, result.output
    assert "ok   tests/rule_cases/ACME001.yml:3  ACME001  a version tag passes" in result.output
    assert result.output.endswith(
        "2 case(s): 2 passed, 0 failed; 1 rule(s) under test, 0 rule check(s) failed\n"
    )


def test_json_output(repo: Path) -> None:
    result = tether("verify", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["passed"] is True
    assert data["policy"] == "tether-policy.yml"
    assert data["rules"] == ["ACME001"]
    assert data["summary"] == {
        "cases": 2,
        "passed": 2,
        "failed": 0,
        "rules": 1,
        "rule_checks_failed": 0,
    }
    latest = data["cases"][1]
    assert latest["file"] == "tests/rule_cases/ACME001.yml"
    assert latest["line"] == 7
    assert latest["expected"] == [{"path": "Dockerfile", "line": 1, "col": 6, "message": "floats"}]
    assert latest["actual"][0]["message"] == "python:latest floats; pin a version tag."


def test_failing_case_shows_location_expected_and_actual(repo: Path) -> None:
    cases = repo / "tests/rule_cases/ACME001.yml"
    cases.write_text(CASES.replace("{line: 1, col: 6", "{line: 1, col: 1"))
    result = tether("verify")
    assert result.exit_code == 1
    assert "FAIL tests/rule_cases/ACME001.yml:7  ACME001  latest fails" in result.output
    assert "findings differ: missing Dockerfile:1:1; unexpected Dockerfile:1:6" in result.output
    assert 'expected: Dockerfile:1:1 (message contains "floats")' in result.output
    assert "actual:   Dockerfile:1:6 python:latest floats; pin a version tag." in result.output
    assert "1 failed" in result.output


def test_message_text_is_checked(repo: Path) -> None:
    cases = repo / "tests/rule_cases/ACME001.yml"
    cases.write_text(CASES.replace('message: "floats"', 'message: "sinks"'))
    result = tether("verify", "-q")
    assert result.exit_code == 1
    assert "finding at Dockerfile:1:6: message does not contain 'sinks'" in result.output
    assert "ok " not in result.output  # --quiet: failures only


def test_every_rule_needs_a_passing_and_a_failing_case(repo: Path) -> None:
    (repo / "tests/rule_cases/ACME001.yml").write_text(CASES.split("  - name: latest")[0])
    result = tether("verify")
    assert result.exit_code == 1
    assert (
        "FAIL rules/acme/ACME001.yml  ACME001  no case expects a finding: add a failing case"
        in result.output
    )
    (repo / "tests/rule_cases/ACME001.yml").unlink()
    result = tether("verify")
    assert result.exit_code == 1
    assert "no case expects none: add a passing case (`expect: []`)" in result.output
    assert "0 case(s)" in result.output


def test_docs_must_be_filled_in(repo: Path) -> None:
    rule = repo / "rules/acme/ACME001.yml"
    rule.write_text(
        RULE.replace(
            "why: A latest tag changes under the build without review.",
            "why: 'TODO: say why this matters'",
        )
        .replace("title: Base image is not latest", "title: 'TBD, later'")
        .replace("use_instead: FROM python:3.12", "use_instead: ' '")
    )
    result = tether("verify")
    assert result.exit_code == 1, result.output
    assert "FAIL rules/acme/ACME001.yml:3  ACME001  title is a placeholder ('TBD, later')" in (
        result.output
    )
    assert "FAIL rules/acme/ACME001.yml:15  ACME001  docs.why is a placeholder" in result.output
    assert "FAIL rules/acme/ACME001.yml:17  ACME001  docs.use_instead is empty" in result.output
    assert "3 rule check(s) failed" in result.output


def test_a_rule_error_fails_the_case(repo: Path) -> None:
    rule = repo / "rules/acme/ACME001.yml"
    rule.write_text(
        RULE.replace('assert: fact.tag != "latest"', 'assert: semver_compare(fact.tag, "1.0") > 0')
    )
    (repo / "tests/rule_cases/ACME001.yml").write_text(
        CASES.replace('"FROM python:3.12\\n"', '"FROM python\\n"')
    )
    result = tether("verify")
    assert result.exit_code == 1
    assert "FAIL tests/rule_cases/ACME001.yml:3" in result.output
    assert "rule-error at Dockerfile:1" in result.output


@pytest.mark.parametrize(
    ("case_file", "where", "problem"),
    [
        (
            CASES.replace("    expect: []\n", "    expected: []\n"),
            ":6",
            "unexpected key 'expected'",
        ),
        (CASES.replace("name: latest fails", "name: a version tag passes"), ":7", "already used"),
        (CASES.replace("Dockerfile:", "../Dockerfile:", 1), ":3", "relative path inside"),
        (CASES.replace("Dockerfile:", ".git/hooks/pre-commit:", 1), ":3", "nothing under .git"),
        (CASES.replace("rule: ACME001", "rule: ACME01"), ":1", "rule-cases rule"),
        (
            CASES.replace("rule: ACME001", "rule: ACME002"),
            ":1",
            "no rule ACME002; did you mean ACME001",
        ),
        ("rule: [", ":1", "invalid YAML"),
    ],
)
def test_malformed_case_files_are_configuration_errors(
    repo: Path, case_file: str, where: str, problem: str
) -> None:
    (repo / "tests/rule_cases/ACME001.yml").write_text(case_file)
    result = tether("verify")
    assert result.exit_code == 2, result.output
    assert f"tether: configuration error: tests/rule_cases/ACME001.yml{where}: " in result.output
    assert problem in result.output


def test_layout_errors(repo: Path) -> None:
    result = tether("verify", "--rule", "acme01")
    assert result.exit_code == 2
    assert "no rule ACME01; did you mean ACME001?" in result.output
    (repo / "org.yml").write_text("extends: [defualt]\n")
    result = tether("verify")
    assert result.exit_code == 2
    assert "baseline 'defualt' not found" in result.output
    (repo / "org.yml").write_text("extends: [default]\nexceptions: [nope.yml]\n")
    assert tether("verify").exit_code == 2
    (repo / "org.yml").write_text("extends: [default]\n")
    (repo / "tests/rule_cases/ACME001.yml").rename(repo / "ACME001-cases.yml")
    (repo / "tests/rule_cases").rmdir()
    result = tether("verify")
    assert result.exit_code == 2
    assert "no rule cases: expected a tests/rule_cases/ directory here, or pass --cases" in (
        result.output
    )
    assert tether("verify", "--cases", "ACME001-cases.yml").exit_code == 0


def test_explicit_rules_and_cases_without_a_policy(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path / "elsewhere",
        {"my-rules/ACME001.yml": RULE, "my-cases/docker/ACME001.yaml": CASES},
    )
    result = tether(
        "verify",
        str(root),
        "--rules",
        str(root / "my-rules"),
        "--cases",
        str(root / "my-cases"),
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["policy"] is None
    assert data["summary"]["cases"] == 2


def test_cases_for_built_in_rules_run_under_the_policy(repo: Path) -> None:
    """A policy repository may test tether's rules under its own baseline; they are not
    rules under test (no coverage or docs checks)."""
    (repo / "org.yml").write_text(
        "extends: [default]\ndocker: {base_images: ['ghcr.io/acme/**']}\n"
    )
    write_tree(
        repo,
        {
            "tests/rule_cases/DOCKER001.yml": textwrap.dedent(
                """\
                rule: DOCKER001
                cases:
                  - name: only ACME's images are approved here
                    files:
                      Dockerfile: "FROM python:3.12\\n"
                    expect: [{line: 1, col: 6}]
                """
            )
        },
    )
    result = tether("verify", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rules"] == ["ACME001"]
    result = tether("verify", "--rule", "DOCKER001")
    assert result.exit_code == 0, result.output
    assert "1 case(s): 1 passed, 0 failed; 0 rule(s) under test" in result.output


def test_case_options_baseline_policy_today_and_pull_request_mode(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a hostile git configuration (signing, hooks) must not reach the case's repository
    hooks = write_tree(tmp_path / "hooks", {"pre-commit": "#!/bin/sh\nexit 1\n"})
    (hooks / "pre-commit").chmod(0o755)
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(f"[commit]\n\tgpgsign = true\n[core]\n\thooksPath = {hooks}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    write_tree(
        repo,
        {
            "tests/rule_cases/EXC001.yml": textwrap.dedent(
                """\
                rule: EXC001
                cases:
                  - name: expired on the case's date
                    today: "2027-03-01"
                    baseline: |
                      exception_policy: {max_days: 365}
                    policy: |
                      approvals: {approvers: [platform-team]}
                    files:
                      .tether/exceptions.yaml: |
                        - rule: ACME001
                          scope: {path: Dockerfile}
                          justification: vendor build image, mirrored in PLAT-9
                          owner: team-a
                          approved_by: platform-team
                          created: 2026-11-01
                          expires: 2027-01-31
                      Dockerfile: "FROM python:latest\\n"
                    expect:
                      - path: .tether/exceptions.yaml
                        line: 1
                        col: 1
                        message: "expired on 2027-01-31 (29 day(s) ago)"
                """
            ),
            "tests/rule_cases/CFG002.yml": textwrap.dedent(
                """\
                rule: CFG002
                cases:
                  - name: a pull request adding an exclude is reported
                    base_files:
                      .tether.yaml: "exclude: [vendor/**]\\n"
                    files:
                      .tether.yaml: "exclude: [vendor/**, k8s/**]\\n"
                    expect: [{path: .tether.yaml, line: 1, col: 1}]
                """
            ),
        },
    )
    result = tether("verify", "--rule", "EXC001", "--rule", "CFG002")
    assert result.exit_code == 0, result.output
    assert "2 case(s): 2 passed" in result.output


def test_verify_on_tethers_own_repository() -> None:
    """tether's own rules/ and tests/rule_cases/ are a policy repository too (its rules/ are
    the embedded rules: loaded once, and under test)."""
    result = tether("verify", str(ROOT), "--rule", "TF001", "--rule", "REPO001", "-q")
    assert result.exit_code == 0, result.output
    assert "0 failed; 2 rule(s) under test, 0 rule check(s) failed" in result.output


def test_schema_command() -> None:
    assert {"config", "baseline", "exceptions", "policy", "rule", "org-summary"} <= set(
        schema_names()
    )
    assert "rule-cases" in schema_names()
    listed = tether("schema")
    assert listed.exit_code == 0
    assert "rule           tether rule" in listed.output
    printed = tether("schema", "rule")
    assert printed.exit_code == 0
    assert json.loads(printed.output)["$id"].endswith("/rule.schema.json")
    assert tether("schema", "rule.schema.json").output == printed.output
    unknown = tether("schema", "rules")
    assert unknown.exit_code == 2
    assert "no schema 'rules'; did you mean rule" in unknown.output


def test_baselines_command() -> None:
    result = tether("baselines")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert any(
        line.startswith("default ") and "Public golden-path defaults" in line for line in lines
    )
    assert any(line.startswith("examples/acme/team-payments ") for line in lines)
    rows = json.loads(tether("baselines", "--format", "json").output)
    assert {
        "name": "default",
        "description": "Public golden-path defaults shipped with tether.",
    } in (rows)


FIXING_RULE = RULE.replace(
    "message:", 'fix: {with: "{{with_tag(fact.image, \\"3.12\\")}}"}\nmessage:'
)
FIX_CASES = """\
rule: ACME001
cases:
  - name: a version tag passes
    files:
      Dockerfile: "FROM python:3.12\\n"
    expect: []
  - name: latest is moved to the golden tag
    files:
      Dockerfile: |
        # the build image
        FROM python:latest AS build
        FROM python:3.12
    expect:
      - {line: 2, col: 6}
    fixed:
      Dockerfile: |
        # the build image
        FROM python:3.12 AS build
        FROM python:3.12
  - name: in a pull request, the head's file is fixed; the others stay as they are
    base_files:
      Dockerfile: "FROM python:3.12\\n"
      app.Dockerfile: "FROM python:latest\\n"
    files:
      Dockerfile: "FROM python:latest\\n"
    expect:
      - {path: Dockerfile, line: 1, col: 6}
      - {path: app.Dockerfile, line: 1, col: 6}
    fixed:
      Dockerfile: "FROM python:3.12\\n"
      app.Dockerfile: "FROM python:3.12\\n"
"""


@pytest.fixture
def fixing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A policy repository whose own rule declares `fix:`, verified with --rules/--cases."""
    root = write_tree(
        tmp_path / "policy",
        {"rules/ACME001.yml": FIXING_RULE, "tests/rule_cases/ACME001.yml": FIX_CASES},
    )
    monkeypatch.chdir(root)
    return root


def _verify_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = tether("verify", ".", "--rules", "rules", "--format", "json", *args)
    return result.exit_code, json.loads(result.output)


def test_fixed_text_is_checked_for_a_policy_repositorys_own_rule(fixing: Path) -> None:
    """The remedy is applied as tether fix applies it, in pull-request mode too (a file the
    head keeps from the merge base is fixed and compared as well)."""
    code, data = _verify_json()
    assert code == 0, data
    assert [c["passed"] for c in data["cases"]] == [True, True, True]
    latest = data["cases"][1]
    assert latest["expected_fixed"] == latest["fixed"]
    assert latest["fixed"] == {
        "Dockerfile": "# the build image\nFROM python:3.12 AS build\nFROM python:3.12\n"
    }
    assert data["cases"][0]["fixed"] == {} and data["cases"][0]["expected_fixed"] is None


def test_a_wrong_fixed_text_fails_with_a_diff(fixing: Path) -> None:
    cases = fixing / "tests/rule_cases/ACME001.yml"
    cases.write_text(FIX_CASES.replace("FROM python:3.12 AS build", "FROM python:3.13 AS build"))
    result = tether("verify", ".", "--rules", "rules")
    assert result.exit_code == 1, result.output
    assert "FAIL tests/rule_cases/ACME001.yml:7  ACME001  latest is moved" in result.output
    assert (
        "     fixed: Dockerfile differs from the expected fixed text (- expected, + actual):\n"
        "       --- expected/Dockerfile\n"
        "       +++ actual/Dockerfile\n"
        "       @@ -1,3 +1,3 @@\n"
        "        # the build image\n"
        "       -FROM python:3.13 AS build\n"
        "       +FROM python:3.12 AS build\n"
        "        FROM python:3.12\n"
    ) in result.output
    code, data = _verify_json()
    assert code == 1 and data["passed"] is False
    (wrong,) = [c for c in data["cases"] if not c["passed"]]
    assert wrong["line"] == 7
    assert wrong["problems"][0].startswith("fixed: Dockerfile differs from the expected")
    assert "+FROM python:3.12 AS build" in wrong["problems"][0]
    assert wrong["fixed"]["Dockerfile"].startswith("# the build image\nFROM python:3.12 AS")


def test_a_file_fixed_but_not_listed_must_be_unchanged(fixing: Path) -> None:
    cases = fixing / "tests/rule_cases/ACME001.yml"
    cases.write_text(FIX_CASES.replace('      app.Dockerfile: "FROM python:3.12\\n"\n', ""))
    code, data = _verify_json()
    assert code == 1
    (wrong,) = [c for c in data["cases"] if not c["passed"]]
    assert wrong["problems"] == [
        "fixed: app.Dockerfile is not in `fixed:`, so it must be unchanged, but the remedies "
        "changed it (- before, + after):\n"
        "  --- before/app.Dockerfile\n"
        "  +++ after/app.Dockerfile\n"
        "  @@ -1 +1 @@\n"
        "  -FROM python:latest\n"
        "  +FROM python:3.12"
    ]


def test_a_remedy_without_fixed_fails_and_shows_the_text_to_copy(fixing: Path) -> None:
    cases = fixing / "tests/rule_cases/ACME001.yml"
    text = FIX_CASES.replace(
        "    fixed:\n      Dockerfile: |\n        # the build image\n"
        "        FROM python:3.12 AS build\n        FROM python:3.12\n",
        "",
    )
    cases.write_text(text)
    result = tether("verify", ".", "--rules", "rules", "-q")
    assert result.exit_code == 1, result.output
    assert (
        "     has a remedy but no `fixed:` expectation; with the remedies applied the case's "
        "files read as follows (check them, then add them to the case):\n"
        "     fixed:\n"
        "       Dockerfile: |\n"
        "         # the build image\n"
        "         FROM python:3.12 AS build\n"
        "         FROM python:3.12\n"
    ) in result.output
    # the text shown is what the case needs
    cases.write_text(FIX_CASES)
    assert tether("verify", ".", "--rules", "rules").exit_code == 0


def test_fixed_where_the_rule_carries_no_remedy_fails(fixing: Path) -> None:
    cases = fixing / "tests/rule_cases/ACME001.yml"
    cases.write_text(
        FIX_CASES.replace(
            "    expect: []\n",
            '    expect: []\n    fixed: {Dockerfile: "FROM python:3.12\\n"}\n',
            1,
        )
    )
    code, data = _verify_json()
    assert code == 1
    assert data["cases"][0]["problems"] == [
        "expects a fix (`fixed:`), but the rule's findings carry none"
    ]
    # a rule whose remedy renders empty (no remedy) for the failing case: the same
    (fixing / "rules/ACME001.yml").write_text(
        FIXING_RULE.replace('with_tag(fact.image, \\"3.12\\")', '\\"\\"')
    )
    code, data = _verify_json()
    assert code == 1
    assert data["cases"][1]["problems"] == [
        "expects a fix (`fixed:`), but the rule's findings carry none"
    ]


def test_a_refused_remedy_fails_the_case(fixing: Path) -> None:
    """What tether fix refuses (here a file with a U+2028 line break) is a failure with
    its reason, `fixed:` or not."""
    cases = fixing / "tests/rule_cases/ACME001.yml"
    cases.write_text(
        FIX_CASES.replace(
            "      Dockerfile: |\n        # the build image\n        FROM python:latest AS build\n"
            "        FROM python:3.12\n",
            '      Dockerfile: "# the build\\u2028image\\nFROM python:latest AS build\\n"\n',
        )
    )
    code, data = _verify_json()
    assert code == 1
    problems = data["cases"][1]["problems"]
    assert problems[0].startswith(
        "fixed: not applied: Dockerfile:2 ACME001: the file has line breaks other than \\n "
        "and \\r\\n (a lone \\r, U+2028, U+2029, U+0085)"
    )


def test_a_rule_that_declares_fix_needs_a_case_with_fixed(fixing: Path) -> None:
    (fixing / "tests/rule_cases/ACME001.yml").write_text(CASES)
    code, data = _verify_json()
    assert code == 1
    assert [c["problem"] for c in data["rule_checks"]] == [
        "declares `fix:` but no case expects a fixed text: add a failing case whose finding "
        "has a remedy, with `fixed:`"
    ]


@pytest.mark.parametrize(
    ("fixed", "problem"),
    [
        ("{}", "cases/0/fixed: must have at least 1 key(s)"),
        ('{nope.txt: "x"}', "fixed: 'nope.txt' is not a file of the case"),
        ('{../x: "x"}', "case file name '../x' must be a relative path"),
    ],
)
def test_malformed_fixed_is_a_configuration_error(fixing: Path, fixed: str, problem: str) -> None:
    cases = fixing / "tests/rule_cases/ACME001.yml"
    cases.write_text(
        FIX_CASES.replace("    expect: []\n", f"    expect: []\n    fixed: {fixed}\n", 1)
    )
    result = tether("verify", ".", "--rules", "rules")
    assert result.exit_code == 2, result.output
    assert problem in result.output
