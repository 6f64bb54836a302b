"""Whether a report fails the run: one definition for the CLI and the GitHub Action."""

from __future__ import annotations

from .model import Level, Report


def failing(report: Report, fail_on: str, strict: bool) -> bool:
    """Findings at or above `fail_on`; a diagnostic printed as an error (a file tether could
    not read: it may hide anything), whatever `fail_on` says; with `strict`, warning-level
    diagnostics too. In PR mode all three count only what the change introduces (new
    findings, files that became unreadable). Staged rules that are not enforced never fail."""
    diff = report.diff
    diags = diff.new_diagnostics if diff is not None else report.diagnostics
    floor = Level.WARNING if strict else Level.ERROR
    if any(d.level.rank >= floor.rank for d in diags):
        return True
    if fail_on == "never":
        return False
    threshold = Level(fail_on).rank
    gated = diff.new if diff is not None else report.findings
    return any(f.enforced and f.level.rank >= threshold for f in gated)
