"""A repository full of malformed files of every kind: each bad file yields one located
diagnostic, the good files still yield their findings, the scan never raises, and nothing
in the scanned repository is ever executed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

import scanner
from scanner import source
from scanner.model import Diagnostic, Level, Span
from scanner.policy import documents  # noqa: F401 - see bad_repo

MakeRepo = Callable[[Mapping[str, str]], Path]
SHA = "b4ffde65f46336ab88eb53be808477a3936bae11"


def _good_files() -> dict[str, str]:
    """Valid files, each with one finding under the default baseline."""
    return {
        "infra/versions.tf": (
            "terraform {\n  required_providers {\n"
            '    aws = {\n      source  = "hashicorp/aws"\n      version = "~> 4.0"\n    }\n'
            "  }\n}\n"
        ),
        "infra/main.tf": 'module "net" {\n  source = "acme/network/aws"\n  version = "1.0.0"\n}\n',
        ".github/workflows/ci.yml": (
            "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
            "      - uses: some-stranger/deploy@main\n"
        ),
        "Dockerfile": "FROM quay.io/someone/base:1\n",
        "k8s/deploy.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
            "  labels: {app.kubernetes.io/name: web, team: shop}\n"
            "spec:\n  template:\n    spec:\n      containers:\n"
            "        - name: app\n          image: quay.io/someone/app:1\n"
        ),
    }


def _bad_files(marker: Path) -> dict[str, tuple[str, int]]:
    """Malformed files and the line their diagnostic must point at."""
    m = str(marker)
    bomb = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: x", "data:"]
    bomb.append("  a0: &a0 [x, x, x, x, x, x, x, x, x, x]")
    bomb += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    return {
        # Terraform: a broken block in an otherwise good file
        "infra/broken.tf": (
            'resource "aws_s3_bucket" "ok" {\n  bucket = "ok"\n}\n\n'
            'resource "aws_s3_bucket" "bad" {\n  bucket = "unterminated\n}\n',
            6,
        ),
        "infra/garbage.tf": ("}}} this is not HCL {{{\n", 1),
        "infra/broken.tf.json": ('{\n  "module": {\n    "m": {"source": "./m",}\n  }\n}\n', 3),
        # YAML that claims to be a manifest, a workflow and an action
        "k8s/broken.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: [\n",
            5,
        ),
        # an unclosed bracket is reported where it opens, not at the end of the file
        ".github/workflows/broken.yml": ("on: push\njobs:\n  a:\n    steps: [\n", 4),
        "tools/act/action.yml": ("name: a\nruns:\n  using: composite\n  steps: {\n", 4),
        "k8s/bomb.yaml": ("\n".join(bomb) + "\n", 1),
        "k8s/deep.yaml": ("apiVersion: v1\nkind: List\nitems: " + "[" * 3000 + "\n", 3),
        # Dockerfiles
        "svc/Dockerfile": ("RUN echo no FROM here\n", 1),
        "svc2/Dockerfile": ("FROM\nRUN x\n", 1),
        # unreadable (located at the first bad byte)
        "latin1/Dockerfile": ("FROM alpine\nLABEL x=caf\udce9\n", 2),
        "big/main.tf": ("# " + "x" * 5000 + "\n", 1),
        # things that would run code if anything here were executed
        "exec/evil.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            f"  name: !!python/object/apply:os.system ['touch {m}']\n"
            "  labels: {a: !!python/name:os.system }\n"
            "data: [",
            6,
        ),
    }


def _executable_bait(marker: Path) -> dict[str, str]:
    """Valid files whose contents are commands: scanning must only read them."""
    m = str(marker)
    return {
        "exec/main.tf": (
            f'data "external" "x" {{\n  program = ["sh", "-c", "touch {m}"]\n}}\n'
            f'resource "null_resource" "y" {{\n  provisioner "local-exec" {{\n'
            f'    command = "touch {m}"\n  }}\n}}\n'
        ),
        "exec/Dockerfile": f"FROM alpine\nRUN touch {m}\n",
        "exec/Makefile": f"all:\n\ttouch {m}\n",
        "exec/setup.py": f"import os\nos.system('touch {m}')\n",
        "exec/conftest.py": f"import os\nos.system('touch {m}')\n",
        "Jenkinsfile": f"sh 'touch {m}'\n",
        ".github/workflows/run.yml": (
            f"on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: touch {m}\n"
        ),
        ".git/hooks/post-checkout": f"#!/bin/sh\ntouch {m}\n",
    }


@pytest.fixture
def bad_repo(
    make_repo: MakeRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path, dict[str, tuple[str, int]]]:
    # a lower limit for the repository's files; tether's own documents (the embedded
    # baseline, imported above, before the limit is lowered) keep theirs
    monkeypatch.setattr(source, "MAX_FILE_BYTES", 4096)
    marker = tmp_path / "PWNED"
    bad = _bad_files(marker)
    root = make_repo({**_good_files(), **_executable_bait(marker)})
    for rel, (text, _) in bad.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.encode("utf-8", "surrogateescape"))  # latin1/ keeps a raw 0xE9
    for rel in ("exec/setup.py", ".git/hooks/post-checkout"):
        (root / rel).chmod(0o755)
    outside = tmp_path / "outside.tf"
    outside.write_text('module "x" {\n  source = "evil/x/aws"\n}\n')
    (root / "infra" / "linked.tf").symlink_to(outside)
    return root, marker, bad


def test_one_located_diagnostic_per_bad_file(
    bad_repo: tuple[Path, Path, dict[str, tuple[str, int]]],
) -> None:
    root, _, bad = bad_repo
    report = scanner.scan(root)
    by_path: dict[str, list[Diagnostic]] = {}
    for d in report.diagnostics:
        by_path.setdefault(d.path, []).append(d)
    expected_codes = {
        "latin1/Dockerfile": "unreadable",
        "big/main.tf": "too-large",
    }
    for rel, (_, line) in bad.items():
        ds = by_path.pop(rel, [])
        assert len(ds) == 1, (rel, ds)
        (d,) = ds
        assert d.code == expected_codes.get(rel, "parse-error"), (rel, d)
        assert d.span.start_line == line, (rel, d)
        assert d.span.start_col >= 1 and d.span.end_line >= d.span.start_line, (rel, d)
        assert d.level in (Level.ERROR, Level.WARNING)
    # the symlink out of the repo is a note, and is not followed
    (link,) = by_path.pop("infra/linked.tf")
    assert (link.code, link.level) == ("symlink-outside-repo", Level.NOTE)
    assert by_path == {}  # nothing else is reported: good files are quiet
    assert not any(d.code == "internal-error" for d in report.diagnostics)


def test_good_files_still_yield_their_findings(
    bad_repo: tuple[Path, Path, dict[str, tuple[str, int]]],
) -> None:
    root, _, _ = bad_repo
    report = scanner.scan(root)
    found = {(f.rule_id, f.path) for f in report.findings}
    assert {
        ("TF002", "infra/versions.tf"),  # aws ~> 4.0 is below the platform minimum
        ("TF003", "infra/main.tf"),  # a module source outside the approved set
        ("GHA001", ".github/workflows/ci.yml"),  # an unapproved action
        ("DOCKER001", "Dockerfile"),  # an unapproved base image
        ("K8S001", "k8s/deploy.yaml"),  # an unapproved registry
    } <= found
    # the good block of a file with a broken block is still observed
    assert report.facts_count > 0
    # findings point at exact places in good files, never at the broken ones
    by_rule = {f.rule_id: f for f in report.findings if f.path == "Dockerfile"}
    assert by_rule["DOCKER001"].span == Span(1, 6, 1, 28)


def test_nothing_in_the_repo_is_executed(
    bad_repo: tuple[Path, Path, dict[str, tuple[str, int]]],
) -> None:
    root, marker, _ = bad_repo
    scanner.scan(root)
    assert not marker.exists()


def test_scanning_an_empty_or_odd_repo(make_repo: MakeRepo) -> None:
    root = make_repo({"README.md": "hi\n", "empty.tf": "", "blank.yaml": "\n\n", "x.tf.json": ""})
    report = scanner.scan(root)
    # only what holds for any repository without an owner and the golden files
    assert [(f.rule_id, f.path) for f in report.findings] == [
        ("REPO001", "README.md"),
        ("REPO002", "README.md"),
    ]
    # an empty .tf.json is not valid JSON: the one thing worth saying about its files
    assert [(d.path, d.code) for d in report.diagnostics] == [("x.tf.json", "parse-error")]


def test_one_broken_document_costs_only_that_document(tmp_path: Path) -> None:
    from scanner import scan
    from scanner.config import RepoConfig

    (tmp_path / "multi.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n"
        '    - {name: c, image: "quay.io/x/a:1"}\n'
        "---\napiVersion: v1\nkind: Pod\nmetadata: [broken\n"
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: c}\nspec:\n  containers:\n"
        '    - {name: c, image: "quay.io/x/c:1"}\n'
    )
    report = scan(tmp_path, config=RepoConfig())
    assert [(d.code, d.span.start_line) for d in report.diagnostics] == [("parse-error", 10)]
    k = [(f.rule_id, f.span.start_line) for f in report.findings if f.rule_id == "K8S001"]
    assert k == [("K8S001", 6), ("K8S001", 17)]


def test_kustomization_without_api_version_is_recognised(tmp_path: Path) -> None:
    from scanner.model import Timings
    from scanner.scanning import collect

    (tmp_path / "kustomization.yaml").write_text(
        "resources: [deploy.yaml]\nimages:\n  - name: app\n    newTag: '1.2'\n"
    )
    facts, diags = collect(tmp_path, [], Timings())
    assert not diags
    assert [(f.kind, f.data["resources"]) for f in facts if f.kind == "k8s.kustomization"] == [
        ("k8s.kustomization", ["deploy.yaml"])
    ]
    # its override and its resource are facts of their own
    assert sorted(f.kind for f in facts) == [
        "k8s.kustomization",
        "k8s.kustomize_image",
        "k8s.kustomize_resource",
    ]


def test_non_utf8_diagnostic_points_at_the_bad_byte(tmp_path: Path) -> None:
    from scanner.model import Timings
    from scanner.scanning import collect

    (tmp_path / "main.tf").write_bytes(b'# ok\nvariable "x" { default = "caf\xe9" }\n')
    _, diags = collect(tmp_path, [], Timings())
    assert [(d.code, d.span.start_line, d.span.start_col) for d in diags] == [("unreadable", 2, 30)]


def test_a_dockerfile_template_is_a_note_where_it_is_a_template(make_repo: MakeRepo) -> None:
    """Issue 10 (docker-library's Dockerfile-linux.template): a generator's input named as a
    template is not a broken Dockerfile; what parses in it is still judged, and a template
    suffix does not excuse an error that is not a template action, nor does template syntax
    excuse a file named Dockerfile."""
    tpl = "FROM alpine:{{ .alpine }}\nRUN true\nFROM quay.io/someone/tools:1 AS tools\n"
    root = make_repo(
        {
            "linux/Dockerfile-linux.template": tpl,
            "Dockerfile": tpl,
            "broken/Dockerfile.tmpl": "FROM\n",
        }
    )
    report = scanner.scan(root)
    by_path = {d.path: d for d in report.diagnostics}
    note = by_path["linux/Dockerfile-linux.template"]
    assert (note.code, note.level, note.span.start_line) == (
        "not-scanned-template",
        Level.NOTE,
        1,
    )
    assert (by_path["Dockerfile"].code, by_path["Dockerfile"].level) == ("parse-error", Level.ERROR)
    assert by_path["broken/Dockerfile.tmpl"].level is Level.ERROR
    judged = {(f.rule_id, f.path) for f in report.findings}
    assert ("DOCKER001", "linux/Dockerfile-linux.template") in judged
