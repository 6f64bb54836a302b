"""Markdown for job summaries ($GITHUB_STEP_SUMMARY) and issues: new findings first, fixed ones
as a thank-you, existing debt folded away, excepted findings with their justification.
GitHub caps a step summary at 1 MiB; the output stays well under it by listing at most
`limit` items per section and saying how many were left out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..model import Finding, Report

MAX_BYTES = 1024 * 1024 - 16 * 1024  # leave room for other steps' summaries
_ICON = {"error": "🔴", "warning": "🟠", "note": "🔵"}


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _table(findings: Sequence[Finding], limit: int) -> list[str]:
    rows = ["| | rule | location | message |", "| --- | --- | --- | --- |"]
    for f in findings[:limit]:
        rows.append(
            f"| {_ICON.get(f.level.value, '')} | `{f.rule_id}` {f.category.value} | "
            f"`{_cell(f.path)}:{f.span.start_line}` | {_cell(f.message)} |"
        )
    if len(findings) > limit:
        rows.append(f"| | | | … and {len(findings) - limit} more (see the SARIF or JSON report) |")
    return rows


def _counts(findings: Sequence[Finding]) -> str:
    c = Counter(f.category.value for f in findings)
    return ", ".join(f"{n} {cat}" for cat, n in sorted(c.items())) or "none"


def render(report: Report, *, title: str = "tether", limit: int = 50) -> str:
    out = [f"## {title}: golden-path check", ""]
    diff: Any = report.diff
    if diff is not None:
        new, fixed, unchanged = diff.new, diff.fixed, diff.unchanged
        short = diff.base_commit[:12]
        out.append(
            f"Compared with `{_cell(diff.base_ref)}` (merge base `{short}`): "
            f"**{len(new)} new**, {len(fixed)} fixed, {len(unchanged)} unchanged."
        )
        out.append("")
        if new:
            out += [f"### New in this change ({_counts(new)})", "", *_table(new, limit), ""]
        else:
            out += ["### No new findings", "", "This change adds no golden-path debt. ✅", ""]
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
        ]
        for e in report.excepted[:limit]:
            f, r = e.finding, e.record
            out.append(
                f"| `{f.rule_id}` | `{_cell(f.path)}:{f.span.start_line}` | "
                f"{_cell(r.justification)} | {_cell(r.owner or '-')} | "
                f"{r.expires.isoformat() if r.expires else '-'} |"
            )
        out += ["", "</details>", ""]
    if report.diagnostics:
        out += [
            "<details>",
            f"<summary>Files tether could not fully read ({len(report.diagnostics)})</summary>",
            "",
        ]
        out += [
            f"- `{_cell(d.path)}:{d.span.start_line}` {d.code}: {_cell(d.message)}"
            for d in report.diagnostics[:limit]
        ]
        out += ["", "</details>", ""]
    text = "\n".join(out)
    if len(text.encode("utf-8")) > MAX_BYTES and limit > 5:
        return render(report, title=title, limit=max(5, limit // 4))
    return text
