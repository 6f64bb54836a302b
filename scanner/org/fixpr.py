"""Fix pull requests across the org (issue 13, `tether org ORG --fix [--open-prs]`).

Per repository scanned in the run, :func:`propose` plans the findings' remedies on the
extracted tree (scanner/fix.py: `plan`, then `apply` with a rescan under the same options;
only edits the rescan confirms are kept) and keeps the changed files' new bytes, each checked
to have been, before the edit, exactly the blob of the scanned commit (so the commit tether
writes changes those files and nothing else, on top of that commit).

:func:`deliver` then keeps one branch (``tether/golden-path``) and one pull request per
repository, serially and within a ``--max-prs`` budget, through the Git Data API: one blob per
changed file (base64: CRLF, BOM, every byte kept; GitHub's blob id is checked against git's),
one tree on top of the scanned commit's tree (``base_tree``: every other file untouched), one
commit whose parent is the scanned commit, then the branch created or force-moved. A branch
whose head is not the commit tether last wrote (recorded in the state) was pushed to by
someone else: it is reported, never overwritten. The pull request is found again by its head
and updated in place; closed (and its branch deleted) when nothing is left to fix; left
alone when the fix is unchanged. GitHub refusing the branch or the pull request (403/422: a
ruleset, branch protection, pull requests by bots disabled) is reported and recorded, and not
retried by later runs unless asked (``--retry-refused``). Without ``open_prs`` nothing is
written to GitHub at all: the outcome says what would be done.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import fix as fix_mod
from ..github.client import GitHubClient, GitHubError, RepoInfo, TreeEntry
from ..model import Finding, Report
from ..redact import clip, redact
from ..report.markdown import md_text
from .state import FixPr, StateStore
from .summary import code_cell

BRANCH = "tether/golden-path"
TITLE = "tether: move to the golden path"
MARKER = "<!-- tether:golden-path v1 -->"
MAX_BODY = 60_000  # GitHub's limit is 65,536 characters
MAX_ROWS = 200
MAX_COMMIT_LINES = 100
_FILE_MODES = ("100644", "100755")
_URL = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/#=&?+-]*)?")


@dataclass(frozen=True)
class Fixed:
    """One finding a fix pull request fixes, as its body lists it."""

    rule: str
    title: str
    path: str
    line: int
    message: str
    help_uri: str | None
    golden: str  # the baseline value(s) the finding was judged against


@dataclass(frozen=True)
class Changed:
    """One file the fix commit changes: its new bytes, and the blob it replaces."""

    path: str
    mode: str
    old_sha: str
    content: bytes


@dataclass
class Proposal:
    repo: str
    commit: str  # the scanned commit: the fix commit's parent
    branch: str  # the default branch: the pull request's base
    files: list[Changed] = field(default_factory=list)
    fixed: list[Fixed] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # edits refused, put back, not kept

    @property
    def key(self) -> str:
        """What the fix changes (each file's old and new blob): equal keys, equal diffs."""
        h = hashlib.sha256()
        for c in sorted(self.files, key=lambda c: c.path):
            h.update(f"{c.path}\0{c.mode}\0{c.old_sha}\0{blob_id(c.content)}\n".encode())
        return h.hexdigest()


def blob_id(data: bytes) -> str:
    """Git's object id of a blob holding ``data``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def fixable(report: Report, unsafe: bool = True) -> int:
    """How many findings carry a remedy tether could write (0: no fix to propose); with
    ``unsafe`` False, only safe remedies count."""
    return sum(1 for f in report.findings if fix_mod.wanted(f, unsafe))


def propose(
    repo: str,
    commit: str,
    branch: str,
    root: Path,
    report: Report,
    rescan: Callable[[], Report],
    entries: Sequence[TreeEntry],
    unsafe: bool = False,
) -> Proposal:
    """The fix of one repository's extracted tree ``root`` (edited in place), scanned as
    ``report`` from ``commit`` whose tree lists ``entries``; remedies that may change
    behaviour only with ``unsafe``."""
    out = Proposal(repo, commit, branch)
    planned = fix_mod.plan(root, [f for f in report.findings if fix_mod.wanted(f, unsafe)])
    if not planned.files and not planned.refused:
        return out
    try:
        applied = fix_mod.apply(root, planned, report, rescan)
    except fix_mod.RescanFailed as e:
        out.problems.append(f"the rescan after the edits failed ({e}); nothing kept")
        return out
    out.problems += [*map(str, planned.refused), *applied.problems]
    listed: Mapping[str, TreeEntry] = {e.path: e for e in entries if e.type == "blob"}
    for change in applied.kept:
        entry = listed.get(change.path)
        before, after = change.before.encode("utf-8"), change.after.encode("utf-8")
        if entry is None or entry.mode not in _FILE_MODES:
            out.problems.append(f"{change.path}: not a regular file of the commit; not fixed")
            continue
        if blob_id(before) != entry.sha:
            # the file scanned is not the commit's blob (it cannot be, after fetch.complete;
            # checked anyway: the commit must change nothing but the edit)
            out.problems.append(f"{change.path}: differs from the commit's file; not fixed")
            continue
        if fix_mod.read_file(root / change.path) != after:
            out.problems.append(f"{change.path}: changed on disk after the edit; not fixed")
            continue
        out.files.append(Changed(change.path, entry.mode, entry.sha, after))
        out.fixed += [_fixed(f, report) for f in change.fixed]
    return out


def _fixed(f: Finding, report: Report) -> Fixed:
    rule = report.rules.get(f.rule_id)
    golden = ", ".join(r.value for r in f.baseline_refs if r.value)
    return Fixed(
        rule=f.rule_id,
        title=str(getattr(rule, "title", "") or ""),
        path=f.path,
        line=f.span.start_line,
        message=f.message,
        help_uri=report.help_uris.get(f.rule_id),
        golden=golden,
    )


# ------------------------------------------------------------------------------- texts


def _link(uri: str | None) -> str | None:
    return uri if uri and len(uri) <= 500 and _URL.fullmatch(uri) else None


def render(p: Proposal) -> str:
    """The pull request body: deterministic for the same fix (no timestamps), bounded,
    every repository-controlled text escaped (paths and messages)."""
    lines = [
        MARKER,
        "",
        f"tether's org scan found **{len(p.fixed)}** findings with a mechanical remedy at "
        f"`{p.commit[:12]}` of {code_cell(p.branch)} and wrote the remedies as minimal edits "
        f"to {len(p.files)} files (nothing else in them changes). The repository was scanned "
        "again with the edits: each fixed finding is gone and no new one appears.",
        "",
        "This pull request is kept up to date by the weekly scan, and closed when nothing is "
        "left to fix. Do not push to its branch: tether stops updating a branch it did not "
        "write last.",
        "",
        "| Rule | Where | Finding | Golden value |",
        "| --- | --- | --- | --- |",
    ]
    rows = sorted(p.fixed, key=lambda f: (f.path, f.line, f.rule))
    for f in rows[:MAX_ROWS]:
        rule = code_cell(f.rule, 40)
        if f.title:
            rule += " " + md_text(f.title, 120)
        url = _link(f.help_uri)
        if url:
            rule += f" ([docs]({url}))"
        golden = code_cell(f.golden, 120) if f.golden else ""
        where = code_cell(f"{f.path}:{f.line}")
        lines.append(f"| {rule} | {where} | {md_text(f.message)} | {golden} |")
    if len(rows) > MAX_ROWS:
        lines.append(f"\n_{len(rows) - MAX_ROWS} more fixed findings, in the same files._")
    if p.problems:
        lines += ["", f"_{len(p.problems)} remedies were not applied (see the org scan's log)._"]
    lines += ["", "<sub>tether org --fix --open-prs</sub>"]
    text = "\n".join(lines) + "\n"
    if len(text) > MAX_BODY:
        cut = text.rfind("\n", 0, MAX_BODY - 100)
        text = text[:cut] + "\n\n_Cut to fit a pull request: see the org scan's SARIF._\n"
    return text


def commit_message(p: Proposal) -> str:
    """ "tether: move to the golden path", then one line per fixed finding (bounded)."""
    body = [
        clip(redact(f"- {f.rule} {f.path}:{f.line}: {f.message}"), 300)
        for f in sorted(p.fixed, key=lambda f: (f.path, f.line, f.rule))
    ]
    if len(body) > MAX_COMMIT_LINES:
        body = [*body[:MAX_COMMIT_LINES], f"- … and {len(body) - MAX_COMMIT_LINES} more"]
    return TITLE + "\n\n" + "\n".join(body) + "\n"


def _closed_body(reason: str) -> str:
    return f"{MARKER}\n\n{reason} Closed automatically by tether's org scan.\n"


# ----------------------------------------------------------------------------- delivery


class PrBudget:
    """At most ``limit`` pull requests created, updated or closed in one run (None: no
    limit): GitHub's secondary limits on content creation."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0

    def take(self) -> bool:
        if self.limit is not None and self.used >= self.limit:
            return False
        self.used += 1
        return True


def _summary(p: Proposal | None) -> dict[str, Any]:
    if p is None:
        return {}
    out: dict[str, Any] = {}
    if p.files:
        out["files"] = [c.path for c in p.files]
        out["fixed"] = len(p.fixed)
    if p.problems:
        out["problems"] = [clip(redact(x), 300) for x in p.problems[:20]]
    return out


def _short(text: str) -> str:
    return clip(redact(text), 400)


def deliver(
    gh: GitHubClient | None,
    repo: RepoInfo,
    proposal: Proposal | None,
    state: StateStore,
    budget: PrBudget,
    *,
    open_prs: bool,
    retry_refused: bool = False,
) -> dict[str, Any]:
    """Bring the repository's fix pull request in line with ``proposal`` (None, or one
    without files: nothing to fix). Returns the outcome for the summary; never raises for
    a GitHub refusal or failure. ``gh`` may be None when ``open_prs`` is false."""
    name = repo.full_name
    prev = state.fix_pr(name)
    info = _summary(proposal)
    for flag, what in (
        (repo.archived, "archived"),
        (repo.fork, "fork"),
        (repo.disabled, "disabled"),
    ):
        if flag:
            return {"status": "skipped", "reason": f"{what}: not fixed", **info}
    if prev is not None and prev.status == "refused" and not retry_refused:
        return {
            "status": "refused",
            "reason": _short(
                f"refused on {prev.updated_at[:10]}: {prev.reason}; not retried "
                "(--retry-refused tries again)"
            ),
            **info,
        }
    is_open = prev is not None and prev.status == "open"
    number = {"number": prev.pr_number} if is_open and prev and prev.pr_number else {}
    if proposal is None or not proposal.files:
        if not is_open:
            return {"status": "nothing-to-fix", **info}
        if not open_prs:
            return {"status": "would-close", **number, **info}
        if not budget.take():
            return {"status": "deferred", "reason": "over --max-prs", **number, **info}
        assert gh is not None and prev is not None
        return _close(gh, repo, prev, state, info)
    if is_open and prev is not None and prev.fix_key == proposal.key:
        return {"status": "unchanged", **number, **info}
    if not open_prs:
        return {"status": "would-update" if is_open else "would-open", **number, **info}
    if not budget.take():
        return {"status": "deferred", "reason": "over --max-prs", **number, **info}
    assert gh is not None
    return _write(gh, repo, proposal, prev, state, info)


def _refuse(
    state: StateStore, name: str, prev: FixPr | None, branch_sha: str | None, e: GitHubError
) -> dict[str, Any]:
    reason = _short(f"GitHub refused ({e.message})")
    state.put_fix_pr(
        FixPr(
            name,
            "refused",
            branch_sha=branch_sha,
            fix_key=None,
            pr_number=prev.pr_number if prev else None,
            reason=reason,
        )
    )
    return {"status": "refused", "reason": reason}


def _write(
    gh: GitHubClient,
    repo: RepoInfo,
    p: Proposal,
    prev: FixPr | None,
    state: StateStore,
    info: dict[str, Any],
) -> dict[str, Any]:
    name = repo.full_name
    owner = name.split("/", 1)[0]
    try:
        head = gh.branch_ref(name, BRANCH)
        ours = prev.branch_sha if prev is not None else None
        if head is not None and head != ours:
            return {
                "status": "skipped",
                "reason": f"{BRANCH} is at {head[:12]}, a commit tether did not write: not "
                "overwritten (delete the branch to let tether use it again)",
                **info,
            }
        base = gh.git_commit(name, p.commit)
        entries = []
        for c in p.files:
            sha = gh.create_blob(name, c.content)
            if sha != blob_id(c.content):
                return {
                    "status": "failed",
                    "reason": f"GitHub stored {c.path} as another blob than was sent",
                    **info,
                }
            entries.append((c.path, c.mode, sha))
        tree = gh.create_tree(name, base.tree, entries)
        commit = gh.create_commit(name, commit_message(p), tree, [p.commit])
        try:
            if head is None:
                gh.create_branch(name, BRANCH, commit.sha)
            else:
                gh.move_branch(name, BRANCH, commit.sha, force=True)
        except GitHubError as e:
            if e.status in (403, 422):
                return {**info, **_refuse(state, name, prev, ours, e)}
            raise
        # the branch is tether's from here on, whatever happens to the pull request
        state.put_fix_pr(
            FixPr(name, "closed", branch_sha=commit.sha, pr_number=None, reason="no pull request")
        )
        body = render(p)
        # tether's own pull request: the one it recorded, into the default branch; another
        # from its branch (someone opened one, into any base) is never edited
        listed = gh.pulls(name, f"{owner}:{BRANCH}", "open")
        recorded = prev.pr_number if prev is not None else None
        mine = [pr for pr in listed if pr.number == recorded and pr.base_ref == p.branch]
        others = [pr for pr in listed if pr.base_ref == p.branch and pr.number != recorded]
        if mine:
            number = mine[0].number
            gh.update_pull(name, number, title=TITLE, body=body)
            status = "updated"
        elif others:
            return {
                "status": "skipped",
                "reason": f"pull request #{others[0].number} from {BRANCH} into {p.branch} "
                "was not opened by tether: left alone",
                **info,
            }
        else:
            try:
                number = gh.create_pull(name, TITLE, body, BRANCH, p.branch)
            except GitHubError as e:
                if e.status in (403, 422):
                    return {**info, **_refuse(state, name, prev, commit.sha, e)}
                raise
            status = "opened"
        state.put_fix_pr(
            FixPr(name, "open", branch_sha=commit.sha, fix_key=p.key, pr_number=number)
        )
        return {"status": status, "number": number, "commit": commit.sha, **info}
    except GitHubError as e:
        return {"status": "failed", "reason": _short(f"fix pull request: {e.message}"), **info}


def _close(
    gh: GitHubClient, repo: RepoInfo, prev: FixPr, state: StateStore, info: dict[str, Any]
) -> dict[str, Any]:
    name = repo.full_name
    owner = name.split("/", 1)[0]
    why = "Nothing is left for tether to fix here (fixed upstream, or no remedy applies)."
    try:
        head = gh.branch_ref(name, BRANCH)
        if head is not None and head != prev.branch_sha:
            # someone pushed to the branch: their work, and their pull request now
            return {
                "status": "skipped",
                "reason": f"{BRANCH} is at {head[:12]}, a commit tether did not write: its "
                "pull request is left open",
                **info,
            }
        closed = []
        for pr in gh.pulls(name, f"{owner}:{BRANCH}", "open"):
            if pr.number == prev.pr_number:  # only tether's own
                gh.update_pull(name, pr.number, body=_closed_body(why), state="closed")
                closed.append(pr.number)
        if head is not None:
            gh.delete_branch(name, BRANCH)
        state.put_fix_pr(
            FixPr(
                name,
                "closed",
                branch_sha=None,  # deleted, or someone else's since
                pr_number=prev.pr_number,
                reason="nothing to fix",
            )
        )
        out: dict[str, Any] = {"status": "closed", **info}
        if closed or prev.pr_number:
            out["number"] = closed[0] if closed else prev.pr_number
        return out
    except GitHubError as e:
        return {"status": "failed", "reason": _short(f"closing the fix pull request: {e.message}")}


def describe(repo: str, fix: Mapping[str, Any]) -> list[str]:
    """Console lines for a repository's fix outcome (repository text: print through
    `say`)."""
    status = str(fix.get("status", ""))
    words = {
        "would-open": "would open a pull request",
        "would-update": "would update pull request #{number}",
        "would-close": "would close pull request #{number}",
        "opened": "opened pull request #{number}",
        "updated": "updated pull request #{number}",
        "closed": "closed pull request #{number}",
        "unchanged": "pull request #{number} is up to date",
        "nothing-to-fix": "nothing to fix",
        "deferred": "deferred (over --max-prs)",
    }
    text = words.get(status, status).format(number=fix.get("number", "?"))
    files = fix.get("files") or []
    if files:
        text += f": {fix.get('fixed', 0)} findings in {', '.join(files)}"
    if fix.get("reason") and status != "deferred":
        text += f": {fix['reason']}"
    return [f"{repo}: fix: {text}"] + [
        f"{repo}: fix: not applied: {problem}" for problem in fix.get("problems") or []
    ]
