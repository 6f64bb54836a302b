"""Console output: one line per finding, then diagnostics, then a summary."""

from __future__ import annotations

from collections import Counter

from ..gate import Decision
from ..model import Level, Report, Timings, count
from ..redact import redact


def render(
    report: Report,
    *,
    color: bool = False,
    quiet: bool = False,
    verdict: str | None = None,
) -> str:
    """The console report; `quiet`: only the summary and the verdict line; `verdict`: the
    final PASS/FAIL line (see :func:`verdict_line`)."""
    if quiet:
        tail = [summary(report)] + ([verdict] if verdict else [])
        return "\n".join(tail) + "\n"
    lines: list[str] = []
    # paths and messages carry text from the scanned repository: control characters are
    # escaped so a file cannot forge console lines or terminal sequences, and messages,
    # owners and justifications are redacted (say) so a committed token is not printed
    for f in report.findings:
        where = f"{say(f.path)}:{f.span.start_line}:{f.span.start_col}"
        level = _paint(f.level.value, f.level, color)
        lines.append(f"{where}  {f.rule_id}  {f.category.value}  {level}  {say(f.message)}")
    # a Helm-heavy repository has thousands of template notes: one line per chart here
    # (every file stays in SARIF and JSON)
    templates: Counter[str] = Counter()
    for d in report.diagnostics:
        head, sep, _ = f"/{d.path}".partition("/templates/")
        if d.code == "not-scanned-template" and d.level is Level.NOTE and sep:
            templates[head.lstrip("/") or "."] += 1
            continue
        where = f"{say(d.path)}:{d.span.start_line}:{d.span.start_col}"
        lines.append(
            f"{where}  {d.code}  diagnostic  {_paint(d.level.value, d.level, color)}  "
            f"{say(d.message)}"
        )
    for chart, n in sorted(templates.items()):
        lines.append(
            f"{say(chart)}  not-scanned-template  diagnostic  "
            f"{_paint('note', Level.NOTE, color)}  {count(n, 'template')} not scanned "
            "(Go/Helm syntax that is not YAML as written); scan the rendered chart "
            "(helm template ... > rendered.yaml) to check them; SARIF and JSON list each file"
        )
    for e in report.excepted:
        f, r = e.finding, e.record
        until = r.expires.isoformat() if r.expires else "no expiry"
        lines.append(
            f"{say(f.path)}:{f.span.start_line}:{f.span.start_col}  {f.rule_id}  excepted  "
            f"until {until}, owner {say(r.owner or '-')} ({r.origin} {say(r.file)}:"
            f"{r.span.start_line}): {say(r.justification)}"
        )
    lines.append(summary(report))
    if report.diff is not None:
        d = report.diff
        new = {id(f) for f in d.new}
        lines.append(
            f"against {say(d.base_ref)} (merge base {_clean(d.base_commit[:12])}): "
            f"{len(d.new)} new, "
            f"{len(d.fixed)} fixed, {len(d.unchanged)} unchanged; the fail level applies to "
            "new findings"
        )
        lines += [
            f"  new: {say(f.path)}:{f.span.start_line}:{f.span.start_col}  {f.rule_id}"
            for f in report.findings
            if id(f) in new
        ]
    if verdict:
        lines.append(verdict)
    return "\n".join(lines) + "\n"


def timings_line(t: Timings, reports: float, wall: float, cpu: float, pr: bool = False) -> str:
    """Where the time went, for --timings. The scan's phases: load (rules, baselines,
    configuration), discover (walking the tree; with the result cache, also reading each file
    to see whether a scan before judged the same), parse, facts (observing what was parsed, the
    fact cache, cross-file work) and policy (judging, exceptions); with one process they add
    up to the scan's wall time (`other` is the rest), with parse workers parse and facts are
    summed over them and may exceed it. Then writing the reports, and tether's own wall and CPU
    time (workers included) from the command's start, after the interpreter's start-up: wall
    against wall, CPU against CPU, never a sum over processes against wall. In PR mode the
    phases are the head's scan (the merge base is scanned too, inside the command's time)."""
    cached = f", {t.cached:,} from the fact cache" if t.cached else ""
    if t.reused:
        cached = ", judged results from the result cache"
    phases = (
        f"load {t.load:.3f}s, discover {t.discover:.3f}s, parse {t.parse:.3f}s, "
        f"facts {t.facts:.3f}s, policy {t.policy:.3f}s"
    )
    if t.workers > 1:
        how = f"{t.workers} parse workers (parse and facts summed over them)"
    else:
        other = max(0.0, t.total - t.load - t.discover - t.parse - t.facts - t.policy)
        how = "1 process"
        phases += f", other {other:.3f}s"
    return (
        f"timings: {count(t.files, 'file')}, {t.bytes / 1024:,.0f} KiB{cached}; {how}; "
        f"{phases}; {'head ' if pr else ''}scan {t.total:.3f}s wall; reports {reports:.3f}s; "
        f"tether {wall:.3f}s wall, {cpu:.3f}s CPU (after start-up)"
    )


def verdict_line(decision: Decision, color: bool = False) -> str:
    """The last console line: PASS or FAIL, and why, from the gate's own decision (what
    :func:`scanner.gate.decide` counted, new findings only in PR mode), e.g.
    ``FAIL: 31 findings at error level (fail level: error)``,
    ``FAIL: 2 error-level diagnostics (parse-error 2)``,
    ``PASS: no findings at error level or above (12 warnings, 3 notes below the fail level)``."""
    d = decision
    new = "new " if d.pr else ""
    if d.failed:
        reasons: list[str] = []
        if d.blocking:
            levels = Counter(f.level for f in d.blocking)
            n = count(len(d.blocking), new + "finding")
            if len(levels) == 1:
                reasons.append(f"{n} at {next(iter(levels)).value} level (fail level: {d.fail_on})")
            else:
                reasons.append(
                    f"{n} at {d.fail_on} level or above ({_by_level(levels, '')}; "
                    f"fail level: {d.fail_on})"
                )
        if d.diagnostics:
            levels = Counter(x.level for x in d.diagnostics)
            kinds = " and ".join(
                f"{levels[lv]} {new}{lv.value}-level" for lv in _LEVELS if levels[lv]
            )
            noun = "diagnostic" if len(d.diagnostics) == 1 else "diagnostics"
            codes = Counter(x.code for x in d.diagnostics)
            why = ", ".join(
                _clean(c) + ("" if len(d.diagnostics) == 1 else f" {k}")
                for c, k in codes.most_common()
            )
            # warning-level diagnostics fail only because of --strict: say so
            if levels[Level.WARNING]:
                why += "; --strict"
            if d.fail_on == "never":
                why += "; diagnostics fail the run whatever the fail level"
            reasons.append(f"{kinds} {noun} ({why})")
        text = "; ".join(reasons)
    elif d.fail_on == "never":
        found = count(len(d.gated), new + "finding") if d.gated else f"no {new}findings"
        text = f"fail level never ({found} reported; findings never fail the run)"
    else:
        text = f"no {new}findings at {d.fail_on} level or above"
        notes: list[str] = []
        below = Counter(f.level for f in d.below)
        if below:
            notes.append(f"{_by_level(below, new)} below the fail level")
        if d.staged:
            staged = count(len(d.staged), new + "finding")
            notes.append(f"{staged} of staged rules not yet enforced")
        if notes:
            text += f" ({'; '.join(notes)})"
    word = "FAIL" if d.failed else "PASS"
    if color:
        word = f"\x1b[{'31' if d.failed else '32'}m{word}\x1b[0m"
    return f"{word}: {text}"


_LEVELS = (Level.ERROR, Level.WARNING, Level.NOTE)  # most severe first


def _by_level(levels: Counter[Level], prefix: str) -> str:
    """``3 errors, 2 warnings``: counts by level, most severe first."""
    return ", ".join(count(levels[lv], prefix + lv.value) for lv in _LEVELS if levels[lv])


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
    where = ""
    if report.paths:
        shown = ", ".join(say(p) for p in report.paths[:3])
        more = f" and {len(report.paths) - 3} more" if len(report.paths) > 3 else ""
        where = f" in {shown}{more}"
    return (
        f"{head}{exc}{diag}; {count(report.timings.files, 'file')} scanned{where} with "
        f"{count(len(report.rules), 'rule')}"
    )


# C0, DEL and the 8-bit C1 controls (U+0080-U+009F: CSI, OSC... on terminals that honour them)
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]}
_CONTROL.update({0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"})


def _clean(s: str) -> str:
    return s.translate(_CONTROL) if not s.isprintable() else s


def say(s: str) -> str:
    """Repository-controlled text as the console shows it (message, owner, justification, and
    paths too: a token committed as a file name is still a token, and logs are kept; SARIF and
    JSON keep the real path, they locate the file): redacted, then cleaned."""
    return _clean(redact(s))


_COLORS = {Level.ERROR: "31", Level.WARNING: "33", Level.NOTE: "36"}


def _paint(s: str, level: Level, color: bool) -> str:
    return f"\x1b[{_COLORS[level]}m{s}\x1b[0m" if color else s
