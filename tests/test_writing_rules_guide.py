"""docs/writing-rules.md is followed literally: its files (the fenced blocks marked
`title=PATH`) are written into a policy repository, `tether verify` passes on it and prints
what the guide shows, and a scan under the guide's policy reports the guide's rule. Also: the
generated CEL function reference (docs/cel-functions.md) is fresh and its examples run."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scanner.docs import CEL_EXAMPLES, CEL_GROUPS, cel_evaluate, cel_functions_markdown
from scanner.policy.functions import FUNCTIONS
from scanner.policy.operator import load as load_policy
from scanner.policy_cli import register
from scanner.scaffold import schema_url
from scanner.scan import ScanOptions, scan

from .conftest import ROOT, write_tree

GUIDE = ROOT / "docs" / "writing-rules.md"
FENCE = re.compile(r"^```(\w+) (title|id)=(\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _blocks(kind: str) -> dict[str, str]:
    text = GUIDE.read_text("utf-8")
    return {m.group(3): m.group(4) for m in FENCE.finditer(text) if m.group(2) == kind}


def _tether() -> click.Group:
    group = click.Group("tether")
    register(group)
    return group


def _console(name: str) -> tuple[list[str], str]:
    """A console block of the guide: the command's arguments and what it prints."""
    prompt, _, output = _blocks("id")[name].partition("\n")
    assert prompt.startswith("$ tether "), prompt
    return prompt.removeprefix("$ tether ").split(), output


@pytest.fixture
def policy_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    files = _blocks("title")
    assert set(files) == {
        "tether-policy.yml",
        "baselines/org.yml",
        "rules/acme/ACME001.yml",
        "tests/rule_cases/ACME001.yml",
    }
    repo = write_tree(tmp_path / "platform-policy", files)
    monkeypatch.chdir(repo)  # the guide runs tether verify from the policy repository
    return repo


def test_the_guides_rule_passes_verify_as_the_guide_shows(policy_repo: Path) -> None:
    args, shown = _console("verify-output")
    result = CliRunner().invoke(_tether(), args)
    assert result.exit_code == 0, result.output
    assert result.output == shown


def test_the_guides_failure_output_is_what_verify_prints(policy_repo: Path) -> None:
    cases = policy_repo / "tests" / "rule_cases" / "ACME001.yml"
    text = cases.read_text()
    assert "{line: 1, col: 6," in text
    cases.write_text(text.replace("{line: 1, col: 6,", "{line: 1, col: 1,"))
    args, shown = _console("verify-failure")
    result = CliRunner().invoke(_tether(), args)
    assert result.exit_code == 1, result.output
    assert result.output == shown


def test_a_scan_under_the_guides_policy_reports_the_rule(policy_repo: Path, tmp_path: Path) -> None:
    service = write_tree(tmp_path / "service", {"Dockerfile": "FROM python:latest\n"})
    policy = load_policy(policy_repo / "tether-policy.yml")
    report = scan(service, ScanOptions(policy=policy))
    (finding,) = [f for f in report.findings if f.rule_id == "ACME001"]
    assert (finding.span.start_line, finding.span.start_col) == (1, 6)
    quoted = re.search(r"^> (.*?)\n\n", GUIDE.read_text("utf-8"), re.MULTILINE | re.DOTALL)
    assert quoted is not None
    assert finding.message == " ".join(quoted.group(1).replace("\n>", " ").split())
    assert [r.file for r in finding.baseline_refs] == ["<embedded>/default.yml"]


def test_the_guides_schema_lines_name_this_versions_schemas() -> None:
    for path, text in _blocks("title").items():
        first = text.splitlines()[0]
        name = re.fullmatch(r"# yaml-language-server: \$schema=\S+/(\S+)\.schema\.json", first)
        assert name is not None, path
        assert first.endswith(schema_url(name.group(1))), path


def test_cel_function_reference_is_fresh() -> None:
    """docs/cel-functions.md is generated; regenerate with `python -m scanner.docs`."""
    path = ROOT / "docs" / "cel-functions.md"
    assert path.read_text("utf-8") == cel_functions_markdown(), "python -m scanner.docs"


def test_every_cel_function_is_documented_with_examples_that_run() -> None:
    grouped = [name for names in CEL_GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(FUNCTIONS)
    assert set(CEL_EXAMPLES) == set(FUNCTIONS)
    for name, examples in CEL_EXAMPLES.items():
        assert examples, name
        for example in examples:
            assert re.search(rf"\b{name}\(", example), (name, example)
            cel_evaluate(example)  # raises on a broken example
