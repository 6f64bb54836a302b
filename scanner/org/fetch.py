"""Extracting a repository snapshot (a REST tarball of one commit) for the org scan.

GitHub's `GET /repos/{o}/{r}/tarball/{sha}` answers with a gzip'd tar whose members sit under
one top-level directory (`owner-repo-sha/`). The archive is hostile input: only regular files
tether would read are written (configuration, not source code), under a directory tether
created, with every path checked (no absolute paths, no `..`, no `.git`, nothing through a
link), a cap per file and per archive, and no links, devices or FIFOs at all. What is left out
for a reason the scan should know about is returned as a note, never silently dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tarfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..github.client import TreeEntry
from ..source import MAX_FILE_BYTES, classify

# what one repository may write to disk: configuration files only (a scan holds about 2.5 MiB
# of memory per MiB of configuration, and several repositories are scanned at once)
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
# what the archive may expand to, read or not: a small repository can hold one large blob
# under many names, which the archive repeats (gzip makes that cheap to send, not to read)
MAX_EXPANDED_BYTES = 4 * 1024 * 1024 * 1024
MAX_BLOB_FETCHES = 500  # files read one by one from the commit when the archive lacks them
MAX_MEMBERS = 500_000
# GitHub refuses files over 100 MB; a header claiming more than this is hostile, and tarfile's
# stream mode would skip past it one empty read at a time (forever, for a size like 2**62)
MAX_MEMBER_BYTES = 1024 * 1024 * 1024


@dataclass
class Extracted:
    files: int = 0
    bytes: int = 0
    # (path, why) for members a scan of the checkout would have looked at but that were not
    # written: links, oversized files, paths that cannot be written safely
    notes: list[tuple[str, str]] = field(default_factory=list)
    truncated: bool = False  # the archive cap was reached: the rest was not extracted
    sizes: dict[str, int] = field(default_factory=dict)  # regular files written, by path
    links: dict[str, str] = field(default_factory=dict)  # symbolic links: path -> target
    restored: list[str] = field(default_factory=list)  # read from the commit (see complete)
    # the archive is hostile (a member claiming more than GitHub can hold): nothing of it is
    # to be trusted, the repository fails with this reason
    refused: str | None = None


def _clean(name: str) -> str | None:
    """The member's path inside the repository (the top-level directory stripped), or None
    when it is not a safe relative path."""
    parts = name.split("/")  # a backslash is a character of a file name, as in a checkout
    if len(parts) < 2 or name.startswith("/") or "\0" in name:  # a PAX path may hold NUL
        return None
    rest = [p for p in parts[1:] if p not in ("", ".")]
    if not rest or any(p == ".." or p.lower() == ".git" for p in rest):
        return None
    return "/".join(rest)


def wanted(rel: str) -> bool:
    """Whether the scan reads this path: what `source.classify` knows, plus the files
    repository-level rules look for (ownership, dependency updates, security policy)."""
    if classify(rel) is not None:
        return True
    base = rel.rsplit("/", 1)[-1].lower()
    return base in {
        "codeowners",
        "security.md",
        "readme.md",
        "readme",
        "renovate.json",
        "renovate.json5",
        ".renovaterc",
        ".renovaterc.json",
        "catalog-info.yaml",
        "catalog-info.yml",
        "kustomization",
    }


def extract(
    stream: IO[bytes],
    dest: Path,
    *,
    want: Callable[[str], bool] = wanted,
    max_file: int = MAX_FILE_BYTES,
    max_archive: int = MAX_ARCHIVE_BYTES,
    stop: Callable[[], bool] | None = None,
) -> Extracted:
    """Write the wanted regular files of a tar(.gz) stream under `dest` (an empty directory
    the caller created). Oversized files are written as sparse files of their size, so the
    scan reports them as too large exactly as it would in a checkout."""
    out = Extracted()
    dest_fd_root = os.path.realpath(dest)
    members = 0
    expanded = 0
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            members += 1
            if member.size > MAX_MEMBER_BYTES:
                out.refused = (
                    f"an entry claims {member.size} bytes, more than GitHub stores in one file "
                    f"({_shown(member.name)})"
                )
                break
            if members > MAX_MEMBERS:
                out.truncated = True
                break
            rel = _clean(member.name)
            if rel is None:
                if members > 1 or member.name.count("/") > 1 or not member.isdir():
                    out.notes.append(
                        (_shown(member.name), "unsafe path in the snapshot; not extracted")
                    )
                continue
            if stop is not None and stop():
                raise InterruptedError("stopped")
            if not member.isfile():
                if member.issym():
                    out.links[rel] = member.linkname  # recreated by complete(), never followed
                elif member.islnk() and want(rel):
                    out.notes.append((rel, "a hard link in the snapshot; not followed"))
                continue
            expanded += member.size
            if expanded > MAX_EXPANDED_BYTES:
                out.refused = (
                    f"the snapshot expands to more than {MAX_EXPANDED_BYTES >> 30} GiB; "
                    "the org scan does not read repositories this large"
                )
                break
            if not want(rel):
                continue
            if out.bytes + min(member.size, max_file) > max_archive:
                out.truncated = True
                break
            target = _open_new(dest_fd_root, rel)
            if target is None:
                out.notes.append((rel, "path cannot be written safely; not scanned"))
                continue
            with target as fh:
                if member.size > max_file:
                    fh.truncate(member.size)  # sparse: the scan says "too large"
                else:
                    _copy(tar.extractfile(member), fh, member.size)
            out.files += 1
            out.bytes += min(member.size, max_file)
            out.sizes[rel] = member.size
    return out


def _shown(name: str) -> str:
    """A member name as a note may print it: printable, bounded."""
    text = "".join(c if c.isprintable() else "?" for c in name[:200])
    return text + ("…" if len(name) > 200 else "")


def _copy(src: IO[bytes] | None, dst: IO[bytes], size: int) -> None:
    remaining = size
    while src is not None and remaining > 0:
        chunk = src.read(min(1 << 20, remaining))
        if not chunk:
            break
        dst.write(chunk)
        remaining -= len(chunk)


def _new_path(root: str, rel: str) -> str:
    """The path of `rel` under `root` with every directory on the way created here, never
    through a link (OSError when one is a link or cannot be made)."""
    parts = rel.split("/")
    d = root
    for p in parts[:-1]:
        d = os.path.join(d, p)
        if os.path.islink(d):
            raise OSError(f"a link on the way: {p}")
        if not os.path.isdir(d):
            os.mkdir(d, 0o700)
    return os.path.join(d, parts[-1])


def _open_new(root: str, rel: str) -> IO[bytes] | None:
    """Create `rel` under `root` for writing: the file created exclusively, never following a
    link (None when that cannot be done safely)."""
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(_new_path(root, rel), flags, 0o600)
    except OSError:
        return None
    return os.fdopen(fd, "wb")


class Refused(Exception):
    """The snapshot cannot be judged faithfully: the repository fails with this reason."""


def _safe_rel(rel: str) -> bool:
    return _clean("top/" + rel) == rel


def complete(
    dest: Path,
    got: Extracted,
    entries: Sequence[TreeEntry],
    truncated: bool,
    read_blob: Callable[[str, int], bytes],
    *,
    want: Callable[[str], bool] = wanted,
    listed: Callable[[Path], Iterable[str]] | None = None,
    max_file: int = MAX_FILE_BYTES,
    max_fetch: int = MAX_BLOB_FETCHES,
) -> None:
    """Make the extracted tree under `dest` what a checkout of the commit holds, as far as a
    scan can tell, from the commit's own file list (`entries`, GitHub's recursive tree).

    GitHub builds the tarball with `git archive`, which honours the repository's own
    `.gitattributes`: `export-ignore` leaves files out, `export-subst` rewrites them. So a
    wanted file the archive lacks, or holds with other bytes, is read from the commit
    (`read_blob(sha, max_bytes)`); an archive entry the commit does not have is removed;
    every other file of the commit is created empty (a scan reads only what it knows, but
    repository-level rules look at which files exist), except the files a kustomization
    lists (`listed(dest)`: kustomize reads them as YAML whatever their names) and the files
    a wanted name links to, which are read too; symbolic links are recreated as links, last,
    so that the scan treats them as it treats a checkout's.

    Raises :class:`Refused` when the commit's list is truncated or more than `max_fetch`
    distinct blobs would have to be read one by one; the count is made before the first
    request, so a refused repository costs no more than its archive."""
    if truncated:
        raise Refused(
            "GitHub truncated the commit's file list (over 100,000 entries): the archive "
            "cannot be checked against it; scan this repository from a checkout"
        )
    root = os.path.realpath(dest)
    files: dict[str, TreeEntry] = {}
    links: dict[str, TreeEntry] = {}
    for e in entries:
        if e.type != "blob":
            continue
        if not _safe_rel(e.path):
            got.notes.append((_shown(e.path), "unsafe path in the commit; not scanned"))
        elif e.mode == "120000":
            links[e.path] = e
        else:
            files[e.path] = e
    budget = _Budget(max_fetch)
    written: dict[str, str] = {}  # blob sha -> a path already holding it: read once
    # what the archive holds and the commit does not is not the repository's
    for rel in sorted(set(got.sizes) - set(files)):
        os.unlink(os.path.join(root, rel))
        del got.sizes[rel]
        got.notes.append((rel, "in the archive but not in the commit; not scanned"))
    need = [
        e
        for rel, e in files.items()
        if want(rel)
        and not (
            got.sizes.get(rel) == (e.size or 0)
            and ((e.size or 0) > max_file or _blob_id(os.path.join(root, rel)) == e.sha)
        )
    ]
    link_reads = [e for rel, e in links.items() if rel not in got.links]
    budget.plan([*(e.sha for e in need if (e.size or 0) <= max_file), *(e.sha for e in link_reads)])
    for e in need:
        _replace(root, e, got, read_blob, max_file, written, restored=True)
    for rel in files:
        if rel not in got.sizes:
            handle = _open_new(root, rel)  # a placeholder: present, never read
            if handle is not None:
                handle.close()
    targets = dict(got.links)
    link_text: dict[str, str] = {}  # by blob sha: many links to one target, one read
    for e in link_reads:
        if e.sha not in link_text:
            link_text[e.sha] = read_blob(e.sha, 4096).decode("utf-8", "surrogateescape")
        targets[e.path] = link_text[e.sha]
    # a wanted name that links to a file of the commit is judged under that name, and a
    # kustomization's listed files are read: both need the file's content
    extra = {_resolve(rel, targets) for rel in links if want(rel)}
    if listed is not None:
        extra |= {_resolve(rel, targets) for rel in listed(dest)}
    more = [files[r] for r in sorted(p for p in extra if p is not None) if r in files]
    more = [e for e in more if e.path not in got.sizes]
    budget.plan([e.sha for e in more if (e.size or 0) <= max_file])
    for e in more:
        _replace(root, e, got, read_blob, max_file, written, restored=False)
    for rel in links:
        if not _make_link(root, rel, targets[rel]):
            got.notes.append((rel, "a link that cannot be recreated safely; not scanned"))


class _Budget:
    """Distinct blobs read one by one, checked against the cap before they are read."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.shas: set[str] = set()

    def plan(self, shas: Iterable[str]) -> None:
        self.shas.update(shas)
        if len(self.shas) > self.cap:
            raise Refused(
                f"more than {self.cap} files would have to be read one by one from the commit "
                "(left out of GitHub's archive by .gitattributes export-ignore, rewritten by "
                "export-subst, or linked)"
            )


def _replace(
    root: str,
    e: TreeEntry,
    got: Extracted,
    read_blob: Callable[[str, int], bytes],
    max_file: int,
    written: dict[str, str],
    *,
    restored: bool,
) -> None:
    """Write the commit's content of `e` in place of what the archive (or a placeholder)
    left there."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(root, e.path))
    size = e.size or 0
    handle = _open_new(root, e.path)
    if handle is None:
        got.notes.append((e.path, "path cannot be written safely; not scanned"))
        return
    with handle as fh:
        if size > max_file:
            fh.truncate(size)  # sparse: the scan says "too large", as in a checkout
        elif e.sha in written:
            with open(written[e.sha], "rb") as src:
                shutil.copyfileobj(src, fh)
        else:
            fh.write(read_blob(e.sha, max_file))
            written[e.sha] = os.path.join(root, e.path)
    got.sizes[e.path] = size
    if restored:
        got.restored.append(e.path)


def _blob_id(path: str) -> str | None:
    """Git's object id of the file's content (SHA-1 over "blob <size>\\0" and the bytes)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _resolve(rel: str, targets: Mapping[str, str]) -> str | None:
    """The path inside the repository that `rel` names once every link on the way is
    followed, component by component as the kernel does (a link to a directory in the
    middle, `..` after a link; at most 40 links); None when it leaves the repository."""
    pending = rel.split("/")
    done: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not done:
                return None
            done.pop()
            continue
        done.append(part)
        target = targets.get("/".join(done))
        if target is not None:
            hops += 1
            if hops > 40 or target.startswith("/"):
                return None
            done.pop()  # a link's target is relative to the directory holding it
            pending = target.split("/") + pending
    return "/".join(done) or None


def _make_link(root: str, rel: str, target: str) -> bool:
    """Create the symbolic link `rel` -> `target` under `root` (directories created here,
    never through a link). The target is not checked: the scan never follows a link out of
    the repository, and reports it, as it does in a checkout."""
    if "\0" in target or not target:
        return False
    try:
        os.symlink(target, _new_path(root, rel))
    except OSError:
        return False
    return True
