"""A whole scan's judged results, kept by everything they are a function of.

A rescan of a repository whose configuration files did not change (the usual case for a
pre-commit hook, an editor, a re-run, a commit that touched only code) judges exactly what
the last scan judged. The fact cache (factcache.py) already spares the parsing; this spares
the rest: every file's facts, the cross-file passes (kustomize builds, Terraform module
linking) and the policy. What is kept is the outcome of the scan's first judging pass, before
exceptions: findings, rule diagnostics, tallies, the diagnostics of reading the files, and
the few figures the report gives. Exceptions (repository, central, inline) are read and
applied afresh on every scan, so recording or expiring one never waits on this cache.

The key hashes, in canonical JSON:

- tether's code identity (factcache.code_identity: its sources, version, parsing libraries)
  and the CEL runtime's build;
- every rule as loaded (each field of scanner.policy.rules.Rule that is data: sources of its
  expressions, message, location, staging, file shown, parameters' schema ...);
- the merged baseline (values, layer files, where each key was set), today's date, preview,
  the per-scan limits and the excludes;
- every file the walk yields: its path, kind, whether it was reached through a link, whether
  it is a Helm chart's values file, and what reading it gave (a sha256 of its bytes, or the
  diagnostic). Not its inode's state (size and times, as git's index does): a hostile review
  showed that file systems with times to the second (ext4 with small inodes, HFS+, FAT) or
  without a change time of their own (sshfs) let a same-size edit keep the state;
- every path the walk saw (presence rules, the repository summary), and the repository
  summary and configuration facts themselves (which read ownership files and the
  repository's configuration).

A scan is kept only if the bytes it parsed are the bytes its key hashed: the scan records a
sha256 of every file it reads (in parse workers too), and a walked file whose digest differs
(changed between the key's read and the parse) keeps the scan out of the cache. (Change
times are a second guard: `quiet_since`.)

Files a kustomization lists that the walk did not yield (kustomize reads them whatever their
name or place) are read during the scan, not before: an entry records each such path with
the digest of what the scan parsed (or, for one it did not read, what reading it gives: see
`_extra_state`), and is used only while every one still reads the same.

Only whole-repository scans use it, and only where the fact cache is used (the same trusted
directory, the same SQLite database, never on a CI service unless the directory is named,
never in a pull request's gate): what an entry says is taken as the scan's own result.
Entries are JSON with their key and digest (factcache._wrap); one that does not decode to
the shape written is a miss.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import stat
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from .factcache import DB_NAME, FactCache, _installed, _span, _Store, code_identity
from .model import (
    BaselineRef,
    Category,
    Diagnostic,
    Distance,
    Fact,
    Finding,
    FixEdit,
    Level,
    RuleTally,
    Span,
)

T = TypeVar("T")
FORMAT = 5  # 2: the findings' texts in a table; 3: a finding's drift distance; 4: its fix;
# 5: a fix's comment, added entries and safety
_LEVELS = {lv.value: lv for lv in Level}
_CATEGORIES = {c.value: c for c in Category}
# Rule fields that are compiled forms of other fields (their sources are keyed instead)
_COMPILED = frozenset({"when", "assertion", "message", "baseline_keys", "distance", "fix"})


@dataclasses.dataclass
class Judged:
    """What a scan's first judging pass gave (see scanning.scan)."""

    findings: list[Finding]
    rule_diags: list[Diagnostic]
    tallies: dict[str, RuleTally]
    diags: list[Diagnostic]  # reading and observing the files
    facts_count: int
    files: int
    bytes: int
    kustomize_roots: tuple[str, ...]
    kustomize_dirs: tuple[str, ...]
    inline: frozenset[str]  # files with findings that hold the inline-ignore keyword


def file_state(path: str, kind: str, linked: bool, chart_values: bool, got: Any) -> list[Any]:
    """One walked file, as the key sees it: `got` is what reading it gave (bytes or a
    Diagnostic)."""
    return [path, kind, linked, chart_values, _outcome(got)]


def _outcome(got: Any) -> Any:
    """What reading a file gave, as kept: its bytes' sha256, or the diagnostic."""
    if isinstance(got, bytes):
        return hashlib.sha256(got).hexdigest()
    return ["diagnostic", got.code, got.message, got.level.value]


def key(
    *,
    rules: Mapping[str, Any],
    baseline: Any,
    today: dt.date,
    preview: bool,
    limits: Sequence[int],
    excludes: Sequence[str],
    files: Sequence[list[Any]],
    seen: Sequence[str],
    facts: Sequence[Fact],
) -> str | None:
    """The key of a scan's judged results, or None when something it depends on has no
    canonical form (then the scan is simply not kept)."""
    try:
        doc = {
            "format": FORMAT,
            "code": code_identity(),
            # the CEL runtime judges: its build counts here (not for facts, which it never reads)
            "cel": _installed("cel"),
            "rules": [_rule(r) for _, r in sorted(rules.items())],
            "baseline": [
                baseline.data,
                list(baseline.files),
                sorted([list(k), list(v)] for k, v in baseline.provenance.items()),
            ],
            "today": today.isoformat(),
            "preview": preview,
            "limits": list(limits),
            "excludes": list(excludes),
            "files": files,
            "seen": list(seen),
            "facts": [_fact(f) for f in facts],
        }
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(b"judged\0" + text.encode()).hexdigest()


def _rule(rule: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(rule):
        if f.name in _COMPILED:
            continue
        value = getattr(rule, f.name)
        out[f.name] = value.value if isinstance(value, Category | Level) else value
    return out


def _fact(f: Fact) -> list[Any]:
    spans = {k: list(s) for k, s in f.spans.items()}
    return [f.kind, f.path, list(f.span), f.target, f.data, spans]


def extra_paths(facts: Sequence[Fact], walked: set[str]) -> list[str]:
    """Paths the kustomizations among `facts` list that the walk did not yield: the scan
    may have read them (see scanning._observe and _listed_unwalked)."""
    out = {
        str(rel)
        for f in facts
        if f.kind == "k8s.kustomization"
        for rel in f.data.get("local_paths") or []
        if isinstance(rel, str) and rel not in walked
    }
    return sorted(out)


# how far a file's change time may lag the clock read at the start of a scan: kernels stamp
# it from a coarse clock, up to a scheduler tick (10 ms at HZ=100) behind. (A network file
# system stamps from its server's clock; one more than this behind can hide a change made
# during the scan: do not keep a cache directory's repositories on one that is.)
CLOCK_SLACK_NS = 50_000_000


def quiet_since(paths: Sequence[str], started_ns: int) -> bool:
    """Whether none of `paths` (absolute) changed, appeared or disappeared since `started_ns`
    (time.time_ns() when the scan began): a scan whose files changed while it read them
    judged bytes its key may not describe, so it is not kept. A write, a rename over, a
    removal or a link retargeted sets a change time (of the file, the link or the directory)
    no program can set back."""
    slack = started_ns - CLOCK_SLACK_NS
    for p in paths:
        try:
            st = os.lstat(p)
            if st.st_ctime_ns >= slack:
                return False
            if stat.S_ISLNK(st.st_mode) and os.stat(p).st_ctime_ns >= slack:
                return False
        except FileNotFoundError:
            # gone, or never there: the directory that would hold it says whether that changed
            d = os.path.dirname(p)
            while True:
                try:
                    if os.stat(d).st_ctime_ns >= slack:
                        return False
                    break
                except FileNotFoundError:
                    if os.path.dirname(d) == d:
                        return False
                    d = os.path.dirname(d)
                except OSError:
                    return False
        except OSError:
            return False
    return True


def _extra_state(root_real: str, rel: str) -> Any:
    """What reading a listed path gives, as the scan reads it (source.read: a regular file
    within the size cap, else a diagnostic; never a FIFO opened nor a huge file read)."""
    from .source import SourceFile, read

    real = os.path.realpath(os.path.join(root_real, rel.replace("/", os.sep)))
    if not real.startswith(root_real + os.sep):
        return "outside"
    if os.path.isdir(real):
        return "directory"
    return _outcome(read(SourceFile(rel, real, "yaml")))


def open_store(cache: FactCache) -> _Store:
    """The result cache's table in the fact cache's database (its directory, its trust)."""
    return _Store(cache.root / DB_NAME, "judged")


class VerdictMemo:
    """Verdicts and failure texts, one rule and one combination of fact values at a time,
    kept between scans (scanner.policy.engine.Memo): what a rescan after an edit, or the
    next repository of an organization, judges again is mostly what was judged before (the
    same images, actions, module sources), and a CEL evaluation costs 30-350 us where a
    lookup costs a few. Each value is keyed by everything it is a function of: the rule, the
    baseline values and parameters the rule reads and tether's code and the CEL runtime's
    build (`ident`), and the fact values it reads (the engine). A value that does
    not decode to the shape written is a miss. Same directory, database and trust as the
    result cache (a table beside `judged`), so used only where that is."""

    def __init__(self, cache: FactCache) -> None:
        self.store = _Store(cache.root / DB_NAME, "verdicts")
        self.seed = hashlib.sha256(f"{code_identity()}\0{_installed('cel')}".encode()).digest()
        self.hits = 0
        self.misses = 0

    def ident(self, rule: Any, base: Any, params: Mapping[str, Any]) -> bytes | None:
        """The seed, every data field of the rule (as the result cache's key has them), and
        the baseline values and parameters its CEL context holds; None when one has no
        canonical form."""
        try:
            doc = json.dumps(
                [_rule(rule), base, dict(params)],
                sort_keys=True,
                separators=(",", ":"),
                allow_nan=False,
            )
        except (TypeError, ValueError):
            return None
        return hashlib.sha256(self.seed + doc.encode()).digest()

    def get(self, key: str) -> Any:
        payload = self.store.load(key)
        if payload is None:
            self.misses += 1
            return None
        try:
            got = json.loads(payload)
        except (ValueError, RecursionError):  # (UnicodeDecodeError too): not tether's
            self.misses += 1
            return None
        self.hits += 1
        return got

    def add(self, key: str, value: Any) -> None:
        try:
            data = json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError):
            return
        self.store.add(key, data)

    def close(self) -> None:
        self.store.close()  # writes what this scan judged, in one transaction


def load(store: _Store, k: str, root: str, rules: Mapping[str, Any] | None = None) -> Judged | None:
    """The judged results kept under `k`, if whole and if every listed file outside the walk
    still reads the same. An entry that does not decode to what tether writes (findings and
    tallies of `rules`, repository-relative paths, spans in a text) is a miss, whatever is
    wrong with it."""
    payload = store.load(k)
    if payload is None:
        return None
    try:
        got = _load(payload, root)
    except Exception:  # a damaged or forged entry, however deep or odd: a miss
        return None
    if got is None:
        return None
    if rules is not None and (
        any(f.rule_id not in rules for f in got.findings)
        or any(rid not in rules for rid in got.tallies)
    ):
        return None
    located: list[Finding | Diagnostic] = [*got.findings, *got.diags, *got.rule_diags]
    if not all(_relative(p) for p in {x.path for x in located}):
        return None
    if not all(_in_text(x.span) for x in located):
        return None
    if not all(_relative(p) for p in got.inline):
        return None
    return got


_MAX_POS = 2**31  # past any line or column of a text within the size cap


def _in_text(s: Span) -> bool:
    return (
        0 < s.start_line <= s.end_line < _MAX_POS
        and min(s.start_col, s.end_col) > 0
        and max(s.start_col, s.end_col) < _MAX_POS
    )


def _relative(path: str) -> bool:
    """A repository-relative POSIX path (or "."), as every finding of a scan has."""
    return path == "." or (
        bool(path) and not path.startswith("/") and "\\" not in path and ".." not in path.split("/")
    )


def _load(payload: bytes, root: str) -> Judged | None:
    doc = json.loads(payload)
    root_real = os.path.realpath(root)
    extras = doc["extras"]
    if not isinstance(extras, list):
        return None
    for rel, state in extras:
        if not isinstance(rel, str) or not _relative(rel) or _extra_state(root_real, rel) != state:
            return None
    refs: dict[tuple[Any, ...], BaselineRef] = {}  # findings share their refs
    texts = doc["texts"]
    if type(texts) is not list or not all(type(t) is str for t in texts):
        return None
    return Judged(
        findings=[_finding(x, texts, refs) for x in doc["findings"]],
        rule_diags=[_diag(x) for x in doc["rule_diags"]],
        tallies={_str(rid): _tally(t) for rid, t in _mapping(doc["tallies"]).items()},
        diags=[_diag(x) for x in doc["diags"]],
        facts_count=_int(doc["facts_count"]),
        files=_int(doc["files"]),
        bytes=_int(doc["bytes"]),
        kustomize_roots=tuple(_str(x) for x in doc["kustomize_roots"]),
        kustomize_dirs=tuple(_str(x) for x in doc["kustomize_dirs"]),
        inline=frozenset(_str(x) for x in doc["inline"]),
    )


def save(
    store: _Store,
    k: str,
    judged: Judged,
    root: str,
    extras: Sequence[str],
    reads: Mapping[str, str],
    read: Sequence[str],
    started_ns: int,
) -> None:
    """Keep `judged` under `k`, with what each of `extras` (repository paths a kustomization
    lists from outside the walk) held as the scan read it (`reads`: path -> sha256 of the
    bytes parsed), or gives now where the scan did not read it (absent, not a regular file,
    over the cap); unless one of the files read (`read`: absolute paths of the walked files)
    or `extras` changed since `started_ns`, as far as change times tell (a second guard: the
    caller has checked the walked files' digests)."""
    texts: dict[str, int] = {}
    root_real = os.path.realpath(root)
    extra_paths = [
        os.path.realpath(os.path.join(root_real, r.replace("/", os.sep))) for r in extras
    ]
    if not quiet_since([*read, *extra_paths], started_ns):
        return
    doc = {
        # the findings' texts, each once (a large repository repeats its messages, paths and
        # rule ids thousands of times: half the entry, and half its decoding)
        "findings": [_finding_doc(f, texts) for f in judged.findings],
        "texts": list(texts),
        "rule_diags": [_diag_doc(d) for d in judged.rule_diags],
        "tallies": {
            rid: [t.passed, t.failed, t.not_applicable, t.counted]
            for rid, t in judged.tallies.items()
        },
        "diags": [_diag_doc(d) for d in judged.diags],
        "facts_count": judged.facts_count,
        "files": judged.files,
        "bytes": judged.bytes,
        "kustomize_roots": list(judged.kustomize_roots),
        "kustomize_dirs": list(judged.kustomize_dirs),
        "inline": sorted(judged.inline),
        "extras": [[rel, reads.get(rel) or _extra_state(root_real, rel)] for rel in extras],
    }
    try:
        payload = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError):
        return
    store.add(k, payload)
    store.flush()


def _finding_doc(f: Finding, texts: dict[str, int]) -> list[Any]:
    """A finding, its repeated texts as indexes into the entry's `texts`."""

    def ix(t: str) -> int:
        return texts.setdefault(t, len(texts))

    return [
        ix(f.rule_id),
        f.category.value,
        f.level.value,
        ix(f.path),
        list(f.span),
        ix(f.message),
        ix(f.target),
        f.fingerprint,
        ix(f.fact_kind),
        [[r.key, r.file, r.line, r.value, r.layer] for r in f.baseline_refs],
        f.enforced,
        ix(f.subject),
        f.external,
        None
        if f.distance is None
        else [
            f.distance.current,
            f.distance.golden,
            f.distance.level,
            f.distance.versions,
            f.distance.days,
        ],
        None
        if f.fix is None
        else [list(f.fix.span), f.fix.text, f.fix.comment, f.fix.entries, f.fix.safe],
    ]


def _finding(x: Any, texts: list[str], memo: dict[tuple[Any, ...], BaselineRef]) -> Finding:
    (
        rid,
        cat,
        level,
        path,
        span,
        msg,
        target,
        fp,
        kind,
        refs,
        enforced,
        subject,
        external,
        far,
        fix,
    ) = x
    # indexes (a negative one would count from the end: refused)
    if not (
        type(rid) is type(path) is type(msg) is type(target) is type(kind) is type(subject) is int
        and min(rid, path, msg, target, kind, subject) >= 0
        and type(fp) is str
        and type(enforced) is type(external) is bool
    ):
        raise TypeError("finding")
    return Finding(
        texts[rid],
        _CATEGORIES[cat],
        _LEVELS[level],
        texts[path],
        _span(span),
        texts[msg],
        texts[target],
        fp,
        texts[kind],
        tuple(_ref(r, memo) for r in refs),
        enforced,
        texts[subject],
        external,
        None if far is None else _distance(far),
        None if fix is None else _fix(fix),
    )


def _fix(x: Any) -> FixEdit:
    span, text, comment, entries, safe = x
    if type(safe) is not bool:
        raise TypeError("fix")
    return FixEdit(
        _span(span),
        _str(text),
        None if comment is None else _str(comment),
        None if entries is None else _str(entries),
        safe,
    )


def _distance(x: Any) -> Distance:
    current, golden, level, versions, days = x
    if level not in ("major", "minor", "patch") or type(versions) is not int:
        raise TypeError("distance")
    return Distance(
        _str(current), _str(golden), level, versions, None if days is None else _int(days)
    )


def _ref(x: Any, memo: dict[tuple[Any, ...], BaselineRef]) -> BaselineRef:
    k, file, line, value, layer = x
    key = (k, file, line, value, layer)
    got = memo.get(key)
    if got is None:
        got = memo[key] = BaselineRef(_str(k), _str(file), _int(line), _str(value), _str(layer))
    return got


def _diag_doc(d: Diagnostic) -> list[Any]:
    return [d.path, list(d.span), d.code, d.message, d.level.value]


def _diag(x: Any) -> Diagnostic:
    path, span, code, message, level = x
    return Diagnostic(_str(path), _span(span), _str(code), _str(message), _LEVELS[level])


def _tally(x: Any) -> RuleTally:
    passed, failed, na, counted = x
    return RuleTally(_int(passed), _int(failed), _int(na), _bool(counted))


def _mapping(x: Any) -> Mapping[str, Any]:
    if not isinstance(x, dict):
        raise TypeError("mapping")
    return x


def _str(x: Any) -> str:
    return _exactly(str, x)


def _int(x: Any) -> int:
    return _exactly(int, x)


def _bool(x: Any) -> bool:
    return _exactly(bool, x)


def _exactly(t: type[T], x: Any) -> T:
    """`x`, which must be of type `t` itself (a bool is not an int here)."""
    if type(x) is not t:
        raise TypeError(t.__name__)
    return x
