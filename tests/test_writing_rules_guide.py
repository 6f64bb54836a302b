"""docs/writing-rules.md is followed literally: its files (the fenced blocks marked
`title=PATH`) are written into a policy repository, `tether verify` passes on it and prints
what the guide shows (its cases include one that depends on the parameter value the guide's
baseline sets), the error messages the guide quotes are what tether reports for the mistakes it
describes, and a scan under the guide's policy reports the guide's rule with the baseline's
parameter. Also: the generated CEL function reference (docs/cel-functions.md) is fresh and its
examples run."""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scanner.docs import CEL_EXAMPLES, CEL_GROUPS, cel_evaluate, cel_functions_markdown
from scanner.errors import ConfigError
from scanner.policy import baseline as baseline_mod
from scanner.policy.engine import prepare
from scanner.policy.functions import FUNCTIONS
from scanner.policy.operator import load as load_policy
from scanner.policy.rules import load_rules
from scanner.policy_cli import register
from scanner.scaffold import schema_url
from scanner.scanning import ScanOptions, scan

from .conftest import ROOT, write_tree

GUIDE = ROOT / "docs" / "writing-rules.md"
FENCE = re.compile(r"^```(\w+) (title|id)=(\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
RULE = "rules/acme-platform/ACME001.yml"
CASES = "tests/rule_cases/ACME001.yml"


def _text() -> str:
    return GUIDE.read_text("utf-8")


def _prose() -> str:
    """The guide's text outside code blocks and with line breaks folded, for quoted errors."""
    return " ".join(re.sub(r"^```.*?^```$", "", _text(), flags=re.MULTILINE | re.DOTALL).split())


def _blocks(kind: str) -> dict[str, str]:
    return {m.group(3): m.group(4) for m in FENCE.finditer(_text()) if m.group(2) == kind}


def _plain_blocks() -> list[str]:
    """The guide's ```text blocks (error messages it quotes)."""
    return re.findall(r"^```text\n(.*?)^```$", _text(), re.MULTILINE | re.DOTALL)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new), "utf-8")


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
        RULE,
        CASES,
    }
    repo = write_tree(tmp_path / "platform-policy", files)
    monkeypatch.chdir(repo)  # the guide runs tether verify from the policy repository
    return repo


def test_the_guides_rule_passes_verify_as_the_guide_shows(policy_repo: Path) -> None:
    args, shown = _console("verify-output")
    result = CliRunner().invoke(_tether(), args)
    assert result.exit_code == 0, result.output
    assert result.output == shown


def test_the_guides_rule_is_in_its_own_pack_with_a_parameter(policy_repo: Path) -> None:
    """What the guide teaches is in its files: the organisation's own pack, a typed parameter
    with a default that the guide's baseline overrides, and help links."""
    from ruamel.yaml import YAML

    rule = YAML(typ="safe").load((policy_repo / RULE).read_text())
    base = YAML(typ="safe").load((policy_repo / "baselines/org.yml").read_text())
    assert rule["pack"] == "acme-platform" and rule["help_uri"].startswith("https://")
    (name,) = rule["params"]["properties"]
    default = rule["params"]["properties"][name]["default"]
    pack = base["packs"]["acme-platform"]
    assert pack["help_uri"].startswith("https://")
    assert pack["params"][name] != default
    (loaded,) = load_rules([policy_repo / "rules"]).values()
    assert loaded.help_uri == rule["help_uri"] and loaded.pack == "acme-platform"


def test_a_case_depends_on_the_baselines_parameter_value(policy_repo: Path) -> None:
    """Without the guide's `packs.acme-platform.params`, the rule's default applies and the case
    that expects the stricter precision's finding fails."""
    _edit(policy_repo / "baselines/org.yml", "    params:\n      precision: minor\n", "")
    result = CliRunner().invoke(_tether(), ["verify"])
    assert result.exit_code == 1, result.output
    failed = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1 and "precision (minor)" in failed[0], result.output


def test_the_guides_failure_output_is_what_verify_prints(policy_repo: Path) -> None:
    _edit(
        policy_repo / CASES,
        '{line: 1, col: 6, message: "python:latest',
        '{line: 1, col: 1, message: "python:latest',
    )
    args, shown = _console("verify-failure")
    result = CliRunner().invoke(_tether(), args)
    assert result.exit_code == 1, result.output
    assert result.output == shown


def test_the_guides_load_error_is_what_verify_prints(policy_repo: Path) -> None:
    """A mistake in the rule file stops verify before any case runs (exit 2), at the line the
    guide names."""
    _edit(policy_repo / RULE, "{{fact.image}} has", "{{fact.imag}} has")
    args, shown = _console("verify-error")
    result = CliRunner().invoke(_tether(), args)
    assert result.exit_code == 2, result.output
    assert result.output == shown
    line = int(re.search(r"ACME001\.yml:(\d+):", shown).group(1))  # type: ignore[union-attr]
    assert (policy_repo / RULE).read_text().splitlines()[line - 1].startswith("message:")
    assert f"Line {line} is the `message:` line" in _prose()


def test_an_undeclared_parameter_fails_at_load_as_the_guide_quotes(policy_repo: Path) -> None:
    _edit(policy_repo / RULE, "[params.precision])", "[params.precison])")
    with pytest.raises(ConfigError) as err:
        load_rules([Path("rules")])
    assert f"`{err.value}`" in _prose()


def test_a_parameter_value_the_schema_refuses_is_reported_as_the_guide_quotes(
    policy_repo: Path,
) -> None:
    _edit(policy_repo / "baselines/org.yml", "precision: minor", "precision: minr")
    quoted = next(b.strip() for b in _plain_blocks() if "params.precision" in b)
    result = CliRunner().invoke(_tether(), ["verify"])
    assert result.exit_code == 2, result.output
    assert result.output.count(quoted) == 1, result.output  # once, before any case runs
    service = write_tree(policy_repo.parent / "service", {"Dockerfile": "FROM python:3\n"})
    with pytest.raises(ConfigError) as err:  # a scan stops (exit 2)
        scan(service, ScanOptions(policy=load_policy(Path("tether-policy.yml"))))
    assert f"configuration error: {err.value}" == quoted


def test_a_baseline_key_no_layer_sets_is_reported_as_the_guide_quotes(policy_repo: Path) -> None:
    (policy_repo / "baselines/scratch.yml").write_text("name: scratch\n")
    quoted = next(b.strip() for b in _plain_blocks() if "no layer sets" in b)
    rules = load_rules([Path("rules")])
    with pytest.raises(ConfigError) as err:
        prepare(rules, baseline_mod.load(["baselines/scratch.yml"]), dt.date.today())
    assert str(err.value) == quoted
    # with requires:, the rule does not apply instead
    _edit(policy_repo / RULE, "applies_to:", "requires: [docker.minimum_tags]\napplies_to:")
    rules = load_rules([Path("rules")])
    ready = prepare(rules, baseline_mod.load(["baselines/scratch.yml"]), dt.date.today())
    assert "ACME001" in ready.inapplicable


def test_an_unknown_rule_id_in_the_baseline_is_reported_as_the_guide_quotes(
    policy_repo: Path,
) -> None:
    setting = re.search(r"`(rules: \{(ACEM001): \{severity: error\}\})`", _prose())
    assert setting is not None
    quoted = re.search(r"reported as `([^`]*)`", _prose())
    assert quoted is not None
    with (policy_repo / "baselines/org.yml").open("a") as f:
        f.write("rules:\n  ACEM001: {severity: error}\n")
    service = write_tree(policy_repo.parent / "service", {"Dockerfile": "FROM python:3\n"})
    with pytest.raises(ConfigError) as err:
        scan(service, ScanOptions(policy=load_policy(Path("tether-policy.yml"))))
    assert err.value.message == quoted.group(1)
    assert err.value.line == len((policy_repo / "baselines/org.yml").read_text().splitlines())


def test_a_scan_under_the_guides_policy_reports_the_rule(policy_repo: Path, tmp_path: Path) -> None:
    """The quoted message is the one for `FROM python:3-slim` under the baseline's `minor`."""
    service = write_tree(tmp_path / "service", {"Dockerfile": "FROM python:3-slim\n"})
    policy = load_policy(policy_repo / "tether-policy.yml")
    report = scan(service, ScanOptions(policy=policy))
    (finding,) = [f for f in report.findings if f.rule_id == "ACME001"]
    assert (finding.span.start_line, finding.span.start_col) == (1, 6)
    quoted = re.search(r"^> (.*?)\n\n", _text(), re.MULTILINE | re.DOTALL)
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


def test_the_guides_remedy_and_fixed_case_pass_verify(policy_repo: Path) -> None:
    """The guide's `fix:` added to its rule (above `message:`) and its third case with
    `fixed:` pass `tether verify`; without `fixed:` the case fails as the guide says, showing
    the text it gives."""
    fix = _blocks("id")["rule-fix"]
    _edit(policy_repo / RULE, "message: >-\n", fix + "message: >-\n")
    case = _blocks("id")["case-fixed"]
    without = case[: case.index("    fixed:\n")]
    _edit(policy_repo / CASES, without, case)
    result = CliRunner().invoke(_tether(), ["verify"])
    assert result.exit_code == 0, result.output
    _edit(policy_repo / CASES, case, without)
    result = CliRunner().invoke(_tether(), ["verify", "-q"])
    assert result.exit_code == 1, result.output
    assert "has a remedy but no `fixed:` expectation" in result.output
    shown = textwrap.indent(textwrap.dedent(case[case.index("    fixed:\n") :]), "     ")
    assert shown in result.output, result.output
    assert "has a remedy but no `fixed:` expectation" in _prose()
