"""Delivering an org scan's results where each team already looks: its code scanning alerts
(``--upload``) or, for an organization without code scanning, one dashboard issue per
repository (``--dashboard-issues``).

Both return a small JSON-ready status (``{"status": ..., "reason"?: ..., "id"?/"number"?}``)
for the summary; neither raises for a repository-level problem, so one repository cannot end
the org scan.

The dashboard issue is found again by its label *and* a hidden marker in its body, and (for a
token that has a login) by its author: an issue someone else filed with the same label is not
ours to edit. It is created once, edited in place when the findings change, reopened when
findings return, closed when the repository is clean; never a second issue, never a comment.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from ..github.client import GitHubClient, GitHubError, IssueInfo, SarifStatus
from ..redact import clip, redact
from ..report.markdown import md_text
from .summary import CATEGORIES, RepoOutcome, code_cell

LABEL = "tether-dashboard"
MARKER = "<!-- tether:org-dashboard v1 -->"
TITLE = "tether: golden-path findings"
MAX_BODY = 60_000  # GitHub's limit is 65,536 characters
MAX_ROWS = 200

_logins: weakref.WeakKeyDictionary[GitHubClient, tuple[str | None]] = weakref.WeakKeyDictionary()
_logins_lock = threading.Lock()


def upload(
    gh: GitHubClient, outcome: RepoOutcome, data: bytes, branch: str, wait_s: float
) -> dict[str, Any]:
    """Send one SARIF log to the repository's code scanning for ``outcome.commit`` on the
    default branch, then wait (bounded) for GitHub to process it."""
    assert outcome.commit is not None
    try:
        sarif_id = gh.upload_sarif(outcome.repo, outcome.commit, f"refs/heads/{branch}", data)
    except GitHubError as e:
        if e.status in (403, 404):
            return {
                "status": "unavailable",
                "reason": _short(
                    f"{e.status}: code scanning is not available here (GitHub Advanced "
                    "Security or code scanning not enabled, or the credential lacks "
                    f"security_events: write): {e.message}"
                ),
            }
        return {"status": "failed", "reason": _short(f"upload: {e.message}")}
    if wait_s <= 0:
        return {"status": "pending", "id": sarif_id}
    try:
        status = gh.wait_sarif(outcome.repo, sarif_id, timeout=wait_s)
    except GitHubError as e:
        return {"status": "pending", "id": sarif_id, "reason": _short(f"status: {e.message}")}
    return _processed(status, sarif_id, f"still processing after {wait_s:g} s")


def recheck(gh: GitHubClient, outcome: RepoOutcome, sarif_id: str) -> dict[str, Any]:
    """The status of an upload an earlier run left pending (one request)."""
    try:
        status = gh.sarif_status(outcome.repo, sarif_id)
    except GitHubError as e:
        return {"status": "pending", "id": sarif_id, "reason": _short(f"status: {e.message}")}
    return _processed(status, sarif_id, "still processing")


def _processed(status: SarifStatus, sarif_id: str, pending: str) -> dict[str, Any]:
    """An upload's outcome from code scanning's processing status."""
    if status.processing_status == "complete":
        return {"status": "uploaded", "id": sarif_id}
    if status.processing_status == "failed":
        errors = "; ".join(status.errors) or "no reason given"
        return {"status": "failed", "id": sarif_id, "reason": _short(f"rejected: {errors}")}
    return {"status": "pending", "id": sarif_id, "reason": pending}


def _short(text: str) -> str:
    return clip(redact(text), 400)


def _login(gh: GitHubClient) -> str | None:
    """Who the client acts as, asked once per client."""
    with _logins_lock:
        known = _logins.get(gh)
    if known is not None:
        return known[0]
    login = gh.viewer_login()
    with _logins_lock:
        _logins[gh] = (login,)
    return login


def _ours(issue: IssueInfo, login: str | None, known: int | None) -> bool:
    """Whether tether wrote this issue: the marker, and the author tether acts as; when that
    is unknown (an installation token given as GITHUB_TOKEN), only the issue number an
    earlier run recorded. Anyone may add a label and copy a marker."""
    if MARKER not in issue.body:
        return False
    if login is not None:
        return issue.author is not None and issue.author.lower() == login.lower()
    return known is not None and issue.number == known


def dashboard(
    gh: GitHubClient,
    outcome: RepoOutcome,
    log: dict[str, Any],
    category: str,
    known: int | None = None,
) -> dict[str, Any]:
    """Create, edit, reopen or close the repository's dashboard issue to match ``log``
    (``known``: the issue number an earlier run created or edited)."""
    try:
        login = _login(gh)
        mine = sorted(
            (i for i in gh.issues_with_label(outcome.repo, LABEL) if _ours(i, login, known)),
            key=lambda i: i.number,
        )
        issue = next((i for i in mine if i.state == "open"), mine[0] if mine else None)
        body = render(outcome, log, category)
        if outcome.findings == 0:
            if issue is None or issue.state == "closed":
                return {"status": "clean"}
            gh.update_issue(outcome.repo, issue.number, body=body, state="closed")
            return {"status": "closed", "number": issue.number}
        if issue is None:
            number = gh.create_issue(outcome.repo, TITLE, body, [LABEL])
            return {"status": "created", "number": number}
        if issue.body == body and issue.state == "open":
            return {"status": "up-to-date", "number": issue.number}
        gh.update_issue(
            outcome.repo,
            issue.number,
            body=body,
            state="open" if issue.state != "open" else None,
        )
        return {"status": "updated", "number": issue.number}
    except GitHubError as e:
        if e.status in (403, 404, 410):
            return {
                "status": "unavailable",
                "reason": _short(f"{e.status}: issues are disabled or not writable: {e.message}"),
            }
        return {"status": "failed", "reason": _short(f"dashboard issue: {e.message}")}


def render(outcome: RepoOutcome, log: dict[str, Any], category: str) -> str:
    """The issue body: deterministic for the same findings and commit (no timestamps), so an
    unchanged repository's issue is not edited."""
    commit = (outcome.commit or "")[:12]
    lines = [MARKER, ""]
    if outcome.findings == 0:
        lines += [
            f"tether found nothing off the golden path at `{commit}` "
            f"of {code_cell(outcome.default_branch or '')}. Closed automatically.",
        ]
        return "\n".join(lines) + "\n"
    counts = ", ".join(
        f"{outcome.by_category.get(c, 0)} {c}" for c in CATEGORIES if outcome.by_category.get(c)
    )
    lines += [
        f"The weekly tether org scan found **{outcome.findings}** findings ({counts}) at "
        f"`{commit}` of {code_cell(outcome.default_branch or '')}. This issue is edited in "
        "place by every scan and closed when the repository is clean; fix the findings, or "
        "record an exception (`.tether/exceptions.yaml`, see the rule's help).",
        "",
        "| Rule | Level | Where | What to do |",
        "| --- | --- | --- | --- |",
    ]
    notes = sum(
        len(inv.get("toolExecutionNotifications") or [])
        for run in log.get("runs") or []
        for inv in run.get("invocations") or []
    )
    if notes:
        lines[-3:-3] = [
            "",
            f"_{notes} diagnostics: files tether could not read or left out; see the tool "
            "notifications of this scan's SARIF. Findings in those files may be missing._",
        ]
    rows = _rows(log)
    for rule, level, where, message in rows[:MAX_ROWS]:
        lines.append(f"| {code_cell(rule)} | {level} | {code_cell(where)} | {md_text(message)} |")
    if len(rows) > MAX_ROWS:
        lines.append(f"\n_{len(rows) - MAX_ROWS} more: see the SARIF of this scan._")
    lines += ["", f"<sub>tether, code scanning category {code_cell(category)}</sub>"]
    text = "\n".join(lines) + "\n"
    if len(text) > MAX_BODY:
        cut = text.rfind("\n", 0, MAX_BODY - 100)
        text = text[:cut] + "\n\n_Cut to fit an issue: see the SARIF of this scan._\n"
    return text


def _rows(log: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    for run in log.get("runs") or []:
        for res in run.get("results") or []:
            loc = ((res.get("locations") or [{}])[0]).get("physicalLocation") or {}
            uri = (loc.get("artifactLocation") or {}).get("uri", "")
            line = (loc.get("region") or {}).get("startLine")
            where = f"{uri}:{line}" if line else uri
            message = (res.get("message") or {}).get("text", "")
            rows.append(
                (str(res.get("ruleId", "")), str(res.get("level", "warning")), where, message)
            )
    order = {"error": 0, "warning": 1, "note": 2}
    rows.sort(key=lambda r: (order.get(r[1], 3), r[2], r[0]))
    return rows
