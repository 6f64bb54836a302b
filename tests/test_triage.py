"""`tether triage` (issue 12): code scanning's dismissals against the exception registry,
through the real PyGithub client and tests/github_fake.py's code scanning alerts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.exceptions import load_file
from scanner.org.run import OrgOptions, run_org
from scanner.policy.operator import load as load_policy
from tests.github_fake import FakeGitHub
from tests.org_world import WORKFLOW, World
from tests.test_org_scan import factory

UNPERMITTED = WORKFLOW  # no top-level permissions: GHA006 fails
# within the 365 days a record may run
EXPIRES = (dt.date.today() + dt.timedelta(days=200)).isoformat()
REPO_EXCEPTIONS = f"""\
- rule: REPO001
  justification: Ownership moves to the new platform catalogue in January.
  owner: team-a
  approved_by: platform
  expires: {EXPIRES}
"""
CENTRAL = f"""\
- rule: GHA006
  scope: {{repo: acme/b, path: .github/workflows/ci.yml}}
  justification: Legacy release workflow, replaced by the golden one in PLAT-9.
  owner: team-b
  approved_by: platform
  expires: {EXPIRES}
"""
POLICY = "baseline: [default]\nexceptions: [central.yml]\napprovals: {approvers: [platform]}\n"


PERMITTED_TWO = """\
name: ci
on: push
permissions: {contents: read}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: evil/other@v1
      - uses: evil/thing@v1
"""


def alert(number: int, rule: str, path: str, state: str, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": number,
        "state": state,
        "rule": {"id": rule},
        "tool": {"name": "tether"},
        "html_url": f"https://github.example/acme/x/security/code-scanning/{number}",
        "most_recent_instance": {
            "category": "tether-org/acme",
            "location": {"path": path, "start_line": kw.get("line", 1)},
        },
        "dismissed_by": None,
        "dismissed_at": None,
        "dismissed_reason": None,
        "dismissed_comment": None,
        "fixed_at": None,
    }
    if state == "dismissed":
        data.update(
            dismissed_by={"login": kw.get("by", "alice")},
            dismissed_at="2026-11-20T10:00:00Z",
            dismissed_reason=kw.get("reason", "won't fix"),
            dismissed_comment=kw.get("comment", "the vendor only ships this"),
        )
    return data


@pytest.fixture
def org(tmp_path: Path):  # type: ignore[no-untyped-def]
    policy_dir = tmp_path / "policy"
    policy_dir.mkdir()
    (policy_dir / "tether-policy.yml").write_text(POLICY)
    (policy_dir / "central.yml").write_text(CENTRAL)
    with FakeGitHub() as fake:
        w = World(fake, tmp_path / "git")
        w.publish(
            "a",
            {".github/workflows/ci.yml": UNPERMITTED, ".tether/exceptions.yaml": REPO_EXCEPTIONS},
        )
        w.publish("b", {".github/workflows/ci.yml": UNPERMITTED, "CODEOWNERS": "* @acme/b\n"})

        def scan(week: int) -> None:
            when = f"2026-11-{2 + 7 * week:02d}T06:00:00Z"
            options = OrgOptions(
                org="acme",
                out=tmp_path / f"out{week}",
                state_dir=tmp_path / "state",
                policy=load_policy(policy_dir / "tether-policy.yml"),
                upload_wait=0.0,
                jobs=1,
            )
            run_org(options, factory(fake), clock=lambda: when)

        yield w, scan, tmp_path


def run(w: World, tmp_path: Path, *args: str) -> Any:
    return CliRunner().invoke(
        main,
        [
            "triage",
            "acme",
            "--state",
            str(tmp_path / "state"),
            "--github-url",
            w.fake.url,
            *args,
        ],
        env={"GITHUB_TOKEN": w.fake.token},
    )


def test_dismissals_without_a_record_and_stale_records(org: Any) -> None:
    w, scan, tmp_path = org
    scan(0)
    w.fake.alerts["acme/a"] = [
        # no record covers GHA006 in acme/a: to triage
        alert(1, "GHA006", ".github/workflows/ci.yml", "dismissed"),
        # the repository's own record covers REPO001: recorded
        alert(2, "REPO001", ".github/workflows/ci.yml", "dismissed"),
        alert(3, "REPO002", ".github/workflows/ci.yml", "open"),
    ]
    # acme/b's GHA006 is covered by the central registry
    w.fake.alerts["acme/b"] = [alert(4, "GHA006", ".github/workflows/ci.yml", "dismissed")]
    res = run(w, tmp_path, "--format", "json")
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert doc["repositories"] == 2 and doc["alerts"] == 4 and doc["recorded"] == 2
    assert doc["gone"] == 0
    assert [(u["repository"], u["alert"]["rule"]) for u in doc["unrecorded"]] == [
        ("acme/a", "GHA006")
    ]
    u = doc["unrecorded"][0]["alert"]
    assert (u["dismissed_by"], u["dismissed_reason"]) == ("alice", "won't fix")
    assert doc["stale"] == []

    # a week later acme/a declares its owner: REPO001 is fixed, and its record stale
    w.publish("a", {"CODEOWNERS": "* @acme/a\n"})
    scan(1)
    w.fake.alerts["acme/a"][1]["state"] = "fixed"
    res = run(w, tmp_path, "--format", "json")
    doc = json.loads(res.stdout)
    stale = [(s["repository"], s["rule"], s["why"]) for s in doc["stale"]]
    assert stale == [("acme/a", "REPO001", "fixed")]
    assert doc["stale"][0]["record"]["file"] == ".tether/exceptions.yaml"
    assert doc["stale"][0]["alert"]["number"] == 2


def test_written_requests_are_valid_records_for_review(org: Any) -> None:
    w, scan, tmp_path = org
    scan(0)
    w.fake.alerts["acme/a"] = [
        alert(1, "GHA006", ".github/workflows/ci.yml", "dismissed", comment="")
    ]
    out = tmp_path / "requests.yml"
    expires = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    res = run(
        w, tmp_path, "--write-exceptions", str(out), "--owner", "team-a", "--expires", expires
    )
    assert res.exit_code == 1, res.output
    assert "1 exception records to review" in res.output
    records = load_file(out, "requests.yml", "central")
    assert len(records) == 1
    rec = records[0]
    assert (rec.rule, rec.repo, rec.path, rec.owner) == (
        "GHA006",
        "acme/a",
        ".github/workflows/ci.yml",
        "team-a",
    )
    assert rec.expires == dt.date.fromisoformat(expires) and rec.approved_by is None
    assert "dismissed in code scanning as 'won't fix' by alice on 2026-11-20" in rec.justification
    assert rec.ticket and rec.ticket.endswith("/1")
    # an existing file is never overwritten
    again = run(w, tmp_path, "--write-exceptions", str(out), "--owner", "t", "--expires", expires)
    assert again.exit_code == 2 and "exists" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--write-exceptions", "x.yml"], "needs --owner"),
        (["--write-exceptions", "x.yml", "--owner", "t"], "needs --expires"),
        (["--write-exceptions", "x.yml", "--owner", "t", "--expires", "2020-01-01"], "after today"),
    ],
)
def test_requests_need_an_owner_and_a_future_expiry(
    org: Any, args: list[str], message: str
) -> None:
    w, scan, tmp_path = org
    scan(0)
    res = run(w, tmp_path, *args)
    assert res.exit_code == 2 and message in res.output


def test_agreement_exits_0_and_unreadable_repositories_are_not_agreement(org: Any) -> None:
    w, scan, tmp_path = org
    scan(0)
    w.fake.alerts["acme/a"] = [alert(2, "REPO001", ".github/workflows/ci.yml", "dismissed")]
    w.fake.alerts["acme/b"] = []
    res = run(w, tmp_path)
    assert res.exit_code == 0, res.output
    assert "agree" in res.output
    # one repository's alerts cannot be read: no claim of agreement, exit 1
    w.fake.code_scanning_disabled["acme/b"] = 403
    res = run(w, tmp_path)
    assert res.exit_code == 1, res.output
    assert "acme/b: code scanning not read" in res.output and "agree." not in res.output
    assert "1 could not be compared" in res.output
    # none can: the credential or the upload is wrong, a configuration error
    w.fake.code_scanning_disabled["acme/a"] = 403
    res = run(w, tmp_path)
    assert res.exit_code == 2 and "no repository's alerts could be compared" in res.output


def test_an_alert_meets_its_finding_by_line(org: Any) -> None:
    """Two GHA001 findings in one file, a record scoped to the first by target: the
    dismissal of the second is not covered by it."""
    w, scan, tmp_path = org
    (tmp_path / "policy" / "central.yml").write_text(
        CENTRAL
        + f"""\
- rule: GHA001
  scope: {{repo: acme/b, path: .github/workflows/ci.yml, target: "build/steps[0]"}}
  justification: The vendor action is reviewed and pinned by the platform in PLAT-7.
  owner: team-b
  approved_by: platform
  expires: {EXPIRES}
"""
    )
    w.publish(
        "b",
        {
            ".github/workflows/ci.yml": PERMITTED_TWO,
        },
    )
    scan(0)
    w.fake.alerts["acme/b"] = [
        alert(5, "GHA001", ".github/workflows/ci.yml", "dismissed", line=9),
        alert(6, "GHA001", ".github/workflows/ci.yml", "dismissed", line=8),
    ]
    doc = json.loads(run(w, tmp_path, "--format", "json").stdout)
    assert [u["alert"]["number"] for u in doc["unrecorded"]] == [5]
    assert doc["recorded"] == 1


def test_hostile_alert_text_is_shown_as_text(org: Any) -> None:
    w, scan, tmp_path = org
    scan(0)
    w.fake.alerts["acme/a"] = [
        alert(
            1,
            "GHA006",
            ".github/workflows/ci.yml",
            "dismissed",
            comment="ok\n::set-output name=x::1\x1b[31m ghp_" + "a" * 36,
        )
    ]
    res = run(w, tmp_path)
    assert "\x1b[31m" not in res.output and "\n::set-output" not in res.output
    assert "ghp_" + "a" * 36 not in res.output


def test_an_alert_reopened_against_its_record_is_stale(org: Any) -> None:
    w, scan, tmp_path = org
    scan(0)
    w.fake.alerts["acme/a"] = [alert(2, "REPO001", ".github/workflows/ci.yml", "open")]
    res = run(w, tmp_path, "--format", "json")
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert [(s["rule"], s["why"]) for s in doc["stale"]] == [("REPO001", "reopened")]
    text = run(w, tmp_path).output
    assert "reopened in code scanning" in text and ".tether/exceptions.yaml" in text


def test_a_record_the_scan_refuses_covers_nothing(org: Any) -> None:
    """An expired central record (the scan reports EXC001 and excepts nothing) does not make
    a dismissal look recorded; nor does an unapproved one where the policy names approvers."""
    w, scan, tmp_path = org
    central = tmp_path / "policy" / "central.yml"
    central.write_text(
        CENTRAL.replace(f"expires: {EXPIRES}", "expires: 2020-01-31")
        + CENTRAL.replace("acme/b", "acme/a").replace("  approved_by: platform\n", "")
    )
    scan(0)
    w.fake.alerts["acme/a"] = [alert(1, "GHA006", ".github/workflows/ci.yml", "dismissed")]
    w.fake.alerts["acme/b"] = [alert(2, "GHA006", ".github/workflows/ci.yml", "dismissed")]
    res = run(w, tmp_path, "--format", "json")
    doc = json.loads(res.stdout)
    assert res.exit_code == 1 and doc["recorded"] == 0
    assert sorted(u["repository"] for u in doc["unrecorded"]) == ["acme/a", "acme/b"]


def test_a_lapsed_record_is_not_called_fixed(org: Any) -> None:
    w, scan, tmp_path = org
    scan(0)
    w.publish("a", {".tether/exceptions.yaml": "[]\n"})  # the record goes, the finding stays
    scan(1)
    w.fake.alerts["acme/a"] = []
    doc = json.loads(run(w, tmp_path, "--format", "json").stdout)
    assert [(s["rule"], s["why"]) for s in doc["stale"]] == [("REPO001", "lapsed")]
    assert "renew the record or fix the finding" in run(w, tmp_path).output


def test_dismissals_of_findings_gone_are_counted_apart(org: Any) -> None:
    w, scan, tmp_path = org
    scan(0)
    w.fake.alerts["acme/a"] = [alert(1, "K8S001", "k8s/gone.yaml", "dismissed")]
    doc = json.loads(run(w, tmp_path, "--format", "json").stdout)
    assert doc["gone"] == 1 and doc["unrecorded"] == []


def test_paths_are_matched_as_written_and_written_as_literal_globs(org: Any) -> None:
    w, scan, tmp_path = org
    weird = ".github/workflows/Xk9PqL2mN8vR4tY7wZ3aB6*.yml"  # looks like a secret; a glob char
    w.publish("a", {weird: UNPERMITTED})
    scan(0)
    w.fake.alerts["acme/a"] = [alert(1, "GHA006", weird, "dismissed")]
    out = tmp_path / "requests.yml"
    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    res = run(w, tmp_path, "--write-exceptions", str(out), "--owner", "t", "--expires", expires)
    assert res.exit_code == 1, res.output
    (rec,) = load_file(out, "requests.yml", "central")
    assert rec.path == ".github/workflows/Xk9PqL2mN8vR4tY7wZ3aB6?.yml"
    assert "Xk9PqL2mN8vR4tY7wZ3aB6" not in res.stdout  # shown redacted on the console


def test_expiry_beyond_the_default_maximum_is_refused(org: Any) -> None:
    w, scan, tmp_path = org
    scan(0)
    late = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    res = run(w, tmp_path, "--write-exceptions", "x.yml", "--owner", "t", "--expires", late)
    assert res.exit_code == 2 and "at most 365 days" in res.output


def test_c1_controls_and_raw_times_are_escaped(org: Any) -> None:
    w, scan, tmp_path = org
    scan(0)
    a = alert(1, "GHA006", ".github/workflows/ci.yml", "dismissed", comment="\u009b2J\u009d0;x")
    a["dismissed_at"] = "\x1b]0;pwn\x07"
    w.fake.alerts["acme/a"] = [a]
    res = run(w, tmp_path)
    assert not any(c in res.output for c in "\x1b\x07\u009b\u009d")
