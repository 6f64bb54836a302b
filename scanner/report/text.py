"""Console output: one line per finding, then diagnostics, then a summary."""

from __future__ import annotations

from collections import Counter

from ..model import Level, Report


def render(report: Report, *, color: bool = False, show_timings: bool = False) -> str:
    lines: list[str] = []
    for f in report.findings:
        where = f"{f.path}:{f.span.start_line}:{f.span.start_col}"
        level = _paint(f.level.value, f.level, color)
        lines.append(f"{where}  {f.rule_id}  {f.category.value}  {level}  {f.message}")
    for d in report.diagnostics:
        where = f"{d.path}:{d.span.start_line}:{d.span.start_col}"
        lines.append(
            f"{where}  {d.code}  diagnostic  {_paint(d.level.value, d.level, color)}  {d.message}"
        )
    for e in report.excepted:
        f, r = e.finding, e.record
        until = r.expires.isoformat() if r.expires else "no expiry"
        lines.append(
            f"{f.path}:{f.span.start_line}:{f.span.start_col}  {f.rule_id}  excepted  "
            f"until {until}, owner {r.owner or '-'} ({r.origin} {r.file}:{r.span.start_line}): "
            f"{r.justification}"
        )
    lines.append(summary(report))
    if show_timings:
        t = report.timings
        lines.append(
            f"timings: {t.files} files, {t.bytes / 1024:.0f} KiB; load {t.load:.3f}s, "
            f"discover {t.discover:.3f}s, parse {t.parse:.3f}s, "
            f"facts {t.facts:.3f}s, policy {t.policy:.3f}s, total {t.total:.3f}s"
        )
    return "\n".join(lines) + "\n"


def summary(report: Report) -> str:
    n = len(report.findings)
    if n == 0:
        head = "No findings"
    else:
        cats = Counter(f.category.value for f in report.findings)
        levels = Counter(f.level.value for f in report.findings)
        by_cat = ", ".join(f"{c} {cats[c]}" for c in sorted(cats))
        by_level = ", ".join(
            f"{lv} {levels[lv]}" for lv in ("error", "warning", "note") if levels[lv]
        )
        head = f"{n} finding{'s' if n != 1 else ''} ({by_cat}; {by_level})"
    d = len(report.diagnostics)
    diag = f"; {d} diagnostic{'s' if d != 1 else ''}" if d else ""
    x = len(report.excepted)
    exc = f"; {x} excepted" if x else ""
    return f"{head}{exc}{diag}; {report.timings.files} files scanned with {len(report.rules)} rules"


_COLORS = {Level.ERROR: "31", Level.WARNING: "33", Level.NOTE: "36"}


def _paint(s: str, level: Level, color: bool) -> str:
    return f"\x1b[{_COLORS[level]}m{s}\x1b[0m" if color else s
