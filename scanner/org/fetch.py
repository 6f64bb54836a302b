"""Extracting a repository snapshot (a REST tarball of one commit) for the org scan.

GitHub's `GET /repos/{o}/{r}/tarball/{sha}` answers with a gzip'd tar whose members sit under
one top-level directory (`owner-repo-sha/`). The archive is hostile input: only regular files
tether would read are written (configuration, not source code), under a directory tether
created, with every path checked (no absolute paths, no `..`, no `.git`, nothing through a
link), a cap per file and per archive, and no links, devices or FIFOs at all. What is left out
for a reason the scan should know about is returned as a note, never silently dropped.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..source import MAX_FILE_BYTES, classify

MAX_ARCHIVE_BYTES = 512 * 1024 * 1024  # what one repository may write to disk
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
    # the archive is hostile (a member claiming more than GitHub can hold): nothing of it is
    # to be trusted, the repository fails with this reason
    refused: str | None = None


def _clean(name: str) -> str | None:
    """The member's path inside the repository (the top-level directory stripped), or None
    when it is not a safe relative path."""
    parts = name.replace("\\", "/").split("/")
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
) -> Extracted:
    """Write the wanted regular files of a tar(.gz) stream under `dest` (an empty directory
    the caller created). Oversized files are written as sparse files of their size, so the
    scan reports them as too large exactly as it would in a checkout."""
    out = Extracted()
    dest_fd_root = os.path.realpath(dest)
    members = 0
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
            if not member.isfile():
                if (member.issym() or member.islnk()) and want(rel):
                    out.notes.append((rel, "a link in the snapshot; not followed"))
                continue
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


def _open_new(root: str, rel: str) -> IO[bytes] | None:
    """Create `rel` under `root` for writing: every directory created here (never through a
    link), the file created exclusively, never following a link."""
    parts = rel.split("/")
    d = root
    try:
        for p in parts[:-1]:
            d = os.path.join(d, p)
            if os.path.islink(d):
                return None
            if not os.path.isdir(d):
                os.mkdir(d, 0o700)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(os.path.join(d, parts[-1]), flags, 0o600)
    except OSError:
        return None
    return os.fdopen(fd, "wb")
