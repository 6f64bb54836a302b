"""Markdown for job summaries ($GITHUB_STEP_SUMMARY) and issues: new findings first, fixed ones
as a thank-you, existing debt folded away, excepted findings with their justification.

Paths, messages, justifications, owners and the base ref are written by the repository under
review, and GitHub renders this Markdown (links, images, HTML, autolinks). Every such string
goes through :func:`md_text`: redacted, put on one line, clipped to :data:`MAX_CELL`
characters, every ASCII punctuation character backslash-escaped (``&``, ``<`` and ``>`` as
entities) and autolinks (``www.``, ``scheme://``, ``user@host``) broken with a zero-width
space, so it renders as the literal text and nothing else. No code spans: backslash escapes
do not work inside them.

GitHub caps a step summary at 1 MiB. Each section (a table or list) has its own byte budget
and lists at most ``limit`` items, saying how many were left out; one huge section (or
message) cannot shrink the others.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from ..model import Finding, Report
from ..redact import clip, redact

T = TypeVar("T")

MAX_BYTES: Final = 1024 * 1024 - 16 * 1024  # leave room for other steps' summaries
MAX_CELL: Final = 300  # characters of one repository-controlled string
_SECTIONS: Final = 8  # new, requested, excepted now, fixed, unchanged, excepted, diagnostics x2
SECTION_BYTES: Final = (MAX_BYTES - 16 * 1024) // _SECTIONS  # headings and prose get the rest
_ICON = {"error": "🔴", "warning": "🟠", "note": "🔵"}
_MORE = "more (see the SARIF or JSON report)"

_ZWSP: Final = "\u200b"
_ESCAPES: Final = {ord(c): "\\" + c for c in string.punctuation}
_ESCAPES.update({ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;"})
_ESCAPES.update({c: " " for c in [*range(0x20), 0x7F]})
# `@` only where GFM could autolink an e-mail address (a dotted domain follows), so that
# `actions/checkout@v4` or `image@sha256:...` stay copyable
_AUTOLINK: Final = re.compile(r"(?i:www)(?=\.)|:(?=//)|@(?=[A-Za-z0-9_-]+\.[A-Za-z0-9])")
_SAFE_ID: Final = re.compile(r"[A-Za-z0-9_.-]+")


def md_text(s: str, limit: int = MAX_CELL) -> str:
    """Repository-controlled ``s`` as Markdown that renders as exactly its (redacted,
    clipped) text: no link, image, HTML, heading, emphasis, list or table break."""
    s = clip(redact(s), limit)
    s = _AUTOLINK.sub(lambda m: m.group() + _ZWSP, s)
    return s.translate(_ESCAPES)


def _rule(rule_id: str) -> str:
    return f"`{rule_id}`" if _SAFE_ID.fullmatch(rule_id) else md_text(rule_id)


def _where(path: str, line: int) -> str:
    return f"{md_text(path)}:{line}"


def _bounded(
    items: Sequence[T], limit: int, row: Callable[[T], str], more: Callable[[int], str]
) -> list[str]:
    """Rows for at most ``limit`` items within :data:`SECTION_BYTES`, then a row saying how
    many were left out."""
    rows: list[str] = []
    used = 0
    for item in items[:limit]:
        text = row(item)
        size = len(text.encode("utf-8")) + 1
        if used + size > SECTION_BYTES:
            break
        rows.append(text)
        used += size
    if len(rows) < len(items):
        rows.append(more(len(items) - len(rows)))
    return rows


def _finding_row(f: Finding) -> str:
    return (
        f"| {_ICON.get(f.level.value, '')} | {_rule(f.rule_id)} {f.category.value} | "
        f"{_where(f.path, f.span.start_line)} | {md_text(f.message)} |"
    )


def _table(findings: Sequence[Finding], limit: int) -> list[str]:
    return [
        "| | rule | location | message |",
        "| --- | --- | --- | --- |",
        *_bounded(findings, limit, _finding_row, lambda n: f"| | | | … and {n} {_MORE} |"),
    ]


def _counts(findings: Sequence[Finding]) -> str:
    c = Counter(f.category.value for f in findings)
    return ", ".join(f"{n} {cat}" for cat, n in sorted(c.items())) or "none"


def _excepted_row(e: Any) -> str:
    f, r = e.finding, e.record
    return (
        f"| {_rule(f.rule_id)} | {_where(f.path, f.span.start_line)} | "
        f"{md_text(r.justification)} | {md_text(r.owner or '-', 100)} | "
        f"{r.expires.isoformat() if r.expires else '-'} |"
    )


def _requested_row(q: Any) -> str:
    r = q.record
    state = "applied (self-service)" if q.applied else "needs approval"
    return (
        f"| {_rule(r.rule)} | {_where(r.file, r.span.start_line)} | {md_text(r.scope_text, 200)} | "
        f"{md_text(r.justification)} | {len(q.findings)} | {state} |"
    )


def _diagnostic_row(d: Any) -> str:
    return f"- {_where(d.path, d.span.start_line)} {md_text(d.code, 100)}: {md_text(d.message)}"


def render(report: Report, *, title: str = "tether", limit: int = 50) -> str:
    out = [f"## {md_text(title, 100)}: golden-path check", ""]
    if report.paths:
        shown = ", ".join(md_text(p, 200) for p in report.paths[:10])
        more = f" and {len(report.paths) - 10} more" if len(report.paths) > 10 else ""
        out += [
            f"Scanned {shown}{more} (part of the repository: repository-level rules and "
            "stale exceptions are judged by a whole-repository scan).",
            "",
        ]
    diff: Any = report.diff
    if diff is not None:
        new, fixed, unchanged = diff.new, diff.fixed, diff.unchanged
        out.append(
            f"Compared with {md_text(diff.base_ref, 200)} "
            f"(merge base {md_text(diff.base_commit[:12], 12)}): "
            f"**{len(new)} new**, {len(fixed)} fixed, {len(unchanged)} unchanged."
        )
        out.append("")
        if new:
            out += [f"### New in this change ({_counts(new)})", "", *_table(new, limit), ""]
        else:
            out += ["### No new findings", "", "This change adds no golden-path debt. ✅", ""]
        if diff.new_diagnostics:
            out += [
                f"### Files this change made unreadable ({len(diff.new_diagnostics)})",
                "",
                *_bounded(
                    diff.new_diagnostics, limit, _diagnostic_row, lambda n: f"- … and {n} {_MORE}"
                ),
                "",
            ]
        if report.requested:
            out += [
                f"### Requested exceptions ({len(report.requested)})",
                "",
                "This change adds or widens exceptions. A change cannot approve its own "
                "deviation: ask "
                + (
                    ", ".join(md_text(a, 60) for a in report.approvers[:10])
                    if report.approvers
                    else "the platform team"
                )
                + " to record it in the central registry, or to review and merge this change "
                "past the gate. Rules the policy marks self-service apply at once.",
                "",
                "| rule | recorded at | scope | justification | findings | state |",
                "| --- | --- | --- | --- | --- | --- |",
                *_bounded(
                    report.requested,
                    limit,
                    _requested_row,
                    lambda n: f"| | … and {n} {_MORE} | | | | |",
                ),
                "",
            ]
        if diff.excepted_now:
            out += [
                f"### Existing debt this change puts under an exception ({len(diff.excepted_now)})",
                "",
                "Not fixed: still a deviation, now with a recorded justification.",
                "",
                *_table(diff.excepted_now, limit),
                "",
            ]
        if fixed:
            out += [
                f"### Fixed by this change: thank you! 🎉 ({len(fixed)})",
                "",
                *_table(fixed, limit),
                "",
            ]
        if unchanged:
            out += [
                "<details>",
                f"<summary>Existing debt, not introduced here ({len(unchanged)}: "
                f"{_counts(unchanged)})</summary>",
                "",
                *_table(unchanged, limit),
                "",
                "</details>",
                "",
            ]
    else:
        found = report.findings
        out.append(f"**{len(found)} finding(s)** ({_counts(found)}).")
        out.append("")
        if found:
            out += [*_table(found, limit), ""]
    if report.excepted:
        out += [
            "<details>",
            f"<summary>Excepted by recorded exceptions ({len(report.excepted)})</summary>",
            "",
            "| rule | location | justification | owner | expires |",
            "| --- | --- | --- | --- | --- |",
            *_bounded(
                report.excepted, limit, _excepted_row, lambda n: f"| | … and {n} {_MORE} | | | |"
            ),
            "",
            "</details>",
            "",
        ]
    if report.diagnostics:
        out += [
            "<details>",
            f"<summary>Diagnostics: files tether could not fully read, skipped directories, "
            f"notes ({len(report.diagnostics)})</summary>",
            "",
            *_bounded(report.diagnostics, limit, _diagnostic_row, lambda n: f"- … and {n} {_MORE}"),
            "",
            "</details>",
            "",
        ]
    return "\n".join(out)
