"""Walking a repository: which files are read, which are skipped, and the diagnostics for
what cannot be read (symlinks out of the repo, oversized files, undecodable text)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from scanner import source
from scanner.model import Diagnostic, Level, Span, Timings
from scanner.parsers.text import decode
from scanner.scanning import collect
from scanner.source import SourceFile, classify, read, walk

MakeRepo = Callable[[Mapping[str, str]], Path]
TF = 'module "m" {\n  source = "./m"\n}\n'


def walked(root: Path, excludes: tuple[str, ...] = ()) -> tuple[list[str], list[Diagnostic]]:
    files: list[str] = []
    diags: list[Diagnostic] = []
    for item in walk(root, excludes):
        if isinstance(item, Diagnostic):
            diags.append(item)
        else:
            files.append(item.path)
    return files, diags


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("main.tf", "terraform"),
        ("mod/x.TF", "terraform"),
        ("cdktf.out/stacks/a/cdk.tf.json", "terraform-json"),
        ("Dockerfile", "dockerfile"),
        ("Containerfile", "dockerfile"),
        ("docker/Dockerfile.prod", "dockerfile"),
        ("Dockerfile-alpine", "dockerfile"),
        ("build/app.dockerfile", "dockerfile"),
        ("pkg/dockerfile.go", None),  # source code about Dockerfiles
        ("pkg/dockerfile_test.go", None),
        ("docs/Dockerfile.md", None),
        (".github/workflows/ci.yml", "gha-workflow"),
        (".github/workflows/sub/ci.yml", "yaml"),  # GitHub reads only the top directory
        ("action.yml", "gha-action"),
        ("tools/x/action.yaml", "gha-action"),
        ("k8s/deploy.yaml", "yaml"),
        ("Jenkinsfile", "presence"),
        ("cfn/template.json", "json"),
        ("k8s/deploy.json", "json"),
        ("cfn/stack.template", "template"),
        ("README.md", None),
        ("main.py", None),
    ],
)
def test_classify(path: str, kind: str | None) -> None:
    assert classify(path) == kind


def test_default_excludes_and_stable_order(make_repo: MakeRepo) -> None:
    """Issue 7 item 11: directories are skipped only when marked, and each is reported once;
    a name alone (venv, node_modules, .svn) skips nothing."""
    root = make_repo(
        {
            "b.tf": TF,
            "a.tf": TF,
            "sub/c.tf": TF,
            ".git/hooks/x.tf": TF,
            ".terraform/modules/vpc/main.tf": TF,
            "node_modules/.package-lock.json": "{}",
            "node_modules/pkg/main.tf": TF,
            "web/node_modules/deep/Dockerfile": "FROM x\n",
            "k8s/venv/pod.tf": TF,
            ".venv/pyvenv.cfg": "home = /usr\n",
            ".venv/lib/x.tf": TF,
            ".mypy_cache/CACHEDIR.TAG": "Signature: 8a477f597d28d172789f06886806bc55\n",
            ".mypy_cache/x.tf": TF,
            ".svn/pristine/main.tf": TF,
            "README.md": "# hi\n",
        }
    )
    files, diags = walked(root)
    assert files == [
        "a.tf",
        "b.tf",
        ".svn/pristine/main.tf",
        "k8s/venv/pod.tf",
        "sub/c.tf",
        "web/node_modules/deep/Dockerfile",
    ]
    assert sorted((d.path, d.code, d.level.value) for d in diags) == [
        (".mypy_cache", "excluded-directory", "note"),
        (".terraform", "excluded-directory", "note"),
        (".venv", "excluded-directory", "note"),
        ("node_modules", "excluded-directory", "note"),
    ]


def test_excluded_globs(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            "main.tf": TF,
            "vendor/a.tf": TF,
            "test/fixtures/b.tf": TF,
            "modules/x/testdata/c.tf": TF,
            "modules/x/d.tf": TF,
            "e.tf.json": "{}",
        }
    )
    files, _ = walked(root, ("vendor/", "test/**", "**/testdata/**", "*.tf.json"))
    assert files == ["main.tf", "modules/x/d.tf"]


def test_symlink_to_a_file_outside_the_repo(make_repo: MakeRepo, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.tf").write_text(TF)
    root = make_repo({"main.tf": TF})
    (root / "linked.tf").symlink_to(outside / "secret.tf")
    files, diags = walked(root)
    assert files == ["main.tf"]  # not followed
    (d,) = diags
    assert (d.path, d.code, d.level, d.span) == (
        "linked.tf",
        "symlink-outside-repo",
        Level.NOTE,
        Span(1, 1, 1, 1),
    )


def test_symlinked_directory_outside_the_repo(make_repo: MakeRepo, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    (outside / "mods").mkdir(parents=True)
    (outside / "mods" / "x.tf").write_text(TF)
    root = make_repo({"main.tf": TF})
    (root / "shared").symlink_to(outside)
    files, diags = walked(root)
    assert files == ["main.tf"]
    assert [(d.path, d.code) for d in diags] == [("shared", "symlink-outside-repo")]


def test_symlinks_inside_the_repo_are_skipped_quietly(make_repo: MakeRepo) -> None:
    root = make_repo({"real/main.tf": TF})
    (root / "alias.tf").symlink_to(root / "real" / "main.tf")
    (root / "aliasdir").symlink_to(root / "real")
    (root / "loop").symlink_to(root)
    files, diags = walked(root)
    assert files == ["real/main.tf"]  # scanned once, where it lives
    assert diags == []


def test_broken_symlink(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo({"main.tf": TF})
    (root / "gone.tf").symlink_to(tmp_path / "does-not-exist.tf")
    files, diags = walked(root)
    assert files == ["main.tf"]
    assert [d.code for d in diags] == ["symlink-outside-repo"]


def test_repo_root_given_through_a_symlink(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo({"main.tf": TF})
    link = tmp_path / "via-link"
    link.symlink_to(root)
    files, diags = walked(link)
    assert (files, diags) == (["main.tf"], [])


def test_file_over_the_size_limit(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source, "MAX_FILE_BYTES", 1024)
    root = make_repo({"big.tf": "#" * 4096 + "\n" + TF, "small.tf": TF})
    facts, diags = collect(root, [], Timings())
    assert [f.path for f in facts] == ["small.tf"]
    (d,) = diags
    assert (d.path, d.code, d.level) == ("big.tf", "too-large", Level.WARNING)
    assert "not scanned" in d.message


def test_non_utf8_file_is_unreadable(make_repo: MakeRepo) -> None:
    root = make_repo({"ok.tf": TF})
    (root / "latin1.tf").write_bytes(b'locals {\n  x = "caf\xe9"\n}\n')
    facts, diags = collect(root, [], Timings())
    assert [f.path for f in facts] == ["ok.tf"]
    (d,) = diags
    assert (d.path, d.code, d.level) == ("latin1.tf", "unreadable", Level.ERROR)


def test_utf16_with_bom_is_decoded(make_repo: MakeRepo) -> None:
    # PowerShell's `>` writes UTF-16LE with a BOM
    root = make_repo({"README.md": "x\n"})
    text = "apiVersion: v1\r\nkind: Namespace\r\nmetadata:\r\n  name: é😀\r\n"
    (root / "ns.yaml").write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    facts, diags = collect(root, [], Timings())
    assert diags == []
    (f,) = facts
    assert f.target == "Namespace/é😀"
    assert f.span == Span(2, 7, 2, 16)


def test_decode() -> None:
    assert decode(b"\xef\xbb\xbfa") == "a"
    assert decode(b"\xfe\xff" + "é".encode("utf-16-be")) == "é"
    assert decode(b"\xff\xfe\x00\x00" + "x".encode("utf-32-le")) == "x"
    with pytest.raises(UnicodeDecodeError):
        decode(b"\xff\x00\x00")


def test_read_missing_file_is_a_diagnostic(tmp_path: Path) -> None:
    d = read(SourceFile("gone.tf", str(tmp_path / "gone.tf"), "terraform"))
    assert isinstance(d, Diagnostic) and d.code == "unreadable"


@pytest.mark.skipif(getattr(os, "geteuid", lambda: -1)() == 0, reason="root reads any directory")
def test_unlistable_directory_is_reported(make_repo: MakeRepo) -> None:
    root = make_repo({"main.tf": TF, "locked/x.tf": TF})
    (root / "locked").chmod(0)
    try:
        files, diags = walked(root)
    finally:
        (root / "locked").chmod(0o755)
    assert files == ["main.tf"]
    assert [(d.path, d.code) for d in diags] == [("locked", "unreadable")]


def test_unlistable_directory_through_walk(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # root reads any directory: make listing `locked` fail the way permissions would
    root = make_repo({"main.tf": TF, "locked/x.tf": TF, "z/y.tf": TF})
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    files, diags = walked(root)
    assert files == ["main.tf", "z/y.tf"]
    (d,) = diags
    assert (d.path, d.code, d.level) == ("locked", "unreadable", Level.ERROR)
    assert "Permission denied" in d.message
