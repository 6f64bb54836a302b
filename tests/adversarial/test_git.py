"""Issue 7: PR mode reads git without running anything the repository chooses (item 9),
compares the same kind of file set on both sides (item 7), says clearly when the scanned
directory is in no work tree (item 18) and takes the Action's base SHA (item 4)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner import gitdiff
from scanner.cli import main
from scanner.errors import ConfigError
from scanner.model import Diagnostic
from scanner.pr import scan_pr
from scanner.scanning import ScanOptions
from scanner.source import MAX_FILE_BYTES, walk

POD = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {team: t, "
    "app.kubernetes.io/name: p}\nspec:\n  containers:\n    - name: c\n"
    "      image: {image}\n"
)


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    return gitb(repo, *args, stdin=stdin).decode()


def gitb(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    cmd = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-C", str(repo)]
    return subprocess.run([*cmd, *args], check=True, capture_output=True, input=stdin).stdout


def init(repo: Path, files: dict[str, str | bytes]) -> Path:
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    return repo


def write(repo: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        p = repo / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)


def files_of(tree: Path) -> dict[str, bytes | str]:
    """Every entry of a directory tree: file bytes, or 'link -> target' for a link."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in [*filenames, *dirnames]:
            full = Path(dirpath, name)
            rel = full.relative_to(tree).as_posix()
            if full.is_symlink():
                out[rel] = f"link -> {os.readlink(full)}"
            elif full.is_file():
                out[rel] = full.read_bytes()
    return out


# --- item 9: no filter driver, textconv, external diff, fsmonitor or hook ever runs ----------


def arm(repo: Path, markers: Path, process: bool) -> None:
    """Configure, after the last commit, every program git could be asked to run for this
    repository; each leaves a marker file when it runs. The smudge filter also rewrites what
    it exports: a base that went through it would already seem to hold the change's debt."""
    markers.mkdir()

    def leaves(name: str, then: str = "cat") -> str:
        return f"touch {shlex.quote(str(markers / name))}; {then}"

    config = {
        "filter.evil.smudge": leaves("smudge", "sed s/ghcr.io/quay.io/"),
        "filter.evil.clean": leaves("clean"),
        "diff.evil.textconv": leaves("textconv"),
        "diff.evil.command": leaves("diff-driver"),
        "diff.external": leaves("external-diff"),
        "core.pager": leaves("pager"),
        "core.fsmonitor": str(markers.parent / "fsmonitor.sh"),
    }
    if process:
        config["filter.evil.process"] = leaves("process", "exit 1")
    for key, value in config.items():
        git(repo, "config", key, value)
    hook = f"#!/bin/sh\ntouch {shlex.quote(str(markers))}/hook-$(basename $0)\n"
    (markers.parent / "fsmonitor.sh").write_text(hook)
    (markers.parent / "fsmonitor.sh").chmod(0o755)
    hooks = repo / ".git" / "hooks"
    for name in ("post-index-change", "post-checkout", "reference-transaction", "pre-auto-gc"):
        (hooks / name).write_text(hook)
        (hooks / name).chmod(0o755)


@pytest.mark.parametrize("process", [False, True], ids=["smudge-clean", "process"])
def test_pr_mode_runs_no_filter_driver_chosen_by_gitattributes(
    tmp_path: Path, process: bool
) -> None:
    """Item 9: `.gitattributes` (`* filter=evil diff=evil export-subst`, in the base as git-lfs
    attributes are, and in the pull request, whose index some git versions read them from)
    picks drivers configured in the user's or CI's git config (as git-lfs is, globally). PR
    mode used to export the base with `git archive` (smudge/process filters, export-subst) and
    diff it against the working tree (clean filters): the driver ran, and its rewrite of the
    base hid the change's new violation as "unchanged". Now nothing runs and the base is read
    as its raw committed bytes."""
    attributes = "* filter=evil diff=evil export-subst\n"
    repo = init(
        tmp_path / "repo",
        {
            ".gitattributes": attributes,
            "k8s/pod.yaml": POD.replace("{image}", "ghcr.io/x/y:1"),
            "ci.yml": "on: push\n" * 20,
            "notes.txt": "notes\n",
        },
    )
    git(repo, "checkout", "-qb", "feature")
    write(
        repo,
        {
            ".gitattributes": attributes + "*.yml filter=evil\n",
            "k8s/pod.yaml": POD.replace("{image}", "quay.io/x/y:1"),  # the new violation
        },
    )
    git(repo, "mv", "ci.yml", "build.yml")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change")
    arm(repo, tmp_path / "markers", process)
    # uncommitted edits: a diff against the working tree would run the clean filter on them
    write(repo, {"build.yml": "on: push\n" * 21, "notes.txt": "more notes\n"})

    report = scan_pr(repo, "main", ScanOptions())

    assert sorted(p.name for p in (tmp_path / "markers").iterdir()) == []
    new = {(f.rule_id, f.path) for f in report.diff.new}
    assert ("K8S001", "k8s/pod.yaml") in new
    assert not any(f.rule_id == "K8S001" for f in report.diff.unchanged)


def test_base_is_exported_as_raw_committed_bytes(tmp_path: Path) -> None:
    """Item 9: `export-subst`, `export-ignore` and `eol` attributes (which `git archive`
    applies) change nothing: every file of the base has exactly its committed blob."""
    repo = init(
        tmp_path / "repo",
        {
            ".gitattributes": (
                "*.txt export-subst\n*.yaml text eol=crlf\nhidden.yaml export-ignore\n"
            ),
            "version.txt": "commit $Format:%H$ by $Format:%an$\n",
            "k8s/pod.yaml": POD.replace("{image}", "quay.io/x/y:1"),
            "hidden.yaml": POD.replace("{image}", "quay.io/x/z:1"),
        },
    )
    head = git(repo, "rev-parse", "HEAD").strip()
    with gitdiff.exported(repo, head) as tree:
        got = files_of(tree)
    committed = git(repo, "ls-tree", "-r", "--name-only", head).split()
    assert sorted(got) == sorted(committed)
    for path in committed:
        assert got[path] == gitb(repo, "cat-file", "blob", f"{head}:{path}"), path


def _tree(repo: Path, entries: list[tuple[str, str, str]]) -> str:
    """A tree object written as given (hostile names and duplicates included), the way a
    crafted push could hold it: (mode, name, object id)."""
    raw = b"".join(
        f"{mode} {name}".encode() + b"\0" + bytes.fromhex(oid) for mode, name, oid in entries
    )
    return git(repo, "hash-object", "-w", "-t", "tree", "--literally", "--stdin", stdin=raw).strip()


def test_hostile_tree_paths_never_escape_the_export(tmp_path: Path) -> None:
    """Item 9: paths in a base revision are hostile. `..`, `.git` (any case), an absolute
    name, a symbolic link followed by a directory of the same name (a crafted tree) and a
    submodule: nothing is written outside the temporary directory or through a link, no
    `.git` directory appears, and the link itself is kept as a link with its target text."""
    repo = init(tmp_path / "repo", {"README.md": "x\n"})
    outside = tmp_path / "outside"
    outside.mkdir()
    blob = git(repo, "hash-object", "-w", "--stdin", stdin=b"pwned\n").strip()
    ok = git(repo, "hash-object", "-w", "--stdin", stdin=b"fine\n").strip()
    target = git(repo, "hash-object", "-w", "--stdin", stdin=str(outside).encode()).strip()
    sub = _tree(repo, [("100644", "pwned.yaml", blob)])
    head = git(repo, "rev-parse", "HEAD").strip()
    root = _tree(
        repo,
        [
            ("40000", "..", sub),
            ("40000", ".GIT", sub),
            ("40000", ".git", sub),
            ("40000", "/abs", sub),
            ("120000", "link", target),
            ("40000", "link", sub),  # after the link of the same name: written through it?
            ("100644", "ok.yaml", ok),
            ("160000", "module", head),
        ],
    )
    commit = git(repo, "commit-tree", root, "-m", "crafted").strip()
    with gitdiff.exported(repo, commit) as tree:
        got = files_of(tree)
        assert not (tree.parent / "pwned.yaml").exists()
    assert got == {"ok.yaml": b"fine\n", "link": f"link -> {outside}"}
    assert list(outside.iterdir()) == []


def test_base_and_head_walk_alike_links_modes_submodules_and_large_files(
    tmp_path: Path,
) -> None:
    """Item 9: symbolic links are exported as links (not followed, not dropped), so the
    walker sees the base as it sees the head: a link inside skipped, a link out of the
    repository reported; a file over the size limit keeps its size (reported as too large on
    both sides); a submodule is not part of the base."""
    repo = init(
        tmp_path / "repo",
        {
            "k8s/pod.yaml": POD.replace("{image}", "quay.io/x/y:1"),
            "big.yaml": b"#" * (MAX_FILE_BYTES + 10),
            "run.sh": "#!/bin/sh\n",
        },
    )
    (repo / "run.sh").chmod(0o755)
    (repo / "alias.yaml").symlink_to("k8s/pod.yaml")
    (repo / "out.yaml").symlink_to("/etc/hostname")
    (repo / "up.yaml").symlink_to("../../outside.yaml")
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},vendor/module")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "links")
    head = git(repo, "rev-parse", "HEAD").strip()

    def walked(root: Path) -> list[tuple[str, str]]:
        return [
            (item.path, item.code if isinstance(item, Diagnostic) else "file")
            for item in walk(root)
        ]

    with gitdiff.exported(repo, head) as tree:
        assert os.readlink(tree / "alias.yaml") == "k8s/pod.yaml"
        assert os.readlink(tree / "up.yaml") == "../../outside.yaml"
        assert (tree / "big.yaml").stat().st_size == MAX_FILE_BYTES + 10
        assert os.access(tree / "run.sh", os.X_OK)
        assert not (tree / "vendor").exists()
        assert walked(tree) == walked(repo)


def test_exported_prefix_is_never_a_link_out(tmp_path: Path) -> None:
    """Item 9: scanning `infra/` where the base had `infra` as a link to a directory outside
    the repository: with the prefix given, the base's `infra` is not written at all (its
    scan would otherwise read the directory the link points to)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.tf").write_text("x = 1\n")
    repo = init(tmp_path / "repo", {"README.md": "x\n"})
    (repo / "infra").symlink_to(outside)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "link")
    head = git(repo, "rev-parse", "HEAD").strip()
    with gitdiff.exported(repo, head, prefix="infra/") as tree:
        assert not os.path.lexists(tree / "infra")
        assert files_of(tree) == {}


def test_exported_streams_through_one_cat_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 9: the base is read by one `git cat-file --batch`, not a process per file."""
    repo = init(tmp_path / "repo", {f"d{i % 7}/f{i}.yaml": f"n: {i}\n" for i in range(300)})
    head = git(repo, "rev-parse", "HEAD").strip()
    calls: list[list[str | bytes]] = []
    real_popen = subprocess.Popen

    def popen(args: list[str | bytes], *a: object, **k: object) -> object:
        calls.append(args)  # subprocess.run starts its process through Popen too
        return real_popen(args, *a, **k)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "Popen", popen)
    with gitdiff.exported(repo, head) as tree:
        assert len(files_of(tree)) == 300
    assert len(calls) == 2  # ls-tree, cat-file
    assert sum("cat-file" in c for c in calls) == 1


def test_renames_are_read_from_trees(tmp_path: Path) -> None:
    """Item 9: renames come from a tree-to-tree diff of the base and HEAD (no working tree, so
    no clean filter); a rename not yet committed is not followed (documented)."""
    repo = init(tmp_path / "repo", {"a/one.yaml": "x: 1\n" * 30, "a/two.yaml": "y: 2\n" * 30})
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "mv", "a/one.yaml", "a/uno.yaml")
    git(repo, "commit", "-qm", "rename")
    (repo / "a/two.yaml").rename(repo / "a/dos.yaml")  # in the working tree only
    assert gitdiff.renames(repo, base, "") == {"a/one.yaml": "a/uno.yaml"}
    assert gitdiff.renames(repo, base, "a/") == {"one.yaml": "uno.yaml"}


# --- item 7: the same file set on both sides ---------------------------------------------------


def test_worktree_files_are_tracked_and_unignored_files(tmp_path: Path) -> None:
    """Item 7: the head is what git tracks plus untracked files that are not ignored, so
    rendered manifests in an ignored `dist/` are not new debt; deleted tracked files,
    submodules and nested repositories are not files of the head."""
    repo = init(
        tmp_path / "repo",
        {
            ".gitignore": "dist/\n*.log\n",
            "a.yaml": "a: 1\n",
            "sub/dir/b.yaml": "b: 1\n",
            "sub/dir/gone.yaml": "g: 1\n",
            "we*rd/f.yaml": "f: 1\n",
            "weXrd/g.yaml": "g: 1\n",
        },
    )
    write(repo, {"dist/keep.yaml": "k: 1\n"})
    git(repo, "add", "-f", "dist/keep.yaml")  # tracked although ignored: part of the head
    git(repo, "commit", "-qm", "keep")
    (repo / "sub/dir/gone.yaml").unlink()
    write(
        repo,
        {
            "dist/rendered.yaml": "r: 1\n",
            "sub/dir/dist/rendered.yaml": "r: 1\n",
            "sub/dir/new.yaml": "n: 1\n",
            "sub/dir/debug.log": "x\n",
        },
    )
    init(repo / "sub/dir/nested", {"inner.yaml": "i: 1\n"})

    assert gitdiff.worktree_files(repo, "") == [
        ".gitignore",
        "a.yaml",
        "dist/keep.yaml",
        "sub/dir/b.yaml",
        "sub/dir/new.yaml",
        "we*rd/f.yaml",
        "weXrd/g.yaml",
    ]
    assert gitdiff.worktree_files(repo, "sub/dir/") == ["b.yaml", "new.yaml"]
    assert gitdiff.worktree_files(repo, "we*rd/") == ["f.yaml"]  # a path, not a pattern


# --- item 18: a directory in no work tree is a configuration error -----------------------------


def test_locate_gives_the_top_level_and_the_prefix(tmp_path: Path) -> None:
    """Item 18: the work tree's top-level and the scanned directory's place in it, whatever
    path leads there (a link to the repository included)."""
    repo = init(tmp_path / "repo", {"sub/dir/x.yaml": "x: 1\n"})
    (tmp_path / "alias").symlink_to(repo)
    top = Path(os.path.realpath(repo))
    assert gitdiff.locate(repo) == (top, "")
    assert gitdiff.locate(repo / "sub" / "dir") == (top, "sub/dir/")
    assert gitdiff.locate(tmp_path / "alias" / "sub") == (top, "sub/")


def _worktree_elsewhere(tmp_path: Path) -> Path:
    repo = init(tmp_path / "repo", {"x.yaml": "x: 1\n"})
    (tmp_path / "other").mkdir()
    git(repo, "config", "core.worktree", str(tmp_path / "other"))
    return repo


def _bare(tmp_path: Path) -> Path:
    repo = tmp_path / "bare.git"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    return repo


def _no_repository(tmp_path: Path) -> Path:
    (tmp_path / "plain").mkdir()
    return tmp_path / "plain"


def _gitfile_to_nowhere(tmp_path: Path) -> Path:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / ".git").write_text(f"gitdir: {tmp_path / 'missing'}\n")
    return tmp_path / "w"


def _gitfile_to_a_worktree_elsewhere(tmp_path: Path) -> Path:
    repo = _worktree_elsewhere(tmp_path)
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / ".git").write_text(f"gitdir: {repo / '.git'}\n")
    return tmp_path / "w"


def _gitfile_with_the_worktree_above(tmp_path: Path) -> Path:
    """The work tree holds the directory, but git started from its top finds no repository
    (the `.git` file is below it): every later git call would read another one, or none."""
    repo = init(tmp_path / "repo", {"x.yaml": "x: 1\n"})
    git(repo, "config", "core.worktree", str(tmp_path))
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / ".git").write_text(f"gitdir: {repo / '.git'}\n")
    return tmp_path / "w"


LAYOUTS = [
    _worktree_elsewhere,
    _bare,
    _no_repository,
    _gitfile_to_nowhere,
    _gitfile_to_a_worktree_elsewhere,
    _gitfile_with_the_worktree_above,
]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda f: f.__name__.strip("_"))
def test_a_directory_in_no_work_tree_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: object
) -> None:
    """Item 18: core.worktree pointing elsewhere used to crash PR mode with a `relative_to`
    traceback; every layout without the directory in a work tree is a ConfigError, and the
    CLI exits 2 with one line."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = layout(tmp_path)  # type: ignore[operator]
    with pytest.raises(ConfigError) as e:
        gitdiff.locate(root)
    assert "\n" not in str(e.value)
    r = CliRunner().invoke(main, ["scan", str(root), "--diff-base", "main"])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "configuration error" in lines[0], r.output


def test_inherited_git_dir_does_not_redirect_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 18: inside a git hook GIT_DIR and GIT_INDEX_FILE name the hook's repository; the
    scanned directory, not the environment, decides which repository PR mode reads."""
    repo = init(tmp_path / "repo", {"x.yaml": "x: 1\n"})
    other = init(tmp_path / "other", {"y.yaml": "y: 1\n"})
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    assert gitdiff.locate(repo)[0] == Path(os.path.realpath(repo))
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_INDEX_FILE")
    monkeypatch.delenv("GIT_WORK_TREE")
    expected = git(repo, "rev-parse", "HEAD").strip()
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    assert gitdiff.merge_base(repo, "main") == expected
    assert gitdiff.worktree_files(repo, "") == ["x.yaml"]


# --- item 4: the Action passes a commit SHA ---------------------------------------------------


def test_merge_base_takes_a_full_sha_or_a_ref(tmp_path: Path) -> None:
    """Item 4: `pull_request.base.sha` / `merge_group.base_sha` are full commit SHAs; a branch
    still works, and the answer is a full SHA either way."""
    repo = init(tmp_path / "repo", {"x.yaml": "x: 1\n"})
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-qb", "feature")
    write(repo, {"y.yaml": "y: 1\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change")
    assert gitdiff.merge_base(repo, base) == base
    assert gitdiff.merge_base(repo, "main") == base
    with pytest.raises(ConfigError, match="not a commit"):
        gitdiff.merge_base(repo, "0" * 40)


@pytest.mark.parametrize(
    "ref", ["", "-h", "--output=/tmp/x", "--all", "main\0", "main\nHEAD", "ma\x1bin"]
)
def test_merge_base_refuses_option_like_or_unprintable_input(tmp_path: Path, ref: str) -> None:
    """Item 4: what looks like an option, and what a terminal or subprocess would take apart
    (NUL used to raise ValueError, a traceback), is refused before git sees it."""
    repo = init(tmp_path / "repo", {"x.yaml": "x: 1\n"})
    with pytest.raises(ConfigError):
        gitdiff.merge_base(repo, ref)
