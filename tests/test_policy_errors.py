"""Issue 9: policy errors are errors, and custom packs take typed parameters."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.errors import ConfigError
from scanner.policy import baseline as baseline_mod
from scanner.policy.rules import load_rules
from scanner.scanning import ScanOptions, embedded_rules_dir, scan

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "acme-payments"

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: c
      image: docker.io/library/nginx:latest
"""

RULE = """\
id: ACME001
name: replicas-bounded
pack: acme-platform
category: compliance
severity: warning
status: stable
applies_to: k8s.container
{extra}assert: {assert_}
message: {message}
docs:
  what: Containers of Acme workloads are checked against the platform's limits.
  why: A parameter lets each team's baseline tune the rule without editing CEL.
  example: "image: nginx:latest"
  use_instead: "image: nginx:1.27.0"
"""


def rule_dir(tmp_path: Path, **kw: str) -> Path:
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    text = RULE.format(
        extra=kw.get("extra", ""),
        assert_=kw.get("assert_", "'fact.name != \"\"'"),
        message=kw.get("message", "'Container {{fact.name}} is off the golden path.'"),
    )
    (d / "ACME001.yml").write_text(text)
    return d


def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    (r / "k8s").mkdir(parents=True)
    (r / "k8s" / "pod.yaml").write_text(POD)
    return r


def test_a_baseline_from_scratch_is_a_configuration_error_not_dead_rules(
    tmp_path: Path,
) -> None:
    """Seen: 19 built-in rules raised KeyError on every fact (80 rule-error diagnostics) and
    the scan exited 0."""
    base = tmp_path / "base.yml"
    base.write_text("name: scratch\nkubernetes:\n  registries: [ghcr.io/acme/**]\n")
    res = CliRunner().invoke(main, ["scan", str(EXAMPLE), "--baseline", str(base)])
    assert res.exit_code == 2, res.output
    assert "running rules read baseline keys no layer sets" in res.output
    assert "extends: [default]" in res.output and "base.yml:" in res.output
    assert "rule-error" not in res.output


def test_requires_makes_a_rule_not_applicable_instead(tmp_path: Path) -> None:
    d = rule_dir(
        tmp_path,
        extra="requires: [acme.limits]\n",
        assert_="'fact.name in baseline.acme.limits'",
    )
    base = tmp_path / "b.yml"
    base.write_text("extends: [default]\n")
    report = scan(repo(tmp_path), ScanOptions(rule_dirs=[d], baselines=[str(base)]))
    assert "ACME001" not in report.tallies
    assert not [x for x in report.diagnostics if x.code == "rule-error"]


@pytest.mark.parametrize(
    ("settings", "wanted"),
    [
        ("rules:\n  K8S999: {enabled: false}\n", "no rule K8S999"),
        ("rules:\n  K8S00: {enabled: false}\n", "key 'K8S00' is not allowed here"),
        ("rules:\n  DOCKR002: {enabled: false}\n", "did you mean DOCKER002?"),
        ("packs:\n  kubernets: {help_uri: 'https://x.example'}\n", "did you mean kubernetes?"),
    ],
)
def test_unknown_rule_ids_and_packs_in_a_baseline_are_errors(
    tmp_path: Path, settings: str, wanted: str
) -> None:
    base = tmp_path / "b.yml"
    base.write_text("extends: [default]\n" + settings)
    with pytest.raises(ConfigError, match=wanted) as err:
        scan(repo(tmp_path), ScanOptions(baselines=[str(base)]))
    assert err.value.file.endswith("b.yml") and err.value.line in (2, 3)


def test_any_pack_name_and_typed_parameters(tmp_path: Path) -> None:
    d = rule_dir(
        tmp_path,
        extra=(
            "params:\n  type: object\n  properties:\n"
            "    banned: {type: string, default: latest}\n"
            "  additionalProperties: false\n"
            "help_uri: https://platform.acme.example/rules/acme001\n"
        ),
        assert_="'fact.tag != params.banned'",
        message="'Container {{fact.name}} uses the banned tag {{params.banned}}.'",
    )
    rules = load_rules([embedded_rules_dir(), d])
    assert rules["ACME001"].pack == "acme-platform"
    r = repo(tmp_path)
    report = scan(r, ScanOptions(rule_dirs=[d]))
    [f] = [f for f in report.findings if f.rule_id == "ACME001"]
    assert f.message == "Container docker.io/library/nginx uses the banned tag latest."
    base = tmp_path / "b.yml"
    base.write_text("extends: [default]\nrules:\n  ACME001:\n    params: {banned: '1.0'}\n")
    report = scan(r, ScanOptions(rule_dirs=[d], baselines=[str(base)]))
    assert not [f for f in report.findings if f.rule_id == "ACME001"]
    # a pack-level value reaches every rule of the pack that declares the parameter
    base.write_text("extends: [default]\npacks:\n  acme-platform:\n    params: {banned: latest}\n")
    assert [
        f
        for f in scan(r, ScanOptions(rule_dirs=[d], baselines=[str(base)])).findings
        if f.rule_id == "ACME001"
    ]
    # a wrong type or an undeclared parameter: file:line of the baseline value
    base.write_text("extends: [default]\nrules:\n  ACME001:\n    params: {banned: 3}\n")
    with pytest.raises(ConfigError, match="ACME001 params.banned: 3 is not of type 'string'") as e:
        scan(r, ScanOptions(rule_dirs=[d], baselines=[str(base)]))
    assert e.value.file.endswith("b.yml") and e.value.line == 4
    base.write_text("extends: [default]\nrules:\n  ACME001:\n    params: {bannned: x}\n")
    with pytest.raises(ConfigError, match="Additional properties are not allowed"):
        scan(r, ScanOptions(rule_dirs=[d], baselines=[str(base)]))
    # new-user review: a misspelt pack-level parameter was silently dropped (the rule fell
    # back to its default and the gate went quiet)
    base.write_text("extends: [default]\npacks:\n  acme-platform:\n    params:\n      bannned: x\n")
    with pytest.raises(ConfigError, match="no rule of pack acme-platform declares") as e:
        scan(r, ScanOptions(rule_dirs=[d], baselines=[str(base)]))
    assert e.value.line == 5 and "did you mean banned?" in e.value.message


def test_a_rule_reading_an_undeclared_parameter_fails_at_load(tmp_path: Path) -> None:
    d = rule_dir(tmp_path, assert_="'fact.tag != params.banned'")
    with pytest.raises(ConfigError, match="reads params.banned but declares no params"):
        load_rules([d])


@pytest.mark.parametrize(
    ("message", "wanted", "line"),
    [
        ("'Container {{fact.name} is off.'", "unclosed or unopened template", 9),
        (
            "'Container {{fact.nam}} is off the golden path.'",
            "message: k8s.container facts have no field(s) nam",
            9,
        ),
        ("'Container {{ }} is off the golden path.'", "empty {{ }} expression", 9),
    ],
)
def test_message_templates_are_checked_at_load_at_the_message_line(
    tmp_path: Path, message: str, wanted: str, line: int
) -> None:
    """Seen: an unclosed {{ was printed literally; an error in message: was reported at the
    assert line."""
    d = rule_dir(tmp_path, message=message)
    with pytest.raises(ConfigError, match=wanted.replace("(", r"\(").replace(")", r"\)")) as e:
        load_rules([d])
    assert e.value.line == line


def test_a_diagnostic_printed_as_an_error_fails_the_run(tmp_path: Path) -> None:
    r = tmp_path / "r"
    r.mkdir()
    (r / "main.tf").write_text("resource {{{\n")
    res = CliRunner().invoke(main, ["scan", str(r), "--fail-on", "never"])
    assert res.exit_code == 1 and "parse-error" in res.output


def test_the_embedded_baselines_satisfy_every_built_in_rule() -> None:
    rules = load_rules([embedded_rules_dir()])
    import datetime as dt

    from scanner.policy.engine import prepare

    for name in ("default",):
        prepare(rules, baseline_mod.load([name]), dt.date.today())


def test_an_exception_naming_no_rule_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    """Seen: `rule: DOCKR002` in an exception was only a note-level 'stale' finding."""
    r = repo(tmp_path)
    (r / ".tether").mkdir()
    (r / ".tether" / "exceptions.yaml").write_text(
        "exceptions:\n"
        "  - rule: DOCKR002\n"
        "    scope: {path: Dockerfile}\n"
        "    justification: Vendor image until the migration in PLAT-9 is done.\n"
        "    owner: team-a\n"
        "    expires: 2027-01-31\n"
    )
    res = CliRunner().invoke(main, ["scan", str(r), "--fail-on", "never"])
    # printed as an error and failing the run (an error-level diagnostic rather than a
    # configuration error: in PR mode only the change adding it fails, so a record a renamed
    # rule left behind cannot lock every pull request)
    assert res.exit_code == 1, res.output
    assert "no rule or pack of that name; did you mean DOCKER002?" in res.output
    assert "exceptions.yaml:2" in res.output and "exception-unknown-rule" in res.output


def test_errors_about_referenced_files_name_the_referencing_file_and_line(
    tmp_path: Path,
) -> None:
    """Seen: `baseline: nope.yml` and `extends: [defualt]` lost the referencing file:line, with
    no did-you-mean; `--baseline nope` did not list the embedded names."""
    from scanner.policy.operator import load as load_policy

    pol = tmp_path / "policy.yml"
    pol.write_text("overlays: {}\nbaseline:\n  - default\n  - nope.yml\n")
    with pytest.raises(ConfigError, match="'nope.yml' not found") as e:
        load_policy(pol)
    assert (e.value.file, e.value.line) == (str(pol), 4)
    pol.write_text("overlays: {}\nrepos:\n  - match: {topic: x}\n    baseline: [java]\n")
    with pytest.raises(ConfigError) as e:
        load_policy(pol)
    assert e.value.line == 4
    layer = tmp_path / "layer.yml"
    layer.write_text("name: l\nextends: [defualt]\n")
    with pytest.raises(ConfigError, match="did you mean default\\?") as e:
        baseline_mod.load([str(layer)])
    assert e.value.line == 2 and e.value.file.endswith("layer.yml")
    res = CliRunner().invoke(main, ["scan", str(EXAMPLE), "--baseline", "defalt"])
    assert res.exit_code == 2 and "embedded baseline (default" in res.output
    assert "did you mean default?" in res.output


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (".tether.yaml", "exclude: [a]\nexclude: [b]\n"),
        ("base.yml", "extends: [default]\nrules:\n  K8S003: {}\n  K8S003: {}\n"),
        (
            ".tether/exceptions.yaml",
            "exceptions:\n  - rule: K8S003\n    rule: K8S004\n    justification: x\n",
        ),
    ],
)
def test_duplicate_keys_are_refused(tmp_path: Path, name: str, text: str) -> None:
    r = repo(tmp_path)
    (r / name).parent.mkdir(parents=True, exist_ok=True)
    (r / name).write_text(text)
    args = ["scan", str(r)] + (["--baseline", str(r / name)] if name == "base.yml" else [])
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "duplicate key" in res.output, res.output


def test_a_rule_file_with_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    d = rule_dir(tmp_path)
    text = (d / "ACME001.yml").read_text()
    (d / "ACME001.yml").write_text(text + "severity: error\n")
    with pytest.raises(ConfigError, match="duplicate key 'severity'"):
        load_rules([d])


def test_baseline_show_prints_each_value_with_the_layer_that_set_it(tmp_path: Path) -> None:
    from ruamel.yaml import YAML

    layer = tmp_path / "org.yml"
    layer.write_text("extends: [default]\nkubernetes:\n  registries: [ghcr.io/acme/**]\n")
    b = baseline_mod.load([str(layer)])
    text = baseline_mod.show(b)
    assert YAML(typ="safe").load(text)["kubernetes"]["registries"] == ["ghcr.io/acme/**"]
    line = next(x for x in text.splitlines() if x.strip().startswith("registries:"))
    assert line.endswith("org.yml:3")
    assert "default.yml:" in text


def test_tether_baseline_show_from_a_policy_with_a_repository_layer(tmp_path: Path) -> None:
    import click

    from scanner.policy_cli import register

    group = click.Group("tether")
    register(group)
    (tmp_path / "pay.yml").write_text("kubernetes:\n  registries: [ghcr.io/pay/**]\n")
    pol = tmp_path / "policy.yml"
    pol.write_text(
        "overlays: {}\nrepos:\n  - match: {property: {team: payments}}\n    baseline: pay.yml\n"
    )
    res = CliRunner().invoke(
        group,
        [
            "baseline",
            "show",
            "--policy",
            str(pol),
            "--repo",
            "acme/api",
            "--property",
            "team=payments",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "# acme/api: repos[0]: property team=payments" in res.output
    line = next(x for x in res.output.splitlines() if x.strip().startswith("registries:"))
    assert '["ghcr.io/pay/**"]' in line and line.endswith("pay.yml:2")
    res = CliRunner().invoke(group, ["baseline", "show", "--policy", str(pol), "--overlay", "x"])
    assert res.exit_code == 2 and "no overlay 'x'" in res.output


def test_tether_rules_shows_the_effective_state_under_a_baseline(tmp_path: Path) -> None:
    d = rule_dir(
        tmp_path,
        extra="requires: [acme.limits]\nhelp_uri: https://platform.acme.example/acme001\n",
        assert_="'fact.name in baseline.acme.limits'",
    )
    base = tmp_path / "b.yml"
    base.write_text(
        "extends: [default]\nrules:\n  K8S005: {enforce_from: '2999-01-01'}\n"
        "  K8S004: {enabled: false}\n"
    )
    res = CliRunner().invoke(main, ["rules", "--rules", str(d), "--baseline", str(base)])
    assert res.exit_code == 0, res.output
    rows = {line.split()[0]: line for line in res.stdout.splitlines()}
    assert "# under" in res.stderr
    assert " n/a " in rows["ACME001"] and "needs baseline key acme.limits" in rows["ACME001"]
    assert " off " in rows["K8S004"]
    assert "becomes warning on 2999-01-01" in rows["K8S005"] or "2999-01-01" in rows["K8S005"]
    # SARIF: a custom rule's own documentation, tether's only for tether's rules
    r = repo(tmp_path)
    res = CliRunner().invoke(
        main,
        ["scan", "--root", str(r), "--rules", str(d), "--format", "sarif", "--fail-on", "never"],
    )
    import json

    driver = json.loads(res.stdout)["runs"][0]["tool"]["driver"]
    uris = {x["id"]: x.get("helpUri") for x in driver["rules"]}
    assert uris["ACME001"] == "https://platform.acme.example/acme001"
    assert (
        uris["K8S003"].endswith("docs/rules.md#k8s003-image-tag-pinned")
        or "rules.md#k8s003" in uris["K8S003"]
    )


def test_a_custom_rule_without_docs_of_its_own_gets_no_helpuri_into_tethers_docs(
    tmp_path: Path,
) -> None:
    """Seen: custom rules got a helpUri into tether's docs, at an anchor that does not exist;
    a pack's help_uri in the baseline serves every rule of the pack without its own."""
    import json

    d = rule_dir(tmp_path)
    r = repo(tmp_path)

    def uri(*extra: str) -> str | None:
        res = CliRunner().invoke(
            main,
            [
                "scan",
                "--root",
                str(r),
                "--rules",
                str(d),
                "--format",
                "sarif",
                "--fail-on",
                "never",
                *extra,
            ],
        )
        rules = json.loads(res.stdout)["runs"][0]["tool"]["driver"]["rules"]
        found: str | None = next(x for x in rules if x["id"] == "ACME001").get("helpUri")
        return found

    assert uri() is None
    base = tmp_path / "b.yml"
    base.write_text(
        "extends: [default]\npacks:\n  acme-platform: {help_uri: 'https://docs.acme.example/'}\n"
    )
    assert uri("--baseline", str(base)) == "https://docs.acme.example/"


def test_explain_finds_a_policy_s_rules_and_shows_parameters(tmp_path: Path) -> None:
    d = rule_dir(
        tmp_path,
        extra=(
            "params:\n  type: object\n  properties:\n"
            "    banned: {type: string, default: latest, description: the tag nobody uses}\n"
        ),
        assert_="'fact.tag != params.banned'",
    )
    pol = tmp_path / "policy.yml"
    pol.write_text(f"overlays: {{}}\nrules: [{d}]\n")
    res = CliRunner().invoke(
        main, ["explain", "acme001", "--policy", str(pol), "--format", "markdown"]
    )
    assert res.exit_code == 0, res.output
    assert '- `banned`: string, default `"latest"` — the tag nobody uses' in res.output
    res = CliRunner().invoke(main, ["explain", "ACME01", "--policy", str(pol)])
    assert res.exit_code == 2 and "did you mean ACME001?" in res.output


@pytest.mark.parametrize(
    ("schema", "refused"),
    [
        ('{x: {"$ref": "http://127.0.0.1:9/x.json", default: a}}', "$ref"),
        ('{x: {"$ref": "file:///etc/passwd"}}', "$ref"),
        ('{x: {type: string, pattern: "^(a+)+$", default: aaaa}}', "pattern"),
        ("{x: {type: object, patternProperties: {'^(a+)+$': {}}}}", "patternProperties"),
        ("{x: {type: string, format: regex}}", "format: regex"),
    ],
)
def test_a_parameter_schema_cannot_fetch_read_or_backtrack(
    tmp_path: Path, schema: str, refused: str
) -> None:
    """Hostile review: a repository rule's params schema fetched URLs and read local files
    ($ref, echoing what it read in the error), and a pattern took exponential time."""
    d = rule_dir(
        tmp_path,
        extra=f"params:\n  type: object\n  properties: {schema}\n",
        assert_="'fact.tag != \"\"'",
    )
    with pytest.raises(ConfigError, match=f"params may not use {re.escape(refused)}"):
        load_rules([d])


def test_a_parameter_named_like_a_keyword_is_fine_and_defaults_are_checked(
    tmp_path: Path,
) -> None:
    d = rule_dir(
        tmp_path,
        extra="params:\n  type: object\n  properties: {pattern: {type: string, default: x}}\n",
        assert_="'fact.tag != params.pattern'",
    )
    assert "ACME001" in load_rules([d])
    d = rule_dir(
        tmp_path,
        extra="params:\n  type: object\n  properties: {n: {type: integer, default: two}}\n",
    )
    with pytest.raises(ConfigError, match="params.n: its default is invalid"):
        load_rules([d])


def test_a_stale_exception_merged_earlier_does_not_lock_every_pull_request(
    tmp_path: Path,
) -> None:
    """Hostile review: a merged record naming a rule that no longer exists made every PR exit
    2, the PR removing it included."""
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(r), *args], check=True, capture_output=True)

    r = repo(tmp_path)
    (r / ".tether").mkdir()
    (r / ".tether" / "exceptions.yaml").write_text(
        "exceptions:\n  - rule: ORG001\n    scope: {path: k8s/**}\n"
        "    justification: Vendor image until the migration in PLAT-9 is done.\n"
        "    owner: team-a\n    approved_by: platform-team\n    expires: 2027-01-31\n"
    )
    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@x", "add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "base")
    git("checkout", "-qb", "feature")
    (r / "README.md").write_text("docs\n")
    git("-c", "user.name=t", "-c", "user.email=t@x", "add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "docs")
    res = CliRunner().invoke(main, ["scan", str(r), "--diff-base", "main", "--fail-on", "never"])
    assert res.exit_code == 0, res.output  # old debt, not this change's
    full = CliRunner().invoke(main, ["scan", str(r), "--fail-on", "never"])
    assert full.exit_code == 1 and "ORG001" in full.output  # the full scan still says so


def test_a_diagram_named_after_a_dockerfile_is_not_read_as_one(tmp_path: Path) -> None:
    """Hostile review: docs/dockerfile-layers.png was read as a Dockerfile, reported as not
    UTF-8 at error level, and (error-level diagnostics now fail a run) failed a benign repo."""
    from scanner.source import classify

    assert classify("docs/dockerfile-layers.png") is None
    assert classify("__pycache__/dockerfile.cpython-311.pyc") is None
    assert classify("Dockerfile-alpine") == "dockerfile"
    r = tmp_path / "r"
    (r / "docs").mkdir(parents=True)
    (r / "docs" / "dockerfile-layers.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    res = CliRunner().invoke(main, ["scan", str(r), "--fail-on", "never"])
    assert res.exit_code == 0, res.output


def test_a_directory_link_into_an_excluded_path_is_reported(tmp_path: Path) -> None:
    """Hostile review: `deploy -> vendor/x` with vendor/** excluded hid a deployable pod."""
    r = tmp_path / "r"
    (r / "vendor" / "x").mkdir(parents=True)
    (r / "vendor" / "x" / "pod.yaml").write_text(POD)
    (r / "deploy").symlink_to("vendor/x")
    (r / ".tether.yaml").write_text("exclude: ['vendor/**']\n")
    from scanner.config import discover

    report = scan(r, config=discover(r))
    [d] = [d for d in report.diagnostics if d.code == "link-to-unjudged-directory"]
    assert d.path == "deploy" and "vendor/x" in d.message
    res = CliRunner().invoke(main, ["scan", str(r), "--strict", "--fail-on", "never"])
    assert res.exit_code == 1


def test_one_security_severity_for_every_unapproved_source_of_code() -> None:
    """Issue 10: an unapproved provider or module source is as much a supply-chain risk as an
    unapproved action or image registry; code scanning ranks them alike."""
    rules = load_rules([embedded_rules_dir()])
    sources = ["GHA001", "GHA009", "TF001", "TF003", "K8S001", "K8S008", "DOCKER001"]
    assert {rules[r].security_severity for r in sources} == {6.5}


def test_a_partial_scan_under_a_baseline_that_configures_the_stale_rule(tmp_path: Path) -> None:
    """Review: the policy check ran again on the exception rules of a partial scan, which
    leave out EXC004, so `rules: {EXC004: ...}` in a baseline read as an unknown rule."""
    r = repo(tmp_path)
    base = tmp_path / "b.yml"
    base.write_text("extends: [default]\nrules:\n  EXC004: {severity: warning}\n")
    res = CliRunner().invoke(
        main,
        ["scan", str(r / "k8s"), "--root", str(r), "--baseline", str(base), "--fail-on", "never"],
    )
    assert res.exit_code == 0, res.output


def test_a_verdict_never_reads_the_values_remedies_may_write(tmp_path: Path) -> None:
    # baseline.known comes from the repository's own CODEOWNERS or catalog: a pull request
    # could set it, so only fix: templates may read it
    d = rule_dir(tmp_path, assert_="'has(baseline.known) && fact.name != \"\"'")
    with pytest.raises(ConfigError, match="baseline.known .* is for fix: only"):
        load_rules([d])
    d = rule_dir(tmp_path, message="'Missing {{baseline[\"known\"].team}}.'")
    with pytest.raises(ConfigError, match="message: baseline.known"):
        load_rules([d])
