"""Where files come from: a local directory, walked without following symlinks out of it."""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .model import WHOLE_FILE, Diagnostic, Level
from .policy.functions import glob_match

# Directories skipped because they say what they are (a marker file inside), never by name
# alone: a manifest under `k8s/venv/` or a module under `node_modules/` is the repository's
# own unless the directory is marked. Each skipped directory is reported once.
_MARKERS: tuple[tuple[str, str], ...] = (
    ("pyvenv.cfg", "a Python virtual environment (pyvenv.cfg)"),
    ("CACHEDIR.TAG", "a cache directory (CACHEDIR.TAG)"),
    (".package-lock.json", "installed npm packages (.package-lock.json)"),
    (".yarn-integrity", "installed yarn packages (.yarn-integrity)"),
    (".modules.yaml", "installed pnpm packages (.modules.yaml)"),
)
# `.terraform` holds downloaded modules and providers once `terraform init` has run.
_TERRAFORM_MARKERS = ("modules", "providers", "terraform.tfstate", "environment")


def marked(name: str, dirnames: list[str], filenames: list[str]) -> str | None:
    """What a directory is, when its contents mark it as generated, installed or another
    repository (a nested checkout, such as the platform's policy checked out beside the code,
    or a submodule)."""
    files = set(filenames)
    if ".git" in files or ".git" in dirnames:
        return "another git repository (a nested checkout or submodule)"
    for marker, what in _MARKERS:
        if marker in files:
            return what
    if name == ".terraform" and (files | set(dirnames)) & set(_TERRAFORM_MARKERS):
        return "a Terraform working directory (terraform init)"
    return None


MAX_FILE_BYTES = 5 * 1024 * 1024

# Files a tree holds without their bytes on disk, by the tree's real path: directory ('' at the
# top) -> file names. PR mode writes out only the base revision's files that the scan reads;
# `walk` passes the others as present all the same (repository-level facts list every file).
_UNWRITTEN: dict[str, Mapping[str, Collection[str]]] = {}


def unwritten(root: str, names: Mapping[str, Collection[str]] | None) -> None:
    """Say which files under `root` (a real path) are present though not on disk, for `walk`
    (None: no more). Only files of no kind may be named: they are counted, never read. The
    mapping is read at each walk, so it may change in between (a file written out later)."""
    if names is None:
        _UNWRITTEN.pop(root, None)
    else:
        _UNWRITTEN[root] = names


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str  # repo-relative, POSIX separators
    abspath: str
    kind: str


def classify(rel: str) -> str | None:
    """The parser a file goes to, from its path alone (None: not tether's business)."""
    base = posixpath.basename(rel)
    low = base.lower()
    if low.endswith((".tf", ".tofu")):  # OpenTofu reads both; .tofu is its own
        return "terraform"
    if low.endswith((".tf.json", ".tofu.json")):
        return "terraform-json"
    if _is_dockerfile(low):
        return "dockerfile"
    if base == "Kustomization":  # kustomize's third name for a kustomization file
        return "yaml"
    if low.endswith((".yml", ".yaml")):
        parent = posixpath.dirname(rel)
        if parent == ".github/workflows":
            return "gha-workflow"
        if low in ("action.yml", "action.yaml"):
            return "gha-action"
        return "yaml"
    if low in ("jenkinsfile", "codeowners", "cdk.json") or low.startswith("jenkinsfile"):
        return "presence"
    if low.endswith(".json"):
        return "json"  # Kubernetes manifests (kubectl applies .json), CloudFormation/SAM
    if low.endswith(".template"):
        return "template"  # CloudFormation/SAM templates
    if low.startswith("serverless."):
        return "presence"
    return None


# `Dockerfile.go`, `dockerfile_test.go`: source code about Dockerfiles, not Dockerfiles.
_NOT_DOCKERFILE = frozenset(
    (
        "go",
        "py",
        "pyi",
        "js",
        "mjs",
        "cjs",
        "ts",
        "tsx",
        "jsx",
        "rs",
        "java",
        "kt",
        "scala",
        "rb",
        "php",
        "cs",
        "c",
        "h",
        "cc",
        "cpp",
        "hpp",
        "swift",
        "sh",
        "bash",
        "ps1",
        "bat",
        "md",
        "rst",
        "adoc",
        "txt",
        "html",
        "css",
        "json",
        "yaml",
        "yml",
        "toml",
        "xml",
        "lock",
        "sum",
        "mod",
        # binaries and media a docs or build directory holds (a diagram of a Dockerfile's
        # layers is not a Dockerfile; reading it as one was an error that failed the run)
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "webp",
        "bmp",
        "ico",
        "pdf",
        "pyc",
        "pyo",
        "class",
        "jar",
        "o",
        "so",
        "dll",
        "exe",
        "bin",
        "zip",
        "gz",
        "tgz",
        "bz2",
        "xz",
        "zst",
        "7z",
        "tar",
        "woff",
        "woff2",
        "ttf",
        "mp4",
        "mov",
        "drawio",
    )
)


def _is_dockerfile(low: str) -> bool:
    """`Dockerfile`, `Containerfile`, `Dockerfile.dev`, `Dockerfile-alpine`, `app.dockerfile`."""
    if low in ("dockerfile", "containerfile") or low.endswith((".dockerfile", ".containerfile")):
        return True
    for stem in ("dockerfile", "containerfile"):
        if low.startswith(stem) and low[len(stem) : len(stem) + 1] in (".", "-", "_"):
            return posixpath.splitext(low)[1].lstrip(".") not in _NOT_DOCKERFILE
    return False


def _excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    return any(glob_match(rel, p) or glob_match(rel, p.rstrip("/") + "/**") for p in patterns)


def _dir_excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    """A directory every file of which is excluded (`vendor`, `vendor/`, `vendor/**`):
    not walked at all."""
    for p in patterns:
        base = p.rstrip("/")
        if base.endswith("/**"):
            base = base[:-3]
        if glob_match(rel, base) or glob_match(rel, p):
            return True
    return False


def within(rel: str, scope: Collection[str]) -> bool:
    """Whether a repository path is one of `scope`'s paths (files or directories) or lies
    under one of them."""
    if rel in scope:
        return True
    i = rel.find("/")
    while i != -1:
        if rel[:i] in scope:
            return True
        i = rel.find("/", i + 1)
    return False


def walk(
    root: Path,
    excludes: tuple[str, ...] = (),
    seen: list[str] | None = None,
    only: Collection[str] | None = None,
    scope: Collection[str] | None = None,
) -> Iterator[SourceFile | Diagnostic]:
    """Files under root in a stable order. Symlinks are never followed: a link that points
    outside the repository is reported, one inside is skipped (its target is scanned where it
    lives). `.git` is git's own; directories marked as generated (a virtual environment,
    installed packages, a cache, an initialised `.terraform`) and directories the excludes
    cover are skipped and reported once each (a note), never silently.

    `only` restricts the walk to a file set (repo-relative paths): PR mode's tracked and
    untracked-but-not-ignored files; marked directories are then not skipped, because what
    git tracks is the repository's content.

    `scope` restricts the walk to some of the repository's paths (files or directories,
    repo-relative, as `tether scan PATH...` names them), the rest of the tree being entered
    only on the way to them. A directory it names, or one on the way to it, is walked even
    when marked (it was asked for by name); excludes still apply, and a file it names that
    an exclude covers is reported rather than passed over silently.

    `seen`, when given, receives the path of every file the walk passes that is not excluded,
    whatever its kind and without reading it (repository-level facts: which files exist). A
    symbolic link counts as present only when it resolves to a file inside the repository."""
    root_real = os.path.realpath(root)
    wanted: frozenset[str] | None = None
    wanted_dirs: frozenset[str] = frozenset()
    if only is not None:
        wanted = frozenset(only)
        wanted_dirs = _parents(wanted)
    named: frozenset[str] | None = None  # scope's own paths
    on_the_way: frozenset[str] = frozenset()  # directories above them
    if scope is not None:
        named = frozenset(scope)
        on_the_way = _parents(named)
    errors: list[OSError] = []
    absent = _UNWRITTEN.get(root_real)  # present, not on disk (see unwritten)
    walker = os.walk(root_real, onerror=errors.append, followlinks=False)
    for dirpath, dirnames, filenames in walker:
        yield from _walk_errors(root_real, errors)
        rel_dir = os.path.relpath(dirpath, root_real)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        if absent is not None and rel_dir in absent:
            filenames = [*filenames, *absent[rel_dir]]
        asked = named is not None and (rel_dir in on_the_way or rel_dir in named)
        if rel_dir and wanted is None and not asked:
            what = marked(os.path.basename(dirpath), dirnames, filenames)
            if what is not None:
                dirnames[:] = []
                yield file_diagnostic(
                    rel_dir,
                    "excluded-directory",
                    f"not scanned: {what}; add it to exclude to say so explicitly",
                    Level.NOTE,
                )
                continue
        keep = []
        for d in sorted(dirnames):
            rel = f"{rel_dir}/{d}" if rel_dir else d
            full = os.path.join(dirpath, d)
            if d == ".git":
                continue
            if wanted is not None and rel not in wanted_dirs:
                continue
            if named is not None and rel not in on_the_way and not within(rel, named):
                continue
            if _dir_excluded(rel, excludes):
                yield file_diagnostic(
                    rel,
                    "excluded-directory",
                    "not scanned: excluded by configuration",
                    Level.NOTE,
                )
                continue
            if not _utf8(rel):
                yield _bad_name(rel, "directory")
                continue
            if os.path.islink(full):
                diag = _link_diag(root_real, full, rel) or _dir_link_unjudged(
                    root_real, full, rel, excludes
                )
                if diag:
                    yield diag
                continue
            keep.append(d)
        dirnames[:] = keep
        links: frozenset[str] | None = None  # symbolic links of this directory, when needed
        for f in sorted(filenames):
            rel = f"{rel_dir}/{f}" if rel_dir else f
            if wanted is not None and rel not in wanted:
                continue
            if named is not None and not within(rel, named):
                continue
            if not _utf8(rel):
                if classify(rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")):
                    yield _bad_name(rel, "file")
                continue
            kind = classify(rel)
            if kind is None and seen is None:
                continue
            excluded = _excluded(rel, excludes)
            if excluded and kind is not None and named is not None and rel in named:
                yield file_diagnostic(
                    rel, "excluded-file", "not scanned: excluded by configuration", Level.NOTE
                )
            if seen is not None and not excluded:
                if links is None:
                    links = _symlinks(dirpath)
                if f not in links or _inside(root_real, os.path.join(dirpath, f)):
                    seen.append(rel)
            if kind is None or excluded:
                continue
            full = os.path.join(dirpath, f)
            if os.path.islink(full):
                # a link to a file of another kind inside the repository (k8s/pod.yaml ->
                # ../docs/pod.txt) is read under its own name: kubectl follows it
                linked = in_repo_link(root_real, full, rel, kind, excludes)
                if linked is not None:
                    yield linked
                    continue
                diag = _link_diag(root_real, full, rel)
                if diag:
                    yield diag
                continue
            yield SourceFile(rel, full, kind)
    yield from _walk_errors(root_real, errors)


def _parents(paths: frozenset[str]) -> frozenset[str]:
    """Every directory above the given repository paths ('' excluded)."""
    return frozenset(p[:i] for p in paths for i in range(len(p)) if p[i] == "/")


def file_diagnostic(path: str, code: str, message: str, level: Level) -> Diagnostic:
    """A diagnostic about a whole file (or directory): located at its start."""
    return Diagnostic(path, WHOLE_FILE, code, message, level)


def _utf8(name: str) -> bool:
    """Paths go into SARIF URIs, JSON and fingerprints, all UTF-8: os.walk hands undecodable
    bytes back as lone surrogates, which cannot be encoded."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad_name(rel: str, what: str) -> Diagnostic:
    shown = rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return file_diagnostic(
        shown,
        "unreadable",
        f"{what} name is not valid UTF-8; not scanned (rename it)",
        Level.WARNING,
    )


def _symlinks(dirpath: str) -> frozenset[str]:
    """Names of the symbolic links in a directory: one directory read (the entry types come
    with it), where an lstat of every file would cost a system call each."""
    try:
        with os.scandir(dirpath) as it:
            return frozenset(e.name for e in it if e.is_symlink())
    except OSError:
        return frozenset()


def _inside(root_real: str, link: str) -> bool:
    """A symbolic link that resolves to a file inside the repository (not out of it, not
    dangling)."""
    target = os.path.realpath(link)
    return target.startswith(root_real + os.sep) and os.path.isfile(target)


def _walk_errors(root_real: str, errors: list[OSError]) -> Iterator[Diagnostic]:
    """Directories os.walk could not list (permissions): reported, not silently skipped."""
    while errors:
        e = errors.pop(0)
        where = os.path.relpath(e.filename, root_real).replace(os.sep, "/") if e.filename else "."
        yield file_diagnostic(
            where,
            "unreadable",
            f"cannot list directory: {e.strerror}; its files are not scanned",
            Level.ERROR,
        )


def in_repo_link(
    root_real: str, full: str, rel: str, kind: str, excludes: tuple[str, ...] = ()
) -> SourceFile | None:
    """A symbolic link inside the repository to be scanned under its own path: it resolves to
    a regular file inside the repository whose own name tether reads as another kind (or
    not at all), so the target is not scanned as what the link's name says, while kubectl
    and the other tools that follow the link read it as that. The file is read at its real
    path (inside the repository); findings point at the link. None for every other link:
    one to a file of the same kind is scanned where it lives, unless it lives where the scan
    does not look (an excluded path): then it is scanned under the link's path too. Nothing
    under `.git` is ever read."""
    target = os.path.realpath(full)
    if not target.startswith(root_real + os.sep) or not os.path.isfile(target):
        return None
    target_rel = os.path.relpath(target, root_real).replace(os.sep, "/")
    if not _utf8(target_rel) or ".git" in target_rel.lower().split("/"):
        return None
    if classify(target_rel) == kind and not _excluded(target_rel, excludes):
        return None
    return SourceFile(rel, target, kind)


def _link_diag(root_real: str, full: str, rel: str) -> Diagnostic | None:
    target = os.path.realpath(full)
    if target == root_real or target.startswith(root_real + os.sep):
        return None
    return file_diagnostic(
        rel,
        "symlink-outside-repo",
        "symbolic link points outside the repository; not followed",
        Level.NOTE,
    )


def _dir_link_unjudged(
    root_real: str, full: str, rel: str, excludes: tuple[str, ...]
) -> Diagnostic | None:
    """A link to a directory inside the repository is not walked (its target is, where it
    lives), unless the target is excluded or git's own: then nothing judges what a tool
    following the link (`kubectl apply -f deploy/`) would read, and that is said."""
    target = os.path.relpath(os.path.realpath(full), root_real).replace(os.sep, "/")
    parts = target.split("/")
    unjudged = any(p.lower() == ".git" for p in parts) or any(
        _dir_excluded("/".join(parts[:i]), excludes) for i in range(1, len(parts) + 1)
    )
    if not unjudged:
        return None
    return file_diagnostic(
        rel,
        "link-to-unjudged-directory",
        f"a link to {target}, which the excludes cover (or git's own directory): its files "
        "are judged under neither name, yet tools that follow the link read them",
        Level.WARNING,
    )


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    return f"{n / 1024:.1f} KiB"


# how the diagnostic of a read that failed begins (EIO, EACCES...: it may not fail next time)
READ_FAILED = "cannot read file"


def read(sf: SourceFile) -> bytes | Diagnostic:
    try:
        st = os.stat(sf.abspath)
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
            return file_diagnostic(
                sf.path,
                "unreadable",
                "not a regular file; not scanned",
                Level.WARNING,
            )
        if st.st_size > MAX_FILE_BYTES:
            return file_diagnostic(
                sf.path,
                "too-large",
                f"file is {_size(st.st_size)}, over the {_size(MAX_FILE_BYTES)} limit; not scanned",
                Level.WARNING,
            )
        with open(sf.abspath, "rb") as fh:
            return fh.read()
    except OSError as e:
        return file_diagnostic(
            sf.path, "unreadable", f"{READ_FAILED}: {e.strerror}", Level.ERROR
        )


def read_regular(path: str) -> bytes | None:
    """A regular file's bytes (None for FIFOs, devices, oversized or unreadable files): for
    the layers that re-read a scanned file (inline exceptions, SARIF line hashes)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE_BYTES:
            return None
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None
