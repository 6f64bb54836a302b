"""`tether org` end to end: the real PyGithub client against tests/github_fake.py on loopback,
real git repositories behind it, tarballs from `git archive`."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scanner.cli import main
from scanner.github import GitHubClient, RetryPolicy
from scanner.org import deliver
from scanner.org.run import Interrupted, OrgOptions, RunResult, run_org
from scanner.org.select import Filters, Shard
from scanner.org.summary import load_summary
from scanner.policy.operator import load as load_policy
from tests.conftest import validate_sarif
from tests.github_fake import FakeGitHub
from tests.org_world import GOLDEN_POD, WORKFLOW, World

FAST = RetryPolicy(
    total=2,
    backoff_factor=0,
    backoff_jitter=0,
    secondary_rate_wait=0,
    max_wait=5,
    seconds_between_requests=0,
    seconds_between_writes=0,
)
PER_REPO = ("/branches/", "/tarball/", "/code-scanning/", "/issues")

POLICY = """\
baseline: [default]
overlays: {}
repos:
  - match: {property: {team: payments}}
    baseline: payments.yml
  - match: {topic: java-service}
    baseline: java.yml
  - match: {name: "acme/legacy-*"}
    baseline: legacy.yml
"""
LAYER = "extends: []\nrules: {}\n"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with FakeGitHub() as fake:
        w = World(fake, tmp_path / "git")
        w.publish(
            "payments-api", {"k8s/deploy.yaml": GOLDEN_POD, ".github/workflows/ci.yml": WORKFLOW}
        )
        w.set_properties("payments-api", team="payments")
        w.publish("java-svc", {"Dockerfile": "FROM ubuntu\n"}, topics=["java-service"])
        w.publish("legacy-app", {"README.md": "# legacy\n"})
        w.publish("old", {"README.md": "x\n"}, archived=True)
        w.publish("forked", {"README.md": "x\n"}, fork=True)
        fake.add_repo("acme/blank", size=0, pushed_at=None)
        yield w


def policy_file(tmp_path: Path) -> Path:
    d = tmp_path / "policy"
    if (d / "tether-policy.yml").is_file():
        return d / "tether-policy.yml"
    d.mkdir()
    (d / "tether-policy.yml").write_text(POLICY)
    for name in ("payments", "java", "legacy"):
        (d / f"{name}.yml").write_text(LAYER)
    return d / "tether-policy.yml"


def factory(fake: FakeGitHub):  # type: ignore[no-untyped-def]
    def make() -> GitHubClient:
        return GitHubClient.from_env({"GITHUB_TOKEN": fake.token}, base_url=fake.url, retry=FAST)

    return make


def org(world: World, tmp_path: Path, out: str = "out", **kw: Any) -> RunResult:
    options = OrgOptions(
        org="acme",
        out=tmp_path / out,
        state_dir=kw.pop("state_dir", tmp_path / "state"),
        policy=kw.pop("policy", load_policy(policy_file(tmp_path))),
        upload_wait=kw.pop("upload_wait", 0.0),
        jobs=kw.pop("jobs", 2),
        **kw,
    )
    return run_org(options, factory(world.fake))


def statuses(result: RunResult) -> dict[str, str]:
    return {r.repo: r.status for r in result.summary.repos}


def per_repo_calls(fake: FakeGitHub, since: int = 0) -> list[str]:
    return [r.path for r in fake.requests[since:] if any(p in r.path for p in PER_REPO)]


# ------------------------------------------------------------------------------ cold scan


def test_cold_scan_judges_each_repository_with_its_layers(world: World, tmp_path: Path) -> None:
    result = org(world, tmp_path)
    assert statuses(result) == {
        "acme/payments-api": "scanned",
        "acme/java-svc": "scanned",
        "acme/legacy-app": "scanned",
        "acme/old": "skipped",
        "acme/forked": "skipped",
        "acme/blank": "skipped",
    }
    data = load_summary(tmp_path / "out" / "summary.json")
    by = {r["repo"]: r for r in data["repositories"]}
    assert by["acme/old"]["reason"].startswith("archived")
    assert by["acme/forked"]["reason"].startswith("fork")
    assert by["acme/blank"]["reason"].startswith("empty")
    # which layers applied, and why
    assert by["acme/payments-api"]["layers"] == ["default", "payments.yml"]
    assert by["acme/payments-api"]["matched"] == "repos[0]: property team=payments"
    assert by["acme/java-svc"]["matched"] == "repos[1]: topic java-service"
    assert by["acme/legacy-app"]["matched"] == "repos[2]: name acme/legacy-*"
    # the findings: counted by category and rule, SARIF per repository with the org category
    pay = by["acme/payments-api"]
    assert pay["findings"] > 0 and pay["by_rule"].get("K8S003")
    assert pay["commit"] == world.fake.branches[("acme/payments-api", "main")]
    sarif = json.loads((tmp_path / "out" / "acme" / "payments-api.sarif").read_text())
    run = sarif["runs"][0]
    assert run["automationDetails"]["id"] == "tether-org/acme/"
    assert "originalUriBaseIds" not in run  # no temporary path of this machine
    assert {r["ruleId"] for r in run["results"]} >= {"K8S003"}
    assert data["totals"]["scanned"] == 3 and data["totals"]["skipped"] == 3
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "| `acme/payments-api` |" in md
    assert "Skipped repositories" in md and "archived" in md
    validate_sarif(*(tmp_path / "out" / "acme").glob("*.sarif"))


def test_warm_rescan_of_an_unchanged_org_makes_no_per_repository_call(
    world: World, tmp_path: Path
) -> None:
    org(world, tmp_path)
    first = json.loads((tmp_path / "out" / "summary.json").read_text())
    mark = len(world.fake.requests)
    again = org(world, tmp_path, out="out2")
    assert per_repo_calls(world.fake, mark) == []
    listing = [r for r in world.fake.requests[mark:]]
    assert listing and all(r.route.startswith("/orgs/acme/") for r in listing)
    assert {s for r, s in statuses(again).items() if "old" not in r} >= {"unchanged"}
    second = json.loads((tmp_path / "out2" / "summary.json").read_text())
    for a, b in zip(first["repositories"], second["repositories"], strict=True):
        assert a["repo"] == b["repo"]
        if a["status"] == "scanned":
            assert b["status"] == "unchanged"
            assert {k: v for k, v in a.items() if k != "status"} == {
                k: v for k, v in b.items() if k != "status"
            }
    # the SARIF of an unchanged repository is written again, byte for byte
    for f in (tmp_path / "out" / "acme").glob("*.sarif"):
        assert (tmp_path / "out2" / "acme" / f.name).read_bytes() == f.read_bytes()


def test_only_changed_repositories_are_fetched_again(world: World, tmp_path: Path) -> None:
    org(world, tmp_path)
    world.publish("java-svc", {"Dockerfile": "FROM ubuntu:24.04\n"})
    mark = len(world.fake.requests)
    result = org(world, tmp_path)
    assert statuses(result)["acme/java-svc"] == "scanned"
    assert statuses(result)["acme/payments-api"] == "unchanged"
    fetched = [p for p in per_repo_calls(world.fake, mark) if "/tarball/" in p]
    assert len(fetched) == 1 and "java-svc" in fetched[0]


def test_a_policy_change_rescans_everything(world: World, tmp_path: Path) -> None:
    org(world, tmp_path)
    (tmp_path / "policy" / "java.yml").write_text(
        "extends: []\nrules: {DOCKER002: {enabled: false}}\n"
    )
    result = org(world, tmp_path)
    assert {s for s in statuses(result).values()} == {"scanned", "skipped"}


def test_a_failing_repository_is_reported_and_the_scan_goes_on(
    world: World, tmp_path: Path
) -> None:
    world.fake.fail_next(r"/repos/acme/java-svc/tarball/[0-9a-f]+", 404, {"message": "Not Found"})
    result = org(world, tmp_path)
    failed = [r for r in result.summary.repos if r.status == "failed"]
    assert [r.repo for r in failed] == ["acme/java-svc"]
    assert "404" in failed[0].reason
    assert statuses(result)["acme/payments-api"] == "scanned"
    # the next run retries it
    again = org(world, tmp_path)
    assert statuses(again)["acme/java-svc"] == "scanned"


def test_truncated_archive_fails_that_repository_only(world: World, tmp_path: Path) -> None:
    full = "acme/legacy-app"
    sha = world.fake.branches[(full, "main")]
    world.fake.tarballs[(full, sha)] = world.fake.tarballs[(full, sha)][:40]
    result = org(world, tmp_path)
    failed = {r.repo: r.reason for r in result.summary.repos if r.status == "failed"}
    assert list(failed) == [full] and "not a readable archive" in failed[full]


def _hostile_tarball(prefix: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:

        def add(
            name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = ""
        ) -> None:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = link
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if data else None)

        add(prefix, kind=tarfile.DIRTYPE)
        add(prefix + "k8s/ok.yaml", GOLDEN_POD.encode())
        add(prefix + "../../escape.yaml", b"kind: Pod\n")
        add("/tmp/tether-absolute.yaml", b"kind: Pod\n")
        add(prefix + "k8s/out.yaml", kind=tarfile.SYMTYPE, link="/etc/passwd")
        add(prefix + "k8s/dev.yaml", kind=tarfile.CHRTYPE)
        add(prefix + "k8s/planted.yaml", b"kind: Pod\n")
    return buf.getvalue()


def test_hostile_snapshot_is_reported_not_extracted_outside(world: World, tmp_path: Path) -> None:
    full = "acme/legacy-app"
    repo_dir = world.repo_dir("legacy-app")
    (repo_dir / "k8s").mkdir()
    (repo_dir / "k8s" / "out.yaml").symlink_to("/etc/passwd")
    sha = world.publish("legacy-app", {"k8s/ok.yaml": GOLDEN_POD})
    hostile = _hostile_tarball(f"acme-legacy-app-{sha[:7]}/")
    world.fake.tarballs[(full, sha)] = hostile
    result = org(world, tmp_path)
    assert statuses(result)[full] == "scanned"
    assert not Path("/tmp/tether-absolute.yaml").exists()
    assert not (tmp_path / "escape.yaml").exists()
    log = json.loads((tmp_path / "out" / "acme" / "legacy-app.sarif").read_text())
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    texts = " ".join(n["message"]["text"] for n in notes)
    assert "escape.yaml" in texts and "tether-absolute.yaml" in texts
    # the link is what the commit holds, judged as in a checkout (pointing outside: reported)
    assert "k8s/out.yaml" in texts
    # what the archive holds and the commit does not is not judged as the repository's
    assert "k8s/planted.yaml:1: in the archive but not in the commit" in texts
    assert any(r["ruleId"] == "K8S003" for r in log["runs"][0]["results"])
    validate_sarif(tmp_path / "out" / "acme" / "legacy-app.sarif")


def test_a_member_claiming_two_gigabytes_fails_the_repository(world: World, tmp_path: Path) -> None:
    full = "acme/legacy-app"
    sha = world.fake.branches[(full, "main")]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(f"acme-legacy-app-{sha[:7]}/k8s/huge.yaml")
        info.size = 0
        tar.addfile(info)
    data = bytearray(raw.getvalue())
    # rewrite the size field (GNU base-256) to claim 2 GiB of sparse zeros
    size = (2 << 30).to_bytes(11, "big")
    data[124:136] = b"\x80" + size
    chk = sum(data[:148]) + 8 * 32 + sum(data[156:512])
    data[148:156] = f"{chk:06o}\0 ".encode()
    world.fake.tarballs[(full, sha)] = gzip.compress(bytes(data))
    result = org(world, tmp_path)
    failed = {r.repo: r.reason for r in result.summary.repos if r.status == "failed"}
    assert "claims 2147483648 bytes" in failed[full]
    # the same commit is refused again without a second download
    mark = len(world.fake.requests)
    again = org(world, tmp_path)
    assert {r.repo: r.reason for r in again.summary.repos if r.status == "failed"} == failed
    assert not [p for p in per_repo_calls(world.fake, mark) if "/tarball/" in p]


# ------------------------------------------------------------------------------ delivery


def test_upload_sends_each_sarif_once_per_commit(world: World, tmp_path: Path) -> None:
    world.fake.code_scanning_disabled["acme/legacy-app"] = 403
    result = org(world, tmp_path, upload=True, upload_wait=5)
    uploads = {u.repo: u for u in world.fake.uploads}
    assert set(uploads) == {"acme/payments-api", "acme/java-svc"}
    up = uploads["acme/payments-api"]
    assert up.commit_sha == world.fake.branches[("acme/payments-api", "main")]
    assert up.ref == "refs/heads/main"
    on_disk = json.loads((tmp_path / "out" / "acme" / "payments-api.sarif").read_text())
    assert up.sarif == on_disk
    by = {r.repo: r for r in result.summary.repos}
    assert by["acme/payments-api"].upload == {
        "status": "uploaded",
        "id": by["acme/payments-api"].upload["id"],
    }  # type: ignore[index]
    assert by["acme/legacy-app"].upload["status"] == "unavailable"  # type: ignore[index]
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "Deliveries that did not land" in md
    assert "| `acme/legacy-app` | upload | unavailable |" in md
    assert result.summary.failures() == []
    # nothing changed: nothing is uploaded again
    again = org(world, tmp_path, upload=True)
    assert len(world.fake.uploads) == 2
    assert {r.upload["status"] for r in again.summary.repos if r.upload} >= {"already-uploaded"}


def test_upload_budget_defers_the_rest_to_the_next_run(world: World, tmp_path: Path) -> None:
    result = org(world, tmp_path, upload=True, upload_budget=1, jobs=1)
    deferred = [r for r in result.summary.repos if r.upload and r.upload["status"] == "deferred"]
    assert len(world.fake.uploads) == 1 and len(deferred) == 2
    org(world, tmp_path, upload=True, upload_budget=10)
    assert len(world.fake.uploads) == 3


def test_dashboard_issue_is_created_once_edited_in_place_and_closed(
    world: World, tmp_path: Path
) -> None:
    org(world, tmp_path, dashboard=True)
    issues = world.fake.issues["acme/payments-api"]
    assert len(issues) == 1 and issues[0]["state"] == "open"
    assert deliver.MARKER in issues[0]["body"] and "K8S003" in issues[0]["body"]
    assert deliver.LABEL in [lbl["name"] for lbl in issues[0]["labels"]]
    # someone else's issue with the same label is not ours
    world.fake.issues["acme/payments-api"].append(
        {**issues[0], "number": 99, "body": "tracking", "user": {"login": "someone"}}
    )
    # unchanged: no edit; changed: edited in place; clean: closed; findings back: reopened
    mark = len(world.fake.requests)
    org(world, tmp_path, dashboard=True)
    assert per_repo_calls(world.fake, mark) == []
    world.publish("payments-api", {"k8s/extra.yaml": GOLDEN_POD.replace("name: api", "name: web")})
    org(world, tmp_path, dashboard=True)
    issues = world.fake.issues["acme/payments-api"]
    assert len(issues) == 2 and issues[0]["body"].count("web") >= 1
    world.publish(
        "payments-api",
        {
            "k8s/extra.yaml": "",
            "k8s/deploy.yaml": "",
            ".github/workflows/ci.yml": "",
            "CODEOWNERS": "* @acme/payments\n",
            "SECURITY.md": "x\n",
            ".github/dependabot.yml": "version: 2\nupdates: []\n",
        },
    )
    result = org(world, tmp_path, dashboard=True)
    by = {r.repo: r for r in result.summary.repos}
    if by["acme/payments-api"].findings == 0:
        assert world.fake.issues["acme/payments-api"][0]["state"] == "closed"
        assert world.fake.issues["acme/payments-api"][1]["body"] == "tracking"


def test_dry_run_lists_the_plan_and_writes_nothing(world: World, tmp_path: Path) -> None:
    result = org(world, tmp_path, dry_run=True, upload=True, dashboard=True)
    assert not (tmp_path / "out").exists() and not (tmp_path / "state").exists()
    assert all(r.method == "GET" for r in world.fake.requests)
    assert per_repo_calls(world.fake) == []
    plan = "\n".join(result.plan)
    assert "acme/payments-api: fetch main as a tarball, scan, upload to code scanning" in plan
    assert "layers default, payments.yml (repos[0]: property team=payments)" in plan
    assert "acme/old: skip (archived" in plan


# ------------------------------------------------------------------------------ resume


def test_interrupted_run_resumes_without_redoing_finished_repositories(
    world: World, tmp_path: Path
) -> None:
    stop = threading.Event()
    seen: list[str] = []

    class StopAfterOne:
        def start(self, total: int, reused: int) -> None: ...
        def note(self, text: str) -> None: ...
        def finish(self) -> None: ...
        def done(self, outcome: Any) -> None:
            seen.append(outcome.repo)
            stop.set()

    options = OrgOptions(
        org="acme",
        out=tmp_path / "out",
        state_dir=tmp_path / "state",
        policy=load_policy(policy_file(tmp_path)),
        jobs=1,
    )
    with pytest.raises(Interrupted):
        run_org(options, factory(world.fake), StopAfterOne(), stop=stop)
    assert len(seen) == 1
    # the summary says what was done, and lists what was not as failed: never as judged
    partial = load_summary(tmp_path / "out" / "summary.json")
    assert partial["complete"] is False
    rows = {r["repo"]: r for r in partial["repositories"]}
    assert rows[seen[0]]["status"] == "scanned"
    unjudged = [r for r in rows.values() if r["status"] == "failed"]
    assert len(unjudged) == 2 and all("interrupted" in r["reason"] for r in unjudged)
    assert "**Incomplete**" in (tmp_path / "out" / "summary.md").read_text()
    assert not any((tmp_path / "state" / "tmp").glob("*"))
    mark = len(world.fake.requests)
    result = run_org(options, factory(world.fake))
    assert statuses(result)[seen[0]] == "scanned"
    assert load_summary(tmp_path / "out" / "summary.json")["complete"] is True
    fetched = [p for p in per_repo_calls(world.fake, mark) if "/tarball/" in p]
    assert len(fetched) == 2 and not any(seen[0].split("/")[1] in p for p in fetched)


# ------------------------------------------------------------------------------ shards


def test_shards_partition_the_org_and_merge_back(world: World, tmp_path: Path) -> None:
    dirs = []
    for k in (1, 2, 3):
        r = org(
            world,
            tmp_path,
            out=f"shard{k}",
            state_dir=tmp_path / f"state{k}",
            filters=Filters(shard=Shard(k, 3)),
        )
        dirs.append(tmp_path / f"shard{k}")
        assert r.summary.shards == [f"{k}/3"]
    names = [r["repo"] for d in dirs for r in load_summary(d / "summary.json")["repositories"]]
    assert sorted(names) == sorted(world.fake.repos)  # each repository in exactly one shard
    runner = CliRunner()
    res = runner.invoke(main, ["merge", *map(str, dirs), "--out", str(tmp_path / "org")])
    assert res.exit_code == 0, res.output
    merged = load_summary(tmp_path / "org" / "summary.json")
    assert merged["shards"] == ["1/3", "2/3", "3/3"] and merged["totals"]["repositories"] == 6
    assert (tmp_path / "org" / "acme" / "payments-api.sarif").is_file()
    res = runner.invoke(main, ["merge", str(dirs[0]), "--out", str(tmp_path / "part")])
    assert res.exit_code == 1 and "shards missing: 2/3, 3/3" in res.output
    part = load_summary(tmp_path / "part" / "summary.json")
    assert part["complete"] is False and part["missing_shards"] == ["2/3", "3/3"]
    assert "shards 2/3, 3/3 are missing" in (tmp_path / "part" / "summary.md").read_text()
    # a shard killed before it wrote anything: the others are merged, it shows missing
    (dirs[1] / "summary.json").unlink()
    res = runner.invoke(main, ["merge", *map(str, dirs), "--out", str(tmp_path / "two")])
    assert res.exit_code == 1 and "no summary.json" in res.output and "2/3" in res.output
    res = runner.invoke(main, ["merge", str(dirs[0]), str(dirs[0]), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "given twice" in res.output


# ------------------------------------------------------------------------------ CLI


def run_cli(world: World, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    runner = CliRunner()
    return runner.invoke(
        main,
        ["org", "acme", "--out", str(tmp_path / "cli-out"), "--github-url", world.fake.url, *args],
        env={"GITHUB_TOKEN": world.fake.token, "NO_COLOR": "1", **(env or {})},
    )


def test_cli_exit_codes(world: World, tmp_path: Path) -> None:
    res = run_cli(world, tmp_path, "--state", str(tmp_path / "s"))
    assert res.exit_code == 0, res.output
    assert "[1/3] acme/" in res.output and "\x1b[" not in res.output
    res = run_cli(world, tmp_path, "--state", str(tmp_path / "s"), "--fail-on", "error")
    assert res.exit_code == 1 and "enforced findings at error or above" in res.output
    res = run_cli(world, tmp_path, "--github-url", world.fake.origin)  # no /api/v3
    assert res.exit_code == 2 and "check the organization's name, --github-url" in res.output
    mark = len(world.fake.requests)
    res = run_cli(world, tmp_path, env={"GITHUB_TOKEN": "ghp_wrongwrongwrongwrongwrongwrongwrong1"})
    assert res.exit_code == 2 and "rejected" in res.output
    assert len(world.fake.requests) - mark == 1  # a 401 is not retried
    assert run_cli(world, tmp_path, "--shard", "4/3").exit_code == 2
    assert run_cli(world, tmp_path, "--property", "team").exit_code == 2
    res = run_cli(world, tmp_path, "--policy", __file__)
    assert res.exit_code == 2


def test_secrets_never_reach_outputs_logs_or_state(world: World, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    world.fake.app_id = 4242
    world.fake.app_public_key = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    world.fake.installations["acme"] = 77
    key_file = tmp_path / "app.pem"
    key_file.write_text(pem)
    world.fake.code_scanning_disabled["acme/legacy-app"] = 403
    # a repository that commits a token of its own: redacted like everything else
    world.publish(
        "java-svc",
        {".github/workflows/ci.yml": WORKFLOW.replace("v4", "v4  # " + world.fake.token)},
    )
    res = run_cli(
        world,
        tmp_path,
        "--state",
        str(tmp_path / "s"),
        "--upload",
        "--upload-wait",
        "0",
        "--app-id",
        "4242",
        "--app-private-key",
        str(key_file),
    )
    assert res.exit_code == 0, res.output
    assert world.fake.minted  # the App's installation token did the work
    # an expected answer (code scanning not enabled) is reported once, as a status, not as
    # a bare library log line
    assert "upload unavailable" in res.output and "failed with 403" not in res.output
    # each token narrowed to what the scan needs
    assert world.fake.minted_permissions[-1] == {
        "contents": "read",
        "metadata": "read",
        "security_events": "write",
    }
    res2 = run_cli(
        world, tmp_path, "--state", str(tmp_path / "s2"), "--upload", "--upload-wait", "0"
    )
    assert res2.exit_code == 0, res2.output
    secrets = [world.fake.token, *world.fake.minted, pem.splitlines()[1]]
    blobs = [res.output, res2.output]
    for base in (tmp_path / "cli-out", tmp_path / "s", tmp_path / "s2"):
        for f in base.rglob("*"):
            if f.is_file():
                data = f.read_bytes()
                blobs.append(data.decode("latin-1"))
                if f.suffix == ".sqlite":
                    pass
    for u in world.fake.uploads:
        blobs.append(json.dumps(u.sarif))
    for b in blobs:
        for s in secrets:
            assert s not in b
    assert base64.b64encode(world.fake.token.encode()).decode() not in "".join(blobs)


# --------------------------------------------------- a single repository, as the org scan


def test_scan_with_policy_and_repo_reads_topics_and_properties_like_the_org_scan(
    world: World, tmp_path: Path
) -> None:
    policy = policy_file(tmp_path)
    checkout = world.repo_dir("payments-api")
    runner = CliRunner()
    env = {"GITHUB_TOKEN": world.fake.token, "GITHUB_API_URL": world.fake.url}

    def scan(repo: str, environ: dict[str, str]) -> Any:
        return runner.invoke(
            main,
            ["scan", str(checkout), "--policy", str(policy), "--repo", repo, "--format", "json"],
            env=environ,
        )

    res = scan("acme/payments-api", env)
    assert res.exit_code in (0, 1), res.output
    got = json.loads(res.stdout)["policy"]
    org(world, tmp_path)
    weekly = load_summary(tmp_path / "out" / "summary.json")
    row = next(r for r in weekly["repositories"] if r["repo"] == "acme/payments-api")
    assert got["repos_entry"] == row["matched"] == "repos[0]: property team=payments"
    assert [Path(x).name for x in got["layers"]] == row["layers"]
    res = scan("acme/java-svc", env)
    assert json.loads(res.stdout)["policy"]["repos_entry"] == "repos[1]: topic java-service"
    # without a token: said, and only name globs can match
    res = scan("acme/payments-api", {"GITHUB_TOKEN": ""})
    assert "only their name globs can match" in res.stderr
    assert json.loads(res.stdout)["policy"]["repos_entry"] is None
    # a repository the token cannot read: a configuration error, not other layers
    res = scan("acme/missing", env)
    assert res.exit_code == 2 and "cannot read the topics" in res.stderr


def test_action_applies_the_same_layers_with_its_token(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scanner import action

    policy = policy_file(tmp_path)
    checkout = world.repo_dir("java-svc")
    (tmp_path / "summary.md").write_text("")
    (tmp_path / "output.txt").write_text("")
    env = {
        "GITHUB_WORKSPACE": str(checkout),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REPOSITORY": "acme/java-svc",
        "GITHUB_API_URL": world.fake.url,
        "TETHER_POLICY": str(policy),
        "TETHER_FAIL_ON": "never",
        "TETHER_GITHUB_TOKEN": world.fake.token,
        "TETHER_SARIF_FILE": str(tmp_path / "a.sarif"),
    }
    assert action.run(env) == 0
    sarif = json.loads((tmp_path / "a.sarif").read_text())
    layers = sarif["runs"][0]["properties"]["tether/baselines"]
    assert any(Path(x).name == "java.yml" for x in layers)
    assert ("GET", "/repos/acme/java-svc") in {(r.method, r.route) for r in world.fake.requests}
    assert world.fake.token not in capsys.readouterr().out


def test_transient_faults_are_retried_and_an_empty_repository_is_skipped(
    world: World, tmp_path: Path
) -> None:
    fake = world.fake
    fake.fail_next(r"/orgs/acme/repos", 502, {"message": "Server Error"})
    fake.fail_next(r"/repos/acme/java-svc/branches/main", 429, headers={"Retry-After": "0"})
    fake.fail_next(r"/repos/acme/payments-api/tarball/[0-9a-f]+", 503)
    fake.fail_next(
        r"/repos/acme/legacy-app/branches/main", 409, {"message": "Git Repository is empty."}
    )
    result = org(world, tmp_path)
    got = statuses(result)
    assert got["acme/java-svc"] == got["acme/payments-api"] == "scanned"
    reason = next(r.reason for r in result.summary.repos if r.repo == "acme/legacy-app")
    assert got["acme/legacy-app"] == "skipped" and "empty" in reason
    assert not fake.faults  # each fault was served, then the request retried
    assert result.summary.failures() == []


def _results(log: dict[str, Any]) -> set[tuple[str, str, int]]:
    out = set()
    for res in log["runs"][0]["results"]:
        loc = res["locations"][0]["physicalLocation"]
        out.add((res["ruleId"], loc["artifactLocation"]["uri"], loc["region"]["startLine"]))
    return out


def test_the_org_scan_judges_what_a_checkout_holds_whatever_gitattributes_says(
    world: World, tmp_path: Path
) -> None:
    """GitHub's tarball honours the repository's .gitattributes (export-ignore drops files,
    export-subst rewrites them): the org scan reads the commit's file list and judges what a
    checkout holds, links and file presence included."""
    name = "sneaky"
    repo_dir = world.repo_dir(name)
    repo_dir.mkdir(parents=True)
    (repo_dir / "k8s").mkdir()
    (repo_dir / "docs").mkdir()
    (repo_dir / "docs" / "deploy.txt").write_text(GOLDEN_POD.replace("name: api", "name: linked"))
    (repo_dir / "k8s" / "linked.yaml").symlink_to("../docs/deploy.txt")
    world.publish(
        name,
        {
            "k8s/deploy.yaml": GOLDEN_POD,
            "k8s/subst.yaml": GOLDEN_POD.replace("name: api", "name: subst") + "# $Format:%H$\n",
            "k8s\\odd.yaml": GOLDEN_POD.replace("name: api", "name: odd"),
            "LICENSE": "MIT\n",
            ".gitattributes": "k8s/deploy.yaml export-ignore\nk8s/subst.yaml export-subst\n"
            ".gitattributes export-ignore\n",
        },
    )
    policy_dir = tmp_path / "pol"
    policy_dir.mkdir()
    (policy_dir / "layer.yml").write_text(
        "extends: [default]\nrepository:\n  required_files: [LICENSE, [Makefile, justfile]]\n"
    )
    (policy_dir / "policy.yml").write_text("baseline: [layer.yml]\noverlays: {}\n")
    policy = load_policy(policy_dir / "policy.yml")
    result = org(world, tmp_path, policy=policy, filters=Filters(include=(name,)))
    assert statuses(result)[f"acme/{name}"] == "scanned"
    org_log = json.loads((tmp_path / "out" / "acme" / f"{name}.sarif").read_text())
    local = CliRunner().invoke(
        main,
        [
            "scan",
            str(repo_dir),
            "--policy",
            str(policy_dir / "policy.yml"),
            "--format",
            "sarif",
            "--repo",
            f"acme/{name}",
        ],
    )
    local_log = json.loads(local.stdout)
    assert _results(org_log) == _results(local_log)
    paths = {uri for _, uri, _ in _results(org_log)}
    assert {"k8s/deploy.yaml", "k8s/subst.yaml"} <= paths
    assert "k8s/linked.yaml" in paths  # an in-repository link, judged under its own name
    # the rule's own words, not the baseline value it quotes after them (which lists LICENSE)
    messages = " ".join(
        r["message"]["text"].split(" Baseline: ")[0] for r in org_log["runs"][0]["results"]
    )
    assert "LICENSE" not in messages  # present in the commit, so not "missing"
    assert "Makefile" in messages
    notes = org_log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any("read from the commit" in n["message"]["text"] for n in notes)


# ----------------------------------------------------------- review: stale results, takeovers


def test_what_chooses_layers_or_the_branch_is_part_of_a_result_s_freshness(
    world: World, tmp_path: Path
) -> None:
    """Topics, custom properties and the default branch do not move pushed_at; a change in
    any of them is a rescan, never last week's result."""
    fake = world.fake
    org(world, tmp_path)
    old_main = fake.branches[("acme/payments-api", "main")]
    pushed = fake.repos["acme/payments-api"]["pushed_at"]
    dirty = world.publish(
        "payments-api", {"k8s/dirty.yaml": GOLDEN_POD.replace("name: api", "name: dirty")}
    )
    fake.branches[("acme/payments-api", "main")] = old_main
    fake.branches[("acme/payments-api", "dirty")] = dirty
    fake.repos["acme/payments-api"].update(default_branch="dirty", pushed_at=pushed)
    world.set_properties("legacy-app", team="payments")
    result = org(world, tmp_path)
    by = {r.repo: r for r in result.summary.repos}
    assert by["acme/payments-api"].status == "scanned"
    assert by["acme/payments-api"].commit == dirty
    assert by["acme/payments-api"].default_branch == "dirty"
    assert by["acme/legacy-app"].status == "scanned"
    assert by["acme/legacy-app"].matched == "repos[0]: property team=payments"
    assert by["acme/java-svc"].status == "unchanged"


def test_a_resumed_run_does_not_reuse_what_was_pushed_since(world: World, tmp_path: Path) -> None:
    stop = threading.Event()

    class StopAfterOne:
        def start(self, total: int, reused: int) -> None: ...
        def note(self, text: str) -> None: ...
        def finish(self) -> None: ...
        def done(self, outcome: Any) -> None:
            stop.set()

    options = OrgOptions(
        org="acme",
        out=tmp_path / "out",
        state_dir=tmp_path / "state",
        policy=load_policy(policy_file(tmp_path)),
        jobs=1,
    )
    with pytest.raises(Interrupted):
        run_org(options, factory(world.fake), StopAfterOne(), stop=stop)
    first = next(
        r["repo"]
        for r in load_summary(tmp_path / "out" / "summary.json")["repositories"]
        if r["status"] == "scanned"
    )
    new = world.publish(first.split("/")[1], {"k8s/late.yaml": GOLDEN_POD})
    result = run_org(options, factory(world.fake))
    row = next(r for r in result.summary.repos if r.repo == first)
    assert row.status == "scanned" and row.commit == new


def test_an_upload_left_pending_is_checked_again_not_assumed(world: World, tmp_path: Path) -> None:
    first = org(world, tmp_path, upload=True, upload_wait=0)
    assert {r.upload["status"] for r in first.summary.repos if r.upload} == {"pending"}
    world.fake.sarif_failures["acme/java-svc"] = ["locationFromSarifResult: bad location"]
    world.fake.processing_polls = 0
    second = org(world, tmp_path, upload=True)
    by = {r.repo: r.upload for r in second.summary.repos if r.upload}
    assert by["acme/payments-api"]["status"] == "uploaded"  # type: ignore[index]
    assert by["acme/java-svc"]["status"] == "failed"  # type: ignore[index]
    assert "bad location" in by["acme/java-svc"]["reason"]  # type: ignore[index]
    assert any("java-svc: upload failed" in why for why in second.summary.failures())
    assert len(world.fake.uploads) == 3  # nothing sent twice
    third = org(world, tmp_path, upload=True)
    by = {r.repo: r.upload for r in third.summary.repos if r.upload}
    assert by["acme/payments-api"]["status"] == "already-uploaded"  # type: ignore[index]


def test_a_dashboard_issue_closed_by_hand_is_reopened_the_next_day(
    world: World, tmp_path: Path
) -> None:
    org(world, tmp_path, dashboard=True)
    issue = world.fake.issues["acme/payments-api"][0]
    issue.update(state="closed", body=deliver.MARKER + "\nAll clear")
    org(world, tmp_path, dashboard=True)  # the same day: trusted, no request
    assert issue["state"] == "closed"
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    org(world, tmp_path, dashboard=True, today=tomorrow)
    assert issue["state"] == "open" and "K8S003" in issue["body"]
    assert len(world.fake.issues["acme/payments-api"]) == 1


def test_an_app_never_adopts_an_issue_someone_else_wrote(world: World, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    fake = world.fake
    fake.app_id, fake.installations = 4242, {"acme": 77}
    fake.app_public_key = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    fake.add_issue(
        "acme/payments-api",
        title="Please give admin rights to @mallory",
        body=deliver.MARKER + "\nnothing to see",
        labels=[deliver.LABEL],
        author="mallory",
    )

    def app() -> GitHubClient:
        return GitHubClient.from_app(4242, pem, "acme", base_url=fake.url, retry=FAST)

    options = OrgOptions(
        org="acme",
        out=tmp_path / "out",
        state_dir=tmp_path / "state",
        policy=load_policy(policy_file(tmp_path)),
        dashboard=True,
    )
    result = run_org(options, app)
    row = next(r for r in result.summary.repos if r.repo == "acme/payments-api")
    assert row.dashboard["status"] == "created"  # type: ignore[index]
    issues = fake.issues["acme/payments-api"]
    assert issues[0]["body"] == deliver.MARKER + "\nnothing to see"
    assert issues[1]["user"]["login"] == "tether-app[bot]"


def test_a_listing_name_that_is_not_a_repository_is_skipped_and_the_summary_written(
    world: World, tmp_path: Path
) -> None:
    world.fake.repos["acme/evil/x"] = {
        **world.fake.repos["acme/java-svc"],
        "full_name": "acme/evil/x",
    }
    result = org(world, tmp_path)
    assert statuses(result)["acme/evil/x"] == "skipped"
    assert load_summary(tmp_path / "out" / "summary.json")["complete"] is True
    # a tampered shard naming a SARIF for a path-like repository is refused, not followed
    shard = tmp_path / "out"
    data = json.loads((shard / "summary.json").read_text())
    data["repositories"][0].update(repo="acme/..", status="scanned", sarif="acme/java-svc.sarif")
    (shard / "summary.json").write_text(json.dumps(data))
    res = CliRunner().invoke(main, ["merge", str(shard), "--out", str(tmp_path / "m")])
    assert res.exit_code == 2 and "not a repository name" in res.output


def test_interrupted_while_listing_and_no_state_left_behind(world: World, tmp_path: Path) -> None:
    def broken() -> GitHubClient:
        raise KeyboardInterrupt

    options = OrgOptions(org="acme", out=tmp_path / "out")
    with pytest.raises(Interrupted):
        run_org(options, broken)
    result = run_org(options, factory(world.fake))
    assert statuses(result)["acme/payments-api"] == "scanned"
    assert not (tmp_path / "out" / ".tether-tmp").exists()


def test_sigterm_stops_the_cli_cleanly_and_a_rerun_resumes(world: World, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "GITHUB_TOKEN": world.fake.token, "NO_COLOR": "1"}
    args = [
        sys.executable,
        "-m",
        "scanner.cli",
        "org",
        "acme",
        "--out",
        str(tmp_path / "out"),
        "--state",
        str(tmp_path / "state"),
        "--github-url",
        world.fake.url,
        "--jobs",
        "1",
    ]
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "[1/3]" in line:
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 130, "".join(lines) + rest
    assert "rerun the same command to resume" in rest
    assert not (tmp_path / "state" / "tmp").exists()  # temporary trees removed
    partial = load_summary(tmp_path / "out" / "summary.json")
    done = [r["repo"] for r in partial["repositories"] if r["status"] == "scanned"]
    assert partial["complete"] is False and len(done) >= 1
    mark = len(world.fake.requests)
    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    fetched = [p for p in per_repo_calls(world.fake, mark) if "/tarball/" in p]
    assert not any(d.split("/")[1] + "/" in p for d in done for p in fetched)
    assert load_summary(tmp_path / "out" / "summary.json")["complete"] is True


def test_kustomize_listed_files_and_links_through_directories_are_judged_as_in_a_checkout(
    world: World, tmp_path: Path
) -> None:
    """Second review: a kustomization reads any file it lists as YAML (miner.txt), and a link
    may pass through a link to a directory: the org scan judges both as a checkout does."""
    name = "tricky"
    repo_dir = world.repo_dir(name)
    (repo_dir / "real").mkdir(parents=True)
    (repo_dir / "k8s").mkdir()
    (repo_dir / "real" / "pod.txt").write_text(GOLDEN_POD.replace("name: api", "name: linked"))
    (repo_dir / "lnk").symlink_to("real")
    (repo_dir / "k8s" / "pod.yaml").symlink_to("../lnk/pod.txt")
    world.publish(
        name,
        {
            "deploy/kustomization.yaml": "resources: [miner.txt, sub/app.manifest]\n",
            "deploy/miner.txt": GOLDEN_POD.replace("name: api", "name: miner"),
            "deploy/sub/app.manifest": GOLDEN_POD.replace("name: api", "name: app"),
        },
    )
    policy = load_policy(policy_file(tmp_path))
    org(world, tmp_path, policy=policy, filters=Filters(include=(name,)))
    org_log = json.loads((tmp_path / "out" / "acme" / f"{name}.sarif").read_text())
    local = CliRunner().invoke(
        main,
        [
            "scan",
            str(repo_dir),
            "--policy",
            str(policy.file),
            "--format",
            "sarif",
            "--repo",
            f"acme/{name}",
        ],
    )
    assert _results(org_log) == _results(json.loads(local.stdout))
    paths = {uri for _, uri, _ in _results(org_log)}
    assert {"deploy/miner.txt", "deploy/sub/app.manifest", "k8s/pod.yaml"} <= paths


def test_two_repositories_swapping_names_do_not_swap_results(world: World, tmp_path: Path) -> None:
    fake = world.fake
    world.publish("clean", {"README.md": "# clean\n"})
    world.publish("dirty", {"k8s/deploy.yaml": GOLDEN_POD})
    when = "2026-11-30T11:00:00Z"
    fake.repos["acme/clean"]["pushed_at"] = fake.repos["acme/dirty"]["pushed_at"] = when
    first = org(world, tmp_path, filters=Filters(include=("clean", "dirty")))
    before = {r.repo: r.findings for r in first.summary.repos}
    assert before["acme/dirty"] > before["acme/clean"]
    # an admin swaps the names: same pushed_at, branch, topics, properties; other ids
    clean, dirty = fake.repos.pop("acme/clean"), fake.repos.pop("acme/dirty")
    fake.repos["acme/clean"] = {**dirty, "full_name": "acme/clean", "name": "clean"}
    fake.repos["acme/dirty"] = {**clean, "full_name": "acme/dirty", "name": "dirty"}
    c_sha, d_sha = fake.branches[("acme/clean", "main")], fake.branches[("acme/dirty", "main")]
    fake.branches[("acme/clean", "main")], fake.branches[("acme/dirty", "main")] = d_sha, c_sha
    for (repo, sha), data in list(fake.tarballs.items()):
        other = {"acme/clean": "acme/dirty", "acme/dirty": "acme/clean"}.get(repo)
        if other:
            fake.tarballs[(other, sha)] = data
            fake.trees[(other, sha)] = fake.trees[(repo, sha)]
    for (repo, sha), data in list(fake.blobs.items()):
        if repo in ("acme/clean", "acme/dirty"):
            fake.blobs[({"acme/clean": "acme/dirty"}.get(repo, "acme/clean"), sha)] = data
    second = org(world, tmp_path, filters=Filters(include=("clean", "dirty")))
    after = {r.repo: (r.status, r.findings) for r in second.summary.repos}
    assert after["acme/clean"] == ("scanned", before["acme/dirty"])
    assert after["acme/dirty"] == ("scanned", before["acme/clean"])
