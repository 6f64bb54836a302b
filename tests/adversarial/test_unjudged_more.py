"""Hostile-PR review, second round: ways a pull request deploys an unapproved container image
(or other configuration) that `kubectl`/`kustomize` apply but tether never judged. Each test
writes a fixture, scans it through `scan()` and asserts the safe behaviour: a finding at the
right place, or a located diagnostic.

1. kustomize `images:` overrides (and ImageTagTransformer configs) set the deployed image;
2. a decoy kustomization naming a manifest as a patch silenced every fact of it;
3. kustomize resources that are remote, or local files whose name tether does not read;
4. a manifest named `action.yaml` was read as GitHub action metadata only;
5. OpenTofu `.tofu` / `.tofu.json` files were not read;
6. an in-repository symbolic link whose own name is a manifest's, to a file whose name is not;
7. Git LFS pointers were parsed as if they were the file.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from scanner.config import RepoConfig
from scanner.model import Diagnostic, Level, Report
from scanner.scanning import ScanOptions, scan
from scanner.source import SourceFile, in_repo_link, walk

from ..conftest import write_tree

TODAY = dt.date(2026, 11, 25)


def _scan(root: Path, files: dict[str, str]) -> Report:
    write_tree(root, files)
    return scan(root, ScanOptions(today=TODAY, preview=True), config=RepoConfig())


def _at(report: Report, rule: str) -> list[tuple[str, int, int]]:
    return sorted(
        (f.path, f.span.start_line, f.span.start_col)
        for f in report.findings
        if f.rule_id == rule
    )


def _diags(report: Report, code: str) -> list[Diagnostic]:
    return [d for d in report.diagnostics if d.code == code]


def _pod(image: str, name: str = "p") -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{team: t, "
        f"app.kubernetes.io/name: {name}}}\nspec:\n  containers:\n    - name: c\n"
        f"      image: {image}\n"
    )


DEPLOY = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n"
    "    spec:\n      containers:\n        - name: app\n          image: ghcr.io/acme/app:1.0.0\n"
)
EVIL = "evil.example/miner"


# -- 1. kustomize images: the override's resulting image is what runs -----------------------


def test_kustomize_image_overrides_are_judged(tmp_path: Path) -> None:
    report = _scan(
        tmp_path,
        {
            "k8s/deploy.yaml": DEPLOY,
            "k8s/kustomization.yaml": (
                "resources: [deploy.yaml]\n"
                "images:\n"
                "  - name: ghcr.io/acme/app\n"  # line 3
                f"    newName: {EVIL}\n"  # line 4: newName and newTag
                '    newTag: "1"\n'
                "  - name: ghcr.io/acme/app\n"
                f"    newName: {EVIL}\n"  # line 7: newName and digest
                "    digest: sha256:" + "ab" * 32 + "\n"
                "  - name: ghcr.io/acme/app\n"
                f"    newName: {EVIL}\n"  # line 10: newName only
                "  - name: ghcr.io/acme/app\n"  # an approved rename and a tag only: pass
                "    newName: ghcr.io/acme/app2\n"
                "  - name: ghcr.io/acme/app\n"
                "    newTag: 1.0.1\n"
            ),
        },
    )
    assert _at(report, "K8S008") == [
        ("k8s/kustomization.yaml", 4, 14),
        ("k8s/kustomization.yaml", 7, 14),
        ("k8s/kustomization.yaml", 10, 14),
    ]
    messages = [f.message for f in report.findings if f.rule_id == "K8S008"]
    assert all(EVIL in m for m in messages)


def test_image_tag_transformer_configs_are_judged(tmp_path: Path) -> None:
    """`transformers: [images.yaml]` with a builtin ImageTagTransformer does what `images:`
    does."""
    report = _scan(
        tmp_path,
        {
            "k8s/deploy.yaml": DEPLOY,
            "k8s/kustomization.yaml": "resources: [deploy.yaml]\ntransformers: [images.yaml]\n",
            "k8s/images.yaml": (
                "apiVersion: builtin\nkind: ImageTagTransformer\nmetadata:\n  name: swap\n"
                f"imageTag:\n  name: ghcr.io/acme/app\n  newName: {EVIL}\n"
            ),
        },
    )
    assert _at(report, "K8S008") == [("k8s/images.yaml", 7, 12)]


# -- 2. a decoy kustomization must not silence a manifest's images ----------------------------


def test_decoy_patch_reference_does_not_silence_images(tmp_path: Path) -> None:
    report = _scan(
        tmp_path,
        {
            "k8s/pod.yaml": _pod(f"{EVIL}:1"),
            # nothing uses this kustomization: it only names the real manifest as a patch
            "decoy/kustomization.yaml": "patches:\n  - path: ../k8s/pod.yaml\n",
        },
    )
    assert _at(report, "K8S001") == [("k8s/pod.yaml", 9, 14)]


def test_patch_images_are_judged_but_patches_are_not_complete_workloads(
    tmp_path: Path,
) -> None:
    report = _scan(
        tmp_path,
        {
            "overlay/kustomization.yaml": (
                "resources: [../base]\npatches:\n  - path: patch.yaml\n"
                "patchesStrategicMerge:\n  - more.yaml\n"
            ),
            "overlay/patch.yaml": (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n"
                "  template:\n    spec:\n      containers:\n        - name: app\n"
                f"          image: {EVIL}:latest\n"
            ),
            "overlay/more.yaml": (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n"
                "  template:\n    spec:\n      containers:\n        - name: app\n"
                "          env: [{name: A, value: b}]\n"
            ),
        },
    )
    assert _at(report, "K8S001") == [("overlay/patch.yaml", 9, 18)]
    assert _at(report, "K8S003") == [("overlay/patch.yaml", 9, 18)]  # the tag is deployed too
    for rule in ("K8S002", "K8S004", "K8S005", "K8S007"):  # a patch holds only what it changes
        assert _at(report, rule) == [], rule


def test_json6902_patches_that_set_an_image_are_judged(tmp_path: Path) -> None:
    """A JSON 6902 patch (a file of operations, or inline) sets the image as surely as
    `images:` does."""
    report = _scan(
        tmp_path,
        {
            "k8s/deploy.yaml": DEPLOY,
            "k8s/kustomization.yaml": (
                "resources: [deploy.yaml]\n"
                "patchesJson6902:\n"
                "  - target: {kind: Deployment, name: app}\n"
                "    path: ops.yaml\n"
                "  - target: {kind: Deployment, name: app}\n"
                "    path: ops.json\n"
                "patches:\n"
                "  - target: {kind: Deployment, name: app}\n"
                "    patch: |-\n"
                "      - op: replace\n"
                "        path: /spec/template/spec/containers/0/image\n"
                f"        value: {EVIL}:2\n"  # line 12
                "  - patch: |-\n"
                "      apiVersion: apps/v1\n"
                "      kind: Deployment\n"
                "      metadata: {name: app}\n"
                "      spec:\n"
                "        template:\n"
                "          spec:\n"
                "            containers:\n"
                "              - name: app\n"
                f"                image: {EVIL}:3\n"  # line 22
            ),
            "k8s/ops.yaml": (
                "- op: add\n"
                "  path: /spec/template/spec/containers/-\n"
                "  value:\n"
                "    name: miner\n"
                f"    image: {EVIL}:1\n"  # line 5
            ),
            "k8s/ops.json": (
                '[{"op": "replace", "path": "/spec/template/spec/containers/0/image",\n'
                f'  "value": "{EVIL}:4"}}]\n'  # line 2
            ),
        },
    )
    assert _at(report, "K8S008") == [
        ("k8s/kustomization.yaml", 12, 16),
        ("k8s/ops.json", 2, 12),
        ("k8s/ops.yaml", 5, 12),
    ]
    assert _at(report, "K8S001") == [("k8s/kustomization.yaml", 22, 24)]


# -- 3. kustomize resources that tether does not read ------------------------------------------


def test_remote_kustomize_resources_are_reported(tmp_path: Path) -> None:
    report = _scan(
        tmp_path,
        {
            "k8s/deploy.yaml": DEPLOY,
            "k8s/kustomization.yaml": (
                "resources:\n"
                "  - deploy.yaml\n"
                "  - https://github.com/attacker/k8s//evil?ref=v1\n"  # line 3
                "  - github.com/attacker/k8s/evil?ref=v1\n"  # line 4
                "  - git@github.com:attacker/k8s.git\n"  # line 5
                "  - ./github.com/local/dir\n"  # explicitly local: not remote
                "components:\n"
                "  - https://example.com/evil-component.yaml\n"  # line 8
            ),
        },
    )
    assert _at(report, "K8S009") == [
        ("k8s/kustomization.yaml", 3, 5),
        ("k8s/kustomization.yaml", 4, 5),
        ("k8s/kustomization.yaml", 5, 5),
        ("k8s/kustomization.yaml", 8, 5),
    ]


def test_local_resources_with_other_names_are_scanned_as_manifests(tmp_path: Path) -> None:
    report = _scan(
        tmp_path,
        {
            "k8s/kustomization.yaml": "resources:\n  - miner.txt\n  - ../other/kustomization\n",
            "k8s/miner.txt": _pod(f"{EVIL}:1"),
            # listed by two kustomizations: judged once
            "k8s/overlay/kustomization.yaml": "resources:\n  - ../miner.txt\n",
            # a resource outside the repository is never read
            "other/kustomization.yml": "resources:\n  - ../../outside.txt\n",
        },
    )
    assert _at(report, "K8S001") == [("k8s/miner.txt", 9, 14)]


# -- 4. a manifest named action.yaml -----------------------------------------------------------


@pytest.mark.parametrize("name", ["k8s/action.yaml", "deploy/action.yml", "action.yaml"])
def test_manifest_named_action_yaml_is_judged(tmp_path: Path, name: str) -> None:
    report = _scan(tmp_path, {name: _pod(f"{EVIL}:1")})
    assert _at(report, "K8S001") == [(name, 9, 14)]


def test_workflow_file_holding_a_manifest_is_judged(tmp_path: Path) -> None:
    report = _scan(tmp_path, {".github/workflows/deploy.yaml": _pod(f"{EVIL}:1")})
    assert _at(report, "K8S001") == [(".github/workflows/deploy.yaml", 9, 14)]


# -- 5. OpenTofu -------------------------------------------------------------------------------


def test_opentofu_files_are_terraform(tmp_path: Path) -> None:
    module = 'module "m" {\n  source = "git::https://github.com/someone/m.git?ref=v1.0.0"\n}\n'
    module_json = (
        '{"module": {"n": {"source": "git::https://github.com/someone/n.git?ref=v1.0.0"}}}\n'
    )
    report = _scan(tmp_path, {"infra/main.tofu": module, "infra/more.tofu.json": module_json})
    paths = {p for p, _, _ in _at(report, "TF003")}
    assert paths == {"infra/main.tofu", "infra/more.tofu.json"}


# -- 6. an in-repository link whose own name is a manifest's -----------------------------------


def _link_repo(tmp_path: Path) -> Path:
    root = write_tree(tmp_path / "repo", {"docs/notes.txt": _pod(f"{EVIL}:1")})
    (root / "k8s").mkdir()
    os.symlink("../docs/notes.txt", root / "k8s" / "miner.yaml")
    # a link to a file of the same kind stays scanned where it lives, once
    write_tree(root, {"k8s/real.yaml": _pod("ghcr.io/acme/x:1.0.0", "r")})
    os.symlink("real.yaml", root / "k8s" / "same.yaml")
    return root


def test_in_repo_link_helper(tmp_path: Path) -> None:
    root = _link_repo(tmp_path)
    real = os.path.realpath(root)
    got = in_repo_link(real, os.path.join(real, "k8s", "miner.yaml"), "k8s/miner.yaml", "yaml")
    assert got == SourceFile("k8s/miner.yaml", os.path.join(real, "docs", "notes.txt"), "yaml")
    same = os.path.join(real, "k8s", "same.yaml")
    assert in_repo_link(real, same, "k8s/same.yaml", "yaml") is None


def test_in_repo_link_to_a_file_of_another_kind_is_scanned(tmp_path: Path) -> None:
    root = _link_repo(tmp_path)
    files = [f for f in walk(root) if isinstance(f, SourceFile)]
    assert any(f.path == "k8s/miner.yaml" for f in files)
    report = scan(root, ScanOptions(today=TODAY, preview=True), config=RepoConfig())
    assert _at(report, "K8S001") == [("k8s/miner.yaml", 9, 14)]
    assert [f.path for f in files if f.path.endswith("same.yaml")] == []


# -- 7. Git LFS pointers -----------------------------------------------------------------------

LFS = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 12345\n"
)


@pytest.mark.parametrize("name", ["k8s/big.yaml", "infra/main.tf", "Dockerfile"])
def test_lfs_pointers_are_reported_not_parsed(tmp_path: Path, name: str) -> None:
    report = _scan(tmp_path, {name: LFS})
    (d,) = _diags(report, "lfs-pointer")
    assert d.path == name and d.level is Level.WARNING and d.span.start_line == 1
    assert "git lfs pull" in d.message
    assert not [x for x in report.diagnostics if x.code == "parse-error"]


def test_other_yaml_that_mentions_images_is_not_a_parse_error(tmp_path: Path) -> None:
    """Admitting JSON 6902 patches to the parse must not turn other invalid YAML (an Ansible
    template mentioning an image) into errors: a patch that does not parse deploys nothing."""
    report = _scan(
        tmp_path,
        {"ansible/tasks.yml": "{% if x %}\n- name: replace the image\n  op: add\n{% endif %}\n"},
    )
    assert [d.code for d in report.diagnostics] == []
