"""JSON for machines: findings, diagnostics, rule tallies and timings, stably ordered."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any

from .. import __version__
from ..fix import Replacements
from ..model import Finding, Report, Span
from ..redact import redact


def _span(s: Span) -> dict[str, int]:
    return {
        "start_line": s.start_line,
        "start_column": s.start_col,
        "end_line": s.end_line,
        "end_column": s.end_col,
    }


def _opt(s: str | None) -> str | None:
    return None if s is None else redact(s)


def _fix(f: Finding, edits: Replacements | None) -> dict[str, Any]:
    """The remedy as rules give it (`kind`; `value`, the new value, and its `comment`; or
    the `entries` added) and, when the file can be read, the exact edit `tether
    fix` and SARIF's fixes make: `region` replaced by `text` (an empty region: an add); else
    `refused`, why it cannot be written in place."""
    assert f.fix is not None
    fix = f.fix
    out: dict[str, Any] = {"kind": "add" if fix.adds else "replace", "safe": fix.safe}
    if fix.entries is not None:
        out["entries"] = json.loads(fix.entries)
    else:
        out["value"] = redact(fix.text)
    if fix.comment is not None:
        out["comment"] = redact(fix.comment)
    edit = None if edits is None or f.external else edits.edit(f.path, fix)
    if isinstance(edit, tuple):
        out["region"], out["text"] = _span(edit[0]), redact(edit[1])
    else:
        out["region"] = _span(fix.span)
        if edit is not None:  # tether fix would refuse it
            out["refused"] = redact(edit)
    return out


def _finding(f: Finding, edits: Replacements | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule_id": f.rule_id,
        "category": f.category.value,
        "level": f.level.value,
        "enforced": f.enforced,
        "path": f.path,
        "region": _span(f.span),
        "message": redact(f.message),
        "target": redact(f.target),
        "subject": redact(f.subject),
        "external": f.external,
        "fingerprint": f.fingerprint,
        # where each value the finding was judged against was set; the entries keep their
        # shape (BaselineRef's value and layer are written to SARIF only, for now)
        "baseline": [{"key": r.key, "file": r.file, "line": r.line} for r in f.baseline_refs],
    }
    if f.fix is not None:  # the remedy `tether fix` applies
        out["fix"] = _fix(f, edits)
    if f.distance is not None:  # how far a drift finding trails the golden version
        d = f.distance
        out["distance"] = {
            "current": redact(d.current),
            "golden": redact(d.golden),
            "level": d.level,
            "versions": d.versions,
            "days": d.days,
        }
    return out


def build(report: Report, lazy: bool = False) -> dict[str, Any]:
    """The JSON report. Messages, targets, justifications, owners, approvers and tickets are
    redacted (they quote repository text); paths and fingerprints are kept as they are.
    `lazy`: findings, excepted findings and diagnostics are generators that make each entry
    as it is written (see chunks), not lists."""
    made: Callable[[Iterator[Any]], Any] = (lambda it: it) if lazy else list
    edits = Replacements(report.root) if report.root else None
    return {
        "tool": {"name": "tether", "version": __version__},
        "baselines": report.baseline_files,
        "findings": made(_finding(f, edits) for f in report.findings),
        "excepted": made(
            {
                "rule_id": e.finding.rule_id,
                "path": e.finding.path,
                "region": _span(e.finding.span),
                "message": redact(e.finding.message),
                "fingerprint": e.finding.fingerprint,
                "exception": {
                    "origin": e.record.origin,
                    "file": e.record.file,
                    "line": e.record.span.start_line,
                    "justification": redact(e.record.justification),
                    "owner": _opt(e.record.owner),
                    "approved_by": _opt(e.record.approved_by),
                    "ticket": _opt(e.record.ticket),
                    "expires": e.record.expires.isoformat() if e.record.expires else None,
                },
            }
            for e in report.excepted
        ),
        "diagnostics": made(
            {
                "code": d.code,
                "level": d.level.value,
                "path": d.path,
                "region": _span(d.span),
                "message": redact(d.message),
            }
            for d in report.diagnostics
        ),
        "rules": {
            rid: {
                "pass": t.passed,
                "fail": t.failed,
                "not_applicable": t.not_applicable,
                "counted_in_adoption": t.counted,
            }
            for rid, t in sorted(report.tallies.items())
        },
        "facts": report.facts_count,
        # what was scanned, relative to the repository root like every path here; an empty
        # list: the whole repository (repository-level rules ran)
        "paths": list(report.paths),
        "diff": None
        if report.diff is None
        else {
            "base_ref": redact(report.diff.base_ref),
            "base_commit": report.diff.base_commit,
            "new": [f.fingerprint for f in report.diff.new],
            # the fixed findings themselves (they exist at the base only: nothing in
            # `findings` names them); the other lists refer to `findings` by fingerprint
            "fixed": [_finding(f) for f in report.diff.fixed],
            "unchanged": [f.fingerprint for f in report.diff.unchanged],
            "excepted_now": [f.fingerprint for f in report.diff.excepted_now],
            "new_diagnostics": [
                {"code": d.code, "path": d.path, "line": d.span.start_line}
                for d in report.diff.new_diagnostics
            ],
        },
        "requested_exceptions": [
            {
                "rule": q.record.rule,
                "origin": q.record.origin,
                "file": q.record.file,
                "line": q.record.span.start_line,
                "scope": redact(q.record.scope_text),
                "applied": q.applied,
                "findings": [f.fingerprint for f in q.findings],
            }
            for q in report.requested
        ],
        "fail_on": report.fail_on,
        "policy": {
            "file": report.policy_file,
            "repos_entry": report.layers_matched,
            "layers": list(report.layers),
        },
        "timings": dataclasses.asdict(report.timings),
    }


_LONG_LISTS = frozenset({"findings", "diagnostics", "excepted"})


def dumps(data: dict[str, Any]) -> str:
    """The JSON report's text: indented, one finding (and diagnostic) per line."""
    from .jsonfmt import dumps as layout

    return layout(data, _LONG_LISTS) + "\n"


def chunks(report: Report) -> Iterator[str]:
    """The text of `dumps(build(report))` in pieces, each finding made as it is written: a
    report of 50,000 findings is never held whole (jsonfmt.chunks)."""
    from .jsonfmt import chunks as layout

    yield from layout(build(report, lazy=True), _LONG_LISTS)
    yield "\n"
