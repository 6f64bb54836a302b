"""The adoption report as Markdown that fits a GitHub issue or a job summary (issue 12): it
renders the report document (scanner/adoption/report.py) and computes nothing. Every name a
repository controls (team names from CODEOWNERS or catalog files, repository names) goes
through `md_text`, so it renders as text. The whole stays under MAX_BYTES (an issue body
holds 65,536 characters): long tables are cut with a line that says how many rows are left
out.
"""

from __future__ import annotations

from typing import Any

from .markdown import md_text

MAX_BYTES = 60_000
TOP_RULES = 15
TOP_CHANGES = 20
WORST_REPOS = 20


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}%"


def _pts(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:+.1f} pts" if v else "±0"


def _deploys(d: dict[str, Any] | None) -> list[str]:
    if not d:
        return ["–", "–"]
    rate = d.get("deployments_per_week")
    return ["–" if rate is None else f"{rate:g}", _pct(d.get("failed_share"))]


def _behind(b: dict[str, int]) -> str:
    """Drift distance: "2 major, 5 minor", "–" when nothing measured trails."""
    return ", ".join(f"{n} {level}" for level, n in b.items() if n) or "–"


def _level(v: str | None) -> str:
    return md_text(v) if v else "none"


def _table(
    header: list[str], rows: list[list[str]], limit: int, what: str, whole: int | None = None
) -> list[str]:
    """A table of at most ``limit`` rows, saying how many it leaves out (of ``whole``, when
    ``rows`` are themselves a part) and where to find them."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows[:limit]]
    left = (whole if whole is not None else len(rows)) - min(limit, len(rows))
    if left > 0:
        out.append(f"\n_{left} more {what}: the JSON report (`--format json`) lists them all._")
    return out


def render(doc: dict[str, Any]) -> str:
    org = md_text(doc["org"])
    lines = [f"# Golden-path adoption: {org}", ""]
    if doc.get("scan") is None:
        return "\n".join([*lines, "No scan with adoption data yet.", ""])
    totals = doc["totals"]
    for warning in doc.get("warnings") or []:
        lines += [f"> **Not counted:** {md_text(warning, 300)}", ""]
    for note in doc.get("notes") or []:
        lines += [f"> {md_text(note, 300)}", ""]
    lines += [
        f"Scan of {doc['scan']['started_at']} ({doc['scan']['week']}): "
        f"**{_pct(totals['adoption'])}** adoption over {totals['repositories']} repositories "
        f"and {totals['teams']} teams"
        + (f" ({totals['unowned']} repositories unowned)" if totals.get("unowned") else "")
        + f" ({totals['passed']} rule checks passing, "
        f"{totals['failed']} failing, {totals['excepted']} excepted, "
        f"{totals['not_applicable']} not applicable).",
        "",
    ]
    cats = totals["by_category"]
    lines.append("Standing findings: " + ", ".join(f"{n} {c}" for c, n in cats.items()) + ".")
    if doc["levels"]:
        lines.append(
            "Repositories per level: "
            + ", ".join(f"{md_text(k)} {v}" for k, v in totals["levels"].items())
            + "."
        )
    if doc.get("delivery"):
        d = doc["delivery"]
        lines.append(
            f"Delivery over the last {d['window_days']} days ({d['repositories']} repositories "
            f"measured): {d['deployments_per_week']} deployments per week per repository, "
            f"{_pct(d['failed_share'])} of them failed."
        )
    lines.append("")
    changes = doc.get("changes") or {}
    if changes:
        lines += ["## What changed", ""]
        for key, label in (("previous", "the previous scan"), ("weeks", "")):
            c = changes.get(key)
            if c is None:
                continue
            label = label or f"{c['weeks']} week{'s' if c['weeks'] != 1 else ''} before"
            lines.append(
                f"- Since {label} ({c['scan']['started_at']}): adoption "
                f"{_pct(c['org_adoption']['before'])} → {_pct(c['org_adoption']['after'])} "
                f"({_pts(c['org_adoption']['points'])}); {c['new']['count']} new violations, "
                f"{c['fixed']['count']} fixed"
                + (
                    "; levels: "
                    + ", ".join(
                        f"{md_text(m['team'])} {m['moved']} "
                        f"({_level(m['before'])} → {_level(m['after'])})"
                        for m in c["levels"]
                    )
                    if c["levels"]
                    else ""
                )
                + "."
            )
        lines.append("")
        prev = changes.get("previous")
        if prev and (prev["new"]["items"] or prev["fixed"]["items"]):
            # as many fixed as new shown, so that neither list hides the other
            half = TOP_CHANGES // 2
            shown = {
                kind: prev[kind]["items"][: max(half, TOP_CHANGES - len(prev[other]["items"]))]
                for kind, other in (("new", "fixed"), ("fixed", "new"))
            }
            rows = [
                [kind, md_text(i["repository"]), md_text(i["rule"])]
                for kind in ("new", "fixed")
                for i in shown[kind]
            ]
            lines += _table(
                ["", "repository", "rule"],
                rows,
                TOP_CHANGES,
                "changes",
                whole=prev["new"]["count"] + prev["fixed"]["count"],
            )
            lines.append("")
    lines += ["## Teams", ""]
    header = [
        "team",
        "repositories",
        "adoption",
        "vs previous",
        f"vs {doc['compare_weeks']} weeks",
        "level",
        "excepted",
        "behind (drift)",
        "days behind",
    ]
    delivery = doc.get("delivery")
    if delivery:
        header += ["deploys / week", "failed deploys"]
    rows = [
        [
            md_text(t["team"]),
            str(t["repositories"]),
            _pct(t["adoption"]),
            _pts(t["change"].get("previous")),
            _pts(t["change"].get("weeks")),
            _level(t["level"]),
            str(t["excepted"]),
            _behind(t["behind"]),
            "–" if t.get("days_behind") is None else str(t["days_behind"]),
            *(_deploys(t.get("delivery")) if delivery else []),
        ]
        for t in doc["teams"]  # worst first
    ]
    lines += _table(header, rows, 200, "teams")
    lines += ["", "## Rules failed most often", ""]
    rows = [
        [
            md_text(r["rule"]),
            md_text(r["title"]),
            md_text(r["category"]),
            _pct(r["adoption"]),
            str(r["failed"]),
            str(r["excepted"]),
        ]
        for r in doc["rules"]
        if r["counted"] and r["failed"]
    ]
    lines += _table(
        ["rule", "title", "category", "adoption", "failing repositories", "excepted"],
        rows,
        TOP_RULES,
        "rules",
    )
    if doc["levels"]:
        lines += ["", "## Levels", ""]
        lines += _table(
            ["level", "repositories at it", "rules (and every level's below)"],
            [
                [
                    md_text(name),
                    str(totals["levels"].get(name, 0)),
                    md_text(", ".join(doc.get("level_rules", {}).get(name, [])), 400),
                ]
                for name in doc["levels"]
            ],
            50,
            "levels",
        )
    lines += ["", "## Furthest from the golden path", ""]
    rows = [
        [
            md_text(r["repository"]),
            md_text(r["team"]),
            _pct(r["adoption"]),
            _level(r["level"]),
            md_text(", ".join(r["failing"]), 300),
        ]
        for r in sorted(
            (r for r in doc["repositories"] if r["failed"]),
            key=lambda r: (r["adoption"] if r["adoption"] is not None else 101.0, r["repository"]),
        )
    ]
    lines += _table(
        ["repository", "team", "adoption", "level", "failing rules"],
        rows,
        WORST_REPOS,
        "repositories",
    )
    if doc.get("not_judged"):
        lines += [
            "",
            f"{len(doc['not_judged'])} repositories were not judged in this scan "
            "(skipped or failed): they are not counted.",
        ]
    lines.append("")
    text = "\n".join(lines)
    if len(text.encode("utf-8")) > MAX_BYTES:
        cut = text.encode("utf-8")[: MAX_BYTES - 200].decode("utf-8", "ignore")
        text = cut.rsplit("\n", 1)[0] + "\n\n_Cut to fit: the JSON or HTML report has the rest._\n"
    return text
