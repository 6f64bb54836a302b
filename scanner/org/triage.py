"""`tether triage` (issue 12): keep the exception registry and code scanning one truth.

For every repository the org's latest scan judged, the code scanning alerts tether raised are
read back (one paginated listing per repository) and compared with what that scan found: the
findings that stand (its SARIF, kept in the org state) and the findings an exception record
covered (the state keeps which record covered which). Only records the scan applied count:
an expired, unapproved or over-long record, which the scan itself refuses, covers nothing
here either.

* **dismissed without a record**: an alert dismissed in code scanning (reason, comment, who,
  when) for a finding that still stands and that no exception covers: the deviation was
  accepted where the platform team does not review it. `write_requests` turns these into
  exception records, with an owner and an expiry, for review (`approved_by` is left for the
  reviewer). A dismissed alert whose finding the scan no longer reports is counted apart.
* **stale exceptions**: a record that covered a finding in the previous scan and covers none
  of that rule at that path now: either the finding is gone (fixed: the record can go) or it
  stands uncovered (the record lapsed: expired, removed or refused); and a record whose alert
  code scanning shows open again (someone reopened it: registry and code scanning disagree).

An alert and a finding meet on (repository, rule, path): code scanning alerts carry no
target, so every finding of a rule at a path counts as that alert's.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..github.client import AlertInfo, GitHubClient, GitHubError
from ..redact import clip, redact
from .state import Result, StateStore

TOOL = "tether"
MAX_RECORD_DAYS = 365  # the default longest exception (a baseline's exception_policy.max_days)


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
    why: str  # "fixed", "lapsed" or "reopened"
    alert: AlertInfo | None = None


@dataclass
class Triage:
    org: str
    scan: str  # the latest scan's start
    repos: int = 0  # repositories whose alerts were read
    alerts: int = 0
    recorded: int = 0  # dismissed alerts an applied record covers
    gone: int = 0  # dismissed alerts whose finding the latest scan no longer reports
    unrecorded: list[Dismissal] = field(default_factory=list)
    stale: list[Stale] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # repositories not read, and why

    @property
    def consistent(self) -> bool:
        return not self.unrecorded and not self.stale


Key = tuple[str, str]


def _key(rule: Any, path: Any) -> Key:
    return str(rule), str(path or "")


def _items(result: Result | None) -> list[dict[str, Any]]:
    kept = result.extra.get("excepted") if result is not None else None
    return [e for e in kept if isinstance(e, dict)] if isinstance(kept, list) else []


def _standing(state: StateStore, result: Result) -> set[Key] | None:
    """(rule, path) of every finding in the repository's SARIF for this scan; None when the
    state no longer holds it."""
    if result.sarif_sha256 is None:
        return None
    gz = state.sarif(result.sarif_sha256)
    if gz is None:
        return None
    try:
        log = json.loads(gzip.decompress(gz))
        out = set()
        for run in log.get("runs") or []:
            for r in run.get("results") or []:
                loc = (r.get("locations") or [{}])[0].get("physicalLocation") or {}
                uri = (loc.get("artifactLocation") or {}).get("uri")
                if isinstance(uri, str):
                    out.add(_key(r.get("ruleId"), urllib.parse.unquote(uri)))
        return out
    except (OSError, EOFError, ValueError, AttributeError, TypeError):
        return None


def triage(client: GitHubClient, state: StateStore, org: str) -> Triage:
    """Compare code scanning with the org's latest scan (see the module doc). Raises
    LookupError when the state holds no finished scan of ``org``."""
    runs = [r for r in state.runs(org) if r.status != "running"]
    if not runs:
        raise LookupError(org)
    latest, before = runs[-1], (runs[-2] if len(runs) > 1 else None)
    now = state.results(latest.id)
    then = state.results(before.id) if before is not None else {}
    out = Triage(org=org, scan=latest.started_at)
    for repo, result in sorted(now.items()):
        if result.status not in ("scanned", "unchanged"):
            continue
        standing = _standing(state, result)
        if standing is None:
            out.notes.append(f"{repo}: the state no longer holds this scan's SARIF")
            continue
        try:
            alerts = client.code_scanning_alerts(repo, TOOL)
        except GitHubError as e:
            out.notes.append(f"{repo}: code scanning not read ({e.message})")
            continue
        out.repos += 1
        out.alerts += len(alerts)
        covered = {_key(e.get("rule"), e.get("path")): e for e in _items(result)}
        by_key: dict[Key, list[AlertInfo]] = {}
        for alert in alerts:
            key = _key(alert.rule, alert.path)
            by_key.setdefault(key, []).append(alert)
            if alert.state != "dismissed":
                continue
            if key in covered:
                out.recorded += 1
            elif key in standing:
                out.unrecorded.append(Dismissal(repo, alert))
            else:
                out.gone += 1
        # covered now, and open in code scanning: reopened against its record
        for key, item in sorted(covered.items()):
            for alert in by_key.get(key, []):
                if alert.state == "open":
                    out.stale.append(
                        Stale(repo, key[0], key[1], item.get("record") or {}, "reopened", alert)
                    )
        # covered in the previous scan, not now: fixed, or the record lapsed
        earlier = {_key(e.get("rule"), e.get("path")): e for e in _items(then.get(repo))}
        for key, item in sorted(earlier.items()):
            if key in covered:
                continue
            fixed = next((a for a in by_key.get(key, []) if a.state == "fixed"), None)
            why = "lapsed" if key in standing else "fixed"
            out.stale.append(Stale(repo, key[0], key[1], item.get("record") or {}, why, fixed))
    return out


def literal_glob(path: str) -> str:
    """A scope glob matching ``path``: globs have no escape, so each ``*`` or ``?`` in the
    name becomes ``?`` (one character that is not ``/``), never a wider match."""
    return path.replace("*", "?")


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
            scope["path"] = literal_glob(a.path)
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
