"""The SARIF tether writes: what GitHub code scanning reads, serialised without losing fields,
and valid for Microsoft's SARIF Multitool with GitHub's ingestion rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sarif_om as om
from click.testing import CliRunner

from scanner import scan
from scanner.cli import main
from scanner.config import RepoConfig
from scanner.report import sarif
from scanner.report.fingerprint import line_hashes

from .conftest import EXAMPLES, validate_sarif, write_tree


def _sarif_of(repo: Path, out: Path, *extra: str) -> dict[str, Any]:
    # --root: the example directories stand for repositories of their own
    result = CliRunner().invoke(main, ["scan", "--root", str(repo), "--sarif", str(out), *extra])
    assert result.exit_code in (0, 1), result.output
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def test_serializer_keeps_default_valued_level() -> None:
    r = om.Result(message=om.Message(text="x"), level="warning", rule_id="X001")
    assert sarif.to_dict(r) == {"message": {"text": "x"}, "level": "warning", "ruleId": "X001"}
    rc = om.ReportingConfiguration(level="warning")
    assert sarif.to_dict(rc) == {"level": "warning"}
    # other defaults stay out (rank -1, kind fail), None never becomes null
    assert "rank" not in sarif.to_dict(r) and "null" not in json.dumps(sarif.to_dict(r))


def test_acme_payments_sarif_has_what_code_scanning_reads(tmp_path: Path) -> None:
    log = _sarif_of(EXAMPLES / "acme-payments", tmp_path / "acme.sarif")
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-schema-2.1.0.json")
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "tether"
    assert driver["semanticVersion"] and driver["informationUri"].startswith("https://")
    rules = {r["id"]: r for r in driver["rules"]}
    assert {
        "TF001",
        "TF002",
        "TF003",
        "GHA001",
        "GHA002",
        "GHA003",
        "K8S001",
        "K8S002",
        "DOCKER001",
    } <= set(rules)
    for r in rules.values():
        assert r["shortDescription"]["text"] and len(r["shortDescription"]["text"]) <= 1024
        assert r["fullDescription"]["text"] and len(r["fullDescription"]["text"]) <= 1024
        assert "Why it matters" in r["help"]["text"]
        assert "### Use instead" in r["help"]["markdown"]
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
        props = r["properties"]
        assert props["precision"] and props["problem.severity"]
        assert props["tags"][0] in ("bounded-autonomy", "drift", "ownership", "compliance")
    assert rules["GHA001"]["properties"]["security-severity"] == "6.5"
    assert "security-severity" not in rules["GHA003"]["properties"]
    assert run["automationDetails"]["id"] == "tether/"
    assert "originalUriBaseIds" not in run  # no absolute local path (issue 10)
    results = run["results"]
    assert {r["ruleId"] for r in results} >= {"TF001", "GHA001", "K8S001", "DOCKER001"}
    for res in results:
        assert res["level"] in ("error", "warning", "note")
        assert res["message"]["text"]
        assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uriBaseId"] == "SRCROOT"
        assert not loc["artifactLocation"]["uri"].startswith("/")
        region = loc["region"]
        assert {"startLine", "startColumn", "endLine", "endColumn"} <= set(region)
        text = (EXAMPLES / "acme-payments" / loc["artifactLocation"]["uri"]).read_text()
        expected_hash = line_hashes(text)[region["startLine"] - 1]
        assert res["partialFingerprints"]["primaryLocationLineHash"] == expected_hash
        assert len(res["partialFingerprints"]["tether/v1"]) == 32
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any(n["descriptor"]["id"] == "not-scanned-template" for n in notes)
    validate_sarif(tmp_path / "acme.sarif")


def test_warning_level_results_keep_their_level(tmp_path: Path) -> None:
    log = _sarif_of(EXAMPLES / "acme-payments", tmp_path / "a.sarif")
    levels = {r["ruleId"]: r["level"] for r in log["runs"][0]["results"]}
    assert levels["GHA003"] == "warning" and levels["TF001"] == "error"


def test_region_points_at_the_attribute(tmp_path: Path) -> None:
    log = _sarif_of(EXAMPLES / "acme-payments", tmp_path / "a.sarif")
    tf002 = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "TF002")
    region = tf002["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 7, "startColumn": 7, "endLine": 7, "endColumn": 26}
    line = (EXAMPLES / "acme-payments/infra/main.tf").read_text().splitlines()[6]
    assert line[6:25] == 'version = "~> 4.67"'


def test_golden_service_sarif_is_valid_and_empty(tmp_path: Path) -> None:
    log = _sarif_of(EXAMPLES / "golden-service", tmp_path / "golden.sarif")
    assert log["runs"][0]["results"] == []
    validate_sarif(tmp_path / "golden.sarif")


def test_logical_fingerprint_survives_line_moves(make_repo: Any) -> None:
    manifest = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {team: a, "
        "app.kubernetes.io/name: p}\nspec:\n  containers:\n    - name: c\n"
        "      image: quay.io/x/y:1\n"
    )
    a = make_repo({"pod.yaml": manifest})
    b = make_repo({"pod.yaml": "# moved\n\n\n" + manifest})
    # the manifest's findings (repository-level ones stay at the top of the anchor file)
    fa = [f for f in scan(a, config=RepoConfig()).findings if f.fact_kind != "repo.summary"]
    fb = [f for f in scan(b, config=RepoConfig()).findings if f.fact_kind != "repo.summary"]
    assert [f.fingerprint for f in fa] == [f.fingerprint for f in fb]
    assert fa[0].span.start_line + 3 == fb[0].span.start_line


def test_sarif_with_diagnostics_and_non_ascii_is_valid(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo(
        {
            "k8s/bad.yaml": "apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n",
            "k8s/ünïcode.yaml": (
                'apiVersion: v1\nkind: Pod\nmetadata:\n  name: "naïve-日本"\n'
                "  labels: {team: t, app.kubernetes.io/name: n}\n"
                'spec:\n  containers:\n    - {name: c, image: "quay.io/ü/x:1"}\n'
                '    - {name: "😀日本", image: "quay.io/a/b:1"}\n'
            ),
            "main.tf": 'module "x" {\n  source = \n}\n',
            "Dockerfile": "FROM\n",
        }
    )
    out = tmp_path / "diag.sarif"
    log = _sarif_of(repo, out)
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert {n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes} >= {
        "k8s/bad.yaml",
        "main.tf",
        "Dockerfile",
    }
    results = log["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert "k8s/%C3%BCn%C3%AFcode.yaml" in uris
    # UTF-16 columns: an emoji before the image counts two code units, CJK one each
    second = [r for r in results if r["ruleId"] == "K8S001"][-1]
    region = second["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 9 and region["startColumn"] == 29
    validate_sarif(out)


# issue 10: the baseline value a finding was judged against, and where it was set, in the alert

_TF = (
    'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
    '      version = "~> 4.67"\n    }\n  }\n}\n'
)
_OVERLAY = 'extends: [default]\nterraform:\n  providers:\n    hashicorp/aws:\n      min: "5.50.0"\n'
# fixed, random-looking test token (not a real credential)
_TOKEN = "ghp_" + "Q7vKx2LmN9pRt4WzYb8HcJ3dFs6GaE1uXo5T"


def _links(text: str) -> list[tuple[str, int]]:
    """The embedded links of a plain text SARIF message (§3.11.6), read as GitHub and CodeQL
    read them: `\\` escapes the next character anywhere; any other `[` must open a link."""
    links: list[tuple[str, int]] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            assert i + 1 < len(text) and text[i + 1] in "\\[]", text[i:]
            i += 2
            continue
        assert c != "]", f"unescaped ] at {i}: {text}"
        if c == "[":
            j, label = i + 1, ""
            while text[j] != "]":
                if text[j] == "\\":
                    label += text[j + 1]
                    j += 2
                else:
                    assert text[j] != "[", text
                    label += text[j]
                    j += 1
            assert text[j + 1] == "(", f"unescaped [ at {i} opens no link: {text}"
            end = text.index(")", j)
            links.append((label, int(text[j + 2 : end])))
            i = end + 1
            continue
        i += 1
    return links


def _result_of(log: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in log["runs"][0]["results"] if r["ruleId"] == rule_id)


def test_a_value_set_in_the_repository_is_named_and_linked(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"main.tf": _TF, "baselines/platform.yml": _OVERLAY})
    out = tmp_path / "layered.sarif"
    log = _sarif_of(repo, out, "--baseline", str(repo / "baselines/platform.yml"))
    res = _result_of(log, "TF002")
    text = res["message"]["text"]
    assert text.endswith(
        ' Baseline: terraform.providers.hashicorp/aws = {"min": "5.50.0"} '
        "(set in [baselines/platform.yml:4](1))."
    )
    assert _links(text) == [("baselines/platform.yml:4", 1)]
    assert res["relatedLocations"] == [
        {
            "id": 1,
            "physicalLocation": {
                "artifactLocation": {"uri": "baselines/platform.yml", "uriBaseId": "SRCROOT"},
                "region": {"startLine": 4},
            },
            "message": {"text": "baseline value terraform.providers.hashicorp/aws"},
        }
    ]
    # the link resolves to the line that set the value
    line = (repo / "baselines/platform.yml").read_text().splitlines()[4 - 1]
    assert line.strip() == "hashicorp/aws:"
    assert res["properties"]["baseline"] == [
        {
            "key": "terraform.providers.hashicorp/aws",
            "value": '{"min": "5.50.0"}',
            "file": "baselines/platform.yml",
            "line": 4,
            "layer": "baselines/platform.yml",
        }
    ]
    raw = out.read_text()
    assert str(tmp_path) not in raw and str(repo) not in raw  # no absolute local path
    assert log["runs"][0]["properties"]["tether/baselines"] == [
        "<embedded>/default.yml",
        "baselines/platform.yml",
    ]
    # the alert changes, not its identity: fingerprints as under the embedded default alone,
    # and the rule's message elsewhere (JSON) as it was
    plain = _result_of(_sarif_of(repo, tmp_path / "plain.sarif"), "TF002")
    assert res["partialFingerprints"] == plain["partialFingerprints"]
    js = tmp_path / "r.json"
    CliRunner().invoke(
        main,
        ["scan", "--root", str(repo), "--baseline", str(repo / "baselines/platform.yml")]
        + ["--format", "json", "-o", str(js)],
    )
    finding = next(f for f in json.loads(js.read_text())["findings"] if f["rule_id"] == "TF002")
    assert "Baseline:" not in finding["message"] and finding["message"] in text
    validate_sarif(out, tmp_path / "plain.sarif")


def test_a_value_from_outside_the_repository_is_named_in_text_only(
    make_repo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo({"main.tf": _TF})
    # the central policy repository, beside the scanned one, and checked out inside it as an
    # Action workspace holds it (run from the repository root, as the Action runs)
    for name, policy_dir in (("beside", tmp_path / "platform"), ("inside", repo / ".policy")):
        if name == "inside":
            monkeypatch.chdir(repo)
        write_tree(
            policy_dir,
            {
                "policy.yml": "baseline: [org.yml]\n",
                "baselines/org.yml": _OVERLAY,
                "org.yml": "extends: [baselines/org.yml]\nkubernetes: {target_version: '1.31'}\n",
            },
        )
        (policy_dir / ".git").mkdir(exist_ok=True)
        out = tmp_path / f"{name}.sarif"
        log = _sarif_of(repo, out, "--policy", str(policy_dir / "policy.yml"))
        res = _result_of(log, "TF002")
        # named relative to the policy, as a triager finds it in the policy repository
        assert res["message"]["text"].endswith(
            ' Baseline: terraform.providers.hashicorp/aws = {"min": "5.50.0"} '
            "(set in baselines/org.yml:4)."
        ), name
        assert all("relatedLocations" not in r for r in log["runs"][0]["results"])
        raw = out.read_text()
        assert str(tmp_path) not in raw, name
        validate_sarif(out)
    # the embedded default: named as `tether baseline show` names it
    out = tmp_path / "default.sarif"
    log = _sarif_of(repo, out)
    for res in log["runs"][0]["results"]:
        assert "relatedLocations" not in res and _links(res["message"]["text"]) == []
    assert _result_of(log, "TF002")["message"]["text"].endswith(
        ' Baseline: terraform.providers.hashicorp/aws = {"min": "5.40.0"} '
        "(set in <embedded>/default.yml:11)."
    )
    assert str(tmp_path) not in out.read_text()
    validate_sarif(out)


def test_a_hostile_baseline_value_is_clipped_escaped_and_redacted(
    make_repo: Any, tmp_path: Path
) -> None:
    hostile = [
        "ghcr.io/acme/**",
        _TOKEN,
        "evil](1) [x](2)",
        "[spoof](1)",
        "two\nlines",
        "back\\slash",
        "x" * 300,
    ]
    repo = make_repo(
        {
            "baselines/hostile.yml": "extends: [default]\nkubernetes:\n  registries: "
            + json.dumps(hostile)
            + "\n",
            "pod.yaml": (
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"
                "  labels: {team: a, app.kubernetes.io/name: p}\n"
                "spec:\n  containers:\n    - name: c\n      image: quay.io/x/y:1\n"
            ),
        }
    )
    out = tmp_path / "hostile.sarif"
    log = _sarif_of(repo, out, "--baseline", str(repo / "baselines/hostile.yml"))
    res = _result_of(log, "K8S001")
    text = res["message"]["text"]
    # the only link is tether's own, to the line that set the value
    assert _links(text) == [("baselines/hostile.yml:3", 1)]
    assert res["relatedLocations"][0]["physicalLocation"]["region"] == {"startLine": 3}
    sentence = text[text.index(" Baseline: ") :]
    assert "\n" not in sentence and '"two\\\\nlines"' in sentence  # JSON-quoted: one line
    value = res["properties"]["baseline"][0]["value"]
    assert len(value) == 120 and value.endswith("…")  # clipped
    assert value.startswith('["ghcr.io/acme/**", "ghp_[REDACTED]", "evil](1) [x](2)"')
    assert 'ghp_\\[REDACTED\\]", "evil\\](1) \\[x\\](2)", "\\[spoof\\](1)"' in sentence
    raw = out.read_text()
    assert _TOKEN not in raw and _TOKEN[4:16] not in raw  # redacted everywhere
    validate_sarif(out)
