"""PR mode's access to git: where the work tree is, which files the head has, the merge base,
the base revision as files, and the renames between the base and HEAD.

Guarantees (issue 7, items 7, 9 and 18):

- Nothing the repository chooses is executed. Every git call runs with hooks pointed at
  /dev/null, fsmonitor off, no pager, no external diff, no textconv and no terminal prompt, and
  none asks git to convert content. The base revision is read as raw blobs (`git ls-tree`, then
  `git cat-file --batch-check` and `git cat-file --batch`, see `export`), not with `git
  archive`, so no smudge, clean or `process` filter driver (git-lfs included) runs and no
  `export-subst`, `export-ignore` or `eol` attribute applies, whatever `.gitattributes` and the
  user's or CI's git configuration say. Renames come from a tree-to-tree `git diff-tree`: no
  working tree is read, so no clean filter runs. Whether the change rewrote a file is decided by
  blob ids (`changed`): the base's from its listing, the head's from the index (`git ls-files
  --debug`, which reads no working tree) when the file's stat data matches it, else hashed
  here from its raw bytes. From the repository git reads data only: objects, the index,
  `.gitignore` files.
- The base is written under a private temporary directory with its raw committed bytes and no
  path escapes: paths from git are refused when absolute, when a component is empty, `.`, `..`
  or `.git` (any case); files are created with O_EXCL|O_NOFOLLOW under directories this module
  created itself, so nothing is written through a symbolic link. Symbolic links are written as
  links with their committed target text, never followed here, so the walker judges them as
  it judges the head's (a link inside is skipped, one leading out is reported). Submodules
  are skipped. Blobs over the scanner's size limit are written as sparse files of their size
  (the scanner reports them as too large on both sides, and never reads them; whether the
  change rewrote one is decided by its blob id, never by these bytes).
- Only what the scan reads is written (`export`, issue 11): the files `source.classify`
  gives a kind, the links and the files they point to, and what the caller asks for later
  (the files kustomizations list, the repository summary's anchor, rule directories). Every
  other file is present for `source.walk` by name only, where a whole export would have
  written it, so repository-level facts see the same files. Sizes come first from `git
  cat-file --batch-check`: a blob over the limit is never read from git, nor its bytes
  written (unselected: nothing on disk; selected: a sparse file of its size).
- Both sides are the same kind of file set: the head is what git tracks plus untracked files
  that are not ignored (`worktree_files`, so ignored build output such as `dist/` is not
  "new"), the base is the committed tree.
- The scanned directory decides the repository: environment variables that point git at
  another one (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE... as set inside git hooks) are dropped,
  and a directory outside its repository's work tree (core.worktree or a `.git` file pointing
  elsewhere, a bare repository) is a configuration error, not a traceback.
- System and global git configuration stay in force: safe.directory can only be set there (CI
  images often set it system-wide), and no program configured there can run, as no command
  used here reaches one.

Known limits: the names a selective export leaves unwritten are placed as a whole export
would place them on a case-sensitive file system (a crafted tree's case clashes are not
resolved); renames not yet committed are not followed (the head's finding at the new path
is new, the base's at the old path fixed, until the rename is committed); with git-lfs the base
has the pointer files; a head file that git converts (a clean filter such as git-lfs, eol
conversion) counts as rewritten unless the index shows it unchanged, its raw bytes being hashed
unconverted (on the side of "new"); in a partial clone, git fetches missing base blobs from the
configured remote as any read would.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, NamedTuple

from . import source
from .errors import ConfigError

# git must never run repository- or user-configured programs: no pager, no external diff, no
# textconv, no fsmonitor, no hooks, no credential prompts, no attributes from outside the tree
_GIT_ENV = {
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ATTR_NOSYSTEM": "1",
    "GIT_NO_REPLACE_OBJECTS": "1",  # the base is the commit's own content
}
# what would point git at another repository than the scanned directory's (git's own list of
# repository-local variables, `git rev-parse --local-env-vars`, minus the configuration ones,
# which CI uses to pass safe.directory), and an external diff program
_DROPPED_ENV = frozenset(
    {
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_OBJECT_DIRECTORY",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_IMPLICIT_WORK_TREE",
        "GIT_GRAFT_FILE",
        "GIT_INDEX_FILE",
        "GIT_REPLACE_REF_BASE",
        "GIT_PREFIX",
        "GIT_INTERNAL_SUPER_PREFIX",
        "GIT_SHALLOW_FILE",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_EXTERNAL_DIFF",
    }
)
_GIT_SAFE = (
    "--no-pager",
    "--literal-pathspecs",  # a prefix is a path, never pathspec magic
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "diff.external=",
    "-c",
    "core.attributesFile=/dev/null",
)

# how os.fsdecode decodes a path from git (one C call per path: a revision may have 200k)
_FS = (sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
_MODES = {b"100644": 0o644, b"100755": 0o755, b"120000": None}  # None: a symbolic link
_MAX_LINK = 4096  # PATH_MAX: a longer blob cannot be a symbolic link's target
# a name the file system refuses, or a path already taken (a duplicate in a crafted tree, a
# case-insensitive clash): skipped, as a checkout could not have it either
_SKIPPED_ERRNOS = frozenset(
    {errno.EEXIST, errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL, errno.ENOTDIR, errno.ELOOP}
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update(_GIT_ENV)
    return env


def _argv(repo: Path, args: Sequence[str | bytes]) -> list[str | bytes]:
    return ["git", *_GIT_SAFE, "-C", str(repo), *args]


def _reason(stderr: bytes) -> str:
    """git's own explanation, on one printable line."""
    text = stderr.decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "error"
    reason = next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[-1])
    if "safe.directory" in text:
        reason += " (trust it with: git config --global --add safe.directory <path>)"
    return "".join(c if c.isprintable() else "?" for c in reason)


def _run(repo: Path, *args: str | bytes) -> bytes:
    try:
        proc = subprocess.run(
            _argv(repo, args),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=_env(),
            check=False,
        )
    except FileNotFoundError:
        raise ConfigError(
            str(repo), None, "--diff-base needs git, which is not installed"
        ) from None
    if proc.returncode != 0:
        what = " ".join(a for a in args[:2] if isinstance(a, str))
        raise ConfigError(str(repo), None, f"git {what} failed: {_reason(proc.stderr)}")
    return proc.stdout


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with the safe options; its output as text."""
    return _run(repo, *args).decode("utf-8", "replace")


def locate(root: Path) -> tuple[Path, str]:
    """The top-level of the work tree holding `root`, and `root`'s path inside it ('' at the
    top, else 'sub/dir/'). A ConfigError when `root` is in no git work tree: not a repository,
    a bare one, or one whose work tree is elsewhere (core.worktree, a `.git` file)."""
    where = str(root)
    try:
        out = _run(root, "rev-parse", "--show-toplevel", "--absolute-git-dir")
    except ConfigError as e:
        raise ConfigError(where, None, f"--diff-base needs a git work tree: {e.message}") from None
    lines = out.split(b"\n")
    if len(lines) < 2 or not lines[0] or not lines[1]:
        raise ConfigError(
            where, None, "--diff-base needs a git work tree; this repository has none"
        )
    top = os.path.realpath(os.fsdecode(lines[0]))
    real = os.path.realpath(root)
    if real != top and not real.startswith(top.rstrip(os.sep) + os.sep):
        raise ConfigError(
            where,
            None,
            f"--diff-base: this directory is not inside its repository's work tree ({top}; "
            "core.worktree or a .git file points elsewhere): scan the work tree itself",
        )
    # every later call starts from the top-level: it must find the same repository
    git_dir = os.path.realpath(os.fsdecode(lines[1]))
    try:
        again = _run(Path(top), "rev-parse", "--absolute-git-dir").rstrip(b"\n")
        same = os.path.realpath(os.fsdecode(again)) == git_dir
    except ConfigError:
        same = False
    if not same:
        raise ConfigError(
            where,
            None,
            f"--diff-base: git finds another repository from the work tree's top ({top}) "
            "than from this directory (a .git file or core.worktree points elsewhere)",
        )
    rel = os.path.relpath(real, top)
    return Path(top), "" if rel == "." else rel.replace(os.sep, "/") + "/"


def toplevel(path: Path) -> Path:
    """The top-level of the work tree holding `path` (see locate)."""
    return locate(path)[0]


def _check_ref(repo: Path, ref: str) -> None:
    if not ref or ref.startswith("-") or any(not c.isprintable() for c in ref):
        raise ConfigError(str(repo), None, f"invalid --diff-base {ref!r}")


def merge_base(repo: Path, ref: str) -> str:
    """The merge base of HEAD and `ref` (a branch, tag, any revision or a full commit SHA) as
    a full SHA. Option-looking or unprintable input is refused before git sees it."""
    _check_ref(repo, ref)
    try:
        commit = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
    except ConfigError:
        raise ConfigError(
            str(repo),
            None,
            f"--diff-base {ref!r} is not a commit in this repository "
            "(in CI, fetch it: actions/checkout with fetch-depth: 0)",
        ) from None
    try:
        head = git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}").strip()
    except ConfigError:
        raise ConfigError(
            str(repo), None, "--diff-base needs a commit to compare: HEAD has none"
        ) from None
    try:
        return git(repo, "merge-base", commit, head).strip()
    except ConfigError:
        raise ConfigError(
            str(repo),
            None,
            f"HEAD and {ref!r} have no common ancestor here (a shallow clone? "
            "fetch the history, e.g. actions/checkout with fetch-depth: 0)",
        ) from None


def commit_of(repo: Path, ref: str) -> str:
    """The full SHA of the commit `ref` names (validated as merge_base does)."""
    _check_ref(repo, ref)
    return git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()


def tracked(repo: Path, rev: str | None, path: str) -> bool:
    """Whether `path` (repository-relative) is a file or link git tracks: in commit `rev`,
    or in the index when `rev` is None."""
    if rev is None:
        out = _run(repo, "ls-files", "-z", "--", path)
    else:
        _check_ref(repo, rev)
        out = _run(repo, "ls-tree", "-z", "--full-tree", rev, "--", path)
    return bool(out.strip(b"\0"))


def gitlinks(repo: Path, rev: str | None, prefix: str) -> dict[str, str]:
    """The submodules (gitlinks) under `prefix`, relative to it, with the commit each pins: in
    commit `rev`, or in the index when `rev` is None. Their content is another repository's
    and is not scanned; callers report them so that nothing goes unjudged silently."""
    if rev is None:
        out = _run(repo, "ls-files", "-s", "-z", "--", prefix or ".")
    else:
        _check_ref(repo, rev)
        out = _run(repo, "ls-tree", "-r", "-z", "--full-tree", rev)
    pre = os.fsencode(prefix)
    links: dict[str, str] = {}
    for entry in out.split(b"\0"):
        meta, _, path = entry.partition(b"\t")
        fields = meta.split()
        if len(fields) < 3 or fields[0] != b"160000":
            continue
        if path.startswith(pre) and len(path) > len(pre):
            # ls-files -s: mode sha stage; ls-tree: mode type sha
            sha = fields[1] if rev is None else fields[2]
            links[os.fsdecode(path[len(pre) :])] = sha.decode("ascii", "replace")
    return dict(sorted(links.items()))


def worktree_files(top: Path, prefix: str) -> list[str]:
    """The head's files under `prefix` ('' or 'sub/dir/'), relative to it, sorted: what git
    tracks and what is untracked but not ignored, as present in the working tree (deleted
    files dropped; submodules and nested repositories, which are directories, too). The same
    kind of set as a committed tree, so ignored build output is not new."""
    args: list[str | bytes] = ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    pre = os.fsencode(prefix)
    if pre:
        args += ["--", pre]
    out = _run(top, *args)
    base = os.fsencode(top)
    files: set[str] = set()
    for entry in out.split(b"\0"):
        # an untracked nested repository is listed as 'dir/'
        if not entry or entry.endswith(b"/") or not entry.startswith(pre):
            continue
        try:
            st = os.lstat(os.path.join(base, entry))
        except OSError:
            continue  # tracked, deleted from the working tree
        if stat.S_ISDIR(st.st_mode):
            continue
        files.add(os.fsdecode(entry[len(pre) :]))
    return sorted(files)


class _Entry(NamedTuple):
    oid: bytes
    path: bytes
    mode: int | None  # None: a symbolic link


def _safe_path(path: bytes) -> bool:
    if not path or path.startswith(b"/") or path.endswith(b"/") or b"//" in path:
        return False
    if not path.startswith(b".") and b"/." not in path:
        return True  # no name starts with a dot (nearly every path: checked first, fast)
    return all(p not in (b".", b"..") and p.lower() != b".git" for p in path.split(b"/"))


def _entries(listing: bytes, prefix: bytes) -> list[_Entry]:
    """The blobs of a `git ls-tree -r -z` listing worth writing: regular files and symbolic
    links under prefix with safe paths (submodules, unknown modes and hostile paths skipped)."""
    out = []
    for rec in listing.split(b"\0"):
        meta, tab, path = rec.partition(b"\t")
        fields = meta.split(b" ")
        if not tab or len(fields) != 3 or fields[1] != b"blob" or fields[0] not in _MODES:
            continue
        if path.startswith(prefix) and _safe_path(path):
            out.append(_Entry(fields[2], path, _MODES[fields[0]]))
    return out


def _placeable(entries: list[_Entry], root: bytes) -> list[_Entry]:
    """The entries that writing every entry in order under `root` would place (see _Tree):
    not one whose path, or a directory on whose path, an earlier entry took (a duplicate or a
    file beside a directory of the same name, in a crafted tree), nor one whose name the file
    system refuses for its length. What a selective export leaves unwritten is then present
    exactly where a whole export would have written it."""
    try:
        name_max = os.pathconf(root, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    path_max = 4096 - len(root) - 1  # PATH_MAX, the terminating NUL included
    taken: set[bytes] = set()  # files and links
    dirs: set[bytes] = {b""}
    out = []
    for e in entries:
        path = e.path
        if path in taken or path in dirs or len(path) >= path_max:
            continue
        head, _, name = path.rpartition(b"/")
        if head not in dirs:
            parts = head.split(b"/")
            chain = [b"/".join(parts[:i]) for i in range(1, len(parts) + 1)]
            if any(d in taken or len(p) > name_max for d, p in zip(chain, parts, strict=True)):
                continue
            dirs.update(chain)  # made on the way, as _Tree does, even when the name is refused
        if len(name) > name_max:
            continue
        taken.add(path)
        out.append(e)
    return out


class _Tree:
    """Writes files and links under a directory it owns, never through a link: every
    directory on a path is one it created (or found to be a real directory: one it created
    under another spelling, on a case-insensitive file system). Remembers what it wrote."""

    def __init__(self, root: bytes) -> None:
        self.root = root
        self.dirs: set[bytes] = {b""}
        self.written: set[bytes] = set()  # files and links
        self.links: dict[bytes, bytes] = {}  # link -> its target text

    def _place(self, path: bytes) -> bytes | None:
        head = path.rpartition(b"/")[0]
        if head not in self.dirs:
            parts = head.split(b"/")
            for i in range(1, len(parts) + 1):
                d = b"/".join(parts[:i])
                if d in self.dirs:
                    continue
                full = os.path.join(self.root, d)
                try:
                    os.mkdir(full, 0o700)
                except OSError as e:
                    if e.errno != errno.EEXIST:
                        _skippable(e)
                        return None
                    if not stat.S_ISDIR(os.lstat(full).st_mode):
                        return None  # a file or a link took the name: never write through it
                self.dirs.add(d)
        return os.path.join(self.root, path)

    def create(self, path: bytes, mode: int) -> int | None:
        full = self._place(path)
        if full is None:
            return None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(full, flags | getattr(os, "O_CLOEXEC", 0), mode)
        except OSError as e:
            _skippable(e)
            return None
        self.written.add(path)
        return fd

    def link(self, path: bytes, target: bytes) -> None:
        full = self._place(path)
        if full is None or not target or b"\0" in target:
            return
        try:
            os.symlink(target, full)
        except OSError as e:
            _skippable(e)
            return
        self.written.add(path)
        self.links[path] = target


def _skippable(e: OSError) -> None:
    """Returns for an entry to skip; raises for a failure of the temporary directory."""
    if e.errno in _SKIPPED_ERRNOS:
        return
    raise ConfigError(
        tempfile.gettempdir(), None, f"cannot write the base revision: {e.strerror}"
    ) from None


def _read(out: IO[bytes], n: int) -> bytes:
    data = out.read(n)
    if len(data) != n:
        raise EOFError
    return data


def _discard(out: IO[bytes], n: int) -> None:
    while n > 0:
        n -= len(_read(out, min(n, 1 << 16)))


def _feed(stdin: IO[bytes], oids: list[bytes]) -> None:
    """Object ids to cat-file, from a thread: its output is read meanwhile, so neither pipe
    fills up while the other waits."""
    try:
        with stdin:
            for i in range(0, len(oids), 1024):
                stdin.write(b"".join(oid + b"\n" for oid in oids[i : i + 1024]))
    except OSError:
        pass  # git exited early: the reader reports why


def _cat_file(repo: Path, mode: str, oids: list[bytes], read: Callable[[IO[bytes]], None]) -> None:
    """One `git cat-file --batch` (or `--batch-check`) process fed `oids`, its output read by
    `read`, which raises EOFError when the output ends early."""
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            _argv(repo, ["cat-file", mode, "--buffer"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=_env(),
        )
        assert proc.stdin is not None and proc.stdout is not None
        feeder = threading.Thread(target=_feed, args=(proc.stdin, oids), daemon=True)
        feeder.start()
        done = False
        try:
            read(proc.stdout)
            done = True
        except EOFError:
            pass
        finally:
            if not done:
                proc.kill()
            proc.wait()
            feeder.join()
            proc.stdout.close()
        if not done or proc.returncode != 0:
            errors.seek(0)
            raise ConfigError(str(repo), None, f"git cat-file failed: {_reason(errors.read())}")


def _write(repo: Path, entries: list[_Entry], tree: _Tree) -> None:
    """Every entry's blob, raw, from one `git cat-file --batch` process, one file at a time."""

    def read(out: IO[bytes]) -> None:
        for e in entries:
            _copy(out, e, tree)

    _cat_file(repo, "--batch", [e.oid for e in entries], read)


def _sizes(repo: Path, entries: list[_Entry]) -> dict[bytes, int]:
    """The size of every entry's blob, from one `git cat-file --batch-check` (no content is
    read: git looks at the object's header)."""
    oids = list(dict.fromkeys(e.oid for e in entries))
    by_oid = {e.oid: e for e in entries}
    sizes: dict[bytes, int] = {}

    def read(out: IO[bytes]) -> None:
        for oid in oids:
            header = out.readline()
            fields = header.split()
            if len(fields) != 3 or fields[0] != oid or fields[1] != b"blob":
                if not header:
                    raise EOFError
                _unreadable(by_oid[oid], header)
            sizes[oid] = int(fields[2])

    _cat_file(repo, "--batch-check", oids, read)
    return sizes


def _unreadable(e: _Entry, header: bytes) -> None:
    shown = os.fsdecode(e.path).encode("utf-8", "backslashreplace").decode()
    raise ConfigError(
        "git", None, f"cannot read {shown!r} of the base revision ({_reason(header)})"
    )


def _copy(out: IO[bytes], e: _Entry, tree: _Tree) -> None:
    header = out.readline()
    fields = header.split()
    if len(fields) != 3 or fields[0] != e.oid or fields[1] != b"blob":
        if not header:
            raise EOFError
        _unreadable(e, header)
    size = int(fields[2])
    if e.mode is None:
        if size > _MAX_LINK:
            _discard(out, size)
        else:
            tree.link(e.path, _read(out, size))
    else:
        fd = tree.create(e.path, e.mode)
        if fd is None:
            _discard(out, size)
        else:
            with open(fd, "wb") as fh:
                if size > source.MAX_FILE_BYTES:
                    # never read by the scanner, which reports its size: sparse, no disk used
                    fh.truncate(size)
                    _discard(out, size)
                else:
                    fh.write(_read(out, size))
    _read(out, 1)  # the newline after the content


def _resolve(path: bytes, links: Mapping[bytes, bytes]) -> bytes | None:
    """The path inside the tree that `path` names once every link on the way is followed,
    component by component as the kernel does (a link to a directory in the middle, `..`
    after a link; at most 40 links); b"" for the tree's top, None when it leaves the tree."""
    pending = path.split(b"/")
    pending.reverse()
    done: list[bytes] = []
    hops = 0
    while pending:
        part = pending.pop()
        if part in (b"", b"."):
            continue
        if part == b"..":
            if not done:
                return None
            done.pop()
            continue
        done.append(part)
        target = links.get(b"/".join(done))
        if target is not None:
            hops += 1
            if hops > 40 or target.startswith(b"/"):
                return None
            done.pop()  # a link's target is relative to the directory holding it
            pending.extend(reversed(target.split(b"/")))
    return b"/".join(done)


class _Node(NamedTuple):
    """A base path's content as git identifies it: a regular file's blob id (`link` None), or
    a symbolic link's text and the blob id of the regular file it leads to (None: none, or
    none inside the bound asked for)."""

    link: bytes | None
    oid: bytes | None


class Export:
    """A revision written out under a private temporary directory (`root`): the files asked
    for, with their raw committed bytes, and the symbolic links with what they point to (see
    `export`); more of it on request (`write`, `write_under`)."""

    def __init__(self, repo: Path, dest: bytes, entries: list[_Entry]) -> None:
        self.root = Path(os.fsdecode(dest))
        self._repo = repo
        self._tree = _Tree(dest)
        self._entries = {e.path: e for e in entries}
        self._absent: dict[str, set[str]] = {}  # directory -> names present, not written
        self._sizes: dict[bytes, int] = {}  # blob id -> size, of the blobs sized so far

    @property
    def files(self) -> list[str]:
        """Every file and link of the revision that has a place here, written or not (made
        on each call: a revision may have 200k)."""
        return [p.decode(*_FS) for p in self._entries]

    @property
    def written(self) -> list[str]:
        """The files and links written so far."""
        return sorted(os.fsdecode(p) for p in self._tree.written)

    def write(self, paths: Iterable[str]) -> list[str]:
        """Write the files `paths` name (inside the revision, a link on the way followed as
        the file system would), those not written yet; the paths written, each where its
        file lies."""
        links = self._tree.links
        todo = []
        for p in paths:
            real = _resolve(os.fsencode(p), links)
            e = self._entries.get(real) if real is not None else None
            if e is not None and e.mode is not None and real not in self._tree.written:
                todo.append(e)
        return self._put(list(dict.fromkeys(todo)))

    def write_under(self, directory: str) -> list[str]:
        """Write every file under `directory` ('' for the whole revision), those not written
        yet (links in it are written already); the paths written."""
        pre = os.fsencode(directory.strip("/"))
        pre = pre + b"/" if pre else b""
        done = self._tree.written
        return self._put(
            [
                e
                for p, e in self._entries.items()
                if p.startswith(pre) and e.mode is not None and p not in done
            ]
        )

    def _put(self, entries: list[_Entry]) -> list[str]:
        """Write entries: links and blobs up to the size limit from one `git cat-file
        --batch`, after their sizes; a larger blob as a sparse file of its size, never read
        (the scan reports it as too large, as it would in a checkout)."""
        if not entries:
            return []
        sizes = _sizes(self._repo, entries)
        self._sizes.update(sizes)
        fetched = []
        for e in entries:
            size = sizes[e.oid]
            if e.mode is None:
                if size <= _MAX_LINK:  # a longer one cannot be a link's target: skipped
                    fetched.append(e)
            elif size <= source.MAX_FILE_BYTES:
                fetched.append(e)
            else:
                fd = self._tree.create(e.path, e.mode)
                if fd is not None:
                    try:
                        os.ftruncate(fd, size)
                    finally:
                        os.close(fd)
        if fetched:
            _write(self._repo, fetched, self._tree)
        out = []
        for e in entries:
            if e.path in self._tree.written:
                path = e.path.decode(*_FS)
                head, _, name = path.rpartition("/")
                self._absent.get(head, set()).discard(name)
                out.append(path)
        return out

    def _node(self, path: bytes, within: bytes) -> _Node | None:
        """What the revision has at `path` as the file system would find it (a link on the way
        followed): a regular file's blob, a link's text and the regular file it leads to inside
        `within` ('' for the whole tree, else a directory), or None (nothing, a directory, or
        what was not written: a link too long to be one)."""
        head, _, name = path.rpartition(b"/")
        if head:
            real = _resolve(head, self._tree.links)
            if real is None:
                return None
            path = real + b"/" + name if real else name
        text = self._tree.links.get(path)
        if text is None:
            e = self._entries.get(path)
            return None if e is None or e.mode is None else _Node(None, e.oid)
        target = _resolve(path, self._tree.links)
        e = None
        if target is not None and (not within or target.startswith(within + b"/")):
            e = self._entries.get(target)
        return _Node(text, None if e is None or e.mode is None else e.oid)

    def _start(self, want: Callable[[str], bool] | None) -> None:
        """The first writing: every directory, the links, the files `want` selects (what a
        scan reads, when None), then the files the links point to. With `want` None the
        files left unwritten are present for `walk` (source.unwritten)."""
        made: dict[bytes, bool] = {}  # directory -> whether it could be made
        kinds: dict[bytes, bool] = {}  # name -> whether classify gives it a kind
        first = []
        for e in self._entries.values():
            head, _, name = e.path.rpartition(b"/")
            ok = made.get(head)
            if ok is None:
                ok = made[head] = self._tree._place(e.path) is not None
            if not ok:
                continue  # cannot be written (a crafted tree): as a whole export skips it
            if e.mode is None:
                first.append(e)
                continue
            if want is not None:
                if want(e.path.decode("utf-8", "replace")):
                    first.append(e)
                continue
            # whether a path has a kind depends on its name alone (the directory picks only
            # which one), and names repeat: decided once per name, as the walk decides it
            kind = kinds.get(name)
            if kind is None:
                kind = kinds[name] = source.classify(name.decode("utf-8", "replace")) is not None
            if kind:
                first.append(e)
            else:
                self._absent.setdefault(head.decode(*_FS), set()).add(name.decode(*_FS))
        self._put(first)
        self.write(p.decode(*_FS) for p in self._tree.links)


@contextmanager
def export(
    repo: Path, rev: str, *, want: Callable[[str], bool] | None = None, prefix: str = ""
) -> Iterator[Export]:
    """The files of `rev` that a scan of it reads (or `want` selects: it is given each path
    as text, undecodable bytes replaced), in a private temporary directory removed on exit,
    with the symbolic links and the files they point to; with `prefix` ('sub/dir/'), only
    those under it. Every directory of the revision is made.

    With `want` None the export is for scanning: the files `source.classify` gives a kind
    are written, and every other file is present for `source.walk` (which lists it, without
    reading it, as a checkout's) though not on disk; write out what else the scan reads
    (the files kustomizations list, the repository summary's anchor) before scanning. A blob
    over the size limit is never read, nor its bytes written: a sparse file of its size
    stands for it when selected."""
    _check_ref(repo, rev)
    entries = _entries(_run(repo, "ls-tree", "-r", "-z", "--full-tree", rev), os.fsencode(prefix))
    with tempfile.TemporaryDirectory(prefix="tether-base-") as tmp:
        key = os.path.realpath(tmp)
        exp = Export(repo, os.fsencode(tmp), _placeable(entries, os.fsencode(key)))
        del entries  # held by the export from here on (the listing is freed already)
        try:
            if want is None:
                source.unwritten(key, exp._absent)
            exp._start(want)
            yield exp
        finally:
            source.unwritten(key, None)


@contextmanager
def exported(repo: Path, rev: str, *, prefix: str = "") -> Iterator[Path]:
    """All the files of `rev` with their raw committed bytes, in a private temporary
    directory removed on exit, from one `git cat-file --batch`; with `prefix` ('sub/dir/'),
    only those under it (then the tree's `prefix` directory, if any, is a real directory,
    never a link out of the tree)."""
    _check_ref(repo, rev)
    listing = _run(repo, "ls-tree", "-r", "-z", "--full-tree", rev)
    entries = _entries(listing, os.fsencode(prefix))
    with tempfile.TemporaryDirectory(prefix="tether-base-") as tmp:
        if entries:
            _write(repo, entries, _Tree(os.fsencode(tmp)))
        yield Path(tmp)


class _HeadFile(NamedTuple):
    path: bytes  # its real path
    rel: bytes | None  # the same, inside the work tree (None: outside it)
    st: os.stat_result


class _HeadNode(NamedTuple):
    """A head path's content: a regular file (`link` None), or a symbolic link's text and the
    regular file it leads to (None: none inside the bound)."""

    link: bytes | None
    file: _HeadFile | None


class _Recorded(NamedTuple):
    oid: bytes
    stat: tuple[int, ...]  # as _stat_key gives it


# one entry of `git ls-files -s --debug -z`: what the index records for a path (the format is
# documented as subject to change; output that does not match is not trusted at all)
_DEBUG_ENTRY = re.compile(
    rb"([0-7]{6}) ([0-9a-f]{40,64}) ([0-3])\t([^\0]*)\0"
    rb"  ctime: (\d+):(\d+)\n  mtime: (\d+):(\d+)\n  dev: \d+\tino: (\d+)\n"
    rb"  uid: (\d+)\tgid: (\d+)\n  size: (\d+)\tflags: ([0-9a-f]+)\n"
)
_INTENT_TO_ADD, _SKIP_WORKTREE = 1 << 29, 1 << 30  # an entry whose id is not the file's
_U32 = 0xFFFFFFFF  # the index keeps 32 bits of each number


def _stat_key(st: os.stat_result) -> tuple[int, ...]:
    """The stat data the index records for a file (git's ce_match_stat_basic compares these,
    and the nanoseconds only when built with USE_NSEC: compared here regardless)."""
    cs, cn = divmod(st.st_ctime_ns, 1_000_000_000)
    ms, mn = divmod(st.st_mtime_ns, 1_000_000_000)
    return (
        cs & _U32,
        cn,
        ms & _U32,
        mn,
        st.st_ino & _U32,
        st.st_uid & _U32,
        st.st_gid & _U32,
        st.st_size & _U32,
    )


def _index(top: Path, paths: Collection[bytes]) -> dict[bytes, _Recorded]:
    """What git's index records for `paths` (relative to the work tree's top), for the entries
    whose blob id stands for the file once its stat data is seen to match: stage 0, not
    intent-to-add nor skip-worktree, a regular file's, and not racily clean (recorded in the
    second the index was written, or later: git itself reads such a file to know). Read from
    the index only, nothing from the work tree; when the index changes meanwhile, nothing."""
    chunks: list[list[bytes]] = [[]]
    length = 0
    for p in sorted(paths):
        if length > 1 << 16:
            chunks.append([])
            length = 0
        chunks[-1].append(p)
        length += len(p) + 1
    try:
        where = _run(top, "rev-parse", "--git-path", "index").rstrip(b"\n")
        index = os.path.join(os.fsencode(top), where)
        before = os.stat(index)
        listings = [_run(top, "ls-files", "-s", "--debug", "-z", "--", *c) for c in chunks]
        after = os.stat(index)
    except (ConfigError, OSError):
        return {}
    if (before.st_mtime_ns, before.st_ino, before.st_size) != (
        after.st_mtime_ns,
        after.st_ino,
        after.st_size,
    ):
        return {}
    written = before.st_mtime_ns // 1_000_000_000
    out: dict[bytes, _Recorded] = {}
    for listing in listings:
        pos = 0
        while pos < len(listing):
            m = _DEBUG_ENTRY.match(listing, pos)
            if m is None:
                return {}
            pos = m.end()
            mode, oid, stage, path, *numbers, flags = m.groups()
            cs, cn, ms, mn, ino, uid, gid, size = (int(n) for n in numbers)
            if (
                path in paths
                and stage == b"0"
                and mode in (b"100644", b"100755")
                and not int(flags, 16) & (_INTENT_TO_ADD | _SKIP_WORKTREE)
                and ms < written
            ):
                out[path] = _Recorded(oid, (cs, cn, ms, mn, ino, uid, gid, size))
    return out


def hash_file(path: bytes, hexlen: int) -> bytes | None:
    """The blob id git gives a regular file's raw bytes, as `git hash-object --no-filters`
    would (SHA-1, or SHA-256 for 64-digit ids), reading it once; None when it cannot be read
    or is not a regular file, or changed size while read."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with open(fd, "rb") as fh:
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None
            size = st.st_size
            name = "sha256" if hexlen == 64 else "sha1"
            h = hashlib.new(name, b"blob %d\0" % size, usedforsecurity=False)
            seen = 0
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                seen += len(chunk)
                h.update(chunk)
        except OSError:
            return None
    return h.hexdigest().encode() if seen == size else None


def _head_file(top: bytes, real: bytes) -> _HeadFile | None:
    try:
        st = os.lstat(real)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    rel = real[len(top) + 1 :] if real.startswith(top + b"/") else None
    return _HeadFile(real, rel, st)


def _head_node(top: bytes, path: bytes, within: bytes) -> _HeadNode | None:
    """What the work tree (its real top `top`) has at `path` (see Export._node; `within`: the
    real directory a link's target must lie in)."""
    full = os.path.join(top, path)
    try:
        st = os.lstat(full)
        if stat.S_ISLNK(st.st_mode):
            text = os.readlink(full)
            target = os.path.realpath(full)
            inner = _head_file(top, target) if target.startswith(within + b"/") else None
            return _HeadNode(text, inner)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    found = _head_file(top, os.path.realpath(full))
    return None if found is None else _HeadNode(None, found)


def changed(
    top: Path,
    base: Export,
    pairs: Iterable[tuple[str, str]],
    *,
    within: tuple[str, str] = ("", ""),
) -> set[str]:
    """The head paths of `pairs` (a path in the work tree at `top`, the path in `base` it is
    compared with) whose content differs, as git identifies content: the blob id of the
    regular file at each path; for a symbolic link, its text and the blob id of the regular
    file it leads to inside `within` (a directory of each tree; '': anywhere in it). A path
    where neither side has a regular file or a link is the same.

    Nothing of the base is read: its blob ids are its listing's (a blob over the size limit,
    a sparse stand-in on disk, is compared by its id all the same). A head file's id is the
    index's when the file's stat data matches what the index recorded and the entry is not
    racily clean (git's own rule: nothing is read); any other file is hashed as raw bytes
    (`git hash-object --no-filters`: no filter or conversion runs), at most once, and not at
    all when the base's blob has another size."""
    top_real = os.fsencode(os.path.realpath(top))
    head_within = os.path.join(top_real, os.fsencode(within[0])) if within[0] else top_real
    base_within = os.fsencode(within[1])
    nodes = [
        (
            head_path,
            _head_node(top_real, os.fsencode(head_path), head_within),
            base._node(os.fsencode(base_path), base_within),
        )
        for head_path, base_path in pairs
    ]
    wanted = {
        h.file.rel
        for _, h, b in nodes
        if h is not None
        and b is not None
        and h.file is not None
        and h.file.rel is not None
        and b.oid is not None
        and h.link == b.link
    }
    index = _index(top, wanted) if wanted else {}
    hashed: dict[bytes, bytes | None] = {}

    def same(h: _HeadNode | None, b: _Node | None) -> bool:
        if h is None or b is None:
            return h is None and b is None
        if h.link != b.link:
            return False
        f = h.file
        if f is None or b.oid is None:
            return f is None and b.oid is None
        known = index.get(f.rel) if f.rel is not None else None
        if known is not None and known.stat == _stat_key(f.st):
            return known.oid == b.oid
        size = base._sizes.get(b.oid)
        if size is not None and size != f.st.st_size:
            return False
        if f.path not in hashed:
            hashed[f.path] = hash_file(f.path, len(b.oid))
        return hashed[f.path] == b.oid

    return {path for path, h, b in nodes if not same(h, b)}


def renames(repo: Path, base: str, prefix: str) -> dict[str, str]:
    """base path -> head path for files renamed between `base` and HEAD, relative to the
    scanned directory (prefix: its path inside the repository, '' at the top). Trees only: a
    rename in the working tree is followed once committed."""
    _check_ref(repo, base)
    out = _run(
        repo,
        "diff-tree",
        "-r",
        "-z",
        "-M",
        "--name-status",
        "--no-commit-id",
        "--no-ext-diff",
        "--no-textconv",
        base,
        "HEAD",
    )
    fields = [os.fsdecode(f) for f in out.split(b"\0")]
    result: dict[str, str] = {}
    i = 0
    while i < len(fields) and fields[i]:
        status = fields[i]
        if status.startswith(("R", "C")):
            old, new = fields[i + 1], fields[i + 2]
            i += 3
            if status.startswith("R") and old.startswith(prefix) and new.startswith(prefix):
                result[old[len(prefix) :]] = new[len(prefix) :]
        else:
            i += 2
    return result
