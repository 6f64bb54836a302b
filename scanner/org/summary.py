"""The org scan's outputs: one SARIF per repository, `summary.json` (schema:
`scanner/schemas/org-summary.schema.json`, documented in docs/org.md) and `summary.md`; and
`tether merge`, which combines the outputs of several shards into one.

Every file is written atomically (a temporary file in the same directory, then a rename), so a
scan killed mid-write leaves the previous file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..model import Level
from ..policy.documents import schema
from ..report.markdown import md_text as md_escape
from .select import valid_name

SUMMARY_VERSION = 1
CATEGORIES = ("bounded-autonomy", "drift", "ownership", "compliance")
STATUSES = ("scanned", "unchanged", "skipped", "failed")


@dataclass
class RepoOutcome:
    """One repository's line in the summary."""

    repo: str
    status: str  # one of STATUSES
    reason: str = ""
    commit: str | None = None
    default_branch: str | None = None
    pushed_at: str | None = None
    layers: list[str] = field(default_factory=list)
    matched: str | None = None  # which policy `repos:` entry chose extra layers, and why
    findings: int = 0
    excepted: int = 0
    diagnostics: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)
    # enforced findings by level, for --fail-on (staged rules never fail)
    by_level: dict[str, int] = field(default_factory=dict)
    sarif: str | None = None  # path inside --out
    upload: dict[str, Any] | None = None  # {"status", "id"?, "reason"?}
    dashboard: dict[str, Any] | None = None  # {"status", "number"?, "reason"?}
    valid_until: str | None = None  # kept in the state only (see Report.valid_until)
    refused: bool = False  # the snapshot was refused: kept in the state only
    team: str | None = None  # see org/teams.py
    team_source: str | None = None
    # rule id -> RuleOutcome (org/state.py), for the adoption report: kept in the state only
    rules: dict[str, Any] = field(default_factory=dict)
    # the findings exceptions covered, and by which record, for `tether triage`: state only
    excepted_items: list[dict[str, Any]] = field(default_factory=list)
    delivery: dict[str, Any] | None = None  # org/delivery.Delivery.to_json(): state only
    # --fix: the fix pull request's outcome (org/fixpr.py): {"status", "number"?, "reason"?,
    # "files"?, "fixed"?, "problems"?}
    fix: dict[str, Any] | None = None
    fixable: int | None = None  # findings with a remedy: kept in the state only
    fixable_safe: int | None = None  # of them, with a safe remedy (no --unsafe-fixes)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"repo": self.repo, "status": self.status}
        if self.reason:
            out["reason"] = self.reason
        if self.status in ("scanned", "unchanged"):
            out.update(
                commit=self.commit,
                default_branch=self.default_branch,
                pushed_at=self.pushed_at,
                layers=self.layers,
                matched=self.matched,
                **({"team": self.team} if self.team is not None else {}),
                **({"team_source": self.team_source} if self.team_source is not None else {}),
                findings=self.findings,
                excepted=self.excepted,
                diagnostics=self.diagnostics,
                by_category={c: self.by_category.get(c, 0) for c in CATEGORIES},
                by_rule=dict(sorted(self.by_rule.items())),
                by_level={lvl: self.by_level.get(lvl, 0) for lvl in ("error", "warning", "note")},
                sarif=self.sarif,
            )
            if self.upload is not None:
                out["upload"] = self.upload
            if self.dashboard is not None:
                out["dashboard"] = self.dashboard
            if self.fix is not None:
                out["fix"] = self.fix
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RepoOutcome:
        return cls(
            repo=data["repo"],
            status=data["status"],
            reason=data.get("reason", ""),
            commit=data.get("commit"),
            default_branch=data.get("default_branch"),
            pushed_at=data.get("pushed_at"),
            layers=list(data.get("layers") or []),
            matched=data.get("matched"),
            findings=int(data.get("findings", 0)),
            excepted=int(data.get("excepted", 0)),
            diagnostics=int(data.get("diagnostics", 0)),
            by_category=dict(data.get("by_category") or {}),
            by_rule=dict(data.get("by_rule") or {}),
            by_level=dict(data.get("by_level") or {}),
            sarif=data.get("sarif"),
            upload=data.get("upload"),
            dashboard=data.get("dashboard"),
            fix=data.get("fix"),
            valid_until=data.get("valid_until"),
            team=data.get("team"),
            team_source=data.get("team_source"),
        )

    def fails(self, fail_on: str | None) -> bool:
        """Whether this repository's enforced findings reach ``fail_on``."""
        if fail_on is None or fail_on == "never":
            return False
        threshold = Level(fail_on).rank
        return any(n > 0 and Level(lvl).rank >= threshold for lvl, n in self.by_level.items())


@dataclass
class Summary:
    org: str
    tether_version: str
    policy_file: str | None
    policy_hash: str
    category: str
    started_at: str
    finished_at: str
    shards: list[str]  # "K/N" of each shard this summary covers ("1/1": a whole org)
    repos: list[RepoOutcome]
    interrupted: bool = False  # stopped early: unjudged repositories are listed as failed
    missing_shards: list[str] = field(default_factory=list)  # after a merge

    def delivery_problems(self) -> list[tuple[RepoOutcome, str, dict[str, Any]]]:
        """(repository, "upload"|"dashboard"|"fix", status) for every delivery that did not
        land."""
        out = []
        for r in sorted(self.repos, key=lambda r: r.repo):
            for kind, d in (("upload", r.upload), ("dashboard", r.dashboard), ("fix", r.fix)):
                if d and d.get("status") in (
                    "failed",
                    "deferred",
                    "pending",
                    "unavailable",
                    "refused",
                ):
                    out.append((r, kind, d))
        return out

    def failures(self) -> list[str]:
        """Why this summary means exit 1: failed repositories, failed deliveries, missing
        shards (empty: none)."""
        why = [f"{r.repo}: {r.reason}" for r in self.repos if r.status == "failed"]
        why += [
            f"{r.repo}: {kind} failed: {d.get('reason', '')}"
            for r, kind, d in self.delivery_problems()
            if d.get("status") == "failed"
        ]
        why += [f"shard {s} missing" for s in self.missing_shards]
        return why

    def totals(self) -> dict[str, Any]:
        status = Counter(r.status for r in self.repos)
        judged = [r for r in self.repos if r.status in ("scanned", "unchanged")]
        by_category: Counter[str] = Counter()
        by_rule: Counter[str] = Counter()
        for r in judged:
            by_category.update(r.by_category)
            by_rule.update(r.by_rule)
        return {
            "repositories": len(self.repos),
            **{s: status.get(s, 0) for s in STATUSES},
            "with_findings": sum(1 for r in judged if r.findings),
            "findings": sum(r.findings for r in judged),
            "excepted": sum(r.excepted for r in judged),
            "by_category": {c: by_category.get(c, 0) for c in CATEGORIES},
            "by_rule": dict(sorted(by_rule.items())),
            "uploads": dict(
                sorted(Counter(r.upload["status"] for r in judged if r.upload).items())
            ),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "version": SUMMARY_VERSION,
            "org": self.org,
            "tether_version": self.tether_version,
            "policy": {"file": self.policy_file, "hash": self.policy_hash},
            "category": self.category,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "shards": sorted(self.shards, key=_shard_key),
            "complete": not self.interrupted and not self.missing_shards,
            "missing_shards": self.missing_shards,
            "totals": self.totals(),
            "repositories": [r.to_json() for r in sorted(self.repos, key=lambda r: r.repo)],
        }


def validate_json(data: Any, shown: str = "summary.json") -> None:
    """Raise ConfigError when ``data`` does not follow the org summary schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema("org-summary"))
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise ConfigError(shown, None, f"{where}: {error.message}")


def _repo_cell(name: str) -> str:
    """A repository name for a Markdown cell: a code span (GitHub's names hold no backtick),
    escaped text for anything a listing should not have named."""
    return f"`{name}`" if valid_name(name) else md_escape(name)


def code_cell(text: str, limit: int = 200) -> str:
    """A path, rule id or category as a Markdown code span, which renders its text as is
    (no escaping needed inside); text a code span cannot hold (a backtick, a pipe, a
    control character, or too long) is escaped text instead."""
    if (
        text
        and len(text) <= limit
        and text.isprintable()
        and "`" not in text
        and "|" not in text
        and text.strip() == text
    ):
        return f"`{text}`"
    return md_escape(text)


def _shard_key(text: str) -> tuple[int, int]:
    k, _, n = text.partition("/")
    return (int(n or 0), int(k or 0))


# ------------------------------------------------------------------------------- writing


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with _suppress_oserror():
            os.unlink(tmp)
        raise


class _suppress_oserror:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> bool:
        return exc_type is not None and issubclass(exc_type, OSError)


def sarif_path(repo: str) -> str:
    """Where a repository's SARIF goes inside --out: ``ORG/REPO.sarif``."""
    if not valid_name(repo):
        raise ValueError(f"not a repository name: {repo[:80]!r}")
    return f"{repo}.sarif"


def write_summary(out: Path, summary: Summary) -> None:
    data = summary.to_json()
    validate_json(data)
    write_atomic(
        out / "summary.json",
        (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
    )
    write_atomic(out / "summary.md", markdown(summary).encode("utf-8"))


# ------------------------------------------------------------------------------ markdown

MAX_MARKDOWN = 60_000  # a GitHub issue body holds 65,536 characters; a job summary 1 MiB


def markdown(summary: Summary) -> str:
    """The summary for a GitHub issue or job summary: totals, the repositories to look at
    first, every failure and skip with its reason. Cut (with a note) to fit an issue."""
    t = summary.totals()
    lines = [
        f"## tether org scan: {md_escape(summary.org)}",
        "",
        f"{t['repositories']} repositories: {t['scanned']} scanned, {t['unchanged']} unchanged "
        f"since the last scan, {t['skipped']} skipped, {t['failed']} failed. "
        f"{t['findings']} findings in {t['with_findings']} repositories"
        f" ({t['excepted']} excepted).",
        "",
        "| Category | Findings |",
        "| --- | ---: |",
        *(f"| {c} | {t['by_category'][c]} |" for c in CATEGORIES),
        "",
    ]
    if summary.interrupted:
        lines[2:2] = [
            "**Incomplete**: the run was interrupted; repositories it did not reach are "
            "listed as failed. Rerun the same command to resume.",
            "",
        ]
    if summary.missing_shards:
        lines[2:2] = [
            f"**Incomplete**: shards {', '.join(summary.missing_shards)} are missing; "
            "their repositories are not in this summary.",
            "",
        ]
    shards = ", ".join(sorted(summary.shards, key=_shard_key))
    lines.append(
        f"tether {summary.tether_version}, policy {md_escape(summary.policy_file or '(none)')} "
        f"(`{summary.policy_hash[:12]}`), shards {shards}, category {code_cell(summary.category)}."
    )
    lines.append("")
    failed = [r for r in summary.repos if r.status == "failed"]
    if failed:
        lines += ["### Failed", "", "| Repository | Reason |", "| --- | --- |"]
        lines += [f"| {_repo_cell(r.repo)} | {md_escape(r.reason)} |" for r in failed]
        lines.append("")
    judged = [r for r in summary.repos if r.status in ("scanned", "unchanged") and r.findings]
    judged.sort(key=lambda r: (-r.by_level.get("error", 0), -r.findings, r.repo))
    if judged:
        lines += [
            "### Repositories with findings",
            "",
            "| Repository | Findings | " + " | ".join(CATEGORIES) + " | Layers |",
            "| --- | ---: | " + " | ".join("---:" for _ in CATEGORIES) + " | --- |",
        ]
        for r in judged:
            cats = " | ".join(str(r.by_category.get(c, 0)) for c in CATEGORIES)
            why = f" ({md_escape(r.matched)})" if r.matched else ""
            layers = md_escape(", ".join(r.layers)) + why
            lines.append(f"| {_repo_cell(r.repo)} | {r.findings} | {cats} | {layers} |")
        lines.append("")
    if t["by_rule"]:
        top = sorted(t["by_rule"].items(), key=lambda kv: (-kv[1], kv[0]))[:15]
        lines += ["### Most frequent rules", "", "| Rule | Findings |", "| --- | ---: |"]
        lines += [f"| {code_cell(rid)} | {n} |" for rid, n in top]
        lines.append("")
    unread = sorted(
        (r for r in summary.repos if r.status in ("scanned", "unchanged") and r.diagnostics),
        key=lambda r: (-r.diagnostics, r.repo),
    )
    if unread:
        lines += [
            "### Repositories with diagnostics",
            "",
            "Files tether could not read or left out (the SARIF's tool notifications say "
            "which and why); their findings may be incomplete.",
            "",
            "| Repository | Diagnostics |",
            "| --- | ---: |",
        ]
        lines += [f"| {_repo_cell(r.repo)} | {r.diagnostics} |" for r in unread]
        lines.append("")
    problems = summary.delivery_problems()
    if problems:
        lines += [
            "### Deliveries that did not land",
            "",
            "| Repository | Delivery | Status | Reason |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {_repo_cell(r.repo)} | {kind} | {d['status']} | "
            f"{md_escape(str(d.get('reason', '')))} |"
            for r, kind, d in problems
        ]
        lines.append("")
    skipped = [r for r in summary.repos if r.status == "skipped"]
    if skipped:
        lines += ["<details><summary>Skipped repositories</summary>", ""]
        lines += ["| Repository | Reason |", "| --- | --- |"]
        lines += [f"| {_repo_cell(r.repo)} | {md_escape(r.reason)} |" for r in skipped]
        lines += ["", "</details>", ""]
    text = "\n".join(lines)
    if len(text) > MAX_MARKDOWN:
        cut = text.rfind("\n", 0, MAX_MARKDOWN - 200)
        text = (
            text[:cut] + "\n\n_Cut to fit a GitHub issue: summary.json lists every repository._\n"
        )
    return text


# -------------------------------------------------------------------------------- merging


def load_summary(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(str(path), None, f"not a readable tether org summary: {e}") from None
    validate_json(data, str(path))
    return data  # type: ignore[no-any-return]


def merge(shard_dirs: Sequence[Path], out: Path) -> Summary:
    """Combine shard outputs into one summary in ``out`` (SARIF files copied alongside).
    Refused (ConfigError) when the shards disagree on org, policy or tether version, or
    name the same repository twice."""
    if not shard_dirs:
        raise ConfigError("tether merge", None, "no shard directories given")
    seen_dirs: set[Path] = set()
    for d in shard_dirs:
        if d.resolve() in seen_dirs:
            raise ConfigError(str(d), None, "this shard directory is given twice")
        seen_dirs.add(d.resolve())
    # a shard that never finished (killed, timed out before writing anything) has no summary:
    # the others are merged, and it shows as a missing shard
    present = [d for d in shard_dirs if (d / "summary.json").exists()]
    if not present:
        raise ConfigError("tether merge", None, "no summary.json in any shard directory")
    loaded = [(d, load_summary(d / "summary.json")) for d in present]
    first = loaded[0][1]
    for key in ("org", "tether_version", "category"):
        for d, data in loaded[1:]:
            if data[key] != first[key]:
                raise ConfigError(
                    str(d / "summary.json"),
                    None,
                    f"{key} {data[key]!r} differs from {first[key]!r} in "
                    f"{loaded[0][0] / 'summary.json'}: these are not shards of one scan",
                )
    for d, data in loaded[1:]:
        if data["policy"]["hash"] != first["policy"]["hash"]:
            raise ConfigError(
                str(d / "summary.json"),
                None,
                "the shards were scanned with different policies "
                f"({data['policy']['hash'][:12]} and {first['policy']['hash'][:12]})",
            )
    repos: dict[str, RepoOutcome] = {}
    shards: list[str] = []
    for d, data in loaded:
        shards.extend(data["shards"])
        for item in data["repositories"]:
            outcome = RepoOutcome.from_json(item)
            if outcome.repo in repos:
                raise ConfigError(
                    str(d / "summary.json"),
                    None,
                    f"{outcome.repo} is in two shards: were they scanned with the same N?",
                )
            if outcome.sarif is not None:
                if not valid_name(outcome.repo):
                    raise ConfigError(
                        str(d / "summary.json"),
                        None,
                        f"{outcome.repo[:80]!r} is not a repository name but has a SARIF file",
                    )
                src = _inside(d, outcome.sarif)
                if src is None or not src.is_file():
                    raise ConfigError(
                        str(d / "summary.json"), None, f"{outcome.sarif}: SARIF file missing"
                    )
                if out.resolve() != d.resolve():
                    write_atomic(out / sarif_path(outcome.repo), src.read_bytes())
                outcome.sarif = sarif_path(outcome.repo)
            repos[outcome.repo] = outcome
    duplicate = [s for s, n in Counter(shards).items() if n > 1]
    if duplicate:
        raise ConfigError("tether merge", None, f"shard {duplicate[0]} given twice")
    summary = Summary(
        org=first["org"],
        tether_version=first["tether_version"],
        policy_file=first["policy"]["file"],
        policy_hash=first["policy"]["hash"],
        category=first["category"],
        started_at=min(data["started_at"] for _, data in loaded),
        finished_at=max(data["finished_at"] for _, data in loaded),
        shards=shards,
        repos=list(repos.values()),
        interrupted=any(not data["complete"] and not data["missing_shards"] for _, data in loaded),
    )
    summary.missing_shards = missing_shards(summary.shards)
    write_summary(out, summary)
    return summary


def missing_shards(shards: Iterable[str]) -> list[str]:
    """The shards of the same N not among ``shards`` ("1/1" covers everything)."""
    have = {_shard_key(s) for s in shards}
    counts = {n for n, _ in have}
    missing = []
    for n in sorted(counts):
        missing += [f"{k}/{n}" for k in range(1, n + 1) if (n, k) not in have]
    return missing


def _inside(base: Path, rel: str) -> Path | None:
    """``base/rel`` when ``rel`` is a plain relative path that stays inside ``base``."""
    if not rel or rel.startswith(("/", "\\")) or ".." in rel.replace("\\", "/").split("/"):
        return None
    target = (base / rel).resolve()
    try:
        target.relative_to(base.resolve())
    except ValueError:
        return None
    return target
