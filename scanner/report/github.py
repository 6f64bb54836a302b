"""GitHub workflow commands (`::error file=…,line=…::message`): annotations on a pull request's
diff, for `tether scan --format github` and the Action (one implementation for both), in the
manner of ruff's and zizmor's `--output-format github`."""

from __future__ import annotations

from ..model import Diagnostic, Finding, Level, Report
from ..redact import redact


def escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_prop(s: str) -> str:
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def _command(
    level: Level,
    path: str,
    line: int,
    end_line: int,
    cols: tuple[int, int] | None,
    title: str,
    message: str,
) -> str:
    kind = {Level.ERROR: "error", Level.WARNING: "warning"}.get(level, "notice")
    props = [f"file={escape_prop(path)}", f"line={line}", f"endLine={end_line}"]
    if cols is not None:
        props += [f"col={cols[0]}", f"endColumn={cols[1]}"]
    props.append(f"title={escape_prop(title)}")
    return f"::{kind} {','.join(props)}::{escape_data(redact(message))}"


def annotation(f: Finding, prefix: str = "") -> str:
    """One finding as a workflow command GitHub shows on the diff."""
    s = f.span
    cols = (s.start_col, s.end_col) if s.start_line == s.end_line else None
    return _command(
        f.level,
        prefix + f.path,
        s.start_line,
        s.end_line,
        cols,
        f"{f.rule_id} ({f.category.value})",
        f.message,
    )


def diagnostic_annotation(d: Diagnostic, prefix: str = "") -> str:
    s = d.span
    cols = (s.start_col, s.end_col) if s.start_line == s.end_line else None
    return _command(
        d.level, prefix + d.path, s.start_line, s.end_line, cols, f"tether {d.code}", d.message
    )


def render(report: Report, prefix: str = "") -> str:
    """Every finding the gate counts (in PR mode the new ones) and every diagnostic it counts,
    most severe first; findings located outside the repository (a central registry) are left
    out, they have no place on the diff."""
    gated = report.diff.new if report.diff is not None else report.findings
    diags = report.diff.new_diagnostics if report.diff is not None else report.diagnostics
    findings = sorted(
        (f for f in gated if not f.external),
        key=lambda f: (-f.level.rank, f.path, f.span.start_line),
    )
    lines = [annotation(f, prefix) for f in findings]
    lines += [diagnostic_annotation(d, prefix) for d in sorted(diags, key=lambda d: -d.level.rank)]
    return "".join(line + "\n" for line in lines)
