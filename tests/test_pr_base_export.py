"""Issue 11: PR mode writes out only the base revision's files that the scan reads (the files
it classifies, what kustomizations list, the files links point to, the repository summary's
anchor, the repository rule directories); every other file is present for the walk without
being written, and a blob over the size limit is never read. The findings, diagnostics and
diff are those of a base written out whole."""

from __future__ import annotations

import os
import posixpath
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from scanner import gitdiff, source
from scanner.gate import Decision, decide
from scanner.model import Report
from scanner.policy import operator
from scanner.pr import scan_pr
from scanner.scanning import ScanOptions
from scanner.source import classify, walk

POD = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{team: t, "
    "app.kubernetes.io/name: {name}}}\nspec:\n  containers:\n    - name: c\n"
    "      image: {image}\n"
)
MINER = POD.format(name="miner", image="evil.example/miner:1")
RULE = (
    "id: ORG001\nname: no-evil\ntitle: No evil images here\npack: kubernetes\n"
    "category: compliance\nseverity: error\nstatus: stable\napplies_to: k8s.container\n"
    "assert: '!fact.image.contains(\"evil\")'\nmessage: evil image {{fact.image}}\n"
    "docs:\n  what: Reports evil images.\n  why: Evil images mine coins.\n"
    "  example: 'image: evil'\n  use_instead: 'image: good'\n"
)
CHART = "apiVersion: v2\nname: app\nversion: 1.0.0\n"
# the repository a change is judged against: files of every sort the scan reads, and many it
# does not
BASE: dict[str, str | bytes] = {
    "README.md": "# The service\n\nMore words.\n",
    "SECURITY.md": "Mail security@example.com\n",
    ".github/dependabot.yml": "version: 2\n",
    "notes.txt": "not configuration\n",
    ".github/CODEOWNERS": "* @acme/team\n",
    "catalog-info.yaml": "kind: Component\nspec:\n  owner: team-a\n",
    ".tether.yaml": "exclude: [vendor/**]\nrules: [tether-rules]\n",
    "tether-rules/ORG001.yml": RULE,
    "tether-rules/NOTES.md": "why these rules\n",  # compared with the head's (CFG002)
    "vendor/lib/pod.yaml": POD.format(name="v", image="evil.example/vendored:1"),
    # kustomize reads what it lists as YAML, whatever the name
    "k8s/kustomization.yaml": "resources: [miner.txt, app.yaml, ../shared/extra.conf]\n",
    "k8s/miner.txt": MINER,
    "k8s/app.yaml": POD.format(name="app", image="ghcr.io/acme/app:1"),
    "shared/extra.conf": POD.format(name="extra", image="evil.example/extra:1"),
    "manifests/pod.txt": POD.format(name="linked", image="evil.example/linked:1"),
    "charts/app/Chart.yaml": CHART,
    "charts/app/values.yaml": "image: {repository: evil.example/x}\n",
    "charts/app/templates/deploy.yaml": "kind: {{ .Values.kind }}\n  bad: [\n",
    "src/main.py": "print('hello')\n",
    "src/util/helpers.py": "",
    "docs/guide.md": "# Guide\n",
    "big.yaml": "# " + "x" * 8000 + "\n",  # over the limit the tests set
    "big.bin": b"\0" * 9000,
    "listed/big.txt": "# " + "y" * 8000 + "\n",
    "listed/kustomization.yaml": "resources: [big.txt]\n",
}
LINKS = {
    "k8s/alias.yaml": "../manifests/pod.txt",  # a manifest name for a file that has none
    "docs/readme": "../README.md",  # present only because it points to a file
    "docs/dangling": "../nowhere.md",
}
ODD = b"src/\xff-latin1.py"  # a name that is not UTF-8


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    cmd = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-C", str(repo)]
    return subprocess.run(
        [*cmd, *args], check=True, capture_output=True, input=stdin
    ).stdout.decode()


def write(repo: Path, files: Mapping[str, str | bytes | None]) -> None:
    for rel, content in files.items():
        p = repo / rel
        if content is None:
            p.unlink()
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)


def make_repo(root: Path, files: Mapping[str, str | bytes], links: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    write(root, files)
    for rel, target in links.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(target)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    git(root, "checkout", "-qb", "feature")
    return root


def on_disk(tree: Path) -> set[str]:
    """Every file and link under a directory."""
    out = set()
    for dirpath, dirnames, files in os.walk(tree):
        rel = os.path.relpath(dirpath, tree)
        for name in files + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            out.add(name if rel == "." else f"{rel}/{name}")
    return out


def walked(tree: Path, files: list[str], excludes: tuple[str, ...] = ()) -> tuple[Any, ...]:
    """What a scan's walk of an exported tree yields (paths and kinds, diagnostics), and
    the files it counts as present."""
    seen: list[str] = []
    items = [
        (i.path, i.kind) if isinstance(i, source.SourceFile) else (i.path, i.code)
        for i in walk(tree, excludes, seen, files)
    ]
    return items, sorted(seen)


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """A size limit the test files can exceed cheaply (the scan and the export read it)."""
    monkeypatch.setattr(source, "MAX_FILE_BYTES", 4096)
    return 4096


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    """The operator's policy, outside the repository: repository rule directories allowed."""
    p = tmp_path / "platform" / "tether-policy.yml"
    p.parent.mkdir()
    p.write_text("repository: {allow: [exclude, rules]}\n")
    return p


@pytest.fixture
def repo(tmp_path: Path, small_limit: int) -> Path:
    r = make_repo(tmp_path / "repo", BASE, LINKS)
    # a name that is not UTF-8 (an unread one and a manifest's), committed as raw bytes
    for name in (ODD, b"k8s/\xfe-pod.yaml"):
        os.makedirs(os.path.dirname(os.path.join(os.fsencode(r), name)), exist_ok=True)
        with open(os.path.join(os.fsencode(r), name), "wb") as fh:
            fh.write(b"x: 1\n")
    git(r, "add", "-A")
    git(r, "commit", "-qm", "odd names")
    git(r, "branch", "-qf", "main")
    return r


def whole(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Make PR mode write out every file of the revisions it reads, as it did before; the
    written paths of each export are recorded."""
    real = gitdiff.export
    exports: list[list[str]] = []

    def everything(
        repo: Path, rev: str, *, want: Callable[[str], bool] | None = None, prefix: str = ""
    ) -> AbstractContextManager[gitdiff.Export]:
        return recorded(real(repo, rev, want=lambda p: True, prefix=prefix), exports)

    monkeypatch.setattr(gitdiff, "export", everything)
    return exports


def recording(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record what each export of PR mode has written when the scan starts (its end)."""
    real = gitdiff.export
    exports: list[list[str]] = []

    def export(
        repo: Path, rev: str, *, want: Callable[[str], bool] | None = None, prefix: str = ""
    ) -> AbstractContextManager[gitdiff.Export]:
        return recorded(real(repo, rev, want=want, prefix=prefix), exports)

    monkeypatch.setattr(gitdiff, "export", export)
    return exports


@contextmanager
def recorded(
    cm: AbstractContextManager[gitdiff.Export], out: list[list[str]]
) -> Iterator[gitdiff.Export]:
    """An export, and what it holds on disk once used (in `out`, in the order entered)."""
    slot: list[str] = []
    out.append(slot)
    with cm as exp:
        yield exp
        slot.extend(sorted(on_disk(exp.root)))


def outcome(report: Report) -> tuple[Any, ...]:
    """Everything PR mode says: findings, diagnostics and the diff, with their places."""

    def fs(found: Any) -> list[tuple[Any, ...]]:
        return sorted(
            (f.rule_id, f.path, tuple(f.span), f.target, f.subject, f.message, f.fingerprint)
            for f in found
        )

    def ds(found: Any) -> list[tuple[Any, ...]]:
        return sorted((d.path, tuple(d.span), d.code, d.message, d.level) for d in found)

    diff = report.diff
    assert diff is not None
    return (
        fs(report.findings),
        ds(report.diagnostics),
        fs(diff.new),
        fs(diff.fixed),
        fs(diff.unchanged),
        fs(diff.excepted_now),
        ds(diff.new_diagnostics),
        ds(diff.unchanged_diagnostics),
    )


def both(
    monkeypatch: pytest.MonkeyPatch, run: Callable[[], Report]
) -> tuple[Report, list[list[str]], list[list[str]]]:
    """PR mode as it is, and with every file written out: the same outcome. The report, and
    the paths each export wrote (selective, whole)."""
    with monkeypatch.context() as m:
        full = whole(m)
        expected = run()
    with monkeypatch.context() as m:
        selective = recording(m)
        report = run()
    assert outcome(report) == outcome(expected)
    return report, selective, full


def test_only_the_files_the_scan_reads_are_written(repo: Path) -> None:
    head = git(repo, "rev-parse", "main").strip()
    with gitdiff.exported(repo, head) as tree:
        everything = walked(tree, sorted(on_disk(tree)))
        assert {"src/main.py", "notes.txt", "big.bin"} <= on_disk(tree)
    with gitdiff.export(repo, head) as exp:
        written = on_disk(exp.root)
        assert written == {
            p
            for p in (*BASE, *LINKS)
            if classify(p) is not None or p in LINKS or p == "manifests/pod.txt"
        } | {"k8s/\udcfe-pod.yaml", "README.md"}  # a manifest's name; what a link names
        assert exp.written == sorted(written)
        # every file is there for the walk all the same, and nothing of it is read
        assert walked(exp.root, exp.files) == everything
        assert "src/main.py" in walked(exp.root, exp.files)[1]
        for unread in ("src/main.py", "src/util/helpers.py", "notes.txt", "docs/guide.md"):
            assert not os.path.lexists(exp.root / unread)
        assert os.fsdecode(ODD) in exp.files
        # more on request: what a kustomization lists, followed through links
        assert exp.write(["k8s/miner.txt", "docs/readme", "k8s/miner.txt"]) == ["k8s/miner.txt"]
        assert (exp.root / "k8s/miner.txt").read_text() == MINER
        assert walked(exp.root, exp.files) == everything
        assert exp.write_under("src") == [
            "src/main.py",
            "src/util/helpers.py",
            os.fsdecode(ODD),
        ]
        assert walked(exp.root, exp.files) == everything
    # nothing is left behind for the walk of another tree
    assert not source._UNWRITTEN


def test_a_file_has_a_kind_by_its_name_alone() -> None:
    """The export decides once per name whether a file is read (names repeat across
    directories): the directory may only pick which kind."""
    for path in (
        ".github/workflows/ci.yml",
        "a/.github/workflows/x.yaml",
        "action.yml",
        "deep/Dockerfile.dev",
        "x/Dockerfile.go",
        "k/Kustomization",
        "t/main.tf.json",
        "s/serverless.yml",
        "x/CODEOWNERS",
        "x/cdk.json",
        "x/template.template",
        "x/README.md",
    ):
        assert (classify(path) is None) == (classify(posixpath.basename(path)) is None), path


def test_pr_mode_judges_the_base_as_if_written_whole(
    repo: Path, policy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kustomization's oddly named resource, a link's target, the summary's anchor and the
    files that merely exist (SECURITY.md, for REPO002) are judged as before: a finding that
    was there stays unchanged, one the change introduces is new."""
    write(
        repo,
        {
            "k8s/new.yaml": POD.format(name="new", image="evil.example/new:1"),
            "README.md": "# The service, renamed\n",
            "SECURITY.md": None,  # REPO002 is new: the base had it, unread
            "tether-rules/NOTES.md": "edited\n",  # the rule directory changed (CFG002)
        },
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the change")
    options = ScanOptions(policy=operator.load(policy))
    report, selective, full = both(monkeypatch, lambda: scan_pr(repo, "main", options))
    diff = report.diff
    assert diff is not None
    new = {(f.rule_id, f.path) for f in diff.new}
    unchanged = {(f.rule_id, f.path) for f in diff.unchanged}
    assert ("K8S001", "k8s/new.yaml") in new
    assert ("REPO002", "README.md") in new
    assert ("CFG002", ".tether.yaml") in new
    for path in ("k8s/miner.txt", "shared/extra.conf", "k8s/alias.yaml"):
        assert ("K8S001", path) in unchanged, path
        assert ("ORG001", path) in unchanged, path
    assert not any(f.path.startswith("vendor/") for f in report.findings)
    assert "too-large" in {d.code for d in report.diagnostics if d.path == "big.yaml"}
    # one export (the approved revision is the merge base): written out in part
    (base,) = selective
    assert {"shared/extra.conf", "k8s/miner.txt", "listed/big.txt", "README.md"} <= set(base)
    assert {"tether-rules/NOTES.md", "manifests/pod.txt"} <= set(base)
    assert not {"src/main.py", "notes.txt", "docs/guide.md", "big.bin", "SECURITY.md"} & set(base)
    assert len(full[0]) > len(base)


def test_the_approved_revision_writes_only_its_configuration(
    repo: Path, policy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The branch the change merges into moved on: its configuration, exceptions and rule
    directories are read from it, and nothing else of it is written."""
    git(repo, "checkout", "-q", "main")
    write(repo, {".tether.yaml": "exclude: [vendor/**, shared/**]\nrules: [tether-rules]\n"})
    write(repo, {"tether-rules/MORE.md": "more\n", "later.py": "x = 1\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "main moves on")
    git(repo, "checkout", "-q", "feature")
    write(repo, {"k8s/new.yaml": POD.format(name="new", image="evil.example/new:1")})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the change")
    options = ScanOptions(policy=operator.load(policy))
    _, selective, _ = both(monkeypatch, lambda: scan_pr(repo, "main", options))
    base, approved = selective
    assert set(approved) == {
        ".tether.yaml",
        "tether-rules/ORG001.yml",
        "tether-rules/NOTES.md",
        "tether-rules/MORE.md",
        *LINKS,
        "manifests/pod.txt",
        "README.md",
    }
    assert "tether-rules/MORE.md" not in base


def test_a_base_without_files_at_its_top_and_a_scanned_subdirectory(
    tmp_path: Path, small_limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no file at the top, repository-level findings sit at the first file the walk
    passes (the operator's excludes skip some): that file is read for its first line. A
    scan of a subdirectory compares the same subdirectory."""
    r = make_repo(
        tmp_path / "repo",
        {
            "aaa/first.md": "# excluded\n",
            "bbb/anchor.txt": "the anchor's first line\n",
            "k8s/pod.yaml": POD.format(name="p", image="evil.example/p:1"),
            "k8s/notes.md": "unread\n",
        },
        {},
    )
    write(r, {"k8s/pod.yaml": POD.format(name="p", image="evil.example/q:1")})
    git(r, "commit", "-qam", "the change")
    policy = tmp_path / "policy.yml"
    policy.write_text("exclude: [aaa/**]\n")
    options = ScanOptions(policy=operator.load(policy))
    report, selective, _ = both(monkeypatch, lambda: scan_pr(r, "main", options))
    diff = report.diff
    assert diff is not None
    assert [f.path for f in diff.unchanged if f.rule_id == "REPO002"] == ["bbb/anchor.txt"]
    assert "bbb/anchor.txt" in selective[0]
    assert not {"aaa/first.md", "k8s/notes.md"} & set(selective[0])
    both(monkeypatch, lambda: scan_pr(r / "k8s", "main", options))


def test_blobs_over_the_limit_are_never_read_nor_written(
    repo: Path, small_limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the size limit a blob's bytes are neither read from git nor written: one the scan
    would read is a sparse file of its size (the scan reports it as too large, as before);
    any other is not on disk at all."""
    requested: list[bytes] = []
    real_write = gitdiff._write

    def spy(repo_: Path, entries: list[Any], tree: Any) -> None:
        requested.extend(e.oid for e in entries)
        real_write(repo_, entries, tree)

    monkeypatch.setattr(gitdiff, "_write", spy)
    head = git(repo, "rev-parse", "main").strip()
    big = {p: git(repo, "rev-parse", f"main:{p}").strip().encode() for p in BASE if "big" in p}
    with gitdiff.export(repo, head) as exp:
        exp.write(["listed/big.txt"])  # a kustomization lists it
        for rel in ("big.yaml", "listed/big.txt"):
            st = os.stat(exp.root / rel)
            assert st.st_size == len(BASE[rel]) and st.st_blocks == 0
        assert not os.path.lexists(exp.root / "big.bin")
        assert "big.bin" in walked(exp.root, exp.files)[1]
    assert requested and not set(big.values()) & set(requested)
    # in PR mode: the same too-large diagnostics as with the base written out whole
    write(repo, {"k8s/new.yaml": POD.format(name="new", image="evil.example/new:1")})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the change")
    report, _, _ = both(monkeypatch, lambda: scan_pr(repo, "main", ScanOptions()))
    too_large = {d.path: d.message for d in report.diagnostics if d.code == "too-large"}
    assert too_large == {
        "big.yaml": "file is 7.8 KiB, over the 4.0 KiB limit; not scanned",
        "listed/big.txt": "file is 7.8 KiB, over the 4.0 KiB limit; not scanned",
    }
    assert not set(big.values()) & set(requested)


def _plumbed(repo: Path, files: dict[str, str]) -> str:
    """A commit with `files` (path -> blob id) written straight into git's index: no work
    tree needed for thousands of files."""
    lines = "".join(f"100644 {oid}\t{path}\n" for path, oid in files.items())
    git(repo, "update-index", "--add", "--index-info", stdin=lines.encode())
    tree = git(repo, "write-tree").strip()
    return git(repo, "commit-tree", tree, "-m", "many files").strip()


@pytest.fixture
def many(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    r = tmp_path / "many"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    empty = git(r, "hash-object", "-w", "--stdin", stdin=b"").strip()
    pod = git(r, "hash-object", "-w", "--stdin", stdin=MINER.encode()).strip()
    files = {f"src/d{i // 1000:02d}/f{i % 1000:03d}.py": empty for i in range(20_000)}
    files["k8s/pod.yaml"] = pod
    yield r, _plumbed(r, files)


def test_twenty_thousand_unread_files_are_not_written(many: tuple[Path, str]) -> None:
    repo, commit = many
    with gitdiff.export(repo, commit) as exp:
        assert on_disk(exp.root) == {"k8s/pod.yaml"}
        assert len(exp.files) == 20_001
        items, seen = walked(exp.root, exp.files)
        assert items == [("k8s/pod.yaml", "yaml")] and len(seen) == 20_001


def test_an_untouched_file_over_the_limit_is_old_debt_and_is_not_read(
    tmp_path: Path, policy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An oversized file the change does not touch: its too-large diagnostic is unchanged
    (strict passes), though the base has only a sparse stand-in of its size. It used to be
    new on every pull request (the stand-in, zeros, never hashes as the real file does), and
    both were hashed whole (most of a 1 GiB file's run). Content is compared by git blob id:
    the base's from its listing, the head's from the index while its stat data matches; the
    file is read once when they do not (touched), and never through git. A link to it, and a
    repository rule directory holding one, are unchanged too (CFG002 is not new); an
    oversized file the change rewrites is new."""
    big = b"# " + b"x" * (source.MAX_FILE_BYTES + (1 << 20)) + b"\n"
    r = make_repo(
        tmp_path / "repo",
        {
            "README.md": "# The service\n",
            "big.yaml": big,
            "edited.yaml": big,
            "gen/bundle.txt": big,  # read under the name of the link to it
            ".tether.yaml": "rules: [tether-rules]\n",
            "tether-rules/ORG001.yml": RULE,
            "tether-rules/corpus.txt": big,
        },
        {"k8s/bundle.yaml": "../gen/bundle.txt"},
    )
    # recorded by the index as they are now, not racily clean (the index is written later)
    past = os.stat(r / "big.yaml").st_mtime - 60
    for rel in on_disk(r) - {"k8s/bundle.yaml"}:
        if not rel.startswith(".git/"):
            os.utime(r / rel, (past, past))
    git(r, "add", "-A")
    write(r, {"README.md": "# The service, renamed\n"})
    git(r, "commit", "-qam", "the change")
    blobs = {git(r, "rev-parse", f"HEAD:{p}").strip().encode() for p in ("big.yaml", "edited.yaml")}
    hashed: list[str] = []
    fetched: list[bytes] = []
    real_hash, real_write = gitdiff.hash_file, gitdiff._write

    def hash_spy(path: bytes, hexlen: int) -> bytes | None:
        hashed.append(os.path.relpath(os.fsdecode(path), os.path.realpath(r)))
        return real_hash(path, hexlen)

    def write_spy(repo_: Path, entries: list[Any], tree: Any) -> None:
        fetched.extend(e.oid for e in entries)
        real_write(repo_, entries, tree)

    monkeypatch.setattr(gitdiff, "hash_file", hash_spy)
    monkeypatch.setattr(gitdiff, "_write", write_spy)
    options = ScanOptions(policy=operator.load(policy))

    def judged() -> tuple[set[str], set[str], Decision]:
        report = scan_pr(r, "main", options)
        diff = report.diff
        assert diff is not None
        assert "CFG002" not in {f.rule_id for f in diff.new}
        return (
            {d.path for d in diff.new_diagnostics if d.code == "too-large"},
            {d.path for d in diff.unchanged_diagnostics if d.code == "too-large"},
            decide(report, "error", strict=True),
        )

    new, unchanged, decision = judged()
    assert (new, unchanged) == (set(), {"big.yaml", "edited.yaml", "k8s/bundle.yaml"})
    assert not decision.failed
    assert hashed == []  # the index knows them all
    # touched (their stat data no longer the index's): each read once, to the same blob id
    os.utime(r / "big.yaml")
    os.utime(r / "gen/bundle.txt")
    new, unchanged, _ = judged()
    assert (new, unchanged) == (set(), {"big.yaml", "edited.yaml", "k8s/bundle.yaml"})
    assert sorted(hashed) == ["big.yaml", "gen/bundle.txt"]
    # rewritten, the same size: new, and it fails a strict gate
    hashed.clear()
    write(r, {"edited.yaml": b"# " + b"y" * (len(big) - 3) + b"\n"})
    git(r, "commit", "-qam", "rewrite the oversized file")
    # none as the index has it (the commit may have refreshed them): each read once
    for rel in ("big.yaml", "edited.yaml", "gen/bundle.txt"):
        os.utime(r / rel, (past, past))
    new, unchanged, decision = judged()
    assert (new, unchanged) == ({"edited.yaml"}, {"big.yaml", "k8s/bundle.yaml"})
    assert [d.path for d in decision.diagnostics] == ["edited.yaml"]
    assert sorted(hashed) == ["big.yaml", "edited.yaml", "gen/bundle.txt"]
    # nothing over the limit is ever read from git
    assert fetched and not blobs & set(fetched)
