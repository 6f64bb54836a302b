"""`tether report` as a platform team uses it (issue 12): three weekly `tether org` scans of a
small org, through the real PyGithub client against tests/github_fake.py, then the report in
each format; team attribution; what a hostile repository can put in a report."""

from __future__ import annotations

import datetime as dt
import html.parser
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from scanner.adoption.report import SCHEMA
from scanner.cli import main
from scanner.org.run import OrgOptions, run_org
from scanner.org.state import Result, RuleOutcome, StateStore
from scanner.policy.operator import load as load_policy
from scanner.report import adoption_html, adoption_markdown
from tests.github_fake import FakeGitHub
from tests.org_world import WORKFLOW, World
from tests.test_org_scan import factory

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "scanner/schemas/adoption-report.schema.json"

POLICY = """\
baseline: [default]
ownership:
  sources: [property:team, catalog, codeowners]
  teams: {docs-writers: docs}
levels:
  - {name: bronze, rules: [REPO001]}
  - {name: silver, rules: [GHA006]}
"""
UNPERMITTED = WORKFLOW  # no top-level permissions: GHA006 fails
PERMITTED = "permissions: {contents: read}\n" + UNPERMITTED
WEEK1 = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)


def _validate(doc: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(doc)


@pytest.fixture
def weekly(tmp_path: Path) -> Iterator[tuple[World, Path]]:
    """The org after three weekly scans; yields the world and the state directory."""
    policy_dir = tmp_path / "policy"
    policy_dir.mkdir()
    (policy_dir / "tether-policy.yml").write_text(POLICY)
    policy = load_policy(policy_dir / "tether-policy.yml")
    state = tmp_path / "state"
    with FakeGitHub() as fake:
        w = World(fake, tmp_path / "git")

        def scan(week: int) -> None:
            when = (WEEK1 + dt.timedelta(weeks=week)).strftime("%Y-%m-%dT%H:%M:%SZ")
            options = OrgOptions(
                org="acme",
                out=tmp_path / f"out-{week}",
                state_dir=state,
                policy=policy,
                upload_wait=0.0,
                jobs=2,
                today=(WEEK1 + dt.timedelta(weeks=week)).date(),
            )
            run_org(options, factory(fake), clock=lambda: when)

        # week 1
        w.publish("payments-api", {".github/workflows/ci.yml": UNPERMITTED})
        w.set_properties("payments-api", team="payments")
        w.publish(
            "search-api",
            {"CODEOWNERS": "* @acme/search\n", ".github/workflows/ci.yml": PERMITTED},
        )
        w.publish(
            "docs-site",
            {
                "catalog-info.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
                "metadata: {name: docs}\nspec: {owner: 'group:default/docs-writers'}\n",
                "README.md": "# docs\n",
            },
        )
        w.publish("lonely", {"README.md": "# nobody's\n"})
        scan(0)
        # week 2: payments declares an owner and permissions; search adds an unpermitted workflow
        w.publish(
            "payments-api",
            {"CODEOWNERS": "* @acme/payments\n", ".github/workflows/ci.yml": PERMITTED},
        )
        w.publish("search-api", {".github/workflows/release.yml": UNPERMITTED})
        scan(1)
        # week 3: lonely gets an owner
        w.publish("lonely", {".github/CODEOWNERS": "# all of it\n/ @acme/search\n"})
        scan(2)
        yield w, state


def _report(state: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["report", "--state", str(state), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _pairs(change: dict[str, Any], kind: str, rules: tuple[str, ...]) -> set[tuple[str, str]]:
    return {(i["repository"], i["rule"]) for i in change[kind]["items"] if i["rule"] in rules}


def test_three_weekly_scans_give_the_expected_deltas(weekly: tuple[World, Path]) -> None:
    _, state = weekly
    doc = json.loads(_report(state, "--format", "json", "--weeks", "2"))
    _validate(doc)
    assert doc["org"] == "acme" and doc["scan"]["week"] == "2026-W47"
    repos = {r["repository"]: r for r in doc["repositories"]}
    # attribution, first source that names an owner, and where it came from
    assert {r: (v["team"], v["team_source"]) for r, v in repos.items()} == {
        "acme/payments-api": ("payments", "custom property team"),
        "acme/search-api": ("search", "CODEOWNERS (owner of /)"),
        "acme/docs-site": ("docs", "catalog-info.yaml spec.owner"),
        "acme/lonely": ("search", ".github/CODEOWNERS (owner of /)"),
    }
    # levels (bronze: REPO001, silver: GHA006): search-api fails GHA006 since week 2
    assert {r: v["level"] for r, v in repos.items()} == {
        "acme/payments-api": "silver",
        "acme/search-api": "bronze",
        "acme/docs-site": "silver",
        "acme/lonely": "silver",
    }
    assert repos["acme/search-api"]["next_level"] == {"level": "silver", "blocking": ["GHA006"]}
    assert repos["acme/docs-site"]["next_level"] is None  # the top level
    assert doc["level_rules"] == {"bronze": ["REPO001"], "silver": ["GHA006"]}
    by_team = {t["team"]: t for t in doc["teams"]}
    assert set(by_team) == {"payments", "search", "docs"}
    assert by_team["search"]["level"] == "bronze" and by_team["search"]["repositories"] == 2
    watched = ("REPO001", "GHA006")
    prev = doc["changes"]["previous"]
    assert prev["scan"]["week"] == "2026-W46"
    assert _pairs(prev, "new", watched) == set()
    assert _pairs(prev, "fixed", watched) == {("acme/lonely", "REPO001")}
    two = doc["changes"]["weeks"]
    assert two["scan"]["week"] == "2026-W45" and two["weeks"] == 2
    assert _pairs(two, "new", watched) == {("acme/search-api", "GHA006")}
    assert _pairs(two, "fixed", watched) == {
        ("acme/payments-api", "REPO001"),
        ("acme/payments-api", "GHA006"),
        ("acme/lonely", "REPO001"),
    }
    moves = {m["team"]: (m["before"], m["after"], m["moved"]) for m in two["levels"]}
    assert moves["payments"] == (None, "silver", "up")
    assert moves["search"] == ("silver", "bronze", "down")
    # unowned was a row of its own in week 1, gone once lonely had an owner
    assert [p["week"] for p in doc["trend"]] == ["2026-W45", "2026-W46", "2026-W47"]
    assert "unowned" in doc["trend"][0]["teams"] and "unowned" not in doc["trend"][2]["teams"]
    # REPO001's adoption went 2/4 -> 3/4 -> 4/4
    rule = {r["rule"]: r for r in doc["rules"]}["REPO001"]
    assert (rule["passed"], rule["failed"], rule["adoption"]) == (4, 0, 100.0)
    deltas = {r["rule"]: r for r in two["rules"]}["REPO001"]
    assert (deltas["before"], deltas["after"], deltas["points"]) == (50.0, 100.0, 50.0)


def test_the_report_in_markdown_and_html(weekly: tuple[World, Path], tmp_path: Path) -> None:
    _, state = weekly
    md = _report(state)  # markdown by default, on standard output
    assert md.startswith("# Golden-path adoption: acme")
    assert "| search |" in md and "since the previous scan" in md.lower()
    out = tmp_path / "report.html"
    _report(state, "--out", str(out))
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "chart-heatmap" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched
    (tmp_path / "r.json").write_text("")
    _report(state, "--out", str(tmp_path / "r.json"))
    _validate(json.loads((tmp_path / "r.json").read_text()))


def test_a_result_recorded_without_outcomes_is_scanned_again(tmp_path: Path) -> None:
    """A repository unchanged since a run that kept no rule outcomes (a schema-2 state) is
    fetched and scanned again, once, rather than reused with a hole in the report."""
    (tmp_path / "tether-policy.yml").write_text(POLICY)
    policy = load_policy(tmp_path / "tether-policy.yml")
    with FakeGitHub() as fake:
        w = World(fake, tmp_path / "git")
        w.publish("a", {"README.md": "# a\n"})
        w.publish("b", {"README.md": "# b\n"})

        def scan(out: str) -> dict[str, str]:
            options = OrgOptions(
                org="acme",
                out=tmp_path / out,
                state_dir=tmp_path / "state",
                policy=policy,
                upload_wait=0.0,
                jobs=1,
            )
            return {r.repo: r.status for r in run_org(options, factory(fake)).summary.repos}

        assert scan("one") == {"acme/a": "scanned", "acme/b": "scanned"}
        with StateStore(tmp_path / "state") as st:
            first = st.runs("acme")[-1].id
            st._conn().execute("DELETE FROM rule_outcomes WHERE repo = 'acme/a'")
        assert scan("two") == {"acme/a": "scanned", "acme/b": "unchanged"}
        with StateStore(tmp_path / "state") as st:
            latest = st.runs("acme")[-1].id
            assert latest != first
            assert set(st.rule_outcomes(latest)) == {"acme/a", "acme/b"}
        assert scan("three") == {"acme/a": "unchanged", "acme/b": "unchanged"}


# --------------------------------------------------------------- hostile names and bad input

HOSTILE = [
    "<script>alert(1)</script>",
    '"onload="alert(1)',
    "x' onmouseover='alert(1)",
    "[link](https://evil.example) ![i](https://evil.example/i.png) **bold** | cell",
    "</title><script>alert(2)</script>",
    "{{ 7*7 }} {% raw %}",
]


def _hostile_state(tmp_path: Path) -> Path:
    clock = iter(["2026-11-02T06:00:00Z"] * 2 + ["2026-11-09T06:00:00Z"] * 50)
    with StateStore(tmp_path, clock=lambda: next(clock)) as st:
        info = {
            "levels": [{"name": "<b>gold</b>", "rules": ["REPO001"]}],
            "rules": {"REPO001": {"title": "<i>t</i>", "category": "ownership", "pack": "p"}},
        }
        for week in range(2):
            run = st.resume_or_start("h", "v", org="acme", info=info)
            for i, name in enumerate(HOSTILE):
                outcome = "fail" if (i + week) % 2 else "pass"
                st.record(
                    run,
                    Result(
                        f"acme/{name}",
                        "scanned",
                        "h",
                        "v",
                        team=name,
                        team_source=name,
                        finished_at="t",
                        rules={"REPO001": RuleOutcome(outcome, "ownership")},  # type: ignore[arg-type]
                    ),
                )
            st.finish(run, "complete")
    return tmp_path


class _Elements(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_hostile_names_render_as_text_in_html(tmp_path: Path) -> None:
    state = _hostile_state(tmp_path / "s")
    out = tmp_path / "r.html"
    _report(state, "--out", str(out))
    page = out.read_text()
    parsed = _Elements()
    parsed.feed(page)
    assert [t for t, _ in parsed.tags if t == "script"] == ["script"]  # the page's own only
    for tag, attrs in parsed.tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "{{ 7*7 }} {% raw %}" in page  # text, not a template evaluated
    # the one script is the page's own, allowed by hash; nothing else may run or connect
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None and "default-src 'none'" in csp.group(1)
    assert adoption_html.script_hash() in csp.group(1)


def test_hostile_names_render_as_text_in_markdown(tmp_path: Path) -> None:
    from markdown_it import MarkdownIt

    state = _hostile_state(tmp_path / "s")
    md = _report(state, "--format", "markdown")
    rendered = MarkdownIt("commonmark").enable("table").render(md)
    assert "<script" not in rendered and "<a " not in rendered and "<img" not in rendered
    assert "<strong>bold" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered


def test_a_large_org_fits_an_issue_body() -> None:
    doc = {
        "org": "acme",
        "compare_weeks": 4,
        "scan": {"started_at": "t", "week": "2026-W47", "run": 1},
        "levels": [],
        "totals": {
            "repositories": 5000,
            "teams": 2000,
            "adoption": 50.0,
            "passed": 1,
            "failed": 1,
            "excepted": 0,
            "not_applicable": 0,
            "by_category": {"drift": 1},
            "levels": {},
        },
        "changes": {},
        "teams": [
            {
                "team": f"team-{i:04d}-" + "x" * 80,
                "repositories": 3,
                "adoption": 50.0,
                "change": {},
                "level": None,
                "excepted": 0,
                "behind": {"major": 0, "minor": 0, "patch": 0},
            }
            for i in range(2000)
        ],
        "rules": [],
        "repositories": [],
        "not_judged": [],
    }
    text = adoption_markdown.render(doc)
    assert len(text.encode()) <= adoption_markdown.MAX_BYTES
    assert "more teams: the JSON report (`--format json`) lists them all" in text


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("none", [], "no tether org state here"),
        ("state", ["--org", "other"], "no scan of other with adoption data"),
        ("empty", [], "holds no org scan with adoption data"),
        ("state", ["--since", "2027-01-01"], "since 2027-01-01"),
        ("state", ["--since", "yesterday"], "a date, YYYY-MM-DD"),
    ],
)
def test_usage_and_configuration_errors_exit_2(
    tmp_path: Path, setup: str, args: list[str], message: str
) -> None:
    state = tmp_path / "s"
    if setup == "state":
        _hostile_state(state)
    elif setup == "empty":
        StateStore(state).close()
    result = CliRunner().invoke(main, ["report", "--state", str(state), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_the_report_schema_is_served_by_tether_schema() -> None:
    result = CliRunner().invoke(main, ["schema", "adoption-report"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["$id"] == SCHEMA


def _shard_state(path: Path, repos: dict[str, str], weeks: list[str]) -> Path:
    """A shard's state: each week, each repository's REPO001 outcome."""
    now = [weeks[0]]
    with StateStore(path, clock=lambda: now[0]) as st:
        for when in weeks:
            now[0] = when
            run = st.resume_or_start("h", "v", org="acme", info={"levels": [], "rules": {}})
            for repo, outcome in repos.items():
                st.record(
                    run,
                    Result(
                        repo,
                        "scanned",
                        "h",
                        "v",
                        team="t",
                        team_source="s",
                        rules={"REPO001": RuleOutcome(outcome, "ownership")},  # type: ignore[arg-type]
                    ),
                )
            st.finish(run, "complete")
    return path


def test_the_states_of_a_sharded_org_are_read_as_one(tmp_path: Path) -> None:
    # shard 1 runs minutes before shard 2 each week
    one = _shard_state(
        tmp_path / "1",
        {"acme/a": "pass", "acme/b": "fail"},
        ["2026-11-02T03:41:00Z", "2026-11-09T03:41:00Z"],
    )
    two = _shard_state(
        tmp_path / "2",
        {"acme/c": "pass", "acme/d": "pass"},
        ["2026-11-02T04:10:00Z", "2026-11-09T04:12:00Z"],
    )
    doc = json.loads(
        _report(one, "--state", str(two), "--format", "json")  # --state given twice
    )
    _validate(doc)
    assert doc["totals"]["repositories"] == 4
    assert doc["totals"]["adoption"] == 75.0
    assert [p["week"] for p in doc["trend"]] == ["2026-W45", "2026-W46"]
    assert doc["scan"]["started_at"] == "2026-11-09T04:12:00Z"
    # week to week nothing changed: no repository of one shard counts as new or fixed
    assert doc["changes"]["previous"]["new"]["count"] == 0
    assert doc["changes"]["previous"]["fixed"]["count"] == 0


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            "levels:\n  - {name: gold, rules: [NOPE001, REPO001]}\n"
            "  - {name: x, rules: [terrafrom]}\n",
            "levels name no rule or pack: gold: NOPE001, x: terrafrom",
        ),
        (
            "levels:\n  - {name: a, rules: [REPO001]}\n  - {name: a, rules: [GHA006]}\n",
            "named twice",
        ),
        ("ownership: {sources: [github-team]}\n", "ownership"),
    ],
)
def test_a_bad_ownership_or_level_is_a_configuration_error(
    tmp_path: Path, policy: str, message: str
) -> None:
    from scanner.errors import ConfigError

    (tmp_path / "p.yml").write_text("baseline: [default]\n" + policy)
    with FakeGitHub() as fake, pytest.raises(ConfigError, match=message):
        World(fake, tmp_path / "git").publish("a", {"README.md": "x\n"})
        options = OrgOptions(
            org="acme",
            out=tmp_path / "out",
            state_dir=tmp_path / "state",
            policy=load_policy(tmp_path / "p.yml"),
            upload_wait=0.0,
        )
        run_org(options, factory(fake))


def test_a_missing_shard_is_said_and_its_repositories_are_not_new_or_fixed(
    tmp_path: Path,
) -> None:
    weeks = ["2026-11-02T03:41:00Z", "2026-11-09T03:41:00Z", "2026-11-16T03:41:00Z"]
    one = _shard_state(tmp_path / "1", {"acme/a": "pass", "acme/b": "fail"}, weeks)
    # shard 2 did not run in week 2
    two = _shard_state(tmp_path / "2", {"acme/c": "fail"}, [weeks[0], weeks[2]])
    doc = json.loads(_report(one, "--state", str(two), "--format", "json", "--weeks", "1"))
    assert doc["warnings"] == [
        "2026-W46: 1 of the 2 states have a scan; the others' repositories are not counted "
        "that week"
    ]
    # week 3 against week 2: acme/c was not judged in week 2, but it is not new to the org
    assert doc["changes"]["previous"]["new"]["count"] == 0
    md = _report(one, "--state", str(two))
    assert "**Not counted:** 2026\\-W46" in md or "Not counted" in md


def test_a_repository_not_judged_last_time_brings_no_new_violations(tmp_path: Path) -> None:
    now = ["2026-11-02T06:00:00Z"]
    with StateStore(tmp_path, clock=lambda: now[0]) as st:
        for week, when in enumerate(["2026-11-02T06:00:00Z", "2026-11-09T06:00:00Z"]):
            now[0] = when
            run = st.resume_or_start("h", "v", org="acme", info={})
            if week == 0:
                st.record(run, Result("acme/a", "failed", "h", "v", reason="GitHub: 502"))
            else:
                st.record(
                    run,
                    Result(
                        "acme/a",
                        "scanned",
                        "h",
                        "v",
                        team="t",
                        rules={"REPO001": RuleOutcome("fail", "ownership")},
                    ),
                )
            st.record(
                run,
                Result(
                    "acme/new" if week else "acme/b",
                    "scanned",
                    "h",
                    "v",
                    team="t",
                    rules={"REPO001": RuleOutcome("fail", "ownership")},
                ),
            )
            st.finish(run, "complete")
    doc = json.loads(_report(tmp_path, "--format", "json"))
    new = {(i["repository"], i["rule"]) for i in doc["changes"]["previous"]["new"]["items"]}
    assert new == {("acme/new", "REPO001")}  # acme/a failed to scan last week: not new
    gone = {r["repository"]: r["why"] for r in doc["not_judged"]}
    assert gone == {"acme/b": "not in this scan (archived, gone, or its shard did not run)"}


def test_a_rule_staged_in_one_repository_still_counts_in_the_others(tmp_path: Path) -> None:
    from scanner.adoption.score import RepoRecord, snapshot

    def rec(repo: str, counted: bool) -> RepoRecord:
        return RepoRecord(repo, "t", "", {"GHA006": RuleOutcome("fail", "compliance", counted)})

    snap = snapshot([rec("a", True), rec("b", True), rec("c", False)], [], {})
    gha006 = snap.rules["GHA006"]
    assert gha006.counted and gha006.counts.failed == 2 and gha006.failing == ["a", "b"]
    assert snap.team_rules[("t", "GHA006")].failed == 2
    only_staged = snapshot([rec("c", False)], [], {})
    assert only_staged.rules["GHA006"].counted is False
    assert ("t", "GHA006") not in only_staged.team_rules


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE runs SET started_at = 'garbage'",
        "UPDATE runs SET info = '{\"rules\": [1, 2]}'",
        'UPDATE runs SET info = \'{"levels": [{"name": "x", "rules": 5}]}\'',
        "UPDATE results SET counts_by_category = 'not json'",
        'UPDATE results SET counts_by_category = \'{"drift": "x"}\'',
        "UPDATE results SET counts_by_category = '{\"drift\": 1e400}'",
        "UPDATE rule_outcomes SET passed = 'x'",
        "UPDATE results SET status = 'weird'",
        'UPDATE results SET extra = \'{"delivery": {"source": "none", '
        '"deployments": 1, "failed": 0, "window_days": 0}}\'',
        'UPDATE results SET extra = \'{"delivery": {"source": "none", '
        '"deployments": 1e999, "failed": 0}}\'',
    ],
)
def test_an_edited_state_is_a_configuration_error_not_a_traceback(tmp_path: Path, sql: str) -> None:
    import sqlite3

    state = _shard_state(
        tmp_path / "s", {"acme/a": "pass", "acme/b": "fail"}, ["2026-11-02T03:41:00Z"]
    )
    db = sqlite3.connect(state / "tether-org.sqlite")
    db.execute(sql)
    db.commit()
    db.close()
    for fmt in ("json", "markdown", "html"):
        result = CliRunner().invoke(main, ["report", "--state", str(state), "--format", fmt])
        assert result.exit_code in (0, 2), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output


def test_report_reads_a_state_without_changing_it(tmp_path: Path) -> None:
    import hashlib
    import sqlite3

    from tests.test_org_history import _v2_database

    _v2_database(tmp_path)
    before = hashlib.sha256((tmp_path / "tether-org.sqlite").read_bytes()).hexdigest()
    result = CliRunner().invoke(main, ["report", "--state", str(tmp_path)])
    assert (
        result.exit_code == 2
        and "the next `tether org ... --state` run migrates it" in result.output
    )
    assert hashlib.sha256((tmp_path / "tether-org.sqlite").read_bytes()).hexdigest() == before
    db = sqlite3.connect(tmp_path / "tether-org.sqlite")
    db.execute("UPDATE meta SET value = '1'")
    db.commit()
    db.close()
    result = CliRunner().invoke(main, ["report", "--state", str(tmp_path)])
    assert result.exit_code == 2
    db = sqlite3.connect(tmp_path / "tether-org.sqlite")
    assert db.execute("SELECT count(*) FROM results").fetchone() == (2,)  # not wiped
    db.close()


def test_a_shard_that_ran_twice_does_not_hide_a_missing_one(tmp_path: Path) -> None:
    one = _shard_state(
        tmp_path / "1",
        {"acme/a": "pass"},
        ["2026-11-02T03:41:00Z", "2026-11-03T03:41:00Z", "2026-11-09T03:41:00Z"],
    )
    two = _shard_state(tmp_path / "2", {"acme/c": "fail"}, ["2026-11-09T04:00:00Z"])
    doc = json.loads(_report(one, "--state", str(two), "--format", "json"))
    assert doc["warnings"][0].startswith("2026-W45: 1 of the 2 states have a scan")
    assert doc["changes"]["previous"]["new"]["count"] == 1  # acme/c: new to the org


def test_a_newer_scan_that_judged_nothing_is_said(tmp_path: Path) -> None:
    state = _shard_state(tmp_path / "s", {"acme/a": "pass"}, ["2026-11-23T06:00:00Z"])
    with StateStore(state, clock=lambda: "2026-11-30T06:00:00Z") as st:
        run = st.resume_or_start("h2", "v", org="acme", info={})
        st.record(run, Result("acme/a", "failed", "h2", "v", reason="GitHub: 502"))
        st.finish(run, "failed")
    doc = json.loads(_report(state, "--format", "json"))
    assert doc["scan"]["started_at"] == "2026-11-23T06:00:00Z"
    assert doc["warnings"] == [
        "the org scan started 2026-11-30T06:00:00Z judged no repository (1 failed): this "
        "report shows the newest scan that did"
    ]
