"""Exceptions end to end: expiry judged with an injectable clock, excepted findings listed
with their justification, and SARIF leaving them out unless asked."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from scanner import ConfigError, scan
from scanner.cli import main
from scanner.config import RepoConfig
from scanner.exceptions import justification_ok
from scanner.scanning import ScanOptions

from .conftest import validate_sarif

RECORD = """\
- rule: DOCKER001
  scope: {path: "Dockerfile"}
  justification: Vendor runtime image, mirrored to our registry in PLAT-9.
  owner: team-a
  approved_by: platform-team
  created: 2026-11-01
  expires: 2027-01-31
"""


def _repo(make_repo: Any, record: str = RECORD) -> Path:
    path: Path = make_repo(
        {".tether/exceptions.yaml": record, "Dockerfile": "FROM vendor/runtime:1.2\n"}
    )
    return path


def _rules(report: Any) -> list[str]:
    return sorted(f.rule_id for f in report.findings if not f.rule_id.startswith("REPO"))


def test_expiry_is_judged_on_the_injected_day(make_repo: Any) -> None:
    repo = _repo(make_repo)
    last_day = scan(repo, ScanOptions(today=dt.date(2027, 1, 31)), config=RepoConfig())
    assert _rules(last_day) == []
    assert [e.finding.rule_id for e in last_day.excepted] == ["DOCKER001"]
    day_after = scan(repo, ScanOptions(today=dt.date(2027, 2, 1)), config=RepoConfig())
    assert _rules(day_after) == ["DOCKER001", "EXC001"]
    assert day_after.excepted == []


def test_text_and_json_list_excepted_findings_with_justification(make_repo: Any) -> None:
    repo = _repo(make_repo)
    r = CliRunner().invoke(main, ["scan", str(repo), "--format", "json"])
    data = json.loads(r.output)
    (exc,) = data["excepted"]
    assert exc["rule_id"] == "DOCKER001"
    assert exc["exception"]["justification"].startswith("Vendor runtime image")
    assert (exc["exception"]["owner"], exc["exception"]["expires"]) == ("team-a", "2027-01-31")
    text = CliRunner().invoke(main, ["scan", str(repo)]).output
    assert "DOCKER001  excepted  until 2027-01-31, owner team-a" in text
    assert "1 excepted" in text.splitlines()[-2]  # the last line is the verdict


def test_sarif_leaves_excepted_findings_out_unless_asked(make_repo: Any, tmp_path: Path) -> None:
    repo = _repo(make_repo)
    plain, incl = tmp_path / "plain.sarif", tmp_path / "incl.sarif"
    CliRunner().invoke(main, ["scan", str(repo), "--sarif", str(plain)])
    CliRunner().invoke(main, ["scan", str(repo), "--sarif", str(incl), "--include-excepted"])
    res_plain = json.loads(plain.read_text())["runs"][0]["results"]
    res_incl = json.loads(incl.read_text())["runs"][0]["results"]
    assert "DOCKER001" not in {r["ruleId"] for r in res_plain}
    (sup,) = [r for r in res_incl if r["ruleId"] == "DOCKER001"]
    assert sup["suppressions"][0]["kind"] == "external"
    assert "PLAT-9" in sup["suppressions"][0]["justification"]
    validate_sarif(plain, incl)


def test_pack_wide_inline_exception(make_repo: Any) -> None:
    repo = make_repo(
        {
            "Dockerfile": (
                "# tether:ignore dockerfile vendor runtime image, mirrored in PLAT-9 "
                "(until 2027-01-31)\nFROM vendor/runtime:1.2\n"
            )
        }
    )
    report = scan(repo, ScanOptions(today=dt.date(2026, 12, 1)), config=RepoConfig())
    assert _rules(report) == []
    assert [e.record.origin for e in report.excepted] == ["inline"]


def test_central_registry_from_the_baseline(make_repo: Any, tmp_path: Path) -> None:
    central = tmp_path / "platform"
    central.mkdir()
    (central / "exceptions.yml").write_text(
        RECORD.replace('scope: {path: "Dockerfile"}', 'scope: {repo: "acme/*"}')
    )
    (central / "org.yml").write_text("extends: [default]\nexceptions: [exceptions.yml]\n")
    repo = make_repo({"Dockerfile": "FROM vendor/runtime:1.2\n"})
    opts = ScanOptions(
        baselines=[str(central / "org.yml")], repo_name="acme/app", today=dt.date(2026, 12, 1)
    )
    assert _rules(scan(repo, opts, config=RepoConfig())) == []
    other = ScanOptions(
        baselines=[str(central / "org.yml")], repo_name="other/app", today=dt.date(2026, 12, 1)
    )
    # another repository's record is neither applied nor judged (not "stale") here
    assert _rules(scan(repo, other, config=RepoConfig())) == ["DOCKER001"]
    unknown = ScanOptions(baselines=[str(central / "org.yml")], today=dt.date(2026, 12, 1))
    report = scan(repo, unknown, config=RepoConfig())
    assert _rules(report) == ["DOCKER001"]
    assert [d.code for d in report.diagnostics] == ["exception-scope"]
    assert "--repo" in report.diagnostics[0].message


def test_malformed_exceptions_file_is_a_configuration_error(make_repo: Any) -> None:
    repo = _repo(make_repo, "- rule: DOCKER001\n  colour: blue\n")
    try:
        scan(repo, config=RepoConfig())
    except ConfigError as e:
        assert e.file == ".tether/exceptions.yaml" and e.line == 2
    else:
        raise AssertionError("expected a configuration error")
    assert CliRunner().invoke(main, ["scan", str(repo)]).exit_code == 2


def test_justification_needs_words() -> None:
    assert not justification_ok("temporary")
    assert not justification_ok("n/a")
    assert not justification_ok("fix later")
    assert justification_ok("Vendor image only on quay.io; mirror in PLAT-412.")


def test_markdown_summary_stays_under_a_mebibyte(make_repo: Any) -> None:
    from scanner.report import markdown

    files = {
        f"m{i}/main.tf": (
            'terraform {\n  required_providers {\n    x = { source = "someone/x' + str(i) + '" }\n'
            "  }\n}\n" + "# " + "long comment " * 50 + "\n"
        )
        for i in range(400)
    }
    report = scan(make_repo(files), ScanOptions(jobs=1), config=RepoConfig())
    big = [*report.findings] * 30  # 12,000 findings with long messages
    text = markdown.render(type(report)(**{**_fields(report), "findings": big}))
    assert len(text.encode()) < markdown.MAX_BYTES
    assert "more (see the SARIF or JSON report)" in text


def _fields(report: Any) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(report, f.name) for f in dataclasses.fields(report)}
