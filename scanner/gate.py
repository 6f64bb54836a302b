"""Whether a report fails the run, and why: one definition for the CLI and the GitHub Action.

:func:`decide` returns the :class:`Decision` with what it counted, so that every verdict line
(console, Markdown summary) says the reason from the same decision that sets the exit status;
:func:`failing` is its yes/no."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Diagnostic, Finding, Level, Report


@dataclass(frozen=True)
class Decision:
    """What the gate counted. In PR mode (`pr`) only what the change introduces: new
    findings, files that became unreadable."""

    fail_on: str
    strict: bool
    pr: bool
    gated: tuple[Finding, ...]  # the findings the fail level applies to (new ones in PR mode)
    blocking: tuple[Finding, ...]  # gated, enforced, at or above the fail level
    staged: tuple[Finding, ...]  # gated, at or above the fail level, of rules not yet enforced
    diagnostics: tuple[Diagnostic, ...]  # the diagnostics that fail the run

    @property
    def failed(self) -> bool:
        return bool(self.blocking or self.diagnostics)

    @property
    def below(self) -> tuple[Finding, ...]:
        """Gated findings under the fail level (every gated finding with fail level never)."""
        if self.fail_on == "never":
            return self.gated
        threshold = Level(self.fail_on).rank
        return tuple(f for f in self.gated if f.level.rank < threshold)


def decide(report: Report, fail_on: str, strict: bool) -> Decision:
    """Findings at or above `fail_on`; a diagnostic printed as an error (a file tether could
    not read: it may hide anything), whatever `fail_on` says; with `strict`, warning-level
    diagnostics too. In PR mode all three count only what the change introduces (new
    findings, files that became unreadable). Staged rules that are not enforced never fail."""
    diff = report.diff
    diags = diff.new_diagnostics if diff is not None else report.diagnostics
    floor = Level.WARNING if strict else Level.ERROR
    gated = tuple(diff.new if diff is not None else report.findings)
    if fail_on == "never":
        above: tuple[Finding, ...] = ()
    else:
        threshold = Level(fail_on).rank
        above = tuple(f for f in gated if f.level.rank >= threshold)
    return Decision(
        fail_on=fail_on,
        strict=strict,
        pr=diff is not None,
        gated=gated,
        blocking=tuple(f for f in above if f.enforced),
        staged=tuple(f for f in above if not f.enforced),
        diagnostics=tuple(d for d in diags if d.level.rank >= floor.rank),
    )


def failing(report: Report, fail_on: str, strict: bool) -> bool:
    """Whether the run fails (see :func:`decide`)."""
    return decide(report, fail_on, strict).failed
