"""Exceptions: the bounded-autonomy escape hatch. A team may deviate from the golden path when
it records why, who owns the deviation, who approved it, and until when.

Three homes: the repository's `.tether/exceptions.yaml`, central registries (`--exceptions`
or a baseline's `exceptions:` files), and inline comments for one line
(`# tether:ignore RULE-ID reason (until 2027-01-31)`). A valid exception moves matching
findings from the report's findings to its excepted list. Every exception also becomes a
`tether.exception` fact, so its own problems (expired, unjustified, too long, repo-local where
only central approval is allowed, matching nothing) are judged by ordinary rules
(rules/exceptions/) and reported like any other finding.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .model import Fact, Finding, Span
from .policy.baseline import Baseline
from .policy.documents import line_of, load_yaml, validate
from .policy.functions import glob_match
from .policy.rules import Rule
from .source import read_regular

REPO_FILES = (".tether/exceptions.yaml", ".tether/exceptions.yml")
_INLINE = re.compile(
    r"(?:#|//|/\*)\s*tether:ignore\s+"
    r"(?P<rules>[A-Za-z][A-Za-z0-9-]*(?:\s*,\s*[A-Za-z][A-Za-z0-9-]*)*)"
    r"(?P<reason>.*?)"
    r"(?:\(\s*until\s+(?P<until>\d{4}-\d{2}-\d{2})\s*\))?\s*(?:\*/)?\s*$"
)
# Words that do not justify anything on their own.
_TRIVIAL = {
    "",
    "n/a",
    "na",
    "none",
    "todo",
    "tbd",
    "temp",
    "temporary",
    "wip",
    "fixme",
    "ignore",
    "later",
    "fix later",
    "test",
    "testing",
    "because",
    "needed",
    "required",
    "legacy",
    "-",
}
MIN_JUSTIFICATION_WORDS = 3


@dataclass(frozen=True)
class ExceptionRecord:
    rule: str  # rule id, or a pack name
    justification: str
    owner: str | None
    approved_by: str | None
    ticket: str | None
    created: dt.date | None
    expires: dt.date | None
    path: str | None  # glob
    target: str | None  # glob
    repo: str | None  # glob
    origin: str  # repo | central | inline
    file: str  # where it was recorded (repo-relative for repo and inline records)
    span: Span
    inline_line: int | None = None  # the line an inline record applies to

    @property
    def key(self) -> str:
        return f"{self.origin}:{self.file}:{self.span.start_line}:{self.rule}"


@dataclass(frozen=True)
class Excepted:
    finding: Finding
    record: ExceptionRecord


@dataclass
class Outcome:
    kept: list[Finding]
    excepted: list[Excepted]
    facts: list[Fact] = field(default_factory=list)


def justification_ok(text: str) -> bool:
    t = " ".join(text.split()).strip().lower().rstrip(".")
    return t not in _TRIVIAL and len(t.split()) >= MIN_JUSTIFICATION_WORDS


def _date(v: Any) -> dt.date | None:
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            return None
    return None


def load_file(path: Path, shown: str, origin: str) -> list[ExceptionRecord]:
    """Records of one exceptions file; a malformed file is a configuration error."""
    data, root = load_yaml(path, shown)
    if data is None:
        return []
    validate("exceptions", data, root, shown)
    items = data["exceptions"] if isinstance(data, dict) else data
    prefix: list[Any] = ["exceptions"] if isinstance(data, dict) else []
    out = []
    for i, item in enumerate(items):
        line = line_of(root, [*prefix, i]) or 1
        scope = item.get("scope") or {}
        rule = str(item["rule"])
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*\d{3}", rule):
            rule = rule.upper()  # rule ids are upper case; `k8s001` means K8S001
        out.append(
            ExceptionRecord(
                rule=rule,
                justification=str(item.get("justification") or "").strip(),
                owner=item.get("owner"),
                approved_by=item.get("approved_by"),
                ticket=item.get("ticket"),
                created=_date(item.get("created")),
                expires=_date(item.get("expires")),
                path=scope.get("path"),
                target=scope.get("target"),
                repo=scope.get("repo"),
                origin=origin,
                file=shown,
                span=Span(line, 1, line, 2),
            )
        )
    return out


def load_repo(root: Path) -> list[ExceptionRecord]:
    for name in REPO_FILES:
        p = root / name
        if p.is_file():
            return load_file(p, name, "repo")
    return []


def load_central(paths: Iterable[str]) -> list[ExceptionRecord]:
    out: list[ExceptionRecord] = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise ConfigError(p, None, "exceptions file not found")
        out.extend(load_file(path, p, "central"))
    return out


def inline_records(
    root: Path, findings: Sequence[Finding], packs: frozenset[str] = frozenset()
) -> list[ExceptionRecord]:
    """`tether:ignore` comments on a finding's line or the line above it. Only files with
    findings are read. The comment names rule ids or pack names; the first word that is
    neither starts the reason."""
    out: list[ExceptionRecord] = []
    seen: set[tuple[str, int]] = set()
    texts: dict[str, list[str]] = {}
    for f in findings:
        if f.path not in texts:
            data = read_regular(os.path.join(root, f.path))
            texts[f.path] = [] if data is None else data.decode("utf-8", "replace").split("\n")
        lines = texts[f.path]
        line = f.span.start_line
        for n in (line, line - 1):
            if not 1 <= n <= len(lines) or (f.path, n) in seen:
                continue
            m = _INLINE.search(lines[n - 1])
            if m is None:
                continue
            seen.add((f.path, n))
            col = m.start() + 1
            tokens = re.split(r"\s*,\s*", m.group("rules").strip())
            names: list[str] = []
            for i, tok in enumerate(tokens):
                if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*\d{3}", tok) or tok in packs:
                    names.append(tok)
                else:  # `ID, vendor image...`: the reason began early
                    rest = ", ".join(tokens[i:])
                    break
            else:
                rest = ""
            reason = " ".join(f"{rest} {m.group('reason')}".split()).strip(" :-—,")
            for rule in names:
                out.append(
                    ExceptionRecord(
                        rule=rule.upper() if re.match(r"^[A-Za-z]+\d{3}$", rule) else rule,
                        justification=reason,
                        owner=None,
                        approved_by=None,
                        ticket=None,
                        created=None,
                        expires=_date(m.group("until")),
                        path=f.path,
                        target=None,
                        repo=None,
                        origin="inline",
                        file=f.path,
                        span=Span(n, col, n, len(lines[n - 1]) + 1),
                        # a comment on its own line applies to the next line, else its own
                        inline_line=n + 1
                        if lines[n - 1].lstrip().startswith(("#", "//", "/*"))
                        else n,
                    )
                )
    return out


def _policy(rule: Rule | None, baseline: Baseline, rule_id: str) -> tuple[bool, int | None]:
    """(repo-local exceptions allowed, maximum duration in days) for a rule: the rule file's
    `exceptions:` defaults, overridden by the baseline's rule settings and defaults."""
    local, max_days = True, None
    if rule is not None:
        pol = rule.extra.get("exceptions") or {}
        local = bool(pol.get("local", True))
        max_days = pol.get("max_days")
    defaults = baseline.data.get("exception_policy") or {}
    if "max_days" in defaults and max_days is None:
        max_days = defaults["max_days"]
    s = baseline.rule_settings(rule_id)
    if "local_exceptions" in s:
        local = bool(s["local_exceptions"])
    if "max_exception_days" in s:
        max_days = s["max_exception_days"]
    return local, max_days


def _matches(rec: ExceptionRecord, f: Finding, rules: Mapping[str, Rule], repo: str | None) -> bool:
    rule = rules.get(f.rule_id)
    if rec.rule != f.rule_id and (rule is None or rec.rule != rule.pack):
        return False
    if rec.inline_line is not None:
        return rec.file == f.path and f.span.start_line in (rec.inline_line, rec.span.start_line)
    if rec.path and not (glob_match(f.path, rec.path) or glob_match(f.path, rec.path + "/**")):
        return False
    if rec.target and not glob_match(f.target, rec.target):
        return False
    return not (rec.repo and (repo is None or not glob_match(repo, rec.repo)))


def apply(
    findings: Sequence[Finding],
    records: Sequence[ExceptionRecord],
    rules: Mapping[str, Rule],
    baseline: Baseline,
    today: dt.date,
    repo: str | None = None,
) -> Outcome:
    """Split findings into kept and excepted, and observe each record as a fact."""
    states = []
    for rec in records:
        rule = rules.get(rec.rule)
        local_allowed, max_days = _policy(rule, baseline, rec.rule)
        start = rec.created or today
        duration = (rec.expires - start).days if rec.expires else None
        expired = rec.expires is not None and rec.expires < today
        accountable = rec.origin == "inline" or bool(rec.owner and (rec.approved_by or rec.ticket))
        justified = justification_ok(rec.justification)
        within = max_days is None or (duration is not None and duration <= max_days)
        allowed = rec.origin == "central" or local_allowed
        valid = not expired and justified and accountable and within and allowed
        states.append((rec, valid, duration, expired, accountable, justified, max_days, allowed))
    kept: list[Finding] = []
    excepted: list[Excepted] = []
    matched: dict[str, int] = {}
    for f in findings:
        hit = None
        for rec, valid, *_ in states:
            if _matches(rec, f, rules, repo):
                matched[rec.key] = matched.get(rec.key, 0) + 1
                if valid and hit is None:
                    hit = rec
        if hit is None:
            kept.append(f)
        else:
            excepted.append(Excepted(f, hit))
    facts = []
    for rec, _valid, duration, expired, accountable, justified, max_days, allowed in states:
        facts.append(
            Fact(
                "tether.exception",
                rec.file,
                rec.span,
                f"exception:{rec.origin}:{rec.rule}:{rec.path or rec.target or '*'}",
                {
                    "rule": rec.rule,
                    "origin": rec.origin,
                    "justification": rec.justification,
                    "justified": justified,
                    "accountable": accountable,
                    "owner": rec.owner,
                    "expires": rec.expires.isoformat() if rec.expires else None,
                    "expired": expired,
                    "days_expired": (today - rec.expires).days if expired and rec.expires else 0,
                    "duration_days": duration,
                    "max_days": max_days,
                    "local_allowed": allowed,
                    "matched": matched.get(rec.key, 0),
                },
            )
        )
    return Outcome(kept, excepted, facts)
