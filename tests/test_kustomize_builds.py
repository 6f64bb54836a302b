"""What kustomize builds decides what tether judges, and a pull request cannot change which
builds count by wrapping a deployed overlay (issue 10's hostile review)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from scanner.pr import scan_pr
from scanner.scanning import ScanOptions, scan

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


def _base_repo(tmp_path: Path) -> Path:
    """A repository whose main branch holds BASE, checked out on a new branch."""
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.email", "t@example.com")
    git(r, "config", "user.name", "t")
    write_tree(r, BASE)
    git(r, "add", "-A")
    git(r, "commit", "-qm", "base")
    git(r, "checkout", "-qb", "feature")
    return r


def _k8s003(findings: object) -> list[tuple[str, int]]:
    return [
        (f.path, f.span.start_line)
        for f in findings  # type: ignore[attr-defined]
        if f.rule_id == "K8S003"
    ]


def test_a_wrapper_a_change_adds_does_not_unroot_the_merge_bases_overlay(tmp_path: Path) -> None:
    r = _base_repo(tmp_path)
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


def _notes(report: object, code: str = "kustomize-not-judged") -> list[tuple[str, int, str]]:
    return [
        (d.path, d.span.start_line, d.message)
        for d in report.diagnostics  # type: ignore[attr-defined]
        if d.code == code
    ]


def test_what_a_patch_removes_or_makes_unsafe_is_said(tmp_path: Path) -> None:
    """An overlay's patch that strips or weakens what the rules judge on the base, where
    tether cannot apply it: a located warning (so --strict fails), not silence."""
    r = write_tree(
        tmp_path / "r",
        {
            **BASE,
            "overlays/prod/kustomization.yaml": (
                "resources: [../../base]\npatches:\n  - path: strip.yaml\n"
                "  - path: ops.yaml\n  - target: {kind: Pod}\n    patch: |-\n"
                "      - op: remove\n        path: /metadata/labels\n"
            ),
            "overlays/prod/strip.yaml": (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n"
                "    - name: web\n      securityContext: {$patch: delete}\n"
            ),
            "overlays/prod/ops.yaml": (
                "- op: copy\n  from: /metadata/annotations/img\n"
                "  path: /spec/containers/0/image\n"
                "- op: replace\n  path: /spec/containers/0/securityContext\n"
                "  value: {privileged: true}\n"
                "- op: replace\n  path: /spec/replicas\n  value: 3\n"
            ),
        },
    )
    notes = _notes(scan(r))
    assert [(p, line) for p, line, _ in notes] == [
        ("overlays/prod/kustomization.yaml", 7),
        ("overlays/prod/ops.yaml", 1),
        ("overlays/prod/ops.yaml", 6),
        ("overlays/prod/strip.yaml", 7),
    ]
    assert "removes /metadata/labels" in notes[0][2]
    assert "copies a value into /spec/containers/0/image" in notes[1][2]
    assert "privileged: true" in notes[2][2]
    assert "$patch: delete" in notes[3][2]


def test_kustomize_refusals_and_local_charts_are_said(tmp_path: Path) -> None:
    r = write_tree(
        tmp_path / "r",
        {
            "a/kustomization.yaml": "resources: [pod.yaml]\n---\nimages: []\n",
            "b/kustomization.yaml": "resources: []\n",
            "b/kustomization.yml": "resources: []\n",
            "c/kustomization.yaml": (
                "helmCharts:\n  - name: web\n    valuesInline: {image: quay.io/x/y:latest}\n"
            ),
        },
    )
    notes = _notes(scan(r))
    assert [(p, line) for p, line, _ in notes] == [
        ("a/kustomization.yaml", 3),
        ("b/kustomization.yaml", 1),
        ("b/kustomization.yml", 1),
        ("c/kustomization.yaml", 2),
    ]
    assert "first document" in notes[0][2] and "several kustomization files" in notes[1][2]
    assert "--enable-helm" in notes[3][2]


def test_deep_and_wide_kustomization_graphs_stay_cheap_and_safe(tmp_path: Path) -> None:
    """A chain deeper than Python's recursion limit builds (no crash); a diamond with more
    paths than the walk's bound takes no pin as applied, says so, and costs little."""
    import time

    chain = {"c0/kustomization.yaml": "resources: [pod.yaml]\n", "c0/pod.yaml": POD}
    for i in range(1, 1500):
        chain[f"c{i}/kustomization.yaml"] = f"resources: [../c{i - 1}]\n"
    chain["c1499/kustomization.yaml"] += "images:\n  - {name: nginx, newTag: '1.25.3'}\n"
    r = write_tree(tmp_path / "chain", {**chain, "c0/pod.yaml": POD.replace("IMAGE_TAG", "latest")})
    assert _k8s003(scan(r).findings) == []  # pinned through 1,500 levels
    width, depth = 12, 40
    files = {"base/kustomization.yaml": "resources: [pod.yaml]\n"}
    files["base/pod.yaml"] = POD.replace("IMAGE_TAG", "latest")
    for level in range(depth):
        below = (
            ["../../base"]
            if level == depth - 1
            else [f"../../l{level + 1}/{j}" for j in range(width)]
        )
        for j in range(width):
            files[f"l{level}/{j}/kustomization.yaml"] = (
                f"resources: [{', '.join(below)}]\nimages:\n  - {{name: nginx, newTag: '1.25.3'}}\n"
            )
    files["zprod/kustomization.yaml"] = "resources: [../base]\n"  # deployed, pins nothing
    r = write_tree(tmp_path / "diamond", files)
    t = time.perf_counter()
    report = scan(r)
    assert time.perf_counter() - t < 30
    assert _k8s003(report.findings) == [("base/pod.yaml", 6)]
    assert any("too many ways built" in m for _, _, m in _notes(report))


def test_a_renamed_overlay_and_a_new_one_stay_deployed_in_pr_mode(tmp_path: Path) -> None:
    r = _base_repo(tmp_path)
    git(r, "mv", "overlays/prod", "overlays/production")
    write_tree(
        r,
        {
            "base/pod.yaml": POD.replace("IMAGE_TAG", "latest"),
            # a new overlay, wrapped by a new pinning decoy as the renamed one is
            "overlays/staging/kustomization.yaml": "resources: [../../base]\n",
            "ci/pins/kustomization.yaml": (
                "resources: [../../overlays/production, ../../overlays/staging]\n"
                "images:\n  - {name: nginx, newTag: '1.25.3'}\n"
            ),
        },
    )
    git(r, "add", "-A")
    git(r, "commit", "-qm", "move, add, wrap")
    report = scan_pr(r, "main", ScanOptions())
    assert report.diff is not None
    assert _k8s003(report.diff.new) == [("base/pod.yaml", 6)]


def test_kustomization_listed_names_what_kustomize_reads(tmp_path: Path) -> None:
    """The org scan fetches what kustomizations list (any name, as YAML); the root may be
    given through a link (a snapshot under a linked temporary directory)."""
    from scanner.scanning import kustomization_listed

    real = tmp_path / "real"
    (real / "k8s").mkdir(parents=True)
    (real / "k8s" / "kustomization.yaml").write_text(
        "resources:\n  - deploy.yaml\n  - extra.txt\n"
    )
    (real / "k8s" / "extra.txt").write_text("apiVersion: v1\nkind: Service\n")
    linked = tmp_path / "linked"
    linked.symlink_to(real)
    for root in (real, linked):
        got = kustomization_listed(root, ["k8s/kustomization.yaml"])
        assert got == ["k8s/deploy.yaml", "k8s/extra.txt"]
