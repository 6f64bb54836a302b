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
import tarfile
from collections.abc import Callable, Sequence
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
    max_file: int = MAX_FILE_BYTES,
    max_fetch: int = MAX_BLOB_FETCHES,
) -> None:
    """Make the extracted tree under `dest` what a checkout of the commit holds, as far as a
    scan can tell, from the commit's own file list (`entries`, GitHub's recursive tree).

    GitHub builds the tarball with `git archive`, which honours the repository's own
    `.gitattributes`: `export-ignore` leaves files out, `export-subst` rewrites them. So a
    wanted file the archive lacks, or holds at another size, is read from the commit
    (`read_blob(sha, max_bytes)`); an archive entry the commit does not have is removed;
    every other file of the commit is created empty (a scan reads only what it knows, but
    repository-level rules look at which files exist); symbolic links are recreated as links,
    last, so that the scan treats them as it treats a checkout's. Raises :class:`Refused`
    when the commit's list is truncated or more than `max_fetch` files must be read one by
    one."""
    if truncated:
        raise Refused(
            "GitHub truncated the commit's file list (over 100,000 entries): the archive "
            "cannot be checked against it; scan this repository from a checkout"
        )
    root = os.path.realpath(dest)
    in_commit: set[str] = set()
    links: list[TreeEntry] = []
    fetched = 0
    for e in entries:
        if e.type != "blob":
            continue
        rel = e.path
        if not _safe_rel(rel):
            got.notes.append((_shown(rel), "unsafe path in the commit; not scanned"))
            continue
        in_commit.add(rel)
        if e.mode == "120000":
            links.append(e)
            continue
        size = e.size or 0
        have = got.sizes.get(rel)
        if not want(rel):
            if have is None:
                handle = _open_new(root, rel)
                if handle is not None:
                    handle.close()
            continue
        if have == size and (size > max_file or _blob_id(os.path.join(root, rel)) == e.sha):
            continue  # byte for byte what the commit holds (export-subst rewrites are not)
        if have is not None:
            os.unlink(os.path.join(root, rel))
        if size <= max_file:
            fetched += 1
            if fetched > max_fetch:
                raise Refused(
                    f"more than {max_fetch} configuration files are left out of GitHub's "
                    "archive (.gitattributes export-ignore) or rewritten in it (export-subst)"
                )
        target = _open_new(root, rel)
        if target is None:
            got.notes.append((rel, "path cannot be written safely; not scanned"))
            continue
        with target as fh:
            if size > max_file:
                fh.truncate(size)  # sparse: the scan says "too large", as in a checkout
            else:
                fh.write(read_blob(e.sha, max_file))
        got.sizes[rel] = size
        got.restored.append(rel)
    for rel in sorted(set(got.sizes) - in_commit):
        os.unlink(os.path.join(root, rel))
        del got.sizes[rel]
        got.notes.append((rel, "in the archive but not in the commit; not scanned"))
    targets = {
        e.path: got.links.get(e.path) or read_blob(e.sha, 4096).decode("utf-8", "surrogateescape")
        for e in links
    }
    by_path = {e.path: e for e in entries if e.type == "blob"}
    for e in links:
        # a wanted name whose link resolves to a file of the commit is scanned under that
        # name, as in a checkout: the file it names needs its content, not a placeholder
        real = _resolve(e.path, targets) if want(e.path) else None
        if real is not None and real in by_path and real not in got.sizes:
            entry = by_path[real]
            size = entry.size or 0
            if size <= max_file:
                fetched += 1
                if fetched > max_fetch:
                    raise Refused(f"more than {max_fetch} files must be read from the commit")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(root, real))
            handle = _open_new(root, real)
            if handle is not None:
                with handle as fh:
                    if size > max_file:
                        fh.truncate(size)
                    else:
                        fh.write(read_blob(entry.sha, max_file))
                got.sizes[real] = size
    for e in links:
        if not _make_link(root, e.path, targets[e.path]):
            got.notes.append((e.path, "a link that cannot be recreated safely; not scanned"))


def _blob_id(path: str) -> str | None:
    """Git's object id of the file's content (SHA-1 over "blob <size>\\0" and the bytes)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _resolve(rel: str, targets: dict[str, str]) -> str | None:
    """The path inside the repository a link resolves to, following links among `targets`
    (at most 40, as the kernel does); None when it leaves the repository."""
    path = rel
    for _ in range(40):
        target = targets.get(path)
        if target is None:
            return path
        if target.startswith("/"):
            return None
        parts: list[str] = path.split("/")[:-1]
        for p in target.split("/"):
            if p in ("", "."):
                continue
            if p == "..":
                if not parts:
                    return None
                parts.pop()
            else:
                parts.append(p)
        path = "/".join(parts)
    return None


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
