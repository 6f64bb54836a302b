"""The command line a user (and CI) relies on: output lines, summary, multiple outputs,
.tether.yaml discovery, and linter exit codes (0 clean, 1 findings, 2 configuration)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.source import SourceFile, walk

from .conftest import EXAMPLES, ROOT, write_tree

LINE = re.compile(
    r"^(?P<path>\S+):(?P<line>\d+):(?P<col>\d+)  (?P<rule>[A-Z0-9]+)  "
    r"(?P<cat>bounded-autonomy|drift|ownership|compliance)  (?P<level>\w+)  (?P<msg>.+)$"
)

BAD_PROVIDER = 'terraform {\n  required_providers {\n    x = { source = "someone/x" }\n  }\n}\n'
OLD_CHECKOUT = (
    "on: push\npermissions: {}\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n"
    "      - uses: actions/checkout@v3\n"
)


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def test_findings_print_as_path_line_col_rule_category_message() -> None:
    r = run("scan", "--root", str(EXAMPLES / "acme-payments"))
    assert r.exit_code == 1
    lines = [m for m in map(LINE.match, r.output.splitlines()) if m]
    assert len(lines) >= 12
    tf001 = next(m for m in lines if m["rule"] == "TF001")
    assert (tf001["path"], tf001["line"], tf001["col"]) == ("infra/main.tf", "10", "7")
    assert "exception in the central registry" in tf001["msg"]
    summary = r.output.strip().splitlines()[-2]  # the last line is the verdict
    assert re.search(
        r"\d+ findings \(bounded-autonomy \d+, compliance \d+, drift \d+, ownership \d+;", summary
    )


def test_clean_repo_exits_zero() -> None:
    r = run("scan", "--root", str(EXAMPLES / "golden-service"))
    assert r.exit_code == 0, r.output
    assert r.output.startswith("No findings")


@pytest.mark.parametrize(
    ("files", "args", "code"),
    [
        ({"ci.yml": ""}, [], 0),
        ({".github/workflows/ci.yml": OLD_CHECKOUT}, [], 0),  # a warning; default fail level error
        ({".github/workflows/ci.yml": OLD_CHECKOUT}, ["--fail-on", "warning"], 1),
        ({"main.tf": BAD_PROVIDER}, [], 1),
        ({"main.tf": BAD_PROVIDER}, ["--fail-on", "never"], 0),
        # a repository may not loosen the fail level: ignored, and itself a finding (CFG001)
        ({"main.tf": BAD_PROVIDER, ".tether.yaml": "fail_on: never\n"}, [], 1),
        ({"main.tf": BAD_PROVIDER, ".tether.yaml": "fail_on: never\n"}, ["--no-config"], 1),
        # ... but may make it stricter
        ({"README.md": "x\n", ".tether.yaml": "fail_on: warning\n"}, [], 1),
        ({"README.md": "x\n"}, [], 0),
        ({"main.tf": BAD_PROVIDER, ".tether.yaml": "fail_on: never\n"}, ["--fail-on", "error"], 1),
        # a file tether cannot read is printed as an error and fails the run (issue 9): it
        # may hide anything; --strict also fails on warning-level diagnostics
        ({"main.tf": "resource {{{\n"}, [], 1),
        ({"main.tf": "resource {{{\n"}, ["--fail-on", "never"], 1),
        ({"main.tf": "resource {{{\n"}, ["--strict"], 1),
    ],
)
def test_exit_codes(make_repo: Any, files: dict[str, str], args: list[str], code: int) -> None:
    r = run("scan", str(make_repo(files)), *args)
    assert r.exit_code == code, r.output
    # the verdict line comes from the same decision as the exit status
    assert r.stdout.rstrip().splitlines()[-1].startswith("FAIL: " if code else "PASS: ")


@pytest.mark.parametrize(
    ("files", "args", "needle"),
    [
        ({".tether.yaml": "fail_on: sometimes\n"}, [], ".tether.yaml:1"),
        (
            {"p.yml": "baseline: missing.yml\n"},
            ["--policy", "{repo}/p.yml"],
            "'missing.yml' not found",
        ),
        ({"p.yml": "fail_on: [x]\n"}, ["--policy", "{repo}/p.yml"], "p.yml:1"),
        ({"b.yml": "kubernetes: {registries: 3}\n"}, ["--baseline", "{repo}/b.yml"], "b.yml:1"),
        ({}, ["--format", "xml"], "Invalid value for '--format'"),
        ({}, ["--fail-on", "sometimes"], "Invalid value for '--fail-on'"),
        ({}, ["--rules", "/nonexistent/dir"], "does not exist"),
    ],
)
def test_configuration_and_usage_errors_exit_two(
    make_repo: Any, files: dict[str, str], args: list[str], needle: str
) -> None:
    repo = make_repo(files or {"x.txt": ""})
    r = run("scan", str(repo), *[a.replace("{repo}", str(repo)) for a in args])
    assert r.exit_code == 2, r.output
    assert needle in r.output


def test_one_run_writes_text_sarif_and_json(tmp_path: Path) -> None:
    sarif, js = tmp_path / "out/t.sarif", tmp_path / "t.json"
    r = run(
        "scan", "--root", str(EXAMPLES / "acme-payments"), "--sarif", str(sarif), "--json", str(js)
    )
    assert r.exit_code == 1
    assert LINE.match(r.output.splitlines()[0])
    s = json.loads(sarif.read_text())
    j = json.loads(js.read_text())
    assert len(s["runs"][0]["results"]) == len(j["findings"]) > 0
    # every file tether reads (the examples grow as packs add rules)
    scanned = [f for f in walk(EXAMPLES / "acme-payments") if isinstance(f, SourceFile)]
    t = j["timings"]
    # parsed now, or earlier in the session and answered from the fact cache, or judged
    # earlier in the session and answered from the result cache
    assert (t["parse"] > 0 or t["cached"] > 0 or t["reused"]) and t["files"] == len(scanned) >= 9


def test_format_json_to_output_file_keeps_summary_on_stderr(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = CliRunner().invoke(
        main,
        ["scan", "--root", str(EXAMPLES / "acme-payments"), "--format", "json", "-o", str(out)],
    )
    assert r.exit_code == 1
    # the console (a CI log) still says what was found and why the step failed
    summary, verdict = r.stderr.splitlines()
    assert re.match(r"\d+ findings \(", summary)
    assert re.fullmatch(r"FAIL: \d+ findings? at error level \(fail level: error\)", verdict)
    data = json.loads(out.read_text())
    assert {"findings", "diagnostics", "rules", "timings", "baselines"} <= set(data)
    f = next(x for x in data["findings"] if x["rule_id"] == "TF002")
    # the exact entry the constraint was judged against, not just the section
    assert f["baseline"] == [
        {"key": "terraform.providers.hashicorp/aws", "file": "<embedded>/default.yml", "line": 11}
    ]


def test_repo_config_excludes_and_chooses_an_overlay_the_policy_lists(
    make_repo: Any, tmp_path: Path
) -> None:
    policy = write_tree(
        tmp_path / "platform",
        {
            "policy.yml": "overlays: {acme: acme.yml}\nrepository: {allow: [exclude, baseline]}\n",
            "acme.yml": "extends: [default]\nterraform:\n  providers:\n    someone/x: {}\n",
        },
    )
    repo = make_repo(
        {
            ".tether.yaml": "baseline: acme\nexclude: [legacy/**]\n",
            "main.tf": BAD_PROVIDER,
            "legacy/old.tf": BAD_PROVIDER.replace("someone/x", "other/y"),
            "CODEOWNERS": "* @acme/team\n",
        }
    )
    r = run("scan", str(repo), "--policy", str(policy / "policy.yml"))
    assert r.exit_code == 0, r.output
    assert "legacy:1:1  excluded-directory" in r.output
    r2 = run("scan", str(repo), "--policy", str(policy / "policy.yml"), "--no-config")
    assert r2.exit_code == 1 and "legacy/old.tf" in r2.output
    # without a policy that lists the overlay, the repository cannot choose it (CFG001)
    r3 = run("scan", str(repo))
    assert r3.exit_code == 1 and "CFG001" in r3.output


def test_version() -> None:
    r = run("--version")
    assert r.exit_code == 0 and "tether" in r.output


def test_rules_lists_and_filters() -> None:
    r = run("rules", "--pack", "kubernetes")
    assert r.exit_code == 0
    ids = [line.split()[0] for line in r.stdout.splitlines()]
    assert ids and all(i.startswith("K8S") for i in ids)
    j = json.loads(run("rules", "--category", "drift", "--format", "json").output)
    assert j and {x["category"] for x in j} == {"drift"}


def test_explain_prints_the_four_doc_sections() -> None:
    r = run("explain", "gha002")
    assert r.exit_code == 0
    for section in ("What it does", "Why it matters", "Example", "Use instead", "Exceptions"):
        assert section in r.output
    assert run("explain", "NOPE999").exit_code == 2


def test_unknown_pack_and_empty_category_are_usage_errors() -> None:
    r = run("rules", "--pack", "nope")
    assert r.exit_code == 2 and "no pack nope" in r.output
    r = run("scan", "--root", str(EXAMPLES / "golden-service"), "--category", "")
    assert r.exit_code == 2


def test_a_baseline_passed_as_policy_says_so(tmp_path: Path) -> None:
    baseline = ROOT / "baselines" / "default.yml"
    r = run("scan", "--root", str(EXAMPLES / "golden-service"), "--policy", str(baseline))
    assert r.exit_code == 2 and "looks like a baseline" in r.output


def test_timings_go_to_stderr_with_reports_and_cpu(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path / "r", {"k8s/d.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"}
    )
    r = CliRunner().invoke(
        main, ["scan", "--root", str(root), "-q", "--timings", "--fail-on", "never"]
    )
    assert r.exit_code == 0, r.output
    (line,) = [x for x in r.stderr.splitlines() if x.startswith("timings: ")]
    assert re.search(
        r"; 1 process; load \d+\.\d{3}s, .* other \d+\.\d{3}s; scan \d+\.\d{3}s wall; "
        r"reports \d+\.\d{3}s; tether \d+\.\d{3}s wall, \d+\.\d{3}s CPU \(after start-up\)$",
        line,
    ), line
    # with one process the phases and `other` add up to the scan's wall time
    parts = dict(re.findall(r"(load|discover|parse|facts|policy|other) (\d+\.\d+)s", line))
    wall = float(re.search(r"scan (\d+\.\d+)s wall", line).group(1))  # type: ignore[union-attr]
    assert abs(sum(map(float, parts.values())) - wall) < 0.01
    assert "timings" not in r.stdout
