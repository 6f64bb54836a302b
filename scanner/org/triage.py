"""`tether triage` (issue 12): keep the exception registry and code scanning one truth.

For every repository the org's latest scan judged, the code scanning alerts tether raised are
read back (one paginated listing per repository) and compared with the exceptions that
applied in that scan (the org state keeps, per repository, which findings a record covered)
and with the policy's central registries:

* **dismissed without a record**: an alert dismissed in code scanning (reason, comment, who,
  when) that no exception record covers: the deviation was accepted in a place the platform
  team does not review. `write_requests` turns these into exception records, with an owner
  and an expiry, for review (not approved: `approved_by` is left for the reviewer).
* **stale exceptions**: a record that covered a finding in the previous scan and covers
  none of that rule at that path now (the finding was fixed: the record can go), and a
  record whose alert code scanning shows open again (someone reopened it: the registry and
  code scanning disagree).

An alert and a record meet on (repository, rule, path): code scanning alerts carry no
target, so a record scoped to a target is taken to cover every alert of its rule at its path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ExceptionRecord
from ..github.client import AlertInfo, GitHubClient, GitHubError
from ..policy.functions import glob_match
from ..redact import clip, redact
from .state import Result, StateStore

TOOL = "tether"


@dataclass(frozen=True)
class Dismissal:
    repo: str
    alert: AlertInfo


@dataclass(frozen=True)
class Stale:
    repo: str
    rule: str
    path: str
    record: Mapping[str, Any]  # as the org state keeps it (org/run.excepted_items)
    why: str  # "fixed" or "reopened"
    alert: AlertInfo | None = None


@dataclass
class Triage:
    org: str
    scan: str  # the latest scan's start
    repos: int = 0  # repositories whose alerts were read
    alerts: int = 0
    recorded: int = 0  # dismissed alerts a record covers
    unrecorded: list[Dismissal] = field(default_factory=list)
    stale: list[Stale] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # repositories not read, and why

    @property
    def consistent(self) -> bool:
        return not self.unrecorded and not self.stale


def _key(rule: str, path: str | None) -> tuple[str, str]:
    return rule, path or ""


def _items(result: Result | None) -> list[dict[str, Any]]:
    kept = result.extra.get("excepted") if result is not None else None
    return [e for e in kept if isinstance(e, dict)] if isinstance(kept, list) else []


def _central_covers(
    records: Sequence[ExceptionRecord], packs: Mapping[str, str], repo: str, alert: AlertInfo
) -> bool:
    for rec in records:
        if rec.rule != alert.rule and rec.rule != packs.get(alert.rule):
            continue
        if rec.repo and not glob_match(repo, rec.repo):
            continue
        if rec.path and not (
            alert.path
            and (glob_match(alert.path, rec.path) or glob_match(alert.path, rec.path + "/**"))
        ):
            continue
        return True
    return False


def triage(
    client: GitHubClient,
    state: StateStore,
    org: str,
    central: Sequence[ExceptionRecord] = (),
) -> Triage:
    """Compare code scanning with the exceptions of the org's latest scan (see the module
    doc). Raises LookupError when the state holds no finished scan of ``org``."""
    runs = [r for r in state.runs(org) if r.status != "running"]
    if not runs:
        raise LookupError(org)
    latest, before = runs[-1], (runs[-2] if len(runs) > 1 else None)
    now = state.results(latest.id)
    then = state.results(before.id) if before is not None else {}
    packs = {
        str(rid): str(r.get("pack", ""))
        for rid, r in (latest.info.get("rules") or {}).items()
        if isinstance(r, dict)
    }
    out = Triage(org=org, scan=latest.started_at)
    for repo, result in sorted(now.items()):
        if result.status not in ("scanned", "unchanged"):
            continue
        try:
            alerts = client.code_scanning_alerts(repo, TOOL)
        except GitHubError as e:
            out.notes.append(f"{repo}: code scanning not read ({e.message})")
            continue
        out.repos += 1
        out.alerts += len(alerts)
        covered = {_key(str(e.get("rule")), str(e.get("path"))): e for e in _items(result)}
        by_key: dict[tuple[str, str], list[AlertInfo]] = {}
        for alert in alerts:
            by_key.setdefault(_key(alert.rule, alert.path), []).append(alert)
            if alert.state != "dismissed":
                continue
            if _key(alert.rule, alert.path) in covered or _central_covers(
                central, packs, repo, alert
            ):
                out.recorded += 1
            else:
                out.unrecorded.append(Dismissal(repo, alert))
        # covered now, and open in code scanning: reopened against its record
        for key, item in sorted(covered.items()):
            for alert in by_key.get(key, []):
                if alert.state == "open":
                    out.stale.append(
                        Stale(repo, key[0], key[1], item.get("record") or {}, "reopened", alert)
                    )
        # covered in the previous scan, not now: the finding went, the record can go
        for key, item in sorted(
            {
                _key(str(e.get("rule")), str(e.get("path"))): e for e in _items(then.get(repo))
            }.items()
        ):
            if key in covered:
                continue
            fixed = next((a for a in by_key.get(key, []) if a.state == "fixed"), None)
            out.stale.append(Stale(repo, key[0], key[1], item.get("record") or {}, "fixed", fixed))
    return out


def write_requests(found: Triage, owner: str, expires: dt.date, today: dt.date) -> tuple[str, int]:
    """Exception records (YAML, the central registry's format) for the dismissals no record
    covers, to review and move into a registry: scoped to the repository and path, the
    dismissal's reason, comment, author and date as the justification, the alert as the
    ticket, ``owner`` and ``expires`` as given, ``approved_by`` left for the reviewer.
    Returns the text and the number of records."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    records = CommentedSeq()
    for d in found.unrecorded:
        a = d.alert
        why = a.dismissed_comment or "no comment given"
        by = f" by {a.dismissed_by}" if a.dismissed_by else ""
        when = f" on {a.dismissed_at[:10]}" if a.dismissed_at else ""
        reason = f"'{a.dismissed_reason}'" if a.dismissed_reason else "dismissed"
        rec = CommentedMap()
        rec["rule"] = a.rule
        scope = CommentedMap()
        scope["repo"] = d.repo
        if a.path:
            scope["path"] = a.path
        rec["scope"] = scope
        rec["justification"] = clip(
            redact(f"{why} (dismissed in code scanning as {reason}{by}{when})"), 500
        )
        rec["owner"] = owner
        if a.url:
            rec["ticket"] = a.url
        rec["created"] = today.isoformat()
        rec["expires"] = expires.isoformat()
        records.append(rec)
    doc = CommentedMap()
    doc["exceptions"] = records
    doc.yaml_set_start_comment(
        f"Exception requests from code scanning dismissals in {found.org} (tether triage, "
        f"{today.isoformat()}).\nReview each record: set approved_by (and a ticket your "
        "policy accepts), then move it into the central exception registry."
    )
    yaml = YAML()
    yaml.width = 4096
    import io

    buf = io.StringIO()
    yaml.dump(doc, buf)
    return buf.getvalue(), len(records)
