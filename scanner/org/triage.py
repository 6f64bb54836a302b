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

An alert and a finding meet on (repository, rule, path, line); where the alert's line
matches no finding (the code moved since the alert's last instance), on (repository, rule,
path) when only one finding of the rule is at that path. What stays ambiguous is listed.
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
    skipped: int = 0  # judged repositories not compared (notes say why)
    unrecorded: list[Dismissal] = field(default_factory=list)
    stale: list[Stale] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # repositories not read, and why

    @property
    def consistent(self) -> bool:
        """Registry and code scanning agree for every repository the scan judged."""
        return not self.unrecorded and not self.stale and not self.skipped


Key = tuple[str, str]


def _key(rule: Any, path: Any) -> Key:
    return str(rule), str(path or "")


def _items(result: Result | None) -> list[dict[str, Any]]:
    kept = result.extra.get("excepted") if result is not None else None
    return [e for e in kept if isinstance(e, dict)] if isinstance(kept, list) else []


def _standing(state: StateStore, result: Result) -> dict[Key, set[int]] | None:
    """(rule, path) -> start lines of every finding in the repository's SARIF for this scan;
    None when the state no longer holds it."""
    if result.sarif_sha256 is None:
        return None
    gz = state.sarif(result.sarif_sha256)
    if gz is None:
        return None
    try:
        log = json.loads(gzip.decompress(gz))
        out: dict[Key, set[int]] = {}
        for run in log.get("runs") or []:
            for r in run.get("results") or []:
                loc = (r.get("locations") or [{}])[0].get("physicalLocation") or {}
                uri = (loc.get("artifactLocation") or {}).get("uri")
                line = (loc.get("region") or {}).get("startLine")
                if isinstance(uri, str):
                    key = _key(r.get("ruleId"), urllib.parse.unquote(uri))
                    out.setdefault(key, set()).add(line if isinstance(line, int) else 0)
        return out
    except (OSError, EOFError, ValueError, AttributeError, TypeError):
        return None


def _lines(items: list[dict[str, Any]]) -> dict[Key, dict[int, dict[str, Any]]]:
    """(rule, path) -> start line -> the excepted finding kept for it."""
    out: dict[Key, dict[int, dict[str, Any]]] = {}
    for e in items:
        line = e.get("line")
        out.setdefault(_key(e.get("rule"), e.get("path")), {})[
            line if isinstance(line, int) else 0
        ] = e
    return out


def _verdict(
    alert: AlertInfo, covered: dict[Key, dict[int, Any]], standing: dict[Key, set[int]]
) -> str:
    """ "recorded", "unrecorded" or "gone" for a dismissed alert. An alert meets a finding
    on (rule, path, line); where its line matches none (the code moved since the alert's
    last instance), on (rule, path) alone if only one finding of the rule is at that path,
    covered or standing. Anything still ambiguous is unrecorded: for the platform to look at."""
    key = _key(alert.rule, alert.path)
    cov, std = covered.get(key, {}), standing.get(key, set())
    if alert.line is not None:
        if alert.line in cov:
            return "recorded"
        if alert.line in std:
            return "unrecorded"
    if not cov and not std:
        return "gone"
    if len(cov) == 1 and not std:
        return "recorded"
    return "unrecorded"


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
            out.notes.append(f"{repo}: not judged in the latest scan ({result.status})")
            out.skipped += 1
            continue
        standing = _standing(state, result)
        if standing is None:
            out.notes.append(f"{repo}: the state no longer holds this scan's SARIF")
            out.skipped += 1
            continue
        try:
            alerts = client.code_scanning_alerts(repo, TOOL)
        except GitHubError as e:
            out.notes.append(f"{repo}: code scanning not read ({e.message})")
            out.skipped += 1
            continue
        out.repos += 1
        out.alerts += len(alerts)
        covered = _lines(_items(result))
        by_key: dict[Key, list[AlertInfo]] = {}
        for alert in alerts:
            by_key.setdefault(_key(alert.rule, alert.path), []).append(alert)
            if alert.state != "dismissed":
                continue
            verdict = _verdict(alert, covered, standing)
            if verdict == "recorded":
                out.recorded += 1
            elif verdict == "unrecorded":
                out.unrecorded.append(Dismissal(repo, alert))
            else:
                out.gone += 1
        # covered now, and open in code scanning at a covered line: reopened against it
        for key, lines in sorted(covered.items()):
            for alert in by_key.get(key, []):
                if alert.state != "open":
                    continue
                if alert.line is not None and alert.line in lines:
                    item = lines[alert.line]
                elif len(lines) == 1:
                    item = next(iter(lines.values()))
                else:
                    continue
                out.stale.append(
                    Stale(repo, key[0], key[1], item.get("record") or {}, "reopened", alert)
                )
        # covered in the previous scan, not now: fixed, or the record lapsed
        for key, lines in sorted(_lines(_items(then.get(repo))).items()):
            for line, item in sorted(lines.items()):
                if line in covered.get(key, {}) or (
                    len(lines) == 1 and len(covered.get(key, {})) == 1
                ):
                    continue  # still covered (where the code moved, by the one record)
                fixed = next((a for a in by_key.get(key, []) if a.state == "fixed"), None)
                why = "lapsed" if standing.get(key) else "fixed"
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
        at = f" at line {a.line}" if a.line else ""
        rec["justification"] = clip(
            redact(f"{why} (dismissed in code scanning as {reason}{by}{when}{at})"), 500
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
