"""Whether a report fails the run: one definition for the CLI and the GitHub Action."""

from __future__ import annotations

from .model import Level, Report


def failing(report: Report, fail_on: str, strict: bool) -> bool:
    """Findings at or above `fail_on` (in PR mode: only new ones), or, with `strict`,
    diagnostics of warning level or above. Staged rules that are not enforced never fail."""
    if strict and any(d.level.rank >= Level.WARNING.rank for d in report.diagnostics):
        return True
    if fail_on == "never":
        return False
    threshold = Level(fail_on).rank
    gated = report.diff.new if report.diff is not None else report.findings
    return any(f.enforced and f.level.rank >= threshold for f in gated)
