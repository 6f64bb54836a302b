"""A content-addressed cache of what each file yields: its facts and its diagnostics.

A file's facts are a pure function of its bytes, its repository path and kind, the code that
parses and observes it, and the two pieces of context extraction reads besides the file (the
baseline's pod-template table; whether a `values*.yaml` sits beside a Helm chart's
Chart.yaml). The key hashes exactly those; nothing else a scanned repository controls goes
in, so two repositories holding the same file at the same path share one entry, and a file
that changes in any byte misses. The code's identity is a hash of tether's own sources and
the parsers' versions, so an upgrade (or an edit in a development checkout) never reads an
entry another version wrote.

Entries live in one SQLite database, `<cache dir>/facts-v1.sqlite3`, where the cache
directory is the one `scanner.policy.cache` trusts (created 0700, owned by the current user,
not writable by anyone else; `--cache-dir` / $TETHER_CACHE_DIR, else $XDG_CACHE_HOME/tether,
else ~/.cache/tether; `--no-cache` / $TETHER_NO_CACHE=1 turns it off). One file per entry
cost more to create than parsing the file it describes (1,900 entries: 1.3 s on a cold scan);
a scan's new entries go in one transaction instead, written when each parse worker is done,
and SQLite's locking lets concurrent scans (an org scan's threads, parallel CI jobs, forked
parse workers, each with its own connection) share the file: a writer that cannot get the
lock in time simply keeps nothing. An entry carries its own key and a digest of its payload;
one whose digest, key or shape does not check out is treated as missing and rewritten: the
cache can make a scan faster, never different. Entries hold JSON, never pickles, so decoding
one runs no code. The database is pruned to its oldest three quarters when it grows past
MAX_DB_BYTES.

What an entry says is trusted as the scan's own result, so the cache is only as safe as the
directory: like golangci-lint's result cache, it is for a user's own machine, and on a CI
service it is used only when its directory is named (see open_cache). A pull request's gate
never uses it: `tether scan --diff-base`
and the GitHub Action judge every file afresh, because a change's own code may have run
on the runner before the gate (a build step) and written anything the user can write.
(The rule cache, scanner/policy/cache.py, keeps only hashes for the same reason.)

Outcomes that are not a file's own (an internal error, a file that could not be read) are
never stored. Nor is the empty result of a small file (MIN_BYTES), so the cache does not fill
with entries for the many YAML files that are none of tether's business; which files are
stored depends on nothing but their content, so a rescan of an unchanged tree answers the same
files from the cache every time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
import zlib
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from .model import Diagnostic, Fact, Level, Span

FORMAT = 1
DB_NAME = f"facts-v{FORMAT}.sqlite3"
# a small file that yields nothing (most YAML and JSON is none of tether's business, and says
# so at a glance) is not written: reading it again costs less than an entry
MIN_BYTES = 4096
MAX_ENTRY_BYTES = 64 * 1024 * 1024  # compressed; a file's facts are far smaller
MAX_PLAIN_BYTES = 128 * 1024 * 1024  # inflated: past the largest a scan writes (50,000 findings)
MAX_DB_BYTES = 1024 * 1024 * 1024
_MAGIC = b"TETHERF1"
# the database's tables: files' facts and SARIF line hashes; whole scans' judged results
_TABLES = ("entries", "judged", "verdicts")
_LEVELS = {lv.value: lv for lv in Level}


@cache
def code_identity() -> str:
    """What decides a file's facts besides the file: tether's own sources (parsers,
    extractors, their tables) by content, and the parsing libraries by their files' names,
    sizes and times. Content, not times, for tether's own: reproducible builds give every file
    one fixed time, and a same-size edit must not be answered from an older entry (~3 ms)."""
    from . import __version__

    h = hashlib.sha256(f"{FORMAT}\0{sys.version_info[:2]}\0{__version__}".encode())
    top = os.path.dirname(os.path.abspath(__file__))
    for rel in sorted(_sources(top)):
        h.update(rel.encode() + b"\0")
        try:
            with open(os.path.join(top, rel), "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())
        except OSError:
            h.update(b"unreadable")
    for name in _PARSERS:
        h.update(_installed(name).encode() + b"\0")
    return h.hexdigest()


def _sources(top: str) -> list[str]:
    """The package's source and data files, relative to `top` (no bytecode caches)."""
    out: list[str] = []
    for dirpath, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel = os.path.relpath(dirpath, top)
        out.extend(f if rel == "." else os.path.join(rel, f) for f in files)
    return out


def _stats(top: str, only: str | None = None) -> str:
    """Each regular file in the directory `top` (or only the one named `only`): name, size,
    modification time."""
    parts = []
    try:
        entries = list(os.scandir(top))
    except OSError:
        return ""
    for e in entries:
        if only is not None and e.name != only:
            continue
        try:
            st = e.stat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            parts.append(f"{e.name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(sorted(parts))


_PARSERS = ("tree_sitter", "tree_sitter_hcl", "ruamel.yaml", "_ruamel_yaml")


def _installed(name: str) -> str:
    """Which build of a parsing library is installed, without importing it (every process
    must agree, whatever it has imported so far): its files' names, sizes and times (an
    upgrade or reinstall rewrites them)."""
    from importlib.util import find_spec

    try:
        spec = find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        return f"{name}=-"
    origin = spec.origin
    package = os.path.basename(origin) == "__init__.py"
    found = _stats(os.path.dirname(origin), None if package else os.path.basename(origin))
    return f"{name}={found}"


class FactCache:
    """One scan's view of the cache: `context` is what extraction reads besides each file
    (the pod-template table), folded into every key."""

    def __init__(self, directory: Path, context: Any = None) -> None:
        self.root = directory
        self.store = _Store(directory / DB_NAME)
        seed = hashlib.sha256(code_identity().encode())
        seed.update(json.dumps(context, sort_keys=True, default=str).encode())
        self._seed = seed
        self.hits = 0
        self.misses = 0

    def key(self, path: str, kind: str, data: bytes, chart_values: bool) -> str:
        h = self._seed.copy()
        h.update(f"\0{kind}\0{path}\0{int(chart_values)}\0{len(data)}\0".encode())
        h.update(data)
        return h.hexdigest()

    def get(self, key: str) -> tuple[list[Fact], list[Diagnostic]] | None:
        payload = self.store.load(key)
        got = _decode(payload) if payload is not None else None
        if got is None:
            self.misses += 1
        else:
            self.hits += 1
        return got

    def put(self, key: str, facts: Sequence[Fact], diags: Sequence[Diagnostic]) -> None:
        """Kept for `flush`, which writes every entry of a parse worker at once."""
        try:
            payload = _encode(facts, diags)
        except (TypeError, ValueError):  # not plain JSON after all: simply not cached
            return
        self.store.add(key, payload)

    def flush(self) -> None:
        self.store.flush()

    def close(self) -> None:
        self.store.close()


class _Store:
    """The SQLite table of entries, one connection per process (a forked parse worker opens
    its own: a connection must not cross a fork), new entries held until `flush`."""

    def __init__(self, path: Path, table: str = "entries") -> None:
        if table not in _TABLES:
            raise ValueError(f"unknown cache table {table!r}")
        self.path = path
        self.table = table
        self._conn: Any = None
        self._pid = -1
        self._broken = False
        self.pending: list[tuple[str, bytes]] = []

    def _connection(self) -> Any:
        if self._broken:
            return None
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        import sqlite3

        from .policy.cache import _ours

        try:
            try:
                st = os.lstat(self.path)
            except FileNotFoundError:
                pass
            else:  # a link, or a file someone else may write, is not ours to trust
                if not stat.S_ISREG(st.st_mode) or not _ours(st):
                    self._broken = True
                    return None
            try:
                conn = self._open()
            except sqlite3.DatabaseError as e:
                if isinstance(e, sqlite3.OperationalError):
                    raise  # locked, unreadable: not ours to remove
                # not a database (a torn write, a disk error): start a new one
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(f"{self.path}{suffix}")
                conn = self._open()
        except (sqlite3.Error, OSError):
            self._broken = True
            return None
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _open(self) -> Any:
        import sqlite3

        conn = sqlite3.connect(
            self.path, timeout=2.0, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            for table in _TABLES:
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} "
                    "(key TEXT PRIMARY KEY, value BLOB NOT NULL, written INTEGER NOT NULL)"
                )
                conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_written ON {table} (written)")
            os.chmod(self.path, 0o600)
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        """Write what is pending and let the connection go (in this process only: one a
        parse worker inherited belongs to the parent)."""
        self.flush()
        if self._conn is not None and self._pid == os.getpid():
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn, self._pid = None, -1

    def load(self, key: str) -> bytes | None:
        """An entry's payload, or None unless it is whole and written under this key."""
        conn = self._connection()
        if conn is None:
            return None
        import sqlite3

        try:
            row = conn.execute(f"SELECT value FROM {self.table} WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as e:
            self._corrupt(e)
            return None
        return _unwrap(row[0], key) if row is not None and isinstance(row[0], bytes) else None

    def add(self, key: str, data: bytes) -> None:
        self.pending.append((key, _wrap(key, data)))

    def flush(self) -> None:
        """Write the pending entries in one transaction; a cache that cannot be written (a
        lock held too long, a full disk) is simply not kept."""
        pending, self.pending = self.pending, []
        if not pending:
            return
        conn = self._connection()
        if conn is None:
            return
        import sqlite3
        import time

        now = int(time.time())
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    f"INSERT OR REPLACE INTO {self.table} (key, value, written) VALUES (?, ?, ?)",
                    [(k, v, now) for k, v in pending],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            # the pages in use (a DELETE leaves the file its size, its pages free for reuse)
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            size = conn.execute("PRAGMA page_size").fetchone()[0]
            if (pages - free) * size > MAX_DB_BYTES:
                for table in _TABLES:
                    conn.execute(
                        f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} "
                        f"ORDER BY written LIMIT (SELECT count(*) / 4 FROM {table}))"
                    )
        except sqlite3.Error as e:
            self._corrupt(e)
        except OSError:
            pass

    def _corrupt(self, e: Exception) -> None:
        """A database whose pages are damaged (its header intact) fails every query: it is
        removed, for the next scan to start a new one, and not used again by this one."""
        import sqlite3

        if isinstance(e, sqlite3.OperationalError) or not isinstance(e, sqlite3.DatabaseError):
            return  # locked, busy, full: not damage
        self.close()
        self._broken = True
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}{suffix}")


class LineHashCache:
    """SARIF's line hashes of files (see report/fingerprint.py), kept by file content in the
    cache database: hashing every line up to the last one a finding is on costs more than the
    rest of writing the SARIF, and an unchanged file hashes the same. One per SARIF written;
    what it learns is written at `close`, in one transaction."""

    def __init__(self, directory: Path) -> None:
        self.store = _Store(directory / DB_NAME)

    def get(self, data: bytes, compute: Callable[[], Sequence[str]], upto: int) -> Sequence[str]:
        """At least the first `upto` line hashes of a file with these bytes; `compute()` gives
        all of them, and stands in for an entry that does not decode to strings."""
        key = hashlib.sha256(f"{code_identity()}\0lines\0".encode() + data).hexdigest()
        payload = self.store.load(key)
        if payload is not None:
            try:
                got = json.loads(payload)
            except ValueError:
                got = None
            if isinstance(got, list) and len(got) >= upto and all(type(h) is str for h in got):
                return got
        hashes = list(compute())
        self.store.add(key, json.dumps(hashes, separators=(",", ":")).encode())
        return hashes

    def close(self) -> None:
        self.store.close()


def _wrap(key: str, data: bytes) -> bytes:
    payload = zlib.compress(data, 1)
    return _MAGIC + key.encode() + hashlib.sha256(payload).digest() + payload


def _unwrap(raw: bytes, key: str) -> bytes | None:
    head = len(_MAGIC) + len(key) + 32
    if len(raw) < head or len(raw) > MAX_ENTRY_BYTES or raw[: head - 32] != _MAGIC + key.encode():
        return None
    digest, payload = raw[head - 32 : head], raw[head:]
    if hashlib.sha256(payload).digest() != digest:
        return None
    try:
        d = zlib.decompressobj()
        out = d.decompress(payload, MAX_PLAIN_BYTES)
    except zlib.error:
        return None
    # a payload that inflates past the bound (a crafted "zip bomb") is not an entry
    return None if d.unconsumed_tail or not d.eof else out


def _span(v: Any) -> Span:
    a, b, c, d = v
    if not (type(a) is type(b) is type(c) is type(d) is int):
        raise TypeError("span")
    return Span(a, b, c, d)


def _encode(facts: Sequence[Fact], diags: Sequence[Diagnostic]) -> bytes:
    doc = {
        "facts": [
            [
                f.kind,
                f.path,
                list(f.span),
                f.target,
                f.data,
                {k: list(s) for k, s in f.spans.items()},
            ]
            for f in facts
        ],
        "diags": [[d.path, list(d.span), d.code, d.message, d.level.value] for d in diags],
    }
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()


def _decode(payload: bytes) -> tuple[list[Fact], list[Diagnostic]] | None:
    """An entry's facts and diagnostics, or None unless they have the shape written (the
    checks are inline: a warm rescan decodes every fact of the repository)."""
    try:
        doc = json.loads(payload)
        facts: list[Fact] = []
        append = facts.append
        for kind, path, span, target, data, spans in doc["facts"]:
            if not (
                type(kind) is str
                and type(path) is str
                and type(target) is str
                and type(data) is dict
                and type(spans) is dict
            ):
                raise TypeError("fact")
            # JSON object keys are strings already
            append(
                Fact(kind, path, _span(span), target, data, {k: _span(v) for k, v in spans.items()})
            )
        diags = []
        for path, span, code, message, level in doc["diags"]:
            if not (type(path) is str and type(code) is str and type(message) is str):
                raise TypeError("diagnostic")
            diags.append(Diagnostic(path, _span(span), code, message, _LEVELS[level]))
    except (ValueError, TypeError, KeyError, zlib.error):
        return None
    return facts, diags


def entry_count(directory: Path, table: str = "entries") -> int:
    """How many entries a table of the cache database in `directory` holds (0 when none):
    `entries` (facts and SARIF line hashes), `judged` or `verdicts` (resultcache.py)."""
    store = _Store(directory / DB_NAME, table)
    if not store.path.exists():
        return 0
    conn = store._connection()
    if conn is None:
        return 0
    try:
        return int(conn.execute(f"SELECT count(*) FROM {store.table}").fetchone()[0])
    except Exception:  # not readable as ours: nothing to count
        return 0
    finally:
        store.close()


# set by CI services (GitHub Actions, GitLab, Jenkins, Buildkite, Azure Pipelines, CircleCI,
# TeamCity, Bitbucket, Travis and most others set CI)
_CI_VARIABLES = (
    "CI",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "JENKINS_URL",
    "BUILDKITE",
    "TF_BUILD",
    "CIRCLECI",
    "TEAMCITY_VERSION",
    "BITBUCKET_BUILD_NUMBER",
)


def in_ci() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() not in ("", "0", "false", "no") for v in _CI_VARIABLES
    )


def open_cache(context: Any = None) -> FactCache | None:
    """The cache for a scan, or None when caching is off or no trusted directory exists. On a
    CI service the cache is used only when its directory is named (--cache-dir,
    $TETHER_CACHE_DIR): there a build step of the change under test, or another job sharing
    a self-hosted runner's user, may have written the default directory before this scan."""
    from .policy.cache import explicit, trusted_directory

    if in_ci() and not explicit():
        return None
    d = trusted_directory()
    return FactCache(d, context) if d is not None else None
