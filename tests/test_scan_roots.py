"""Scan roots and file arguments (issue 9, item 8): a scan of part of a repository uses the
repository root's configuration and exceptions, reports paths (SARIF URIs included) relative
to the root, and runs repository-level rules only on whole-repository scans; `tether scan
PATH...` takes files and several paths of one repository; the pre-commit hook passes file
names; the Action's `path` input writes root-relative SARIF."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from scanner import action
from scanner.cli import main
from scanner.pr import Target, TargetError, resolve, scan_pr
from scanner.scanning import ScanOptions
from scanner.source import classify

from .conftest import validate_sarif, write_tree

REPO_ROOT = Path(__file__).resolve().parent.parent

QUAY_POD = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{team: t, "
    "app.kubernetes.io/name: {name}}}\nspec:\n  containers:\n    - name: c\n"
    "      image: {image}\n"
)
BAD_PROVIDER = 'terraform {\n  required_providers {\n    x = { source = "someone/x" }\n  }\n}\n'
# a pod whose findings are warnings only (no resources, no probes)
WARN_ONLY_POD = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: w\n  labels: {team: t, "
    "app.kubernetes.io/name: w}\nspec:\n  securityContext: {runAsNonRoot: true}\n"
    "  containers:\n    - name: c\n      image: ghcr.io/x/y:1\n"
    "      securityContext: {allowPrivilegeEscalation: false}\n"
)
TODAY = dt.date.today()
UNTIL = (TODAY + dt.timedelta(days=30)).isoformat()
EXCEPTION = (
    "- rule: K8S001\n"
    '  scope: {{path: "{path}"}}\n'
    "  justification: Vendor image only published on quay.io; mirror tracked in PLAT-412.\n"
    "  owner: team-billing\n"
    "  approved_by: platform-team\n"
    f"  created: {TODAY.isoformat()}\n"
    f"  expires: {UNTIL}\n"
)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def _init(repo: Path) -> Path:
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    return repo


def _commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def pod(name: str, image: str = "quay.io/x/y:1") -> str:
    return QUAY_POD.format(name=name, image=image)


@pytest.fixture
def mono(tmp_path: Path) -> Path:
    """A git repository with its configuration at the root and code in sub/dir."""
    r = write_tree(
        tmp_path / "mono",
        {
            "README.md": "# mono\n",
            ".tether.yaml": 'exclude: ["sub/dir/legacy/**"]\n',
            "sub/dir/k8s/a.yaml": pod("a"),
            "sub/dir/k8s/b.yaml": pod("b"),
            "sub/dir/legacy/old.yaml": pod("old"),
            "sub/dir/README.md": "# service\n",
            "other/main.tf": BAD_PROVIDER,
        },
    )
    return _init(r)


def run(*args: str, cwd: Path | None = None) -> Result:
    if cwd is None:
        return CliRunner().invoke(main, list(args))
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, list(args))
    finally:
        os.chdir(old)


def _json(*args: str, cwd: Path | None = None) -> dict[str, Any]:
    r = run("scan", *args, "--format", "json", "--fail-on", "never", cwd=cwd)
    assert r.exit_code == 0, r.output
    data: dict[str, Any] = json.loads(r.stdout)
    return data


def _found(data: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["rule_id"], f["path"]) for f in data["findings"]}


# --- a subdirectory: the root's configuration, root-relative paths ---------------------------


def test_subdirectory_scan_uses_the_root_configuration(mono: Path) -> None:
    # regression: the root's .tether.yaml was ignored (no exclude applied, no fail_on)
    data = _json(str(mono / "sub/dir"))
    paths = {p for _, p in _found(data)}
    assert paths == {"sub/dir/k8s/a.yaml", "sub/dir/k8s/b.yaml"}  # legacy/ excluded
    assert data["paths"] == ["sub/dir"]
    (mono / ".tether.yaml").write_text(
        'exclude: ["sub/dir/legacy/**", "sub/dir/k8s/**"]\nfail_on: warning\n'
    )
    write_tree(mono, {"sub/dir/w/pod.yaml": WARN_ONLY_POD})
    r = run("scan", str(mono / "sub/dir"))
    levels = {line.split()[3] for line in r.output.splitlines() if "  K8S" in line}
    assert levels == {"warning"}, r.output
    assert r.exit_code == 1, r.output  # the root's fail_on: warning applies


def test_subdirectory_scan_uses_the_root_exceptions(mono: Path) -> None:
    write_tree(mono, {".tether/exceptions.yaml": EXCEPTION.format(path="sub/dir/k8s/a.yaml")})
    data = _json(str(mono / "sub/dir"))
    assert ("K8S001", "sub/dir/k8s/a.yaml") not in _found(data)
    assert ("K8S001", "sub/dir/k8s/b.yaml") in _found(data)
    assert [(e["rule_id"], e["path"]) for e in data["excepted"]] == [
        ("K8S001", "sub/dir/k8s/a.yaml")
    ]


def test_inline_ignore_matches_on_a_subdirectory_scan(mono: Path) -> None:
    comment = f"# tether:ignore K8S001 vendor image, mirrored in PLAT-9 (until {UNTIL})"
    text = pod("a").replace("      image:", f"      {comment}\n      image:")
    write_tree(mono, {"sub/dir/k8s/a.yaml": text})
    data = _json(str(mono / "sub/dir/k8s"))
    assert ("K8S001", "sub/dir/k8s/a.yaml") not in _found(data)
    assert any(e["path"] == "sub/dir/k8s/a.yaml" for e in data["excepted"])


def test_repository_rules_run_only_on_whole_repository_scans(mono: Path) -> None:
    # regression: REPO001/REPO002 judged the subdirectory as if it were the repository
    whole = {r for r, _ in _found(_json(str(mono)))}
    assert {"REPO001", "REPO002"} <= whole
    for args in ([str(mono / "sub/dir")], [str(mono / "sub/dir/k8s/a.yaml")]):
        data = _json(*args)
        assert not {r for r, _ in _found(data) if r.startswith("REPO")}, args


def test_whole_repository_scan_from_inside_it(mono: Path) -> None:
    """`tether scan` (.) at the root is the whole repository; `.` in a subdirectory is not."""
    assert _json(cwd=mono)["paths"] == []
    data = _json(cwd=mono / "sub/dir")
    assert data["paths"] == ["sub/dir"]
    assert {p for _, p in _found(data)} == {"sub/dir/k8s/a.yaml", "sub/dir/k8s/b.yaml"}
    # relative paths name files from the current directory
    data = _json("k8s/a.yaml", cwd=mono / "sub/dir")
    assert {p for _, p in _found(data)} == {"sub/dir/k8s/a.yaml"}


def test_sarif_uris_are_relative_to_the_repository_root(mono: Path, tmp_path: Path) -> None:
    # regression: URIs were relative to the scanned subdirectory (k8s/a.yaml): alerts landed
    # on the wrong file
    out = tmp_path / "sub.sarif"
    r = run("scan", str(mono / "sub/dir"), "--sarif", str(out), "--fail-on", "never")
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    run0 = data["runs"][0]
    uris = {
        res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for res in run0["results"]
    }
    assert uris == {"sub/dir/k8s/a.yaml", "sub/dir/k8s/b.yaml"}
    assert "originalUriBaseIds" not in run0  # URIs are relative to the repository root
    # the line hash is computed from the file the URI names
    assert all("primaryLocationLineHash" in res["partialFingerprints"] for res in run0["results"])
    assert run0["properties"]["tether/paths"] == ["sub/dir"]
    # the same finding has the same location and fingerprint as in a whole-repository scan
    whole = tmp_path / "whole.sarif"
    run("scan", str(mono), "--sarif", str(whole), "--fail-on", "never")
    sub_fp = {
        (res["ruleId"], json.dumps(res["locations"]), json.dumps(res["partialFingerprints"]))
        for res in run0["results"]
    }
    whole_fp = {
        (res["ruleId"], json.dumps(res["locations"]), json.dumps(res["partialFingerprints"]))
        for res in json.loads(whole.read_text())["runs"][0]["results"]
    }
    assert sub_fp <= whole_fp
    assert "tether/paths" not in json.loads(whole.read_text())["runs"][0]["properties"]
    validate_sarif(out, whole)


def test_text_and_markdown_show_root_relative_paths(mono: Path, tmp_path: Path) -> None:
    md = tmp_path / "summary.md"
    r = run("scan", str(mono / "sub/dir"), "--markdown", str(md), "--fail-on", "never")
    assert r.exit_code == 0
    assert "sub/dir/k8s/a.yaml:9:14  K8S001" in r.output
    assert not re.search(r"^k8s/", r.output, re.MULTILINE)
    assert "files scanned in sub/dir with" in r.output
    summary = md.read_text()
    assert "sub\\/dir\\/k8s\\/a\\.yaml:9" in summary  # Markdown-escaped
    assert "Scanned sub\\/dir (part of the repository" in summary


# --- file arguments and several paths ---------------------------------------------------------


def test_file_argument_scans_just_that_file_with_the_root_configuration(mono: Path) -> None:
    # regression: `tether scan FILE` was refused (exit 2)
    r = run("scan", str(mono / "sub/dir/k8s/a.yaml"), "--fail-on", "never")
    assert r.exit_code == 0, r.output
    data = _json(str(mono / "sub/dir/k8s/a.yaml"))
    assert {p for _, p in _found(data)} == {"sub/dir/k8s/a.yaml"}
    assert data["paths"] == ["sub/dir/k8s/a.yaml"]
    # the root's exclude applies to a file named on the command line too, and says so
    data = _json(str(mono / "sub/dir/legacy/old.yaml"))
    assert data["findings"] == []
    assert [(d["code"], d["path"]) for d in data["diagnostics"]] == [
        ("excluded-directory", "sub/dir/legacy")
    ]
    (mono / ".tether.yaml").write_text('exclude: ["sub/dir/legacy/old.yaml"]\n')
    data = _json(str(mono / "sub/dir/legacy/old.yaml"))
    assert data["findings"] == []
    assert [(d["code"], d["path"]) for d in data["diagnostics"]] == [
        ("excluded-file", "sub/dir/legacy/old.yaml")
    ]


def test_several_paths_files_and_directories_mixed(mono: Path) -> None:
    data = _json(str(mono / "other"), str(mono / "sub/dir/k8s/b.yaml"))
    assert {p for _, p in _found(data)} == {"other/main.tf", "sub/dir/k8s/b.yaml"}
    assert data["paths"] == ["other", "sub/dir/k8s/b.yaml"]
    # a path under another one named is covered by it; the root among them is everything
    data = _json(str(mono / "sub"), str(mono / "sub/dir/k8s/b.yaml"))
    assert data["paths"] == ["sub"]
    assert _json(str(mono), str(mono / "sub"))["paths"] == []


def test_paths_in_different_repositories_are_a_usage_error(mono: Path, tmp_path: Path) -> None:
    other = _init(write_tree(tmp_path / "other", {"main.tf": BAD_PROVIDER}))
    r = run("scan", str(mono / "sub/dir"), str(other / "main.tf"))
    assert r.exit_code == 2
    assert "different repositories" in r.output and "scan each on its own" in r.output
    # a nested repository (another checkout inside the work tree) is another repository
    nested = _init(write_tree(mono / "vendor/tool", {"main.tf": BAD_PROVIDER}))
    r = run("scan", str(mono / "sub/dir"), str(nested / "main.tf"))
    assert r.exit_code == 2 and "different repositories" in r.output
    # alone, the nested repository is scanned as its own repository
    data = _json(str(nested / "main.tf"))
    assert {p for _, p in _found(data)} == {"main.tf"}


def test_missing_path_is_a_usage_error(mono: Path) -> None:
    r = run("scan", str(mono / "sub/dir"), str(mono / "no/such.yaml"))
    assert r.exit_code == 2 and "does not exist" in r.output
    with pytest.raises(TargetError, match="no such file"):
        resolve([mono / "no/such.yaml"])


def test_outside_git_the_given_path_is_the_root(tmp_path: Path) -> None:
    plain = write_tree(
        tmp_path / "plain",
        {
            ".tether.yaml": 'exclude: ["svc/k8s/**"]\n',
            "svc/.tether.yaml": 'exclude: ["legacy/**"]\n',
            "svc/k8s/a.yaml": pod("a"),
            "svc/legacy/b.yaml": pod("b"),
        },
    )
    # no repository: svc is its own root, with its own configuration
    data = _json(str(plain / "svc"))
    assert {p for r, p in _found(data) if r.startswith("K8S")} == {"k8s/a.yaml"}
    assert data["paths"] == []
    # a file's root is its directory; several paths share the outermost directory named
    assert resolve([plain / "svc/k8s/a.yaml"]) == Target((plain / "svc/k8s").resolve(), ("a.yaml",))
    assert resolve([plain / "svc", plain / "svc/k8s/a.yaml"]) == Target((plain / "svc").resolve())
    with pytest.raises(TargetError, match="no common directory"):
        resolve([plain / "svc/k8s/a.yaml", plain / "svc/legacy"])


def test_git_root_found_without_git_reading_it(mono: Path, monkeypatch: Any) -> None:
    """When git cannot read the repository (not installed, `safe.directory`), the nearest
    directory holding `.git` is the root."""
    from scanner import gitdiff
    from scanner.errors import ConfigError

    def refuse(root: Path) -> tuple[Path, str]:
        raise ConfigError(str(root), None, "git refuses")

    monkeypatch.setattr(gitdiff, "locate", refuse)
    assert resolve([mono / "sub/dir"]) == Target(mono.resolve(), ("sub/dir",))


def test_root_option_names_a_repository_inside_another(mono: Path) -> None:
    """--root: a directory standing for a repository of its own (the bundled examples)."""
    write_tree(mono, {"sub/dir/.tether.yaml": 'exclude: ["k8s/b.yaml"]\n'})
    data = _json("--root", str(mono / "sub/dir"))
    assert data["paths"] == []
    assert {p for r, p in _found(data) if r.startswith("K8S")} == {"k8s/a.yaml", "legacy/old.yaml"}
    assert {r for r, _ in _found(data)} >= {"REPO001"}  # the whole (example) repository
    data = _json("--root", str(mono / "sub/dir"), str(mono / "sub/dir/k8s/a.yaml"))
    assert data["paths"] == ["k8s/a.yaml"]
    r = run("scan", "--root", str(mono / "sub/dir"), str(mono / "other"))
    assert r.exit_code == 2 and "is not inside --root" in r.output
    r = run("scan", "--root", str(mono / "sub/dir"), "--diff-base", "main")
    assert r.exit_code == 2 and "--root and --diff-base" in r.output


def test_stale_exceptions_are_judged_only_on_whole_repository_scans(mono: Path) -> None:
    write_tree(mono, {".tether/exceptions.yaml": EXCEPTION.format(path="other/*.yaml")})
    assert ("EXC004", ".tether/exceptions.yaml") in _found(_json(str(mono)))
    assert not [r for r, _ in _found(_json(str(mono / "sub/dir"))) if r == "EXC004"]


def test_helm_template_named_alone_is_still_in_its_chart(tmp_path: Path) -> None:
    repo = _init(
        write_tree(
            tmp_path / "charts",
            {
                "chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 1.0.0\n",
                "chart/templates/pod.yaml": (
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\n"
                    "spec:\n{{- if .Values.x }}\n  containers: []\n{{- end }}\n"
                ),
            },
        )
    )
    for path in ("chart/templates/pod.yaml", "chart/templates"):
        data = _json(str(repo / path))
        assert [(d["code"], d["level"]) for d in data["diagnostics"]] == [
            ("not-scanned-template", "note")
        ]
    # outside a chart, the same text is a broken manifest
    write_tree(repo, {"k8s/pod.yaml": (repo / "chart/templates/pod.yaml").read_text()})
    r = run("scan", str(repo / "k8s/pod.yaml"), "--format", "json", "--fail-on", "never")
    assert [d["code"] for d in json.loads(r.stdout)["diagnostics"]] == ["parse-error"]


# --- PR mode ----------------------------------------------------------------------------------


@pytest.fixture
def pr_repo(mono: Path) -> Path:
    write_tree(mono, {"other/moved.yaml": pod("moved")})
    _commit(mono, "base")
    git(mono, "checkout", "-qb", "feature")
    write_tree(
        mono,
        {
            "sub/dir/k8s/a.yaml": pod("a", "ghcr.io/x/y:1"),  # fixed
            "sub/dir/k8s/c.yaml": pod("c"),  # new
            "other/extra.tf": BAD_PROVIDER.replace("someone/x", "other/y"),  # new, elsewhere
        },
    )
    git(mono, "mv", "other/moved.yaml", "sub/dir/k8s/moved.yaml")  # renamed into sub/dir
    _commit(mono, "change")
    return mono


def _k8s_tf(findings: Any) -> set[tuple[str, str]]:
    return {(f.rule_id, f.path) for f in findings if f.rule_id in ("K8S001", "TF001")}


def test_pr_mode_on_a_subdirectory_reports_root_relative_paths(pr_repo: Path) -> None:
    report = scan_pr(pr_repo / "sub/dir", "main", ScanOptions())
    d = report.diff
    assert _k8s_tf(d.new) == {("K8S001", "sub/dir/k8s/c.yaml")}
    assert _k8s_tf(d.fixed) == {("K8S001", "sub/dir/k8s/a.yaml")}
    # renamed into the directory: compared with its old name, so not new
    assert _k8s_tf(d.unchanged) == {
        ("K8S001", "sub/dir/k8s/b.yaml"),
        ("K8S001", "sub/dir/k8s/moved.yaml"),
    }
    assert report.paths == ("sub/dir",)
    assert not [f for f in report.findings if f.path.startswith("sub/dir/legacy/")]


def test_pr_mode_uses_the_approved_root_configuration(pr_repo: Path) -> None:
    # the change widens the root's exclude over the new finding: not applied to itself
    (pr_repo / ".tether.yaml").write_text('exclude: ["sub/dir/legacy/**", "sub/dir/k8s/**"]\n')
    _commit(pr_repo, "loosen")
    report = scan_pr(pr_repo / "sub/dir", "main", ScanOptions())
    assert ("K8S001", "sub/dir/k8s/c.yaml") in _k8s_tf(report.diff.new)
    assert any(f.rule_id == "CFG002" for f in report.findings)


def test_pr_mode_with_file_arguments_compares_those_files(pr_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "pr.sarif"
    r = run(
        "scan",
        str(pr_repo / "sub/dir/k8s/c.yaml"),
        str(pr_repo / "sub/dir/k8s/moved.yaml"),
        "--diff-base",
        "main",
        "--json",
        str(tmp_path / "pr.json"),
        "--sarif",
        str(out),
    )
    assert r.exit_code == 1, r.output  # the new K8S001 error in c.yaml
    data = json.loads((tmp_path / "pr.json").read_text())
    by_fp = {f["fingerprint"]: (f["rule_id"], f["path"]) for f in data["findings"]}
    new = {by_fp[fp] for fp in data["diff"]["new"]}
    assert ("K8S001", "sub/dir/k8s/c.yaml") in new
    assert {p for _, p in by_fp.values()} == {"sub/dir/k8s/c.yaml", "sub/dir/k8s/moved.yaml"}
    # other/extra.tf is new in the change but was not asked for; the renamed file is not new
    assert ("K8S001", "sub/dir/k8s/moved.yaml") not in new
    assert data["diff"]["fixed"] == []  # a.yaml was fixed, but it was not asked for
    assert data["paths"] == ["sub/dir/k8s/c.yaml", "sub/dir/k8s/moved.yaml"]
    results = json.loads(out.read_text())["runs"][0]["results"]
    assert {
        res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for res in results
    } == {"sub/dir/k8s/c.yaml", "sub/dir/k8s/moved.yaml"}
    validate_sarif(out)


# --- the Action's path input -------------------------------------------------------------------


def test_action_path_writes_sarif_relative_to_the_repository_root(
    mono: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    summary.write_text("")
    output.write_text("")
    env = {
        "GITHUB_WORKSPACE": str(mono),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_EVENT_NAME": "push",
        "TETHER_SARIF_FILE": str(tmp_path / "out" / "tether.sarif"),
        "TETHER_PATH": "sub/dir",
        "TETHER_FAIL_ON": "never",
    }
    assert action.run(env) == 0
    out = capsys.readouterr().out
    files = set(re.findall(r"^::(?:error|warning|notice) file=([^,]+),", out, re.MULTILINE))
    # not double-prefixed (sub/dir/sub/dir/...), not relative to the subdirectory
    assert files == {"sub/dir/k8s/a.yaml", "sub/dir/k8s/b.yaml"}
    sarif_file = tmp_path / "out" / "tether.sarif"
    results = json.loads(sarif_file.read_text())["runs"][0]["results"]
    assert {
        res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for res in results
    } == {"sub/dir/k8s/a.yaml", "sub/dir/k8s/b.yaml"}
    assert action.run({**env, "TETHER_PATH": "no/such"}) == 2
    assert "invalid path input" in capsys.readouterr().out
    validate_sarif(sarif_file)


# --- the pre-commit hook -------------------------------------------------------------------------


def test_pre_commit_hook_passes_the_file_names_tether_reads() -> None:
    # regression: the hook ran with pass_filenames: false because file arguments were refused
    hooks = YAML(typ="safe").load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["entry"] == "tether scan" and hook["pass_filenames"] is True
    assert "always_run" not in hook
    files = re.compile(hook["files"])  # pre-commit: re.search on the repository path
    read = [
        "main.tf",
        "mod/x.tofu",
        "a/b.tf.json",
        "k8s/deploy.yaml",
        "k8s/deploy.yml",
        ".github/workflows/ci.yml",
        "action.yaml",
        "k8s/manifest.json",
        "Dockerfile",
        "svc/Dockerfile.dev",
        "svc/Containerfile",
        "svc/app.dockerfile",
        "base/Kustomization",
        "Jenkinsfile",
        "CODEOWNERS",
        "serverless.yml",
        "stack.template",
    ]
    for p in read:
        assert classify(p) is not None, p
        assert files.search(p), p
    for p in ["README.md", "src/app.py", "go.mod", "Makefile", "docs/dockerfiles.md"]:
        assert classify(p) is None, p
        assert not files.search(p), p


def test_pre_commit_style_invocation_from_the_root(mono: Path) -> None:
    """pre-commit runs the hook at the repository root with root-relative file names."""
    r = run("scan", "sub/dir/k8s/a.yaml", "other/main.tf", "--fail-on", "never", cwd=mono)
    assert r.exit_code == 0, r.output
    lines = [line for line in r.output.splitlines() if re.match(r"^\S+:\d+:\d+  ", line)]
    assert {line.split(":")[0] for line in lines} == {"sub/dir/k8s/a.yaml", "other/main.tf"}
