"""Hostile-PR review, third round: tether must read manifests and kustomizations as kubectl
(v1.32: k8s.io/apimachinery's YAMLReader, sigs.k8s.io/yaml over go-yaml v2) and kustomize
read them, or say where it cannot. Each test writes a fixture, scans it through `scan()` and
asserts a finding at the right place or a located diagnostic.

A. merge keys (`<<`) applied in document order, as go-yaml v2 decodes them;
B. documents split where YAMLReader splits them (`---#`);
C. `Kustomization` (no extension) is a kustomization;
D. kustomize constructs tether does not model are reported; remote patches are K8S009's;
E. what a patch file sets explicitly is judged;
F. files a kustomization lists are judged even when an exclude covers them;
G. only a real Git LFS pointer is skipped; nothing is read under `.git/`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scanner.config import RepoConfig
from scanner.model import Diagnostic, Level, Report
from scanner.scanning import ScanOptions, scan

from ..conftest import write_tree

TODAY = dt.date(2026, 11, 25)
EVIL = "evil.example/miner"
GOOD = "ghcr.io/acme/app"


def _scan(root: Path, files: dict[str, str], config: RepoConfig | None = None) -> Report:
    write_tree(root, files)
    return scan(root, ScanOptions(today=TODAY, preview=True), config=config or RepoConfig())


def _at(report: Report, rule: str) -> list[tuple[str, int, int]]:
    return sorted(
        (f.path, f.span.start_line, f.span.start_col)
        for f in report.findings
        if f.rule_id == rule
    )


def _diags(report: Report, code: str) -> list[Diagnostic]:
    return [d for d in report.diagnostics if d.code == code]


def _pod(image: str, name: str = "p", extra: str = "") -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{team: t, "
        f"app.kubernetes.io/name: {name}}}\nspec:\n  containers:\n    - name: c\n"
        f"      image: {image}\n{extra}"
    )


# -- A. merge keys as go-yaml v2 applies them ---------------------------------------------------


def test_merge_after_an_explicit_key_overrides_it(tmp_path: Path) -> None:
    report = _scan(
        tmp_path,
        {
            "k8s/pod.yaml": (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
                f"    - name: c\n      image: {GOOD}:1\n"
                f"      <<: {{image: \"{EVIL}:1\"}}\n"  # line 8: kubectl deploys this image
            )
        },
    )
    assert _at(report, "K8S001") == [("k8s/pod.yaml", 8, 19)]
    (d,) = _diags(report, "ambiguous-merge")
    assert d.level is Level.WARNING and (d.path, d.span.start_line) == ("k8s/pod.yaml", 8)


def test_merge_can_change_the_kind(tmp_path: Path) -> None:
    """`kind: ConfigMap` then `<<: {kind: Pod}` decodes as a Pod for kubectl."""
    report = _scan(
        tmp_path,
        {
            "k8s/cm.yaml": (
                "apiVersion: v1\nkind: ConfigMap\n<<: {kind: Pod}\nmetadata: {name: p}\n"
                f"spec:\n  containers:\n    - name: c\n      image: {EVIL}:1\n"
            )
        },
    )
    assert _at(report, "K8S001") == [("k8s/cm.yaml", 8, 14)]
    assert [d.span.start_line for d in _diags(report, "ambiguous-merge")] == [3]


def test_the_later_of_two_merge_keys_wins(tmp_path: Path) -> None:
    report = _scan(
        tmp_path,
        {
            "k8s/pod.yaml": (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
                "    - name: c\n"
                f"      <<: {{image: \"{GOOD}:1\"}}\n"
                f"      <<: {{image: \"{EVIL}:1\"}}\n"  # line 8
            )
        },
    )
    assert _at(report, "K8S001") == [("k8s/pod.yaml", 8, 19)]
    assert _diags(report, "ambiguous-merge")


def test_merge_sequence_earlier_source_wins_and_explicit_after_wins(tmp_path: Path) -> None:
    report = _scan(
        tmp_path,
        {
            "k8s/pod.yaml": (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
                f'    - name: a\n      <<: [{{image: "{EVIL}:1"}}, {{image: "{GOOD}:1"}}]\n'
                f'    - name: b\n      <<: {{image: "{EVIL}:2"}}\n      image: {GOOD}:2\n'
            )
        },
    )
    assert _at(report, "K8S001") == [("k8s/pod.yaml", 7, 20)]
    # an explicit key after the merge wins for every reader: nothing is ambiguous there
    assert [d.span.start_line for d in _diags(report, "ambiguous-merge")] == []


def test_a_quoted_merge_key_is_a_plain_key(tmp_path: Path) -> None:
    """go-yaml merges only a plain `<<` (or one tagged !!merge): `"<<"` is an ordinary key."""
    report = _scan(
        tmp_path,
        {
            "k8s/pod.yaml": (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
                f'    - name: c\n      image: {GOOD}:1\n      "<<": {{image: "{EVIL}:1"}}\n'
            )
        },
    )
    assert _at(report, "K8S001") == []


# -- B. document separators as YAMLReader splits them -------------------------------------------


@pytest.mark.parametrize("sep", ["---#", "---# trailing", "---\t#x", "--- #x"])
def test_kubectl_separators_split_documents(tmp_path: Path, sep: str) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"
    report = _scan(tmp_path, {"k8s/all.yaml": cm + sep + "\n" + _pod(f"{EVIL}:1")})
    assert _at(report, "K8S001") == [("k8s/all.yaml", 14, 14)]
    assert not _diags(report, "parse-error")


# -- C. `Kustomization` is a kustomization ------------------------------------------------------


def test_capitalised_kustomization_file_is_read(tmp_path: Path) -> None:
    report = _scan(
        tmp_path,
        {
            "k8s/Kustomization": (
                f"resources: [deploy.yaml]\nimages:\n  - name: {GOOD}\n    newName: {EVIL}\n"
            ),
            "k8s/deploy.yaml": _pod(f"{GOOD}:1"),
        },
    )
    assert _at(report, "K8S008") == [("k8s/Kustomization", 4, 14)]


# -- G. Git LFS pointers, and .git -----------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        "version https://git-lfs.github.com/spec/v1\n---\n",
        "version https://git-lfs.github.com/spec/v1\noid sha256:x\n---\n",
    ],
)
def test_a_fake_lfs_pointer_is_parsed(tmp_path: Path, head: str) -> None:
    report = _scan(tmp_path, {"k8s/pod.yaml": head + _pod(f"{EVIL}:1")})
    assert not _diags(report, "lfs-pointer")
    line = head.count("\n") + 9
    assert _at(report, "K8S001") == [("k8s/pod.yaml", line, 14)]


def test_a_real_lfs_pointer_with_extensions_is_skipped(tmp_path: Path) -> None:
    pointer = (
        "version https://git-lfs.github.com/spec/v1\n"
        f"ext-0-foo sha256:{'a' * 64}\n"
        f"oid sha256:{'4d7a2146' * 8}\n"
        "size 12345\n"
    )
    report = _scan(tmp_path, {"k8s/pod.yaml": pointer})
    assert len(_diags(report, "lfs-pointer")) == 1


def test_listed_files_under_dot_git_are_never_read(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write_tree(root, {".git/config": _pod(f"{EVIL}:1"), ".git/x/evil.txt": _pod(f"{EVIL}:2")})
    report = _scan(
        root,
        {
            "k8s/kustomization.yaml": (
                "resources: [../.git/config, ../.git/x/evil.txt, ../.GIT/config]\n"
            )
        },
    )
    assert not [f for f in report.findings if ".git" in f.path.lower()]
    assert not [d for d in report.diagnostics if d.path.lower().startswith(".git")]


# -- D. kustomize constructs tether does not model; remote patches ---------------------------------


def test_kustomize_constructs_that_are_not_modelled_are_reported(tmp_path: Path) -> None:
    report = _scan(
        tmp_path,
        {
            "k8s/kustomization.yaml": (
                "resources: [pod.yaml]\n"
                "replacements:\n"
                "  - source: {kind: ConfigMap, name: c, fieldPath: data.image}\n"  # line 3
                "    targets: [{select: {kind: Pod}, fieldPaths: [spec.containers.0.image]}]\n"
                "  - path: replacement.yaml\n"  # line 5
                "transformers:\n"
                "  - |\n"  # line 7: an inline transformer config
                "    apiVersion: builtin\n"
                "    kind: PatchTransformer\n"
                "    metadata: {name: x}\n"
                "  - images.yaml\n"
                "generators:\n"
                "  - |-\n"  # line 13
                "    apiVersion: builtin\n"
                "    kind: ConfigMapGenerator\n"
            ),
            "k8s/pod.yaml": _pod(f"{GOOD}:1"),
            "k8s/images.yaml": (
                "apiVersion: builtin\nkind: PatchStrategicMergeTransformer\n"  # line 2
                "metadata: {name: x}\npaths: [p.yaml]\n"
            ),
            "k8s/replacement.yaml": (
                "apiVersion: builtin\nkind: ReplacementTransformer\nmetadata: {name: r}\n"
            ),
        },
    )
    got = sorted((d.path, d.span.start_line) for d in _diags(report, "kustomize-not-judged"))
    assert got == [
        ("k8s/images.yaml", 2),
        ("k8s/kustomization.yaml", 3),
        ("k8s/kustomization.yaml", 5),
        ("k8s/kustomization.yaml", 7),
        ("k8s/kustomization.yaml", 13),
        ("k8s/replacement.yaml", 2),
    ]
    d = _diags(report, "kustomize-not-judged")[0]
    assert d.level is Level.WARNING and "kustomize build" in d.message
    # an inline config is not a resource path
    assert not [f for f in report.findings if f.rule_id == "K8S009"]


def test_remote_patches_are_foreign_configuration(tmp_path: Path) -> None:
    report = _scan(
        tmp_path,
        {
            "k8s/kustomization.yaml": (
                "resources: [pod.yaml]\n"
                "patches:\n"
                "  - path: https://example.com/p.yaml\n"  # line 3
                "  - path: local.yaml\n"
                "patchesStrategicMerge:\n"
                "  - https://example.com/smp.yaml\n"  # line 6
                "patchesJson6902:\n"
                "  - path: https://example.com/j.yaml\n"  # line 8
                "    target: {kind: Pod, name: p}\n"
            ),
            "k8s/pod.yaml": _pod(f"{GOOD}:1"),
            "k8s/local.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
        },
    )
    assert _at(report, "K8S009") == [
        ("k8s/kustomization.yaml", 3, 11),
        ("k8s/kustomization.yaml", 6, 5),
        ("k8s/kustomization.yaml", 8, 11),
    ]


# -- E. what a patch sets explicitly is judged ---------------------------------------------------


def test_explicit_bad_security_settings_in_a_patch_are_judged(tmp_path: Path) -> None:
    sc = (
        "      securityContext:\n"  # line 10
        "        privileged: true\n"
        "        runAsUser: 0\n"
    )
    report = _scan(
        tmp_path,
        {
            # a decoy kustomization names a complete, applied manifest as a patch (from
            # beside it: kustomize refuses a patch above its directory, so one there is none)
            "k8s/kustomization.yaml": "patches:\n  - path: pod.yaml\n  - path: frag.yaml\n",
            "k8s/pod.yaml": _pod(f"{GOOD}:1", extra=sc),
            # a fragment that leaves its security context to the base: nothing to judge
            "k8s/frag.yaml": _pod(f"{GOOD}:2", name="q"),
        },
    )
    assert _at(report, "K8S007") == [("k8s/pod.yaml", 10, 7)]
    (f,) = [f for f in report.findings if f.rule_id == "K8S007"]
    assert "privileged" in f.message and "runAsNonRoot is not set" not in f.message
    assert _at(report, "K8S004") == [] and _at(report, "K8S005") == []
