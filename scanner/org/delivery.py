"""Delivery signals beside adoption (issue 12, `tether org --delivery`): per repository, how
often it deployed over the last WINDOW_DAYS days and which share of those deployments failed,
so the adoption report can set golden-path adoption beside how often teams ship.

Two sources, in this order:

* the **Deployments API**: deployments created in the window (to one environment, default
  ``production``), each judged by its latest status: ``success`` counts as a deployment,
  ``failure`` and ``error`` as a failed one; one still running, or without a status, is not
  counted yet. Costs one listing and one call per deployment (at most MAX_DEPLOYMENTS);
* otherwise **runs of the golden deploy workflow** the policy's baseline names
  (``actions.deploy_workflow``): completed workflow runs in the window that called it
  (GitHub lists the reusable workflows a run referenced); ``success`` counts, ``failure`` and
  ``timed_out`` fail, a cancelled or skipped run is not a deployment. One listing.

A repository with neither is measured as 0 deployments from "none": shown, not guessed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..github.client import GitHubClient

WINDOW_DAYS = 28
MAX_DEPLOYMENTS = 100
DEFAULT_ENVIRONMENT = "production"
_FAILED_DEPLOYMENT = frozenset({"failure", "error"})
_FAILED_RUN = frozenset({"failure", "timed_out"})


@dataclass(frozen=True)
class Delivery:
    source: str  # "deployments", "workflow" or "none"
    deployments: int  # finished in the window, failed ones included
    failed: int
    window_days: int = WINDOW_DAYS

    @property
    def per_week(self) -> float:
        return round(self.deployments * 7 / self.window_days, 2)

    @property
    def failed_share(self) -> float | None:
        return round(100.0 * self.failed / self.deployments, 1) if self.deployments else None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "deployments": self.deployments,
            "failed": self.failed,
            "window_days": self.window_days,
        }

    @classmethod
    def from_json(cls, data: Any) -> Delivery | None:
        """None for no measure; ValueError for one that is not shaped as to_json writes."""
        if data is None:
            return None
        try:
            got = cls(
                str(data["source"]),
                int(data["deployments"]),
                int(data["failed"]),
                int(data.get("window_days", WINDOW_DAYS)),
            )
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as e:
            raise ValueError(f"a delivery measure that is not one: {type(e).__name__}") from None
        if got.window_days < 1 or got.deployments < 0 or not 0 <= got.failed <= got.deployments:
            raise ValueError("a delivery measure out of range")
        return got


def measure(
    client: GitHubClient,
    repo: str,
    now: dt.datetime,
    *,
    environment: str | None = DEFAULT_ENVIRONMENT,
    workflow: str | None = None,
) -> Delivery:
    """The repository's delivery over the WINDOW_DAYS before ``now`` (see the module doc).
    GitHub errors are the caller's to report."""
    since = now - dt.timedelta(days=WINDOW_DAYS)
    done = failed = 0
    found = client.deployments(repo, environment, since, MAX_DEPLOYMENTS)
    for ident, _created in found:
        state = client.deployment_state(repo, ident)
        if state == "success" or state == "inactive":  # inactive: superseded after success
            done += 1
        elif state in _FAILED_DEPLOYMENT:
            done += 1
            failed += 1
    if found:
        return Delivery("deployments", done, failed)
    if workflow:
        golden = workflow.lower()
        for run in client.workflow_runs(repo, since):
            if not any(str(r).lower() == golden for r in run["referenced"]):
                continue
            if run["conclusion"] == "success":
                done += 1
            elif run["conclusion"] in _FAILED_RUN:
                done += 1
                failed += 1
        return Delivery("workflow", done, failed)
    return Delivery("none", 0, 0)
