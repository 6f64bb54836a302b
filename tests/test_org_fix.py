"""`tether org ORG --fix --open-prs` end to end (issue 13, point 6): the real PyGithub client
against tests/github_fake.py, real git repositories behind it. One branch, one commit through
the Git Data API and one pull request per repository; updated, left alone, closed on later
weeks; budgets, refusals and branches someone else pushed to respected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.org import fixpr
from scanner.org.run import OrgOptions, RunResult, run_org
from scanner.org.state import StateStore
from tests.github_fake import FakeGitHub, git_blob_sha
from tests.org_world import World
from tests.test_org_scan import factory

# CRLF and a BOM: the committed file must keep both, byte for byte
WORKFLOW = (
    "\ufeff# ci\r\n"
    "name: ci\r\n"
    "on: push\r\n"
    "permissions: {contents: read}\r\n"
    "jobs:\r\n"
    "  build:\r\n"
    "    runs-on: ubuntu-latest\r\n"
    "    steps:\r\n"
    "      - uses: actions/checkout@v3   # keep me\r\n"
    "      - run: make\r\n"
).encode()
FIXED_WORKFLOW = WORKFLOW.replace(b"actions/checkout@v3", b"actions/checkout@v4")
DOCKERFILE = b"FROM python:3.9-slim\nRUN pip install .\n"
FIXED_DOCKERFILE = b"FROM python:3.12-slim\nRUN pip install .\n"
README = b"# app\n"
WF = ".github/workflows/ci.yml"
REPO = "acme/app"
HEAD = "acme:tether/golden-path"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with FakeGitHub() as fake:
        w = World(fake, tmp_path / "git")
        w.publish("app", {WF: WORKFLOW, "README.md": README, "src/main.py": b"print(1)\n"})
        yield w


def org(world: World, tmp_path: Path, **kw: Any) -> RunResult:
    options = OrgOptions(
        org="acme",
        out=tmp_path / "out",
        state_dir=tmp_path / "state",
        upload_wait=0.0,
        jobs=2,
        fix=True,
        **{"unsafe_fixes": True, **kw},  # checkout v3 -> v4 is a new major
    )
    return run_org(options, factory(world.fake))


def fix_of(result: RunResult, repo: str = REPO) -> dict[str, Any]:
    outcome = next(r for r in result.summary.repos if r.repo == repo)
    assert outcome.fix is not None, outcome
    return outcome.fix


def writes(fake: FakeGitHub, since: int = 0) -> list[str]:
    return [f"{r.method} {r.route}" for r in fake.requests[since:] if r.method != "GET"]


def branch_commit(fake: FakeGitHub, repo: str = REPO) -> dict[str, Any]:
    return fake.commits[(repo, fake.branches[(repo, "tether/golden-path")])]


def test_first_week_opens_one_pr_with_one_commit_changing_only_the_fixed_file(
    world: World, tmp_path: Path
) -> None:
    fake = world.fake
    base = fake.branches[(REPO, "main")]
    result = org(world, tmp_path, open_prs=True)
    fix = fix_of(result)
    assert fix["status"] == "opened", fix
    assert fix["files"] == [WF] and fix["fixed"] == 1
    # one commit on top of the scanned commit; its tree is the base tree with only the
    # workflow changed, to exactly the fixed bytes (CRLF and BOM kept)
    commit = branch_commit(fake)
    assert commit["parents"] == [base]
    assert commit["message"].startswith("tether: move to the golden path\n\n- GHA003 ")
    before = fake.commit_files(REPO, base)
    after = fake.git_trees[(REPO, commit["tree"])]
    changed = {
        p
        for p in after
        if after[p] != fake.git_trees[(REPO, fake.commits[(REPO, base)]["tree"])].get(p)
    }
    assert changed == {WF}
    assert fake.blobs[(REPO, after[WF][1])] == FIXED_WORKFLOW
    assert after[WF][1] == git_blob_sha(FIXED_WORKFLOW)
    assert {p: fake.blobs[(REPO, b)] for p, (_m, b) in after.items() if p != WF} == {
        p: c for p, c in before.items() if p != WF
    }
    # one blob, one tree with base_tree, one commit, one ref, one PR: nothing else written
    assert writes(fake) == [
        f"POST /repos/{REPO}/git/blobs",
        f"POST /repos/{REPO}/git/trees",
        f"POST /repos/{REPO}/git/commits",
        f"POST /repos/{REPO}/git/refs",
        f"POST /repos/{REPO}/pulls",
    ]
    (number, pr), *more = [(n, p) for (r, n), p in fake.pulls.items() if r == REPO]
    assert not more and fix["number"] == number
    assert pr["head"] == "tether/golden-path" and pr["base"] == "main" and pr["state"] == "open"
    body = pr["body"]
    assert fixpr.MARKER in body
    assert "`GHA003`" in body and f"`{WF}:9`" in body
    assert "docs/rules.md#" in body and "[docs](https://" in body  # the rule's help URI
    assert "v4" in body  # the golden value
    with StateStore(tmp_path / "state", read_only=True) as state:
        stored = state.fix_pr(REPO)
    assert stored is not None and stored.status == "open" and stored.pr_number == number
    assert stored.branch_sha == fake.branches[(REPO, "tether/golden-path")]


def test_later_weeks_update_the_same_pr_then_close_it(world: World, tmp_path: Path) -> None:
    fake = world.fake
    first = fix_of(org(world, tmp_path, open_prs=True))
    # nothing changed: no new commit, no write at all
    mark = len(fake.requests)
    again = fix_of(org(world, tmp_path, open_prs=True))
    assert again["status"] == "unchanged" and again["number"] == first["number"]
    assert writes(fake, mark) == []
    # a new drift: the same branch moves (force) and the same PR is edited, none opened
    world.publish("app", {"Dockerfile": DOCKERFILE})
    mark = len(fake.requests)
    second = fix_of(org(world, tmp_path, open_prs=True))
    assert second["status"] == "updated" and second["number"] == first["number"], second
    assert sorted(second["files"]) == sorted(["Dockerfile", WF])
    assert f"PATCH /repos/{REPO}/git/refs/heads/tether/golden-path" in writes(fake, mark)
    assert f"POST /repos/{REPO}/pulls" not in writes(fake, mark)
    assert len([k for k in fake.pulls if k[0] == REPO]) == 1
    tree = fake.git_trees[(REPO, branch_commit(fake)["tree"])]
    assert fake.blobs[(REPO, tree["Dockerfile"][1])] == FIXED_DOCKERFILE
    assert branch_commit(fake)["parents"] == [fake.branches[(REPO, "main")]]
    assert "DOCKER002" in fake.pulls[(REPO, first["number"])]["body"]
    # fixed upstream: the PR is closed and tether's branch deleted
    world.publish("app", {WF: FIXED_WORKFLOW, "Dockerfile": FIXED_DOCKERFILE})
    third = fix_of(org(world, tmp_path, open_prs=True))
    assert third["status"] == "closed" and third["number"] == first["number"], third
    assert fake.pulls[(REPO, first["number"])]["state"] == "closed"
    assert (REPO, "tether/golden-path") not in fake.branches
    # and stays closed
    mark = len(fake.requests)
    assert fix_of(org(world, tmp_path, open_prs=True))["status"] == "nothing-to-fix"
    assert writes(fake, mark) == []


def test_without_open_prs_nothing_is_written(world: World, tmp_path: Path) -> None:
    fake = world.fake
    result = org(world, tmp_path)
    fix = fix_of(result)
    assert fix["status"] == "would-open" and fix["files"] == [WF]
    assert writes(fake) == []
    assert any("would open a pull request" in line for line in result.fixes)
    # --dry-run wins over --open-prs, through the CLI, and writes no state either
    res = CliRunner().invoke(
        main,
        [
            "org", "acme", "--out", str(tmp_path / "o2"), "--state", str(tmp_path / "s2"),
            "--github-url", fake.url, "--fix", "--open-prs", "--dry-run", "--unsafe-fixes",
        ],
        env={"GITHUB_TOKEN": fake.token},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "acme/app: fix: would open a pull request: 1 findings in .github/workflows/ci.yml" in (
        res.output
    )
    assert writes(fake) == []
    assert not (tmp_path / "s2").exists() and not (tmp_path / "o2" / "summary.json").exists()
    assert fake.token not in res.output


def test_max_prs_defers_the_rest(world: World, tmp_path: Path) -> None:
    world.publish("svc", {"Dockerfile": DOCKERFILE})
    result = org(world, tmp_path, open_prs=True, max_prs=1)
    assert fix_of(result, "acme/app")["status"] == "opened"
    deferred = fix_of(result, "acme/svc")
    assert deferred["status"] == "deferred" and "--max-prs" in deferred["reason"]
    assert (("acme/svc", "tether/golden-path")) not in world.fake.branches
    # the next run picks it up
    result = org(world, tmp_path, open_prs=True, max_prs=1)
    assert fix_of(result, "acme/svc")["status"] == "opened"


def test_archived_repository_is_reported_never_written(world: World, tmp_path: Path) -> None:
    from scanner.org.select import Filters

    world.publish("old", {"Dockerfile": DOCKERFILE}, archived=True)
    result = org(world, tmp_path, open_prs=True, filters=Filters(include_archived=True))
    fix = fix_of(result, "acme/old")
    assert fix["status"] == "skipped" and fix["reason"] == "archived: not fixed"
    assert not [w for w in writes(world.fake) if "/acme/old/" in w]


def test_a_refused_pr_is_reported_recorded_and_not_retried(world: World, tmp_path: Path) -> None:
    fake = world.fake
    message = "Pull request creation is restricted by a repository rule"
    fake.fail_next(rf"/repos/{REPO}/pulls", 403, {"message": message}, method="POST")
    fix = fix_of(org(world, tmp_path, open_prs=True))
    assert fix["status"] == "refused" and message in fix["reason"], fix
    with StateStore(tmp_path / "state", read_only=True) as state:
        stored = state.fix_pr(REPO)
    assert stored is not None and stored.status == "refused" and message in stored.reason
    mark = len(fake.requests)
    again = fix_of(org(world, tmp_path, open_prs=True))
    assert again["status"] == "refused" and "not retried" in again["reason"]
    assert writes(fake, mark) == []
    # asked to, it tries again: its own branch is moved, the PR opened
    retried = fix_of(org(world, tmp_path, open_prs=True, retry_refused=True))
    assert retried["status"] == "opened", retried


def test_a_branch_someone_else_pushed_to_is_not_overwritten(world: World, tmp_path: Path) -> None:
    fake = world.fake
    fix_of(org(world, tmp_path, open_prs=True))
    # a human pushes to tether's branch
    mine = fake.branches[(REPO, "tether/golden-path")]
    tree = fake.commits[(REPO, mine)]["tree"]
    human = "f" * 40
    fake.add_commit(REPO, human, fake.git_trees[(REPO, tree)], [mine])
    fake.branches[(REPO, "tether/golden-path")] = human
    world.publish("app", {"Dockerfile": DOCKERFILE})
    mark = len(fake.requests)
    fix = fix_of(org(world, tmp_path, open_prs=True))
    assert fix["status"] == "skipped" and "tether did not write" in fix["reason"], fix
    assert fake.branches[(REPO, "tether/golden-path")] == human
    assert writes(fake, mark) == []


def test_no_token_in_output(world: World, tmp_path: Path) -> None:
    fake = world.fake
    res = CliRunner().invoke(
        main,
        [
            "org", "acme", "--out", str(tmp_path / "o"), "--state", str(tmp_path / "s"),
            "--github-url", fake.url, "--fix", "--open-prs", "--unsafe-fixes",
        ],
        env={"GITHUB_TOKEN": fake.token},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "acme/app: fix: opened pull request #" in res.output
    assert fake.token not in res.output
    for r in fake.requests:
        assert fake.token not in r.path
    # --open-prs without --state is refused: tether could not tell its own branch
    res = CliRunner().invoke(
        main,
        ["org", "acme", "--out", str(tmp_path / "o3"), "--github-url", fake.url, "--fix",
         "--open-prs"],
        env={"GITHUB_TOKEN": fake.token},
    )  # fmt: skip
    assert res.exit_code == 2 and "--state" in res.output


def test_body_is_bounded_and_escapes_repository_text() -> None:
    p = fixpr.Proposal("acme/x", "a" * 40, "main")
    p.files.append(fixpr.Changed("x.yml", "100644", "b" * 40, b"x"))
    p.fixed = [
        fixpr.Fixed(
            "GHA003",
            "Title",
            "<img src=x>.yml",
            i,
            "[click](https://evil.example) <script>" + "x" * 400,
            "javascript:alert(1)",
            '"v4"',
        )
        for i in range(5000)
    ]
    body = fixpr.render(p)
    assert len(body) <= 65536
    # HTML only inside code spans (rendered as text), never a link the repository chose
    assert body.count("<img") == body.count("`<img src=x>.yml:")
    assert "<script>" not in body and "](https://evil" not in body
    assert "javascript:" not in body


def test_remedies_that_may_change_behaviour_wait_for_unsafe_fixes(
    world: World, tmp_path: Path
) -> None:
    # checkout v3 -> v4 crosses a major version: not proposed without --unsafe-fixes
    result = org(world, tmp_path, open_prs=True, unsafe_fixes=False)
    assert fix_of(result)["status"] == "nothing-to-fix"
    assert not [r for r in world.fake.requests if r.method != "GET"]


def test_a_pr_someone_took_over_is_neither_closed_nor_edited(world: World, tmp_path: Path) -> None:
    fake = world.fake
    first = fix_of(org(world, tmp_path, open_prs=True))
    # a human pushes to tether's branch and rewrites the PR's text
    mine = fake.branches[(REPO, "tether/golden-path")]
    tree = fake.commits[(REPO, mine)]["tree"]
    human = "e" * 40
    fake.add_commit(REPO, human, fake.git_trees[(REPO, tree)], [mine])
    fake.branches[(REPO, "tether/golden-path")] = human
    fake.pulls[(REPO, first["number"])]["body"] = "my own notes"
    # fixed upstream: tether would close its PR, but the branch is no longer its own
    world.publish("app", {WF: FIXED_WORKFLOW})
    mark = len(fake.requests)
    fix = fix_of(org(world, tmp_path, open_prs=True))
    assert fix["status"] == "skipped" and "tether did not write" in fix["reason"], fix
    assert writes(fake, mark) == []
    pr = fake.pulls[(REPO, first["number"])]
    assert pr["state"] == "open" and pr["body"] == "my own notes"
    assert fake.branches[(REPO, "tether/golden-path")] == human


def test_a_pr_someone_else_opened_from_tethers_branch_is_never_edited(
    world: World, tmp_path: Path
) -> None:
    fake = world.fake
    first = fix_of(org(world, tmp_path, open_prs=True))
    # someone opens a PR of tether's branch into another base (GitHub allows one per base)
    fake.branches[(REPO, "release")] = fake.branches[(REPO, "main")]
    number = fake._new_issue(REPO, "backport", "theirs", [], "someone", "open", True)
    fake.pulls[(REPO, number)] = {
        "head": "tether/golden-path",
        "base": "release",
        "title": "backport",
        "body": "theirs",
        "state": "open",
        "user": "someone",
    }
    world.publish("app", {"Dockerfile": DOCKERFILE})  # a new drift: tether updates its own
    second = fix_of(org(world, tmp_path, open_prs=True))
    assert second["status"] == "updated" and second["number"] == first["number"], second
    assert fake.pulls[(REPO, number)]["body"] == "theirs"
    assert fake.pulls[(REPO, number)]["title"] == "backport"


def test_a_repository_with_only_unsafe_remedies_is_not_fetched_again(
    world: World, tmp_path: Path
) -> None:
    # checkout v3 -> v4 waits for --unsafe-fixes: with nothing safe to fix and no pull
    # request, a stored result stands for the repository (no tarball every week)
    org(world, tmp_path, unsafe_fixes=False)
    mark = len(world.fake.requests)
    org(world, tmp_path, unsafe_fixes=False)
    assert not [r for r in world.fake.requests[mark:] if "/tarball/" in r.route]
    # asked for unsafe fixes, it needs the tree again
    mark = len(world.fake.requests)
    org(world, tmp_path, unsafe_fixes=True)
    assert [r for r in world.fake.requests[mark:] if "/tarball/" in r.route]
