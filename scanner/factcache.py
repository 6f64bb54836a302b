"""A content-addressed cache of what each file yields: its facts and its diagnostics.

A file's facts are a pure function of its bytes, its repository path and kind, the code that
parses and observes it, and the two pieces of context extraction reads besides the file (the
baseline's pod-template table; whether a `values*.yaml` sits beside a Helm chart's
Chart.yaml). The key hashes exactly those; nothing else a scanned repository controls goes
in, so two repositories holding the same file at the same path share one entry, and a file
that changes in any byte misses. The code's identity is a hash of tether's own sources and
the parsers' versions, so an upgrade (or an edit in a development checkout) never reads an
entry another version wrote.

Entries live as one file each under `<cache dir>/facts-v1/`, where the cache directory is the
one `scanner.policy.cache` trusts (created 0700, owned by the current user, not writable by
anyone else; `--cache-dir` / $TETHER_CACHE_DIR, else $XDG_CACHE_HOME/tether, else
~/.cache/tether; `--no-cache` / $TETHER_NO_CACHE=1 turns it off). Each is written to a
temporary file and renamed into place, so concurrent scans (an org scan's threads, parallel
CI jobs, forked parse workers) only ever see whole entries. An entry carries its own key and a
digest of its payload; one whose digest, key or shape does not check out is treated as
missing and rewritten: the cache can make a scan faster, never different. Entries hold JSON,
never pickles, so decoding one runs no code.

What an entry says is trusted as the scan's own result, so the cache is only as safe as the
directory: like golangci-lint's result cache, it is for a user's own machine and for the
platform team's org scans. A pull request's gate never uses it: `tether scan --diff-base`
and the GitHub Action judge every file afresh, because a change's own code may have run
on the runner before the gate (a build step) and written anything the user can write.
(The rule cache, scanner/policy/cache.py, keeps only hashes for the same reason.)

Outcomes that are not a file's own (an internal error, a file that could not be read) are
never stored. Small results that cost next to nothing to recompute are not stored either, so
the cache does not fill with entries for the many YAML files that are none of tether's
business.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from .model import Diagnostic, Fact, Level, Span

FORMAT = 1
DIR_NAME = f"facts-v{FORMAT}"
LINES_DIR = f"lines-v{FORMAT}"  # SARIF line hashes, by file content
# a result cheaper than this to compute is not written (reading an entry costs about this)
MIN_SECONDS = 0.0002
MAX_ENTRY_BYTES = 64 * 1024 * 1024  # compressed; a file's facts are far smaller
_MAGIC = b"TETHERF1"
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_LEVELS = {lv.value: lv for lv in Level}


@cache
def code_identity() -> str:
    """What decides a file's facts besides the file: tether's own sources (parsers,
    extractors, their tables) and the parsing libraries, each file by name, size and
    modification time, as Python's own bytecode cache judges a source (an upgrade, a
    reinstall or an edit in a development checkout changes them)."""
    h = hashlib.sha256(f"{FORMAT}\0{sys.version_info[:2]}".encode())
    h.update(_stats(os.path.dirname(os.path.abspath(__file__)), recursive=True).encode())
    for name in _PARSERS:
        h.update(_installed(name).encode() + b"\0")
    return h.hexdigest()


def _stats(top: str, *, recursive: bool = False, only: str | None = None) -> str:
    """Each regular file under `top` (or only the one named `only`): relative name, size,
    modification time."""
    parts = []
    stack = [top]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            if only is not None and e.name != only:
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    if recursive and e.name != "__pycache__":
                        stack.append(e.path)
                    continue
                st = e.stat()
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                parts.append(f"{os.path.relpath(e.path, top)}:{st.st_size}:{st.st_mtime_ns}")
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
    found = _stats(os.path.dirname(origin), only=None if package else os.path.basename(origin))
    return f"{name}={found}"


class FactCache:
    """One scan's view of the cache: `context` is what extraction reads besides each file
    (the pod-template table), folded into every key."""

    def __init__(self, directory: Path, context: Any = None) -> None:
        self.root = directory
        self.dir = directory / DIR_NAME
        seed = hashlib.sha256(code_identity().encode())
        seed.update(json.dumps(context, sort_keys=True, default=str).encode())
        self._seed = seed
        self.hits = 0
        self.misses = 0
        self.writes = 0

    def key(self, path: str, kind: str, data: bytes, chart_values: bool) -> str:
        h = self._seed.copy()
        h.update(f"\0{kind}\0{path}\0{int(chart_values)}\0{len(data)}\0".encode())
        h.update(data)
        return h.hexdigest()

    def get(self, key: str) -> tuple[list[Fact], list[Diagnostic]] | None:
        payload = _load(self.dir, key)
        got = _decode(payload) if payload is not None else None
        if got is None:
            self.misses += 1
        else:
            self.hits += 1
        return got

    def put(self, key: str, facts: Sequence[Fact], diags: Sequence[Diagnostic]) -> None:
        try:
            payload = _encode(facts, diags)
        except (TypeError, ValueError):  # not plain JSON after all: simply not cached
            return
        if _store(self.dir, key, payload):
            self.writes += 1


def line_hashes_cached(
    directory: Path | None, data: bytes, compute: Callable[[], Sequence[str]], upto: int
) -> Sequence[str]:
    """SARIF's line hashes of a file (see report/fingerprint.py), at least its first `upto`
    lines, kept by the file's content: hashing every line up to the last one a finding is on
    costs more than the rest of writing the SARIF, and an unchanged file hashes the same.
    `compute()` gives all of them; an entry that does not decode to strings is computed
    again."""
    if directory is None:
        return compute()
    where = directory / LINES_DIR
    key = hashlib.sha256(f"{code_identity()}\0lines\0".encode() + data).hexdigest()
    payload = _load(where, key)
    if payload is not None:
        try:
            got = json.loads(payload)
        except ValueError:
            got = None
        if isinstance(got, list) and len(got) >= upto and all(type(h) is str for h in got):
            return got
    hashes = list(compute())
    _store(where, key, json.dumps(hashes, separators=(",", ":")).encode())
    return hashes


def _entry(directory: Path, key: str) -> Path:
    return directory / key[:2] / key[2:]


def _load(directory: Path, key: str) -> bytes | None:
    """An entry's payload, or None unless it is whole and written under this key."""
    raw = _read(_entry(directory, key))
    if raw is None:
        return None
    head = len(_MAGIC) + len(key) + 32
    if len(raw) < head or raw[: head - 32] != _MAGIC + key.encode():
        return None
    digest, payload = raw[head - 32 : head], raw[head:]
    if hashlib.sha256(payload).digest() != digest:
        return None
    try:
        return zlib.decompress(payload)
    except zlib.error:
        return None


def _store(directory: Path, key: str, data: bytes) -> bool:
    """Write an entry whole: a private temporary file renamed into place."""
    payload = zlib.compress(data, 1)
    blob = _MAGIC + key.encode() + hashlib.sha256(payload).digest() + payload
    entry = _entry(directory, key)
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o600)
        except FileNotFoundError:
            entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, entry)
        except BaseException:
            _unlink(tmp)
            raise
    except OSError:
        return False  # a cache that cannot be written is simply not kept
    return True


def _unlink(p: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(p)


def _read(entry: Path) -> bytes | None:
    try:
        fd = os.open(entry, os.O_RDONLY | _O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ENTRY_BYTES:
                return None
            return fh.read(MAX_ENTRY_BYTES + 1)
    except OSError:
        return None


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
    """An entry's facts and diagnostics, or None unless they have the shape written."""
    try:
        doc = json.loads(payload)
        facts = [
            Fact(
                _str(kind),
                _str(path),
                _span(span),
                _str(target),
                _mapping(data),
                {_str(k): _span(s) for k, s in _mapping(spans).items()},
            )
            for kind, path, span, target, data, spans in doc["facts"]
        ]
        diags = [
            Diagnostic(_str(path), _span(span), _str(code), _str(message), _LEVELS[level])
            for path, span, code, message, level in doc["diags"]
        ]
    except (ValueError, TypeError, KeyError, zlib.error):
        return None
    return facts, diags


def _str(v: Any) -> str:
    if type(v) is not str:
        raise TypeError("str")
    return v


def _mapping(v: Any) -> Mapping[str, Any]:
    if type(v) is not dict:
        raise TypeError("mapping")
    return v


def open_cache(context: Any = None) -> FactCache | None:
    """The cache for a scan, or None when caching is off or no trusted directory exists."""
    from .policy.cache import trusted_directory

    d = trusted_directory()
    return FactCache(d, context) if d is not None else None
