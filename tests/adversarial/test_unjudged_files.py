"""Issue 7, items 11 and 14: nothing unjudged silently.

Item 11: directory names such as `venv`, `node_modules`, `.svn`, `.terraform` were excluded at
any depth, silently. Item 14: over-size and non-UTF-8 files were only caught with `--strict`,
which the Action left off, and diagnostics were not diffed in PR mode, so `--strict` failed
every pull request on old debt.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from scanner.action import run as run_action
from scanner.scanning import ScanOptions, scan
from scanner.source import MAX_FILE_BYTES

from ..conftest import write_tree

POD = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {team: t, "
    "app.kubernetes.io/name: p}\nspec:\n  containers:\n    - name: c\n"
    "      image: evil.example/miner:1\n"
)
MODULE = 'module "m" {\n  source = "git::https://github.com/someone/m.git?ref=v1.0.0"\n}\n'


def test_item11_directory_names_alone_exclude_nothing(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path / "repo",
        {
            "k8s/venv/pod.yaml": POD,
            "infra/node_modules/net/main.tf": MODULE,
            "legacy/.svn/pod.yaml": POD,
            "modules/.terraform/main.tf": MODULE,  # not an initialised working directory
        },
    )
    report = scan(root, ScanOptions())
    judged = {(f.path, f.rule_id) for f in report.findings}
    assert ("k8s/venv/pod.yaml", "K8S001") in judged
    assert ("legacy/.svn/pod.yaml", "K8S001") in judged
    assert ("infra/node_modules/net/main.tf", "TF003") in judged
    assert ("modules/.terraform/main.tf", "TF003") in judged


def test_item11_marked_directories_are_skipped_and_reported_once(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path / "repo",
        {
            ".venv/pyvenv.cfg": "home = /usr/bin\n",
            ".venv/lib/python3.12/site-packages/x/pod.yaml": POD,
            ".venv/lib/python3.12/site-packages/y/pod.yaml": POD,
            "web/node_modules/.package-lock.json": "{}\n",
            "web/node_modules/x/main.tf": MODULE,
            "infra/.terraform/modules/modules.json": "{}\n",
            "infra/.terraform/modules/net/main.tf": MODULE,
            "vendor/pod.yaml": POD,
        },
    )
    report = scan(root, ScanOptions(excludes=("vendor/**",)))
    skipped_dirs = (".venv/", "web/node_modules/", "infra/.terraform/", "vendor/")
    assert not [f for f in report.findings if f.path.startswith(skipped_dirs)]
    skipped = sorted((d.path, d.message.split(";")[0]) for d in report.diagnostics)
    assert skipped == [
        (".venv", "not scanned: a Python virtual environment (pyvenv.cfg)"),
        ("infra/.terraform", "not scanned: a Terraform working directory (terraform init)"),
        ("vendor", "not scanned: excluded by configuration"),
        ("web/node_modules", "not scanned: installed npm packages (.package-lock.json)"),
    ]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_item14_new_unreadable_files_fail_the_action_old_ones_do_not(tmp_path: Path) -> None:
    repo = write_tree(
        tmp_path / "repo",
        {
            "README.md": "hello\n",
            "k8s/old-latin1.yaml": "x",
        },
    )
    (repo / "k8s/old-latin1.yaml").write_bytes(b"apiVersion: v1\nkind: Pod # caf\xe9\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "checkout", "-qb", "feature")
    out = tmp_path / "out"
    out.mkdir()

    def action() -> int:
        (out / "summary.md").write_text("")
        (out / "output").write_text("")
        env = {
            "GITHUB_WORKSPACE": str(repo),
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_BASE_REF": "main",
            "TETHER_DIFF_BASE": "main",
            "GITHUB_STEP_SUMMARY": str(out / "summary.md"),
            "GITHUB_OUTPUT": str(out / "output"),
            "TETHER_SARIF_FILE": str(out / "tether.sarif"),
        }
        return run_action(env, ())

    # old debt: the latin-1 file was unreadable before the change too
    (repo / "README.md").write_text("docs\n")
    _git(repo, "commit", "-qam", "docs")
    assert action() == 0
    # a change that hides a manifest in an over-size file or in bytes that are not UTF-8
    big = POD + "# " + "x" * (MAX_FILE_BYTES + 10) + "\n"
    (repo / "k8s/huge.yaml").write_text(big)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "huge")
    assert action() == 1
    summary = (out / "summary.md").read_text()
    assert "made unreadable" in summary
    _git(repo, "rm", "-q", "k8s/huge.yaml")
    (repo / "k8s/new.yaml").write_bytes(POD.encode() + b"# \xff\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "bytes")
    assert action() == 1
    data = json.loads((out / "tether.sarif").read_text())
    notes = data["runs"][0]["invocations"][0].get("toolExecutionNotifications", [])
    assert any("k8s/new.yaml" in n["message"]["text"] for n in notes)
