"""Issue 7, items 1-7: a pull request cannot loosen its own gate.

One git repository per test: `main` holds existing debt and the repository's approved
configuration and exceptions; a `feature` branch is the pull request, written by someone who
wants to pass the gate. The operator's policy lives outside the repository (a central policy
repository checked out beside it). Every way seen for a pull request to loosen its gate must be
reported and fail it (exit 1), while existing debt alone never does.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scanner.action import run as run_action
from scanner.cli import main

from ..conftest import validate_sarif, write_tree

# dates relative to the day the tests run: the CLI judges expiry against today
TODAY = dt.date.today()
CREATED = (TODAY - dt.timedelta(days=30)).isoformat()
EXPIRES = (TODAY + dt.timedelta(days=45)).isoformat()
SHA = "8f4b7f84864484a7bf31766abe9204da3cbe65b3"
POD = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{team: t, "
    "app.kubernetes.io/name: {name}}}\nspec:\n  containers:\n    - name: c\n"
    "      image: {image}\n"
)
WORKFLOW = (
    "on: push\npermissions: {{}}\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n"
    "      - uses: {uses}\n"
)
MODULE = 'module "net" {{\n  source = "{source}"\n}}\n'
# approved at the merge base: the legacy pod's quay.io image, reviewed by the platform team
APPROVED = f"""\
- rule: K8S001
  scope: {{path: k8s/legacy.yaml, target: "Pod/legacy/*"}}
  justification: Vendor image only published on quay.io; mirror tracked in PLAT-412.
  owner: team-a
  approved_by: platform-team
  created: {CREATED}
  expires: {EXPIRES}
"""
BASE_FILES = {
    "k8s/legacy.yaml": POD.format(name="legacy", image="quay.io/vendor/agent:3.2"),
    "k8s/app.yaml": POD.format(name="app", image="ghcr.io/acme/app:1"),
    ".github/workflows/ci.yml": WORKFLOW.format(uses=f"some/action@{SHA}"),
    "Dockerfile": "FROM docker.io/someone/base:1\n",
    "infra/main.tf": MODULE.format(source="git::https://github.com/someone/net.git?ref=v1.0.0"),
    ".tether/exceptions.yaml": APPROVED,
    ".gitignore": "dist/\n",
}
# the central policy: the platform team's, outside the repository under review
POLICY = """\
baseline: [default, org.yml]
exceptions: [central-exceptions.yml]
approvals:
  approvers: [platform-team, "@acme/platform"]
  ticket: "^PLAT-[0-9]+$"
"""
ORG = """\
rules:
  K8S001: {local_exceptions: false}
exception_policy: {max_days: 90}
"""
NEW_VIOLATION = POD.format(name="miner", image="evil.example/miner:1")
LAX_BASELINE = "kubernetes:\n  registries: ['**']\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    d = tmp_path / "platform-policy"
    write_tree(
        d,
        {
            "tether-policy.yml": POLICY,
            "org.yml": "exception_policy: {max_days: 90}\n",
            "central-exceptions.yml": "[]\n",
        },
    )
    return d / "tether-policy.yml"


@pytest.fixture
def repo(tmp_path: Path) -> Callable[..., Path]:
    def make(extra: Mapping[str, str] | None = None) -> Path:
        r = tmp_path / "repo"
        r.mkdir()
        git(r, "init", "-q", "-b", "main")
        git(r, "config", "user.email", "t@example.com")
        git(r, "config", "user.name", "t")
        write_tree(r, {**BASE_FILES, **(extra or {})})
        git(r, "add", "-A")
        git(r, "commit", "-qm", "base")
        git(r, "checkout", "-qb", "feature")
        return r

    return make


def change(repo: Path, files: Mapping[str, str | None], commit: bool = True) -> None:
    for rel, content in files.items():
        p = repo / rel
        if content is None:
            p.unlink()
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content)
    if commit:
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "the pull request")


def gate(repo: Path, policy: Path | None, *args: str) -> tuple[Result, dict[str, object]]:
    out = repo.parent / "out.json"
    argv = ["scan", str(repo), "--diff-base", "main", "--json", str(out), *args]
    if policy is not None:
        argv += ["--policy", str(policy)]
    res = CliRunner().invoke(main, argv)
    assert res.exit_code in (0, 1), res.output
    return res, json.loads(out.read_text())


def new_rules(data: Mapping[str, object]) -> list[str]:
    diff = data["diff"]
    findings = data["findings"]
    assert isinstance(diff, dict) and isinstance(findings, list)
    by_print = {f["fingerprint"]: f["rule_id"] for f in findings}
    # the new pod breaks several Kubernetes rules; the tests look at these
    watched = {"CFG001", "CFG002", "K8S001", "EXC006", "GHA001", "DOCKER001", "TF003"}
    return sorted({by_print[fp] for fp in diff["new"]} & watched)


def rules_of(data: Mapping[str, object], key: str = "findings") -> list[str]:
    items = data[key]
    assert isinstance(items, list)
    return [f["rule_id"] for f in items]


def test_existing_debt_alone_passes(repo: Callable[..., Path], policy: Path) -> None:
    """The baseline of every test below: a change that adds nothing passes."""
    r = repo()
    change(r, {"README.md": "docs only\n"})
    res, data = gate(r, policy)
    assert res.exit_code == 0, res.output
    assert new_rules(data) == []


@pytest.mark.parametrize(
    ("config", "rules"),
    [
        ("fail_on: never\n", ["CFG001", "CFG002", "K8S001"]),
        ('exclude: ["**"]\n', ["CFG001", "CFG002", "K8S001"]),
        ('exclude: ["*/**", "*"]\n', ["CFG001", "CFG002", "K8S001"]),
        ('exclude: ["k8s/**"]\n', ["CFG002", "K8S001"]),
        ("baseline: ./lax.yml\n", ["CFG001", "CFG002", "K8S001"]),
        ("baseline: lax\n", ["CFG001", "CFG002", "K8S001"]),
    ],
)
def test_item1_pr_config_does_not_apply_to_itself(
    repo: Callable[..., Path], policy: Path, config: str, rules: list[str]
) -> None:
    """Item 1: `.tether.yaml` from the head (fail_on: never, exclude: **, a lax baseline) made
    the gate pass. Now the merge base's configuration applies, the edit is reported (CFG002,
    and CFG001 where the policy refuses the key outright) and the new violation stays."""
    r = repo()
    change(
        r,
        {
            ".tether.yaml": config,
            "lax.yml": LAX_BASELINE,
            "k8s/miner.yaml": NEW_VIOLATION,
        },
    )
    res, data = gate(r, policy)
    assert res.exit_code == 1, res.output
    assert new_rules(data) == rules


def test_item1_repository_baseline_cannot_bring_its_own_central_exceptions(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Item 1: a repository baseline listing its own "central" exceptions file."""
    r = repo()
    change(
        r,
        {
            ".tether.yaml": "baseline: team.yml\n",
            "team.yml": "extends: [default]\nexceptions: [mine.yml]\n",
            "mine.yml": "- rule: K8S001\n  justification: we decided this ourselves, fine.\n"
            f"  owner: me\n  approved_by: me\n  expires: {EXPIRES}\n",
            "k8s/miner.yaml": NEW_VIOLATION,
        },
    )
    res, data = gate(r, policy)
    assert res.exit_code == 1
    assert "K8S001" in new_rules(data)
    excepted = data["excepted"]
    assert isinstance(excepted, list)
    assert [e["path"] for e in excepted] == ["k8s/legacy.yaml"]  # only the approved one


def test_item1_fail_on_in_base_config_may_only_tighten(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Item 1: even merged, a looser fail level is refused (CFG001) and a stricter one is
    honoured."""
    r = repo({".tether.yaml": "fail_on: never\n"})
    change(r, {"k8s/miner.yaml": NEW_VIOLATION})
    res, data = gate(r, policy)
    assert res.exit_code == 1
    assert new_rules(data) == ["K8S001"]  # CFG001 is existing debt: unchanged
    assert "CFG001" in rules_of(data)


def test_item1_no_config_turns_off_repository_exceptions(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Item 1: --no-config left repository exceptions and inline ignores in force."""
    r = repo()
    out = r.parent / "full.json"
    res = CliRunner().invoke(
        main, ["scan", str(r), "--policy", str(policy), "--no-config", "--json", str(out)]
    )
    data = json.loads(out.read_text())
    assert res.exit_code == 1
    assert data["excepted"] == []
    assert ("k8s/legacy.yaml", "K8S001") in {(f["path"], f["rule_id"]) for f in data["findings"]}


def test_item1_action_repo_config_input_and_pinned_inputs(
    repo: Callable[..., Path], policy: Path, tmp_path: Path
) -> None:
    """Item 1: in the Action, pinning fail-on/baseline left `exclude` and repository
    exceptions to the pull request, and no input ignored repository configuration."""
    r = repo()
    change(r, {".tether.yaml": 'exclude: ["k8s/**"]\n', "k8s/miner.yaml": NEW_VIOLATION})
    env = _action_env(r, tmp_path, policy, TETHER_FAIL_ON="error")
    assert run_action(env, ()) == 1
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "K8S001" in summary and "CFG002" in summary
    # repo-config: false ignores the repository's exceptions outright (full scan on push)
    env = _action_env(r, tmp_path, policy, GITHUB_EVENT_NAME="push", TETHER_REPO_CONFIG="false")
    assert run_action(env, ()) == 1
    sarif = json.loads(Path(env["TETHER_SARIF_FILE"]).read_text())
    hits = {
        (res["ruleId"], res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for res in sarif["runs"][0]["results"]
    }
    assert ("K8S001", "k8s/legacy.yaml") in hits
    validate_sarif(Path(env["TETHER_SARIF_FILE"]))


def test_item2_adding_an_exception_is_requested_not_fixed(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Item 2: a pull request whose only change adds an exception was summarized "Fixed by
    this change: thank you!"."""
    r = repo()
    record = (
        "- rule: DOCKER001\n  justification: Vendor runtime image, mirrored in PLAT-9 soon.\n"
        f"  owner: team-a\n  approved_by: platform-team\n  created: {CREATED}\n"
        f"  expires: {EXPIRES}\n"
    )
    change(r, {".tether/exceptions.yaml": APPROVED + record})
    md = r.parent / "summary.md"
    res, data = gate(r, policy, "--markdown", str(md))
    assert res.exit_code == 1
    assert new_rules(data) == ["EXC006"]
    diff = data["diff"]
    assert isinstance(diff, dict) and diff["fixed"] == []
    text = md.read_text()
    assert "Fixed by this change" not in text
    assert "Requested exceptions" in text
    # the finding it asked to except is still a finding (existing debt, not excepted)
    assert "DOCKER001" in rules_of(data)


def test_item2_self_service_exception_applies_and_is_listed(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Item 2, the policy's side: self-service rules take a requested exception at once, and
    the change is still not "fixed" (its own section)."""
    policy.write_text(POLICY + "self_service: [DOCKER001]\n")
    r = repo()
    record = (
        "- rule: DOCKER001\n  justification: Vendor runtime image, mirrored in PLAT-9 soon.\n"
        f"  owner: team-a\n  approved_by: platform-team\n  created: {CREATED}\n"
        f"  expires: {EXPIRES}\n"
    )
    change(r, {".tether/exceptions.yaml": APPROVED + record})
    md = r.parent / "summary.md"
    res, data = gate(r, policy, "--markdown", str(md))
    assert res.exit_code == 0, res.output
    diff = data["diff"]
    assert isinstance(diff, dict)
    assert diff["fixed"] == [] and len(diff["excepted_now"]) == 1
    assert rules_of(data, "excepted") == ["K8S001", "DOCKER001"] or sorted(
        rules_of(data, "excepted")
    ) == ["DOCKER001", "K8S001"]
    assert "Fixed by this change" not in md.read_text()


@pytest.mark.parametrize(
    "files",
    [
        {
            ".tether/exceptions.yaml": APPROVED
            + "- rule: kubernetes\n  scope: {path: k8s/miner.yaml}\n"
            "  justification: Miner image for the load tests of PLAT-77.\n  owner: team-a\n"
            f"  approved_by: platform-team\n  created: {CREATED}\n  expires: {EXPIRES}\n",
        },
        {"k8s/miner.yaml": "# tether:ignore kubernetes load test image for PLAT-77\n"},
    ],
    ids=["pack-record", "pack-inline"],
)
def test_item3_pack_names_expand_to_rules_with_their_limits(
    repo: Callable[..., Path], policy: Path, files: dict[str, str]
) -> None:
    """Item 3: naming a pack escaped a rule's `local_exceptions: false` and max duration.
    Here the exception is even merged (in the base), and K8S001 still stays a finding."""
    (policy.parent / "org.yml").write_text(ORG)
    body = files.get("k8s/miner.yaml", "") + NEW_VIOLATION
    r = repo({**files, "k8s/miner.yaml": body})
    out = r.parent / "full.json"
    res = CliRunner().invoke(main, ["scan", str(r), "--policy", str(policy), "--json", str(out)])
    data = json.loads(out.read_text())
    assert res.exit_code == 1
    findings = {(f["path"], f["rule_id"]) for f in data["findings"]}
    assert ("k8s/miner.yaml", "K8S001") in findings
    assert "EXC005" in rules_of(data)


def _record(**fields: str) -> str:
    base = {
        "rule": "DOCKER001",
        "justification": "Vendor runtime image, mirrored to our registry in PLAT-9.",
        "owner": "team-a",
        "approved_by": "platform-team",
        "created": CREATED,
        "expires": EXPIRES,
    }
    base.update(fields)
    lines = [f"- rule: {base.pop('rule')}"] + [f"  {k}: {v}" for k, v in base.items() if v]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("record", "rule"),
    [
        (
            _record(
                created=(TODAY + dt.timedelta(days=400)).isoformat(),
                expires=(TODAY + dt.timedelta(days=431)).isoformat(),
            ),
            "EXC003",
        ),
        (_record(approved_by="me"), "EXC007"),
        (_record(approved_by="", ticket="JIRA-1"), "EXC007"),
    ],
    ids=["future-created", "unknown-approver", "ticket-off-pattern"],
)
def test_item3_created_and_approvals_are_checked(
    repo: Callable[..., Path], policy: Path, record: str, rule: str
) -> None:
    """Item 3: a future `created:` escaped max_days; approved_by/ticket were free text."""
    r = repo({".tether/exceptions.yaml": APPROVED + record})
    out = r.parent / "full.json"
    res = CliRunner().invoke(main, ["scan", str(r), "--policy", str(policy), "--json", str(out)])
    data = json.loads(out.read_text())
    assert res.exit_code == 1
    assert rule in rules_of(data)
    assert "DOCKER001" in rules_of(data)  # nothing was excepted by it


def test_item3_a_ticket_matching_the_policy_is_accepted(
    repo: Callable[..., Path], policy: Path
) -> None:
    r = repo({".tether/exceptions.yaml": APPROVED + _record(approved_by="", ticket="PLAT-9")})
    out = r.parent / "full.json"
    CliRunner().invoke(main, ["scan", str(r), "--policy", str(policy), "--json", str(out)])
    data = json.loads(out.read_text())
    assert "DOCKER001" in rules_of(data, "excepted")
    assert "EXC007" not in rules_of(data)


@pytest.mark.parametrize(
    ("path", "old", "new", "rule"),
    [
        (".github/workflows/ci.yml", f"some/action@{SHA}", f"attacker/action@{SHA}", "GHA001"),
        ("Dockerfile", "docker.io/someone/base:1", "docker.io/attacker/base:1", "DOCKER001"),
        ("infra/main.tf", "github.com/someone/net", "github.com/attacker/net", "TF003"),
        ("k8s/legacy.yaml", "quay.io/vendor/agent", "evil.example/miner", "K8S001"),
    ],
    ids=["action", "image", "module", "excepted-target"],
)
def test_item4_replacing_existing_debt_is_new(
    repo: Callable[..., Path], policy: Path, path: str, old: str, new: str, rule: str
) -> None:
    """Item 4: findings matched by rule, path and location, not by the value judged: swapping
    existing debt for an attacker's action, image or module was "unchanged", and an exception
    scoped by target covered the replacement."""
    r = repo()
    text = (r / path).read_text()
    assert old in text
    change(r, {path: text.replace(old, new)})
    res, data = gate(r, policy)
    assert res.exit_code == 1, res.output
    assert rule in new_rules(data)


def test_item4_bumping_a_version_keeps_the_identity(
    repo: Callable[..., Path], policy: Path
) -> None:
    """The other side of item 4: a tag bump on existing debt is not new debt."""
    r = repo()
    text = (r / "k8s/legacy.yaml").read_text().replace("agent:3.2", "agent:3.3")
    change(r, {"k8s/legacy.yaml": text})
    res, data = gate(r, policy)
    assert res.exit_code == 0, res.output
    assert data["excepted"] and new_rules(data) == []


def test_item5_central_records_scoped_by_repository(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Item 5: central records with scope.repo never matched: nothing set the repository."""
    (policy.parent / "central-exceptions.yml").write_text(
        _record().replace("- rule: DOCKER001", "- rule: DOCKER001\n  scope: {repo: acme/pay*}")
    )
    r = repo()
    out = r.parent / "full.json"
    for name, excepted in (("acme/payments", True), ("acme/other", False)):
        CliRunner().invoke(
            main,
            ["scan", str(r), "--policy", str(policy), "--repo", name, "--json", str(out)],
        )
        data = json.loads(out.read_text())
        assert ("DOCKER001" in rules_of(data, "excepted")) is excepted


def _action_env(r: Path, tmp: Path, policy: Path, **extra: str) -> dict[str, str]:
    out = tmp / "action-out"
    out.mkdir(exist_ok=True)
    (out / "summary.md").write_text("")
    (out / "output").write_text("")
    env = {
        "GITHUB_WORKSPACE": str(r),
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_BASE_REF": "main",
        "GITHUB_REPOSITORY": "acme/payments",
        "GITHUB_STEP_SUMMARY": str(out / "summary.md"),
        "GITHUB_OUTPUT": str(out / "output"),
        "TETHER_SARIF_FILE": str(out / "tether.sarif"),
        "TETHER_POLICY": str(policy),
        "TETHER_DIFF_BASE": "main",
    }
    if extra.get("GITHUB_EVENT_NAME") not in (None, "pull_request"):
        env.pop("TETHER_DIFF_BASE")
    env.update(extra)
    return env


def test_item6_merge_group_is_gated_like_a_pull_request(
    repo: Callable[..., Path], policy: Path, tmp_path: Path
) -> None:
    """Item 6: on merge_group the Action did a full scan, so existing debt failed the queue."""
    r = repo()
    base_sha = git(r, "rev-parse", "main").strip()
    change(r, {"README.md": "docs only\n"})
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps({"merge_group": {"base_sha": base_sha, "base_ref": "refs/heads/main"}})
    )
    env = _action_env(
        r, tmp_path, policy, GITHUB_EVENT_NAME="merge_group", GITHUB_EVENT_PATH=str(event)
    )
    env.pop("GITHUB_BASE_REF")
    assert run_action(env, ()) == 0
    assert "new-findings=0" in Path(env["GITHUB_OUTPUT"]).read_text()
    # and a merge group that adds a violation fails
    change(r, {"k8s/miner.yaml": NEW_VIOLATION})
    assert run_action(env, ()) == 1


def test_item7_untracked_and_ignored_files_are_not_new(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Item 7: PR mode compared the working tree (gitignored build output included) with the
    committed base: rendered manifests in dist/ became "new"."""
    r = repo()
    change(r, {"README.md": "docs\n"})
    change(r, {"dist/rendered.yaml": NEW_VIOLATION}, commit=False)  # gitignored output
    res, data = gate(r, policy)
    assert res.exit_code == 0, res.output
    assert new_rules(data) == []
    # an untracked file that is not ignored is part of the change being prepared
    change(r, {"k8s/new.yaml": NEW_VIOLATION}, commit=False)
    res, data = gate(r, policy)
    assert res.exit_code == 1 and new_rules(data) == ["K8S001"]


def test_item1_a_policy_inside_the_repository_is_read_from_the_merge_base(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Item 1: a policy the repository itself holds is the pull request's to edit; PR mode
    reads it (and the files beside it) from the merge base."""
    r = repo(
        {
            "platform/tether-policy.yml": POLICY,
            "platform/org.yml": ORG,
            "platform/central-exceptions.yml": "[]\n",
        }
    )
    change(
        r,
        {
            "platform/tether-policy.yml": POLICY + "self_service: [kubernetes]\n",
            "platform/org.yml": "kubernetes:\n  registries: ['**']\n",
            "k8s/miner.yaml": NEW_VIOLATION,
        },
    )
    res, data = gate(r, r / "platform" / "tether-policy.yml")
    assert res.exit_code == 1, res.output
    assert "K8S001" in new_rules(data)


def test_a_policy_checked_out_inside_the_workspace_is_the_operators(
    repo: Callable[..., Path], policy: Path, tmp_path: Path
) -> None:
    """The documented Action setup: the platform's policy repository checked out inside the
    workspace. It is not the repository under review: used as is, and never scanned."""
    r = repo({".gitignore": "dist/\n"})
    change(r, {"README.md": "docs\n"})
    nested = r / ".platform-policy"
    nested.mkdir()
    git(nested, "init", "-q", "-b", "main")
    write_tree(
        nested,
        {
            "tether-policy.yml": POLICY + "self_service: [dockerfile]\n",
            "org.yml": "exception_policy: {max_days: 90}\n",
            "central-exceptions.yml": "[]\n",
            "k8s/fixture.yaml": NEW_VIOLATION,  # the policy repository's own test data
        },
    )
    res, data = gate(r, nested / "tether-policy.yml")
    assert res.exit_code == 0, res.output
    paths = {f["path"] for f in data["findings"]}
    assert not [p for p in paths if p.startswith(".platform-policy")]
    out = r.parent / "full.json"
    res = CliRunner().invoke(
        main, ["scan", str(r), "--policy", str(nested / "tether-policy.yml"), "--json", str(out)]
    )
    full = json.loads(out.read_text())
    assert not [f for f in full["findings"] if f["path"].startswith(".platform-policy")]
    assert ".platform-policy" in [d["path"] for d in full["diagnostics"]]


def test_policy_rules_cannot_be_excepted_by_the_repository(
    repo: Callable[..., Path], policy: Path
) -> None:
    """A merged repository record for the `policy` pack must not hide CFG002 later."""
    r = repo({".tether/exceptions.yaml": APPROVED + _record(rule="policy")})
    change(r, {".tether.yaml": 'exclude: ["k8s/**"]\n'})
    res, data = gate(r, policy)
    assert res.exit_code == 1
    assert "CFG002" in new_rules(data)


def test_inline_ignores_can_be_refused_by_the_policy(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Inline comments name no approver; a policy that wants every exception approved by name
    refuses them (EXC007) instead of letting them bypass the approver list."""
    policy.write_text(POLICY.replace("approvals:\n", "approvals:\n  inline: false\n"))
    r = repo(
        {
            "Dockerfile": "# tether:ignore DOCKER001 vendor runtime image, see PLAT-9\n"
            "FROM docker.io/someone/base:1\n"
        }
    )
    out = r.parent / "full.json"
    CliRunner().invoke(main, ["scan", str(r), "--policy", str(policy), "--json", str(out)])
    data = json.loads(out.read_text())
    assert "DOCKER001" in rules_of(data) and "EXC007" in rules_of(data)


def test_self_service_needs_no_platform_approver_and_the_summary_agrees(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Self-service rules are the team's call: any approver will do, and what the summary
    calls applied is what the scan applied."""
    policy.write_text(POLICY + "self_service: [DOCKER001]\n")
    r = repo()
    change(r, {".tether/exceptions.yaml": APPROVED + _record(approved_by="team-lead")})
    res, data = gate(r, policy)
    assert res.exit_code == 0, res.output
    requested = data["requested_exceptions"]
    assert isinstance(requested, list) and [q["applied"] for q in requested] == [True]
    assert "DOCKER001" in rules_of(data, "excepted")


def test_policy_typos_are_configuration_errors(repo: Callable[..., Path], policy: Path) -> None:
    policy.write_text(POLICY + "self_service: [K8S05]\n")
    r = repo()
    res = CliRunner().invoke(main, ["scan", str(r), "--policy", str(policy)])
    assert res.exit_code == 2 and "K8S05" in res.output


def test_the_readme_exception_example_loads(tmp_path: Path) -> None:
    """The record the README shows (scope with path, target and subject) is valid."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("# .tether/exceptions.yaml\n", 1)[1].split("```", 1)[0]
    r = write_tree(tmp_path / "r", {".tether/exceptions.yaml": block, "README.md": "x\n"})
    res = CliRunner().invoke(main, ["scan", str(r)])
    assert res.exit_code in (0, 1), res.output


def test_sarif_says_which_results_the_change_introduced(
    repo: Callable[..., Path], policy: Path
) -> None:
    r = repo()
    change(r, {"k8s/miner.yaml": NEW_VIOLATION})
    sarif_file = r.parent / "pr.sarif"
    gate(r, policy, "--sarif", str(sarif_file))
    results = json.loads(sarif_file.read_text())["runs"][0]["results"]
    states = {
        (res["ruleId"], res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]): res[
            "baselineState"
        ]
        for res in results
    }
    assert states[("K8S001", "k8s/miner.yaml")] == "new"
    assert states[("DOCKER001", "Dockerfile")] == "unchanged"
    validate_sarif(sarif_file)


def test_a_policy_in_the_repository_replaced_by_a_link_is_still_read_from_the_base(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Attack review: the change replaced the in-repository policy with a link to a lax file;
    the path as given is read from the approved revision, never through the link."""
    org = "kubernetes:\n  registries: ['ghcr.io/acme/**']\n"
    r = repo(
        {
            "platform/tether-policy.yml": "baseline: [default, org.yml]\n",
            "platform/org.yml": org,
            "lax.yml": "{}\n",
        }
    )
    pod = POD.format(name="m", image="ghcr.io/attacker/miner:1")
    change(r, {"platform/tether-policy.yml": None, "k8s/m.yaml": pod}, commit=False)
    (r / "platform/tether-policy.yml").symlink_to("../lax.yml")
    change(r, {})
    res, data = gate(r, r / "platform" / "tether-policy.yml")
    assert res.exit_code == 1, res.output
    assert "K8S001" in new_rules(data)


def test_repository_rule_directories_come_from_the_approved_revision(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Attack review: with `rules` allowed, the change disabled the repository's own rule
    (`when: "false"`); the approved rule judges it, and the edit is reported (CFG002)."""
    policy.write_text(POLICY + "repository: {allow: [exclude, rules]}\n")
    rule = (
        "id: ORG001\nname: no-evil\ntitle: No evil images here\npack: kubernetes\n"
        "category: compliance\nseverity: error\nstatus: stable\napplies_to: k8s.container\n"
        "assert: '!fact.image.contains(\"evil\")'\nmessage: evil image {{fact.image}}\n"
        "docs:\n  what: Reports evil images.\n  why: Evil images mine coins.\n"
        "  example: 'image: evil'\n  use_instead: 'image: good'\n"
    )
    r = repo({".tether.yaml": "rules: [tether-rules]\n", "tether-rules/ORG001.yml": rule})
    pod = POD.format(name="m", image="ghcr.io/acme/evilminer:1")
    change(
        r,
        {
            "tether-rules/ORG001.yml": rule.replace("applies_to:", "when: 'false'\napplies_to:"),
            "k8s/m.yaml": pod,
        },
    )
    res, data = gate(r, policy)
    assert res.exit_code == 1, res.output
    findings = data["findings"]
    assert isinstance(findings, list)
    assert "ORG001" in [f["rule_id"] for f in findings]
    assert "CFG002" in new_rules(data)


def test_configuration_comes_from_the_branch_the_change_merges_into(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Attack review: a branch forked before main removed an exclude kept the old, looser
    configuration; the approved configuration is the target branch's as it is now."""
    r = repo({".tether.yaml": 'exclude: ["sandbox/**"]\n'})
    git(r, "checkout", "-q", "main")
    change(r, {".tether.yaml": None})  # main tightens after the branch forked
    git(r, "checkout", "-q", "feature")
    change(r, {"sandbox/miner.yaml": NEW_VIOLATION})
    res, data = gate(r, policy)
    assert res.exit_code == 1, res.output
    assert "K8S001" in new_rules(data)


def test_rewriting_an_unreadable_file_is_a_new_unreadable_file(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Attack review: a manifest hidden in a file that was already unreadable at the base was
    'unchanged'; a rewritten unreadable file is the change's own (strict fails)."""
    r = repo({"k8s/broken.yaml": "apiVersion: v1\nkind: Pod\nmetadata: [\n"})
    change(r, {"k8s/broken.yaml": NEW_VIOLATION + "extra: [\n"})
    res, _ = gate(r, policy)
    # a file the change made unreadable is printed as an error: it fails, strict or not
    assert res.exit_code == 1, res.output
    res, _ = gate(r, policy, "--strict")
    assert res.exit_code == 1, res.output
    # an untouched unreadable file stays old debt
    r2 = r.parent / "r2"
    r2.mkdir()
    git(r2, "init", "-q", "-b", "main")
    git(r2, "config", "user.email", "t@example.com")
    git(r2, "config", "user.name", "t")
    write_tree(r2, {"k8s/broken.yaml": "apiVersion: v1\nkind: Pod\nmetadata: [\n"})
    git(r2, "add", "-A")
    git(r2, "commit", "-qm", "b")
    git(r2, "checkout", "-qb", "f")
    change(r2, {"README.md": "x\n"})
    res, _ = gate(r2, policy, "--strict")
    assert res.exit_code == 0, res.output


def test_a_new_submodule_is_reported_and_fails_strict(
    repo: Callable[..., Path], policy: Path, tmp_path: Path
) -> None:
    """Attack review: a submodule's content (another repository) was skipped with no note."""
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    git(other, "config", "user.email", "t@example.com")
    git(other, "config", "user.name", "t")
    write_tree(other, {"pod.yaml": NEW_VIOLATION})
    git(other, "add", "-A")
    git(other, "commit", "-qm", "evil")
    r = repo()
    sha = git(other, "rev-parse", "HEAD").strip()
    git(r, "update-index", "--add", "--cacheinfo", f"160000,{sha},k8s/vendor")
    git(r, "commit", "-qm", "add a submodule")
    res, data = gate(r, policy, "--strict")
    assert res.exit_code == 1, res.output
    diags = data["diff"]
    assert isinstance(diags, dict)
    assert [d["path"] for d in diags["new_diagnostics"]] == ["k8s/vendor"]


def test_a_policy_directory_turned_into_a_submodule_is_still_the_repositorys(
    repo: Callable[..., Path], policy: Path, tmp_path: Path
) -> None:
    """Attack round 2: the change replaced the in-repository policy's directory with a
    submodule holding a lax policy; git, not the working tree, says whose policy it is."""
    r = repo(
        {
            "platform/tether-policy.yml": "baseline: [default, org.yml]\n",
            "platform/org.yml": "kubernetes:\n  registries: ['ghcr.io/acme/**']\n",
        }
    )
    git(r, "rm", "-rq", "platform")
    sub = r / "platform"
    sub.mkdir()
    git(sub, "init", "-q", "-b", "main")
    git(sub, "config", "user.email", "t@example.com")
    git(sub, "config", "user.name", "t")
    write_tree(sub, {"tether-policy.yml": "fail_on: never\n"})
    git(sub, "add", "-A")
    git(sub, "commit", "-qm", "lax")
    sha = git(sub, "rev-parse", "HEAD").strip()
    git(r, "update-index", "--add", "--cacheinfo", f"160000,{sha},platform")
    write_tree(r, {"k8s/m.yaml": POD.format(name="m", image="ghcr.io/attacker/miner:1")})
    git(r, "add", "k8s/m.yaml")
    git(r, "commit", "-qm", "the pull request")
    res, data = gate(r, sub / "tether-policy.yml")
    assert res.exit_code == 1, res.output
    assert "K8S001" in new_rules(data)


def test_rewriting_the_target_of_a_link_to_an_unreadable_file_is_new(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Attack round 2: the diagnostic sat on the link, whose text did not change, while the
    change rewrote the oversized file it points to."""
    from scanner.source import MAX_FILE_BYTES

    pad = "# " + "x" * (MAX_FILE_BYTES + 10) + "\n"
    r = repo({"gen/bundle.txt": pad})
    (r / "k8s" / "bundle.yaml").symlink_to("../gen/bundle.txt")
    git(r, "add", "-A")
    git(r, "commit", "-qm", "link")
    git(r, "branch", "-qf", "main")
    change(r, {"gen/bundle.txt": NEW_VIOLATION + "---\n" + pad})
    res, _ = gate(r, policy, "--strict")
    assert res.exit_code == 1, res.output


def test_a_repointed_submodule_is_new_content(
    repo: Callable[..., Path], policy: Path, tmp_path: Path
) -> None:
    """Attack round 2: only added submodules were reported; one that now pins another
    commit (or another repository) passed."""
    r = repo()
    git(r, "checkout", "-q", "main")
    git(r, "update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},vendor/lib")
    git(r, "commit", "-qm", "submodule")
    git(r, "checkout", "-q", "feature")
    git(r, "merge", "-q", "main")
    res, _ = gate(r, policy, "--strict")
    assert res.exit_code == 0, res.output
    git(r, "update-index", "--cacheinfo", f"160000,{'2' * 40},vendor/lib")
    git(r, "commit", "-qm", "repoint")
    res, data = gate(r, policy, "--strict")
    assert res.exit_code == 1, res.output


def test_links_into_excluded_paths_and_git_metadata(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Attack round 2: a link to a manifest under an excluded path was skipped (kubectl
    follows it); a link into .git must never make tether read git's metadata."""
    r = repo({".tether.yaml": 'exclude: ["testdata/**"]\n', "testdata/pod.yaml": NEW_VIOLATION})
    (r / "k8s" / "miner.yaml").symlink_to("../testdata/pod.yaml")
    (r / "k8s" / "cfg.yaml").symlink_to("../.git/config")
    git(r, "add", "-A")
    git(r, "commit", "-qm", "links")
    res, data = gate(r, policy)
    assert res.exit_code == 1, res.output
    findings = data["findings"]
    assert isinstance(findings, list)
    assert ("k8s/miner.yaml", "K8S001") in {(f["path"], f["rule_id"]) for f in findings}
    assert not [f for f in findings if f["path"] == "k8s/cfg.yaml"]


def test_a_file_a_kustomization_lists_is_judged_even_where_excluded(
    repo: Callable[..., Path], policy: Path
) -> None:
    """Attack round 2: an approved exclude (test data) plus a new kustomization listing a file
    under it deployed an unjudged manifest."""
    r = repo(
        {".tether.yaml": 'exclude: ["**/testdata/**"]\n', "k8s/testdata/bad.yaml": NEW_VIOLATION}
    )
    change(r, {"k8s/kustomization.yaml": "resources: [app.yaml, testdata/bad.yaml]\n"})
    res, data = gate(r, policy)
    assert res.exit_code == 1, res.output
    assert "K8S001" in new_rules(data)
