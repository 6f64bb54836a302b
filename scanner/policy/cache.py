"""What a later scan may take on trust: content hashes of documents already found valid.

Checking a rule means its JSON Schema and compiling its CEL and checking every name it uses;
checking a baseline, configuration or exceptions file means its JSON Schema (and importing
jsonschema, 47 ms). A document whose bytes, and whose validating environment (tether's
version, the schemas, the fact registry, the CEL functions), are the same as last time cannot
fail those checks now, so they are skipped.

The cache holds hashes only, never data: a rule is always rebuilt from its own file, so an
edited or forged cache can at most skip a check (and a rule whose file is invalid still fails
when built, or at its first evaluation), never change or disable a rule. Other users must not
be able to plant entries: the directory is created 0700, and a directory (or cache file) that
is not the current user's, or that others may write, is ignored: neither read nor written.

The cache lives in --cache-dir or $TETHER_CACHE_DIR, else $XDG_CACHE_HOME/tether, else
~/.cache/tether; --no-cache or TETHER_NO_CACHE=1 bypasses it (this and the fact cache,
scanner/factcache.py, which shares the directory). It is an optimisation only: an
unreadable or unwritable cache is ignored, and a corrupt one is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from .. import __version__
from ..facts.kinds import KINDS
from .functions import FUNCTIONS

FILE_NAME = "rules-v2.json"  # v1 held rule data and is never read
VALIDATED_FILE = "validated-v1.json"
MAX_CACHE_BYTES = 4 * 1024 * 1024  # hashes only: far more than 4096 entries need
MAX_KEYS = 4096  # a bound, not an eviction policy

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


# the command line's --no-cache / --cache-dir, for the command's duration (see `settings`):
# a process-wide value, so an org scan's worker threads see it too
_DISABLED = False
_DIRECTORY: Path | None = None


@contextlib.contextmanager
def settings(*, disabled: bool = False, cache_dir: Path | None = None) -> Iterator[None]:
    """Within this block, caching is off (`disabled`) or lives in `cache_dir`, whatever the
    environment says; the previous settings come back on exit."""
    global _DISABLED, _DIRECTORY
    saved = _DISABLED, _DIRECTORY
    _DISABLED = _DISABLED or disabled
    _DIRECTORY = cache_dir if cache_dir is not None else _DIRECTORY
    try:
        yield
    finally:
        _DISABLED, _DIRECTORY = saved


def env_flag(name: str) -> bool:
    """Whether an on/off environment variable (TETHER_NO_CACHE, TETHER_NO_RESULT_CACHE) is
    set on: any value but empty, 0, false, no or off."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def explicit() -> bool:
    """Whether the cache directory was named (--cache-dir or $TETHER_CACHE_DIR) rather than
    defaulted."""
    return _DIRECTORY is not None or bool(os.environ.get("TETHER_CACHE_DIR"))


def directory() -> Path | None:
    """Where the cache should be (trusted or not: see trusted_directory)."""
    if _DISABLED or env_flag("TETHER_NO_CACHE"):
        return None
    if _DIRECTORY is not None:
        return _DIRECTORY
    if os.environ.get("TETHER_CACHE_DIR"):
        return Path(os.environ["TETHER_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tether"


def _ours(st: os.stat_result) -> bool:
    """Owned by the current user and writable by no one else."""
    getuid = getattr(os, "getuid", None)
    if getuid is not None and st.st_uid != getuid():
        return False
    return not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def trusted_directory() -> Path | None:
    """The cache directory, created 0700 if missing; None when caching is off or the
    directory is not one only the current user can write (not a symbolic link, owned by the
    user, not group- or world-writable)."""
    d = directory()
    if d is None:
        return None
    try:
        try:
            st = os.lstat(d)
        except FileNotFoundError:
            d.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # another scan made it: judged below
                os.mkdir(d, 0o700)
            st = os.lstat(d)
    except OSError as e:
        _REFUSED[str(d)] = f"cannot be created or read ({e.strerror or e})"
        return None
    if not stat.S_ISDIR(st.st_mode):
        _REFUSED[str(d)] = "not a directory" + (" (a link)" if stat.S_ISLNK(st.st_mode) else "")
        return None
    if not _ours(st):
        _REFUSED[str(d)] = "owned by another user or writable by others (chmod 700 it)"
        return None
    _tag(d)
    return d


CACHEDIR_TAG = "CACHEDIR.TAG"
_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by tether.\n"
    "# For information about cache directory tags, see https://bford.info/cachedir/\n"
)


def _tag(d: Path) -> None:
    """Mark the directory a cache (bford.info/cachedir): backup tools skip it, and so does
    tether's own walk when the directory sits inside a scanned repository."""
    tag = d / CACHEDIR_TAG
    if tag.is_file():
        return
    with contextlib.suppress(OSError):
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tag-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(_TAG)
        os.replace(tmp, tag)


_REFUSED: dict[str, str] = {}  # directory -> why it was not used, for refusal()


def refusal() -> str | None:
    """Why the configured cache directory was not used, if it was asked for and refused: a
    command says so once rather than running uncached without a word."""
    d = directory()
    why = _REFUSED.get(str(d)) if d is not None else None
    return f"cache directory {d} not used: {why}" if why else None


def _read(d: Path, name: str) -> Any:
    """A cache file's JSON, or None when missing, corrupt or not a regular file of ours."""
    try:
        fd = os.open(d / name, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode) or not _ours(st) or st.st_size > MAX_CACHE_BYTES:
                return None
            return json.loads(fh.read(MAX_CACHE_BYTES + 1))
    except (OSError, ValueError):
        return None


def _keys(d: Path | None, name: str) -> set[str]:
    """The hashes a cache file holds for the current environment."""
    data = _read(d, name) if d is not None else None
    if not isinstance(data, dict) or data.get("environment") != environment():
        return set()
    keys = data.get("keys")
    if not isinstance(keys, list):
        return set()
    return {k for k in keys[:MAX_KEYS] if isinstance(k, str)}


@cache
def environment() -> str:
    """What validation depends on besides the file itself."""
    h = hashlib.sha256(__version__.encode())
    h.update(schema_bytes("rule"))
    h.update(json.dumps({k: sorted(v) for k, v in KINDS.items()}, sort_keys=True).encode())
    h.update(" ".join(sorted(FUNCTIONS)).encode())
    return h.hexdigest()


def schema_bytes(kind: str) -> bytes:
    """The JSON Schema `kind` (scanner/schemas), read by path: importlib.resources costs
    ~3 ms of imports (zipfile among them) on every start-up, and tether is installed as a
    directory, not a zip."""
    return (Path(__file__).resolve().parent.parent / "schemas" / f"{kind}.schema.json").read_bytes()


def _write(directory: Path, name: str, data: Any) -> None:
    """Replace a cache file atomically (mkstemp creates it 0600); a cache that cannot be
    written is simply not kept."""
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data))
        os.replace(tmp, directory / name)
    except OSError:
        pass


class RuleCache:
    """Content hashes of rule files found valid, read once and written back when the set
    changed. A hit skips only the schema and CEL checks; the rule is still built from its
    file."""

    def __init__(self) -> None:
        self.dir = trusted_directory()
        self.entries = _keys(self.dir, FILE_NAME)
        self.used: set[str] = set()
        self.dirty = False

    @staticmethod
    def key(content: bytes) -> str:
        return hashlib.sha256(content).hexdigest()

    def known(self, key: str) -> bool:
        hit = key in self.entries
        if hit:
            self.used.add(key)
        return hit

    def add(self, key: str) -> None:
        self.used.add(key)
        self.dirty = True

    def save(self) -> None:
        """Keep only the entries this load used (so the file tracks the current rules)."""
        if self.dir is None or not (self.dirty or self.used != self.entries):
            return
        keys = sorted(self.used)[:MAX_KEYS]
        _write(self.dir, FILE_NAME, {"environment": environment(), "keys": keys})


class ValidatedStore:
    """Content hashes of baselines, configurations and exception files found schema-valid."""

    def __init__(self) -> None:
        self.dir = trusted_directory()
        self.keys = _keys(self.dir, VALIDATED_FILE)

    def key(self, kind: str, data: Any) -> str | None:
        if self.dir is None:
            return None
        try:
            canonical = json.dumps([kind, data], sort_keys=True, default=str)
        except (TypeError, ValueError):
            return None
        h = hashlib.sha256(schema_bytes(kind))
        h.update(canonical.encode())
        return h.hexdigest()

    def known(self, key: str) -> bool:
        return key in self.keys

    def add(self, key: str) -> None:
        self.keys.add(key)
        if self.dir is None or len(self.keys) > MAX_KEYS:
            return
        _write(self.dir, VALIDATED_FILE, {"environment": environment(), "keys": sorted(self.keys)})


def validated_store() -> ValidatedStore:
    """One store per process and cache directory."""
    return _store_for(str(directory()))


@cache
def _store_for(_dir: str) -> ValidatedStore:
    return ValidatedStore()
