"""What kustomize builds decides what tether judges, and a pull request cannot change which
builds count by wrapping a deployed overlay (issue 10's hostile review)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from scanner.pr import scan_pr
from scanner.scan import ScanOptions, scan

from .conftest import write_tree

POD = (
    "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n"
    "    - {name: web, image: 'nginx:IMAGE_TAG'}\n"
)
BASE = {
    "base/kustomization.yaml": "resources: [pod.yaml]\n",
    "base/pod.yaml": POD.replace("IMAGE_TAG", "1.25.3"),
    "overlays/prod/kustomization.yaml": "resources: [../../base]\n",
}
# a kustomization nothing deploys, which builds the deployed overlay and pins the image
WRAPPER = {
    "zz-unused/kustomization.yaml": (
        "resources: [../overlays/prod]\nimages:\n  - {name: nginx, newTag: '1.25.3'}\n"
    ),
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def _k8s003(findings: object) -> list[tuple[str, int]]:
    return [
        (f.path, f.span.start_line)
        for f in findings  # type: ignore[attr-defined]
        if f.rule_id == "K8S003"
    ]


def test_a_wrapper_a_change_adds_does_not_unroot_the_merge_bases_overlay(tmp_path: Path) -> None:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.email", "t@example.com")
    git(r, "config", "user.name", "t")
    write_tree(r, BASE)
    git(r, "add", "-A")
    git(r, "commit", "-qm", "base")
    git(r, "checkout", "-qb", "feature")
    write_tree(r, {"base/pod.yaml": POD.replace("IMAGE_TAG", "latest"), **WRAPPER})
    git(r, "add", "-A")
    git(r, "commit", "-qm", "unpin behind a wrapper")

    # on its own, the head tree's only root is the wrapper, which pins the image
    assert _k8s003(scan(r).findings) == []
    # against the merge base, overlays/prod is still deployed and deploys :latest
    report = scan_pr(r, "main", ScanOptions())
    assert report.diff is not None
    assert _k8s003(report.diff.new) == [("base/pod.yaml", 6)]


def test_a_wrapper_in_the_merge_base_counts_as_the_root_it_is(tmp_path: Path) -> None:
    # kustomizations that were wrapped before the change keep being judged through their
    # wrapper: only the merge base's roots are added, nothing is taken away
    r = tmp_path / "repo"
    write_tree(r, {**BASE, **WRAPPER, "base/pod.yaml": POD.replace("IMAGE_TAG", "latest")})
    assert _k8s003(scan(r).findings) == []
