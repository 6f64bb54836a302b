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
from .inline import KEYWORD_BYTES as INLINE_KEYWORD
from .inline import parse_inline
from .model import Fact, Finding, Span
from .policy.baseline import Baseline
from .policy.documents import line_of, load_yaml, validate
from .policy.functions import check_patterns, glob_match
from .policy.operator import Policy
from .policy.rules import Rule
from .prdiff import identity
from .source import classify, read_regular

REPO_FILES = (".tether/exceptions.yaml", ".tether/exceptions.yml")
_RULE_ID = re.compile(r"[A-Za-z][A-Za-z0-9]*\d{3}")
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
    subject: str | None = None  # glob over the judged value (image, action, source...)
    external: bool = False  # recorded outside the scanned repository

    @property
    def key(self) -> str:
        return f"{self.origin}:{self.file}:{self.span.start_line}:{self.rule}"

    @property
    def identity(self) -> tuple[Any, ...]:
        """What was approved: every field but where it sits in its file (moving a record is
        not a change, editing any of its fields is)."""
        return (
            self.origin,
            self.rule,
            self.justification,
            self.owner,
            self.approved_by,
            self.ticket,
            self.created,
            self.expires,
            self.path,
            self.target,
            self.repo,
            self.subject,
        )

    @property
    def scope_text(self) -> str:
        parts = [
            f"{k} {v}"
            for k, v in (
                ("path", self.path),
                ("target", self.target),
                ("subject", self.subject),
                ("repo", self.repo),
            )
            if v
        ]
        return ", ".join(parts) or "whole repository"


@dataclass(frozen=True)
class Excepted:
    finding: Finding
    record: ExceptionRecord
    requested: bool = False  # applied as a self-service exception this change requests


@dataclass(frozen=True)
class Requested:
    """An exception the change under review adds or widens (PR mode)."""

    record: ExceptionRecord
    applied: bool  # the policy allows self-service for its rules
    findings: tuple[Finding, ...]  # what it would cover


@dataclass(frozen=True)
class Approved:
    """What the merge base approved, for judging the head of a pull request: the repository's
    records as they were (by identity), what each covered (rule, subject), and the findings
    inline comments excepted (by finding identity, paths as in the head)."""

    records: frozenset[tuple[Any, ...]] = frozenset()
    subjects: Mapping[tuple[Any, ...], frozenset[tuple[str, str]]] = field(default_factory=dict)
    inline: frozenset[tuple[str, str, str, str]] = frozenset()


@dataclass
class Outcome:
    kept: list[Finding]
    excepted: list[Excepted]
    facts: list[Fact] = field(default_factory=list)
    requested: list[Requested] = field(default_factory=list)
    notes: list[tuple[ExceptionRecord, str]] = field(default_factory=list)
    # records naming no rule or pack: printed as errors (the run fails), the record unused
    errors: list[tuple[ExceptionRecord, str]] = field(default_factory=list)


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


def load_file(
    path: Path, shown: str, origin: str, root: Path | None = None
) -> list[ExceptionRecord]:
    """Records of one exceptions file; a malformed file is a configuration error. `root`:
    the repository the file must stay inside (links out of it are refused)."""
    data, node = load_yaml(path, shown, root=root)
    if data is None:
        return []
    validate("exceptions", data, node, shown, cached=origin == "central")
    items = data["exceptions"] if isinstance(data, dict) else data
    prefix: list[Any] = ["exceptions"] if isinstance(data, dict) else []
    # every scope glob is matched against every finding: bound their number and length
    globs = [v for item in items for v in (item.get("scope") or {}).values()]
    check_patterns(globs, shown, key="scope globs")
    out = []
    for i, item in enumerate(items):
        line = line_of(node, [*prefix, i]) or 1
        scope = item.get("scope") or {}
        rule = str(item["rule"])
        if _RULE_ID.fullmatch(rule):
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
                subject=scope.get("subject"),
                external=origin == "central",
            )
        )
    return out


def load_repo(root: Path) -> list[ExceptionRecord]:
    for name in REPO_FILES:
        p = root / name
        if p.is_file() or p.is_symlink():
            return load_file(p, name, "repo", root)
    return []


def load_central(paths: Iterable[str]) -> list[ExceptionRecord]:
    out: list[ExceptionRecord] = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise ConfigError(p, None, "exceptions file not found")
        out.extend(load_file(path, p, "central"))
    return out


def keyword_paths(root: Path, findings: Sequence[Finding]) -> frozenset[str]:
    """The files among the findings' (in the repository) that hold the inline-ignore keyword:
    the only ones inline_records needs to read (the result cache keeps this set)."""
    paths = {f.path for f in findings if not f.external}
    return frozenset(p for p in paths if _with_keyword(root, p) is not None)


def _with_keyword(root: Path, path: str) -> bytes | None:
    """The file's bytes if it holds the inline-ignore keyword (ASCII: decoding neither makes
    nor hides it), else None; links out of the repository are not followed."""
    data = read_regular(os.path.join(root, path))
    return data if data is not None and INLINE_KEYWORD in data else None


def inline_records(
    root: Path,
    findings: Sequence[Finding],
    packs: frozenset[str] = frozenset(),
    candidates: frozenset[str] | None = None,
) -> list[ExceptionRecord]:
    """`tether:ignore` comments on a finding's line or the line above it. Only files with
    findings are read (each once, without following links out of the repository), and of
    them only `candidates` when given (see keyword_paths). The comment names rule ids or pack
    names; the first word that is neither starts the reason."""
    out: list[ExceptionRecord] = []
    seen: set[tuple[str, int]] = set()
    texts: dict[str, list[str]] = {}
    for f in findings:
        if f.external:
            continue
        if f.path not in texts and candidates is not None and f.path not in candidates:
            texts[f.path] = []
        if f.path not in texts:
            data = _with_keyword(root, f.path)
            texts[f.path] = [] if data is None else data.decode("utf-8", "replace").split("\n")
        lines = texts[f.path]
        line = f.span.start_line
        for n in (line, line - 1):
            if not 1 <= n <= len(lines) or (f.path, n) in seen:
                continue
            ign = parse_inline(lines[n - 1], packs)
            if ign is None or not ign.names:
                continue
            if not ign.own_line and classify(f.path) == "dockerfile":
                # a mid-line `#` is an instruction's argument there: refused (the parser
                # reports it with the accepted form), never applied
                continue
            seen.add((f.path, n))
            for rule in ign.names:
                out.append(
                    ExceptionRecord(
                        rule=rule.upper() if _RULE_ID.fullmatch(rule) else rule,
                        justification=ign.reason,
                        owner=None,
                        approved_by=None,
                        ticket=None,
                        created=None,
                        expires=_date(ign.until),
                        path=f.path,
                        target=None,
                        repo=None,
                        origin="inline",
                        file=f.path,
                        span=Span(n, ign.col, n, len(lines[n - 1]) + 1),
                        # a comment on its own line applies to the next line, else its own
                        inline_line=n + 1 if ign.own_line else n,
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


def expand(rec_rule: str, rules: Mapping[str, Rule]) -> list[str]:
    """The rule ids a record names: one rule, or every rule of a pack (each limit then
    applies per rule)."""
    if rec_rule in rules:
        return [rec_rule]
    return sorted(rid for rid, r in rules.items() if r.pack == rec_rule)


def _in_scope(rec: ExceptionRecord, f: Finding, repo: str | None) -> bool:
    if rec.inline_line is not None:
        return rec.file == f.path and f.span.start_line in (rec.inline_line, rec.span.start_line)
    if rec.path and not (glob_match(f.path, rec.path) or glob_match(f.path, rec.path + "/**")):
        return False
    if rec.target and not glob_match(f.target, rec.target):
        return False
    if rec.subject and not glob_match(f.subject, rec.subject):
        return False
    return not (rec.repo and (repo is None or not glob_match(repo, rec.repo)))


@dataclass
class _State:
    rec: ExceptionRecord
    rules: list[str]
    valid_rules: set[str]
    facts: dict[str, Any]
    requested: bool = False
    widened: bool = False  # an approved record that would cover a subject it did not
    self_service: bool = False
    matched: list[Finding] = field(default_factory=list)


def _approval(rec: ExceptionRecord, policy: Policy, self_service: bool) -> tuple[bool, bool]:
    """(checked, ok): a policy with approvers or a ticket pattern checks recorded approvals.
    Inline comments carry none: their approval is the review that merged them (a policy can
    refuse them outright, `approvals.inline: false`). Self-service rules are the team's own
    call: any owner and approver will do."""
    if rec.origin == "inline":
        return (True, False) if not policy.inline_ignores else (False, True)
    if self_service or not policy.checks_approvals:
        return False, True
    return True, policy.approver_ok(rec.approved_by) or policy.ticket_ok(rec.ticket)


def apply(
    findings: Sequence[Finding],
    records: Sequence[ExceptionRecord],
    rules: Mapping[str, Rule],
    baseline: Baseline,
    today: dt.date,
    repo: str | None = None,
    policy: Policy | None = None,
    approved: Approved | None = None,
) -> Outcome:
    """Split findings into kept and excepted, and observe each record as a fact.

    `approved` is given when judging the head of a pull request: the repository's records
    and inline comments then apply only as the merge base approved them; anything the change
    adds or widens is a *requested* exception, applied only where the policy allows
    self-service for its rules."""
    pol = policy or Policy()
    states: list[_State] = []
    notes: list[tuple[ExceptionRecord, str]] = []
    errors: list[tuple[ExceptionRecord, str]] = []
    for rec in records:
        if (
            rec.repo
            and rec.origin == "central"
            and (repo is None or not glob_match(repo, rec.repo))
        ):
            if repo is None:
                notes.append(
                    (
                        rec,
                        f"exception scoped to repository {rec.repo!r}, but the "
                        "repository name is unknown (pass --repo OWNER/NAME); not applied",
                    )
                )
            continue  # another repository's exception: neither applied nor judged here
        ids = expand(rec.rule, rules)
        if not ids:
            # a typo would otherwise except nothing and say so only in a note. An error-level
            # diagnostic, not a configuration error: it fails a scan, but in PR mode only the
            # change that adds it (a record a renamed rule left behind must not lock every
            # pull request, the one removing it included)
            known = sorted({*rules, *(r.pack for r in rules.values())})
            import difflib  # (only on this error path)

            close = difflib.get_close_matches(str(rec.rule), known, n=1, cutoff=0.6)
            errors.append(
                (
                    rec,
                    f"exception for {rec.rule!r}: no rule or pack of that name"
                    + (f"; did you mean {close[0]}?" if close else "")
                    + "; the record excepts nothing",
                )
            )
            continue
        local_ok: dict[str, bool] = {}
        max_by_rule: dict[str, int | None] = {}
        for rid in ids or [rec.rule]:
            local_ok[rid], max_by_rule[rid] = _policy(rules.get(rid), baseline, rid)
        maxes = [m for m in max_by_rule.values() if m is not None]
        max_days = min(maxes) if maxes else None
        # a creation date in the future does not buy a longer exception: count from today
        start = min(rec.created, today) if rec.created else today
        duration = (rec.expires - start).days if rec.expires else None
        expired = rec.expires is not None and rec.expires < today
        accountable = rec.origin == "inline" or bool(rec.owner and (rec.approved_by or rec.ticket))
        justified = justification_ok(rec.justification)
        self_service = bool(ids) and all(
            pol.self_service_for(rid, rules[rid].pack if rid in rules else None) for rid in ids
        )
        checked, approval_ok = _approval(rec, pol, self_service)
        record_ok = not expired and justified and accountable and approval_ok
        valid_rules = set()
        central_only = []
        for rid in ids:
            allowed = rec.origin == "central" or local_ok[rid]
            m = max_by_rule[rid]
            within = m is None or (duration is not None and duration <= m)
            if not allowed:
                central_only.append(rid)
            if record_ok and allowed and within:
                valid_rules.add(rid)
        st = _State(
            rec,
            ids,
            valid_rules,
            {
                "rule": rec.rule,
                "rules": ids,
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
                "local_allowed": not central_only,
                "central_only_rules": ", ".join(central_only),
                "created_in_future": bool(rec.created and rec.created > today),
                "approval_checked": checked,
                "approval_ok": approval_ok,
                "approved_by": rec.approved_by,
                "ticket": rec.ticket,
                "scope": rec.scope_text,
            },
            self_service=self_service,
        )
        if approved is not None and rec.origin == "repo":
            st.requested = rec.identity not in approved.records
        states.append(st)
    kept: list[Finding] = []
    excepted: list[Excepted] = []
    for f in findings:
        hit: _State | None = None
        hit_requested = False
        fid = identity(f)
        for st in states:
            rec = st.rec
            if f.rule_id not in st.rules or not _in_scope(rec, f, repo):
                continue
            st.matched.append(f)
            requested = st.requested
            if approved is not None and rec.origin == "inline" and fid not in approved.inline:
                requested = st.requested = True
            if hit is not None or f.rule_id not in st.valid_rules:
                continue
            if requested and not st.self_service:
                continue
            if (
                approved is not None
                and rec.origin == "repo"
                and not requested
                and not rec.subject
                and f.subject
                and (f.rule_id, f.subject) not in approved.subjects.get(rec.identity, frozenset())
            ):
                # an exception that does not name its subject covers what it covered when it
                # was approved: covering another image or action under it is a request
                st.widened = True
                if not st.self_service:
                    continue
                requested = True
            hit, hit_requested = st, requested
        if hit is None:
            kept.append(f)
        else:
            excepted.append(Excepted(f, hit.rec, hit_requested))
    facts = []
    requested_list = []
    for st in states:
        data = dict(st.facts)
        data["matched"] = len(st.matched)
        data["requested"] = st.requested or st.widened
        data["self_service"] = st.self_service
        facts.append(
            Fact(
                "tether.exception",
                st.rec.file,
                st.rec.span,
                f"exception:{st.rec.origin}:{st.rec.rule}:{st.rec.path or st.rec.target or '*'}",
                data,
            )
        )
        if st.requested or st.widened:
            applied = st.self_service and bool(st.valid_rules)
            requested_list.append(Requested(st.rec, applied, tuple(st.matched)))
    return Outcome(kept, excepted, facts, requested_list, notes, errors)
