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

Rows are sorted by level (error, warning, note), then path and line (the report's order), so
that a cap never hides an error behind warnings, and the row that says how many were left out
counts them by level.
A verdict line under the heading says whether the run passes, at which fail level, and why
(the same decision as :func:`scanner.gate.failing`). Given :class:`Links` (the Action passes
``GITHUB_SERVER_URL``, ``GITHUB_REPOSITORY`` and ``GITHUB_SHA``), locations link to the file at
the commit; otherwise they are plain text.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import quote

from ..gate import decide
from ..model import Finding, Level, Report
from ..redact import clip, redact

T = TypeVar("T")

MAX_BYTES: Final = 1024 * 1024 - 16 * 1024  # leave room for other steps' summaries
MAX_CELL: Final = 300  # characters of one repository-controlled string
_SECTIONS: Final = 8  # new, requested, excepted now, fixed, unchanged, excepted, diagnostics x2
SECTION_BYTES: Final = (MAX_BYTES - 16 * 1024) // _SECTIONS  # headings and prose get the rest
_ICON = {"error": "🔴", "warning": "🟠", "note": "🔵"}
_LEVELS: Final = ("error", "warning", "note")  # most severe first
LEGEND: Final = "Levels: 🔴 error · 🟠 warning · 🔵 note."
_MORE = "more (see the SARIF or JSON report)"

_ZWSP: Final = "\u200b"
_ESCAPES: Final = {ord(c): "\\" + c for c in string.punctuation}
_ESCAPES.update({ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;"})
_ESCAPES.update({c: " " for c in [*range(0x20), 0x7F]})
# `@` only where GFM could autolink an e-mail address (a dotted domain follows), so that
# `actions/checkout@v4` or `image@sha256:...` stay copyable
_AUTOLINK: Final = re.compile(r"(?i:www)(?=\.)|:(?=//)|@(?=[A-Za-z0-9_-]+\.[A-Za-z0-9])")
_SAFE_ID: Final = re.compile(r"[A-Za-z0-9_.-]+")
_SERVER: Final = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)*")
_REPO: Final = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_COMMIT: Final = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


@dataclass(frozen=True)
class Links:
    """Where locations link: ``{server}/{repo}/blob/{sha}/{prefix}{path}#L{line}``. Build it
    with :func:`links`, which checks every part."""

    repo_url: str  # {server}/{repo}
    sha: str
    prefix: str = ""  # the scanned root relative to the repository's checkout, "" or "dir/"

    def url(self, path: str, line: int, sha: str | None = None) -> str | None:
        """The blob URL of ``path`` at ``line`` (at ``sha``, default the scanned commit), or
        None when ``path`` is not a plain repository-relative path or ``sha`` is no commit."""
        sha = sha or self.sha
        full = self.prefix + path
        parts = full.split("/")
        if not _COMMIT.fullmatch(sha) or not path or path.startswith("/") or "\\" in full:
            return None
        if any(part in ("", ".", "..") for part in parts):
            return None
        anchor = f"#L{line}" if line >= 1 else ""
        # every character but unreserved ones and '/' percent-encoded: no ')' or space can end
        # the link destination, no '#' or '?' can change what it points at
        return f"{self.repo_url}/blob/{sha}/{quote(full, safe='/')}{anchor}"


def links(server: str | None, repo: str | None, sha: str | None, prefix: str = "") -> Links | None:
    """:class:`Links` for a GitHub server URL, ``owner/name`` and commit SHA (the Action's
    ``GITHUB_SERVER_URL``, ``GITHUB_REPOSITORY``, ``GITHUB_SHA``), or None when any is missing
    or malformed (locations are then plain text)."""
    server = (server or "").rstrip("/")
    if not (_SERVER.fullmatch(server) and repo and _REPO.fullmatch(repo)):
        return None
    if not (sha and _COMMIT.fullmatch(sha)):
        return None
    prefix = prefix.strip("/")
    if prefix in ("", "."):
        prefix = ""
    elif any(part in ("", ".", "..") for part in prefix.split("/")):
        return None
    else:
        prefix += "/"
    return Links(f"{server}/{repo}", sha, prefix)


def md_text(s: str, limit: int = MAX_CELL) -> str:
    """Repository-controlled ``s`` as Markdown that renders as exactly its (redacted,
    clipped) text: no link, image, HTML, heading, emphasis, list or table break."""
    s = clip(redact(s), limit)
    s = _AUTOLINK.sub(lambda m: m.group() + _ZWSP, s)
    return s.translate(_ESCAPES)


def _rule(rule_id: str) -> str:
    return f"`{rule_id}`" if _SAFE_ID.fullmatch(rule_id) else md_text(rule_id)


def _where(
    path: str, line: int, to: Links | None = None, sha: str | None = None, linked: bool = True
) -> str:
    text = f"{md_text(path)}:{line}"
    url = to.url(path, line, sha) if to is not None and linked else None
    return f"[{text}]({url})" if url else text


def _level_counts(levels: Iterable[str]) -> str:
    c = Counter(levels)
    return ", ".join(f"{_ICON[lv]} {c[lv]} {lv}" for lv in _LEVELS if c[lv])


def _by_level(items: Iterable[T], level: Callable[[T], Level]) -> list[T]:
    """``items`` most severe first; a stable sort, so within a level they keep the report's
    order, which is by path and line (``scan`` sorts findings and diagnostics so)."""
    return sorted(items, key=lambda i: -level(i).rank)


def _bounded(
    items: Sequence[T],
    limit: int,
    row: Callable[[T], str],
    more: Callable[[int, str], str],
    level: Callable[[T], Level] | None = None,
) -> list[str]:
    """Rows for at most ``limit`` items within :data:`SECTION_BYTES`, then a row saying how
    many were left out (and, given ``level``, how many of each level)."""
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
        folded = items[len(rows) :]
        by_level = _level_counts(level(i).value for i in folded) if level is not None else ""
        rows.append(more(len(folded), f": {by_level}" if by_level else ""))
    return rows


def _finding_row(f: Finding, to: Links | None = None, sha: str | None = None) -> str:
    return (
        f"| {_ICON.get(f.level.value, '')} | {_rule(f.rule_id)} {f.category.value} | "
        f"{_where(f.path, f.span.start_line, to, sha, not f.external)} | {md_text(f.message)} |"
    )


def _table(
    findings: Sequence[Finding], limit: int, to: Links | None = None, sha: str | None = None
) -> list[str]:
    """Findings most severe first (a cap must not hide errors behind warnings), then in the
    report's order (path, line)."""
    return [
        "| | rule | location | message |",
        "| --- | --- | --- | --- |",
        *_bounded(
            _by_level(findings, lambda f: f.level),
            limit,
            lambda f: _finding_row(f, to, sha),
            lambda n, by: f"| | | | … and {n} {_MORE}{by} |",
            lambda f: f.level,
        ),
    ]


def _counts(findings: Sequence[Finding]) -> str:
    c = Counter(f.category.value for f in findings)
    return ", ".join(f"{n} {cat}" for cat, n in sorted(c.items())) or "none"


def _excepted_row(e: Any, to: Links | None = None) -> str:
    f, r = e.finding, e.record
    return (
        f"| {_rule(f.rule_id)} | {_where(f.path, f.span.start_line, to, None, not f.external)} | "
        f"{md_text(r.justification)} | {md_text(r.owner or '-', 100)} | "
        f"{r.expires.isoformat() if r.expires else '-'} |"
    )


def _requested_row(q: Any, to: Links | None = None) -> str:
    r = q.record
    state = "applied (self-service)" if q.applied else "needs approval"
    return (
        f"| {_rule(r.rule)} | {_where(r.file, r.span.start_line, to)} | "
        f"{md_text(r.scope_text, 200)} | "
        f"{md_text(r.justification)} | {len(q.findings)} | {state} |"
    )


def _diagnostic_row(d: Any, to: Links | None = None) -> str:
    return (
        f"- {_ICON.get(d.level.value, '')} {_where(d.path, d.span.start_line, to)} "
        f"{md_text(d.code, 100)}: {md_text(d.message)}"
    )


def _diagnostics(diags: Sequence[Any], limit: int, to: Links | None) -> list[str]:
    return _bounded(
        _by_level(diags, lambda d: d.level),
        limit,
        lambda d: _diagnostic_row(d, to),
        lambda n, by: f"- … and {n} {_MORE}{by}",
        lambda d: d.level,
    )


def _n(count: int, what: str) -> str:
    return f"{count} {what}" + ("" if count == 1 else "s")


def verdict(report: Report, strict: bool = False) -> tuple[bool, str]:
    """Whether the run fails (:func:`scanner.gate.decide`, the exit status) and one line of
    Markdown saying so: at which fail level, and why (what the decision counted)."""
    decision = decide(report, report.fail_on, strict)
    failed, pr, fail_on = decision.failed, decision.pr, decision.fail_on
    gated, blocking, staged = decision.gated, decision.blocking, decision.staged
    bad_diags = decision.diagnostics
    new = "new " if pr else ""
    if fail_on == "never":
        level_text = "fail level never (findings do not fail the run)"
    else:
        orhigher = "" if fail_on == "error" else " or higher"
        level_text = f"fail level {fail_on} ({fail_on}{orhigher} findings fail the run)"
    reasons: list[str] = []
    if blocking:
        counts = _level_counts(f.level.value for f in blocking)
        reasons.append(f"{_n(len(blocking), new + 'finding')} ({counts})")
    if bad_diags:
        which = "error or warning" if strict else "error"
        made = "made unreadable by this change" if pr else "tether could not fully read"
        reasons.append(
            f"{_n(len(bad_diags), 'file')} {made} ({which}-level diagnostics fail the run"
            + (", strict" if strict else "")
            + ")"
        )
    if failed:
        why = "; ".join(reasons) or "see the diagnostics"
        return True, f"❌ Failed at {level_text}: {why}."
    if fail_on == "never":
        why = f"{_n(len(gated), new + 'finding')} reported"
    elif gated:
        why = f"no {new}findings at {fail_on}" + ("" if fail_on == "error" else " or higher")
        why += f" ({_n(len(gated), new + 'finding')} below it)" if len(gated) > len(staged) else ""
    else:
        why = f"no {new}findings"
    if staged:
        why += f"; {_n(len(staged), 'finding')} of staged rules not yet enforced"
    return False, f"✅ Passed at {level_text}: {why}."


def render(
    report: Report,
    *,
    title: str = "tether",
    limit: int = 50,
    strict: bool = False,
    links: Links | None = None,
) -> str:
    """The summary of ``report``. ``strict`` as given to :func:`scanner.gate.failing` (for the
    verdict line); ``links``: where locations link (see :func:`links`), plain text if None."""
    failed, verdict_line = verdict(report, strict)
    mark = "❌ failed" if failed else "✅ passed"
    out = [f"## {md_text(title, 100)}: golden-path check, {mark}", "", verdict_line, ""]
    has_rows = bool(report.findings or report.diagnostics or report.excepted or report.diff)
    if has_rows:
        out += [LEGEND, ""]
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
            out += [f"### New in this change ({_counts(new)})", "", *_table(new, limit, links), ""]
        else:
            out += ["### No new findings", "", "This change adds no golden-path debt. ✅", ""]
        if diff.new_diagnostics:
            out += [
                f"### Files this change made unreadable ({len(diff.new_diagnostics)})",
                "",
                *_diagnostics(diff.new_diagnostics, limit, links),
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
                    lambda q: _requested_row(q, links),
                    lambda n, _: f"| | … and {n} {_MORE} | | | | |",
                ),
                "",
            ]
        if diff.excepted_now:
            out += [
                f"### Existing debt this change puts under an exception ({len(diff.excepted_now)})",
                "",
                "Not fixed: still a deviation, now with a recorded justification.",
                "",
                *_table(diff.excepted_now, limit, links),
                "",
            ]
        if fixed:
            # where they were: at the merge base (they are gone from the scanned commit)
            out += [
                f"### Fixed by this change: thank you! 🎉 ({len(fixed)})",
                "",
                *_table(fixed, limit, links, diff.base_commit),
                "",
            ]
        if unchanged:
            out += [
                "<details>",
                f"<summary>Existing debt, not introduced here ({len(unchanged)}: "
                f"{_counts(unchanged)})</summary>",
                "",
                *_table(unchanged, limit, links),
                "",
                "</details>",
                "",
            ]
    else:
        found = report.findings
        out.append(f"**{len(found)} finding{'' if len(found) == 1 else 's'}** ({_counts(found)}).")
        out.append("")
        if found:
            out += [*_table(found, limit, links), ""]
    if report.excepted:
        out += [
            "<details>",
            f"<summary>Excepted by recorded exceptions ({len(report.excepted)})</summary>",
            "",
            "| rule | location | justification | owner | expires |",
            "| --- | --- | --- | --- | --- |",
            *_bounded(
                _by_level(report.excepted, lambda e: e.finding.level),
                limit,
                lambda e: _excepted_row(e, links),
                lambda n, by: f"| | … and {n} {_MORE}{by} | | | |",
                lambda e: e.finding.level,
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
            *_diagnostics(report.diagnostics, limit, links),
            "",
            "</details>",
            "",
        ]
    return "\n".join(out)
