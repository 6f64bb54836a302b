"""The adoption report as one HTML file (issue 12): no CDN, no external request, readable
offline and printable. It renders the report document (scanner/adoption/report.py) through a
Jinja2 template (scanner/templates/report/adoption.html.j2) with autoescaping on, so every
name a repository controls is text; charts are inline SVG laid out here, each with a text
alternative and its data as a table. A Content-Security-Policy allows no connection at all,
and only the page's own script (by hash) and inline styles.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "report"
SCRIPT = TEMPLATES / "sort.js"

BAR_WIDTH = 420  # px of a 100% bar
ROW = 22  # px per bar
LABEL = 200  # px for the labels left of the bars
RULE_LABEL, RULE_LABEL_CHARS = 320, 46  # the rules chart's: an id and the start of a title
TREND_W, TREND_H = 640, 220
TOP_RULES = 15
MAX_ROWS = 500  # rows of a change list in the page (the JSON report lists them all)
HEAT_CELL = 22


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}%"


def _pts(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:+.1f}" if v else "±0"


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _team_bars(teams: list[dict[str, Any]]) -> dict[str, Any]:
    rows = sorted(teams, key=lambda t: (t["adoption"] is None, -(t["adoption"] or 0.0), t["team"]))
    bars = []
    for i, t in enumerate(rows):
        value = t["adoption"]
        bars.append(
            {
                "label": _short(t["team"]),
                "full": t["team"],
                "y": i * ROW,
                "width": 0 if value is None else round(BAR_WIDTH * value / 100.0, 1),
                "text": _pct(value),
                "level": t["level"] or "none",
            }
        )
    return {
        "bars": bars,
        "height": max(ROW, len(bars) * ROW),
        "width": LABEL + BAR_WIDTH + 70,
        "left": LABEL,
    }


def _rule_bars(rules: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [r for r in rules if r["counted"] and r["failed"]][:TOP_RULES]
    most = max((r["failed"] for r in rows), default=1)
    bars = [
        {
            "label": _short(f"{r['rule']} {r['title']}", RULE_LABEL_CHARS),
            "full": f"{r['rule']}: {r['title']}",
            "y": i * ROW,
            "width": round(BAR_WIDTH * r["failed"] / most, 1),
            "text": str(r["failed"]),
        }
        for i, r in enumerate(rows)
    ]
    return {
        "bars": bars,
        "height": max(ROW, len(bars) * ROW),
        "width": RULE_LABEL + BAR_WIDTH + 70,
        "left": RULE_LABEL,
    }


def _trend(points: list[dict[str, Any]]) -> dict[str, Any]:
    left, top, right, bottom = 44, 12, 16, 36
    w, h = TREND_W - left - right, TREND_H - top - bottom
    n = len(points)
    marks = []
    for i, p in enumerate(points):
        x = left + (w * i / (n - 1) if n > 1 else w / 2)
        v = p["adoption"]
        y = None if v is None else top + h * (1 - v / 100.0)
        marks.append({"x": round(x, 1), "y": None if y is None else round(y, 1), **p})
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{m['x']},{m['y']}"
        for i, m in enumerate(m for m in marks if m["y"] is not None)
    )
    grid = [
        {"y": round(top + h * (1 - g / 100.0), 1), "label": f"{g}%"} for g in (0, 25, 50, 75, 100)
    ]
    every = max(1, -(-n // 10))  # at most 10 week labels (and the last)
    return {
        "width": TREND_W,
        "height": TREND_H,
        "marks": marks,
        "path": path,
        "grid": grid,
        "left": left,
        "right": TREND_W - right,
        "base": top + h,
        "labels": [
            {
                **m,
                # the first label names the year, the others only the week (W37)
                "text": m["week"] if i == 0 else m["week"].split("-")[-1],
                "anchor": "start"
                if i == 0 and n > 1
                else "end"
                if i == n - 1 and n > 1
                else "middle",
            }
            for i, m in enumerate(marks)
            if i % every == 0 or i == n - 1
        ],
    }


def _heatmap(doc: dict[str, Any]) -> dict[str, Any]:
    cells = {(c["team"], c["rule"]): c for c in doc["team_rules"]}
    rules = [r["rule"] for r in doc["rules"] if r["counted"] and (r["failed"] or r["passed"])]
    teams = [t["team"] for t in doc["teams"]]
    out = []
    for ti, team in enumerate(teams):
        for ri, rule in enumerate(rules):
            c = cells.get((team, rule))
            value = None if c is None else c["adoption"]
            out.append(
                {
                    "x": LABEL + ri * HEAT_CELL,
                    "y": 70 + ti * HEAT_CELL,
                    "team": team,
                    "rule": rule,
                    "value": value,
                    "text": _pct(value),
                    "fill": _heat(value),
                }
            )
    return {
        "cells": out,
        "rules": [
            {"rule": r, "x": LABEL + i * HEAT_CELL + HEAT_CELL / 2} for i, r in enumerate(rules)
        ],
        "teams": [
            {"team": _short(t), "full": t, "y": 70 + i * HEAT_CELL + HEAT_CELL / 2 + 4}
            for i, t in enumerate(teams)
        ],
        "width": max(LABEL + max(1, len(rules)) * HEAT_CELL + 10, LABEL + 6 * 110),
        "height": 70 + max(1, len(teams)) * HEAT_CELL + 40,
        "legend_y": 70 + max(1, len(teams)) * HEAT_CELL + 14,
        "cell": HEAT_CELL - 2,
        "legend": [
            {"fill": colour, "label": label, "x": LABEL + i * 110}
            for i, (colour, label) in enumerate([*((c, lab) for _, c, lab in HEAT), HEAT_NONE])
        ],
        "columns": rules,
        "rows": [
            {
                "team": team,
                "values": [_pct((cells.get((team, r)) or {}).get("adoption")) for r in rules],
            }
            for team in teams
        ],
    }


# the heatmap's scale, highest first: (lowest adoption, colour, legend)
HEAT = (
    (90.0, "#15803d", "90% and more"),
    (75.0, "#65a30d", "75-90%"),
    (50.0, "#ca8a04", "50-75%"),
    (25.0, "#ea580c", "25-50%"),
    (0.0, "#b91c1c", "under 25%"),
)
HEAT_NONE = ("#e5e7eb", "not applicable")


def _heat(value: float | None) -> str:
    """A colour from red (0%) through amber to green (100%); grey: nothing applicable."""
    if value is None:
        return HEAT_NONE[0]
    return next(colour for low, colour, _ in HEAT if value >= low)


def _scatter(doc: dict[str, Any]) -> dict[str, Any] | None:
    teams = [t for t in doc["teams"] if t.get("delivery") and t["adoption"] is not None]
    if not teams:
        return None
    left, top, right, bottom = 50, 12, 16, 40
    w, h = TREND_W - left - right, TREND_H - top - bottom
    most = max((t["delivery"]["deployments_per_week"] or 0.0) for t in teams) or 1.0
    return {
        "width": TREND_W,
        "height": TREND_H,
        "left": left,
        "base": top + h,
        "right": TREND_W - right,
        "top": top,
        "max": round(most, 1),
        "points": [
            {
                "team": t["team"],
                "label": _short(t["team"], 16),
                "x": round(left + w * t["adoption"] / 100.0, 1),
                "y": round(
                    top + h * (1 - (t["delivery"]["deployments_per_week"] or 0.0) / most), 1
                ),
                "adoption": _pct(t["adoption"]),
                "adoption_value": t["adoption"],
                "rate": t["delivery"]["deployments_per_week"],
                "failed": t["delivery"].get("failed_share"),
            }
            for t in teams
        ],
    }


def script_hash() -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.read_bytes()).digest()).decode()


def render(doc: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = _pct
    env.globals["max_rows"] = MAX_ROWS
    env.filters["pts"] = _pts
    template = env.get_template("adoption.html.j2")
    charts: dict[str, Any] = {}
    if doc.get("scan") is not None:
        charts = {
            "teams": _team_bars(doc["teams"]),
            "rules": _rule_bars(doc["rules"]),
            "trend": _trend(doc["trend"]),
            "heatmap": _heatmap(doc),
            "scatter": _scatter(doc),
        }
    return template.render(
        doc=doc,
        charts=charts,
        script=SCRIPT.read_text(encoding="utf-8"),
        script_hash=script_hash(),
        bar_left=LABEL,
    )
