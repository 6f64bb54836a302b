"""Rules and baselines are data: validated with JSON Schema, compiled CEL, layered baselines
with provenance; a broken one is a configuration error naming file and line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scanner import ConfigError, Level, ScanOptions, scan
from scanner.config import RepoConfig
from scanner.policy import baseline as baseline_mod
from scanner.policy.engine import staging
from scanner.policy.rules import load_rule, load_rules
from scanner.scanning import embedded_rules_dir

RULE = """\
id: ACME001
name: no-latest
pack: kubernetes
category: drift
severity: warning
status: preview
applies_to: k8s.container
when: fact.image_valid
assert: fact.tag != "latest"
location: image
message: Pin {{fact.name}} to a version instead of latest.
docs:
  what: Checks images are not latest.
  why: latest moves under you.
  example: "image: nginx:latest"
  use_instead: "image: nginx:1.27"
"""

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
  labels: {app.kubernetes.io/name: p, team: t}
spec:
  containers:
    - name: c
      image: nginx:latest
"""


def _rule_dir(tmp_path: Path, text: str, name: str = "ACME001") -> Path:
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    (d / f"{name}.yml").write_text(text)
    return d


def _repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    (r / "pod.yaml").write_text(MANIFEST)
    return r


def test_custom_rule_directory_runs_beside_embedded_rules(tmp_path: Path) -> None:
    report = scan(
        _repo(tmp_path),
        ScanOptions(rule_dirs=[_rule_dir(tmp_path, RULE)], preview=True),
        config=RepoConfig(),
    )
    hits = [f for f in report.findings if f.rule_id == "ACME001"]
    assert len(hits) == 1
    assert hits[0].message == "Pin docker.io/library/nginx to a version instead of latest."
    assert (hits[0].span.start_line, hits[0].span.start_col) == (9, 14)
    assert report.tallies["ACME001"].failed == 1


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (RULE.replace("severity: warning", "severity: fatal"), 5, "severity"),
        (RULE.replace('assert: fact.tag != "latest"', "assert: fact.tag !="), 9, "not valid CEL"),
        (RULE.replace("assert: fact.tag", "assert: facts.tag"), 9, "unknown variable(s) facts"),
        (RULE.replace("assert: fact.tag", "assert: fact.tagz"), 9, "have no field(s) tagz"),
        (
            RULE.replace('assert: fact.tag != "latest"', "assert: semver_gt(fact.tag, '1')"),
            9,
            "unknown function(s) semver_gt",
        ),
        (RULE.replace("{{fact.name}}", "{{fact.name +}}"), 11, "message expression"),
        (RULE.replace("  why: latest moves under you.\n", ""), 12, "why"),
        (
            RULE.replace("applies_to: k8s.container", "applies_to: k8s.containers"),
            7,
            "unknown fact kind",
        ),
        ("id: ACME001\n  bad: [", 2, "invalid YAML"),
    ],
)
def test_broken_rule_is_config_error_with_file_and_line(
    tmp_path: Path, text: str, line: int, needle: str
) -> None:
    d = _rule_dir(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_rules([d])
    assert exc.value.file.endswith("ACME001.yml")
    assert exc.value.line == line, str(exc.value)
    assert needle in exc.value.message


def test_rule_id_must_match_file_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must match the file name"):
        load_rule(_rule_dir(tmp_path, RULE, "ACME002") / "ACME002.yml", "ACME002.yml")


def test_duplicate_rule_id_is_config_error(tmp_path: Path) -> None:
    d = _rule_dir(tmp_path, RULE.replace("ACME001", "TF001"), "TF001")
    with pytest.raises(ConfigError, match="already defined"):
        load_rules([embedded_rules_dir(), d])


def test_baseline_extends_layers_and_records_provenance(tmp_path: Path) -> None:
    (tmp_path / "org.yml").write_text(
        "extends: [default]\nkubernetes:\n  registries: [ghcr.io/acme/**]\n"
    )
    (tmp_path / "team.yml").write_text("extends: org.yml\nkubernetes:\n  required_labels: [team]\n")
    b = baseline_mod.load([str(tmp_path / "team.yml")])
    assert b.files[0] == "<embedded>/default.yml"
    assert b.data["kubernetes"]["registries"] == ["ghcr.io/acme/**"]  # lists are replaced
    assert b.data["kubernetes"]["required_labels"] == ["team"]
    assert b.data["terraform"]["providers"]["hashicorp/aws"] == {"min": "5.40.0"}  # inherited
    reg = b.ref("kubernetes.registries")
    assert reg is not None and reg.file.endswith("org.yml") and reg.line == 3
    lab = b.ref("kubernetes.required_labels")
    assert lab is not None and lab.file.endswith("team.yml") and lab.line == 3
    aws = b.ref("terraform.providers.hashicorp/aws")
    assert aws is not None and aws.file == "<embedded>/default.yml"


def test_baseline_provenance_of_keys_that_hold_dots(tmp_path: Path) -> None:
    """Map keys may contain dots (a reusable workflow's path): provenance still finds the
    entry, not just its section."""
    (tmp_path / "org.yml").write_text(
        "extends: [default]\nactions:\n  minimum:\n    acme/ci: v2\n"
        "    acme/ci/.github/workflows/deploy.yml: v3.1.0\n"
    )
    b = baseline_mod.load([str(tmp_path / "org.yml")])
    ref = b.ref("actions.minimum.acme/ci/.github/workflows/deploy.yml")
    assert ref is not None and (ref.key, ref.line) == (
        "actions.minimum.acme/ci/.github/workflows/deploy.yml",
        5,
    )
    repo = b.ref("actions.minimum.acme/ci")
    assert repo is not None and (repo.key, repo.line) == ("actions.minimum.acme/ci", 4)
    missing = b.ref("actions.minimum.other/ci/.github/workflows/x.yml")
    assert missing is not None and missing.key == "actions.minimum"  # nearest set ancestor
    assert b.ref("nothing.here") is None


def test_finding_records_the_baseline_layer_it_was_judged_against(tmp_path: Path) -> None:
    (tmp_path / "org.yml").write_text(
        "extends: [default]\nkubernetes:\n  registries:\n    - ghcr.io/acme/**\n"
    )
    report = scan(
        _repo(tmp_path), ScanOptions(baselines=[str(tmp_path / "org.yml")]), config=RepoConfig()
    )
    k = [f for f in report.findings if f.rule_id == "K8S001"]
    assert len(k) == 1
    assert [(r.key, r.file.endswith("org.yml"), r.line) for r in k[0].baseline_refs] == [
        ("kubernetes.registries", True, 3)
    ]


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("kubernetes:\n  registries: ghcr.io\n", 2, "registries"),
        ("terraform:\n  providers:\n    hashicorp/aws: {min: five}\n", 3, "aws/min: is not in"),
        ("rules:\n  TF001: {enforce_from: tomorrow}\n", 2, "enforce_from"),
        ("colour: blue\n", 1, "colour"),
        ("extends: [nowhere]\n", 1, "not found"),  # the line that names it (issue 9)
    ],
)
def test_broken_baseline_is_config_error(
    tmp_path: Path, text: str, line: int | None, needle: str
) -> None:
    f = tmp_path / "bad.yml"
    f.write_text(text)
    with pytest.raises(ConfigError) as exc:
        baseline_mod.load([str(f)])
    assert exc.value.line == line, str(exc.value)
    assert needle in str(exc.value)


def test_baseline_cycle_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text("extends: b.yml\n")
    (tmp_path / "b.yml").write_text("extends: a.yml\n")
    with pytest.raises(ConfigError, match="cycle"):
        baseline_mod.load([str(tmp_path / "a.yml")])


def test_staged_rollout_warns_until_enforce_date_then_errors(tmp_path: Path) -> None:
    f = tmp_path / "staged.yml"
    f.write_text(
        "extends: [default]\nrules:\n  K8S001: {enforce_from: '2027-03-01'}\n"
        "  K8S002: {enable_later: true}\n  TF001: {enabled: false}\n"
    )
    b = baseline_mod.load([str(f)])
    rules = load_rules([embedded_rules_dir()])
    before = staging(rules["K8S001"], b, dt.date(2027, 2, 28))
    after = staging(rules["K8S001"], b, dt.date(2027, 3, 1))
    assert (before.level, before.enforced) == (Level.WARNING, True)
    assert "2027-03-01" in before.note
    assert (after.level, after.note) == (Level.ERROR, "")
    later = staging(rules["K8S002"], b, dt.date(2030, 1, 1))
    assert (later.level, later.enforced) == (Level.NOTE, False)
    assert not staging(rules["TF001"], b, dt.date(2027, 1, 1)).enabled


def test_three_valued_outcomes(tmp_path: Path) -> None:
    """A repo without Terraform is not 'passing' the Terraform rules."""
    report = scan(_repo(tmp_path), config=RepoConfig())
    t = report.tallies
    assert (t["TF001"].passed, t["TF001"].failed, t["TF001"].not_applicable) == (0, 0, 0)
    assert t["K8S001"].passed == 1
    assert t["K8S002"].passed == 1


def test_lifecycle_preview_and_deprecated_rules(tmp_path: Path) -> None:
    rules = load_rules([_rule_dir(tmp_path, RULE)])  # ACME001 is a preview rule
    b = baseline_mod.load(["default"])
    day = dt.date(2027, 1, 1)
    assert not staging(rules["ACME001"], b, day).enabled
    assert staging(rules["ACME001"], b, day, preview=True).enabled
    f = tmp_path / "on.yml"
    f.write_text("extends: [default]\nrules:\n  ACME001: {enabled: true}\n")
    assert staging(rules["ACME001"], baseline_mod.load([str(f)]), day).enabled
    dep = load_rules([_rule_dir(tmp_path, RULE.replace("status: preview", "status: deprecated"))])
    assert not staging(dep["ACME001"], b, day, preview=True).enabled
    assert staging(dep["ACME001"], baseline_mod.load([str(f)]), day).enabled


def test_enable_later_is_not_counted_in_adoption(tmp_path: Path) -> None:
    f = tmp_path / "later.yml"
    f.write_text(
        "extends: [default]\nkubernetes:\n  registries: [ghcr.io/**]\n"
        "rules:\n  K8S001: {enable_later: true}\n"
    )
    report = scan(_repo(tmp_path), ScanOptions(baselines=[str(f)]), config=RepoConfig())
    k = [x for x in report.findings if x.rule_id == "K8S001"]
    assert [(x.level, x.enforced) for x in k] == [(Level.NOTE, False)]
    assert report.tallies["K8S001"].counted is False
    assert report.tallies["K8S002"].counted is True


def test_rule_cache_reuses_checked_rules_and_revalidates_changed_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanner.policy.rules import LazyProgram

    monkeypatch.setenv("TETHER_CACHE_DIR", str(tmp_path / "cache"))
    d = _rule_dir(tmp_path, RULE)
    first = load_rules([d])["ACME001"]
    assert not isinstance(first.assertion, LazyProgram)  # validated and compiled
    second = load_rules([d])["ACME001"]
    assert isinstance(second.assertion, LazyProgram)  # known valid: compiled on first use
    assert (second.message_src, second.fact_fields) == (first.message_src, first.fact_fields)
    report = scan(
        _repo(tmp_path),
        ScanOptions(rule_dirs=[d], preview=True),
        config=RepoConfig(),
    )
    assert [f.message for f in report.findings if f.rule_id == "ACME001"] == [
        "Pin docker.io/library/nginx to a version instead of latest."
    ]
    # an edit that breaks the rule is caught: the cache is keyed by content
    (d / "ACME001.yml").write_text(RULE.replace("assert: fact.tag", "assert: fact.tagz"))
    with pytest.raises(ConfigError, match="have no field"):
        load_rules([d])
    # a corrupt cache file is ignored and rebuilt
    from scanner.policy.cache import FILE_NAME

    (tmp_path / "cache" / FILE_NAME).write_text("{not json")
    (d / "ACME001.yml").write_text(RULE)
    assert "ACME001" in load_rules([d])


def test_valid_documents_are_not_schema_checked_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanner.policy import documents

    monkeypatch.setenv("TETHER_CACHE_DIR", str(tmp_path / "cache"))
    f = tmp_path / "org.yml"
    f.write_text("extends: [default]\nkubernetes:\n  registries: [ghcr.io/acme/**]\n")
    baseline_mod.load([str(f)])

    def no_validator(name: str) -> None:
        raise AssertionError(f"{name} validated again")

    monkeypatch.setattr(documents, "_validator", no_validator)
    baseline_mod.load([str(f)])  # known valid: no schema check, no jsonschema import
    f.write_text("extends: [default]\nkubernetes:\n  registries: ghcr.io\n")
    with pytest.raises(AssertionError, match="baseline validated again"):
        baseline_mod.load([str(f)])  # changed content is checked again
